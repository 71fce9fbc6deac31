//! What an app's auth endpoints return to pusher-js (PROTOCOL.md §4).
//!
//! pusher-js posts `socket_id` (and `channel_name`) to the app; the app decides whether the
//! user may subscribe or sign in and, if so, answers with one of these as JSON. The checks and
//! signatures are the protocol crate's (`pusherable_protocol::auth`), which the web layer's
//! embedded server uses too; the strings signed are the strings returned, byte for byte, since
//! the server verifies exactly what pusher-js sends back.

use pusherable_protocol::{
    auth::{self, PresenceMember},
    channel::kind_of,
    ChannelKind,
};
use serde::Serialize;

use crate::{
    error::{Error, InvalidInput},
    Client,
};

/// The answer to a channel authorization request: serialize it as the endpoint's JSON body.
///
/// ```
/// use pusherable_client::ChannelAuth;
/// let auth = ChannelAuth { auth: "key:sig".into(), channel_data: None, shared_secret: None };
/// assert_eq!(serde_json::to_string(&auth).unwrap(), r#"{"auth":"key:sig"}"#);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChannelAuth {
    /// `key:signature`.
    pub auth: String,
    /// The presence member as the JSON text that was signed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub channel_data: Option<String>,
    /// The channel's key (base64) on `private-encrypted-` channels; pusher-js keeps it and
    /// never sends it to the server.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shared_secret: Option<String>,
}

/// The answer to a user authentication (sign-in) request.
///
/// ```
/// use pusherable_client::UserAuth;
/// let auth = UserAuth { auth: "key:sig".into(), user_data: r#"{"id":"1"}"#.into() };
/// assert_eq!(serde_json::to_string(&auth).unwrap(), r#"{"auth":"key:sig","user_data":"{\"id\":\"1\"}"}"#);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UserAuth {
    /// `key:signature`.
    pub auth: String,
    /// The user object as the JSON text that was signed.
    pub user_data: String,
}

impl Client {
    /// Authorizes the connection `socket_id` to subscribe to a `private-`,
    /// `private-encrypted-` or `presence-` channel: the JSON pusher-js expects from the app's
    /// channel authorization endpoint.
    ///
    /// `member` becomes the signed `channel_data`. Presence channels need one unless the
    /// connection is signed in, in which case the server takes the member from the sign-in.
    /// Encrypted channels get their `shared_secret`, which needs an encryption master key.
    ///
    /// ```
    /// use pusherable_client::{Client, PresenceMember};
    /// let client = Client::builder("3", "278d425bdf160c739803", "7ad3773142a6692b25b8").build()?;
    /// let auth = client.authorize_channel("1234.1234", "private-foobar", None)?;
    /// assert_eq!(auth.auth, "278d425bdf160c739803:58df8b0c36d6982b82c3ecf6b4662e34fe8c25bba48f5369f135bf843651c3a4");
    ///
    /// let member = PresenceMember::new("42").info(serde_json::json!({"name": "Ada"}));
    /// let auth = client.authorize_channel("1234.1234", "presence-room", Some(&member))?;
    /// assert_eq!(auth.channel_data.as_deref(), Some(r#"{"user_id":"42","user_info":{"name":"Ada"}}"#));
    /// # Ok::<(), pusherable_client::Error>(())
    /// ```
    pub fn authorize_channel(
        &self,
        socket_id: &str,
        channel: &str,
        member: Option<&PresenceMember>,
    ) -> Result<ChannelAuth, Error> {
        let signed = auth::authorize_channel(
            &self.inner.key,
            &self.inner.secret,
            socket_id,
            channel,
            member,
        )
        .map_err(InvalidInput::from)?;
        let shared_secret = if kind_of(channel) == ChannelKind::PrivateEncrypted {
            let key = self
                .inner
                .master_key
                .as_ref()
                .ok_or_else(|| InvalidInput::NoEncryptionKey(channel.to_owned()))?;
            Some(key.shared_secret(channel))
        } else {
            None
        };
        Ok(ChannelAuth {
            auth: signed.auth,
            channel_data: signed.channel_data,
            shared_secret,
        })
    }

    /// Signs the connection `socket_id` in as `user`: the JSON pusher-js expects from the app's
    /// user authentication endpoint.
    ///
    /// `user` must serialize to a JSON object with a non-empty string `id` (made of the
    /// characters channel names allow); `user_info` and `watchlist` are optional members.
    ///
    /// ```
    /// use pusherable_client::Client;
    /// let client = Client::builder("3", "278d425bdf160c739803", "7ad3773142a6692b25b8").build()?;
    /// let auth = client.authenticate_user("1234.1234", &serde_json::json!({"id": "12345"}))?;
    /// assert_eq!(auth.user_data, r#"{"id":"12345"}"#);
    /// assert_eq!(auth.auth, "278d425bdf160c739803:4708d583dada6a56435fb8bc611c77c359a31eebde13337c16ab43aa6de336ba");
    /// # Ok::<(), pusherable_client::Error>(())
    /// ```
    pub fn authenticate_user(
        &self,
        socket_id: &str,
        user: &(impl Serialize + ?Sized),
    ) -> Result<UserAuth, Error> {
        let user_data = serde_json::to_string(user).map_err(InvalidInput::Data)?;
        let signed =
            auth::authenticate_user(&self.inner.key, &self.inner.secret, socket_id, user_data)
                .map_err(InvalidInput::from)?;
        Ok(UserAuth {
            auth: signed.auth,
            user_data: signed.user_data,
        })
    }
}

#[cfg(test)]
mod tests {
    use serde_json::Value;

    use super::*;

    fn client() -> Client {
        Client::builder("3", "278d425bdf160c739803", "7ad3773142a6692b25b8")
            .encryption_master_key_base64("BwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc=")
            .build()
            .unwrap()
    }

    #[test]
    fn encrypted_channels_carry_their_key() {
        let auth = client()
            .authorize_channel("1234.1234", "private-encrypted-secret", None)
            .unwrap();
        assert_eq!(
            serde_json::to_string(&auth).unwrap(),
            r#"{"auth":"278d425bdf160c739803:7e7584eb73f990567118a25f551bce24754da470567795b84e26c81515fb1b04","shared_secret":"UAtCvJamCEHHG1IgBLMYROcAFJ7gVBOQ00E/rIDypBQ="}"#
        );
        let keyless = Client::builder("3", "k", "s").build().unwrap();
        assert!(matches!(
            keyless
                .authorize_channel("1.1", "private-encrypted-secret", None)
                .unwrap_err(),
            Error::InvalidInput(InvalidInput::NoEncryptionKey(_))
        ));
    }

    #[test]
    fn refuses_what_cannot_be_authorized() {
        let c = client();
        for (socket, channel) in [
            ("1.2.3", "private-a"),
            ("1.2", "public"),
            ("1.2", "#server-to-user-1"),
            ("1.2", "private-bad name"),
        ] {
            let err = c.authorize_channel(socket, channel, None).unwrap_err();
            assert_eq!(err.kind(), crate::ErrorKind::InvalidInput, "{channel}");
        }
        let too_big = PresenceMember::new("1").info(Value::String("x".repeat(1100)));
        assert!(c
            .authorize_channel("1.2", "presence-a", Some(&too_big))
            .is_err());
        let long_id = PresenceMember::new("1".repeat(129));
        assert!(c
            .authorize_channel("1.2", "presence-a", Some(&long_id))
            .is_err());
    }

    #[test]
    fn user_data_needs_a_string_id() {
        let c = client();
        for bad in [
            serde_json::json!({"id": 12345}),
            serde_json::json!({"id": ""}),
            serde_json::json!({"name": "x"}),
            serde_json::json!("12345"),
            serde_json::json!({"id": "has space"}),
        ] {
            assert!(
                matches!(
                    c.authenticate_user("1.2", &bad).unwrap_err(),
                    Error::InvalidInput(_)
                ),
                "{bad}"
            );
        }
    }
}
