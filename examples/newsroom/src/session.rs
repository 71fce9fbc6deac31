//! Signing in and out, the session cookie, and the CSRF token that every form carries.
//!
//! A session is a random token in an `HttpOnly`, `SameSite=Lax` cookie and a row in `sessions`
//! that holds the editor (none before sign-in) and the CSRF token of that browser's forms. The
//! sign-in page makes an anonymous session so that its own form is protected too; signing in
//! replaces it with a new one, so a token planted before sign-in is worthless after.

use std::sync::LazyLock;

use axum::{
    extract::{FromRequest, FromRequestParts, Query, Request, State},
    http::{header, request::Parts, HeaderMap, HeaderValue, Method, StatusCode},
    response::{IntoResponse, Redirect, Response},
    Form,
};
use serde::{de::DeserializeOwned, Deserialize, Serialize};
use sqlx::AnyPool;
use subtle::ConstantTimeEq as _;

use crate::{db, password, AppError, AppState};

/// A hash of a random password, checked when the username is unknown.
static THROWAWAY: LazyLock<Option<String>> =
    LazyLock::new(|| password::hash(&password::token()).ok());

/// Name of the session cookie.
pub(crate) const COOKIE: &str = "newsroom_session";
/// How long a sign-in lasts, in seconds.
const SESSION_SECS: i64 = 7 * 24 * 3600;

/// An editor, as pages and presence show them.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Editor {
    /// Database id; also the presence user id.
    pub(crate) id: i64,
    /// What they sign in with.
    pub(crate) username: String,
    /// What others see.
    pub(crate) name: String,
}

/// A request from a signed-in editor. As an extractor, it sends anyone else to the sign-in
/// page and back.
#[derive(Debug, Clone)]
pub(crate) struct SignedIn {
    /// Who is signed in.
    pub(crate) editor: Editor,
    /// The token this session's forms must carry.
    pub(crate) csrf: String,
    /// The session's own token, to end it on sign-out.
    token: String,
}

/// A form that says which session rendered it.
pub(crate) trait CsrfForm {
    /// The `csrf` field of the form.
    fn csrf(&self) -> &str;
}

/// A form posted by a signed-in editor, with its CSRF token checked: the only way handlers
/// receive a form that changes something.
#[derive(Debug)]
pub(crate) struct Protected<T> {
    /// The editor who sent it.
    pub(crate) signed_in: SignedIn,
    /// The form's fields.
    pub(crate) form: T,
}

/// The cookie named `name` in a request's headers.
fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

fn set_cookie(token: &str, max_age: i64) -> (header::HeaderName, String) {
    (
        header::SET_COOKIE,
        format!("{COOKIE}={token}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age}"),
    )
}

/// Whether `sent` is the session's token, compared in constant time.
fn same_token(sent: &str, expected: &str) -> bool {
    !expected.is_empty() && bool::from(sent.as_bytes().ct_eq(expected.as_bytes()))
}

/// A local path to go to after signing in; anything else (another site, `//host`) is `/`.
fn local_path(next: Option<&str>) -> String {
    match next {
        Some(p) if p.starts_with('/') && !p.starts_with("//") && !p.contains('\\') => p.to_owned(),
        _ => "/".to_owned(),
    }
}

/// Every editor but `editor`, by name: those whose comings and goings `editor` follows.
pub(crate) async fn colleagues(db: &AnyPool, editor: i64) -> Result<Vec<Editor>, sqlx::Error> {
    let rows: Vec<(i64, String, String)> =
        sqlx::query_as("SELECT id, username, name FROM editors WHERE id <> $1 ORDER BY name")
            .bind(editor)
            .fetch_all(db)
            .await?;
    Ok(rows
        .into_iter()
        .map(|(id, username, name)| Editor { id, username, name })
        .collect())
}

impl SignedIn {
    /// The signed-in editor of a request, if any.
    pub(crate) async fn of(headers: &HeaderMap, db: &AnyPool) -> Result<Option<Self>, sqlx::Error> {
        let Some(token) = cookie(headers, COOKIE) else {
            return Ok(None);
        };
        let row: Option<(i64, String, String, String)> = sqlx::query_as(
            "SELECT e.id, e.username, e.name, s.csrf FROM sessions s \
             JOIN editors e ON e.id = s.editor_id WHERE s.token = $1 AND s.created_at > $2",
        )
        .bind(token)
        .bind(db::now() - SESSION_SECS)
        .fetch_optional(db)
        .await?;
        Ok(row.map(|(id, username, name, csrf)| SignedIn {
            editor: Editor { id, username, name },
            csrf,
            token: token.to_owned(),
        }))
    }
}

impl FromRequestParts<AppState> for SignedIn {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, AppError> {
        match SignedIn::of(&parts.headers, &state.db).await? {
            Some(signed_in) => Ok(signed_in),
            None => {
                // Only a page can be come back to; after a form, start from the list.
                let next = if parts.method == Method::GET {
                    parts.uri.path_and_query().map_or("/", |p| p.as_str())
                } else {
                    "/"
                };
                Err(AppError::SignIn {
                    next: next.to_owned(),
                })
            }
        }
    }
}

impl<T> FromRequest<AppState> for Protected<T>
where
    T: DeserializeOwned + CsrfForm + Send,
{
    type Rejection = AppError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, AppError> {
        let (mut parts, body) = req.into_parts();
        let signed_in = SignedIn::from_request_parts(&mut parts, state).await?;
        let Form(form) = Form::<T>::from_request(Request::from_parts(parts, body), state)
            .await
            .map_err(|_| AppError::BadForm)?;
        if !same_token(form.csrf(), &signed_in.csrf) {
            return Err(AppError::Csrf);
        }
        Ok(Protected { signed_in, form })
    }
}

/// A form with only its CSRF token: sign-out, delete.
#[derive(Debug, Deserialize)]
pub(crate) struct TokenOnly {
    #[serde(default)]
    csrf: String,
}

impl CsrfForm for TokenOnly {
    fn csrf(&self) -> &str {
        &self.csrf
    }
}

/// Query of the sign-in page.
#[derive(Debug, Deserialize)]
pub(crate) struct SignInQuery {
    next: Option<String>,
}

/// The sign-in form.
#[derive(Debug, Deserialize)]
pub(crate) struct SignInForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    username: String,
    #[serde(default)]
    password: String,
    next: Option<String>,
}

/// A new session row; returns its token.
async fn create_session(
    state: &AppState,
    editor_id: Option<i64>,
) -> Result<(String, String), AppError> {
    let token = password::token();
    let csrf = password::token();
    sqlx::query(
        "INSERT INTO sessions (token, editor_id, csrf, created_at) VALUES ($1, $2, $3, $4)",
    )
    .bind(&token)
    .bind(editor_id)
    .bind(&csrf)
    .bind(db::now())
    .execute(&state.db)
    .await?;
    Ok((token, csrf))
}

/// The anonymous session of this browser, or a new one (then the cookie to set).
async fn anonymous_session(
    headers: &HeaderMap,
    state: &AppState,
) -> Result<(String, Option<String>), AppError> {
    if let Some(token) = cookie(headers, COOKIE) {
        let found: Option<(String,)> = sqlx::query_as(
            "SELECT csrf FROM sessions WHERE token = $1 AND editor_id IS NULL AND created_at > $2",
        )
        .bind(token)
        .bind(db::now() - SESSION_SECS)
        .fetch_optional(&state.db)
        .await?;
        if let Some((csrf,)) = found {
            return Ok((csrf, None));
        }
    }
    // Old sessions are cleared here, where new anonymous ones are made.
    sqlx::query("DELETE FROM sessions WHERE created_at <= $1")
        .bind(db::now() - SESSION_SECS)
        .execute(&state.db)
        .await?;
    let (token, csrf) = create_session(state, None).await?;
    Ok((csrf, Some(token)))
}

async fn sign_in_page(
    state: &AppState,
    headers: &HeaderMap,
    status: StatusCode,
    next: &str,
    username: &str,
    error: Option<&str>,
) -> Result<Response, AppError> {
    let (csrf, new_token) = anonymous_session(headers, state).await?;
    let page = state.templates.render(
        "signin.html",
        minijinja::context! {
            csrf, next, username, error,
            editors => db::SEED_EDITORS.iter().map(|(u, n)| minijinja::context!{ username => u, name => n }).collect::<Vec<_>>(),
            seed_password => db::SEED_PASSWORD,
        },
    )?;
    let mut response = (status, page).into_response();
    if let Some(token) = new_token {
        let (name, value) = set_cookie(&token, SESSION_SECS);
        if let Ok(value) = HeaderValue::from_str(&value) {
            response.headers_mut().insert(name, value);
        }
    }
    Ok(response)
}

/// `GET /signin`: the form, or straight on for an editor who is already signed in.
pub(crate) async fn show(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(query): Query<SignInQuery>,
) -> Result<Response, AppError> {
    let next = local_path(query.next.as_deref());
    if SignedIn::of(&headers, &state.db).await?.is_some() {
        return Ok(Redirect::to(&next).into_response());
    }
    sign_in_page(&state, &headers, StatusCode::OK, &next, "", None).await
}

/// `POST /signin`: checks the password and starts a new session.
pub(crate) async fn sign_in(
    State(state): State<AppState>,
    headers: HeaderMap,
    Form(form): Form<SignInForm>,
) -> Result<Response, AppError> {
    let next = local_path(form.next.as_deref());
    let username = form.username.trim().to_lowercase();
    let session: Option<(String, String)> = match cookie(&headers, COOKIE) {
        Some(token) => {
            sqlx::query_as("SELECT token, csrf FROM sessions WHERE token = $1 AND created_at > $2")
                .bind(token)
                .bind(db::now() - SESSION_SECS)
                .fetch_optional(&state.db)
                .await?
        }
        None => None,
    };
    let Some((old_token, _)) = session.filter(|(_, csrf)| same_token(&form.csrf, csrf)) else {
        let why = "The sign-in form had expired. Please sign in again.";
        return sign_in_page(
            &state,
            &headers,
            StatusCode::FORBIDDEN,
            &next,
            &username,
            Some(why),
        )
        .await;
    };
    let editor: Option<(i64, String)> =
        sqlx::query_as("SELECT id, password_hash FROM editors WHERE username = $1")
            .bind(&username)
            .fetch_optional(&state.db)
            .await?;
    let (id, stored) = editor.unzip();
    // Argon2 takes tens of milliseconds on purpose: off the async workers. An unknown username
    // is checked against a throwaway hash, so that it takes as long as a wrong password.
    let matches = tokio::task::spawn_blocking(move || {
        let stored = stored.or_else(|| THROWAWAY.clone()).unwrap_or_default();
        password::verify(&form.password, &stored)
    })
    .await
    .unwrap_or(false);
    let editor_id = match id {
        Some(id) if matches => id,
        _ => {
            let why = "That username and password do not match an editor.";
            return sign_in_page(
                &state,
                &headers,
                StatusCode::UNAUTHORIZED,
                &next,
                &username,
                Some(why),
            )
            .await;
        }
    };
    sqlx::query("DELETE FROM sessions WHERE token = $1")
        .bind(&old_token)
        .execute(&state.db)
        .await?;
    let (token, _) = create_session(&state, Some(editor_id)).await?;
    Ok((
        StatusCode::SEE_OTHER,
        [set_cookie(&token, SESSION_SECS), (header::LOCATION, next)],
    )
        .into_response())
}

/// `POST /signout`: ends the session.
pub(crate) async fn sign_out(
    State(state): State<AppState>,
    Protected { signed_in, .. }: Protected<TokenOnly>,
) -> Result<Response, AppError> {
    sqlx::query("DELETE FROM sessions WHERE token = $1")
        .bind(&signed_in.token)
        .execute(&state.db)
        .await?;
    Ok((
        StatusCode::SEE_OTHER,
        [set_cookie("", 0), (header::LOCATION, "/signin".to_owned())],
    )
        .into_response())
}
