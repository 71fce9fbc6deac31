//! Server → client frames (PROTOCOL.md §1.4–§2.7), written straight into text.
//!
//! `data` is a JSON *string* everywhere except in `pusher:error` and `pusher:signin_success`,
//! where it is an object: native clients depend on that exact matrix (§2.1, §8.1).
//!
//! The functions return `String` so that a caller can turn the text into shared bytes once and
//! send the same bytes to every recipient.

use std::fmt::Write as _;

use crate::socket::SocketId;

/// Appends `s` to `out` as a JSON string literal.
pub fn push_json_str(out: &mut String, s: &str) {
    out.reserve(s.len() + 2);
    out.push('"');
    let mut start = 0;
    for (i, b) in s.bytes().enumerate() {
        let esc: &str = match b {
            b'"' => "\\\"",
            b'\\' => "\\\\",
            b'\n' => "\\n",
            b'\r' => "\\r",
            b'\t' => "\\t",
            0x08 => "\\b",
            0x0c => "\\f",
            0x00..=0x1f => "",
            _ => continue,
        };
        out.push_str(&s[start..i]);
        if esc.is_empty() {
            let _ = write!(out, "\\u{b:04x}");
        } else {
            out.push_str(esc);
        }
        start = i + 1;
    }
    out.push_str(&s[start..]);
    out.push('"');
}

/// Where a frame goes: the parts every `{"event":…,"channel":…,"data":…}` frame has.
fn frame(
    event: &str,
    channel: Option<&str>,
    data_as_string: &str,
    extra: Option<(&str, &str)>,
) -> String {
    let mut out = String::with_capacity(32 + event.len() + data_as_string.len() * 2);
    out.push_str("{\"event\":");
    push_json_str(&mut out, event);
    if let Some(channel) = channel {
        out.push_str(",\"channel\":");
        push_json_str(&mut out, channel);
    }
    out.push_str(",\"data\":");
    push_json_str(&mut out, data_as_string);
    if let Some((key, value)) = extra {
        out.push(',');
        push_json_str(&mut out, key);
        out.push(':');
        push_json_str(&mut out, value);
    }
    out.push('}');
    out
}

/// `pusher:connection_established`, the first frame of every connection.
///
/// ```
/// use pusherable_protocol::{outbound, SocketId};
/// let f = outbound::connection_established(&SocketId::from_parts(1, 2), 120);
/// assert_eq!(f, r#"{"event":"pusher:connection_established","data":"{\"socket_id\":\"1.2\",\"activity_timeout\":120}"}"#);
/// ```
pub fn connection_established(socket_id: &SocketId, activity_timeout_secs: u64) -> String {
    let data =
        format!("{{\"socket_id\":\"{socket_id}\",\"activity_timeout\":{activity_timeout_secs}}}");
    frame("pusher:connection_established", None, &data, None)
}

/// `pusher:error` with an object `data` (the one exception to double encoding).
pub fn error(code: Option<u16>, message: &str) -> String {
    let mut out = String::with_capacity(64 + message.len());
    out.push_str("{\"event\":\"pusher:error\",\"data\":{\"message\":");
    push_json_str(&mut out, message);
    match code {
        Some(code) => {
            let _ = write!(out, ",\"code\":{code}}}}}");
        }
        None => out.push_str(",\"code\":null}}"),
    }
    out
}

/// `pusher:pong`, the answer to a client's `pusher:ping`.
pub fn pong() -> &'static str {
    r#"{"event":"pusher:pong","data":"{}"}"#
}

/// `pusher:ping`, sent to a client that has been silent for the activity timeout.
pub fn ping() -> &'static str {
    r#"{"event":"pusher:ping","data":"{}"}"#
}

/// `pusher_internal:subscription_succeeded` for a channel that is not a presence channel.
pub fn subscription_succeeded(channel: &str) -> String {
    frame(
        "pusher_internal:subscription_succeeded",
        Some(channel),
        "{}",
        None,
    )
}

/// `pusher_internal:subscription_succeeded` for a presence channel, listing every member.
///
/// `members` yields `(user_id, user_info JSON text)`; the list includes the joining user.
pub fn presence_succeeded<'a>(
    channel: &str,
    members: impl Iterator<Item = (&'a str, &'a str)> + Clone,
) -> String {
    let mut data = String::from("{\"presence\":{\"ids\":[");
    let mut count = 0usize;
    for (i, (id, _)) in members.clone().enumerate() {
        if i > 0 {
            data.push(',');
        }
        push_json_str(&mut data, id);
        count += 1;
    }
    data.push_str("],\"hash\":{");
    for (i, (id, info)) in members.enumerate() {
        if i > 0 {
            data.push(',');
        }
        push_json_str(&mut data, id);
        data.push(':');
        data.push_str(info);
    }
    let _ = write!(data, "}},\"count\":{count}}}}}");
    frame(
        "pusher_internal:subscription_succeeded",
        Some(channel),
        &data,
        None,
    )
}

/// `pusher_internal:member_added`, sent to the others when a user's first connection joins.
pub fn member_added(channel: &str, user_id: &str, user_info: &str) -> String {
    let mut data = String::from("{\"user_id\":");
    push_json_str(&mut data, user_id);
    data.push_str(",\"user_info\":");
    data.push_str(user_info);
    data.push('}');
    frame("pusher_internal:member_added", Some(channel), &data, None)
}

/// `pusher_internal:member_removed`, sent when a user's last connection leaves.
pub fn member_removed(channel: &str, user_id: &str) -> String {
    let mut data = String::from("{\"user_id\":");
    push_json_str(&mut data, user_id);
    data.push('}');
    frame("pusher_internal:member_removed", Some(channel), &data, None)
}

/// `pusher_internal:subscription_count`.
pub fn subscription_count(channel: &str, count: usize) -> String {
    frame(
        "pusher_internal:subscription_count",
        Some(channel),
        &format!("{{\"subscription_count\":{count}}}"),
        None,
    )
}

/// A channel event: `data` is copied byte for byte into the frame's string.
///
/// `user_id` is added on presence client events so that pusher-js can pass it on as
/// `metadata.user_id`.
///
/// ```
/// use pusherable_protocol::outbound;
/// assert_eq!(
///     outbound::channel_event("news", "my-event", "{\"hello\":\"world\"}", None),
///     r#"{"event":"my-event","channel":"news","data":"{\"hello\":\"world\"}"}"#
/// );
/// ```
pub fn channel_event(channel: &str, event: &str, data: &str, user_id: Option<&str>) -> String {
    frame(event, Some(channel), data, user_id.map(|u| ("user_id", u)))
}

/// A channel-scoped `pusher:subscription_error`, which pusher-js hands to the channel's
/// `pusher:subscription_error` listeners (PROTOCOL.md §2.4).
pub fn subscription_error(
    channel: &str,
    kind: SubscriptionErrorKind,
    message: &str,
    status: u16,
) -> String {
    let mut out = String::with_capacity(96 + channel.len() + message.len());
    out.push_str("{\"event\":\"pusher:subscription_error\",\"channel\":");
    push_json_str(&mut out, channel);
    out.push_str(",\"data\":{\"type\":");
    push_json_str(&mut out, kind.as_str());
    out.push_str(",\"error\":");
    push_json_str(&mut out, message);
    let _ = write!(out, ",\"status\":{status}}}}}");
    out
}

/// The `type` of a [`subscription_error`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SubscriptionErrorKind {
    /// A missing or wrong signature, or a channel this connection may not join.
    AuthError,
    /// A size or member limit.
    LimitReached,
}

impl SubscriptionErrorKind {
    fn as_str(self) -> &'static str {
        match self {
            Self::AuthError => "AuthError",
            Self::LimitReached => "LimitReached",
        }
    }
}

/// `pusher:signin_success`, carrying back the `user_data` text exactly as the client sent it.
pub fn signin_success(user_data: &str) -> String {
    let mut out = String::with_capacity(64 + user_data.len());
    out.push_str("{\"event\":\"pusher:signin_success\",\"data\":{\"user_data\":");
    push_json_str(&mut out, user_data);
    out.push_str("}}");
    out
}

/// `pusher:cache_miss`, sent right after `subscription_succeeded` on an empty cache channel.
pub fn cache_miss(channel: &str) -> String {
    frame("pusher:cache_miss", Some(channel), "{}", None)
}

/// `pusher_internal:watchlist_events`: `(name, user ids)` pairs, `name` being `online` or `offline`.
pub fn watchlist_events<'a>(events: impl Iterator<Item = (&'a str, &'a [String])>) -> String {
    let mut data = String::from("{\"events\":[");
    for (i, (name, ids)) in events.enumerate() {
        if i > 0 {
            data.push(',');
        }
        data.push_str("{\"name\":");
        push_json_str(&mut data, name);
        data.push_str(",\"user_ids\":[");
        for (j, id) in ids.iter().enumerate() {
            if j > 0 {
                data.push(',');
            }
            push_json_str(&mut data, id);
        }
        data.push_str("]}");
    }
    data.push_str("]}");
    frame("pusher_internal:watchlist_events", None, &data, None)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    fn parsed(s: &str) -> Value {
        serde_json::from_str(s).expect("valid JSON")
    }

    #[test]
    fn escapes_round_trip() {
        for s in [
            "",
            "plain",
            "quote\" back\\ nl\n tab\t ctl\u{1} é ☃ 😀",
            "\u{7f}",
        ] {
            let mut out = String::new();
            push_json_str(&mut out, s);
            assert_eq!(serde_json::from_str::<String>(&out).unwrap(), s);
        }
    }

    #[test]
    fn frames_match_the_matrix() {
        assert_eq!(
            parsed(&subscription_succeeded("private-foobar")),
            json!({"event":"pusher_internal:subscription_succeeded","channel":"private-foobar","data":"{}"})
        );
        let f = presence_succeeded(
            "presence-room",
            [("u-1", r#"{"name":"N1"}"#), ("u-2", "null")].into_iter(),
        );
        let v = parsed(&f);
        assert_eq!(
            parsed(v["data"].as_str().unwrap()),
            json!({"presence":{"ids":["u-1","u-2"],"hash":{"u-1":{"name":"N1"},"u-2":null},"count":2}})
        );
        assert_eq!(
            parsed(&member_added("presence-room", "u-2", r#"{"name":"N2"}"#)),
            json!({"event":"pusher_internal:member_added","channel":"presence-room","data":"{\"user_id\":\"u-2\",\"user_info\":{\"name\":\"N2\"}}"})
        );
        assert_eq!(
            parsed(&member_removed("presence-room", "u-2")),
            json!({"event":"pusher_internal:member_removed","channel":"presence-room","data":"{\"user_id\":\"u-2\"}"})
        );
        assert_eq!(
            parsed(&error(
                Some(4301),
                "Client event rejected due to rate limit"
            )),
            json!({"event":"pusher:error","data":{"message":"Client event rejected due to rate limit","code":4301}})
        );
        assert_eq!(parsed(&error(None, "x"))["data"]["code"], Value::Null);
        assert_eq!(
            parsed(&channel_event(
                "presence-room",
                "client-hi",
                "plain string",
                Some("u-1")
            )),
            json!({"event":"client-hi","channel":"presence-room","data":"plain string","user_id":"u-1"})
        );
        assert_eq!(
            parsed(&subscription_error(
                "private-a",
                SubscriptionErrorKind::AuthError,
                "nope",
                401
            )),
            json!({"event":"pusher:subscription_error","channel":"private-a","data":{"type":"AuthError","error":"nope","status":401}})
        );
        assert_eq!(
            parsed(&signin_success(r#"{"id":"1"}"#)),
            json!({"event":"pusher:signin_success","data":{"user_data":"{\"id\":\"1\"}"}})
        );
        assert_eq!(
            parsed(&subscription_count("a", 3)),
            json!({"event":"pusher_internal:subscription_count","channel":"a","data":"{\"subscription_count\":3}"})
        );
        assert_eq!(
            parsed(&cache_miss("cache-a")),
            json!({"event":"pusher:cache_miss","channel":"cache-a","data":"{}"})
        );
        let ids = vec!["1".to_owned()];
        assert_eq!(
            parsed(&watchlist_events([("online", ids.as_slice())].into_iter())),
            json!({"event":"pusher_internal:watchlist_events","data":"{\"events\":[{\"name\":\"online\",\"user_ids\":[\"1\"]}]}"})
        );
        assert_eq!(parsed(pong()), json!({"event":"pusher:pong","data":"{}"}));
        assert_eq!(parsed(ping()), json!({"event":"pusher:ping","data":"{}"}));
    }
}
