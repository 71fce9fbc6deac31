//! `POST /apps/{id}/users/{user_id}/terminate_connections` (and the PyPI library's path).

use axum::{extract::Path, Json};
use serde::Deserialize;
use serde_json::{json, Value};

use super::{RestError, Signed};
use crate::fanout;

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
    fanout::terminate(&app, &user_id);
    Ok(Json(json!({})))
}
