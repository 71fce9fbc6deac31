//! The HTTP REST API (PROTOCOL.md §5): routes, the signature check, and errors that know
//! their status.

mod channels;
mod events;
mod users;

use std::{
    sync::Arc,
    time::{SystemTime, UNIX_EPOCH},
};

use axum::{
    body::Bytes,
    extract::{
        DefaultBodyLimit, FromRequest, FromRequestParts, OriginalUri, RawPathParams, Request,
    },
    http::StatusCode,
    response::{IntoResponse, Response},
    routing, Json, Router,
};
use pusherable_protocol::{rest::ErrorBody, sign};

use crate::{app::App, metrics::Metrics, node::Node, trigger::TriggerError};

/// Largest REST body read; a batch of ten 10 KB events fits with room to spare.
const BODY_LIMIT: usize = 1024 * 1024;

pub(crate) fn routes(prefix: &str) -> Router<Arc<Node>> {
    Router::new()
        .route(
            &format!("{prefix}/apps/{{app_id}}/events"),
            routing::post(events::trigger),
        )
        .route(
            &format!("{prefix}/apps/{{app_id}}/batch_events"),
            routing::post(events::batch),
        )
        .route(
            &format!("{prefix}/apps/{{app_id}}/channels"),
            routing::get(channels::list),
        )
        .route(
            &format!("{prefix}/apps/{{app_id}}/channels/{{channel}}"),
            routing::get(channels::show),
        )
        .route(
            &format!("{prefix}/apps/{{app_id}}/channels/{{channel}}/users"),
            routing::get(channels::users),
        )
        .route(
            &format!("{prefix}/apps/{{app_id}}/users/{{user_id}}/terminate_connections"),
            routing::post(users::terminate),
        )
        // The PyPI library (3.3.4) posts here, without `/apps/{id}`: the app is found by key.
        .route(
            &format!("{prefix}/users/{{user_id}}/terminate_connections"),
            routing::post(users::terminate),
        )
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
}

/// A REST failure: its status and a sentence for the caller, sent as `{"error":…,"code":…}`.
#[derive(Debug)]
pub(crate) struct RestError {
    status: StatusCode,
    message: String,
}

impl RestError {
    pub(crate) fn bad_request(message: impl Into<String>) -> Self {
        RestError {
            status: StatusCode::BAD_REQUEST,
            message: message.into(),
        }
    }
}

impl IntoResponse for RestError {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            error: self.message,
            code: self.status.as_u16(),
        };
        (self.status, Json(body)).into_response()
    }
}

impl From<TriggerError> for RestError {
    fn from(e: TriggerError) -> Self {
        let status = match e {
            TriggerError::UnknownApp => StatusCode::NOT_FOUND,
            TriggerError::AppDisabled => StatusCode::FORBIDDEN,
            TriggerError::BadRequest(_) => StatusCode::BAD_REQUEST,
            TriggerError::TooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
        };
        RestError {
            status,
            message: e.to_string(),
        }
    }
}

impl From<sign::RestAuthError> for RestError {
    fn from(e: sign::RestAuthError) -> Self {
        RestError {
            status: StatusCode::UNAUTHORIZED,
            message: e.to_string(),
        }
    }
}

/// Decoded query parameters, in the order received.
pub(crate) type Params = Vec<(String, String)>;

/// A REST request whose signature checked out: the extractor every handler starts with.
///
/// The app is the one named by `{app_id}` in the route, or, on the PyPI library's path without
/// an app id, the one whose key is `auth_key`. The signature covers the path as the client
/// sent it (with any prefix), the decoded query and the body exactly as received. A refusal is
/// a [`RestError`] that knows its status (401, 403, 404, 413, 429). Only requests whose
/// signature checks out count against the app's rate limit.
pub(crate) struct Signed {
    pub(crate) app: Arc<App>,
    pub(crate) params: Params,
    pub(crate) body: Bytes,
}

impl FromRequest<Arc<Node>> for Signed {
    type Rejection = RestError;

    async fn from_request(req: Request, node: &Arc<Node>) -> Result<Self, RestError> {
        let (mut parts, body) = req.into_parts();
        let path = parts
            .extensions
            .get::<OriginalUri>()
            .map_or_else(|| parts.uri.path().to_owned(), |o| o.0.path().to_owned());
        let raw_query = parts.uri.query().unwrap_or("").to_owned();
        let params: Params = form_urlencoded::parse(raw_query.as_bytes())
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        let app_id = RawPathParams::from_request_parts(&mut parts, node)
            .await
            .ok()
            .and_then(|p| {
                p.iter()
                    .find(|(k, _)| *k == "app_id")
                    .map(|(_, v)| v.to_owned())
            });
        let app = match app_id {
            Some(id) => node
                .app_by_id(&id)
                .cloned()
                .ok_or(TriggerError::UnknownApp)?,
            None => param(&params, "auth_key")
                .and_then(|key| node.app_by_key(key).cloned())
                .ok_or(sign::RestAuthError::UnknownKey)?,
        };
        let method = parts.method.clone();
        let body = Bytes::from_request(Request::from_parts(parts, body), node)
            .await
            .map_err(|e| RestError {
                status: e.status(),
                message: e.body_text(),
            })?;
        Metrics::add(&app.metrics.rest_requests, 1);
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let (key, secret) = (&app.config.key, &app.config.secret);
        sign::verify_rest(key, secret, method.as_str(), &path, &params, &body, now)?;
        // Counted only once signed: anyone can send unsigned requests, and they must not use
        // up the quota of the app's own backend.
        if !app
            .rest_rate
            .allow((), app.config.max_rest_requests_per_second)
        {
            return Err(RestError {
                status: StatusCode::TOO_MANY_REQUESTS,
                message: "Too many requests for this app".into(),
            });
        }
        if !app.config.enabled {
            return Err(TriggerError::AppDisabled.into());
        }
        Ok(Signed { app, params, body })
    }
}

/// The value of a query parameter.
pub(crate) fn param<'a>(params: &'a [(String, String)], name: &str) -> Option<&'a str> {
    params
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}
