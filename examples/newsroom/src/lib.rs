//! Newsroom: a small CMS that shows pusherable's live features in a real app.
//!
//! Editors sign in, write, edit and delete articles. Two editors on the same article see each
//! other in a presence bar, are told when the other starts editing, saves, is about to delete
//! (opens the delete confirmation) or deletes, and see each other typing; the article list
//! follows creations and deletions as they happen; the masthead shows who is online; a page
//! back from offline says whether its article changed meanwhile.
//!
//! ```text
//! cargo run --release -p newsroom      # then open http://127.0.0.1:8000
//! ```
//!
//! # Layout
//!
//! - [`config`]: [`Settings`] from flags or environment variables (`NEWSROOM_ADDR`,
//!   `DATABASE_URL`, `PUSHERABLE_URL`).
//! - [`db`]: SQLite or PostgreSQL through sqlx's `Any` driver; migrations and the seeded
//!   editors and articles.
//! - [`password`]: Argon2id password hashes and random tokens.
//! - `session`: sign-in, the session cookie, and CSRF-checked forms (`Protected`).
//! - [`article`]: the article model, its validation and its queries, with the version check that
//!   catches stale edits.
//! - `pages`: the handlers of the article pages.
//! - `realtime`: the web layer's [`Access`](pusherable::Access) for editors, the channels of
//!   articles and of the list, and the choice of server (embedded or `PUSHERABLE_URL`).
//! - `templates`: minijinja templates and static files, embedded in the binary; the pages'
//!   live behaviour is `static/newsroom.js`, on top of pusherable.js.
//! - [`error`]: [`AppError`], the status and page of each failure.
//!
//! **Invariant:** nothing here signs, names channels or speaks the wire protocol; pusherable's
//! web layer does all of that.

pub mod article;
pub mod config;
pub mod db;
pub mod error;
mod pages;
pub mod password;
mod realtime;
mod session;
mod templates;

use std::net::SocketAddr;

use axum::{
    extract::{Request, State},
    middleware::{self, Next},
    response::{IntoResponse, Response},
    routing::{get, post},
    Router,
};
use sqlx::AnyPool;
use tokio::{net::TcpListener, sync::oneshot, task::JoinHandle};

pub use config::Settings;
pub use error::AppError;
use error::ErrorPage;
pub use realtime::RealtimeError;
use templates::Templates;

/// What every handler shares. Cheap to clone.
#[derive(Debug, Clone)]
pub(crate) struct AppState {
    /// The database pool.
    pub(crate) db: AnyPool,
    templates: Templates,
    realtime: realtime::Live,
}

/// Why the newsroom could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The database could not be opened, migrated or seeded.
    #[error(transparent)]
    Db(#[from] db::DbError),
    /// The real-time side could not be set up.
    #[error(transparent)]
    Realtime(#[from] RealtimeError),
    /// A template does not compile.
    #[error("template: {0}")]
    Template(#[from] minijinja::Error),
    /// The address could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        /// The address asked for.
        addr: SocketAddr,
        /// What the system said.
        source: std::io::Error,
    },
}

/// A running newsroom.
#[derive(Debug)]
pub struct Running {
    addr: SocketAddr,
    stop: oneshot::Sender<()>,
    task: JoinHandle<std::io::Result<()>>,
    realtime: realtime::Live,
}

impl Running {
    /// The address it serves on (the real port when port 0 was asked for).
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops accepting, lets requests in flight finish, and waits for that.
    ///
    /// Open pages are told to come back later (close code 4100: pusher-js reconnects after a
    /// second), so that a restarted newsroom finds them back; events already queued are sent
    /// first.
    pub async fn stop(self) -> std::io::Result<()> {
        self.realtime.flush().await;
        if let Some(server) = self.realtime.backend().server() {
            server.shutdown();
        }
        let _ = self.stop.send(());
        self.task
            .await
            .unwrap_or_else(|e| Err(std::io::Error::other(e)))
    }
}

/// The newsroom's routes over `state`.
pub(crate) fn router(state: AppState) -> Router {
    Router::new()
        .route("/", get(pages::list))
        .route("/articles", post(pages::create))
        .route("/articles/new", get(pages::new))
        .route("/articles/{id}", get(pages::show).post(pages::update))
        .route("/articles/{id}/edit", get(pages::edit))
        .route("/articles/{id}/version", get(pages::version))
        .route(
            "/articles/{id}/delete",
            get(pages::confirm_delete).post(pages::delete),
        )
        .route("/signin", get(session::show).post(session::sign_in))
        .route("/signout", post(session::sign_out))
        .route("/static/newsroom.css", get(templates::css))
        .route("/static/newsroom.js", get(templates::js))
        .fallback(|| async { AppError::NotFound })
        .merge(state.realtime.routes())
        .layer(state.realtime.layer())
        .layer(middleware::from_fn_with_state(state.clone(), error_pages))
        .with_state(state)
}

/// Turns a response that carries an [`ErrorPage`] into the full page.
async fn error_pages(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let response = next.run(request).await;
    let Some(page) = response.extensions().get::<ErrorPage>().cloned() else {
        return response;
    };
    let status = response.status();
    let rendered = state.templates.render(
        "error.html",
        minijinja::context! { title => page.title, message => page.message, status => status.as_u16() },
    );
    match rendered {
        Ok(html) => (status, html).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "error page failed to render");
            response
        }
    }
}

/// Opens the database (migrating and seeding it), binds `settings.addr` and serves until
/// [`Running::stop`].
///
/// ```
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// let db = std::env::temp_dir().join(format!("newsroom-{}.db", newsroom::password::token()));
/// let settings = newsroom::Settings::new("127.0.0.1:0".parse()?, &format!("sqlite://{}", db.display()));
/// let running = newsroom::start(settings).await?;
/// assert_ne!(running.local_addr().port(), 0);
/// running.stop().await?;
/// # Ok::<(), Box<dyn std::error::Error>>(()) }).unwrap();
/// ```
pub async fn start(settings: Settings) -> Result<Running, StartError> {
    let db = db::connect(&settings.database_url).await?;
    db::seed(&db).await?;
    let realtime = realtime::connect(&db, settings.pusherable_url.as_deref())?;
    let templates = Templates::new(|env| realtime.add_to_minijinja(env))?;
    let state = AppState {
        db,
        templates,
        realtime: realtime.clone(),
    };
    let listener = TcpListener::bind(settings.addr)
        .await
        .map_err(|source| StartError::Listen {
            addr: settings.addr,
            source,
        })?;
    let addr = listener.local_addr().map_err(|source| StartError::Listen {
        addr: settings.addr,
        source,
    })?;
    let (stop, stopped) = oneshot::channel::<()>();
    let app = router(state);
    let task = tokio::spawn(async move {
        axum::serve(listener, app)
            .with_graceful_shutdown(async move {
                let _ = stopped.await;
            })
            .await
    });
    Ok(Running {
        addr,
        stop,
        task,
        realtime,
    })
}
