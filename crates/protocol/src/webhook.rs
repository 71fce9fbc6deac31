//! Webhook bodies (PROTOCOL.md §6): what the server posts to an app, and what the app reads.
//!
//! The body is `{"time_ms":…,"events":[…]}`; each event is an object named by `name`, with the
//! members its kind documents. The server writes them with [`Webhook`]'s `Serialize` and signs
//! the bytes it sends; a receiver checks that signature over the bytes it received
//! ([`sign::verify_webhook_signature`](crate::sign::verify_webhook_signature)) and only then
//! reads them with `Deserialize`.
//!
//! Reading is lenient where senders differ: a user id may come as a number, and client-event
//! data as an object; both are kept as the text they stand for. An event of a kind this
//! version does not know is kept whole as [`WebhookEvent::Other`].

use serde::{
    de::Error as _, ser::SerializeMap as _, Deserialize, Deserializer, Serialize, Serializer,
};
use serde_json::Value;

/// One webhook request's body.
///
/// ```
/// use pusherable_protocol::webhook::{Webhook, WebhookEvent};
/// let body = r#"{"time_ms":1353088179000,"events":[{"name":"channel_occupied","channel":"test-channel"}]}"#;
/// let hook: Webhook = serde_json::from_str(body)?;
/// assert_eq!(hook.events, [WebhookEvent::ChannelOccupied { channel: "test-channel".into() }]);
/// assert_eq!(serde_json::to_string(&hook)?, body);
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Webhook {
    /// When the server made the request, in Unix milliseconds; receivers refuse a stale one.
    pub time_ms: u64,
    /// The events, in the order they happened; one unless the app batches webhooks.
    pub events: Vec<WebhookEvent>,
}

/// One event of a webhook.
///
/// ```
/// use pusherable_protocol::webhook::WebhookEvent;
/// let event = WebhookEvent::MemberAdded { channel: "presence-room".into(), user_id: "42".into() };
/// assert_eq!(event.name(), "member_added");
/// assert_eq!(
///     serde_json::to_string(&event)?,
///     r#"{"name":"member_added","channel":"presence-room","user_id":"42"}"#
/// );
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum WebhookEvent {
    /// The channel got its first subscriber.
    ChannelOccupied {
        /// The channel.
        channel: String,
    },
    /// The channel lost its last subscriber.
    ChannelVacated {
        /// The channel.
        channel: String,
    },
    /// A user's first connection joined a presence channel.
    MemberAdded {
        /// The channel.
        channel: String,
        /// The member's user id.
        user_id: String,
    },
    /// A user's last connection left a presence channel.
    MemberRemoved {
        /// The channel.
        channel: String,
        /// The member's user id.
        user_id: String,
    },
    /// A client sent a `client-` event.
    ClientEvent {
        /// The channel.
        channel: String,
        /// The event name.
        event: String,
        /// The event data as text.
        data: String,
        /// The sender's connection.
        socket_id: String,
        /// The sender's user id, on presence channels.
        user_id: Option<String>,
    },
    /// A connection subscribed to an empty cache channel.
    CacheMiss {
        /// The channel.
        channel: String,
    },
    /// The number of connections on a channel changed.
    SubscriptionCount {
        /// The channel.
        channel: String,
        /// Connections now subscribed.
        subscription_count: u64,
    },
    /// An event this version does not know, kept whole.
    Other {
        /// Its `name`.
        name: String,
        /// The whole event object.
        event: Value,
    },
}

impl WebhookEvent {
    /// The event's `name` on the wire, such as `channel_occupied`.
    ///
    /// ```
    /// use pusherable_protocol::webhook::WebhookEvent;
    /// assert_eq!(WebhookEvent::CacheMiss { channel: "cache-a".into() }.name(), "cache_miss");
    /// ```
    pub fn name(&self) -> &str {
        match self {
            Self::ChannelOccupied { .. } => "channel_occupied",
            Self::ChannelVacated { .. } => "channel_vacated",
            Self::MemberAdded { .. } => "member_added",
            Self::MemberRemoved { .. } => "member_removed",
            Self::ClientEvent { .. } => "client_event",
            Self::CacheMiss { .. } => "cache_miss",
            Self::SubscriptionCount { .. } => "subscription_count",
            Self::Other { name, .. } => name,
        }
    }

    /// The channel the event is about; every documented event has one.
    ///
    /// ```
    /// use pusherable_protocol::webhook::WebhookEvent;
    /// let event = WebhookEvent::ChannelVacated { channel: "news".into() };
    /// assert_eq!(event.channel(), Some("news"));
    /// ```
    pub fn channel(&self) -> Option<&str> {
        match self {
            Self::ChannelOccupied { channel }
            | Self::ChannelVacated { channel }
            | Self::MemberAdded { channel, .. }
            | Self::MemberRemoved { channel, .. }
            | Self::ClientEvent { channel, .. }
            | Self::CacheMiss { channel }
            | Self::SubscriptionCount { channel, .. } => Some(channel),
            Self::Other { event, .. } => event.get("channel").and_then(Value::as_str),
        }
    }
}

/// Each event is written with its members in the order the server has always written them:
/// `name`, `channel`, then the kind's own.
impl Serialize for WebhookEvent {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        if let Self::Other { event, .. } = self {
            return event.serialize(serializer);
        }
        let mut map = serializer.serialize_map(None)?;
        map.serialize_entry("name", self.name())?;
        // Every kind but `Other` has one.
        map.serialize_entry("channel", &self.channel())?;
        match self {
            Self::MemberAdded { user_id, .. } | Self::MemberRemoved { user_id, .. } => {
                map.serialize_entry("user_id", user_id)?;
            }
            Self::ClientEvent {
                event,
                data,
                socket_id,
                user_id,
                ..
            } => {
                if let Some(user_id) = user_id {
                    map.serialize_entry("user_id", user_id)?;
                }
                map.serialize_entry("event", event)?;
                map.serialize_entry("data", data)?;
                map.serialize_entry("socket_id", socket_id)?;
            }
            Self::SubscriptionCount {
                subscription_count, ..
            } => map.serialize_entry("subscription_count", subscription_count)?,
            _ => {}
        }
        map.end()
    }
}

impl<'de> Deserialize<'de> for WebhookEvent {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let event = Value::deserialize(deserializer)?;
        let member = |key: &'static str| text(&event, key).ok_or_else(|| missing::<D>(key));
        let name = member("name")?;
        let channel = || member("channel");
        Ok(match name.as_str() {
            "channel_occupied" => Self::ChannelOccupied {
                channel: channel()?,
            },
            "channel_vacated" => Self::ChannelVacated {
                channel: channel()?,
            },
            "member_added" => Self::MemberAdded {
                channel: channel()?,
                user_id: member("user_id")?,
            },
            "member_removed" => Self::MemberRemoved {
                channel: channel()?,
                user_id: member("user_id")?,
            },
            "client_event" => Self::ClientEvent {
                channel: channel()?,
                event: member("event")?,
                data: member("data")?,
                socket_id: member("socket_id")?,
                user_id: event.get("user_id").map(as_text),
            },
            "cache_miss" => Self::CacheMiss {
                channel: channel()?,
            },
            "subscription_count" => Self::SubscriptionCount {
                channel: channel()?,
                subscription_count: event
                    .get("subscription_count")
                    .and_then(Value::as_u64)
                    .ok_or_else(|| missing::<D>("subscription_count"))?,
            },
            _ => Self::Other { name, event },
        })
    }
}

/// A member as text, when it is present and not `null`.
fn text(event: &Value, key: &str) -> Option<String> {
    match event.get(key) {
        Some(Value::Null) | None => None,
        Some(v) => Some(as_text(v)),
    }
}

fn as_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn missing<'de, D: Deserializer<'de>>(key: &str) -> D::Error {
    D::Error::custom(format!("event without {key}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn every_kind() -> Vec<WebhookEvent> {
        use WebhookEvent::*;
        vec![
            ChannelOccupied {
                channel: "a".into(),
            },
            ChannelVacated {
                channel: "a".into(),
            },
            MemberAdded {
                channel: "presence-r".into(),
                user_id: "42".into(),
            },
            MemberRemoved {
                channel: "presence-r".into(),
                user_id: "4\"2".into(),
            },
            ClientEvent {
                channel: "private-c".into(),
                event: "client-x".into(),
                data: r#"{"a":1}"#.into(),
                socket_id: "1.2".into(),
                user_id: None,
            },
            ClientEvent {
                channel: "presence-r".into(),
                event: "client-y".into(),
                data: "plain\ntext".into(),
                socket_id: "1.3".into(),
                user_id: Some("42".into()),
            },
            CacheMiss {
                channel: "cache-z".into(),
            },
            SubscriptionCount {
                channel: "a".into(),
                subscription_count: 3,
            },
        ]
    }

    #[test]
    fn the_documented_vector_is_written_byte_for_byte() {
        let hook = Webhook {
            time_ms: 1_353_088_179_000,
            events: vec![WebhookEvent::ChannelOccupied {
                channel: "test-channel".into(),
            }],
        };
        let body = serde_json::to_string(&hook).unwrap();
        assert_eq!(
            body,
            r#"{"time_ms":1353088179000,"events":[{"name":"channel_occupied","channel":"test-channel"}]}"#
        );
        assert_eq!(
            crate::sign::webhook_signature("7ad3773142a6692b25b8", body.as_bytes()),
            "a75991c70411687368415522e804927a17c0ebd911b016382031c6dc5ab30b0d"
        );
    }

    #[test]
    fn members_are_named_and_ordered_as_on_the_wire() {
        let written: Vec<String> = every_kind()
            .iter()
            .map(|e| serde_json::to_string(e).unwrap())
            .collect();
        assert_eq!(
            written,
            [
                r#"{"name":"channel_occupied","channel":"a"}"#,
                r#"{"name":"channel_vacated","channel":"a"}"#,
                r#"{"name":"member_added","channel":"presence-r","user_id":"42"}"#,
                r#"{"name":"member_removed","channel":"presence-r","user_id":"4\"2"}"#,
                r#"{"name":"client_event","channel":"private-c","event":"client-x","data":"{\"a\":1}","socket_id":"1.2"}"#,
                r#"{"name":"client_event","channel":"presence-r","user_id":"42","event":"client-y","data":"plain\ntext","socket_id":"1.3"}"#,
                r#"{"name":"cache_miss","channel":"cache-z"}"#,
                r#"{"name":"subscription_count","channel":"a","subscription_count":3}"#,
            ]
        );
    }

    #[test]
    fn every_kind_reads_back() {
        let hook = Webhook {
            time_ms: 7,
            events: every_kind(),
        };
        let text = serde_json::to_string(&hook).unwrap();
        assert_eq!(serde_json::from_str::<Webhook>(&text).unwrap(), hook);
        let other: WebhookEvent =
            serde_json::from_str(r#"{"name":"something_new","channel":"a","extra":true}"#).unwrap();
        assert_eq!(other.name(), "something_new");
        assert_eq!(other.channel(), Some("a"));
        // Kept whole: written back with every member it came with.
        let again: Value = serde_json::to_value(&other).unwrap();
        assert_eq!(
            again,
            serde_json::json!({"name": "something_new", "channel": "a", "extra": true})
        );
    }

    #[test]
    fn numbers_and_objects_are_read_as_their_text() {
        let event: WebhookEvent = serde_json::from_str(
            r#"{"name":"client_event","channel":"presence-r","event":"client-y","data":{"b":2},"socket_id":"1.3","user_id":7}"#,
        )
        .unwrap();
        assert_eq!(
            event,
            WebhookEvent::ClientEvent {
                channel: "presence-r".into(),
                event: "client-y".into(),
                data: r#"{"b":2}"#.into(),
                socket_id: "1.3".into(),
                user_id: Some("7".into()),
            }
        );
    }

    #[test]
    fn missing_members_are_refused() {
        for bad in [
            r#"{"channel":"a"}"#,
            r#"{"name":"member_added","channel":"p"}"#,
            r#"{"name":"channel_occupied","channel":null}"#,
            r#"{"name":"subscription_count","channel":"a","subscription_count":"3"}"#,
            r#"{"name":"client_event","channel":"c","event":"client-x","data":"d"}"#,
        ] {
            let e = serde_json::from_str::<WebhookEvent>(bad).unwrap_err();
            assert!(e.to_string().contains("without"), "{bad}: {e}");
        }
    }
}
