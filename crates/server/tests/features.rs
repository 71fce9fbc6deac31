//! Cache channels, subscription counts, metrics, readiness, limits and origins.
#![allow(clippy::unwrap_used)]

use pusherable_test_support::*;
use serde_json::json;

#[tokio::test]
async fn cache_channel_replays_the_last_rest_event() {
    let s = start(config()).await;
    let addr = s.local_addr();
    let mut early = Socket::connect(addr).await;
    early.subscribe("cache-scores").await;
    assert_eq!(
        early.recv().await,
        json!({"event":"pusher:cache_miss","channel":"cache-scores","data":"{}"})
    );
    let (_, info) = rest(
        addr,
        "GET",
        &format!("/apps/{ID}/channels/cache-scores"),
        None,
        &[("info", "cache")],
    )
    .await;
    assert_eq!(info, json!({"occupied":true,"cache":null}));

    trigger(addr, &["cache-scores"], "score", "1-0").await;
    trigger(addr, &["cache-scores"], "score", "2-0").await;
    assert_eq!(early.recv().await["data"], "1-0");
    assert_eq!(early.recv().await["data"], "2-0");

    let mut late = Socket::connect(addr).await;
    assert_eq!(
        late.subscribe("cache-scores").await["event"],
        "pusher_internal:subscription_succeeded"
    );
    assert_eq!(
        late.recv().await,
        json!({"event":"score","channel":"cache-scores","data":"2-0"})
    );

    // Client events are never cached.
    late.subscribe("private-cache-x").await;
    late.skip_to("pusher:cache_miss").await;
    let (_, info) = rest(
        addr,
        "GET",
        &format!("/apps/{ID}/channels/cache-scores"),
        None,
        &[("info", "cache")],
    )
    .await;
    assert_eq!(info["cache"]["data"], "2-0");
    assert!(info["cache"]["ttl"].as_u64().unwrap() > 1700);
    assert_eq!(
        rest(
            addr,
            "GET",
            &format!("/apps/{ID}/channels/news"),
            None,
            &[("info", "cache")]
        )
        .await
        .0,
        400
    );
}

#[tokio::test]
async fn cache_survives_an_empty_channel() {
    let s = start(config()).await;
    trigger(s.local_addr(), &["cache-x"], "e", "kept").await;
    let mut c = Socket::connect(s.local_addr()).await;
    c.subscribe("cache-x").await;
    assert_eq!(c.recv().await["data"], "kept");
}

#[tokio::test]
async fn subscription_count_when_switched_on_and_never_on_presence() {
    let mut cfg = config();
    cfg.apps[0].subscription_count = true;
    let s = start(cfg).await;
    let addr = s.local_addr();
    let mut a = Socket::connect(addr).await;
    a.subscribe("room").await;
    assert_eq!(
        a.recv().await,
        json!({"event":"pusher_internal:subscription_count","channel":"room","data":"{\"subscription_count\":1}"})
    );
    let mut b = Socket::connect(addr).await;
    b.subscribe("room").await;
    assert_eq!(b.recv().await["data"], "{\"subscription_count\":2}");
    assert_eq!(a.recv().await["data"], "{\"subscription_count\":2}");
    drop(b);
    assert_eq!(a.recv().await["data"], "{\"subscription_count\":1}");
    // Presence: members, not counts.
    a.join("presence-p", "u", "U").await;
    a.round_trip().await;
}

#[tokio::test]
async fn subscription_count_is_off_by_default() {
    let s = start(config()).await;
    let mut a = Socket::connect(s.local_addr()).await;
    a.subscribe("room").await;
    a.round_trip().await;
}

#[tokio::test]
async fn metrics_and_readiness() {
    let s = start(config()).await;
    let addr = s.local_addr();
    let mut a = Socket::connect(addr).await;
    a.subscribe("news").await;
    trigger(addr, &["news"], "e", "12345").await;
    a.recv().await;
    // The REST answer comes before the fan-out finishes; wait for its count to be recorded.
    let mut text = String::new();
    for _ in 0..500 {
        let resp = reqwest::get(format!("http://{addr}/metrics"))
            .await
            .unwrap();
        text = resp.text().await.unwrap();
        if text.contains("pusherable_messages_sent_total{app_id=\"3\"} 1") {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    for line in [
        "pusherable_connections{app_id=\"3\"} 1",
        "pusherable_subscriptions{app_id=\"3\"} 1",
        "pusherable_messages_sent_total{app_id=\"3\"} 1",
        "pusherable_rest_requests_total{app_id=\"3\"} 1",
    ] {
        assert!(text.lines().any(|l| l == line), "{line} in\n{text}");
    }
    assert_eq!(
        reqwest::get(format!("http://{addr}/ready"))
            .await
            .unwrap()
            .status()
            .as_u16(),
        200
    );
    s.server().shutdown();
    assert_eq!(
        reqwest::get(format!("http://{addr}/ready"))
            .await
            .unwrap()
            .status()
            .as_u16(),
        503
    );
}

#[tokio::test]
async fn rest_rate_limit_answers_429() {
    let mut cfg = config();
    cfg.apps[0].max_rest_requests_per_second = 2;
    let s = start(cfg).await;
    let mut statuses = Vec::new();
    for _ in 0..3 {
        statuses.push(trigger(s.local_addr(), &["news"], "e", "x").await.0);
    }
    assert_eq!(statuses, [200, 200, 429]);
}

/// Requests that fail the signature check never reach the app's quota, so a flood of them
/// cannot lock the app's own backend out.
#[tokio::test]
async fn badly_signed_requests_do_not_use_up_the_rate_limit() {
    let mut cfg = config();
    cfg.apps[0].max_rest_requests_per_second = 3;
    let s = start(cfg).await;
    let addr = s.local_addr();
    let path = format!("/apps/{ID}/events");
    let body = json!({"name":"e","channels":["news"],"data":"x"}).to_string();
    let client = reqwest::Client::new();
    for _ in 0..20 {
        let (status, _) = rest_raw(addr, "POST", &path, Some(&body), &[], "wrong-secret").await;
        assert_eq!(status, 401);
        let unsigned = client
            .post(format!("http://{addr}{path}"))
            .body(body.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(unsigned.status().as_u16(), 401);
    }
    assert_eq!(trigger(addr, &["news"], "e", "x").await.0, 200);
    // The limit itself still holds for signed requests.
    let mut statuses = Vec::new();
    for _ in 0..10 {
        statuses.push(trigger(addr, &["news"], "e", "x").await.0);
    }
    assert!(statuses.contains(&429), "{statuses:?}");
}

#[tokio::test]
async fn connection_attempts_per_ip_are_limited() {
    let mut cfg = config();
    cfg.max_connection_attempts_per_ip = 2;
    let s = start(cfg).await;
    let _a = Socket::connect(s.local_addr()).await;
    let _b = Socket::connect(s.local_addr()).await;
    let mut c = Socket::open(format!("ws://{}/app/{KEY}?protocol=7", s.local_addr())).await;
    assert_eq!(c.recv().await["data"]["code"], 4100);
    assert_eq!(c.close_code().await, Some(4100));
}

#[tokio::test]
async fn allowed_origins() {
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    let mut cfg = config();
    cfg.apps[0].allowed_origins = vec!["https://news.example".into()];
    let s = start(cfg).await;
    let url = format!("ws://{}/app/{KEY}?protocol=7", s.local_addr());
    for (origin, expected) in [
        ("https://news.example", "pusher:connection_established"),
        ("https://evil.example", "pusher:error"),
    ] {
        let mut req = url.as_str().into_client_request().unwrap();
        req.headers_mut().insert("origin", origin.parse().unwrap());
        let mut c = Socket::open(req).await;
        let first = c.recv().await;
        assert_eq!(first["event"], expected, "{origin}");
        if expected == "pusher:error" {
            assert_eq!(c.close_code().await, Some(4009));
        }
    }
}
