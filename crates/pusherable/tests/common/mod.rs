//! A small app on the web layer, and helpers to serve it, call it, and subscribe through it.
#![allow(dead_code, unreachable_pub, clippy::unwrap_used)]

use std::net::SocketAddr;

use axum::{
    extract::Path,
    http::{request::Parts, StatusCode},
    response::{Html, IntoResponse, Redirect},
    routing::{get, post},
    Router,
};
use pusherable::{Access, Notify, ObjectChannel, Profile, Pusherable, Realtime};
use pusherable_test_support::{data, Socket};
use serde_json::Value;

/// A model with a field left out and a secret one.
#[derive(serde::Serialize, Pusherable)]
#[pusherable(exclude(body))]
pub struct Article {
    pub id: u64,
    pub title: String,
    pub body: String,
    #[pusherable(secret)]
    pub notes: String,
}

impl Article {
    pub fn new(id: u64) -> Self {
        Article {
            id,
            title: format!("Story {id}"),
            body: "Long text".into(),
            notes: "do not leak".into(),
        }
    }
}

/// A presence model in a namespace.
#[derive(serde::Serialize, Pusherable)]
#[pusherable(presence, namespace = "desk")]
pub struct Room {
    pub id: String,
}

/// A model whose key makes no valid channel.
#[derive(serde::Serialize, Pusherable)]
pub struct Broken {
    pub id: String,
}

/// Users come from an `x-user` header; carol may see nothing.
pub struct Users;

impl Access for Users {
    type User = String;

    async fn user(&self, request: &Parts) -> Option<String> {
        let name = request.headers.get("x-user")?.to_str().ok()?;
        Some(name.to_owned())
    }

    fn profile(&self, user: &String) -> Profile {
        let mut name = user.clone();
        if let Some(first) = name.get_mut(..1) {
            first.make_ascii_uppercase();
        }
        Profile::new(user).name(name)
    }

    async fn may_see(&self, user: &String, object: &ObjectChannel) -> bool {
        user != "carol" && (object.is::<Article>() || object.is::<Room>())
    }
}

pub fn app(realtime: &Realtime<Users>) -> Router {
    Router::new()
        .route("/articles/{id}", get(view))
        .route("/articles/{id}/edit", get(edit).post(save))
        .route("/articles/{id}/delete", get(confirm_delete).post(delete))
        .route("/articles/{id}/publish", post(publish))
        .route("/articles/{id}/crash", get(crash))
        .route("/rooms/{id}", get(room))
        .route("/broken", get(broken))
        .route("/huge", get(huge))
        .merge(realtime.routes())
        .layer(realtime.layer())
}

async fn view(Path(id): Path<u64>) -> impl IntoResponse {
    (Notify::view(&Article::new(id)), Html("<h1>view</h1>"))
}

async fn edit(Path(id): Path<u64>) -> impl IntoResponse {
    (Notify::update(&Article::new(id)), Html("<form>edit</form>"))
}

/// A save: an empty body is a validation error (422, nothing fires), else a redirect.
async fn save(Path(id): Path<u64>, body: String) -> axum::response::Response {
    let article = Article::new(id);
    if body.is_empty() {
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            Notify::updated(&article),
            Html("<p>title is required</p>"),
        )
            .into_response()
    } else {
        (
            Notify::updated(&article),
            Redirect::to(&format!("/articles/{id}")),
        )
            .into_response()
    }
}

async fn confirm_delete(Path(id): Path<u64>) -> impl IntoResponse {
    (Notify::delete(&Article::new(id)), Html("<p>sure?</p>"))
}

async fn delete(Path(id): Path<u64>) -> impl IntoResponse {
    (Notify::deleted(&Article::new(id)), Redirect::to("/"))
}

async fn publish(Path(id): Path<u64>) -> impl IntoResponse {
    let article = Article::new(id);
    (
        Notify::custom("published", &article),
        Notify::view(&article),
        "ok",
    )
}

async fn crash(Path(id): Path<u64>) -> impl IntoResponse {
    (
        StatusCode::INTERNAL_SERVER_ERROR,
        Notify::update(&Article::new(id)),
        "boom",
    )
}

async fn room(Path(id): Path<String>) -> impl IntoResponse {
    (Notify::view(&Room { id }), "room")
}

async fn broken() -> impl IntoResponse {
    (
        Notify::view(&Broken {
            id: "has a space".into(),
        }),
        "still fine",
    )
}

async fn huge() -> impl IntoResponse {
    let mut article = Article::new(9);
    article.title = "x".repeat(20_000);
    (Notify::view(&article), "still fine")
}

/// Serves `app` on a free loopback port.
pub async fn serve(app: Router) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    addr
}

pub fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// `GET http://{addr}{path}` as `user` (anonymous for `None`).
pub async fn get_as(addr: SocketAddr, path: &str, user: Option<&str>) -> reqwest::Response {
    let mut req = http().get(format!("http://{addr}{path}"));
    if let Some(user) = user {
        req = req.header("x-user", user);
    }
    req.send().await.unwrap()
}

/// Asks the app's channel authorization endpoint, as pusher-js does.
pub async fn authorize(
    addr: SocketAddr,
    user: Option<&str>,
    socket_id: &str,
    channel: &str,
) -> reqwest::Response {
    let mut req = http()
        .post(format!("http://{addr}/pusherable/auth"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("socket_id={socket_id}&channel_name={channel}"));
    if let Some(user) = user {
        req = req.header("x-user", user);
    }
    req.send().await.unwrap()
}

/// Subscribes `socket` to `channel` with the auth that `app`'s endpoint gives `user`, as
/// pusher-js does, checks that the server accepted it, and gives the server's answer.
pub async fn subscribe_as(
    socket: &mut Socket,
    app: SocketAddr,
    user: &str,
    channel: &str,
) -> Value {
    let answer = authorize(app, Some(user), &socket.socket_id, channel).await;
    socket.subscribe_authorized(channel, answer).await
}

/// The next notification on `socket` (a channel event) as (channel, event, data), with its
/// `data` parsed.
pub async fn notification(socket: &mut Socket) -> (String, String, Value) {
    let frame = socket.next_event().await;
    (
        frame["channel"].as_str().unwrap_or_default().to_owned(),
        frame["event"].as_str().unwrap_or_default().to_owned(),
        data(&frame),
    )
}
