//! The live side, all through pusherable's web layer: who the editors are to it, which
//! channels articles and the article list live on, and which server carries the events.
//!
//! - An article's channel is `presence-article-{id}`: its pages see who else is there, hear
//!   `update` (someone opened the edit form), `updated` (a save, with the changed fields),
//!   `delete` (someone opened the delete confirmation) and `deleted`, and pass `client-`
//!   events (typing, editing) between each other.
//! - The article list listens on `private-desk-front` for `created`, `updated` and `deleted`.
//! - Every page signs in, and follows every other editor: the masthead shows who is online.
//! - Events go to the server embedded in the newsroom, unless `PUSHERABLE_URL` names another
//!   one (a standalone `pusherable serve`, or hosted Pusher).

use pusherable::{Access, Backend, Fields, Kind, ObjectChannel, Profile, Pusherable, Realtime};
use serde::Serialize;
use sqlx::AnyPool;

use crate::{
    article::Article,
    session::{Editor, SignedIn},
};

/// The web layer as the newsroom configures it.
pub(crate) type Live = Realtime<Editors>;

/// Why real-time could not be set up: most often a `PUSHERABLE_URL` that is neither
/// `embedded` nor `http(s)://KEY:SECRET@HOST:PORT/apps/ID`.
#[derive(Debug, thiserror::Error)]
#[error("PUSHERABLE_URL: {0}")]
pub struct RealtimeError(#[from] pusherable::BuildError);

/// The editors, as the web layer asks about them: the session cookie says who is asking,
/// every signed-in editor may follow every article that exists, and sees which of the others
/// are online.
#[derive(Debug, Clone)]
pub(crate) struct Editors {
    db: AnyPool,
}

impl Access for Editors {
    type User = Editor;

    async fn user(&self, request: &axum::http::request::Parts) -> Option<Editor> {
        match SignedIn::of(&request.headers, &self.db).await {
            Ok(signed_in) => signed_in.map(|s| s.editor),
            Err(e) => {
                tracing::warn!(error = %e, "session lookup for real-time failed");
                None
            }
        }
    }

    fn profile(&self, editor: &Editor) -> Profile {
        Profile::new(editor.id).name(&editor.name)
    }

    async fn may_see(&self, _editor: &Editor, object: &ObjectChannel) -> bool {
        if object.is::<Desk>() {
            return object.key() == Desk::KEY;
        }
        match object.key_of::<Article, i64>() {
            Some(id) => crate::article::get(&self.db, id)
                .await
                .is_ok_and(|a| a.is_some()),
            None => false,
        }
    }

    async fn watchlist(&self, editor: &Editor) -> Vec<String> {
        match crate::session::colleagues(&self.db, editor.id).await {
            Ok(colleagues) => colleagues.iter().map(|c| c.id.to_string()).collect(),
            Err(e) => {
                // Signing in still works; the page just shows nobody online.
                tracing::warn!(error = %e, "colleagues lookup for the watchlist failed");
                Vec::new()
            }
        }
    }
}

/// The web layer over the server embedded in this process, or over `pusherable_url` when it
/// names another one.
///
/// The embedded server's app key is the same at every start, so pages left open across a
/// restart reconnect with the key they know.
pub(crate) fn connect(db: &AnyPool, pusherable_url: Option<&str>) -> Result<Live, RealtimeError> {
    let backend = Backend::from_url(pusherable_url.unwrap_or("embedded"))?;
    let editors = Editors { db: db.clone() };
    Ok(Realtime::builder(editors).backend(backend).build()?)
}

/// What a save changed, sent as `updated` on the article's channel: the text itself is not
/// sent (an event is at most 10 KB), only which fields differ and the new headline.
#[derive(Debug, Clone, Serialize, Pusherable)]
#[pusherable(model = "article", presence)]
pub(crate) struct Change {
    /// The article.
    pub(crate) id: i64,
    /// Its version after the save.
    pub(crate) version: i64,
    /// Its title after the save.
    pub(crate) title: String,
    /// `title`, `summary` and `body`, those that differ.
    pub(crate) changed: Vec<String>,
}

/// The article list, as one object with one channel (`private-desk-front`): `created`,
/// `updated` and `deleted` events on it carry the article's list entry.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Desk<'a>(pub(crate) &'a Article);

impl Desk<'_> {
    const KEY: &'static str = "front";

    /// The list's channel name, for the list page to subscribe to.
    pub(crate) fn channel() -> Option<String> {
        ObjectChannel::new(
            Kind::Private,
            None,
            <Desk<'_> as Pusherable>::MODEL,
            Self::KEY,
        )
        .ok()
        .map(|c| c.name().to_owned())
    }
}

/// An article as the list shows it.
#[derive(Serialize)]
struct Entry<'a> {
    id: i64,
    title: &'a str,
    summary: &'a str,
    updated_by: &'a str,
    /// The last change, as the list shows it.
    when: String,
}

impl Pusherable for Desk<'_> {
    const MODEL: &'static str = "desk";

    fn pusherable_key(&self) -> String {
        Self::KEY.to_owned()
    }

    fn pusherable_fields(&self) -> Result<Fields, serde_json::Error> {
        let a = self.0;
        let entry = Entry {
            id: a.id,
            title: &a.title,
            summary: &a.summary,
            updated_by: &a.updated_by,
            when: crate::templates::date(a.updated_at),
        };
        match serde_json::to_value(entry)? {
            serde_json::Value::Object(fields) => Ok(fields),
            _ => Ok(Fields::new()),
        }
    }
}
