//! The Pusher Channels protocol, version 7, as plain data and pure functions.
//!
//! Everything that pusherable says on the wire, and every rule it checks, lives here once:
//! the server, the REST client, the web layer and the CLI all call into this crate, so a
//! signature or a name rule is never written twice.
//!
//! # Layout
//!
//! - [`channel`]: validated channel names and their kinds (`private-`, `presence-`, …).
//! - [`socket`]: the `socket_id` newtype.
//! - [`code`]: close codes and `pusher:error` codes, with what pusher-js does with each.
//! - [`limits`]: the documented size and count limits.
//! - [`frame`]: client → server frames, parsed from text without trusting them.
//! - [`client`]: the same frames written as a WebSocket client sends them (for the CLI's
//!   `listen` and the load generator); [`frame::parse`] reads back what they write.
//! - [`outbound`]: server → client frames, written straight into a byte buffer.
//! - [`sign`]: HMAC signatures for channel authorization, user sign-in, REST requests and
//!   webhooks, plus the shared secret of encrypted channels.
//! - [`auth`]: what an app's auth endpoints answer: the checks (socket id, channel kind,
//!   presence limits, user id) and the signed `channel_data` or `user_data`, for the REST
//!   client's helpers and the web layer's embedded server alike.
//! - [`encryption`]: the channel key and the sealed `{"nonce","ciphertext"}` envelope of
//!   `private-encrypted-` channels (NaCl secretbox); nonces come from the caller.
//! - [`rest`]: bodies of the HTTP REST API, shared by the server and the client.
//! - [`webhook`]: the webhook body and its events, written by the server and read by apps.
//!
//! **This crate does no I/O and knows nothing of async.** It is safe to call with hostile input:
//! every parser returns an error value instead of panicking.

pub mod auth;
pub mod channel;
pub mod client;
pub mod code;
pub mod encryption;
pub mod frame;
pub mod limits;
pub mod outbound;
pub mod rest;
pub mod sign;
pub mod socket;
pub mod webhook;

pub use channel::{ChannelKind, ChannelName, ChannelNameError};
pub use code::{CloseCode, ErrorCode};
pub use socket::SocketId;
