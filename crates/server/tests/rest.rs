//! The REST API (PROTOCOL.md §5.2).
#![allow(clippy::unwrap_used)]

use pusherable_test_support::*;
use serde_json::json;

#[tokio::test]
async fn trigger_with_channel_or_channels_and_socket_exclusion() {
    let s = start(config()).await;
    let addr = s.local_addr();
    let mut a = Socket::connect(addr).await;
    let mut b = Socket::connect(addr).await;
    a.subscribe("c1").await;
    b.subscribe("c1").await;
    b.subscribe("c2").await;
    // `channel` (one name) as pusher-http-php sends it.
    let (st, _) = post_events(addr, &json!({"name":"e","channel":"c1","data":"one"})).await;
    assert_eq!(st, 200);
    assert_eq!(a.recv().await["data"], "one");
    assert_eq!(b.recv().await["data"], "one");
    // Excluding A: only B gets it; then a marker proves A got nothing in between.
    let body = json!({"name":"e","channels":["c1"],"data":"two","socket_id":a.socket_id});
    post_events(addr, &body).await;
    assert_eq!(b.recv().await["data"], "two");
    trigger(addr, &["c1"], "marker", "m").await;
    assert_eq!(a.recv().await["event"], "marker");
    // Non-string data is accepted and sent as its JSON text.
    post_events(addr, &json!({"name":"e","channels":["c2"],"data":{"k":1}})).await;
    b.skip_to("marker").await;
    assert_eq!(b.recv().await["data"], r#"{"k":1}"#);
}

#[tokio::test]
async fn trigger_answers_json_exactly() {
    let s = start(config()).await;
    let addr = s.local_addr();
    let path = format!("/apps/{ID}/events");
    let answer = |body: serde_json::Value| {
        let path = path.clone();
        async move {
            let body = body.to_string();
            let query = pusherable_protocol::sign::signed_query(
                KEY,
                SECRET,
                "POST",
                &path,
                body.as_bytes(),
                now(),
                &[],
            );
            let resp = reqwest::Client::new()
                .post(format!("http://{addr}{path}"))
                .query(&query)
                .header("content-type", "application/json")
                .body(body)
                .send()
                .await
                .unwrap();
            let status = resp.status().as_u16();
            let kind = resp.headers()["content-type"].to_str().unwrap().to_owned();
            (status, kind, resp.text().await.unwrap())
        }
    };
    let json = "application/json".to_owned();
    assert_eq!(
        answer(json!({"name":"e","channels":["c"],"data":"x"})).await,
        (200, json.clone(), "{}".to_owned())
    );
    let info = json!({"name":"e","channels":["c"],"data":"x","info":"subscription_count"});
    assert_eq!(
        answer(info).await,
        (
            200,
            json,
            r#"{"channels":{"c":{"subscription_count":0}}}"#.to_owned()
        )
    );
}

#[tokio::test]
async fn trigger_info_and_channel_queries() {
    let s = start(config()).await;
    let addr = s.local_addr();
    let mut a = Socket::connect(addr).await;
    let mut b = Socket::connect(addr).await;
    a.subscribe("public-1").await;
    b.subscribe("public-1").await;
    a.join("presence-room", "u1", "One").await;
    b.join("presence-room", "u1", "One").await;

    let body = json!({"name":"e","channels":["public-1"],"data":"x","info":"subscription_count"});
    let (st, reply) = post_events(addr, &body).await;
    assert_eq!(
        (st, reply),
        (
            200,
            json!({"channels":{"public-1":{"subscription_count":2}}})
        )
    );
    let body = json!({"name":"e","channels":["presence-room"],"data":"x","info":"user_count"});
    let (_, reply) = post_events(addr, &body).await;
    assert_eq!(
        reply,
        json!({"channels":{"presence-room":{"user_count":1}}})
    );
    let body =
        json!({"name":"e","channels":["presence-room"],"data":"x","info":"subscription_count"});
    assert_eq!(post_events(addr, &body).await.0, 400);

    let (_, all) = rest(addr, "GET", &format!("/apps/{ID}/channels"), None, &[]).await;
    assert_eq!(all, json!({"channels":{"public-1":{},"presence-room":{}}}));
    let (_, presence) = rest(
        addr,
        "GET",
        &format!("/apps/{ID}/channels"),
        None,
        &[("filter_by_prefix", "presence-"), ("info", "user_count")],
    )
    .await;
    assert_eq!(
        presence,
        json!({"channels":{"presence-room":{"user_count":1}}})
    );
    assert_eq!(
        rest(
            addr,
            "GET",
            &format!("/apps/{ID}/channels"),
            None,
            &[("info", "user_count")]
        )
        .await
        .0,
        400
    );

    let (_, one) = rest(
        addr,
        "GET",
        &format!("/apps/{ID}/channels/public-1"),
        None,
        &[("info", "subscription_count")],
    )
    .await;
    assert_eq!(one, json!({"occupied":true,"subscription_count":2}));
    let (_, none) = rest(
        addr,
        "GET",
        &format!("/apps/{ID}/channels/empty"),
        None,
        &[],
    )
    .await;
    assert_eq!(none, json!({"occupied":false}));
    assert_eq!(
        rest(
            addr,
            "GET",
            &format!("/apps/{ID}/channels/public-1"),
            None,
            &[("info", "user_count")]
        )
        .await
        .0,
        400
    );
    assert_eq!(
        rest(
            addr,
            "GET",
            &format!("/apps/{ID}/channels/public-1/users"),
            None,
            &[]
        )
        .await
        .0,
        400
    );
    let (_, users) = rest(
        addr,
        "GET",
        &format!("/apps/{ID}/channels/presence-room/users"),
        None,
        &[],
    )
    .await;
    assert_eq!(users, json!({"users":[{"id":"u1"}]}));
}

#[tokio::test]
async fn batch_events() {
    let s = start(config()).await;
    let addr = s.local_addr();
    let mut a = Socket::connect(addr).await;
    a.subscribe("c").await;
    a.join("presence-p", "u", "U").await;
    let batch = json!({"batch":[
        {"channel":"c","name":"e1","data":"1"},
        {"channel":"presence-p","name":"e2","data":"2","info":"user_count"},
    ]});
    let (st, reply) = rest(
        addr,
        "POST",
        &format!("/apps/{ID}/batch_events"),
        Some(&batch),
        &[],
    )
    .await;
    assert_eq!((st, reply), (200, json!({"batch":[{},{"user_count":1}]})));
    assert_eq!(a.recv().await["event"], "e1");
    assert_eq!(a.recv().await["event"], "e2");

    let too_many = json!({"batch": (0..11).map(|i| json!({"channel":"c","name":"e","data":i.to_string()})).collect::<Vec<_>>()});
    assert_eq!(
        rest(
            addr,
            "POST",
            &format!("/apps/{ID}/batch_events"),
            Some(&too_many),
            &[]
        )
        .await
        .0,
        400
    );
    // One bad entry publishes nothing at all.
    let mixed = json!({"batch":[{"channel":"c","name":"ok","data":"1"},{"channel":"bad name","name":"e","data":"2"}]});
    assert_eq!(
        rest(
            addr,
            "POST",
            &format!("/apps/{ID}/batch_events"),
            Some(&mixed),
            &[]
        )
        .await
        .0,
        400
    );
    trigger(addr, &["c"], "marker", "m").await;
    assert_eq!(a.recv().await["event"], "marker");
}

#[tokio::test]
async fn in_process_publish_uses_the_same_rules() {
    let s = start(config()).await;
    let mut a = Socket::connect(s.local_addr()).await;
    a.subscribe("news").await;
    s.server().publish(ID, &["news"], "e", "{}", None).unwrap();
    assert_eq!(
        a.recv().await,
        json!({"event":"e","channel":"news","data":"{}"})
    );
    assert!(s
        .server()
        .publish(ID, &["bad name"], "e", "{}", None)
        .is_err());
    assert!(s
        .server()
        .publish("999", &["news"], "e", "{}", None)
        .is_err());
}

#[tokio::test]
async fn path_prefix_applies_to_every_route() {
    let mut cfg = config();
    cfg.path_prefix = "/realtime".into();
    let s = start(cfg).await;
    let addr = s.local_addr();
    let mut c = Socket::open(format!("ws://{addr}/realtime/app/{KEY}?protocol=7")).await;
    assert_eq!(c.recv().await["event"], "pusher:connection_established");
    let (st, _) = rest(
        addr,
        "GET",
        &format!("/realtime/apps/{ID}/channels"),
        None,
        &[],
    )
    .await;
    assert_eq!(st, 200);
    let up = reqwest::get(format!("http://{addr}/realtime/up"))
        .await
        .unwrap();
    assert_eq!(up.status().as_u16(), 200);
}
