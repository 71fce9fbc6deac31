//! The HTTP REST API (PROTOCOL.md §5): routes, the signature check, and errors that know
//! their status.

mod channels;
mod events;
mod users;

use std::{
    borrow::Cow,
    sync::Arc,
    time::{SystemTime, UNIX_EPOCH},
};

use axum::{
    body::Bytes,
    extract::{FromRequest, FromRequestParts, OriginalUri, RawPathParams, Request},
    http::{StatusCode, Uri},
    response::{IntoResponse, Response},
    routing, Json, Router,
};
use http_body_util::{BodyExt as _, LengthLimitError, Limited};
use pusherable_protocol::{rest::ErrorBody, sign};

use crate::{app::App, metrics::Metrics, node::Node, trigger::TriggerError};

/// Largest REST body read; a batch of ten 10 KB events fits with room to spare.
///
/// [`Signed`] enforces it as it reads the body, the only place a body is read. (A
/// `DefaultBodyLimit` layer on the routes would cost every request a boxed service and a
/// request extension.)
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

    /// The body could not be read: larger than [`BODY_LIMIT`] (413), or the connection failed.
    fn unreadable_body(e: &(dyn std::error::Error + 'static)) -> Self {
        RestError {
            status: if e.is::<LengthLimitError>() {
                StatusCode::PAYLOAD_TOO_LARGE
            } else {
                StatusCode::BAD_REQUEST
            },
            message: format!("Failed to buffer the request body: {e}"),
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

/// A REST request whose signature checked out: the extractor every handler starts with.
///
/// The app is the one named by `{app_id}` in the route, or, on the PyPI library's path without
/// an app id, the one whose key is `auth_key`. The signature covers the path as the client
/// sent it (with any prefix), the decoded query and the body exactly as received. A refusal is
/// a [`RestError`] that knows its status (401, 403, 404, 413, 429). Only requests whose
/// signature checks out count against the app's rate limit.
pub(crate) struct Signed {
    pub(crate) app: Arc<App>,
    /// The URI as sent, for the handler's own query parameters (`info`, `filter_by_prefix`):
    /// they are decoded again when asked for rather than copied for every request.
    uri: Uri,
    pub(crate) body: Bytes,
}

impl Signed {
    /// The decoded value of a query parameter.
    pub(crate) fn param(&self, name: &str) -> Option<Cow<'_, str>> {
        form_urlencoded::parse(self.uri.query().unwrap_or("").as_bytes())
            .find(|(k, _)| k == name)
            .map(|(_, v)| v)
    }
}

impl FromRequest<Arc<Node>> for Signed {
    type Rejection = RestError;

    async fn from_request(req: Request, node: &Arc<Node>) -> Result<Self, RestError> {
        let (mut parts, body) = req.into_parts();
        // The URI as the client sent it, prefix included: what it signed.
        let uri = match parts.extensions.remove::<OriginalUri>() {
            Some(OriginalUri(uri)) => uri,
            None => parts.uri.clone(),
        };
        let params = params(&uri);
        let app = {
            let path_params = RawPathParams::from_request_parts(&mut parts, node)
                .await
                .ok();
            let app_id = path_params
                .as_ref()
                .and_then(|p| p.iter().find(|(k, _)| *k == "app_id").map(|(_, v)| v));
            match app_id {
                Some(id) => node
                    .app_by_id(id)
                    .cloned()
                    .ok_or(TriggerError::UnknownApp)?,
                None => param(&params, "auth_key")
                    .and_then(|key| node.app_by_key(key).cloned())
                    .ok_or(sign::RestAuthError::UnknownKey)?,
            }
        };
        let method = parts.method.clone();
        let body = match Limited::new(body, BODY_LIMIT).collect().await {
            Ok(body) => body.to_bytes(),
            Err(e) => return Err(RestError::unreadable_body(&*e)),
        };
        Metrics::add(&app.metrics.rest_requests, 1);
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let (key, secret) = (&app.config.key, &app.config.secret);
        sign::verify_rest(
            key,
            secret,
            method.as_str(),
            uri.path(),
            &params,
            &body,
            now,
        )?;
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
        // The parameters borrow the URI, which the handler gets.
        drop(params);
        Ok(Signed { app, uri, body })
    }
}

/// The query parameters of `uri`, decoded as `application/x-www-form-urlencoded`, in the
/// order received.
///
/// A part with nothing to decode (no `%`, no `+`), as most of a signed query is, is borrowed
/// from the URI; the others go through `form_urlencoded`, which decides what they mean.
fn params(uri: &Uri) -> Vec<(Cow<'_, str>, Cow<'_, str>)> {
    let query = uri.query().unwrap_or("");
    // A signed query has 5 parameters, 6 with a body.
    let mut params = Vec::with_capacity(8);
    for pair in query.split('&').filter(|pair| !pair.is_empty()) {
        if pair.bytes().any(|b| b == b'%' || b == b'+') {
            params.extend(form_urlencoded::parse(pair.as_bytes()).next());
        } else {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            params.push((Cow::Borrowed(k), Cow::Borrowed(v)));
        }
    }
    params
}

/// The value of a query parameter.
fn param<'a>(params: &'a [(Cow<'_, str>, Cow<'_, str>)], name: &str) -> Option<&'a str> {
    params
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_ref())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn params_decode_like_form_urlencoded() {
        for query in [
            "",
            "a=1&b=2",
            "auth_key=k&auth_version=1%2E0&info=user_count%2Csubscription_count",
            "a=x+y&b=%E2%82%AC&c=%ZZ&d=%ff",
            "&&a&=v&b==c&&",
            "filter_by_prefix=presence-&info=",
            "a=&=&k=v&",
            "%&+&a%=b&c=%",
        ] {
            let uri: Uri = format!("/apps/1/channels?{query}").parse().unwrap();
            let expected: Vec<_> = form_urlencoded::parse(query.as_bytes()).collect();
            assert_eq!(params(&uri), expected, "{query}");
        }
    }
}
