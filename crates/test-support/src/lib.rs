//! What pusherable's integration tests share: a server on a free loopback port, a WebSocket
//! client that speaks protocol 7 frame by frame, and a signed REST caller.
//!
//! The tests of `pusherable-server`, `pusherable-client`, the `pusherable` command, the web
//! layer and the newsroom all talk to a real server over real sockets, as mini-redis's tests
//! do. Every frame and signature sent from here comes from the protocol crate
//! (`pusherable_protocol::client`, `pusherable_protocol::sign`), so a test writes neither by
//! hand unless the test is about a bad one.
//!
//! # Layout
//! - this file: the test app's credentials ([`ID`], [`KEY`], [`SECRET`], [`MASTER_KEY`]) and
//!   [`PATIENCE`], the bound on every wait.
//! - `server.rs`: [`app`], [`config`], [`start`] (a server on `127.0.0.1:0`), [`pusher_url`].
//! - `socket.rs`: [`Socket`], a raw protocol-7 client: connect and read the `socket_id`,
//!   subscribe (signing private and presence channels), sign in, receive the next frame or
//!   event within [`PATIENCE`] or every event until the close, see how the server closed;
//!   [`data`] parses a frame's data.
//! - `rest.rs`: [`rest`] and [`rest_raw`], signed HTTP API calls; [`trigger`] and
//!   [`post_events`]; [`now`].
//! - `console.rs`: [`ConsoleStream`], the debug console's stream, entry by entry.
//!
//! Nothing here sleeps: every wait is for a frame, a reply or a close, bounded by
//! [`PATIENCE`].
//!
//! ```
//! use pusherable_test_support::{config, start, trigger, Socket};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! let server = start(config()).await;
//! let mut socket = Socket::connect(server.local_addr()).await;
//! socket.subscribe("private-orders").await;
//! trigger(server.local_addr(), &["private-orders"], "placed", "42").await;
//! assert_eq!(socket.next_event().await["data"], "42");
//! # }
//! ```

use std::time::Duration;

mod console;
mod rest;
mod server;
mod socket;

pub use console::ConsoleStream;
pub use rest::{now, post_events, rest, rest_raw, trigger};
pub use server::{app, config, pusher_url, start};
pub use socket::{data, member, Socket};

/// The test app's id.
pub const ID: &str = "3";
/// The test app's key: pusher-js finds the app by it.
pub const KEY: &str = "278d425bdf160c739803";
/// The test app's secret, which signs subscriptions, sign-ins and REST calls.
pub const SECRET: &str = "7ad3773142a6692b25b8";
/// An encryption master key (base64 of 32 bytes) for `private-encrypted-` channels; the
/// server never sees it, only the REST client and the listener that encrypt and decrypt.
pub const MASTER_KEY: &str = "BwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc=";

/// A guard against a hung test, not a timing assertion: every wait fails after it.
///
/// Long enough for a child process to start on a loaded machine, as the command's tests need.
pub const PATIENCE: Duration = Duration::from_secs(20);
