//! User sign-in, server-to-user channels, terminate and watchlist (PROTOCOL.md §2.5, §2.6).
#![allow(clippy::unwrap_used)]

use pusherable_test_support::*;
use serde_json::json;

#[tokio::test]
async fn signin_and_server_to_user_channel() {
    let s = start(config()).await;
    let addr = s.local_addr();
    let mut tab1 = Socket::connect(addr).await;
    let mut tab2 = Socket::connect(addr).await;
    let mut other = Socket::connect(addr).await;
    let user_data = r#"{"id": "alice", "user_info": {"name": "Alice"}}"#;
    let ok = tab1.sign_in(user_data).await;
    assert_eq!(
        ok,
        json!({"event":"pusher:signin_success","data":{"user_data":user_data}})
    );
    tab2.sign_in(user_data).await;

    // pusher-js subscribes to its user channel with an empty auth.
    assert_eq!(
        tab1.subscribe("#server-to-user-alice").await["event"],
        "pusher_internal:subscription_succeeded"
    );
    assert_eq!(
        tab2.subscribe("#server-to-user-alice").await["event"],
        "pusher_internal:subscription_succeeded"
    );
    let err = other
        .request_subscription("#server-to-user-alice", None)
        .await;
    assert_eq!(err["event"], "pusher:subscription_error");
    assert_eq!(err["data"]["status"], 403);

    let (st, _) = trigger(addr, &["#server-to-user-alice"], "note", "hi").await;
    assert_eq!(st, 200);
    assert_eq!(tab1.recv().await["data"], "hi");
    assert_eq!(tab2.recv().await["data"], "hi");
}

#[tokio::test]
async fn bad_signin_is_an_error_and_the_socket_stays() {
    let s = start(config()).await;
    let mut c = Socket::connect(s.local_addr()).await;
    c.send(json!({"event":"pusher:signin","data":{"auth":format!("{KEY}:{}", "0".repeat(64)),"user_data":"{\"id\":\"x\"}"}})).await;
    let err = c.recv().await;
    assert_eq!(err["event"], "pusher:error");
    assert_eq!(err["data"]["code"], 4009);
    for bad in [
        r#"{"id": 5}"#,
        r#"{"name": "no id"}"#,
        "not json",
        r#"{"id": "has space"}"#,
    ] {
        assert_eq!(c.sign_in(bad).await["data"]["code"], 4009, "{bad}");
    }
    assert_eq!(
        c.sign_in(r#"{"id":"a"}"#).await["event"],
        "pusher:signin_success"
    );
    assert_eq!(
        c.sign_in(r#"{"id":"b"}"#).await["data"]["code"],
        4009,
        "another user on the same socket"
    );
    c.round_trip().await;
}

#[tokio::test]
async fn signed_in_connection_joins_presence_as_its_user() {
    let s = start(config()).await;
    let mut c = Socket::connect(s.local_addr()).await;
    c.sign_in(r#"{"id":"u-1","user_info":{"name":"N"}}"#).await;
    let ok = c.subscribe("presence-room").await;
    assert_eq!(
        data(&ok),
        json!({"presence":{"ids":["u-1"],"hash":{"u-1":{"name":"N"}},"count":1}})
    );
}

#[tokio::test]
async fn terminate_closes_every_connection_of_the_user_only() {
    let s = start(config()).await;
    let addr = s.local_addr();
    let mut a1 = Socket::connect(addr).await;
    let mut a2 = Socket::connect(addr).await;
    let mut b = Socket::connect(addr).await;
    a1.sign_in(r#"{"id":"alice"}"#).await;
    a2.sign_in(r#"{"id":"alice"}"#).await;
    b.sign_in(r#"{"id":"bob"}"#).await;
    // A presence member who is not signed in as alice is not affected either.
    let mut p = Socket::connect(addr).await;
    p.join("presence-x", "alice", "A").await;

    let (st, body) = rest(
        addr,
        "POST",
        &format!("/apps/{ID}/users/alice/terminate_connections"),
        Some(&json!({})),
        &[],
    )
    .await;
    assert_eq!((st, body), (200, json!({})));
    assert_eq!(a1.close_code().await, Some(4009));
    assert_eq!(a2.close_code().await, Some(4009));
    b.round_trip().await;
    p.round_trip().await;

    // The PyPI library's path, without /apps/{id}.
    let (st, _) = rest(
        addr,
        "POST",
        "/users/bob/terminate_connections",
        Some(&json!({})),
        &[],
    )
    .await;
    assert_eq!(st, 200);
    assert_eq!(b.close_code().await, Some(4009));
}

#[tokio::test]
async fn watchlist_online_and_offline() {
    let s = start(config()).await;
    let addr = s.local_addr();
    let mut watcher = Socket::connect(addr).await;
    let mut bob = Socket::connect(addr).await;
    bob.sign_in(r#"{"id":"bob"}"#).await;
    watcher
        .sign_in(r#"{"id":"w","watchlist":["bob","carol"]}"#)
        .await;
    let first = watcher.recv().await;
    assert_eq!(first["event"], "pusher_internal:watchlist_events");
    assert_eq!(
        data(&first),
        json!({"events":[{"name":"online","user_ids":["bob"]},{"name":"offline","user_ids":["carol"]}]})
    );
    let mut carol = Socket::connect(addr).await;
    carol.sign_in(r#"{"id":"carol"}"#).await;
    assert_eq!(
        data(&watcher.recv().await),
        json!({"events":[{"name":"online","user_ids":["carol"]}]})
    );
    // A second connection of carol changes nothing; closing both makes her offline once.
    let mut carol2 = Socket::connect(addr).await;
    carol2.sign_in(r#"{"id":"carol"}"#).await;
    drop(carol);
    carol2.round_trip().await;
    drop(carol2);
    assert_eq!(
        data(&watcher.recv().await),
        json!({"events":[{"name":"offline","user_ids":["carol"]}]})
    );
}

#[tokio::test]
async fn watchlist_over_100_ids_keeps_the_first_100_and_says_4302() {
    let s = start(config()).await;
    let mut c = Socket::connect(s.local_addr()).await;
    let ids: Vec<String> = (0..105).map(|i| format!("u{i}")).collect();
    let ok = c
        .sign_in(&json!({"id":"w","watchlist":ids}).to_string())
        .await;
    assert_eq!(ok["event"], "pusher:signin_success");
    let statuses = c.recv().await;
    assert_eq!(
        data(&statuses)["events"][0]["user_ids"]
            .as_array()
            .unwrap()
            .len(),
        100
    );
    let err = c.recv().await;
    assert_eq!(err["data"]["code"], 4302);
}

#[tokio::test]
async fn authorized_connections_close_unsigned_sockets_with_4009() {
    let mut cfg = config();
    cfg.apps[0].signin_timeout_secs = Some(1);
    let s = start(cfg).await;
    let mut signed = Socket::connect(s.local_addr()).await;
    signed.sign_in(r#"{"id":"u"}"#).await;
    let mut unsigned = Socket::connect(s.local_addr()).await;
    assert_eq!(unsigned.close_code().await, Some(4009));
    signed.round_trip().await;
}
