//! The authorization endpoints: who may subscribe, what they are told, and what is refused.
#![allow(clippy::unwrap_used)]

mod common;

use common::{app, authorize, serve, subscribe_as, Users};
use pusherable::{server::Server, Backend, Realtime};
use pusherable_protocol::sign;
use pusherable_test_support::{config, Socket, ID, KEY, SECRET};
use serde_json::{json, Value};

/// The embedded server with known credentials, so that signatures can be checked here.
async fn start() -> std::net::SocketAddr {
    let backend = Backend::embedded(Server::new(config()).unwrap(), ID).unwrap();
    let realtime = Realtime::builder(Users).backend(backend).build().unwrap();
    serve(app(&realtime)).await
}

#[tokio::test]
async fn a_user_who_may_see_the_object_gets_a_valid_signature() {
    let addr = start().await;
    let res = authorize(addr, Some("bob"), "1234.1234", "private-article-1").await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["cache-control"], "no-store");
    let body: Value = res.json().await.unwrap();
    assert_eq!(
        body,
        json!({"auth": sign::channel_auth(KEY, SECRET, "1234.1234", "private-article-1", None)})
    );
}

#[tokio::test]
async fn presence_channels_carry_the_profile_as_signed_channel_data() {
    let addr = start().await;
    let res = authorize(addr, Some("ada"), "1.2", "presence-desk.room-x").await;
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.unwrap();
    let channel_data = body["channel_data"].as_str().unwrap();
    assert_eq!(
        serde_json::from_str::<Value>(channel_data).unwrap(),
        json!({"user_id": "ada", "user_info": {"name": "Ada"}})
    );
    let sts = sign::channel_string_to_sign("1.2", "presence-desk.room-x", Some(channel_data));
    sign::verify_auth(KEY, SECRET, body["auth"].as_str().unwrap(), &sts).unwrap();
}

#[tokio::test]
async fn refusals_have_the_status_pusher_js_expects() {
    let addr = start().await;
    let cases = [
        // may_see says no
        (Some("carol"), "1.2", "private-article-1", 403),
        // nobody signed in
        (None, "1.2", "private-article-1", 403),
        // not an object channel, or a model the app does not authorize
        (Some("bob"), "1.2", "private-chat", 403),
        (Some("bob"), "1.2", "private-comment-1", 403),
        (Some("bob"), "1.2", "private-encrypted-article-1", 403),
        // the right model, but on a channel kind it does not have
        (Some("bob"), "1.2", "presence-article-1", 403),
        // malformed requests
        (Some("bob"), "1.2.3", "private-article-1", 400),
        (Some("bob"), "", "private-article-1", 400),
        (Some("bob"), "1.2", "article-1", 400),
    ];
    for (user, socket, channel, status) in cases {
        let res = authorize(addr, user, socket, channel).await;
        assert_eq!(res.status(), status, "{user:?} {socket} {channel}");
        let body: Value = res.json().await.unwrap();
        assert!(body["error"].is_string(), "{body}");
    }
    // Missing fields and an oversized body.
    let http = common::http();
    for body in [
        "channel_name=private-article-1",
        "socket_id=1.2",
        &"x".repeat(10_000),
    ] {
        let res = http
            .post(format!("http://{addr}/pusherable/auth"))
            .header("x-user", "bob")
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body.to_owned())
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 400, "{}", &body[..body.len().min(40)]);
    }
}

#[tokio::test]
async fn json_bodies_are_accepted_too() {
    let addr = start().await;
    let res = common::http()
        .post(format!("http://{addr}/pusherable/auth"))
        .header("x-user", "bob")
        .json(&json!({"socket_id": "1234.1234", "channel_name": "private-article-1"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
}

#[tokio::test]
async fn the_server_accepts_what_the_endpoint_signs_and_nothing_else() {
    let addr = start().await;
    let mut bob = Socket::connect(addr).await;
    subscribe_as(&mut bob, addr, "bob", "private-article-1").await;

    // A signature for another socket is refused by the server.
    let mut eve = Socket::connect(addr).await;
    let res = authorize(addr, Some("bob"), &bob.socket_id, "private-article-2").await;
    let auth: Value = res.json().await.unwrap();
    let reply = eve
        .request_subscription_with_auth("private-article-2", auth["auth"].as_str().unwrap(), None)
        .await;
    assert_eq!(reply["event"], "pusher:subscription_error", "{reply}");
}

#[tokio::test]
async fn user_authentication_signs_the_profile() {
    let addr = start().await;
    let http = common::http();
    let res = http
        .post(format!("http://{addr}/pusherable/user-auth"))
        .header("x-user", "ada")
        .header("content-type", "application/x-www-form-urlencoded")
        .body("socket_id=1234.1234")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.unwrap();
    let user_data = body["user_data"].as_str().unwrap();
    assert_eq!(
        serde_json::from_str::<Value>(user_data).unwrap(),
        json!({"id": "ada", "user_info": {"name": "Ada"}})
    );
    assert_eq!(
        body["auth"],
        sign::user_auth(KEY, SECRET, "1234.1234", user_data)
    );

    let res = http
        .post(format!("http://{addr}/pusherable/user-auth"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("socket_id=1234.1234")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
}
