//! The article pages: list, read, write, edit, delete.

use axum::{
    extract::{Path, State},
    http::{header, StatusCode},
    response::{IntoResponse, Redirect, Response},
    Json,
};
use minijinja::{context, Value};
use serde::Deserialize;

use pusherable::Notify;

use crate::{
    article::{self, Article, Draft, FieldErrors, Saved},
    realtime::{Change, Desk},
    session::{self, CsrfForm, Protected, SignedIn, TokenOnly},
    AppError, AppState,
};

/// The article form as posted: the draft, the session's token, and for an edit the version
/// the form was rendered from.
#[derive(Debug, Deserialize)]
pub(crate) struct ArticleForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    title: String,
    #[serde(default)]
    summary: String,
    #[serde(default)]
    body: String,
    #[serde(default)]
    version: String,
}

impl CsrfForm for ArticleForm {
    fn csrf(&self) -> &str {
        &self.csrf
    }
}

impl ArticleForm {
    fn draft(&self) -> Draft {
        Draft {
            title: self.title.clone(),
            summary: self.summary.clone(),
            body: self.body.clone(),
        }
    }
}

/// An article id from the URL; anything that is not one is a page that does not exist.
fn article_id(raw: &str) -> Result<i64, AppError> {
    raw.parse::<i64>()
        .ok()
        .filter(|id| *id > 0)
        .ok_or(AppError::NotFound)
}

/// The article an id in the URL names; 404 for anything else.
async fn existing(state: &AppState, raw: &str) -> Result<Article, AppError> {
    article::get(&state.db, article_id(raw)?)
        .await?
        .ok_or(AppError::NotFound)
}

/// Renders `name` for a signed-in editor: every page gets the editor, the form token, and the
/// other editors for the masthead's "online" list.
async fn page(
    state: &AppState,
    signed_in: &SignedIn,
    status: StatusCode,
    name: &str,
    ctx: Value,
) -> Result<Response, AppError> {
    let colleagues = session::colleagues(&state.db, signed_in.editor.id).await?;
    let html = state.templates.render(
        name,
        context! {
            editor => signed_in.editor,
            csrf => signed_in.csrf,
            desk => Desk::channel(),
            colleagues,
            ..ctx
        },
    )?;
    Ok((status, html).into_response())
}

/// `GET /`: every article, newest change first.
pub(crate) async fn list(
    State(state): State<AppState>,
    signed_in: SignedIn,
) -> Result<Response, AppError> {
    let articles = article::list(&state.db).await?;
    page(
        &state,
        &signed_in,
        StatusCode::OK,
        "list.html",
        context! { articles },
    )
    .await
}

/// `GET /articles/{id}`.
pub(crate) async fn show(
    State(state): State<AppState>,
    signed_in: SignedIn,
    Path(id): Path<String>,
) -> Result<Response, AppError> {
    let article = existing(&state, &id).await?;
    let paragraphs: Vec<&str> = article
        .body
        .split("\n\n")
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .collect();
    page(
        &state,
        &signed_in,
        StatusCode::OK,
        "article.html",
        context! { article => pusherable::Live(&article), paragraphs },
    )
    .await
}

/// `GET /articles/{id}/version`: `{"version": N}`, what a page that was offline compares with
/// the version it shows to tell whether it missed a save (404 once the article is deleted).
pub(crate) async fn version(
    State(state): State<AppState>,
    _: SignedIn,
    Path(id): Path<String>,
) -> Result<Response, AppError> {
    let article = existing(&state, &id).await?;
    Ok((
        [(header::CACHE_CONTROL, "no-store")],
        Json(serde_json::json!({ "version": article.version })),
    )
        .into_response())
}

/// The article form: new (no article) or edit, with what was typed and what is wrong with it.
async fn form_page(
    state: &AppState,
    signed_in: &SignedIn,
    status: StatusCode,
    article: Option<&Article>,
    draft: &Draft,
    errors: &FieldErrors,
    conflict: Option<&Article>,
) -> Result<Response, AppError> {
    // After a conflict the form is based on the newest version, so saving again is a
    // deliberate overwrite of what the editor has now seen.
    let version = conflict.or(article).map(|a| a.version);
    page(
        state,
        signed_in,
        status,
        "form.html",
        context! { article => article.map(pusherable::Live), draft, errors, conflict, version },
    )
    .await
}

/// `GET /articles/new`.
pub(crate) async fn new(
    State(state): State<AppState>,
    signed_in: SignedIn,
) -> Result<Response, AppError> {
    form_page(
        &state,
        &signed_in,
        StatusCode::OK,
        None,
        &Draft::default(),
        &FieldErrors::new(),
        None,
    )
    .await
}

/// `POST /articles`: stores a new article and shows it.
pub(crate) async fn create(
    State(state): State<AppState>,
    Protected { signed_in, form }: Protected<ArticleForm>,
) -> Result<Response, AppError> {
    let draft = match form.draft().validate() {
        Ok(draft) => draft,
        Err(errors) => {
            return form_page(
                &state,
                &signed_in,
                StatusCode::UNPROCESSABLE_ENTITY,
                None,
                &form.draft(),
                &errors,
                None,
            )
            .await
        }
    };
    let article = article::create(&state.db, &draft, signed_in.editor.id).await?;
    Ok((
        Notify::custom("created", &Desk(&article)),
        Redirect::to(&format!("/articles/{}", article.id)),
    )
        .into_response())
}

/// `GET /articles/{id}/edit`.
pub(crate) async fn edit(
    State(state): State<AppState>,
    signed_in: SignedIn,
    Path(id): Path<String>,
) -> Result<Response, AppError> {
    let article = existing(&state, &id).await?;
    let page = form_page(
        &state,
        &signed_in,
        StatusCode::OK,
        Some(&article),
        &Draft::of(&article),
        &FieldErrors::new(),
        None,
    )
    .await?;
    // "Alice has begun editing this article", to everyone else on it.
    Ok((Notify::update(&article), page).into_response())
}

/// `POST /articles/{id}`: saves an edit unless someone saved in between.
pub(crate) async fn update(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Protected { signed_in, form }: Protected<ArticleForm>,
) -> Result<Response, AppError> {
    let id = article_id(&id)?;
    let version: i64 = form.version.trim().parse().map_err(|_| AppError::BadForm)?;
    let draft = match form.draft().validate() {
        Ok(draft) => draft,
        Err(errors) => {
            let article = article::get(&state.db, id)
                .await?
                .ok_or(AppError::NotFound)?;
            // Keep the version the editor started from: validation is not a conflict check.
            let started = Article { version, ..article };
            return form_page(
                &state,
                &signed_in,
                StatusCode::UNPROCESSABLE_ENTITY,
                Some(&started),
                &form.draft(),
                &errors,
                None,
            )
            .await;
        }
    };
    match article::update(&state.db, id, version, &draft, signed_in.editor.id).await? {
        Saved::Done { before, after } => {
            let change = Change {
                id: after.id,
                version: after.version,
                title: after.title.clone(),
                changed: article::changed_fields(&Draft::of(&before), &Draft::of(&after))
                    .into_iter()
                    .map(str::to_owned)
                    .collect(),
            };
            Ok((
                Notify::updated(&change),
                Notify::custom("updated", &Desk(&after)),
                Redirect::to(&format!("/articles/{}", after.id)),
            )
                .into_response())
        }
        Saved::Stale(current) => {
            form_page(
                &state,
                &signed_in,
                StatusCode::CONFLICT,
                Some(&current),
                &draft,
                &FieldErrors::new(),
                Some(&current),
            )
            .await
        }
        Saved::Missing => Err(AppError::NotFound),
    }
}

/// `GET /articles/{id}/delete`: asks before deleting, and tells everyone else on the article
/// that it is about to go while there is still time to object.
pub(crate) async fn confirm_delete(
    State(state): State<AppState>,
    signed_in: SignedIn,
    Path(id): Path<String>,
) -> Result<Response, AppError> {
    let article = existing(&state, &id).await?;
    let page = page(
        &state,
        &signed_in,
        StatusCode::OK,
        "delete.html",
        context! { article => pusherable::Live(&article) },
    )
    .await?;
    Ok((Notify::delete(&article), page).into_response())
}

/// `POST /articles/{id}/delete`: the confirmation page's form.
pub(crate) async fn delete(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Protected { .. }: Protected<TokenOnly>,
) -> Result<Response, AppError> {
    let id = article_id(&id)?;
    let gone = article::delete(&state.db, id)
        .await?
        .ok_or(AppError::NotFound)?;
    Ok((
        Notify::deleted(&gone),
        Notify::custom("deleted", &Desk(&gone)),
        Redirect::to("/"),
    )
        .into_response())
}
