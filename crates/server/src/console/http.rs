//! The console's routes: the page, the stream of entries, and the event creator.
//!
//! Every request but the page's own files names an app and carries
//! `Authorization: Bearer <the app's secret or console_token>`; anything else is a 401 that
//! changes nothing. The credentials never travel in a URL, where logs and history keep them.

use std::{convert::Infallible, sync::Arc};

use axum::{
    body::Bytes,
    extract::{DefaultBodyLimit, FromRequestParts, Path, State},
    http::{header, request::Parts, HeaderName, HeaderValue, StatusCode},
    response::{
        sse::{Event, KeepAlive, Sse},
        IntoResponse, Response,
    },
    routing, Json, Router,
};
use futures_util::{stream, StreamExt as _};
use pusherable_protocol::rest::{ErrorBody, TriggerBody, TriggerReply};

use super::Watch;
use crate::{app::App, config::AppConfig, fanout, guard, node::Node, rest::RestError, trigger};

/// Largest event creator body read: the REST API's limit.
const BODY_LIMIT: usize = 1024 * 1024;

const PAGE: &str = include_str!("console.html");
const SCRIPT: &str = include_str!("console.js");
const STYLE: &str = include_str!("console.css");

/// The page runs only its own script and style, and talks only to this server; no other site
/// may frame it.
const POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
    connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; \
    frame-ancestors 'none'";

pub(crate) fn routes(prefix: &str) -> Router<Arc<Node>> {
    // The configuration allows only plain path characters in the prefix (letters, digits and
    // /-._~), so it goes into the page as it is.
    let page = Bytes::from(PAGE.replace("{{prefix}}", prefix));
    Router::new()
        .route(
            &format!("{prefix}/console"),
            routing::get(move || {
                let page = page.clone();
                async move { file("text/html; charset=utf-8", page) }
            }),
        )
        .route(
            &format!("{prefix}/console/console.js"),
            routing::get(|| async { file("text/javascript; charset=utf-8", SCRIPT) }),
        )
        .route(
            &format!("{prefix}/console/console.css"),
            routing::get(|| async { file("text/css; charset=utf-8", STYLE) }),
        )
        .route(
            &format!("{prefix}/console/apps/{{app_id}}/stream"),
            routing::get(watch),
        )
        .route(
            &format!("{prefix}/console/apps/{{app_id}}/events"),
            routing::post(publish),
        )
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
}

fn file(content_type: &'static str, body: impl IntoResponse) -> Response {
    (
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(content_type)),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
            (
                header::CONTENT_SECURITY_POLICY,
                HeaderValue::from_static(POLICY),
            ),
            (
                header::X_CONTENT_TYPE_OPTIONS,
                HeaderValue::from_static("nosniff"),
            ),
            (
                header::REFERRER_POLICY,
                HeaderValue::from_static("no-referrer"),
            ),
        ],
        body,
    )
        .into_response()
}

/// A console request whose credentials opened the app it names.
pub(super) struct Authorized(Arc<App>);

impl FromRequestParts<Arc<Node>> for Authorized {
    type Rejection = Refused;

    async fn from_request_parts(parts: &mut Parts, node: &Arc<Node>) -> Result<Self, Refused> {
        let Path(app_id) = Path::<String>::from_request_parts(parts, node)
            .await
            .map_err(|_| Refused)?;
        let given = guard::bearer(&parts.headers).ok_or(Refused)?;
        // An unknown app is refused the same way as a wrong secret: the console tells no
        // stranger which apps exist.
        let app = node.app_by_id(&app_id).ok_or(Refused)?;
        if opens(&app.config, given) {
            Ok(Authorized(app.clone()))
        } else {
            Err(Refused)
        }
    }
}

/// Whether `given` is the app's secret or its console token, both compared in constant time.
fn opens(app: &AppConfig, given: &str) -> bool {
    let secret = guard::same(given, &app.secret);
    let token = app
        .console_token
        .as_deref()
        .map_or(subtle::Choice::from(0), |t| guard::same(given, t));
    (secret | token).into()
}

/// 401: wrong or missing credentials, or an unknown app.
#[derive(Debug)]
pub(super) struct Refused;

impl IntoResponse for Refused {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            error: "Wrong app id or credentials".into(),
            code: StatusCode::UNAUTHORIZED.as_u16(),
        };
        (
            StatusCode::UNAUTHORIZED,
            [(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"pusherable console\""),
            )],
            Json(body),
        )
            .into_response()
    }
}

/// `GET {prefix}/console/apps/{id}/stream`: the app's entries as server-sent events, one JSON
/// object each, until the watcher leaves or the server drains.
async fn watch(State(node): State<Arc<Node>>, Authorized(app): Authorized) -> Response {
    let watch = Watch::new(&app);
    let drained = Box::pin(node.shutdown.clone().cancelled_owned());
    let entries = stream::unfold((watch, drained), |(mut watch, mut drained)| async move {
        let text = tokio::select! {
            () = &mut drained => None,
            text = watch.next() => text,
        }?;
        Some((Event::default().data(&*text), (watch, drained)))
    });
    // A first comment, so that the watcher knows at once the stream is open.
    let entries = stream::once(async { Event::default().comment("watching") })
        .chain(entries)
        .map(Ok::<_, Infallible>);
    (
        [
            (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
            // Tells nginx not to hold the stream back in its buffer.
            (
                HeaderName::from_static("x-accel-buffering"),
                HeaderValue::from_static("no"),
            ),
        ],
        Sse::new(entries).keep_alive(KeepAlive::default()),
    )
        .into_response()
}

/// `POST {prefix}/console/apps/{id}/events`: the event creator. The body, the checks, the
/// delivery and the answers are those of `POST /apps/{id}/events`.
async fn publish(Authorized(app): Authorized, body: Bytes) -> Result<Json<TriggerReply>, Response> {
    if !app
        .rest_rate
        .allow((), app.config.max_rest_requests_per_second)
    {
        let body = ErrorBody {
            error: "Too many requests for this app".into(),
            code: StatusCode::TOO_MANY_REQUESTS.as_u16(),
        };
        return Err((StatusCode::TOO_MANY_REQUESTS, Json(body)).into_response());
    }
    let body: TriggerBody = serde_json::from_slice(&body)
        .map_err(|e| RestError::bad_request(format!("Invalid event body: {e}")).into_response())?;
    if body.info.is_some() {
        app.settle().await;
    }
    let (event, reply) =
        trigger::check(&app, body).map_err(|e| RestError::from(e).into_response())?;
    fanout::enqueue(&app, fanout::events(event)).await;
    Ok(Json(reply))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_secret_or_the_token_opens_the_console() {
        let mut app = AppConfig::new("1", "key", "secret");
        assert!(opens(&app, "secret"));
        assert!(!opens(&app, "secre"));
        assert!(!opens(&app, "secret2"));
        assert!(!opens(&app, ""));
        app.console_token = Some("a-long-console-token".into());
        assert!(opens(&app, "a-long-console-token"));
        assert!(opens(&app, "secret"));
        assert!(!opens(&app, "key"));
    }
}
