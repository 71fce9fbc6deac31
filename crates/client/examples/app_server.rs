//! A minimal app server for pusher-js, built on `pusherable-client`.
//!
//! It answers pusher-js's auth requests and triggers events, which is all a browser app needs
//! from its own server besides pages:
//!
//! - `POST /pusher/auth`: channel authorization. Form fields `socket_id`, `channel_name`, and
//!   for presence channels `user_id` and `user_name`.
//! - `POST /pusher/user-auth`: user sign-in. Form fields `socket_id` and `user_id`.
//! - `POST /trigger`: JSON `{"channels": […], "event": "…", "data": …}`, sent on with
//!   [`Client::trigger`] (encrypted on `private-encrypted-` channels).
//!
//! **It authorizes everyone**: a real app checks its own session before signing anything.
//!
//! Configuration comes from the environment:
//!
//! - `PUSHER_URL`: `http://KEY:SECRET@HOST:PORT/apps/ID` (required).
//! - `PUSHER_ENCRYPTION_MASTER_KEY_BASE64`: the master key, for encrypted channels.
//! - `APP_PORT`: the port to listen on (default: a free one).
//!
//! Once it listens, it prints `app server listening on http://127.0.0.1:PORT`.
//!
//! ```text
//! PUSHER_URL=http://278d425bdf160c739803:7ad3773142a6692b25b8@127.0.0.1:6001/apps/3 \
//!   cargo run -p pusherable-client --example app_server
//! ```

use std::{collections::HashMap, error::Error as StdError};

use axum::{
    extract::State,
    http::StatusCode,
    response::{IntoResponse, Response},
    routing::post,
    Form, Json, Router,
};
use pusherable_client::{Client, ClientBuilder, Error, ErrorKind, PresenceMember};
use serde::Deserialize;
use serde_json::{json, Value};

#[derive(Deserialize)]
struct TriggerRequest {
    channels: Vec<String>,
    event: String,
    data: Value,
}

/// Authorizes any channel for any socket (see the note at the top).
async fn authorize(
    State(client): State<Client>,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let field = |name: &str| form.get(name).map(String::as_str).unwrap_or_default();
    let channel = field("channel_name");
    let member = channel
        .starts_with("presence-")
        .then(|| PresenceMember::new(field("user_id")).info(json!({"name": field("user_name")})));
    match client.authorize_channel(field("socket_id"), channel, member.as_ref()) {
        Ok(auth) => Json(auth).into_response(),
        // pusher-js reports any non-200 answer as a subscription error; 403 means "denied".
        Err(e) => (StatusCode::FORBIDDEN, e.to_string()).into_response(),
    }
}

async fn authenticate(
    State(client): State<Client>,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let socket_id = form
        .get("socket_id")
        .map(String::as_str)
        .unwrap_or_default();
    let user_id = form.get("user_id").map(String::as_str).unwrap_or_default();
    match client.authenticate_user(socket_id, &json!({ "id": user_id })) {
        Ok(auth) => Json(auth).into_response(),
        Err(e) => (StatusCode::FORBIDDEN, e.to_string()).into_response(),
    }
}

async fn trigger(State(client): State<Client>, Json(request): Json<TriggerRequest>) -> Response {
    match client
        .trigger(&request.channels, &request.event, &request.data)
        .await
    {
        Ok(()) => Json(json!({})).into_response(),
        Err(e) => (status_of(&e), e.to_string()).into_response(),
    }
}

/// The caller's mistakes are 400; the Pusher server's answers pass through; the rest is 502.
fn status_of(e: &Error) -> StatusCode {
    match e.kind() {
        ErrorKind::InvalidInput => StatusCode::BAD_REQUEST,
        _ => e
            .status()
            .and_then(|s| StatusCode::from_u16(s).ok())
            .unwrap_or(StatusCode::BAD_GATEWAY),
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn StdError>> {
    let url = std::env::var("PUSHER_URL")
        .map_err(|_| "PUSHER_URL must be set, as http://KEY:SECRET@HOST:PORT/apps/ID")?;
    let mut builder = ClientBuilder::from_url(&url)?;
    if let Ok(key) = std::env::var("PUSHER_ENCRYPTION_MASTER_KEY_BASE64") {
        builder = builder.encryption_master_key_base64(&key);
    }
    let client = builder.build()?;
    let port: u16 = std::env::var("APP_PORT")
        .ok()
        .map(|p| p.parse())
        .transpose()?
        .unwrap_or(0);

    let app = Router::new()
        .route("/pusher/auth", post(authorize))
        .route("/pusher/user-auth", post(authenticate))
        .route("/trigger", post(trigger))
        .with_state(client);
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    println!("app server listening on http://{}", listener.local_addr()?);
    axum::serve(listener, app).await?;
    Ok(())
}
