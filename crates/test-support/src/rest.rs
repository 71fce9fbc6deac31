//! Signed calls to the HTTP API, as the official server libraries make them.

use std::{
    net::SocketAddr,
    time::{SystemTime, UNIX_EPOCH},
};

use pusherable_protocol::sign;
use serde_json::{json, Value};

use crate::{ID, KEY, SECRET};

/// Unix time now, in seconds: the `auth_timestamp` of a fresh request.
pub fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("the clock is past 1970")
        .as_secs()
}

/// A REST call signed for the test app; gives the status and the body, parsed when it is
/// JSON and as a JSON string otherwise.
///
/// `extra` are the call's own query parameters (`info`, `filter_by_prefix`), unescaped.
/// A `GET` sends no body.
pub async fn rest(
    addr: SocketAddr,
    method: &str,
    path: &str,
    body: Option<&Value>,
    extra: &[(&str, &str)],
) -> (u16, Value) {
    let body = body.map(Value::to_string);
    rest_raw(addr, method, path, body.as_deref(), extra, SECRET).await
}

/// [`rest`] with the body sent as it is, not JSON-encoded, and signed with `secret`: for
/// bodies that are not JSON and signatures the server must refuse.
pub async fn rest_raw(
    addr: SocketAddr,
    method: &str,
    path: &str,
    body: Option<&str>,
    extra: &[(&str, &str)],
    secret: &str,
) -> (u16, Value) {
    let body = body.unwrap_or_default();
    let query = sign::signed_query(KEY, secret, method, path, body.as_bytes(), now(), extra);
    let client = reqwest::Client::new();
    let url = format!("http://{addr}{path}");
    let request = match method {
        "GET" => client.get(url),
        _ => client
            .post(url)
            .header("content-type", "application/json")
            .body(body.to_owned()),
    };
    let response = request
        .query(&query)
        .send()
        .await
        .expect("the server answers");
    let status = response.status().as_u16();
    let text = response.text().await.expect("a readable body");
    let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
    (status, body)
}

/// Triggers `event` with `data` on `channels` of the test app over REST.
pub async fn trigger(addr: SocketAddr, channels: &[&str], event: &str, data: &str) -> (u16, Value) {
    post_events(
        addr,
        &json!({"name": event, "channels": channels, "data": data}),
    )
    .await
}

/// Posts `body` to the test app's `/events`, for triggers with more than [`trigger`] sends
/// (`channel`, `socket_id`, `info`, data that is not a string).
pub async fn post_events(addr: SocketAddr, body: &Value) -> (u16, Value) {
    rest(addr, "POST", &format!("/apps/{ID}/events"), Some(body), &[]).await
}
