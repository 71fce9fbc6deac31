//! Bodies of the HTTP REST API (PROTOCOL.md §5.2), shared by the server and the client.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// `POST /apps/{id}/events`.
///
/// `channel` (one name, as pusher-http-php sends it) and `channels` are both accepted.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TriggerBody {
    /// The event name.
    pub name: String,
    /// The event's data, relayed byte for byte. A non-string value sent by a client is turned
    /// into its JSON text.
    #[serde(deserialize_with = "data_as_string")]
    pub data: String,
    /// The channels, 1 to 100.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channels: Option<Vec<String>>,
    /// A single channel.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channel: Option<String>,
    /// A connection that must not receive the event.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub socket_id: Option<String>,
    /// `user_count` and/or `subscription_count`, comma-separated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub info: Option<String>,
}

/// One entry of `POST /apps/{id}/batch_events`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BatchEvent {
    /// The channel.
    pub channel: String,
    /// The event name.
    pub name: String,
    /// The event's data.
    #[serde(deserialize_with = "data_as_string")]
    pub data: String,
    /// A connection that must not receive the event.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub socket_id: Option<String>,
    /// `user_count` and/or `subscription_count`, comma-separated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub info: Option<String>,
}

/// `POST /apps/{id}/batch_events`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BatchBody {
    /// Up to 10 events.
    pub batch: Vec<BatchEvent>,
}

/// Attributes of one channel, as the REST API reports them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChannelAttributes {
    /// Distinct users (presence channels only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_count: Option<u64>,
    /// Subscribed connections (not presence channels).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subscription_count: Option<u64>,
}

/// Reply to a trigger that asked for `info`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TriggerReply {
    /// Attributes per channel; empty without `info`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub channels: BTreeMap<String, ChannelAttributes>,
}

/// Reply to `POST /apps/{id}/batch_events`.
///
/// Entry `i` holds the attributes asked for by request entry `i` (`{}` when that entry had no
/// `info`); the list is empty, and left out, when no entry asked for any.
///
/// ```
/// use pusherable_protocol::rest::BatchReply;
/// let r: BatchReply = serde_json::from_str(r#"{"batch":[{"subscription_count":3},{}]}"#).unwrap();
/// assert_eq!(r.batch[0].subscription_count, Some(3));
/// assert_eq!(serde_json::to_string(&BatchReply::default()).unwrap(), "{}");
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BatchReply {
    /// Attributes per request entry, in request order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub batch: Vec<ChannelAttributes>,
}

/// Reply to `GET /apps/{id}/channels`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChannelsReply {
    /// Occupied channels with the attributes asked for.
    pub channels: BTreeMap<String, ChannelAttributes>,
}

/// The cached event of a cache channel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CachedEvent {
    /// The data of the last event.
    pub data: String,
    /// Seconds until it expires.
    pub ttl: u64,
}

/// Reply to `GET /apps/{id}/channels/{name}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChannelReply {
    /// True while the channel has at least one subscriber.
    pub occupied: bool,
    /// Distinct users, when asked for on a presence channel.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_count: Option<u64>,
    /// Subscribed connections, when asked for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subscription_count: Option<u64>,
    /// The cached event, when asked for on a cache channel (`null` when empty).
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    pub cache: Option<Option<CachedEvent>>,
}

/// One user of a presence channel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    /// The user id, as a string.
    pub id: String,
}

/// Reply to `GET /apps/{id}/channels/{name}/users`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct UsersReply {
    /// The distinct users.
    pub users: Vec<User>,
}

/// The error body of every non-2xx answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    /// What went wrong, for a person.
    pub error: String,
    /// The HTTP status, repeated.
    pub code: u16,
}

/// A field that is there, even as `null`: serde reads `null` into an `Option<Option<T>>` as
/// the outer `None`, the same as an absent field, and `"cache": null` (asked for, nothing
/// cached) would read as "not asked for".
fn present<'de, D: serde::Deserializer<'de>, T: Deserialize<'de>>(
    d: D,
) -> Result<Option<T>, D::Error> {
    T::deserialize(d).map(Some)
}

fn data_as_string<'de, D: serde::Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    let v = serde_json::Value::deserialize(d)?;
    Ok(match v {
        serde_json::Value::String(s) => s,
        other => other.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trigger_body_takes_both_shapes() {
        let b: TriggerBody = serde_json::from_str(
            r#"{"name": "foo", "channels": ["project-3"], "data": "{\"some\": \"data\"}"}"#,
        )
        .unwrap();
        assert_eq!(b.channels.as_deref(), Some(&["project-3".to_owned()][..]));
        assert_eq!(b.data, r#"{"some": "data"}"#);
        let b: TriggerBody =
            serde_json::from_str(r#"{"name":"e","channel":"c","data":{"a":1}}"#).unwrap();
        assert_eq!(b.channel.as_deref(), Some("c"));
        assert_eq!(b.data, r#"{"a":1}"#);
    }

    #[test]
    fn channel_reply_shapes() {
        let r = ChannelReply {
            occupied: true,
            cache: Some(None),
            ..Default::default()
        };
        assert_eq!(
            serde_json::to_string(&r).unwrap(),
            r#"{"occupied":true,"cache":null}"#
        );
        assert_eq!(
            serde_json::to_string(&TriggerReply::default()).unwrap(),
            "{}"
        );
    }

    #[test]
    fn an_empty_cache_reads_back_as_empty() {
        let check = |text: &str, cache: Option<Option<CachedEvent>>| {
            let reply: ChannelReply = serde_json::from_str(text).unwrap();
            assert_eq!(reply.cache, cache, "{text}");
            let written = serde_json::to_string(&reply).unwrap();
            assert_eq!(
                serde_json::from_str::<ChannelReply>(&written).unwrap(),
                reply
            );
        };
        check(
            r#"{"occupied":true,"subscription_count":2436013240857949621,"cache":null}"#,
            Some(None),
        );
        check(r#"{"occupied":false}"#, None);
        check(
            r#"{"occupied":true,"cache":{"data":"{}","ttl":1800}}"#,
            Some(Some(CachedEvent {
                data: "{}".into(),
                ttl: 1800,
            })),
        );
    }

    #[test]
    fn batch_reply_keeps_request_order() {
        let r: BatchReply = serde_json::from_str(
            r#"{"batch":[{"user_count":42,"subscription_count":51},{},{"subscription_count":13}]}"#,
        )
        .unwrap();
        assert_eq!(r.batch.len(), 3);
        assert_eq!(r.batch[0].user_count, Some(42));
        assert_eq!(r.batch[1], ChannelAttributes::default());
        assert_eq!(r.batch[2].subscription_count, Some(13));
        let empty: BatchReply = serde_json::from_str("{}").unwrap();
        assert!(empty.batch.is_empty());
    }
}
