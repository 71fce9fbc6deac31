//! Every bad frame gets its documented answer, and nobody else notices.
#![allow(clippy::unwrap_used)]

use futures_util::SinkExt;
use pusherable_test_support::*;
use serde_json::json;
use tokio_tungstenite::tungstenite::Message;

/// A watcher subscribed to `news` receives every event while another client misbehaves.
async fn watcher(addr: std::net::SocketAddr) -> Socket {
    let mut w = Socket::connect(addr).await;
    w.subscribe("news").await;
    w
}

async fn watcher_still_receives(addr: std::net::SocketAddr, w: &mut Socket, n: u32) {
    trigger(addr, &["news"], "tick", &n.to_string()).await;
    assert_eq!(w.recv().await["data"], n.to_string());
}

#[tokio::test]
async fn malformed_frames_get_4200_messages_and_the_socket_stays() {
    let s = start(config()).await;
    let addr = s.local_addr();
    let mut w = watcher(addr).await;
    let mut c = Socket::connect(addr).await;
    for bad in [
        "not json",
        "[1,2,3]",
        "{}",
        r#"{"event":42}"#,
        r#"{"event":"pusher:subscribe"}"#,
        r#"{"event":"pusher:subscribe","data":{"channel":5}}"#,
        r#"{"event":"pusher:unknown","data":{}}"#,
        r#"{"event":"no-prefix","data":{}}"#,
        r#"{"event":"client-x","data":{}}"#,
    ] {
        c.send_text(bad).await;
        let err = c.recv().await;
        assert_eq!(err["event"], "pusher:error", "{bad}: {err}");
        assert_eq!(err["data"]["code"], 4200, "{bad}");
        assert!(err["data"]["message"].is_string());
    }
    c.ws.send(Message::binary(vec![1u8, 2, 3])).await.unwrap();
    assert_eq!(c.recv().await["data"]["code"], 4200);
    c.round_trip().await;
    watcher_still_receives(addr, &mut w, 1).await;
}

#[tokio::test]
async fn oversized_message_closes_with_1009_and_others_go_on() {
    let s = start(config()).await;
    let addr = s.local_addr();
    let mut w = watcher(addr).await;
    let mut c = Socket::connect(addr).await;
    let huge = format!(
        r#"{{"event":"client-x","channel":"private-a","data":"{}"}}"#,
        "x".repeat(70 * 1024)
    );
    // The server may close before it has read the whole message, so the send itself may fail.
    let _ = c.ws.send(Message::text(huge)).await;
    assert_eq!(c.close_code().await, Some(1009));
    watcher_still_receives(addr, &mut w, 2).await;
}

#[tokio::test]
async fn a_client_that_stops_reading_is_cut_off_with_4100() {
    let mut cfg = config();
    cfg.outbound_budget_bytes = 64 * 1024;
    let s = start(cfg).await;
    let addr = s.local_addr();
    let mut w = watcher(addr).await;
    let mut slow = Socket::connect(addr).await;
    slow.subscribe("news").await;
    let before = s.server().connection_count();
    let chunk = "y".repeat(10_000);
    // Publish until the slow client, which reads nothing, has been dropped; the watcher reads
    // everything as it comes.
    // The cut-off is seen once the slow connection's task has closed it, which may take a
    // while after the budget was passed (its close is sent with a timeout); a fast build
    // publishes thousands of events meanwhile, so the bound is on time, not on a count.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while s.server().connection_count() == before {
        assert!(
            std::time::Instant::now() < deadline,
            "the slow client was never cut off"
        );
        s.server()
            .publish(ID, &["news"], "bulk", &chunk, None)
            .unwrap();
        assert_eq!(w.recv().await["event"], "bulk");
    }
    // The watcher is unaffected.
    watcher_still_receives(addr, &mut w, 3).await;
    // What the slow client finally reads ends with the 4100 close, or the socket just ends if
    // the close frame could not be handed over.
    let end = slow.close_code().await;
    assert!(matches!(end, Some(4100) | None), "{end:?}");
}

#[tokio::test]
async fn a_body_over_a_mebibyte_is_refused() {
    let s = start(config()).await;
    let addr = s.local_addr();
    let events = format!("/apps/{ID}/events");
    let body = json!({"name":"e","channels":["news"],"data":"z".repeat(1024 * 1024)}).to_string();
    let (got, err) = rest_raw(addr, "POST", &events, Some(&body), &[], SECRET).await;
    assert_eq!(
        (got, err),
        (
            413,
            json!({"error":"Failed to buffer the request body: length limit exceeded","code":413})
        )
    );
}

#[tokio::test]
async fn bad_rest_requests_change_nothing() {
    let s = start(config()).await;
    let addr = s.local_addr();
    let mut w = watcher(addr).await;
    let events = format!("/apps/{ID}/events");
    let ok_body = json!({"name":"e","channels":["news"],"data":"d"}).to_string();
    for (body, status) in [
        ("not json".to_owned(), 400),
        (json!({"channels":["news"],"data":"d"}).to_string(), 400),
        (json!({"name":"e","data":"d"}).to_string(), 400),
        (json!({"name":"e","channels":["bad name"],"data":"d"}).to_string(), 400),
        (json!({"name":"e","channels":(0..101).map(|i| format!("c{i}")).collect::<Vec<_>>(),"data":"d"}).to_string(), 400),
        (json!({"name":"x".repeat(201),"channels":["news"],"data":"d"}).to_string(), 400),
        (json!({"name":"e","channels":["news"],"data":"d","socket_id":"1.2.3"}).to_string(), 400),
        (json!({"name":"e","channels":["news"],"data":"z".repeat(10 * 1024 + 1)}).to_string(), 413),
    ] {
        let (got, err) = rest_raw(addr, "POST", &events, Some(&body), &[], SECRET).await;
        assert_eq!(got, status, "{body:.80}: {err}");
        assert_eq!(err["code"], status);
        assert!(err["error"].is_string());
    }
    let (got, err) = rest_raw(addr, "POST", &events, Some(&ok_body), &[], "wrong-secret").await;
    assert_eq!(got, 401, "{err}");
    let (got, _) = rest_raw(
        addr,
        "POST",
        "/apps/999/events",
        Some(&ok_body),
        &[],
        SECRET,
    )
    .await;
    assert_eq!(got, 404);
    // Unsigned.
    let resp = reqwest::Client::new()
        .post(format!("http://{addr}{events}"))
        .body(ok_body.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 401);
    // Stale timestamp.
    let q = pusherable_protocol::sign::signed_query(
        KEY,
        SECRET,
        "POST",
        &events,
        ok_body.as_bytes(),
        now() - 600,
        &[],
    );
    let resp = reqwest::Client::new()
        .post(format!("http://{addr}{events}"))
        .query(&q)
        .body(ok_body.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 401);
    assert!(resp.text().await.unwrap().contains("Timestamp expired"));
    // None of it reached the channel.
    watcher_still_receives(addr, &mut w, 4).await;
}
