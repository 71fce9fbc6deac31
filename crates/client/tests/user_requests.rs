//! The requests of `send_to_user` and `terminate_user_connections`, as a small HTTP endpoint
//! receives them: path, body and a signature that `pusherable_protocol::sign::verify_rest`
//! accepts.

use std::{
    sync::{Arc, Mutex},
    time::{SystemTime, UNIX_EPOCH},
};

use axum::{
    body::Bytes,
    extract::{OriginalUri, RawQuery, State},
    http::{Method, StatusCode},
    routing::post,
    Router,
};
use pusherable_client::Client;
use pusherable_protocol::sign::verify_rest;
use serde_json::{json, Value};

const KEY: &str = "278d425bdf160c739803";
const SECRET: &str = "7ad3773142a6692b25b8";

/// What the endpoint saw: path and JSON body of each request whose signature verified.
type Seen = Arc<Mutex<Vec<(String, Value)>>>;

async fn record(
    State(seen): State<Seen>,
    method: Method,
    OriginalUri(uri): OriginalUri,
    RawQuery(query): RawQuery,
    body: Bytes,
) -> (StatusCode, &'static str) {
    let params: Vec<(String, String)> =
        reqwest::Url::parse(&format!("http://x/?{}", query.unwrap_or_default()))
            .expect("any query makes a URL")
            .query_pairs()
            .into_owned()
            .collect();
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("the clock is after 1970")
        .as_secs();
    if verify_rest(
        KEY,
        SECRET,
        method.as_str(),
        uri.path(),
        &params,
        &body,
        now,
    )
    .is_err()
    {
        return (
            StatusCode::UNAUTHORIZED,
            r#"{"error":"bad signature","code":401}"#,
        );
    }
    let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    seen.lock()
        .expect("no test panicked while holding the lock")
        .push((uri.path().to_owned(), body));
    (StatusCode::OK, "{}")
}

async fn endpoint() -> (Client, Seen) {
    let seen = Seen::default();
    let app = Router::new()
        .route("/apps/3/events", post(record))
        .route("/apps/3/users/{id}/terminate_connections", post(record))
        .with_state(seen.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a free port");
    let addr = listener.local_addr().expect("a bound address");
    tokio::spawn(async move { axum::serve(listener, app).await });
    let client = Client::builder("3", KEY, SECRET)
        .host("127.0.0.1")
        .port(addr.port())
        .tls(false)
        .build()
        .expect("a valid configuration");
    (client, seen)
}

#[tokio::test]
async fn send_to_user_triggers_on_the_user_channel() {
    let (client, seen) = endpoint().await;
    client
        .send_to_user("user-42", "notice", &json!({"text": "Saved"}))
        .await
        .unwrap();
    let seen = seen.lock().unwrap();
    assert_eq!(
        *seen,
        [(
            "/apps/3/events".to_owned(),
            json!({"name": "notice", "data": r#"{"text":"Saved"}"#, "channels": ["#server-to-user-user-42"]})
        )]
    );
}

#[tokio::test]
async fn terminate_posts_an_empty_object_to_the_user_path() {
    let (client, seen) = endpoint().await;
    client.terminate_user_connections("user-42").await.unwrap();
    let seen = seen.lock().unwrap();
    assert_eq!(
        *seen,
        [(
            "/apps/3/users/user-42/terminate_connections".to_owned(),
            json!({})
        )]
    );
}

#[tokio::test]
async fn a_wrong_secret_is_refused_by_the_same_check() {
    let (client, _) = endpoint().await;
    let wrong = Client::builder("3", KEY, "wrong")
        .host("127.0.0.1")
        .port(client.endpoint().port().unwrap())
        .tls(false)
        .build()
        .unwrap();
    let err = wrong
        .terminate_user_connections("user-42")
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(401));
}
