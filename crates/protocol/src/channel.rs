//! Channel names and what their prefix makes them.

use std::{borrow::Borrow, fmt, ops::Deref, sync::Arc};

use crate::limits;

/// Prefix of the one reserved name clients may subscribe to: their own user channel.
pub const SERVER_TO_USER_PREFIX: &str = "#server-to-user-";

/// What a channel's name makes it. Each kind decides who may subscribe and what they may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ChannelKind {
    /// Anyone may subscribe; no client events.
    Public,
    /// `private-…`: subscription needs a signature from the app.
    Private,
    /// `private-encrypted-…`: like private; payloads are end-to-end encrypted, no client events.
    PrivateEncrypted,
    /// `presence-…`: private, and subscribers are members that others can see.
    Presence,
    /// `#server-to-user-{id}`: only the connection signed in as that user may subscribe.
    ServerToUser,
}

/// A channel name that passed every rule of PROTOCOL.md §3.
///
/// Cheap to clone (the text is shared), so the hub can keep one per channel and hand copies
/// to every subscriber without allocating.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ChannelName(Arc<str>);

/// Why a string is not a channel name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ChannelNameError {
    /// The name is empty.
    #[error("channel name is empty")]
    Empty,
    /// The name is longer than the limit in force.
    #[error("channel name is longer than {0} characters")]
    TooLong(usize),
    /// The name has a character outside `A-Z a-z 0-9 _ - = @ , . ;`.
    #[error("channel name has a character outside A-Z a-z 0-9 _ - = @ , . ;")]
    BadCharacter,
    /// The name starts with `#` but is not `#server-to-user-{id}`.
    #[error("channel names starting with # are reserved")]
    Reserved,
}

impl ChannelName {
    /// Checks a channel name against Pusher's rules, with `max_len` characters at most
    /// (see [`limits::CHANNEL_NAME_MAX`]).
    ///
    /// ```
    /// use pusherable_protocol::{ChannelKind, ChannelName};
    /// let name = ChannelName::parse("presence-article_1", 164).unwrap();
    /// assert_eq!(name.kind(), ChannelKind::Presence);
    /// assert!(ChannelName::parse("no spaces", 164).is_err());
    /// ```
    pub fn parse(s: &str, max_len: usize) -> Result<Self, ChannelNameError> {
        validate(s, max_len)?;
        Ok(ChannelName(Arc::from(s)))
    }

    /// The name as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The kind this name's prefix gives.
    pub fn kind(&self) -> ChannelKind {
        kind_of(&self.0)
    }

    /// True for the four cache prefixes, whose last REST event is replayed to new subscribers.
    pub fn is_cache(&self) -> bool {
        is_cache(&self.0)
    }

    /// The user id of a `#server-to-user-{id}` channel.
    pub fn server_to_user_id(&self) -> Option<&str> {
        self.0.strip_prefix(SERVER_TO_USER_PREFIX)
    }

    /// The name of the channel that carries events to one signed-in user.
    pub fn for_user(user_id: &str) -> Result<Self, ChannelNameError> {
        Self::parse(
            &format!("{SERVER_TO_USER_PREFIX}{user_id}"),
            limits::CHANNEL_NAME_MAX_LIBRARIES + SERVER_TO_USER_PREFIX.len(),
        )
    }
}

/// Checks `s` without keeping it.
pub fn validate(s: &str, max_len: usize) -> Result<(), ChannelNameError> {
    if s.is_empty() {
        return Err(ChannelNameError::Empty);
    }
    // Every valid character is ASCII, so bytes and characters agree once the set is checked.
    let body = if let Some(user) = s.strip_prefix(SERVER_TO_USER_PREFIX) {
        if user.is_empty() {
            return Err(ChannelNameError::Reserved);
        }
        user
    } else if s.starts_with('#') {
        return Err(ChannelNameError::Reserved);
    } else {
        s
    };
    if !body.bytes().all(is_name_byte) {
        return Err(ChannelNameError::BadCharacter);
    }
    if s.len() > max_len {
        return Err(ChannelNameError::TooLong(max_len));
    }
    Ok(())
}

fn is_name_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'=' | b'@' | b',' | b'.' | b';')
}

/// The kind of a channel from its name. Every test is anchored at the start, and
/// `private-encrypted-` is tested before `private-`.
pub fn kind_of(name: &str) -> ChannelKind {
    if name.starts_with("private-encrypted-") {
        ChannelKind::PrivateEncrypted
    } else if name.starts_with("private-") {
        ChannelKind::Private
    } else if name.starts_with("presence-") {
        ChannelKind::Presence
    } else if name.starts_with(SERVER_TO_USER_PREFIX) {
        ChannelKind::ServerToUser
    } else {
        ChannelKind::Public
    }
}

/// True for `cache-`, `private-cache-`, `private-encrypted-cache-` and `presence-cache-`.
pub fn is_cache(name: &str) -> bool {
    [
        "cache-",
        "private-cache-",
        "private-encrypted-cache-",
        "presence-cache-",
    ]
    .iter()
    .any(|p| name.starts_with(p))
}

impl ChannelKind {
    /// True if subscribing needs a signature from the app.
    pub fn needs_auth(self) -> bool {
        matches!(
            self,
            Self::Private | Self::PrivateEncrypted | Self::Presence
        )
    }

    /// True if clients may send `client-` events on this kind of channel.
    pub fn allows_client_events(self) -> bool {
        matches!(self, Self::Private | Self::Presence)
    }
}

impl Deref for ChannelName {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl Borrow<str> for ChannelName {
    fn borrow(&self) -> &str {
        &self.0
    }
}

impl AsRef<str> for ChannelName {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ChannelName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for ChannelName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&*self.0, f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ChannelKind::*;

    fn check(name: &str, expected: Result<ChannelKind, ChannelNameError>) {
        let got = ChannelName::parse(name, limits::CHANNEL_NAME_MAX).map(|n| n.kind());
        assert_eq!(got, expected, "{name:?}");
    }

    #[test]
    fn names_and_kinds() {
        check("my-channel", Ok(Public));
        check("foo-bar_1234@=,.;", Ok(Public));
        check("private-foobar", Ok(Private));
        check("private-encrypted-secret", Ok(PrivateEncrypted));
        check("presence-room", Ok(Presence));
        check("presence-cache-room", Ok(Presence));
        check("foo-private-x", Ok(Public));
        check("#server-to-user-42", Ok(ServerToUser));
        check("#server-to-user-", Err(ChannelNameError::Reserved));
        check("#other", Err(ChannelNameError::Reserved));
        check("", Err(ChannelNameError::Empty));
        check("with space", Err(ChannelNameError::BadCharacter));
        check("back\\slash", Err(ChannelNameError::BadCharacter));
        check("colon:x", Err(ChannelNameError::BadCharacter));
        check("café", Err(ChannelNameError::BadCharacter));
        check(&"a".repeat(164), Ok(Public));
        check(&"a".repeat(165), Err(ChannelNameError::TooLong(164)));
    }

    #[test]
    fn library_length_is_configurable() {
        assert!(ChannelName::parse(&"a".repeat(200), 200).is_ok());
        assert!(ChannelName::parse(&"a".repeat(201), 200).is_err());
    }

    #[test]
    fn cache_prefixes() {
        for n in [
            "cache-a",
            "private-cache-a",
            "private-encrypted-cache-a",
            "presence-cache-a",
        ] {
            assert!(is_cache(n), "{n}");
        }
        assert!(!is_cache("x-cache-a"));
    }

    #[test]
    fn user_channel() {
        let c = ChannelName::for_user("user-1").unwrap();
        assert_eq!(c.as_str(), "#server-to-user-user-1");
        assert_eq!(c.server_to_user_id(), Some("user-1"));
    }
}
