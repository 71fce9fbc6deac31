//! What an app's auth endpoints answer pusher-js (PROTOCOL.md §4.1, §4.4): every check and
//! every signature of a channel authorization or a user sign-in, in one place.
//!
//! An app signs nothing it would not let through itself: the socket id must have the form the
//! server gives, the channel must be one that needs a signature, and a presence member must fit
//! the documented limits. The strings signed (`channel_data`, `user_data`) are the strings
//! returned, byte for byte, because the server checks the signature over exactly what pusher-js
//! sends back.

use serde::Serialize;
use serde_json::Value;

use crate::{
    channel::{ChannelName, ChannelNameError},
    limits::{CHANNEL_NAME_MAX_LIBRARIES, PRESENCE_USER_ID_MAX, PRESENCE_USER_INFO_MAX},
    sign, SocketId,
};

/// Who joins a presence channel: a user id, and what other members may see of them.
///
/// It becomes the signed `channel_data`, `{"user_id":…,"user_info":…}`.
///
/// ```
/// use pusherable_protocol::auth::PresenceMember;
/// let member = PresenceMember::new("42").info(serde_json::json!({"name": "Ada"}));
/// assert_eq!(member.channel_data()?, r#"{"user_id":"42","user_info":{"name":"Ada"}}"#);
/// # Ok::<(), pusherable_protocol::auth::AuthorizeError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PresenceMember {
    /// The user id; a member with several connections counts once.
    pub user_id: String,
    /// Shared with the channel's other members (at most 1 KB of JSON).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_info: Option<Value>,
}

impl PresenceMember {
    /// A member with no info.
    ///
    /// ```
    /// let member = pusherable_protocol::auth::PresenceMember::new("user-1");
    /// assert_eq!(member.user_id, "user-1");
    /// ```
    pub fn new(user_id: impl Into<String>) -> Self {
        Self {
            user_id: user_id.into(),
            user_info: None,
        }
    }

    /// Sets what other members see of this one.
    ///
    /// ```
    /// let member = pusherable_protocol::auth::PresenceMember::new("1").info(serde_json::json!({"name": "Ada"}));
    /// assert!(member.user_info.is_some());
    /// ```
    pub fn info(mut self, info: Value) -> Self {
        self.user_info = Some(info);
        self
    }

    /// The `channel_data` text, after checking the documented limits: an id of 1 to 128
    /// characters, and info of at most 1 KB of JSON.
    pub fn channel_data(&self) -> Result<String, AuthorizeError> {
        let len = self.user_id.chars().count();
        if len == 0 || len > PRESENCE_USER_ID_MAX {
            return Err(AuthorizeError::PresenceMember(
                "user_id must be 1 to 128 characters",
            ));
        }
        if let Some(info) = &self.user_info {
            if info.to_string().len() > PRESENCE_USER_INFO_MAX {
                return Err(AuthorizeError::PresenceMember(
                    "user_info is over 1 KB of JSON",
                ));
            }
        }
        // A string and a JSON value always serialize.
        Ok(serde_json::to_string(self).unwrap_or_default())
    }
}

/// A signed channel subscription: `auth`, and the `channel_data` it covers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedChannel {
    /// `key:signature`.
    pub auth: String,
    /// The presence member as the JSON text that was signed.
    pub channel_data: Option<String>,
}

/// A signed user sign-in: `auth`, and the `user_data` it covers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedUser {
    /// `key:signature`.
    pub auth: String,
    /// The user object as the JSON text that was signed.
    pub user_data: String,
}

/// Why an app will not sign a subscription or a sign-in.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthorizeError {
    /// The socket id is not two runs of digits joined by a dot.
    #[error("invalid socket_id {0:?}: expected two runs of digits joined by a dot")]
    SocketId(String),
    /// The channel name breaks the naming rules.
    #[error("invalid channel name {name:?}: {source}")]
    ChannelName {
        /// The name given.
        name: String,
        /// The rule it breaks.
        source: ChannelNameError,
    },
    /// The channel needs no signature (public) or takes none from an app (`#server-to-user-`).
    #[error("authorization is not possible on channel {0:?}")]
    WrongChannelKind(String),
    /// A presence member's id or info is over the documented limits.
    #[error("presence member: {0}")]
    PresenceMember(&'static str),
    /// The user data for sign-in is not a JSON object with a non-empty string `id`.
    #[error("user data must be a JSON object with a non-empty string \"id\"")]
    UserData,
    /// The user id has a character a `#server-to-user-` channel may not have.
    #[error("invalid user id {0:?}")]
    UserId(String),
}

/// Authorizes the connection `socket_id` to subscribe to a `private-`, `private-encrypted-` or
/// `presence-` channel: checks every rule, then signs `socket_id:channel[:channel_data]`.
///
/// `member` becomes the signed `channel_data`. A presence channel may go without one when the
/// connection is signed in: the server then takes the member from the sign-in. The
/// `shared_secret` of an encrypted channel is not signed, and is the caller's to add.
///
/// ```
/// use pusherable_protocol::auth::{authorize_channel, AuthorizeError, PresenceMember};
/// let (key, secret) = ("278d425bdf160c739803", "7ad3773142a6692b25b8");
/// let signed = authorize_channel(key, secret, "1234.1234", "private-foobar", None)?;
/// assert_eq!(signed.auth, "278d425bdf160c739803:58df8b0c36d6982b82c3ecf6b4662e34fe8c25bba48f5369f135bf843651c3a4");
///
/// let member = PresenceMember::new("42");
/// let signed = authorize_channel(key, secret, "1234.1234", "presence-room", Some(&member))?;
/// assert_eq!(signed.channel_data.as_deref(), Some(r#"{"user_id":"42"}"#));
///
/// assert!(matches!(
///     authorize_channel(key, secret, "1234.1234", "news", None),
///     Err(AuthorizeError::WrongChannelKind(_))
/// ));
/// # Ok::<(), AuthorizeError>(())
/// ```
pub fn authorize_channel(
    key: &str,
    secret: &str,
    socket_id: &str,
    channel: &str,
    member: Option<&PresenceMember>,
) -> Result<SignedChannel, AuthorizeError> {
    check_socket_id(socket_id)?;
    // The official libraries' length: an app may sign for hosted Pusher as well as for us.
    let name = ChannelName::parse(channel, CHANNEL_NAME_MAX_LIBRARIES).map_err(|source| {
        AuthorizeError::ChannelName {
            name: channel.to_owned(),
            source,
        }
    })?;
    if !name.kind().needs_auth() {
        return Err(AuthorizeError::WrongChannelKind(channel.to_owned()));
    }
    let channel_data = member.map(PresenceMember::channel_data).transpose()?;
    let auth = sign::channel_auth(key, secret, socket_id, channel, channel_data.as_deref());
    Ok(SignedChannel { auth, channel_data })
}

/// Signs the connection `socket_id` in as the user `user_data` (JSON text): checks it, then
/// signs `socket_id::user::user_data`.
///
/// `user_data` must be a JSON object with a non-empty string `id` made of the characters
/// channel names allow (the user's `#server-to-user-` channel carries it); `user_info` and
/// `watchlist` are optional members.
///
/// ```
/// use pusherable_protocol::auth::authenticate_user;
/// let signed = authenticate_user("278d425bdf160c739803", "7ad3773142a6692b25b8", "1234.1234", r#"{"id":"12345"}"#.into())?;
/// assert_eq!(signed.auth, "278d425bdf160c739803:4708d583dada6a56435fb8bc611c77c359a31eebde13337c16ab43aa6de336ba");
/// # Ok::<(), pusherable_protocol::auth::AuthorizeError>(())
/// ```
pub fn authenticate_user(
    key: &str,
    secret: &str,
    socket_id: &str,
    user_data: String,
) -> Result<SignedUser, AuthorizeError> {
    check_socket_id(socket_id)?;
    let user: Value = serde_json::from_str(&user_data).map_err(|_| AuthorizeError::UserData)?;
    match user.get("id").and_then(Value::as_str) {
        Some(id) if !id.is_empty() => {
            ChannelName::for_user(id).map_err(|_| AuthorizeError::UserId(id.to_owned()))?;
        }
        _ => return Err(AuthorizeError::UserData),
    }
    let auth = sign::user_auth(key, secret, socket_id, &user_data);
    Ok(SignedUser { auth, user_data })
}

fn check_socket_id(socket_id: &str) -> Result<(), AuthorizeError> {
    SocketId::parse(socket_id)
        .map(drop)
        .map_err(|_| AuthorizeError::SocketId(socket_id.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "278d425bdf160c739803";
    const SECRET: &str = "7ad3773142a6692b25b8";

    fn check(
        socket_id: &str,
        channel: &str,
        member: Option<&PresenceMember>,
        expected: Result<&str, AuthorizeError>,
    ) {
        let got = authorize_channel(KEY, SECRET, socket_id, channel, member)
            .map(|s| s.channel_data.unwrap_or_default());
        assert_eq!(got, expected.map(str::to_owned), "{socket_id} {channel}");
    }

    #[test]
    fn channels_that_need_a_signature_get_one() {
        let member = PresenceMember::new("u-1").info(serde_json::json!({"name": "N"}));
        check("1.2", "private-a", None, Ok(""));
        check("1.2", "private-encrypted-a", None, Ok(""));
        check("1.2", "presence-a", None, Ok(""));
        check(
            "1.2",
            "presence-a",
            Some(&member),
            Ok(r#"{"user_id":"u-1","user_info":{"name":"N"}}"#),
        );
        // A private channel may carry channel data too (PROTOCOL.md §4.1).
        check(
            "1.2",
            "private-a",
            Some(&PresenceMember::new("7")),
            Ok(r#"{"user_id":"7"}"#),
        );
        check("1.2", &format!("private-{}", "a".repeat(192)), None, Ok(""));
    }

    #[test]
    fn what_is_not_signed() {
        let socket = |s: &str| AuthorizeError::SocketId(s.to_owned());
        for bad in ["1.2.3", "abc.123", "123.", " 1.2", ""] {
            check(bad, "private-a", None, Err(socket(bad)));
        }
        let kind = |c: &str| AuthorizeError::WrongChannelKind(c.to_owned());
        check("1.2", "news", None, Err(kind("news")));
        check(
            "1.2",
            "#server-to-user-1",
            None,
            Err(kind("#server-to-user-1")),
        );
        check(
            "1.2",
            "private-bad name",
            None,
            Err(AuthorizeError::ChannelName {
                name: "private-bad name".into(),
                source: ChannelNameError::BadCharacter,
            }),
        );
        let long = format!("private-{}", "a".repeat(193));
        check(
            "1.2",
            &long,
            None,
            Err(AuthorizeError::ChannelName {
                name: long.clone(),
                source: ChannelNameError::TooLong(200),
            }),
        );
        let member = AuthorizeError::PresenceMember;
        for (bad, why) in [
            (
                PresenceMember::new(""),
                "user_id must be 1 to 128 characters",
            ),
            (
                PresenceMember::new("1".repeat(129)),
                "user_id must be 1 to 128 characters",
            ),
            (
                PresenceMember::new("1").info(Value::String("x".repeat(1100))),
                "user_info is over 1 KB of JSON",
            ),
        ] {
            check("1.2", "presence-a", Some(&bad), Err(member(why)));
        }
        // The limits are in characters for the id, and in bytes of JSON for the info.
        check(
            "1.2",
            "presence-a",
            Some(&PresenceMember::new("é".repeat(128))),
            Ok(&format!(r#"{{"user_id":"{}"}}"#, "é".repeat(128))),
        );
    }

    #[test]
    fn users_need_a_usable_string_id() {
        let signed = authenticate_user(KEY, SECRET, "1.2", r#"{"id": "u-1"}"#.into()).unwrap();
        assert_eq!(signed.user_data, r#"{"id": "u-1"}"#);
        assert_eq!(
            signed.auth,
            sign::user_auth(KEY, SECRET, "1.2", r#"{"id": "u-1"}"#)
        );
        for (socket_id, user_data, expected) in [
            (
                "1.2.3",
                r#"{"id":"1"}"#,
                AuthorizeError::SocketId("1.2.3".into()),
            ),
            ("1.2", r#"{"id":12345}"#, AuthorizeError::UserData),
            ("1.2", r#"{"id":""}"#, AuthorizeError::UserData),
            ("1.2", r#"{"name":"x"}"#, AuthorizeError::UserData),
            ("1.2", r#""12345""#, AuthorizeError::UserData),
            ("1.2", "not json", AuthorizeError::UserData),
            (
                "1.2",
                r#"{"id":"has space"}"#,
                AuthorizeError::UserId("has space".into()),
            ),
        ] {
            assert_eq!(
                authenticate_user(KEY, SECRET, socket_id, user_data.into()),
                Err(expected),
                "{user_data}"
            );
        }
    }
}
