//! The debug console: its guard, its stream of entries and its event creator.
#![allow(clippy::unwrap_used)]

use std::net::SocketAddr;

use axum::extract::ws::Utf8Bytes;
use pusherable_protocol::{outbound, ChannelName};
use pusherable_server::{Delivery, Server};
use pusherable_test_support::*;
use serde_json::{json, Value};

const TOKEN: &str = "a-console-token-for-tests";

fn stream_url(addr: SocketAddr, app_id: &str) -> String {
    format!("http://{addr}/console/apps/{app_id}/stream")
}

fn events_url(addr: SocketAddr) -> String {
    format!("http://{addr}/console/apps/{ID}/events")
}

async fn send_get(url: &str, credentials: Option<&str>) -> reqwest::Response {
    let mut request = reqwest::Client::new().get(url);
    if let Some(c) = credentials {
        request = request.bearer_auth(c);
    }
    request.send().await.unwrap()
}

/// The status and body of a page or a refusal.
async fn get(url: &str, credentials: Option<&str>) -> (u16, String) {
    let response = send_get(url, credentials).await;
    let status = response.status().as_u16();
    (status, response.text().await.unwrap())
}

/// The status alone: a stream that opens never ends.
async fn status_of(url: &str, credentials: Option<&str>) -> u16 {
    send_get(url, credentials).await.status().as_u16()
}

async fn create_event(addr: SocketAddr, credentials: &str, body: &Value) -> (u16, Value) {
    let response = reqwest::Client::new()
        .post(events_url(addr))
        .bearer_auth(credentials)
        .json(body)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

#[tokio::test]
async fn wrong_or_missing_credentials_get_401_and_change_nothing() {
    let mut config = config();
    config.apps[0].console_token = Some(TOKEN.into());
    let s = start(config).await;
    let addr = s.local_addr();

    // The page itself holds nothing secret.
    let (status, page) = get(&format!("http://{addr}/console"), None).await;
    assert_eq!(status, 200);
    assert!(page.contains("pusherable console"));

    let stream = stream_url(addr, ID);
    for credentials in [None, Some("wrong"), Some(KEY), Some("")] {
        let (status, body) = get(&stream, credentials).await;
        assert_eq!(status, 401, "{credentials:?}");
        let body: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(body["code"], 401);
    }
    // Another scheme, and an app that does not exist, are refused alike.
    let basic = reqwest::Client::new()
        .get(&stream)
        .basic_auth(ID, Some(SECRET))
        .send()
        .await
        .unwrap();
    assert_eq!(basic.status(), 401);
    assert_eq!(status_of(&stream_url(addr, "99"), Some(SECRET)).await, 401);
    // The credentials never travel in the URL.
    assert_eq!(
        status_of(&format!("{stream}?auth={SECRET}"), None).await,
        401
    );

    // A refused event creator publishes nothing.
    let mut client = Socket::connect(addr).await;
    client.subscribe("news").await;
    let event = json!({"name": "secret-plan", "channel": "news", "data": "{}"});
    let (status, _) = create_event(addr, "wrong", &event).await;
    assert_eq!(status, 401);
    trigger(addr, &["news"], "marker", "m").await;
    assert_eq!(client.recv().await["event"], "marker");

    // Both the secret and the token open it.
    for credentials in [SECRET, TOKEN] {
        assert_eq!(
            status_of(&stream, Some(credentials)).await,
            200,
            "{credentials}"
        );
    }
}

/// Serves `server.router()`, as an app that embeds the server does.
async fn embed(server: &Server) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let router = server.router();
    tokio::spawn(async move { axum::serve(listener, router).await });
    addr
}

#[tokio::test]
async fn the_console_is_off_in_an_embedded_router_unless_turned_on() {
    let server = Server::new(config()).unwrap();
    let addr = embed(&server).await;
    assert_eq!(
        status_of(&format!("http://{addr}/console"), None).await,
        404
    );
    assert_eq!(status_of(&stream_url(addr, ID), Some(SECRET)).await, 404);

    let mut config = config();
    config.console = Some(true);
    let server = Server::new(config).unwrap();
    let addr = embed(&server).await;
    assert_eq!(
        status_of(&format!("http://{addr}/console"), None).await,
        200
    );
    assert_eq!(status_of(&stream_url(addr, ID), Some(SECRET)).await, 200);
}

#[tokio::test]
async fn the_standalone_server_can_turn_it_off() {
    let mut config = config();
    config.console = Some(false);
    let s = start(config).await;
    let addr = s.local_addr();
    assert_eq!(
        status_of(&format!("http://{addr}/console"), None).await,
        404
    );
    assert_eq!(status_of(&stream_url(addr, ID), Some(SECRET)).await, 404);
}

#[tokio::test]
async fn the_stream_shows_connections_subscriptions_members_and_events() {
    let s = start(config()).await;
    let addr = s.local_addr();
    let mut console = ConsoleStream::open(addr, ID, SECRET).await;

    let mut a = Socket::connect(addr).await;
    let opened = console.next_of("connection_opened").await;
    assert_eq!(opened["socket_id"], a.socket_id.as_str());
    assert!(opened["time_ms"].as_u64().unwrap() > 0);

    a.subscribe("news").await;
    let subscribed = console.next().await;
    assert_eq!(subscribed["type"], "subscribed");
    assert_eq!(subscribed["channel"], "news");
    assert_eq!(subscribed["socket_id"], a.socket_id.as_str());
    let occupied = console.next().await;
    assert_eq!(occupied["type"], "channel_occupied");
    assert_eq!(occupied["channel"], "news");
    assert!(occupied.get("remote").is_none());

    // An event triggered over REST, with its payload.
    let (status, _) = trigger(addr, &["news"], "headline", r#"{"id":42}"#).await;
    assert_eq!(status, 200);
    let event = console.next_of("api_event").await;
    assert_eq!(event["channel"], "news");
    assert_eq!(event["event"], "headline");
    assert_eq!(event["data"], r#"{"id":42}"#);

    // One published from the app's own process.
    s.server()
        .publish(ID, &["news"], "in-process", "plain", None)
        .unwrap();
    let event = console.next_of("api_event").await;
    assert_eq!(event["event"], "in-process");
    assert_eq!(event["data"], "plain");

    // Presence members, and a client event with its sender.
    let mut b = Socket::connect(addr).await;
    // Its two events are still unread: the answer is not looked at.
    a.request_subscription("presence-room", Some(&member("alice", "Alice")))
        .await;
    let added = console.next_of("member_added").await;
    assert_eq!(added["channel"], "presence-room");
    assert_eq!(added["user_id"], "alice");
    assert_eq!(added["data"], r#"{"name":"Alice"}"#);
    b.join("presence-room", "bob", "Bob").await;
    assert_eq!(console.next_of("member_added").await["user_id"], "bob");
    a.send(json!({"event": "client-typing", "channel": "presence-room", "data": {"on": true}}))
        .await;
    let typing = console.next_of("client_event").await;
    assert_eq!(typing["event"], "client-typing");
    assert_eq!(typing["socket_id"], a.socket_id.as_str());
    assert_eq!(typing["user_id"], "alice");
    assert_eq!(typing["data"], r#"{"on":true}"#);

    // Leaving: unsubscribed, member removed, vacated, closed.
    b.send(json!({"event": "pusher:unsubscribe", "data": {"channel": "presence-room"}}))
        .await;
    let unsubscribed = console.next().await;
    assert_eq!(unsubscribed["type"], "unsubscribed");
    assert_eq!(unsubscribed["socket_id"], b.socket_id.as_str());
    let removed = console.next().await;
    assert_eq!(removed["type"], "member_removed");
    assert_eq!(removed["user_id"], "bob");
    drop(a);
    let mut left = Vec::new();
    loop {
        let entry = console.next().await;
        let kind = entry["type"].as_str().unwrap().to_owned();
        let channel = entry["channel"].as_str().unwrap_or("").to_owned();
        left.push(format!("{kind} {channel}"));
        if kind == "connection_closed" {
            break;
        }
    }
    left.sort();
    assert_eq!(
        left,
        [
            "channel_vacated news",
            "channel_vacated presence-room",
            "connection_closed ",
            "member_removed presence-room",
            "unsubscribed news",
            "unsubscribed presence-room",
        ]
    );
}

#[tokio::test]
async fn events_another_node_delivers_are_marked_remote() {
    let mut config = config();
    config.console = Some(true);
    let server = Server::new(config).unwrap();
    let addr = embed(&server).await;
    let mut console = ConsoleStream::open(addr, ID, SECRET).await;
    let channel = ChannelName::parse("news", 200).unwrap();
    let frame = outbound::channel_event("news", "from-afar", "x", None);
    server.receive(
        ID,
        &Delivery::Channel {
            channel,
            frame: Utf8Bytes::from(frame),
            except: None,
            cache: None,
        },
    );
    let event = console.next().await;
    assert_eq!(event["type"], "api_event");
    assert_eq!(event["event"], "from-afar");
    assert_eq!(event["remote"], true);
}

#[tokio::test]
async fn the_event_creator_answers_as_the_rest_api_does() {
    let mut config = config();
    config.apps[0].console_token = Some(TOKEN.into());
    config.apps[0].max_event_bytes = 1024;
    let s = start(config).await;
    let addr = s.local_addr();
    let mut client = Socket::connect(addr).await;
    client.subscribe("news").await;

    let event = json!({"name": "headline", "channel": "news", "data": r#"{"id":7}"#});
    let (status, body) = create_event(addr, TOKEN, &event).await;
    assert_eq!((status, body), (200, json!({})));
    let got = client.recv().await;
    assert_eq!(got["event"], "headline");
    assert_eq!(got["data"], r#"{"id":7}"#);

    // The same refusals as `POST /apps/{id}/events`, body for body.
    let big = "x".repeat(2000);
    for bad in [
        json!({"name": "e", "channel": "bad name!", "data": "{}"}),
        json!({"name": "", "channel": "news", "data": "{}"}),
        json!({"name": "e", "channel": "news", "data": big}),
        json!({"name": "e", "data": "{}"}),
    ] {
        let (status, body) = create_event(addr, TOKEN, &bad).await;
        let (rest_status, rest_body) =
            rest(addr, "POST", &format!("/apps/{ID}/events"), Some(&bad), &[]).await;
        assert_eq!((status, &body), (rest_status, &rest_body), "{bad}");
        assert!(status == 400 || status == 413, "{bad}: {status}");
    }
    let response = reqwest::Client::new()
        .post(events_url(addr))
        .bearer_auth(TOKEN)
        .body("not json")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    // Nothing of the refused events reached the subscriber.
    trigger(addr, &["news"], "marker", "m").await;
    assert_eq!(client.recv().await["event"], "marker");
}

#[tokio::test]
async fn a_console_token_shorter_than_16_characters_is_refused() {
    let mut config = config();
    config.apps[0].console_token = Some("short".into());
    let err = Server::new(config).unwrap_err().to_string();
    assert!(err.contains("console_token"), "{err}");
}

#[tokio::test]
async fn an_open_console_does_not_hold_up_a_drain() {
    let mut config = config();
    config.shutdown_grace_secs = 60;
    let s = start(config).await;
    let mut console = ConsoleStream::open(s.local_addr(), ID, SECRET).await;
    // Well within the grace period: the stream ends as soon as the server drains.
    tokio::time::timeout(PATIENCE, s.shutdown())
        .await
        .expect("the server drains without waiting for the console");
    let rest = tokio::time::timeout(PATIENCE, async {
        let mut rest = Vec::new();
        while let Some(chunk) = console.chunk().await {
            rest.extend_from_slice(&chunk);
        }
        rest
    })
    .await
    .expect("the stream ends");
    assert!(!String::from_utf8_lossy(&rest).contains("data:"));
}
