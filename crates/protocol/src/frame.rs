//! Client → server frames (PROTOCOL.md §2.2), parsed without trusting the client.
//!
//! Strings that are later signed (`channel_data`, `user_data`) are kept exactly as received:
//! a signature is checked over the raw text, never over a re-serialization.

use serde::Deserialize;
use serde_json::value::RawValue;

/// One frame a client sent, borrowed from the text of the WebSocket message.
#[derive(Debug, PartialEq, Eq)]
pub enum ClientFrame {
    /// `pusher:ping`: answer with `pusher:pong`.
    Ping,
    /// `pusher:pong`: the answer to the server's ping (any frame counts as activity anyway).
    Pong,
    /// `pusher:subscribe`.
    Subscribe(Subscribe),
    /// `pusher:unsubscribe`.
    Unsubscribe {
        /// The channel to leave, as sent (not yet validated).
        channel: String,
    },
    /// `pusher:signin`.
    Signin {
        /// `key:signature`.
        auth: String,
        /// The JSON text of the user, exactly as received.
        user_data: String,
    },
    /// A `client-…` event for the other subscribers of a channel.
    ClientEvent {
        /// The event name, starting with `client-`.
        event: String,
        /// The channel, as sent (not yet validated).
        channel: String,
        /// The data to relay, already as the JSON string the recipients get.
        data: String,
    },
}

/// The fields of `pusher:subscribe`.
#[derive(Debug, Default, PartialEq, Eq, Deserialize)]
pub struct Subscribe {
    /// The channel to join, as sent (not yet validated).
    pub channel: String,
    /// `key:signature`, empty or absent for public channels.
    #[serde(default)]
    pub auth: Option<String>,
    /// Presence member (or extra private data), the JSON text exactly as received.
    #[serde(default)]
    pub channel_data: Option<String>,
}

/// Why a frame was refused. Each is answered with `pusher:error` 4200 and the socket lives on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    /// The text is not a JSON object.
    #[error("Invalid message format: not a JSON object")]
    NotJson,
    /// There is no string `event` member.
    #[error("Invalid message format: missing event name")]
    MissingEvent,
    /// `data` is missing or has the wrong shape for this event.
    #[error("Invalid message format: bad data for {0}")]
    BadData(String),
    /// A client event without a channel.
    #[error("Invalid message format: client event without channel")]
    MissingChannel,
    /// A `pusher:` or `pusher_internal:` event the server does not know.
    #[error("Unsupported event: {0}")]
    UnknownEvent(String),
    /// An event that is neither a `pusher:` event nor a `client-` event.
    #[error("Invalid event name: {0}")]
    BadEventName(String),
}

#[derive(Deserialize)]
struct Envelope<'a> {
    #[serde(borrow)]
    event: Option<&'a RawValue>,
    #[serde(default, borrow)]
    channel: Option<&'a RawValue>,
    #[serde(default, borrow)]
    data: Option<&'a RawValue>,
}

#[derive(Deserialize)]
struct Unsubscribe {
    channel: String,
}

#[derive(Deserialize)]
struct Signin {
    auth: String,
    user_data: String,
}

/// Parses one text message from a client.
///
/// ```
/// use pusherable_protocol::frame::{parse, ClientFrame};
/// let f = parse(r#"{"event":"pusher:subscribe","data":{"auth":"","channel":"news"}}"#).unwrap();
/// assert!(matches!(f, ClientFrame::Subscribe(s) if s.channel == "news"));
/// ```
pub fn parse(text: &str) -> Result<ClientFrame, FrameError> {
    // serde would also read a struct from a JSON array; only an object is a frame.
    if !text.trim_start().starts_with('{') {
        return Err(FrameError::NotJson);
    }
    let env: Envelope<'_> = serde_json::from_str(text).map_err(|_| FrameError::NotJson)?;
    let event: String = env
        .event
        .and_then(|raw| serde_json::from_str(raw.get()).ok())
        .ok_or(FrameError::MissingEvent)?;
    match event.as_str() {
        "pusher:ping" => Ok(ClientFrame::Ping),
        "pusher:pong" => Ok(ClientFrame::Pong),
        "pusher:subscribe" => Ok(ClientFrame::Subscribe(object_data(&event, env.data)?)),
        "pusher:unsubscribe" => {
            let u: Unsubscribe = object_data(&event, env.data)?;
            Ok(ClientFrame::Unsubscribe { channel: u.channel })
        }
        "pusher:signin" => {
            let s: Signin = object_data(&event, env.data)?;
            Ok(ClientFrame::Signin {
                auth: s.auth,
                user_data: s.user_data,
            })
        }
        e if e.starts_with("client-") => {
            let channel: String = env
                .channel
                .and_then(|raw| serde_json::from_str(raw.get()).ok())
                .ok_or(FrameError::MissingChannel)?;
            let data = match env.data {
                None => String::new(),
                // A string is relayed as it is; anything else as its JSON text.
                Some(raw) if raw.get().starts_with('"') => serde_json::from_str(raw.get())
                    .map_err(|_| FrameError::BadData(event.clone()))?,
                Some(raw) => raw.get().to_owned(),
            };
            Ok(ClientFrame::ClientEvent {
                event,
                channel,
                data,
            })
        }
        e if e.starts_with("pusher:") || e.starts_with("pusher_internal:") => {
            Err(FrameError::UnknownEvent(event))
        }
        _ => Err(FrameError::BadEventName(event)),
    }
}

/// The `data` of a `pusher:` event: an object, or a JSON string holding one (some clients
/// double-encode; PROTOCOL.md §2.1 asks the server to take both).
fn object_data<T: for<'de> Deserialize<'de>>(
    event: &str,
    data: Option<&RawValue>,
) -> Result<T, FrameError> {
    let bad = || FrameError::BadData(event.to_owned());
    let raw = data.ok_or_else(bad)?.get();
    if raw.starts_with('"') {
        let inner: String = serde_json::from_str(raw).map_err(|_| bad())?;
        serde_json::from_str(&inner).map_err(|_| bad())
    } else {
        serde_json::from_str(raw).map_err(|_| bad())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pusher_js_frames() {
        assert_eq!(
            parse(r#"{"event":"pusher:ping","data":{}}"#),
            Ok(ClientFrame::Ping)
        );
        assert_eq!(
            parse(r#"{"event":"pusher:pong","data":{}}"#),
            Ok(ClientFrame::Pong)
        );
        let f = parse(
            r#"{"event":"pusher:subscribe","data":{"auth":"k:s","channel_data":"{\"user_id\": 10}","channel":"presence-room"}}"#,
        )
        .unwrap();
        assert_eq!(
            f,
            ClientFrame::Subscribe(Subscribe {
                channel: "presence-room".into(),
                auth: Some("k:s".into()),
                channel_data: Some("{\"user_id\": 10}".into()),
            })
        );
        assert_eq!(
            parse(r#"{"event":"pusher:unsubscribe","data":{"channel":"a"}}"#),
            Ok(ClientFrame::Unsubscribe {
                channel: "a".into()
            })
        );
    }

    #[test]
    fn double_encoded_data_is_accepted() {
        let f = parse(r#"{"event":"pusher:subscribe","data":"{\"channel\":\"news\"}"}"#).unwrap();
        assert!(matches!(f, ClientFrame::Subscribe(s) if s.channel == "news" && s.auth.is_none()));
    }

    #[test]
    fn client_event_data_becomes_a_string() {
        let f = parse(r#"{"event":"client-typing","data":{"who": "b"},"channel":"private-x"}"#);
        assert_eq!(
            f,
            Ok(ClientFrame::ClientEvent {
                event: "client-typing".into(),
                channel: "private-x".into(),
                data: r#"{"who": "b"}"#.into(),
            })
        );
        let f = parse(r#"{"event":"client-hi","data":"plain string","channel":"presence-r"}"#);
        assert!(matches!(f, Ok(ClientFrame::ClientEvent { data, .. }) if data == "plain string"));
    }

    #[test]
    fn bad_frames() {
        assert_eq!(parse("not json"), Err(FrameError::NotJson));
        assert_eq!(parse("[1,2]"), Err(FrameError::NotJson));
        assert_eq!(parse(r#"{"data":{}}"#), Err(FrameError::MissingEvent));
        assert_eq!(parse(r#"{"event":5}"#), Err(FrameError::MissingEvent));
        assert!(matches!(
            parse(r#"{"event":"pusher:subscribe"}"#),
            Err(FrameError::BadData(_))
        ));
        assert!(matches!(
            parse(r#"{"event":"pusher:subscribe","data":{"channel":7}}"#),
            Err(FrameError::BadData(_))
        ));
        assert!(matches!(
            parse(r#"{"event":"pusher:subscribe","data":"not json"}"#),
            Err(FrameError::BadData(_))
        ));
        assert_eq!(
            parse(r#"{"event":"client-x","data":{}}"#),
            Err(FrameError::MissingChannel)
        );
        assert!(matches!(
            parse(r#"{"event":"pusher:nope"}"#),
            Err(FrameError::UnknownEvent(_))
        ));
        assert!(matches!(
            parse(r#"{"event":"pusher_internal:subscription_succeeded"}"#),
            Err(FrameError::UnknownEvent(_))
        ));
        assert!(matches!(
            parse(r#"{"event":"hello"}"#),
            Err(FrameError::BadEventName(_))
        ));
    }
}
