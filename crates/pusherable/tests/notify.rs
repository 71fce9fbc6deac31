//! Handlers' notifications over the embedded server, seen by a real WebSocket client.
#![allow(clippy::unwrap_used)]

mod common;

use common::{app, get_as, notification, serve, subscribe_as, Users};
use pusherable::Realtime;
use pusherable_test_support::Socket;
use serde_json::json;

async fn start() -> (Realtime<Users>, std::net::SocketAddr) {
    let realtime = Realtime::embedded(Users).unwrap();
    let addr = serve(app(&realtime)).await;
    (realtime, addr)
}

#[tokio::test]
async fn opening_the_edit_page_tells_the_object_channel_who_and_what() {
    let (realtime, addr) = start().await;
    let key = realtime.backend().key().to_owned();
    let mut bob = Socket::connect_key(addr, &key).await;
    subscribe_as(&mut bob, addr, "bob", "private-article-1").await;

    let res = get_as(addr, "/articles/1/edit", Some("alice")).await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.text().await.unwrap(), "<form>edit</form>");

    let (channel, event, data) = notification(&mut bob).await;
    assert_eq!(channel, "private-article-1");
    assert_eq!(event, "update");
    // django-pusherable's shape; `body` is excluded and `notes` is secret.
    assert_eq!(
        data,
        json!({
            "object": {"id": 1, "title": "Story 1"},
            "user": {"id": "alice", "name": "Alice"},
        })
    );
}

#[tokio::test]
async fn every_event_kind_reaches_the_channel_in_order() {
    let (realtime, addr) = start().await;
    let key = realtime.backend().key().to_owned();
    let mut bob = Socket::connect_key(addr, &key).await;
    subscribe_as(&mut bob, addr, "bob", "private-article-2").await;
    let http = common::http();

    let steps: [(&str, &str, u16, &[&str]); 5] = [
        ("GET", "/articles/2", 200, &["view"]),
        ("GET", "/articles/2/delete", 200, &["delete"]),
        ("POST", "/articles/2/edit", 303, &["updated"]),
        ("POST", "/articles/2/publish", 200, &["published", "view"]),
        ("POST", "/articles/2/delete", 303, &["deleted"]),
    ];
    for (method, path, status, events) in steps {
        let res = http
            .request(method.parse().unwrap(), format!("http://{addr}{path}"))
            .header("x-user", "alice")
            .body("title=New")
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), status, "{method} {path}");
        // One response at a time, so the order on the channel is the order of requests.
        realtime.flush().await;
        for expected in events {
            let (channel, event, data) = notification(&mut bob).await;
            assert_eq!(
                (channel.as_str(), event.as_str()),
                ("private-article-2", *expected)
            );
            assert_eq!(data["object"]["id"], 2);
            assert_eq!(data["user"]["name"], "Alice");
        }
    }
    assert_eq!(realtime.stats().sent, 6);
}

#[tokio::test]
async fn error_responses_send_nothing() {
    let (realtime, addr) = start().await;
    let key = realtime.backend().key().to_owned();
    let mut bob = Socket::connect_key(addr, &key).await;
    subscribe_as(&mut bob, addr, "bob", "private-article-3").await;
    let http = common::http();

    // A failed save (422) and a crash (500) both carried a notification.
    let res = http
        .post(format!("http://{addr}/articles/3/edit"))
        .header("x-user", "alice")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 422);
    let res = get_as(addr, "/articles/3/crash", Some("alice")).await;
    assert_eq!(res.status(), 500);
    realtime.flush().await;
    assert_eq!(realtime.stats(), pusherable::Stats::default());

    // The next thing on the channel is the first successful response's event.
    get_as(addr, "/articles/3", Some("alice")).await;
    let (_, event, _) = notification(&mut bob).await;
    assert_eq!(event, "view");
}

#[tokio::test]
async fn anonymous_requests_notify_with_a_null_user() {
    let (realtime, addr) = start().await;
    let key = realtime.backend().key().to_owned();
    let mut bob = Socket::connect_key(addr, &key).await;
    subscribe_as(&mut bob, addr, "bob", "private-article-4").await;
    get_as(addr, "/articles/4", None).await;
    let (_, _, data) = notification(&mut bob).await;
    assert_eq!(data["user"], serde_json::Value::Null);
}

#[tokio::test]
async fn the_page_that_acted_is_left_out_with_x_socket_id() {
    let (realtime, addr) = start().await;
    let key = realtime.backend().key().to_owned();
    let mut alice = Socket::connect_key(addr, &key).await;
    subscribe_as(&mut alice, addr, "alice", "private-article-5").await;
    let mut bob = Socket::connect_key(addr, &key).await;
    subscribe_as(&mut bob, addr, "bob", "private-article-5").await;

    let res = common::http()
        .get(format!("http://{addr}/articles/5/edit"))
        .header("x-user", "alice")
        .header(pusherable::SOCKET_ID_HEADER, &alice.socket_id)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let (_, event, _) = notification(&mut bob).await;
    assert_eq!(event, "update");

    // Alice's next event is Bob's view: hers was never sent to her.
    get_as(addr, "/articles/5", Some("bob")).await;
    let (_, event, data) = notification(&mut alice).await;
    assert_eq!(
        (event.as_str(), &data["user"]["id"]),
        ("view", &json!("bob"))
    );
}

#[tokio::test]
async fn a_bad_socket_id_header_does_not_cost_the_event() {
    let (realtime, addr) = start().await;
    let key = realtime.backend().key().to_owned();
    let mut bob = Socket::connect_key(addr, &key).await;
    subscribe_as(&mut bob, addr, "bob", "private-article-6").await;
    let res = common::http()
        .get(format!("http://{addr}/articles/6"))
        .header("x-user", "alice")
        .header(pusherable::SOCKET_ID_HEADER, "not-a-socket")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let (_, event, _) = notification(&mut bob).await;
    assert_eq!(event, "view");
}

#[tokio::test]
async fn presence_models_notify_on_their_presence_channel() {
    let (realtime, addr) = start().await;
    let key = realtime.backend().key().to_owned();
    let mut bob = Socket::connect_key(addr, &key).await;
    let joined = subscribe_as(&mut bob, addr, "bob", "presence-desk.room-a1").await;
    let presence: serde_json::Value =
        serde_json::from_str(joined["data"].as_str().unwrap()).unwrap();
    assert_eq!(
        presence["presence"]["hash"],
        json!({"bob": {"name": "Bob"}})
    );

    let mut alice = Socket::connect_key(addr, &key).await;
    subscribe_as(&mut alice, addr, "alice", "presence-desk.room-a1").await;
    let added = bob.recv().await;
    assert_eq!(added["event"], "pusher_internal:member_added");
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(added["data"].as_str().unwrap()).unwrap(),
        json!({"user_id": "alice", "user_info": {"name": "Alice"}})
    );

    get_as(addr, "/rooms/a1", Some("alice")).await;
    let (channel, event, data) = notification(&mut bob).await;
    assert_eq!(
        (channel.as_str(), event.as_str()),
        ("presence-desk.room-a1", "view")
    );
    assert_eq!(data["object"], json!({"id": "a1"}));
}

#[tokio::test]
async fn invalid_notifications_are_counted_and_the_page_still_answers() {
    let (realtime, addr) = start().await;
    let res = get_as(addr, "/broken", Some("alice")).await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.text().await.unwrap(), "still fine");
    let res = get_as(addr, "/huge", Some("alice")).await;
    assert_eq!(res.status(), 200);
    realtime.flush().await;
    let stats = realtime.stats();
    assert_eq!((stats.sent, stats.failed), (0, 2), "{stats:?}");
}

#[tokio::test]
async fn events_sent_outside_a_request_carry_the_given_user() {
    let (realtime, addr) = start().await;
    let key = realtime.backend().key().to_owned();
    let mut bob = Socket::connect_key(addr, &key).await;
    subscribe_as(&mut bob, addr, "bob", "private-article-7").await;
    let queued = realtime.send(
        pusherable::Notify::custom("reviewed", &common::Article::new(7)),
        Some(pusherable::Profile::new("robot").name("Review bot")),
    );
    assert!(queued);
    let (_, event, data) = notification(&mut bob).await;
    assert_eq!(event, "reviewed");
    assert_eq!(data["user"], json!({"id": "robot", "name": "Review bot"}));
}

#[tokio::test]
async fn prefetches_and_head_requests_send_nothing() {
    let (realtime, addr) = start().await;
    let key = realtime.backend().key().to_owned();
    let mut bob = Socket::connect_key(addr, &key).await;
    subscribe_as(&mut bob, addr, "bob", "private-article-8").await;
    let http = common::http();
    for (name, value) in [
        ("sec-purpose", "prefetch"),
        ("sec-purpose", "prefetch;prerender"),
        ("purpose", "prefetch"),
        ("x-moz", "prefetch"),
    ] {
        let res = http
            .get(format!("http://{addr}/articles/8/edit"))
            .header("x-user", "alice")
            .header(name, value)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200, "{name}: {value}");
    }
    let res = http
        .head(format!("http://{addr}/articles/8/edit"))
        .header("x-user", "alice")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    realtime.flush().await;
    assert_eq!(realtime.stats(), pusherable::Stats::default());

    get_as(addr, "/articles/8", Some("alice")).await;
    let (_, event, _) = notification(&mut bob).await;
    assert_eq!(event, "view");
}
