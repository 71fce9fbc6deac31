//! A Rust client for the Pusher Channels HTTP API, for hosted Pusher or any compatible server
//! (pusherable among them).
//!
//! It triggers events (one, many channels, batches, to one user), asks which channels are
//! occupied and who is on a presence channel, disconnects a user, signs the channel and user
//! authorizations that pusher-js asks an app's endpoints for, checks incoming webhooks, and
//! encrypts events for `private-encrypted-` channels end to end.
//!
//! ```no_run
//! use pusherable_client::Client;
//!
//! # async fn run() -> Result<(), pusherable_client::Error> {
//! let client = Client::from_url("http://278d425bdf160c739803:7ad3773142a6692b25b8@127.0.0.1:6001/apps/3")?;
//! client
//!     .trigger(&["article-42"], "update", &serde_json::json!({"title": "Hello"}))
//!     .await?;
//! # Ok(())
//! # }
//! ```
//!
//! # Layout
//!
//! - [`config`](ClientBuilder): credentials, host or cluster, TLS, timeout, encryption key;
//!   [`Client::from_url`] for the `http://KEY:SECRET@HOST:PORT/apps/ID` form.
//! - `http`: signs each request with the protocol crate's `signed_query` and maps every
//!   non-2xx status to an [`ErrorKind`].
//! - `trigger`: [`Client::trigger`], [`Client::trigger_with`], [`Client::trigger_batch`], and
//!   the checks that run before sending (names, counts, 10 KB of data).
//! - `channels`: [`Client::channels`], [`Client::channel`], [`Client::users`].
//! - `user`: [`Client::send_to_user`] and [`Client::terminate_user_connections`].
//! - `auth`: [`Client::authorize_channel`] and [`Client::authenticate_user`], the JSON an
//!   app's auth endpoints return to pusher-js; the checks and signatures are the protocol
//!   crate's, which the web layer's embedded server uses too.
//! - [`webhook`]: [`Client::webhook`] checks a webhook request and gives its typed events (the
//!   protocol crate's, which the server writes).
//! - `encryption`: the app's master key, and a fresh nonce for each event it seals for a
//!   `private-encrypted-` channel (the secretbox itself is the protocol crate's).
//! - [`error`](Error): one [`Error`] with a [`kind`](Error::kind), the status and the body.
//!
//! `examples/app_server.rs` is a whole app server for pusher-js in 100 lines: auth endpoints
//! and a trigger route; the compatibility suite runs pusher-js against it.
//!
//! **Every signature and name rule comes from `pusherable-protocol`;** this crate only adds
//! HTTP. A [`Client`] holds one connection pool (reqwest, rustls) that all its clones share.

mod auth;
mod channels;
mod config;
mod encryption;
mod error;
mod http;
mod trigger;
mod user;
pub mod webhook;

use std::{fmt, sync::Arc};

pub use auth::{ChannelAuth, UserAuth};
pub use channels::Info;
pub use config::ClientBuilder;
pub use error::{Error, ErrorKind, InvalidInput};
pub use pusherable_protocol::auth::PresenceMember;
pub use pusherable_protocol::rest::{
    BatchReply, ChannelAttributes, ChannelReply, ChannelsReply, TriggerReply, User, UsersReply,
};
pub use reqwest::Url;
pub use trigger::{Event, TriggerOptions};
pub use webhook::{Webhook, WebhookError, WebhookEvent};

use encryption::MasterKey;

/// A client for one app's REST API. Cheap to clone: clones share one connection pool.
///
/// ```
/// use pusherable_client::Client;
/// let client = Client::builder("3", "278d425bdf160c739803", "7ad3773142a6692b25b8")
///     .cluster("eu")
///     .build()?;
/// assert_eq!(client.endpoint().as_str(), "https://api-eu.pusher.com/apps/3");
/// # Ok::<(), pusherable_client::Error>(())
/// ```
#[derive(Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

struct Inner {
    key: String,
    secret: String,
    /// `scheme://host[:port][/prefix]/apps/{id}`; every route is a path below it.
    endpoint: Url,
    /// Kept for the client's life so that connections are reused between calls.
    http: reqwest::Client,
    master_key: Option<MasterKey>,
}

impl Client {
    /// Starts configuring a client for hosted Pusher or, with
    /// [`host`](ClientBuilder::host), any compatible server.
    ///
    /// ```
    /// let client = pusherable_client::Client::builder("3", "key", "secret").build()?;
    /// assert_eq!(client.endpoint().as_str(), "https://api.pusherapp.com/apps/3");
    /// # Ok::<(), pusherable_client::Error>(())
    /// ```
    pub fn builder(app_id: &str, key: &str, secret: &str) -> ClientBuilder {
        ClientBuilder::new(app_id, key, secret)
    }

    /// A client from a URL of the form `http://KEY:SECRET@HOST:PORT/apps/ID`; see
    /// [`ClientBuilder::from_url`] to change more settings.
    ///
    /// ```
    /// let client = pusherable_client::Client::from_url("https://key:secret@api-eu.pusher.com/apps/3")?;
    /// assert_eq!(client.key(), "key");
    /// # Ok::<(), pusherable_client::Error>(())
    /// ```
    pub fn from_url(url: &str) -> Result<Self, Error> {
        ClientBuilder::from_url(url)?.build()
    }

    /// The app's base URL; every call goes to a path below it.
    ///
    /// ```
    /// let client = pusherable_client::Client::builder("3", "key", "secret").cluster("ap1").build()?;
    /// assert_eq!(client.endpoint().host_str(), Some("api-ap1.pusher.com"));
    /// # Ok::<(), pusherable_client::Error>(())
    /// ```
    pub fn endpoint(&self) -> &Url {
        &self.inner.endpoint
    }

    /// The app key, which is public (pusher-js connects with it).
    ///
    /// ```
    /// let client = pusherable_client::Client::builder("3", "key", "secret").build()?;
    /// assert_eq!(client.key(), "key");
    /// # Ok::<(), pusherable_client::Error>(())
    /// ```
    pub fn key(&self) -> &str {
        &self.inner.key
    }
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("endpoint", &self.inner.endpoint.as_str())
            .field("key", &self.inner.key)
            .field("secret", &"<redacted>")
            .field("encrypted_channels", &self.inner.master_key.is_some())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    /// A client is shared across tasks, and errors cross `?` into boxed errors and threads.
    #[test]
    fn client_and_error_are_send_and_sync() {
        fn shared<T: Send + Sync + 'static>() {}
        shared::<super::Client>();
        shared::<super::Error>();
        shared::<super::WebhookError>();
    }
}
