//! `POST /apps/{id}/users/{user_id}/terminate_connections` (and the PyPI library's path).

use axum::{
    body::Bytes,
    extract::{OriginalUri, Path, RawQuery, State},
    http::Method,
    Json,
};
use pusherable_protocol::CloseCode;
use serde_json::{json, Value};

use super::{RestError, SignedRequest};
use crate::Server;

pub(super) async fn terminate(
    State(server): State<Server>,
    Path((app_id, user_id)): Path<(String, String)>,
    method: Method,
    uri: OriginalUri,
    query: RawQuery,
    body: Bytes,
) -> Result<Json<Value>, RestError> {
    let req = SignedRequest {
        method: &method,
        uri: &uri,
        query: &query,
        body: &body,
    };
    let (app, _) = req.verify(&server, &app_id)?;
    // 4009: pusher-js does not reconnect on its own; the app decides when the user comes back.
    app.users.terminate(&user_id, CloseCode::Unauthorized);
    Ok(Json(json!({})))
}

pub(super) async fn terminate_by_key(
    State(server): State<Server>,
    Path(user_id): Path<String>,
    method: Method,
    uri: OriginalUri,
    query: RawQuery,
    body: Bytes,
) -> Result<Json<Value>, RestError> {
    let req = SignedRequest {
        method: &method,
        uri: &uri,
        query: &query,
        body: &body,
    };
    let (app, _) = req.verify_by_key(&server)?;
    app.users.terminate(&user_id, CloseCode::Unauthorized);
    Ok(Json(json!({})))
}
