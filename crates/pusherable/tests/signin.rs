//! User authentication with a watchlist: what the endpoint signs, and what signed-in pages
//! hear of each other.
#![allow(clippy::unwrap_used)]

mod common;

use common::serve;
use http::request::Parts;
use pusherable::{server::Server, Access, Backend, ObjectChannel, Profile, Realtime};
use pusherable_protocol::sign;
use pusherable_test_support::{config, Socket, ID, KEY, SECRET};
use serde_json::{json, Value};

/// Users from an `x-user` header, each following the ids in an `x-watch` header
/// (comma-separated), or a long list for `crowd`.
struct Watchers;

impl Access for Watchers {
    type User = (String, Vec<String>);

    async fn user(&self, request: &Parts) -> Option<Self::User> {
        let name = request.headers.get("x-user")?.to_str().ok()?.to_owned();
        let watch = match request.headers.get("x-watch") {
            Some(v) => v
                .to_str()
                .ok()?
                .split(',')
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect(),
            None => Vec::new(),
        };
        Some((name, watch))
    }

    fn profile(&self, user: &Self::User) -> Profile {
        Profile::new(&user.0).name(user.0.to_uppercase())
    }

    async fn may_see(&self, _: &Self::User, _: &ObjectChannel) -> bool {
        false
    }

    async fn watchlist(&self, user: &Self::User) -> Vec<String> {
        if user.0 == "crowd" {
            return (0..150).map(|i| format!("u{i}")).collect();
        }
        user.1.clone()
    }
}

async fn start() -> std::net::SocketAddr {
    let backend = Backend::embedded(Server::new(config()).unwrap(), ID).unwrap();
    let realtime = Realtime::builder(Watchers)
        .backend(backend)
        .build()
        .unwrap();
    serve(axum::Router::new().merge(realtime.routes())).await
}

/// Asks the user authentication endpoint as pusherable.js does.
async fn user_auth(
    addr: std::net::SocketAddr,
    user: &str,
    watch: &str,
    socket_id: &str,
) -> reqwest::Response {
    common::http()
        .post(format!("http://{addr}/pusherable/user-auth"))
        .header("x-user", user)
        .header("x-watch", watch)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("socket_id={socket_id}"))
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn the_watchlist_the_app_chooses_is_signed_with_the_profile() {
    let addr = start().await;
    let res = user_auth(addr, "ada", "bob,carol", "1234.1234").await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["cache-control"], "no-store");
    let body: Value = res.json().await.unwrap();
    let user_data = body["user_data"].as_str().unwrap();
    assert_eq!(
        serde_json::from_str::<Value>(user_data).unwrap(),
        json!({"id": "ada", "user_info": {"name": "ADA"}, "watchlist": ["bob", "carol"]})
    );
    assert_eq!(
        body["auth"],
        sign::user_auth(KEY, SECRET, "1234.1234", user_data)
    );

    // Following nobody signs no watchlist at all.
    let body: Value = user_auth(addr, "ada", "", "1234.1234")
        .await
        .json()
        .await
        .unwrap();
    let user_data: Value = serde_json::from_str(body["user_data"].as_str().unwrap()).unwrap();
    assert_eq!(user_data.get("watchlist"), None, "{user_data}");
}

#[tokio::test]
async fn a_watchlist_over_the_limit_keeps_its_first_100_ids() {
    let addr = start().await;
    let body: Value = user_auth(addr, "crowd", "", "1.2")
        .await
        .json()
        .await
        .unwrap();
    let user_data: Value = serde_json::from_str(body["user_data"].as_str().unwrap()).unwrap();
    let watched = user_data["watchlist"].as_array().unwrap();
    assert_eq!(watched.len(), 100);
    assert_eq!(watched[0], "u0");
    assert_eq!(watched[99], "u99");
}

#[tokio::test]
async fn signing_in_is_refused_without_a_user_or_a_valid_socket() {
    let addr = start().await;
    let http = common::http();
    let anonymous = http
        .post(format!("http://{addr}/pusherable/user-auth"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("socket_id=1.2")
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), 403);
    assert!(anonymous.json::<Value>().await.unwrap()["error"].is_string());
    assert_eq!(user_auth(addr, "ada", "bob", "1.2.3").await.status(), 400);
}

/// Signs `client` in through the endpoint, and returns the frames that follow the success.
async fn sign_in(
    addr: std::net::SocketAddr,
    client: &mut Socket,
    user: &str,
    watch: &str,
) -> Value {
    let auth: Value = user_auth(addr, user, watch, &client.socket_id)
        .await
        .json()
        .await
        .unwrap();
    let reply = client
        .sign_in_with_auth(
            auth["auth"].as_str().unwrap(),
            auth["user_data"].as_str().unwrap(),
        )
        .await;
    assert_eq!(reply["event"], "pusher:signin_success", "{reply}");
    reply
}

/// The next watchlist frame's events, as (name, ids) pairs.
async fn watchlist_events(client: &mut Socket) -> Vec<(String, Vec<String>)> {
    loop {
        let frame = client.recv().await;
        if frame["event"] != "pusher_internal:watchlist_events" {
            continue;
        }
        let data: Value = match &frame["data"] {
            Value::String(s) => serde_json::from_str(s).unwrap(),
            other => other.clone(),
        };
        return data["events"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| {
                let ids = e["user_ids"].as_array().unwrap();
                (
                    e["name"].as_str().unwrap().to_owned(),
                    ids.iter().map(|i| i.as_str().unwrap().to_owned()).collect(),
                )
            })
            .collect();
    }
}

#[tokio::test]
async fn signed_in_pages_hear_when_the_users_they_follow_come_and_go() {
    let addr = start().await;
    let mut ada = Socket::connect(addr).await;
    sign_in(addr, &mut ada, "ada", "bob").await;
    assert_eq!(
        watchlist_events(&mut ada).await,
        [("offline".to_owned(), vec!["bob".to_owned()])]
    );

    let mut bob = Socket::connect(addr).await;
    sign_in(addr, &mut bob, "bob", "ada").await;
    // Bob is told Ada is already here; Ada is told Bob arrived.
    assert_eq!(
        watchlist_events(&mut bob).await,
        [("online".to_owned(), vec!["ada".to_owned()])]
    );
    assert_eq!(
        watchlist_events(&mut ada).await,
        [("online".to_owned(), vec!["bob".to_owned()])]
    );

    drop(bob);
    assert_eq!(
        watchlist_events(&mut ada).await,
        [("offline".to_owned(), vec!["bob".to_owned()])]
    );
}
