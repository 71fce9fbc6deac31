//! Frames: what a client sends (`frame::parse`) and what the server writes (`outbound`).

use pusherable_protocol::client;
use pusherable_protocol::frame::{parse, ClientFrame};
use pusherable_protocol::outbound::{self, push_json_str, SubscriptionErrorKind};
use pusherable_protocol::SocketId;
use serde_json::{json, Value};

use crate::{fields, text};

/// Any text a client sends is parsed without panicking; a frame that parses reads back the
/// same once written out again by `client` (and with the `data` of `pusher:` events
/// double-encoded, as some clients send it), and a client event reaches the other subscribers
/// unchanged.
pub fn frame(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(parsed) = parse(text) else {
        return;
    };
    let again = write(&parsed);
    assert_eq!(parse(&again).as_ref(), Ok(&parsed), "written as {again}");
    let again = encode(&parsed, true);
    assert_eq!(parse(&again).as_ref(), Ok(&parsed), "written as {again}");
    if let ClientFrame::ClientEvent {
        event,
        channel,
        data,
    } = &parsed
    {
        let relayed = outbound::channel_event(channel, event, data, Some("u"));
        assert_eq!(
            read(&relayed),
            json!({"event": event, "channel": channel, "data": data, "user_id": "u"})
        );
    }
}

/// A frame as pusherable's own clients write it.
fn write(frame: &ClientFrame) -> String {
    match frame {
        ClientFrame::Ping => client::ping().to_owned(),
        ClientFrame::Pong => client::pong().to_owned(),
        ClientFrame::Subscribe(s) => {
            client::subscribe(&s.channel, s.auth.as_deref(), s.channel_data.as_deref())
        }
        ClientFrame::Unsubscribe { channel } => client::unsubscribe(channel),
        ClientFrame::Signin { auth, user_data } => client::signin(auth, user_data),
        ClientFrame::ClientEvent {
            event,
            channel,
            data,
        } => client::client_event(channel, event, data),
    }
}

/// A frame as another client could send it, built as JSON; `double` puts the `data` of
/// `pusher:` events in a JSON string.
fn encode(frame: &ClientFrame, double: bool) -> String {
    let pusher = |event: &str, data: Value| {
        let data = if double {
            Value::String(data.to_string())
        } else {
            data
        };
        json!({ "event": event, "data": data })
    };
    let value = match frame {
        ClientFrame::Ping => pusher("pusher:ping", json!({})),
        ClientFrame::Pong => pusher("pusher:pong", json!({})),
        ClientFrame::Subscribe(s) => {
            let mut data = json!({ "channel": s.channel });
            if let Some(auth) = &s.auth {
                data["auth"] = auth.as_str().into();
            }
            if let Some(channel_data) = &s.channel_data {
                data["channel_data"] = channel_data.as_str().into();
            }
            pusher("pusher:subscribe", data)
        }
        ClientFrame::Unsubscribe { channel } => {
            pusher("pusher:unsubscribe", json!({ "channel": channel }))
        }
        ClientFrame::Signin { auth, user_data } => pusher(
            "pusher:signin",
            json!({ "auth": auth, "user_data": user_data }),
        ),
        ClientFrame::ClientEvent {
            event,
            channel,
            data,
        } => json!({ "event": event, "channel": channel, "data": data }),
    };
    value.to_string()
}

/// Every server → client frame built from arbitrary strings is JSON that carries them
/// unchanged. Fields, one a line: event, channel, data, user id, then a message.
pub fn outbound(data: &[u8]) {
    let [event, channel, payload, user, message] = fields::<5>(data).map(text);
    for s in [&event, &channel, &payload, &user, &message] {
        let mut out = String::new();
        push_json_str(&mut out, s);
        assert_eq!(
            serde_json::from_str::<String>(&out).ok().as_ref(),
            Some(s),
            "escaped as {out}"
        );
    }
    assert_eq!(
        read(&outbound::channel_event(
            &channel,
            &event,
            &payload,
            Some(&user)
        )),
        json!({"event": event, "channel": channel, "data": payload, "user_id": user})
    );
    assert_eq!(
        read(&outbound::channel_event(&channel, &event, &payload, None)),
        json!({"event": event, "channel": channel, "data": payload})
    );
    assert_eq!(
        read(&outbound::subscription_succeeded(&channel)),
        json!({"event": "pusher_internal:subscription_succeeded", "channel": channel, "data": "{}"})
    );
    assert_eq!(
        inner(&outbound::member_removed(&channel, &user)),
        json!({ "user_id": user })
    );
    assert_eq!(
        read(&outbound::error(Some(4200), &message)),
        json!({"event": "pusher:error", "data": {"message": message, "code": 4200}})
    );
    assert_eq!(
        read(&outbound::subscription_error(
            &channel,
            SubscriptionErrorKind::LimitReached,
            &message,
            413
        )),
        json!({
            "event": "pusher:subscription_error",
            "channel": channel,
            "data": {"type": "LimitReached", "error": message, "status": 413},
        })
    );
    assert_eq!(
        read(&outbound::signin_success(&payload)),
        json!({"event": "pusher:signin_success", "data": {"user_data": payload}})
    );
    assert_eq!(
        read(&outbound::cache_miss(&channel)),
        json!({"event": "pusher:cache_miss", "channel": channel, "data": "{}"})
    );
    let count = message.len();
    assert_eq!(
        inner(&outbound::subscription_count(&channel, count)),
        json!({ "subscription_count": count })
    );
    let ids = [user.clone(), event.clone()];
    assert_eq!(
        inner(&outbound::watchlist_events(
            [("online", &ids[..]), ("offline", &ids[..1])].into_iter()
        )),
        json!({"events": [
            {"name": "online", "user_ids": [user, event]},
            {"name": "offline", "user_ids": [user]},
        ]})
    );
    let id = SocketId::from_parts(count as u64, u64::from(u32::MAX));
    assert_eq!(
        inner(&outbound::connection_established(&id, 120)),
        json!({"socket_id": id.as_str(), "activity_timeout": 120})
    );
    // `user_info` is copied in as it is, so it must already be JSON (the server checks it
    // when a member subscribes).
    if let Ok(info) = serde_json::from_str::<Value>(&payload) {
        assert_eq!(
            inner(&outbound::member_added(&channel, &user, &payload)),
            json!({ "user_id": user, "user_info": info })
        );
        let members = [(user.as_str(), payload.as_str()), ("other", "null")];
        let presence = inner(&outbound::presence_succeeded(
            &channel,
            members.iter().copied(),
        ));
        assert_eq!(presence["presence"]["ids"], json!([user, "other"]));
        assert_eq!(presence["presence"]["count"], json!(2));
        // Two members with one id make one key; the server never lists a user twice.
        if user != "other" {
            assert_eq!(
                presence["presence"]["hash"],
                json!({ user.as_str(): info, "other": null })
            );
        }
    }
}

/// `text` as JSON, or a panic that shows it.
fn read(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("{text:?} is not JSON: {e}"))
}

/// The `data` of a frame whose data is a JSON string holding JSON, read twice.
fn inner(frame: &str) -> Value {
    let outer = read(frame);
    let data = outer["data"]
        .as_str()
        .unwrap_or_else(|| panic!("{frame:?} has no string data"));
    read(data)
}
