//! Client → server frames (PROTOCOL.md §2.2), written as a WebSocket client sends them.
//!
//! These are the frames [`frame::parse`](crate::frame::parse) reads: whatever a string holds
//! (quotes, backslashes, control characters, any Unicode), parsing an encoded frame gives back
//! the same strings. `data` is an object, as pusher-js writes it; `channel_data` and `user_data`
//! stay JSON *strings* inside it, because the server checks their signature over that exact text.
//!
//! Like [`outbound`](crate::outbound), each function writes text directly, so that a load
//! generator can send thousands of frames without building a JSON tree for each.

use crate::outbound::push_json_str;

/// `pusher:ping`, which asks the server for a `pusher:pong`.
///
/// ```
/// use pusherable_protocol::{client, frame::{parse, ClientFrame}};
/// assert_eq!(parse(client::ping()), Ok(ClientFrame::Ping));
/// ```
pub fn ping() -> &'static str {
    r#"{"event":"pusher:ping","data":{}}"#
}

/// `pusher:pong`, the answer to the server's `pusher:ping`.
///
/// ```
/// assert_eq!(pusherable_protocol::client::pong(), r#"{"event":"pusher:pong","data":{}}"#);
/// ```
pub fn pong() -> &'static str {
    r#"{"event":"pusher:pong","data":{}}"#
}

/// `pusher:subscribe` to `channel`.
///
/// `auth` is `key:signature` for private and presence channels; pusher-js sends `""` for a
/// public channel, and `None` leaves the member out, which the server also takes.
/// `channel_data` is the signed presence member, exactly as the auth endpoint returned it.
///
/// ```
/// use pusherable_protocol::client;
/// assert_eq!(
///     client::subscribe("presence-room", Some("k:s"), Some(r#"{"user_id":"1"}"#)),
///     r#"{"event":"pusher:subscribe","data":{"auth":"k:s","channel_data":"{\"user_id\":\"1\"}","channel":"presence-room"}}"#
/// );
/// assert_eq!(
///     client::subscribe("news", None, None),
///     r#"{"event":"pusher:subscribe","data":{"channel":"news"}}"#
/// );
/// ```
pub fn subscribe(channel: &str, auth: Option<&str>, channel_data: Option<&str>) -> String {
    let mut out = String::with_capacity(
        64 + channel.len() + auth.map_or(0, str::len) + channel_data.map_or(0, |d| d.len() * 2),
    );
    out.push_str(r#"{"event":"pusher:subscribe","data":{"#);
    if let Some(auth) = auth {
        out.push_str(r#""auth":"#);
        push_json_str(&mut out, auth);
        out.push(',');
    }
    if let Some(channel_data) = channel_data {
        out.push_str(r#""channel_data":"#);
        push_json_str(&mut out, channel_data);
        out.push(',');
    }
    out.push_str(r#""channel":"#);
    push_json_str(&mut out, channel);
    out.push_str("}}");
    out
}

/// `pusher:unsubscribe` from `channel`.
///
/// ```
/// assert_eq!(
///     pusherable_protocol::client::unsubscribe("news"),
///     r#"{"event":"pusher:unsubscribe","data":{"channel":"news"}}"#
/// );
/// ```
pub fn unsubscribe(channel: &str) -> String {
    let mut out = String::with_capacity(56 + channel.len());
    out.push_str(r#"{"event":"pusher:unsubscribe","data":{"channel":"#);
    push_json_str(&mut out, channel);
    out.push_str("}}");
    out
}

/// `pusher:signin`: `auth` is `key:signature` over `user_data`, which travels as the exact text
/// that was signed.
///
/// ```
/// assert_eq!(
///     pusherable_protocol::client::signin("k:s", r#"{"id":"1"}"#),
///     r#"{"event":"pusher:signin","data":{"auth":"k:s","user_data":"{\"id\":\"1\"}"}}"#
/// );
/// ```
pub fn signin(auth: &str, user_data: &str) -> String {
    let mut out = String::with_capacity(64 + auth.len() + user_data.len() * 2);
    out.push_str(r#"{"event":"pusher:signin","data":{"auth":"#);
    push_json_str(&mut out, auth);
    out.push_str(r#","user_data":"#);
    push_json_str(&mut out, user_data);
    out.push_str("}}");
    out
}

/// A client event (`client-…`) for the other subscribers of `channel`.
///
/// `data` travels as a JSON string, which the server relays unchanged: the others receive
/// exactly `data`, whether it holds JSON or plain text.
///
/// ```
/// assert_eq!(
///     pusherable_protocol::client::client_event("private-doc", "client-typing", r#"{"who":"b"}"#),
///     r#"{"event":"client-typing","channel":"private-doc","data":"{\"who\":\"b\"}"}"#
/// );
/// ```
pub fn client_event(channel: &str, event: &str, data: &str) -> String {
    let mut out = String::with_capacity(40 + event.len() + channel.len() + data.len() * 2);
    out.push_str(r#"{"event":"#);
    push_json_str(&mut out, event);
    out.push_str(r#","channel":"#);
    push_json_str(&mut out, channel);
    out.push_str(r#","data":"#);
    push_json_str(&mut out, data);
    out.push('}');
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frame::{parse, ClientFrame, Subscribe};

    /// Strings that a careless encoder would break: JSON's escapes, every ASCII control
    /// character, lone separators JavaScript treats as line ends, and non-ASCII text.
    fn awkward() -> Vec<String> {
        let mut all: Vec<String> = [
            "",
            "plain",
            "quote\" and backslash\\ and slash /",
            r#"{"user_id":"u-1","user_info":{"name":"O\"Brien \\ co"}}"#,
            "\\\"",
            "\\u0041 is not A",
            "nl\n cr\r tab\t bs\u{8} ff\u{c} nul\u{0} esc\u{1b} del\u{7f}",
            "\u{2028}\u{2029}",
            "</script><script>",
            "é ☃ 😀 \u{feff}",
        ]
        .map(str::to_owned)
        .to_vec();
        all.push((0u8..0x20).map(char::from).collect());
        all
    }

    #[test]
    fn ping_and_pong_read_back() {
        assert_eq!(parse(ping()), Ok(ClientFrame::Ping));
        assert_eq!(parse(pong()), Ok(ClientFrame::Pong));
    }

    #[test]
    fn subscribe_reads_back() {
        for s in awkward() {
            for (auth, channel_data) in [
                (None, None),
                (Some(""), None),
                (Some(s.as_str()), None),
                (Some("k:s"), Some(s.as_str())),
            ] {
                assert_eq!(
                    parse(&subscribe(&s, auth, channel_data)),
                    Ok(ClientFrame::Subscribe(Subscribe {
                        channel: s.clone(),
                        auth: auth.map(str::to_owned),
                        channel_data: channel_data.map(str::to_owned),
                    })),
                    "{s:?}"
                );
            }
        }
    }

    #[test]
    fn unsubscribe_and_signin_read_back() {
        for s in awkward() {
            assert_eq!(
                parse(&unsubscribe(&s)),
                Ok(ClientFrame::Unsubscribe { channel: s.clone() })
            );
            assert_eq!(
                parse(&signin(&s, &s)),
                Ok(ClientFrame::Signin {
                    auth: s.clone(),
                    user_data: s.clone(),
                })
            );
        }
    }

    #[test]
    fn client_events_read_back() {
        for s in awkward() {
            let event = format!("client-{s}");
            assert_eq!(
                parse(&client_event(&s, &event, &s)),
                Ok(ClientFrame::ClientEvent {
                    event: event.clone(),
                    channel: s.clone(),
                    data: s.clone(),
                }),
                "{s:?}"
            );
        }
    }

    #[test]
    fn frames_are_what_pusher_js_sends() {
        let as_json = |text: &str| -> serde_json::Value {
            serde_json::from_str(text).expect("an encoded frame is JSON")
        };
        assert_eq!(
            as_json(&subscribe("my-channel", Some(""), None)),
            as_json(r#"{"event":"pusher:subscribe","data":{"auth":"","channel":"my-channel"}}"#)
        );
        assert_eq!(
            as_json(&subscribe(
                "presence-room",
                Some("278d:0c08"),
                Some(r#"{"user_id":"u-1","user_info":{"name":"N"}}"#)
            )),
            as_json(
                r#"{"event":"pusher:subscribe","data":{"auth":"278d:0c08","channel_data":"{\"user_id\":\"u-1\",\"user_info\":{\"name\":\"N\"}}","channel":"presence-room"}}"#
            )
        );
        assert_eq!(
            as_json(&client_event(
                "private-foobar",
                "client-typing",
                "{\"who\":\"b\"}"
            )),
            as_json(
                r#"{"event":"client-typing","channel":"private-foobar","data":"{\"who\":\"b\"}"}"#
            )
        );
    }
}
