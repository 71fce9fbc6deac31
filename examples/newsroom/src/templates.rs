//! The pages' templates and static files, embedded in the binary so that it runs from any
//! directory.

use std::sync::Arc;

use axum::{
    http::{header, StatusCode},
    response::{Html, IntoResponse, Response},
};
use minijinja::Environment;
use serde::Serialize;

/// Every template, by name.
const TEMPLATES: &[(&str, &str)] = &[
    ("base.html", include_str!("../templates/base.html")),
    ("list.html", include_str!("../templates/list.html")),
    ("article.html", include_str!("../templates/article.html")),
    ("form.html", include_str!("../templates/form.html")),
    ("delete.html", include_str!("../templates/delete.html")),
    ("signin.html", include_str!("../templates/signin.html")),
    ("error.html", include_str!("../templates/error.html")),
];

const CSS: &str = include_str!("../static/newsroom.css");
const JS: &str = include_str!("../static/newsroom.js");

/// The compiled templates. Cheap to clone.
#[derive(Debug, Clone)]
pub(crate) struct Templates {
    env: Arc<Environment<'static>>,
}

impl Templates {
    /// Compiles every template; a syntax error is reported here, at start, not on first use.
    ///
    /// `extend` registers more functions (the real-time helpers) before compiling.
    pub(crate) fn new(
        extend: impl FnOnce(&mut Environment<'static>),
    ) -> Result<Self, minijinja::Error> {
        let mut env = Environment::new();
        env.add_filter("date", date);
        extend(&mut env);
        for (name, source) in TEMPLATES {
            env.add_template(name, source)?;
        }
        Ok(Templates { env: Arc::new(env) })
    }

    /// Renders template `name` with `context`.
    pub(crate) fn render(
        &self,
        name: &str,
        context: impl Serialize,
    ) -> Result<Html<String>, minijinja::Error> {
        self.env.get_template(name)?.render(context).map(Html)
    }
}

/// `{{ seconds | date }}`: a stored time as people read it, in UTC.
pub(crate) fn date(seconds: i64) -> String {
    let format = time::macros::format_description!(
        "[day padding:none] [month repr:short] [year], [hour]:[minute] UTC"
    );
    time::OffsetDateTime::from_unix_timestamp(seconds)
        .ok()
        .and_then(|t| t.format(&format).ok())
        .unwrap_or_default()
}

/// `GET /static/newsroom.css`.
pub(crate) async fn css() -> Response {
    asset("text/css; charset=utf-8", CSS)
}

/// `GET /static/newsroom.js`.
pub(crate) async fn js() -> Response {
    asset("text/javascript; charset=utf-8", JS)
}

fn asset(content_type: &'static str, body: &'static str) -> Response {
    (
        StatusCode::OK,
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        body,
    )
        .into_response()
}
