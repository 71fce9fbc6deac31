//! The authorization endpoints pusher-js and pusherable.js call before subscribing to a
//! private or presence channel, and before signing in.
//!
//! Both take `socket_id` (and `channel_name`) as a form (pusher-js's default) or as JSON, find
//! the user with [`Access::user`], and answer what pusher-js expects: 200 with
//! `{"auth": …, "channel_data"?: …}` or `{"auth": …, "user_data": …}`, or an error status with a
//! JSON `{"error": …}` body, 403 when the answer is no.

use axum::{
    body::to_bytes,
    extract::{Request, State},
    http::{header, StatusCode},
    response::{IntoResponse, Response},
    Json,
};
use pusherable_protocol::{limits::WATCHLIST_MAX, SocketId};
use serde::Deserialize;

use crate::{
    access::Access, backend::SignError, channel::ObjectChannel, model::Kind, realtime::Realtime,
};

/// Largest request body the endpoints read: a socket id and a channel name fit many times over.
const BODY_MAX: usize = 4096;

/// Why an authorization request was refused. Each knows its HTTP status.
///
/// ```
/// use pusherable::AuthError;
/// use axum::response::IntoResponse;
/// assert_eq!(AuthError::Denied.into_response().status(), 403);
/// assert_eq!(AuthError::BadRequest("no socket_id").into_response().status(), 400);
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AuthError {
    /// The request is malformed: no or invalid `socket_id` or `channel_name`, or an unreadable
    /// body (400).
    #[error("bad request: {0}")]
    BadRequest(&'static str),
    /// Nobody is signed in (403).
    #[error("sign in to receive real-time events")]
    Anonymous,
    /// The channel is not an object's channel this app authorizes (403).
    #[error("not a channel this app authorizes")]
    UnknownChannel,
    /// [`Access::may_see`] said no (403).
    #[error("you may not receive events about this object")]
    Denied,
    /// The user's profile could not be signed (too large for presence, or an id a user
    /// channel cannot carry) (500).
    #[error("the profile cannot be signed")]
    Profile,
}

impl AuthError {
    /// The HTTP status this error answers with.
    ///
    /// ```
    /// assert_eq!(pusherable::AuthError::Anonymous.status(), 403);
    /// ```
    pub fn status(&self) -> StatusCode {
        match self {
            AuthError::BadRequest(_) => StatusCode::BAD_REQUEST,
            AuthError::Anonymous | AuthError::UnknownChannel | AuthError::Denied => {
                StatusCode::FORBIDDEN
            }
            AuthError::Profile => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

impl IntoResponse for AuthError {
    fn into_response(self) -> Response {
        let body = Json(serde_json::json!({"error": self.to_string()}));
        (self.status(), [(header::CACHE_CONTROL, "no-store")], body).into_response()
    }
}

#[derive(Deserialize)]
struct Form {
    socket_id: Option<String>,
    channel_name: Option<String>,
}

/// Reads the body as JSON when it says so, as a urlencoded form otherwise.
async fn read_form(
    request: Request,
) -> Result<(http::request::Parts, SocketId, Option<String>), AuthError> {
    let (parts, body) = request.into_parts();
    let bytes = to_bytes(body, BODY_MAX)
        .await
        .map_err(|_| AuthError::BadRequest("unreadable or too large body"))?;
    let json = parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    let form: Form = if json {
        serde_json::from_slice(&bytes).map_err(|_| AuthError::BadRequest("invalid JSON body"))?
    } else {
        let mut form = Form {
            socket_id: None,
            channel_name: None,
        };
        for (k, v) in form_urlencoded::parse(&bytes) {
            match &*k {
                "socket_id" => form.socket_id = Some(v.into_owned()),
                "channel_name" => form.channel_name = Some(v.into_owned()),
                _ => {}
            }
        }
        form
    };
    let socket_id = form
        .socket_id
        .ok_or(AuthError::BadRequest("socket_id is missing"))?;
    let socket_id =
        SocketId::parse(&socket_id).map_err(|_| AuthError::BadRequest("socket_id is invalid"))?;
    Ok((parts, socket_id, form.channel_name))
}

/// `POST {path}/auth`: may this page's user subscribe to this object's channel?
pub(crate) async fn channel<A: Access>(
    State(realtime): State<Realtime<A>>,
    request: Request,
) -> Result<Response, AuthError> {
    let (parts, socket_id, channel) = read_form(request).await?;
    let channel = channel.ok_or(AuthError::BadRequest("channel_name is missing"))?;
    let object = ObjectChannel::parse(&channel).map_err(|_| AuthError::UnknownChannel)?;
    if object.kind() == Kind::Public {
        return Err(AuthError::BadRequest(
            "public channels need no authorization",
        ));
    }
    let core = realtime.core();
    let user = core.access.user(&parts).await.ok_or(AuthError::Anonymous)?;
    if !core.access.may_see(&user, &object).await {
        return Err(AuthError::Denied);
    }
    let member = (object.kind() == Kind::Presence).then(|| core.access.profile(&user));
    let signed = core
        .backend
        .authorize_channel(socket_id.as_str(), object.name(), member.as_ref())
        .map_err(|e| log_sign_error(&e))?;
    Ok(([(header::CACHE_CONTROL, "no-store")], Json(signed)).into_response())
}

/// `POST {path}/user-auth`: signs the page's connection in as its user, with the users it
/// follows ([`Access::watchlist`]).
pub(crate) async fn user<A: Access>(
    State(realtime): State<Realtime<A>>,
    request: Request,
) -> Result<Response, AuthError> {
    let (parts, socket_id, _) = read_form(request).await?;
    let core = realtime.core();
    let user = core.access.user(&parts).await.ok_or(AuthError::Anonymous)?;
    let profile = core.access.profile(&user);
    let mut watchlist = core.access.watchlist(&user).await;
    if watchlist.len() > WATCHLIST_MAX {
        // The server would cut it too, but tell the page so with an error it cannot act on.
        tracing::warn!(
            user = profile.id(),
            ids = watchlist.len(),
            "watchlist cut to its first {WATCHLIST_MAX} ids"
        );
        watchlist.truncate(WATCHLIST_MAX);
    }
    let signed = core
        .backend
        .authenticate_user(socket_id.as_str(), &profile, &watchlist)
        .map_err(|e| log_sign_error(&e))?;
    Ok(([(header::CACHE_CONTROL, "no-store")], Json(signed)).into_response())
}

fn log_sign_error(error: &SignError) -> AuthError {
    tracing::error!(%error, "cannot sign for this user");
    AuthError::Profile
}
