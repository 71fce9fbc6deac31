//! Channel names, their kinds and the names derived from them, and socket ids.

use pusherable_protocol::channel::{self, SERVER_TO_USER_PREFIX};
use pusherable_protocol::limits::{CHANNEL_NAME_MAX, CHANNEL_NAME_MAX_LIBRARIES};
use pusherable_protocol::{socket, ChannelKind, ChannelName, ChannelNameError, SocketId};

/// Any text is checked as a channel name, a user channel's user id and a socket id without
/// panicking, and what is accepted keeps every rule: the allowed characters, the length limit
/// in force, the kind its prefix gives, and the same answer when parsed again.
pub fn channel(data: &[u8]) {
    let Ok(name) = std::str::from_utf8(data) else {
        return;
    };
    for max in [
        0,
        name.len().saturating_sub(1),
        name.len(),
        CHANNEL_NAME_MAX,
        CHANNEL_NAME_MAX_LIBRARIES,
    ] {
        check_name(name, max);
    }
    check_kind(name);
    check_user_channel(name);
    check_socket_id(name);
}

fn check_name(name: &str, max: usize) {
    let parsed = ChannelName::parse(name, max);
    assert_eq!(
        parsed.as_ref().err().copied(),
        channel::validate(name, max).err(),
        "parse and validate disagree on {name:?}"
    );
    match parsed {
        Ok(parsed) => {
            assert_eq!(parsed.as_str(), name);
            assert!(
                !name.is_empty() && name.len() <= max,
                "{name:?} within {max}"
            );
            let body = name.strip_prefix(SERVER_TO_USER_PREFIX).unwrap_or(name);
            assert!(!body.is_empty(), "{name:?} has a body");
            assert!(
                body.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"_-=@,.;".contains(&b)),
                "{name:?} has only allowed characters"
            );
            assert_eq!(parsed.kind(), channel::kind_of(name));
            assert_eq!(parsed.is_cache(), channel::is_cache(name));
            assert_eq!(
                parsed.server_to_user_id().is_some(),
                parsed.kind() == ChannelKind::ServerToUser
            );
            assert_eq!(
                ChannelName::parse(parsed.as_str(), max).as_ref(),
                Ok(&parsed)
            );
            // A name that fits a limit fits every larger one.
            assert!(ChannelName::parse(name, max.saturating_add(1)).is_ok());
        }
        Err(ChannelNameError::Empty) => assert!(name.is_empty()),
        Err(ChannelNameError::TooLong(limit)) => {
            assert_eq!(limit, max);
            assert!(name.len() > max);
        }
        Err(ChannelNameError::Reserved) => assert!(name.starts_with('#')),
        Err(ChannelNameError::BadCharacter) => {}
    }
}

/// The kind follows from the prefix alone: the longest prefix that matches decides (so
/// `private-encrypted-` wins over `private-`), and a name that matches none is public. Said
/// as a rule over a table, not as the crate's chain of tests, so that the two can disagree.
fn check_kind(name: &str) {
    const PREFIXES: [(&str, ChannelKind); 4] = [
        ("private-", ChannelKind::Private),
        ("private-encrypted-", ChannelKind::PrivateEncrypted),
        ("presence-", ChannelKind::Presence),
        (SERVER_TO_USER_PREFIX, ChannelKind::ServerToUser),
    ];
    let expected = PREFIXES
        .iter()
        .filter(|(prefix, _)| name.starts_with(prefix))
        .max_by_key(|(prefix, _)| prefix.len())
        .map_or(ChannelKind::Public, |(_, kind)| *kind);
    let kind = channel::kind_of(name);
    assert_eq!(kind, expected, "{name:?}");
    assert_eq!(
        kind.needs_auth(),
        matches!(
            kind,
            ChannelKind::Private | ChannelKind::PrivateEncrypted | ChannelKind::Presence
        )
    );
    // Client events need a signed subscription, and encrypted payloads cannot be checked.
    if kind.allows_client_events() {
        assert!(kind.needs_auth() && kind != ChannelKind::PrivateEncrypted);
    }
}

/// The channel of a signed-in user names that user, and only that user.
fn check_user_channel(user_id: &str) {
    match ChannelName::for_user(user_id) {
        Ok(name) => {
            assert_eq!(name.server_to_user_id(), Some(user_id));
            assert_eq!(name.kind(), ChannelKind::ServerToUser);
            assert_eq!(
                name.as_str().strip_prefix(SERVER_TO_USER_PREFIX),
                Some(user_id)
            );
        }
        Err(_) => assert!(
            user_id.is_empty()
                || user_id.len() > CHANNEL_NAME_MAX_LIBRARIES
                || !user_id
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"_-=@,.;".contains(&b)),
            "user id {user_id:?} refused"
        ),
    }
}

fn check_socket_id(text: &str) {
    let valid = socket::is_valid(text);
    match SocketId::parse(text) {
        Ok(id) => {
            assert!(valid);
            assert_eq!(id.as_str(), text);
            assert_eq!(id.to_string(), text);
            let (high, low) = text.split_once('.').unwrap_or_default();
            assert!(!high.is_empty() && !low.is_empty());
            assert!(high.bytes().chain(low.bytes()).all(|b| b.is_ascii_digit()));
        }
        Err(_) => assert!(!valid, "{text:?}"),
    }
    // Ids the server makes are always valid.
    let n = text.len() as u64;
    let made = SocketId::from_parts(n.wrapping_mul(7_919), n);
    assert!(socket::is_valid(made.as_str()));
}
