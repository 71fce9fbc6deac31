//! `POST /apps/{id}/users/{user_id}/terminate_connections` (and the PyPI library's path).

use axum::{extract::Path, Json};
use pusherable_protocol::CloseCode;
use serde::Deserialize;
use serde_json::{json, Value};

use super::{RestError, Signed};

#[derive(Deserialize)]
pub(super) struct UserPath {
    user_id: String,
}

/// Serves both routes: with `/apps/{id}`, and the PyPI library's path without it, where
/// [`Signed`] finds the app by its key.
pub(super) async fn terminate(
    Path(UserPath { user_id }): Path<UserPath>,
    Signed { app, .. }: Signed,
) -> Result<Json<Value>, RestError> {
    // 4009: pusher-js does not reconnect on its own; the app decides when the user comes back.
    app.users.terminate(&user_id, CloseCode::Unauthorized);
    Ok(Json(json!({})))
}
