//! The database: SQLite by default, PostgreSQL through `DATABASE_URL`; migrated and seeded on
//! start.
//!
//! Queries go through sqlx's `Any` driver, so one set of SQL (with `$1`-style parameters, which
//! both backends read) serves both. Only the migrations differ, for the id columns.

use std::time::{SystemTime, UNIX_EPOCH};

use sqlx::{any::AnyPoolOptions, AnyPool};

use crate::password;

/// The editors created on first start, as (username, display name). All share [`SEED_PASSWORD`].
pub const SEED_EDITORS: &[(&str, &str)] = &[
    ("alice", "Alice Martin"),
    ("bob", "Bob Okafor"),
    ("carol", "Carol Diaz"),
];

/// The password of every seeded editor; the README names it.
pub const SEED_PASSWORD: &str = "newsroom";

/// Articles created on first start, as (title, summary, body).
const SEED_ARTICLES: &[(&str, &str, &str)] = &[
    (
        "Harbour bridge reopens after two years of repairs",
        "Commuters get their shortcut back as the city signs off on the new deck.",
        "The harbour bridge reopened to traffic on Monday morning, two years after cracks in its \
         deck closed it to cars.\n\nThe city engineer said the new deck is rated for fifty years.",
    ),
    (
        "Library extends opening hours for exam season",
        "All three branches stay open until midnight for the next four weeks.",
        "Students asked, and the library listened: from Saturday, every branch stays open until \
         midnight.\n\nQuiet rooms can be booked online a day ahead.",
    ),
    (
        "Night market returns to the old tram depot",
        "Forty stalls, two stages and a lot of dumplings.",
        "After a winter break, the night market is back in the old tram depot every Friday.\n\n\
         Organisers expect the first night to draw a crowd.",
    ),
];

/// Which SQL dialect a database speaks; decides the migrations.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// A local file, created on first start.
    Sqlite,
    /// A PostgreSQL server.
    Postgres,
}

/// Why the database could not be opened or prepared.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    /// The URL names neither SQLite nor PostgreSQL.
    #[error("DATABASE_URL must start with sqlite: or postgres:, not {0:?}")]
    UnknownScheme(String),
    /// Connecting or querying failed.
    #[error("database: {0}")]
    Sql(#[from] sqlx::Error),
    /// A migration failed.
    #[error("database migration: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// Hashing a seeded editor's password failed.
    #[error("seeding editors: {0}")]
    Seed(#[from] password::PasswordError),
}

impl Backend {
    /// The backend a `DATABASE_URL` names.
    ///
    /// ```
    /// use newsroom::db::Backend;
    /// assert_eq!(Backend::of("sqlite://newsroom.db").ok(), Some(Backend::Sqlite));
    /// assert_eq!(Backend::of("postgres://127.0.0.1/test").ok(), Some(Backend::Postgres));
    /// assert!(Backend::of("mysql://127.0.0.1/test").is_err());
    /// ```
    pub fn of(url: &str) -> Result<Self, DbError> {
        let scheme = url.split(':').next().unwrap_or_default();
        match scheme {
            "sqlite" => Ok(Backend::Sqlite),
            "postgres" | "postgresql" => Ok(Backend::Postgres),
            _ => Err(DbError::UnknownScheme(scheme.to_owned())),
        }
    }
}

/// Opens the database, creating a SQLite file if there is none, and brings its schema up to
/// date.
///
/// ```
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// let path = std::env::temp_dir().join(format!("newsroom-{}.db", newsroom::password::token()));
/// let pool = newsroom::db::connect(&format!("sqlite://{}", path.display())).await?;
/// newsroom::db::seed(&pool).await?;
/// let (editors,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM editors").fetch_one(&pool).await?;
/// assert_eq!(editors, 3);
/// # Ok::<(), Box<dyn std::error::Error>>(()) }).unwrap();
/// ```
pub async fn connect(url: &str) -> Result<AnyPool, DbError> {
    sqlx::any::install_default_drivers();
    let backend = Backend::of(url)?;
    let url = match backend {
        // SQLite opens an existing file only, unless told it may create one.
        Backend::Sqlite if !url.contains("mode=") => {
            let sep = if url.contains('?') { '&' } else { '?' };
            format!("{url}{sep}mode=rwc")
        }
        _ => url.to_owned(),
    };
    let pool = AnyPoolOptions::new()
        .max_connections(8)
        .connect(&url)
        .await?;
    match backend {
        Backend::Sqlite => sqlx::migrate!("migrations/sqlite").run(&pool).await?,
        Backend::Postgres => sqlx::migrate!("migrations/postgres").run(&pool).await?,
    }
    Ok(pool)
}

/// Creates the demo editors and articles in an empty database; does nothing otherwise.
///
/// ```
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// let pool = newsroom::db::scratch().await?; // connected and seeded once
/// newsroom::db::seed(&pool).await?;
/// assert_eq!(newsroom::article::list(&pool).await?.len(), 3);
/// # Ok::<(), Box<dyn std::error::Error>>(()) }).unwrap();
/// ```
pub async fn seed(pool: &AnyPool) -> Result<(), DbError> {
    let (editors,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM editors")
        .fetch_one(pool)
        .await?;
    if editors > 0 {
        return Ok(());
    }
    let mut tx = pool.begin().await?;
    let mut first = None;
    for (username, name) in SEED_EDITORS {
        let hash = password::hash(SEED_PASSWORD)?;
        let (id,): (i64,) = sqlx::query_as(
            "INSERT INTO editors (username, name, password_hash) VALUES ($1, $2, $3) RETURNING id",
        )
        .bind(*username)
        .bind(*name)
        .bind(hash)
        .fetch_one(&mut *tx)
        .await?;
        first.get_or_insert(id);
    }
    let author = first.unwrap_or(1);
    let now = now();
    for (i, (title, summary, body)) in SEED_ARTICLES.iter().enumerate() {
        // Spread the seeded stories over the last hours so the list reads like a real one.
        let at = now - 3600 * (SEED_ARTICLES.len() - i) as i64;
        sqlx::query(
            "INSERT INTO articles (title, summary, body, author_id, updated_by, created_at, \
             updated_at, version) VALUES ($1, $2, $3, $4, $4, $5, $5, 1)",
        )
        .bind(*title)
        .bind(*summary)
        .bind(*body)
        .bind(author)
        .bind(at)
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    Ok(())
}

/// A fresh, seeded SQLite database under the temp directory, for this crate's doc examples.
#[doc(hidden)]
pub async fn scratch() -> Result<AnyPool, DbError> {
    let path = std::env::temp_dir().join(format!("newsroom-doc-{}.db", password::token()));
    let pool = connect(&format!("sqlite://{}", path.display())).await?;
    seed(&pool).await?;
    Ok(pool)
}

/// Seconds since the Unix epoch: how every time is stored, in both backends.
///
/// ```
/// assert!(newsroom::db::now() > 1_700_000_000);
/// ```
pub fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}
