//! A newsroom on a free port with a fresh database, and a browser-like HTTP client.
#![allow(dead_code, clippy::unwrap_used)]

pub(crate) mod listener;

use std::sync::atomic::{AtomicU32, Ordering};

use newsroom::{Running, Settings};
use reqwest::{redirect::Policy, Client, Response, StatusCode};
use sqlx::{Connection as _, Executor as _, PgConnection};

/// A fresh SQLite file under the system's temp directory, removed when dropped.
pub(crate) struct TempDb {
    pub(crate) url: String,
    path: std::path::PathBuf,
}

impl TempDb {
    pub(crate) fn new() -> Self {
        static N: AtomicU32 = AtomicU32::new(0);
        let path = std::env::temp_dir().join(format!(
            "newsroom-test-{}-{}-{}.db",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed),
            rand_suffix()
        ));
        TempDb {
            url: format!("sqlite://{}", path.display()),
            path,
        }
    }
}

impl Drop for TempDb {
    fn drop(&mut self) {
        for suffix in ["", "-wal", "-shm"] {
            let mut name = self.path.clone().into_os_string();
            name.push(suffix);
            let _ = std::fs::remove_file(name);
        }
    }
}

pub(crate) fn rand_suffix() -> String {
    newsroom::password::token()[..8]
        .to_ascii_lowercase()
        .replace(['-', '_'], "x")
}

pub(crate) async fn start(database_url: &str) -> Running {
    let settings = Settings::new("127.0.0.1:0".parse().unwrap(), database_url);
    newsroom::start(settings).await.expect("newsroom starts")
}

/// One browser: its own cookies, no automatic redirects so tests see each status.
pub(crate) struct Browser {
    pub(crate) base: String,
    pub(crate) http: Client,
}

impl Browser {
    pub(crate) fn new(running: &Running) -> Self {
        Browser {
            base: format!("http://{}", running.local_addr()),
            http: Client::builder()
                .cookie_store(true)
                .redirect(Policy::none())
                .build()
                .unwrap(),
        }
    }

    pub(crate) async fn get(&self, path: &str) -> Response {
        self.http
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .unwrap()
    }

    pub(crate) async fn post(&self, path: &str, form: &[(&str, &str)]) -> Response {
        self.http
            .post(format!("{}{path}", self.base))
            .form(form)
            .send()
            .await
            .unwrap()
    }

    /// The CSRF token in the page at `path`.
    pub(crate) async fn csrf(&self, path: &str) -> String {
        let page = self.get(path).await.text().await.unwrap();
        field(&page, "csrf").expect("page has a form token")
    }

    pub(crate) async fn sign_in(&self, username: &str) {
        let csrf = self.csrf("/signin").await;
        let res = self
            .post(
                "/signin",
                &[
                    ("csrf", &csrf),
                    ("username", username),
                    ("password", "newsroom"),
                    ("next", "/"),
                ],
            )
            .await;
        assert_eq!(res.status(), StatusCode::SEE_OTHER, "{username} signs in");
    }
}

/// The value of the hidden input `name` in `page`.
pub(crate) fn field(page: &str, name: &str) -> Option<String> {
    let marker = format!("name=\"{name}\" value=\"");
    let start = page.find(&marker)? + marker.len();
    let len = page[start..].find('"')?;
    Some(page[start..start + len].to_owned())
}

pub(crate) fn location(res: &Response) -> &str {
    res.headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
}

/// The server the tests use; CI and the development machines run one there.
fn admin_url() -> String {
    std::env::var("NEWSROOM_TEST_POSTGRES")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into())
}

/// A database of its own for one test.
pub(crate) struct Database {
    name: String,
    pub(crate) url: String,
}

impl Database {
    pub(crate) async fn create() -> Self {
        let admin = admin_url();
        let name = format!("newsroom_test_{}", rand_suffix());
        let mut conn = PgConnection::connect(&admin)
            .await
            .expect("PostgreSQL is reachable");
        conn.execute(format!("CREATE DATABASE {name}").as_str())
            .await
            .unwrap();
        let base = admin
            .rsplit_once('/')
            .map_or(admin.as_str(), |(base, _)| base);
        Database {
            url: format!("{base}/{name}"),
            name,
        }
    }

    pub(crate) async fn drop(self) {
        let mut conn = PgConnection::connect(&admin_url()).await.unwrap();
        conn.execute(format!("DROP DATABASE {} WITH (FORCE)", self.name).as_str())
            .await
            .unwrap();
    }
}
