//! Webhooks, received by a real HTTP endpoint that checks them as an app would.
#![allow(clippy::unwrap_used)]

use std::{net::SocketAddr, time::Duration};

use axum::{body::Bytes, http::HeaderMap, routing::post, Router};
use pusherable_protocol::sign;
use pusherable_server::WebhookConfig;
use pusherable_test_support::*;
use serde_json::{json, Value};
use tokio::{net::TcpListener, sync::mpsc, task::JoinHandle};
use tokio_util::sync::CancellationToken;

/// Every event of every valid webhook request, in arrival order; invalid requests fail the test.
async fn receiver(listener: TcpListener) -> mpsc::UnboundedReceiver<Value> {
    receiver_until(listener, CancellationToken::new()).0
}

/// A receiver that stops (finishing the request in hand) when `stop` is cancelled; the task
/// ends once its port is closed.
fn receiver_until(
    listener: TcpListener,
    stop: CancellationToken,
) -> (mpsc::UnboundedReceiver<Value>, JoinHandle<()>) {
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
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, app)
            .with_graceful_shutdown(stop.cancelled_owned())
            .await;
    });
    (rx, task)
}

/// The value of `name` (with the test app's label) in the server's `/metrics`.
async fn metric(addr: SocketAddr, name: &str) -> u64 {
    let text = reqwest::get(format!("http://{addr}/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let prefix = format!("{name}{{app_id=\"{ID}\"}} ");
    text.lines()
        .find_map(|l| l.strip_prefix(&prefix)?.parse().ok())
        .unwrap_or_else(|| panic!("{name} in {text}"))
}

/// Waits until `metric` reaches `at_least`: a readiness signal, not a timing assumption.
async fn metric_reaches(addr: SocketAddr, name: &str, at_least: u64) -> u64 {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        let value = metric(addr, name).await;
        if value >= at_least {
            return value;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{name} stays at {value}, below {at_least}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
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

    let mut a = Socket::connect(addr).await;
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

    let mut b = Socket::connect(addr).await;
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
    let mut a = Socket::connect(s.local_addr()).await;
    a.subscribe("cache-x").await;
    assert_eq!(
        next(&mut rx).await,
        json!({"name":"cache_miss","channel":"cache-x"})
    );
}

/// The receiver is down when the events happen, and comes up only after the server has
/// retried: every webhook arrives once, in order.
#[tokio::test]
async fn a_receiver_that_was_down_gets_everything_once_in_order() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let hook_addr: SocketAddr = listener.local_addr().unwrap();
    drop(listener);
    let s = start(hooked(format!("http://{hook_addr}/hook"), true)).await;
    let addr = s.local_addr();
    let mut clients = Vec::new();
    for i in 0..5 {
        let mut c = Socket::connect(addr).await;
        c.subscribe(&format!("ch-{i}")).await;
        clients.push(c);
    }
    // A first attempt and a retry have failed.
    metric_reaches(addr, "pusherable_webhooks_failed_total", 2).await;
    let mut rx = receiver(TcpListener::bind(hook_addr).await.unwrap()).await;
    let mut got = Vec::new();
    for _ in 0..5 {
        got.push(next(&mut rx).await["channel"].as_str().unwrap().to_owned());
    }
    assert_eq!(got, ["ch-0", "ch-1", "ch-2", "ch-3", "ch-4"]);
    // Nothing twice: a marker event is the very next one.
    let mut marker = Socket::connect(addr).await;
    marker.subscribe("marker").await;
    assert_eq!(next(&mut rx).await["channel"], "marker");
    assert_eq!(metric(addr, "pusherable_webhooks_dropped_total").await, 0);
}

/// The receiver goes away in the middle of a stream of events and comes back on the same
/// port: what happened while it was away arrives once, in order, after what came before.
#[tokio::test]
async fn a_receiver_restarted_mid_stream_loses_nothing() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let hook_addr: SocketAddr = listener.local_addr().unwrap();
    let stop = CancellationToken::new();
    let (mut rx, up) = receiver_until(listener, stop.clone());
    let s = start(hooked(format!("http://{hook_addr}/hook"), false)).await;
    let addr = s.local_addr();
    let mut c = Socket::connect(addr).await;
    for i in 0..2 {
        c.subscribe(&format!("ch-{i}")).await;
        assert_eq!(next(&mut rx).await["channel"], format!("ch-{i}"));
    }
    stop.cancel();
    up.await.unwrap();
    for i in 2..6 {
        c.subscribe(&format!("ch-{i}")).await;
    }
    metric_reaches(addr, "pusherable_webhooks_failed_total", 2).await;
    let mut rx = receiver(TcpListener::bind(hook_addr).await.unwrap()).await;
    for i in 2..6 {
        assert_eq!(next(&mut rx).await["channel"], format!("ch-{i}"));
    }
    c.subscribe("marker").await;
    assert_eq!(next(&mut rx).await["channel"], "marker");
    assert_eq!(metric(addr, "pusherable_webhooks_dropped_total").await, 0);
}

/// With room for one waiting event, a receiver that is down loses the rest, and
/// `/metrics` counts every one of them.
#[tokio::test]
async fn a_tiny_queue_counts_its_drops_in_metrics() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let hook_addr: SocketAddr = listener.local_addr().unwrap();
    drop(listener);
    let mut cfg = hooked(format!("http://{hook_addr}/hook"), false);
    cfg.webhook_queue = 1;
    cfg.apps[0].webhooks[0].event_types = vec!["channel_occupied".into()];
    let s = start(cfg).await;
    let addr = s.local_addr();
    let mut c = Socket::connect(addr).await;
    for i in 0..10 {
        c.subscribe(&format!("ch-{i}")).await;
    }
    // One event in the hands of the delivery task, one waiting: the other eight are dropped.
    let dropped = metric_reaches(addr, "pusherable_webhooks_dropped_total", 8).await;
    assert!(dropped <= 9, "{dropped}");
    let mut rx = receiver(TcpListener::bind(hook_addr).await.unwrap()).await;
    let sent = metric_reaches(addr, "pusherable_webhooks_sent_total", 10 - dropped).await;
    assert_eq!(sent + dropped, 10);
    let mut got = Vec::new();
    for _ in 0..sent {
        got.push(next(&mut rx).await["channel"].as_str().unwrap().to_owned());
    }
    assert_eq!(
        got[0], "ch-0",
        "the first event is never the one dropped: {got:?}"
    );
    assert_eq!(
        metric(addr, "pusherable_webhooks_dropped_total").await,
        dropped
    );
}

/// Removals wait out their delay in a queue as long as `webhook_queue`; past it they are
/// sent at once (and counted), never dropped.
#[tokio::test]
async fn removals_past_the_bound_are_sent_undelayed() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    let mut rx = receiver(listener).await;
    let mut cfg = hooked(url, false);
    cfg.webhook_queue = 3;
    cfg.apps[0].webhooks[0].event_types = vec!["channel_vacated".into()];
    let s = start(cfg).await;
    let addr = s.local_addr();
    let mut c = Socket::connect(addr).await;
    for i in 0..6 {
        c.subscribe(&format!("ch-{i}")).await;
    }
    // Six removals, handled within milliseconds, well inside their three-second delay.
    for i in 0..6 {
        c.send(json!({"event":"pusher:unsubscribe","data":{"channel":format!("ch-{i}")}}))
            .await;
    }
    c.round_trip().await;
    let mut got = Vec::new();
    for _ in 0..6 {
        let e = next(&mut rx).await;
        assert_eq!(e["name"], "channel_vacated");
        got.push(e["channel"].as_str().unwrap().to_owned());
    }
    got.sort();
    assert_eq!(got, ["ch-0", "ch-1", "ch-2", "ch-3", "ch-4", "ch-5"]);
    assert_eq!(
        metric(addr, "pusherable_webhook_removals_undelayed_total").await,
        3
    );
    assert_eq!(metric(addr, "pusherable_webhooks_dropped_total").await, 0);
}
