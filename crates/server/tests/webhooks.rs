//! Webhooks, received by a real HTTP endpoint that checks them as an app would.
#![allow(clippy::unwrap_used)]

mod common;

use std::{net::SocketAddr, time::Duration};

use axum::{body::Bytes, http::HeaderMap, routing::post, Router};
use common::*;
use pusherable_protocol::sign;
use pusherable_server::WebhookConfig;
use serde_json::{json, Value};
use tokio::{net::TcpListener, sync::mpsc};

/// Every event of every valid webhook request, in arrival order; invalid requests fail the test.
async fn receiver(listener: TcpListener) -> mpsc::UnboundedReceiver<Value> {
    let (tx, rx) = mpsc::unbounded_channel();
    let app = Router::new().route(
        "/hook",
        post(move |headers: HeaderMap, body: Bytes| {
            let tx = tx.clone();
            async move {
                assert_eq!(headers["content-type"], "application/json");
                assert_eq!(headers["x-pusher-key"], KEY);
                let sig = headers["x-pusher-signature"].to_str().unwrap();
                assert!(
                    sign::verify_webhook_signature(SECRET, &body, sig),
                    "signature"
                );
                let v: Value = serde_json::from_slice(&body).unwrap();
                let age = now() as i64 * 1000 - v["time_ms"].as_i64().unwrap();
                assert!(age.abs() < 300_000, "fresh time_ms");
                for e in v["events"].as_array().unwrap() {
                    let _ = tx.send(e.clone());
                }
                "ok"
            }
        }),
    );
    tokio::spawn(async move { axum::serve(listener, app).await });
    rx
}

async fn next(rx: &mut mpsc::UnboundedReceiver<Value>) -> Value {
    tokio::time::timeout(Duration::from_secs(60), rx.recv())
        .await
        .expect("a webhook")
        .expect("open")
}

fn hooked(url: String, batching: bool) -> pusherable_server::Config {
    let mut cfg = config();
    cfg.apps[0].webhooks = vec![WebhookConfig {
        url,
        ..WebhookConfig::default()
    }];
    cfg.apps[0].webhook_batching = batching;
    cfg
}

#[tokio::test]
async fn lifecycle_webhooks_with_the_delayed_removals() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    let mut rx = receiver(listener).await;
    let s = start(hooked(url, false)).await;
    let addr = s.local_addr();

    let mut a = Client::connect(addr).await;
    a.join("presence-room", "alice", "A").await;
    assert_eq!(
        next(&mut rx).await,
        json!({"name":"channel_occupied","channel":"presence-room"})
    );
    assert_eq!(
        next(&mut rx).await,
        json!({"name":"member_added","channel":"presence-room","user_id":"alice"})
    );

    // A reload: leave and come back at once. Neither the removal nor the return is reported.
    a.send(json!({"event":"pusher:unsubscribe","data":{"channel":"presence-room"}}))
        .await;
    a.join("presence-room", "alice", "A").await;

    let mut b = Client::connect(addr).await;
    b.join("presence-room", "bob", "B").await;
    assert_eq!(next(&mut rx).await["user_id"], "bob");
    b.send(json!({"event":"client-hi","channel":"presence-room","data":{"x":1}}))
        .await;
    assert_eq!(
        next(&mut rx).await,
        json!({"name":"client_event","channel":"presence-room","event":"client-hi","data":"{\"x\":1}","socket_id":b.socket_id,"user_id":"bob"})
    );
    drop(a);
    drop(b);
    let mut removed = [next(&mut rx).await, next(&mut rx).await];
    removed.sort_by_key(|e| e["user_id"].as_str().unwrap_or("").to_owned());
    assert_eq!(
        removed[0],
        json!({"name":"member_removed","channel":"presence-room","user_id":"alice"})
    );
    assert_eq!(removed[1]["user_id"], "bob");
    assert_eq!(
        next(&mut rx).await,
        json!({"name":"channel_vacated","channel":"presence-room"})
    );
}

#[tokio::test]
async fn cache_miss_webhook() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    let mut rx = receiver(listener).await;
    let mut cfg = hooked(url, false);
    cfg.apps[0].webhooks[0].event_types = vec!["cache_miss".into()];
    let s = start(cfg).await;
    let mut a = Client::connect(s.local_addr()).await;
    a.subscribe("cache-x").await;
    assert_eq!(
        next(&mut rx).await,
        json!({"name":"cache_miss","channel":"cache-x"})
    );
}

/// The receiver is down for 20 s, then comes back: every webhook arrives once, in order.
#[tokio::test]
async fn a_receiver_that_was_down_gets_everything_once_in_order() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let hook_addr: SocketAddr = listener.local_addr().unwrap();
    drop(listener);
    let s = start(hooked(format!("http://{hook_addr}/hook"), true)).await;
    let addr = s.local_addr();
    let mut clients = Vec::new();
    for i in 0..5 {
        let mut c = Client::connect(addr).await;
        c.subscribe(&format!("ch-{i}")).await;
        clients.push(c);
    }
    tokio::time::sleep(Duration::from_secs(20)).await;
    let mut rx = receiver(TcpListener::bind(hook_addr).await.unwrap()).await;
    let mut got = Vec::new();
    for _ in 0..5 {
        got.push(next(&mut rx).await["channel"].as_str().unwrap().to_owned());
    }
    assert_eq!(got, ["ch-0", "ch-1", "ch-2", "ch-3", "ch-4"]);
    // Nothing twice: a marker event is the very next one.
    let mut marker = Client::connect(addr).await;
    marker.subscribe("marker").await;
    assert_eq!(next(&mut rx).await["channel"], "marker");
}
