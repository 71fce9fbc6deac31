//! Articles: what is stored, what a valid one is, and the queries that read and change them.
//!
//! Every article has a `version` that each save increments. A save names the version its form
//! was rendered from and only succeeds if that is still the stored one, so a save made in
//! between is detected rather than silently overwritten.

use std::collections::BTreeMap;

use pusherable::Pusherable;
use serde::{Deserialize, Serialize};
use sqlx::AnyPool;

use crate::db;

/// Longest title, in characters.
pub const TITLE_MAX: usize = 120;
/// Longest summary, in characters.
pub const SUMMARY_MAX: usize = 280;
/// Longest body, in characters.
pub const BODY_MAX: usize = 20_000;

/// A stored article, with its editors' names.
///
/// Its real-time channel is `presence-article-{id}`; events about it carry every field but the
/// body, which can be longer than an event may be.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow, Pusherable)]
#[pusherable(presence, exclude(body))]
pub struct Article {
    /// Database id; the URL is `/articles/{id}`.
    pub id: i64,
    /// Headline.
    pub title: String,
    /// One or two sentences under the headline; may be empty.
    pub summary: String,
    /// Paragraphs separated by blank lines.
    pub body: String,
    /// Who created it.
    pub author: String,
    /// Who saved it last.
    pub updated_by: String,
    /// Seconds since the epoch.
    pub created_at: i64,
    /// Seconds since the epoch.
    pub updated_at: i64,
    /// Incremented by every save.
    pub version: i64,
}

/// The fields of an article that an editor writes, as posted by the form.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct Draft {
    /// Headline.
    #[serde(default)]
    pub title: String,
    /// Summary.
    #[serde(default)]
    pub summary: String,
    /// Body.
    #[serde(default)]
    pub body: String,
}

/// Messages for the fields of a draft that are not valid, by field name.
pub type FieldErrors = BTreeMap<&'static str, String>;

impl Draft {
    /// The draft of an existing article, to fill its edit form.
    pub fn of(article: &Article) -> Self {
        Draft {
            title: article.title.clone(),
            summary: article.summary.clone(),
            body: article.body.clone(),
        }
    }

    /// The draft tidied (trimmed, one kind of line ending) and checked.
    ///
    /// ```
    /// use newsroom::article::Draft;
    /// let draft = Draft { title: "  Hello ".into(), summary: String::new(), body: "Text\r\n".into() };
    /// let clean = draft.validate().expect("valid");
    /// assert_eq!((clean.title.as_str(), clean.body.as_str()), ("Hello", "Text"));
    ///
    /// let errors = Draft::default().validate().unwrap_err();
    /// assert_eq!(errors["title"], "Give the article a title.");
    /// ```
    pub fn validate(&self) -> Result<Draft, FieldErrors> {
        let tidy = |s: &str| s.replace("\r\n", "\n").trim().to_owned();
        let draft = Draft {
            title: tidy(&self.title),
            summary: tidy(&self.summary),
            body: tidy(&self.body),
        };
        let mut errors = FieldErrors::new();
        let title = draft.title.chars().count();
        if title == 0 {
            errors.insert("title", "Give the article a title.".into());
        } else if title > TITLE_MAX {
            errors.insert(
                "title",
                format!("Keep the title to {TITLE_MAX} characters; it has {title}."),
            );
        } else if draft.title.contains('\n') {
            errors.insert("title", "Keep the title on one line.".into());
        }
        let summary = draft.summary.chars().count();
        if summary > SUMMARY_MAX {
            errors.insert(
                "summary",
                format!("Keep the summary to {SUMMARY_MAX} characters; it has {summary}."),
            );
        }
        let body = draft.body.chars().count();
        if body == 0 {
            errors.insert("body", "Write the article's text.".into());
        } else if body > BODY_MAX {
            errors.insert(
                "body",
                format!("Keep the text to {BODY_MAX} characters; it has {body}."),
            );
        }
        if errors.is_empty() {
            Ok(draft)
        } else {
            Err(errors)
        }
    }
}

/// The fields whose values differ between two versions, in form order.
///
/// ```
/// use newsroom::article::{changed_fields, Draft};
/// let a = Draft { title: "A".into(), summary: "S".into(), body: "B".into() };
/// let b = Draft { title: "A".into(), summary: "S2".into(), body: "B2".into() };
/// assert_eq!(changed_fields(&a, &b), ["summary", "body"]);
/// ```
pub fn changed_fields(old: &Draft, new: &Draft) -> Vec<&'static str> {
    [
        ("title", old.title != new.title),
        ("summary", old.summary != new.summary),
        ("body", old.body != new.body),
    ]
    .into_iter()
    .filter_map(|(name, changed)| changed.then_some(name))
    .collect()
}

const SELECT: &str = "SELECT a.id, a.title, a.summary, a.body, au.name AS author, \
     up.name AS updated_by, a.created_at, a.updated_at, a.version FROM articles a \
     JOIN editors au ON au.id = a.author_id JOIN editors up ON up.id = a.updated_by";

/// Every article, newest change first.
///
/// ```
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// let pool = newsroom::db::scratch().await?;
/// let articles = newsroom::article::list(&pool).await?;
/// assert!(articles[0].updated_at >= articles[1].updated_at);
/// # Ok::<(), Box<dyn std::error::Error>>(()) }).unwrap();
/// ```
pub async fn list(pool: &AnyPool) -> Result<Vec<Article>, sqlx::Error> {
    sqlx::query_as(&format!("{SELECT} ORDER BY a.updated_at DESC, a.id DESC"))
        .fetch_all(pool)
        .await
}

/// One article.
///
/// ```
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// let pool = newsroom::db::scratch().await?;
/// assert!(newsroom::article::get(&pool, 1).await?.is_some());
/// assert!(newsroom::article::get(&pool, 99).await?.is_none());
/// # Ok::<(), Box<dyn std::error::Error>>(()) }).unwrap();
/// ```
pub async fn get(pool: &AnyPool, id: i64) -> Result<Option<Article>, sqlx::Error> {
    sqlx::query_as(&format!("{SELECT} WHERE a.id = $1"))
        .bind(id)
        .fetch_optional(pool)
        .await
}

/// Stores a new article by `editor`; returns it.
///
/// ```
/// use newsroom::article::{self, Draft};
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// let pool = newsroom::db::scratch().await?;
/// let draft = Draft { title: "Tram news".into(), summary: String::new(), body: "Text.".into() };
/// let created = article::create(&pool, &draft, 2).await?;
/// assert_eq!((created.version, created.author.as_str()), (1, "Bob Okafor"));
/// # Ok::<(), Box<dyn std::error::Error>>(()) }).unwrap();
/// ```
pub async fn create(pool: &AnyPool, draft: &Draft, editor: i64) -> Result<Article, sqlx::Error> {
    let (id,): (i64,) = sqlx::query_as(
        "INSERT INTO articles (title, summary, body, author_id, updated_by, created_at, \
         updated_at, version) VALUES ($1, $2, $3, $4, $4, $5, $5, 1) RETURNING id",
    )
    .bind(&draft.title)
    .bind(&draft.summary)
    .bind(&draft.body)
    .bind(editor)
    .bind(db::now())
    .fetch_one(pool)
    .await?;
    get(pool, id).await?.ok_or(sqlx::Error::RowNotFound)
}

/// How a save ended.
#[derive(Debug)]
pub enum Saved {
    /// Stored: the article before and after.
    Done {
        /// As it was.
        before: Box<Article>,
        /// As it is now.
        after: Box<Article>,
    },
    /// Someone saved a newer version since the form was rendered; nothing was stored.
    Stale(Box<Article>),
    /// The article is gone.
    Missing,
}

/// Saves `draft` over article `id`, if its stored version is still `version`.
///
/// ```
/// use newsroom::article::{self, Draft, Saved};
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// let pool = newsroom::db::scratch().await?;
/// let draft = Draft { title: "New title".into(), summary: String::new(), body: "Text.".into() };
/// assert!(matches!(article::update(&pool, 1, 1, &draft, 2).await?, Saved::Done { .. }));
/// // A second save from the same version-1 form is caught.
/// let Saved::Stale(current) = article::update(&pool, 1, 1, &draft, 3).await? else { panic!() };
/// assert_eq!((current.version, current.updated_by.as_str()), (2, "Bob Okafor"));
/// # Ok::<(), Box<dyn std::error::Error>>(()) }).unwrap();
/// ```
pub async fn update(
    pool: &AnyPool,
    id: i64,
    version: i64,
    draft: &Draft,
    editor: i64,
) -> Result<Saved, sqlx::Error> {
    let Some(before) = get(pool, id).await? else {
        return Ok(Saved::Missing);
    };
    let stored = sqlx::query(
        "UPDATE articles SET title = $1, summary = $2, body = $3, updated_by = $4, \
         updated_at = $5, version = version + 1 WHERE id = $6 AND version = $7",
    )
    .bind(&draft.title)
    .bind(&draft.summary)
    .bind(&draft.body)
    .bind(editor)
    .bind(db::now())
    .bind(id)
    .bind(version)
    .execute(pool)
    .await?
    .rows_affected();
    // Read again whatever happened: the version check is the UPDATE's, not the read's.
    let Some(after) = get(pool, id).await? else {
        return Ok(Saved::Missing);
    };
    Ok(if stored == 1 {
        Saved::Done {
            before: Box::new(before),
            after: Box::new(after),
        }
    } else {
        Saved::Stale(Box::new(after))
    })
}

/// Deletes article `id`; returns it as it was, or `None` if it was already gone.
///
/// ```
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// let pool = newsroom::db::scratch().await?;
/// assert!(newsroom::article::delete(&pool, 2).await?.is_some());
/// assert!(newsroom::article::delete(&pool, 2).await?.is_none());
/// # Ok::<(), Box<dyn std::error::Error>>(()) }).unwrap();
/// ```
pub async fn delete(pool: &AnyPool, id: i64) -> Result<Option<Article>, sqlx::Error> {
    let Some(article) = get(pool, id).await? else {
        return Ok(None);
    };
    let gone = sqlx::query("DELETE FROM articles WHERE id = $1")
        .bind(id)
        .execute(pool)
        .await?
        .rows_affected();
    Ok((gone == 1).then_some(article))
}
