//! Public, private and presence channels, and client events (PROTOCOL.md §2.2–§2.4).
#![allow(clippy::unwrap_used)]

use pusherable_test_support::*;
use serde_json::json;

#[tokio::test]
async fn public_channel_gets_rest_events_byte_for_byte() {
    let s = start(config()).await;
    let mut c = Socket::connect(s.local_addr()).await;
    assert_eq!(
        c.subscribe("news").await,
        json!({"event":"pusher_internal:subscription_succeeded","channel":"news","data":"{}"})
    );
    let payload = r#"{"some": "data", "n":[1, 2]}"#;
    let (status, body) = trigger(s.local_addr(), &["news"], "story", payload).await;
    assert_eq!((status, body), (200, json!({})));
    assert_eq!(
        c.recv().await,
        json!({"event":"story","channel":"news","data":payload})
    );
}

#[tokio::test]
async fn subscribe_and_unsubscribe_are_idempotent() {
    let s = start(config()).await;
    let mut c = Socket::connect(s.local_addr()).await;
    c.subscribe("news").await;
    assert_eq!(
        c.subscribe("news").await["event"],
        "pusher_internal:subscription_succeeded"
    );
    c.send(json!({"event":"pusher:unsubscribe","data":{"channel":"news"}}))
        .await;
    c.send(json!({"event":"pusher:unsubscribe","data":{"channel":"news"}}))
        .await;
    c.send(json!({"event":"pusher:unsubscribe","data":{"channel":"never-joined"}}))
        .await;
    c.round_trip().await;
    trigger(s.local_addr(), &["news"], "story", "x").await;
    c.subscribe("marker").await;
    trigger(s.local_addr(), &["marker"], "m", "x").await;
    // The event on `news` never came: the next frame is the marker.
    assert_eq!(c.recv().await["channel"], "marker");
}

#[tokio::test]
async fn private_channel_checks_the_signature() {
    let s = start(config()).await;
    let mut c = Socket::connect(s.local_addr()).await;
    assert_eq!(
        c.subscribe("private-a").await["event"],
        "pusher_internal:subscription_succeeded"
    );

    // No auth, wrong key, wrong signature, signature for another socket.
    for auth in [
        json!(""),
        json!(format!("wrongkey:{}", "0".repeat(64))),
        json!(format!("{KEY}:{}", "0".repeat(64))),
        json!(pusherable_protocol::sign::channel_auth(
            KEY,
            SECRET,
            "1.1",
            "private-b",
            None
        )),
    ] {
        c.send(json!({"event":"pusher:subscribe","data":{"auth":auth,"channel":"private-b"}}))
            .await;
        let err = c.recv().await;
        assert_eq!(err["event"], "pusher:subscription_error", "{err}");
        assert_eq!(err["channel"], "private-b");
        assert_eq!(err["data"]["type"], "AuthError");
        assert_eq!(err["data"]["status"], 401);
    }
    // Not subscribed: an event there does not arrive, and the socket still works.
    trigger(s.local_addr(), &["private-b", "private-a"], "e", "x").await;
    assert_eq!(c.recv().await["channel"], "private-a");
}

#[tokio::test]
async fn private_channel_with_channel_data_signs_it_too() {
    let s = start(config()).await;
    let mut c = Socket::connect(s.local_addr()).await;
    let cd = r#"{"user_id": 7}"#;
    assert_eq!(
        c.request_subscription("private-x", Some(cd)).await["event"],
        "pusher_internal:subscription_succeeded"
    );
    // A signature over the channel alone does not cover the data sent with it.
    let auth =
        pusherable_protocol::sign::channel_auth(KEY, SECRET, &c.socket_id, "private-y", None);
    c.send(json!({"event":"pusher:subscribe","data":{"auth":auth,"channel":"private-y","channel_data":cd}})).await;
    assert_eq!(c.recv().await["event"], "pusher:subscription_error");
}

#[tokio::test]
async fn encrypted_channel_is_authorized_like_private_and_passes_data_through() {
    let s = start(config()).await;
    let mut c = Socket::connect(s.local_addr()).await;
    assert_eq!(
        c.subscribe("private-encrypted-x").await["event"],
        "pusher_internal:subscription_succeeded"
    );
    let sealed = r#"{"nonce":"AAAA","ciphertext":"BBBB"}"#;
    trigger(s.local_addr(), &["private-encrypted-x"], "e", sealed).await;
    assert_eq!(c.recv().await["data"], sealed);
    let (status, _) = trigger(
        s.local_addr(),
        &["private-encrypted-x", "news"],
        "e",
        sealed,
    )
    .await;
    assert_eq!(status, 400, "several channels with an encrypted one");
}

#[tokio::test]
async fn bad_channel_names_are_refused_on_the_channel() {
    let s = start(config()).await;
    let mut c = Socket::connect(s.local_addr()).await;
    for name in [
        "has space",
        "#secret",
        &"a".repeat(165),
        "#server-to-user-1",
    ] {
        let err = c.request_subscription(name, None).await;
        assert_eq!(err["event"], "pusher:subscription_error", "{name}: {err}");
        assert_eq!(err["channel"], name);
    }
}

#[tokio::test]
async fn presence_members_first_and_last_connection_rules() {
    let s = start(config()).await;
    let addr = s.local_addr();
    let mut alice1 = Socket::connect(addr).await;
    let ok = alice1.join("presence-room", "alice", "Alice").await;
    assert_eq!(ok["event"], "pusher_internal:subscription_succeeded");
    assert_eq!(
        data(&ok),
        json!({"presence":{"ids":["alice"],"hash":{"alice":{"name":"Alice"}},"count":1}})
    );

    let mut bob = Socket::connect(addr).await;
    let ok = bob.join("presence-room", "bob", "Bob").await;
    let list = data(&ok);
    assert_eq!(list["presence"]["count"], 2);
    assert_eq!(list["presence"]["hash"]["alice"], json!({"name":"Alice"}));
    let added = alice1.recv().await;
    assert_eq!(added["event"], "pusher_internal:member_added");
    assert_eq!(
        data(&added),
        json!({"user_id":"bob","user_info":{"name":"Bob"}})
    );

    // Alice's second tab: no member_added for Bob, count stays 2.
    let mut alice2 = Socket::connect(addr).await;
    assert_eq!(
        data(&alice2.join("presence-room", "alice", "Alice").await)["presence"]["count"],
        2
    );
    let (_, users) = rest(
        addr,
        "GET",
        &format!("/apps/{ID}/channels/presence-room/users"),
        None,
        &[],
    )
    .await;
    let mut ids: Vec<String> = users["users"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["id"].as_str().unwrap().to_owned())
        .collect();
    ids.sort();
    assert_eq!(ids, ["alice", "bob"]);

    // Closing one of Alice's tabs removes nobody; closing the last one removes her.
    drop(alice1);
    alice2.round_trip().await;
    drop(alice2);
    let removed = bob.recv().await;
    assert_eq!(
        removed["event"], "pusher_internal:member_removed",
        "{removed}"
    );
    assert_eq!(data(&removed), json!({"user_id":"alice"}));
}

#[tokio::test]
async fn presence_accepts_numeric_ids_and_spaced_json() {
    let s = start(config()).await;
    let mut c = Socket::connect(s.local_addr()).await;
    // The PyPI library's spacing: verified as received, never re-serialized.
    let cd = r#"{"user_id": 10, "user_info": {"name": "Mr. Channels"}}"#;
    let ok = c.request_subscription("presence-foobar", Some(cd)).await;
    assert_eq!(data(&ok)["presence"]["ids"], json!(["10"]));
}

#[tokio::test]
async fn presence_limits() {
    let s = start(config()).await;
    let mut c = Socket::connect(s.local_addr()).await;
    let big = json!({"user_id":"u","user_info":{"bio":"x".repeat(1100)}}).to_string();
    let err = c.request_subscription("presence-a", Some(&big)).await;
    assert_eq!(err["data"]["type"], "LimitReached", "{err}");
    let long_id = json!({"user_id":"u".repeat(129)}).to_string();
    assert_eq!(
        c.request_subscription("presence-a", Some(&long_id)).await["data"]["type"],
        "LimitReached"
    );
    let missing = c.request_subscription("presence-a", None).await;
    assert_eq!(missing["event"], "pusher:subscription_error");

    // The 101st distinct user is turned away; the 100 others stay.
    let mut clients = Vec::new();
    for i in 0..100 {
        let mut m = Socket::connect(s.local_addr()).await;
        let ok = m.join("presence-full", &format!("u{i}"), "x").await;
        assert_eq!(ok["event"], "pusher_internal:subscription_succeeded");
        clients.push(m);
    }
    let err = c
        .request_subscription("presence-full", Some(&member("late", "x")))
        .await;
    assert_eq!(err["data"]["type"], "LimitReached", "{err}");
    let (_, info) = rest(
        s.local_addr(),
        "GET",
        &format!("/apps/{ID}/channels/presence-full"),
        None,
        &[("info", "user_count")],
    )
    .await;
    assert_eq!(info["user_count"], 100);
}

#[tokio::test]
async fn client_events_rules() {
    let s = start(config()).await;
    let addr = s.local_addr();
    let mut a = Socket::connect(addr).await;
    let mut b = Socket::connect(addr).await;
    a.subscribe("private-chat").await;
    b.subscribe("private-chat").await;

    a.send(json!({"event":"client-typing","channel":"private-chat","data":{"who":"a"}}))
        .await;
    assert_eq!(
        b.recv().await,
        json!({"event":"client-typing","channel":"private-chat","data":"{\"who\":\"a\"}"})
    );
    // Never echoed: A's next frame is the answer to its ping.
    a.round_trip().await;

    // Presence: the sender's user id rides along.
    a.join("presence-r", "ua", "A").await;
    b.join("presence-r", "ub", "B").await;
    a.skip_to("pusher_internal:member_added").await;
    a.send(json!({"event":"client-hi","channel":"presence-r","data":"plain"}))
        .await;
    assert_eq!(
        b.recv().await,
        json!({"event":"client-hi","channel":"presence-r","data":"plain","user_id":"ua"})
    );

    // Refusals, each a 4301 message on an open socket.
    a.subscribe("public").await;
    for (frame, why) in [
        (
            json!({"event":"client-x","channel":"public","data":{}}),
            "public channel",
        ),
        (
            json!({"event":"client-x","channel":"private-other","data":{}}),
            "not subscribed",
        ),
        (
            json!({"event":"client-x","channel":"private-chat","data":"x".repeat(10 * 1024 + 1)}),
            "too large",
        ),
    ] {
        a.send(frame).await;
        let err = a.recv().await;
        assert_eq!(err["event"], "pusher:error", "{why}");
        assert_eq!(err["data"]["code"], 4301, "{why}");
    }
    a.round_trip().await;
}

#[tokio::test]
async fn client_event_rate_limit_keeps_the_socket() {
    let s = start(config()).await;
    let mut a = Socket::connect(s.local_addr()).await;
    let mut b = Socket::connect(s.local_addr()).await;
    a.subscribe("private-r").await;
    b.subscribe("private-r").await;
    for i in 0..15 {
        a.send(json!({"event":"client-n","channel":"private-r","data":{"i":i}}))
            .await;
    }
    let mut rejected = 0;
    for _ in 0..5 {
        let err = a.recv().await;
        assert_eq!(err["data"]["code"], 4301);
        rejected += 1;
    }
    assert_eq!(rejected, 5);
    for i in 0..10 {
        assert_eq!(b.recv().await["data"], format!("{{\"i\":{i}}}"));
    }
    a.round_trip().await;
}

#[tokio::test]
async fn client_events_can_be_switched_off() {
    let mut cfg = config();
    cfg.apps[0].client_events = false;
    let s = start(cfg).await;
    let mut a = Socket::connect(s.local_addr()).await;
    a.subscribe("private-r").await;
    a.send(json!({"event":"client-n","channel":"private-r","data":{}}))
        .await;
    assert_eq!(a.recv().await["data"]["code"], 4301);
}

#[tokio::test]
async fn subscriptions_per_connection_are_capped() {
    let mut cfg = config();
    cfg.max_subscriptions_per_connection = 3;
    let s = start(cfg).await;
    let mut c = Socket::connect(s.local_addr()).await;
    for i in 0..3 {
        assert_eq!(
            c.subscribe(&format!("c{i}")).await["event"],
            "pusher_internal:subscription_succeeded"
        );
    }
    let err = c.request_subscription("c3", None).await;
    assert_eq!(err["data"]["type"], "LimitReached", "{err}");
    // Subscribing again to a joined channel is still fine, and leaving makes room.
    assert_eq!(
        c.subscribe("c0").await["event"],
        "pusher_internal:subscription_succeeded"
    );
    c.send(json!({"event":"pusher:unsubscribe","data":{"channel":"c0"}}))
        .await;
    assert_eq!(
        c.subscribe("c3").await["event"],
        "pusher_internal:subscription_succeeded"
    );
}
