//! Where events go and who signs subscriptions: the embedded server or the REST API.

use std::fmt;

use pusherable_protocol::auth::{AuthorizeError, PresenceMember};
use serde::Serialize;
use serde_json::{json, Value};

use crate::{access::Profile, page::Websocket, BuildError};

/// The app key of [`Backend::in_process`]. Keys are public: pages connect with them.
///
/// ```
/// assert_eq!(pusherable::IN_PROCESS_KEY, "pusherable");
/// ```
#[cfg(feature = "embedded")]
pub const IN_PROCESS_KEY: &str = "pusherable";

/// The real-time backend: the server embedded in this process, or any Pusher-compatible REST
/// API (hosted Pusher, or `pusherable serve` on another host).
///
/// ```
/// # #[cfg(feature = "embedded")] {
/// use pusherable::Backend;
/// let backend = Backend::in_process();
/// assert!(backend.server().is_some());
/// # }
/// ```
#[derive(Clone)]
pub struct Backend {
    kind: Kind,
}

#[derive(Clone)]
enum Kind {
    #[cfg(feature = "embedded")]
    Embedded {
        server: pusherable_server::Server,
        app_id: String,
        key: String,
        /// Signs subscriptions in this process; never leaves it.
        secret: String,
    },
    #[cfg(feature = "rest")]
    Rest(pusherable_client::Client),
}

/// Why the backend did not take an event.
#[derive(Debug, thiserror::Error)]
pub(crate) enum SendError {
    #[cfg(feature = "embedded")]
    #[error(transparent)]
    Embedded(#[from] pusherable_server::TriggerError),
    #[cfg(feature = "rest")]
    #[error(transparent)]
    Rest(#[from] pusherable_client::Error),
}

/// Why a subscription or a sign-in could not be signed. Both backends run the same checks, the
/// protocol crate's: the embedded one directly, the REST one through `pusherable-client`.
#[derive(Debug, thiserror::Error)]
pub(crate) enum SignError {
    /// A bad socket id, a channel that takes no signature, a profile over the presence limits,
    /// or a user id that a user channel cannot carry.
    #[error(transparent)]
    Refused(#[from] AuthorizeError),
    /// The same refusals, as the REST client reports them.
    #[cfg(feature = "rest")]
    #[error(transparent)]
    Rest(#[from] pusherable_client::Error),
}

/// What the channel authorization endpoint answers: the JSON pusher-js expects.
#[derive(Debug, Serialize)]
pub(crate) struct ChannelAuth {
    pub(crate) auth: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) channel_data: Option<String>,
}

/// What the user authentication endpoint answers.
#[derive(Debug, Serialize)]
pub(crate) struct UserAuth {
    pub(crate) auth: String,
    pub(crate) user_data: String,
}

impl Backend {
    /// A new server in this process, with one app (id `1`, key [`IN_PROCESS_KEY`]) whose
    /// secret is drawn at random each time.
    ///
    /// Pages connect to it on the app's own host and port: mount it with
    /// [`Realtime::routes`](crate::Realtime::routes). The key stays the same from one run to
    /// the next, so pages left open across a restart reconnect by themselves; the secret never
    /// leaves the process, so nothing signed before the restart is accepted after it.
    ///
    /// ```
    /// let backend = pusherable::Backend::in_process();
    /// assert_eq!(backend.key(), pusherable::IN_PROCESS_KEY);
    /// ```
    #[cfg(feature = "embedded")]
    pub fn in_process() -> Self {
        let secret = pusherable_server::AppConfig::development().secret;
        let app = pusherable_server::AppConfig::new("1", IN_PROCESS_KEY, secret);
        let config = pusherable_server::Config {
            apps: vec![app.clone()],
            ..Default::default()
        };
        match pusherable_server::Server::new(config) {
            Ok(server) => Self::from_app(server, &app),
            // A development app always passes the server's checks.
            Err(e) => unreachable!("development app refused: {e}"),
        }
    }

    /// The app `app_id` of an embedded server that the app configured itself (with its own
    /// credentials, limits or path prefix).
    ///
    /// ```
    /// use pusherable_server::{AppConfig, Config, Server};
    /// let mut config = Config::default();
    /// config.apps.push(AppConfig::new("1", "app-key", "app-secret"));
    /// let backend = pusherable::Backend::embedded(Server::new(config)?, "1")?;
    /// assert_eq!(backend.key(), "app-key");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[cfg(feature = "embedded")]
    pub fn embedded(server: pusherable_server::Server, app_id: &str) -> Result<Self, BuildError> {
        let app = server
            .config()
            .apps
            .iter()
            .find(|a| a.id == app_id)
            .cloned()
            .ok_or_else(|| BuildError::UnknownApp(app_id.to_owned()))?;
        Ok(Self::from_app(server, &app))
    }

    #[cfg(feature = "embedded")]
    fn from_app(server: pusherable_server::Server, app: &pusherable_server::AppConfig) -> Self {
        Backend {
            kind: Kind::Embedded {
                server,
                app_id: app.id.clone(),
                key: app.key.clone(),
                secret: app.secret.clone(),
            },
        }
    }

    /// Events go over the REST API with `client`: hosted Pusher, or a standalone server.
    ///
    /// ```
    /// # #[cfg(feature = "rest")] {
    /// let client = pusherable_client::Client::from_url("http://key:secret@127.0.0.1:6001/apps/1")?;
    /// let backend = pusherable::Backend::rest(client);
    /// assert_eq!(backend.key(), "key");
    /// # }
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[cfg(feature = "rest")]
    pub fn rest(client: pusherable_client::Client) -> Self {
        Backend {
            kind: Kind::Rest(client),
        }
    }

    /// The backend a configuration string names, such as the value of a `PUSHERABLE_URL`
    /// variable: `embedded` (or an empty string) for [`Backend::in_process`] (feature
    /// `embedded`); `http://KEY:SECRET@HOST:PORT/apps/ID` or `https://…` for the REST API of a
    /// standalone server or of hosted Pusher (feature `rest`).
    ///
    /// ```
    /// use pusherable::Backend;
    /// # #[cfg(feature = "embedded")]
    /// assert!(Backend::from_url("embedded")?.server().is_some());
    /// # #[cfg(feature = "rest")]
    /// assert_eq!(Backend::from_url("http://key:secret@127.0.0.1:6001/apps/1")?.key(), "key");
    /// assert!(Backend::from_url("ftp://nowhere").is_err());
    /// # Ok::<(), pusherable::BuildError>(())
    /// ```
    pub fn from_url(url: &str) -> Result<Self, BuildError> {
        let url = url.trim();
        if url.is_empty() || url == "embedded" {
            #[cfg(feature = "embedded")]
            return Ok(Self::in_process());
            #[cfg(not(feature = "embedded"))]
            return Err(BuildError::Backend(
                "the embedded backend needs the `embedded` feature".into(),
            ));
        }
        if url.starts_with("http://") || url.starts_with("https://") {
            #[cfg(feature = "rest")]
            return pusherable_client::Client::from_url(url)
                .map(Self::rest)
                .map_err(|e| BuildError::Backend(e.to_string()));
            #[cfg(not(feature = "rest"))]
            return Err(BuildError::Backend(
                "a REST backend needs the `rest` feature".into(),
            ));
        }
        Err(BuildError::Backend(format!(
            "{url:?} is neither `embedded` nor an http(s)://KEY:SECRET@HOST/apps/ID URL"
        )))
    }

    /// The app key, which pages connect with (it is public).
    ///
    /// ```
    /// # #[cfg(feature = "embedded")]
    /// assert!(!pusherable::Backend::in_process().key().is_empty());
    /// ```
    pub fn key(&self) -> &str {
        match &self.kind {
            #[cfg(feature = "embedded")]
            Kind::Embedded { key, .. } => key,
            #[cfg(feature = "rest")]
            Kind::Rest(client) => client.key(),
        }
    }

    /// The embedded server, to publish from elsewhere in the app or to read its state.
    ///
    /// ```
    /// # #[cfg(feature = "embedded")]
    /// assert_eq!(pusherable::Backend::in_process().server().map(|s| s.connection_count()), Some(0));
    /// ```
    #[cfg(feature = "embedded")]
    pub fn server(&self) -> Option<&pusherable_server::Server> {
        match &self.kind {
            Kind::Embedded { server, .. } => Some(server),
            #[cfg(feature = "rest")]
            Kind::Rest(_) => None,
        }
    }

    /// The routes the embedded server needs beside the app's; none for the REST API.
    pub(crate) fn router(&self) -> Option<axum::Router> {
        match &self.kind {
            #[cfg(feature = "embedded")]
            Kind::Embedded { server, .. } => Some(server.router()),
            #[cfg(feature = "rest")]
            Kind::Rest(_) => None,
        }
    }

    /// Where pages connect unless the app says otherwise.
    pub(crate) fn default_websocket(&self) -> Websocket {
        match &self.kind {
            #[cfg(feature = "embedded")]
            Kind::Embedded { server, .. } => {
                Websocket::same_origin().path(&server.config().path_prefix)
            }
            #[cfg(feature = "rest")]
            Kind::Rest(client) => Websocket::for_rest_endpoint(client.endpoint()),
        }
    }

    /// Sends one event now.
    pub(crate) async fn send(
        &self,
        channel: &str,
        event: &str,
        data: &str,
        except: Option<&str>,
    ) -> Result<(), SendError> {
        match &self.kind {
            #[cfg(feature = "embedded")]
            Kind::Embedded { server, app_id, .. } => {
                Ok(server.publish(app_id, &[channel], event, data, except)?)
            }
            #[cfg(feature = "rest")]
            Kind::Rest(client) => {
                let options = pusherable_client::TriggerOptions {
                    socket_id: except.map(str::to_owned),
                    info: Vec::new(),
                };
                client
                    .trigger_with(&[channel], event, data, &options)
                    .await?;
                Ok(())
            }
        }
    }

    /// Signs `socket_id`'s subscription to `channel`; presence channels carry `member`.
    pub(crate) fn authorize_channel(
        &self,
        socket_id: &str,
        channel: &str,
        member: Option<&Profile>,
    ) -> Result<ChannelAuth, SignError> {
        let member =
            member.map(|m| PresenceMember::new(m.id()).info(Value::Object(m.info().clone())));
        match &self.kind {
            #[cfg(feature = "embedded")]
            Kind::Embedded { key, secret, .. } => {
                let signed = pusherable_protocol::auth::authorize_channel(
                    key,
                    secret,
                    socket_id,
                    channel,
                    member.as_ref(),
                )?;
                Ok(ChannelAuth {
                    auth: signed.auth,
                    channel_data: signed.channel_data,
                })
            }
            #[cfg(feature = "rest")]
            Kind::Rest(client) => {
                let signed = client.authorize_channel(socket_id, channel, member.as_ref())?;
                Ok(ChannelAuth {
                    auth: signed.auth,
                    channel_data: signed.channel_data,
                })
            }
        }
    }

    /// Signs `socket_id` in as `user` (`pusher:signin`), following the users in `watchlist`.
    pub(crate) fn authenticate_user(
        &self,
        socket_id: &str,
        user: &Profile,
        watchlist: &[String],
    ) -> Result<UserAuth, SignError> {
        let mut user_data =
            json!({"id": user.id(), "user_info": Value::Object(user.info().clone())});
        if !watchlist.is_empty() {
            user_data["watchlist"] = json!(watchlist);
        }
        match &self.kind {
            #[cfg(feature = "embedded")]
            Kind::Embedded { key, secret, .. } => {
                let signed = pusherable_protocol::auth::authenticate_user(
                    key,
                    secret,
                    socket_id,
                    user_data.to_string(),
                )?;
                Ok(UserAuth {
                    auth: signed.auth,
                    user_data: signed.user_data,
                })
            }
            #[cfg(feature = "rest")]
            Kind::Rest(client) => {
                let signed = client.authenticate_user(socket_id, &user_data)?;
                Ok(UserAuth {
                    auth: signed.auth,
                    user_data: signed.user_data,
                })
            }
        }
    }
}

impl fmt::Debug for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            #[cfg(feature = "embedded")]
            Kind::Embedded { app_id, key, .. } => f
                .debug_struct("Backend::Embedded")
                .field("app_id", app_id)
                .field("key", key)
                .finish_non_exhaustive(),
            #[cfg(feature = "rest")]
            Kind::Rest(client) => f.debug_tuple("Backend::Rest").field(client).finish(),
        }
    }
}

/// Both backends sign through the protocol crate's one path, so a page gets the same answer
/// whichever backend the app runs: the same signature for what may be signed, a refusal for
/// what may not.
#[cfg(all(test, feature = "embedded", feature = "rest"))]
mod tests {
    use super::*;

    const KEY: &str = "278d425bdf160c739803";
    const SECRET: &str = "7ad3773142a6692b25b8";

    fn backends() -> [Backend; 2] {
        let mut config = pusherable_server::Config::default();
        config
            .apps
            .push(pusherable_server::AppConfig::new("3", KEY, SECRET));
        let server = pusherable_server::Server::new(config).expect("a valid config");
        let client = pusherable_client::Client::builder("3", KEY, SECRET)
            .build()
            .expect("a valid client");
        [
            Backend::embedded(server, "3").expect("app 3 is configured"),
            Backend::rest(client),
        ]
    }

    /// Each backend's answer, as the JSON the endpoint would send, or `None` when refused.
    fn authorize(socket_id: &str, channel: &str, member: Option<&Profile>) -> [Option<String>; 2] {
        backends().map(|b| {
            b.authorize_channel(socket_id, channel, member)
                .ok()
                .map(|auth| serde_json::to_string(&auth).expect("serializable"))
        })
    }

    fn authenticate(socket_id: &str, user: &Profile, watchlist: &[String]) -> [Option<String>; 2] {
        backends().map(|b| {
            b.authenticate_user(socket_id, user, watchlist)
                .ok()
                .map(|auth| serde_json::to_string(&auth).expect("serializable"))
        })
    }

    #[test]
    fn both_backends_sign_alike() {
        let [embedded, rest] = authorize("1234.1234", "private-foobar", None);
        // PROTOCOL.md §4.2's vector.
        assert_eq!(
            embedded.as_deref(),
            Some(
                r#"{"auth":"278d425bdf160c739803:58df8b0c36d6982b82c3ecf6b4662e34fe8c25bba48f5369f135bf843651c3a4"}"#
            )
        );
        assert_eq!(embedded, rest);

        let ada = Profile::new(42).name("Ada").with("avatar", "/a/42.png");
        let [embedded, rest] = authorize("1234.1234", "presence-room", Some(&ada));
        let embedded = embedded.expect("a presence member within the limits is signed");
        assert!(
            embedded.contains(
                r#""channel_data":"{\"user_id\":\"42\",\"user_info\":{\"avatar\":\"/a/42.png\",\"name\":\"Ada\"}}""#
            ),
            "{embedded}"
        );
        assert_eq!(Some(embedded), rest);

        // A connection that is signed in joins a presence channel without channel data.
        let [embedded, rest] = authorize("1234.1234", "presence-room", None);
        assert!(embedded.is_some());
        assert_eq!(embedded, rest);

        let [embedded, rest] = authenticate("1234.1234", &ada, &[]);
        assert!(embedded.is_some());
        assert_eq!(embedded, rest);

        let [embedded, rest] = authenticate("1234.1234", &ada, &["7".into(), "8".into()]);
        let embedded = embedded.expect("a watchlist is signed with the user");
        assert!(
            embedded.contains(r#"\"watchlist\":[\"7\",\"8\"]"#),
            "{embedded}"
        );
        assert_eq!(Some(embedded), rest);
    }

    #[test]
    fn the_embedded_backend_refuses_what_the_rest_backend_refuses() {
        let ada = Profile::new(42).name("Ada");
        let long_id = Profile::new("1".repeat(129));
        let big_info = Profile::new(1).with("bio", "x".repeat(1100));
        let long_name = format!("private-{}", "a".repeat(193));
        let cases: [(&str, &str, Option<&Profile>); 10] = [
            ("1.2.3", "private-a", None),
            ("abc.123", "presence-a", Some(&ada)),
            ("", "private-a", None),
            ("1.2", "news", None),
            ("1.2", "#server-to-user-42", None),
            ("1.2", "private-bad name", None),
            ("1.2", "", None),
            ("1.2", &long_name, None),
            ("1.2", "presence-a", Some(&long_id)),
            ("1.2", "presence-a", Some(&big_info)),
        ];
        for (socket_id, channel, member) in cases {
            assert_eq!(
                authorize(socket_id, channel, member),
                [None, None],
                "{socket_id:?} {channel:?}"
            );
        }
        for (socket_id, user) in [
            ("1.2.3", &ada),
            ("1.2", &Profile::new("has space")),
            ("1.2", &Profile::new("")),
        ] {
            assert_eq!(authenticate(socket_id, user, &[]), [None, None], "{user:?}");
        }
    }
}
