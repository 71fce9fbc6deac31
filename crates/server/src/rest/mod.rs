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
    extract::{DefaultBodyLimit, OriginalUri, RawQuery},
    http::{Method, StatusCode},
    response::{IntoResponse, Response},
    routing, Json, Router,
};
use pusherable_protocol::{rest::ErrorBody, sign};

use crate::{metrics::Metrics, trigger::TriggerError, App, Server};

/// Largest REST body read; a batch of ten 10 KB events fits with room to spare.
const BODY_LIMIT: usize = 1024 * 1024;

pub(crate) fn routes(prefix: &str) -> Router<Server> {
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
            routing::post(users::terminate_by_key),
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

/// What every REST handler needs to check a request's signature.
pub(crate) struct SignedRequest<'a> {
    pub(crate) method: &'a Method,
    pub(crate) uri: &'a OriginalUri,
    pub(crate) query: &'a RawQuery,
    pub(crate) body: &'a [u8],
}

impl SignedRequest<'_> {
    /// The decoded query parameters.
    pub(crate) fn params(&self) -> Vec<(String, String)> {
        let raw = self.query.0.as_deref().unwrap_or("");
        form_urlencoded::parse(raw.as_bytes())
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect()
    }

    /// Finds the app and checks the signature over the path as the client sent it.
    pub(crate) fn verify(
        &self,
        server: &Server,
        app_id: &str,
    ) -> Result<(Arc<App>, Params), RestError> {
        let app = server.app_by_id(app_id).ok_or(TriggerError::UnknownApp)?;
        self.verify_for(app)
    }

    /// Like [`SignedRequest::verify`], for routes without an app id: the app is the one whose
    /// key is `auth_key`.
    pub(crate) fn verify_by_key(&self, server: &Server) -> Result<(Arc<App>, Params), RestError> {
        let app = param(&self.params(), "auth_key")
            .and_then(|key| server.app_by_key(key))
            .ok_or(sign::RestAuthError::UnknownKey)?;
        self.verify_for(app)
    }

    fn verify_for(&self, app: Arc<App>) -> Result<(Arc<App>, Params), RestError> {
        Metrics::add(&app.metrics.rest_requests, 1);
        if !app
            .rest_rate
            .allow((), app.config.max_rest_requests_per_second)
        {
            return Err(RestError {
                status: StatusCode::TOO_MANY_REQUESTS,
                message: "Too many requests for this app".into(),
            });
        }
        let params = self.params();
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        sign::verify_rest(
            &app.config.key,
            &app.config.secret,
            self.method.as_str(),
            self.uri.0.path(),
            &params,
            self.body,
            now,
        )?;
        if !app.config.enabled {
            return Err(TriggerError::AppDisabled.into());
        }
        Ok((app, params))
    }
}

/// The value of a query parameter.
pub(crate) fn param<'a>(params: &'a [(String, String)], name: &str) -> Option<&'a str> {
    params
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}
