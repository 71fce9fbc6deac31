//! What can go wrong in a request, and the status and page each failure gets.
//!
//! A handler returns `Err(AppError)`; the response carries an `ErrorPage` that the
//! error-page layer (which has the templates) turns into a full page. Failures the visitor did
//! not cause are logged and shown as a plain "something went wrong", never with details.

use axum::{
    http::{header, StatusCode},
    response::{IntoResponse, Response},
};
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};

/// Why a request failed.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// No such page or article.
    #[error("not found")]
    NotFound,
    /// The page needs a signed-in editor; `next` is where to come back to.
    #[error("sign-in required")]
    SignIn {
        /// A local path to return to after signing in.
        next: String,
    },
    /// A form came without the token of the session that rendered it.
    #[error("form token missing or stale")]
    Csrf,
    /// The request body is not a form of the expected shape.
    #[error("malformed form")]
    BadForm,
    /// The database failed.
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    /// A template failed to render.
    #[error("template: {0}")]
    Template(#[from] minijinja::Error),
    /// Hashing a password failed.
    #[error("{0}")]
    Password(#[from] crate::password::PasswordError),
}

/// The error page a failed response should show; rendered by the error-page layer.
#[derive(Debug, Clone)]
pub(crate) struct ErrorPage {
    /// Short heading, also the page title.
    pub(crate) title: &'static str,
    /// One sentence telling the visitor what happened and what to do.
    pub(crate) message: &'static str,
}

impl AppError {
    /// The status this failure answers with.
    ///
    /// ```
    /// use axum::http::StatusCode;
    /// use newsroom::AppError;
    /// assert_eq!(AppError::NotFound.status(), StatusCode::NOT_FOUND);
    /// assert_eq!(AppError::Csrf.status(), StatusCode::FORBIDDEN);
    /// ```
    pub fn status(&self) -> StatusCode {
        match self {
            AppError::NotFound => StatusCode::NOT_FOUND,
            AppError::SignIn { .. } => StatusCode::SEE_OTHER,
            AppError::Csrf => StatusCode::FORBIDDEN,
            AppError::BadForm => StatusCode::BAD_REQUEST,
            AppError::Database(_) | AppError::Template(_) | AppError::Password(_) => {
                StatusCode::INTERNAL_SERVER_ERROR
            }
        }
    }

    fn page(&self) -> ErrorPage {
        match self {
            AppError::NotFound => ErrorPage {
                title: "Page not found",
                message: "There is no page here. The article may have been deleted.",
            },
            AppError::Csrf => ErrorPage {
                title: "This form has expired",
                message: "Go back, reload the page and send the form again.",
            },
            AppError::BadForm => ErrorPage {
                title: "Bad request",
                message: "The form that was sent is not one this site knows.",
            },
            _ => ErrorPage {
                title: "Something went wrong",
                message: "The newsroom could not finish this request. Try again in a moment.",
            },
        }
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        if let AppError::SignIn { next } = &self {
            let to = format!("/signin?next={}", utf8_percent_encode(next, NEXT));
            return (StatusCode::SEE_OTHER, [(header::LOCATION, to)]).into_response();
        }
        if self.status().is_server_error() {
            tracing::error!(error = %self, "request failed");
        }
        let page = self.page();
        let mut response = (self.status(), page.message).into_response();
        response.extensions_mut().insert(page);
        response
    }
}

/// Characters kept as they are in the `next` query value: enough for a readable local path.
const NEXT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'/')
    .remove(b'-')
    .remove(b'_')
    .remove(b'.');
