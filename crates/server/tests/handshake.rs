//! Connection set-up and refusal codes (PROTOCOL.md §1.2–§1.6).
#![allow(clippy::unwrap_used)]

use pusherable_test_support::*;
use serde_json::json;

async fn refused_with(addr: std::net::SocketAddr, path: &str) -> u16 {
    let mut c = Socket::open(format!("ws://{addr}{path}")).await;
    let err = c.recv().await;
    assert_eq!(err["event"], "pusher:error", "{err}");
    let code = c.close_code().await.expect("a close frame");
    assert_eq!(
        err["data"]["code"], code,
        "the error frame and the close code agree"
    );
    code
}

#[tokio::test]
async fn established_frame_has_string_data_and_an_unguessable_socket_id() {
    let s = start(config()).await;
    let a = Socket::connect(s.local_addr()).await;
    let b = Socket::connect(s.local_addr()).await;
    assert!(
        pusherable_protocol::socket::is_valid(&a.socket_id),
        "{}",
        a.socket_id
    );
    assert_ne!(a.socket_id, b.socket_id);
    // The default pusher-js expects when an app sets none.
    assert_eq!((a.activity_timeout, b.activity_timeout), (120, 120));
}

#[tokio::test]
async fn refusal_codes() {
    let mut cfg = config();
    let mut disabled = pusherable_server::AppConfig::new("4", "disabled-key", "s");
    disabled.enabled = false;
    cfg.apps.push(disabled);
    let s = start(cfg).await;
    let addr = s.local_addr();
    assert_eq!(refused_with(addr, "/app/nope?protocol=7").await, 4001);
    assert_eq!(
        refused_with(addr, "/app/disabled-key?protocol=7").await,
        4003
    );
    assert_eq!(refused_with(addr, &format!("/app/{KEY}")).await, 4008);
    assert_eq!(
        refused_with(addr, &format!("/app/{KEY}?protocol=3")).await,
        4007
    );
    assert_eq!(
        refused_with(addr, &format!("/app/{KEY}?protocol=8")).await,
        4007
    );
    assert_eq!(
        refused_with(addr, &format!("/app/{KEY}?protocol=seven")).await,
        4007
    );
    assert_eq!(
        refused_with(addr, &format!("/app/{KEY}?protocol=7&version=%20bad%20")).await,
        4006
    );
    assert_eq!(refused_with(addr, "/somewhere/else?protocol=7").await, 4005);
    // Protocol 4 to 7 are accepted.
    let mut c = Socket::open(format!("ws://{addr}/app/{KEY}?protocol=4")).await;
    assert_eq!(c.recv().await["event"], "pusher:connection_established");
}

#[tokio::test]
async fn connection_quota_gives_4004_and_frees_slots() {
    let mut cfg = config();
    cfg.apps[0].max_connections = 1;
    let s = start(cfg).await;
    let first = Socket::connect(s.local_addr()).await;
    assert_eq!(
        refused_with(s.local_addr(), &format!("/app/{KEY}?protocol=7")).await,
        4004
    );
    drop(first);
    // Once the first one is gone, a new one fits again.
    for _ in 0..200 {
        if s.server().connection_count() == 0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    Socket::connect(s.local_addr()).await;
}

#[tokio::test]
async fn ping_pong() {
    let s = start(config()).await;
    let mut c = Socket::connect(s.local_addr()).await;
    c.send(json!({"event":"pusher:ping","data":{}})).await;
    assert_eq!(c.recv().await, json!({"event":"pusher:pong","data":"{}"}));
}

#[tokio::test]
async fn silent_client_is_pinged_then_closed_with_4201() {
    let mut cfg = config();
    cfg.apps[0].activity_timeout = 1;
    cfg.pong_timeout_secs = 1;
    let s = start(cfg).await;
    let mut c = Socket::connect(s.local_addr()).await;
    assert_eq!(c.activity_timeout, 1);
    assert_eq!(c.recv().await, json!({"event":"pusher:ping","data":"{}"}));
    // No pong: the server gives up after its pong timeout.
    assert_eq!(c.close_code().await, Some(4201));
}

#[tokio::test]
async fn shutdown_tells_clients_to_reconnect() {
    let s = start(config()).await;
    let mut c = Socket::connect(s.local_addr()).await;
    c.round_trip().await;
    let addr = s.local_addr();
    s.shutdown().await;
    assert_eq!(c.close_code().await, Some(4100));
    assert!(
        tokio::net::TcpStream::connect(addr).await.is_err(),
        "no longer accepting"
    );
}

/// The drain ends as soon as the last connection has closed, not when the grace period does.
#[tokio::test]
async fn shutdown_returns_once_the_last_connection_closed() {
    let mut cfg = config();
    cfg.shutdown_grace_secs = 3600;
    let s = start(cfg).await;
    let mut clients = Vec::new();
    for _ in 0..3 {
        let mut c = Socket::connect(s.local_addr()).await;
        c.subscribe("news").await;
        clients.push(c);
    }
    let server = s.server().clone();
    assert_eq!(server.connection_count(), 3);
    tokio::time::timeout(PATIENCE, s.shutdown())
        .await
        .expect("the drain ends with its last connection, long before the grace period");
    assert_eq!(server.connection_count(), 0);
    for mut c in clients {
        assert_eq!(c.close_code().await, Some(4100));
    }
    // A server with nothing open drains at once.
    let idle = start(config()).await;
    tokio::time::timeout(PATIENCE, idle.shutdown())
        .await
        .unwrap();
}
