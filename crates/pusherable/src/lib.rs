//! Real-time "someone else is looking at this" notices for axum apps: django-pusherable for
//! Rust, with the real-time server built in.
//!
//! A handler declares what happened to an object next to the page it returns, and every other
//! page open on that object hears about it at once: "Ada is editing this article", "Bob saved
//! changes", "Carol deleted it", and who else is here.
//!
//! - [`#[derive(Pusherable)]`](Pusherable) gives a model its channel (`private-article-42`)
//!   and the fields its events carry; fields marked `secret` are never sent.
//! - [`Notify`] is the one expression a handler adds: `(Notify::update(&article), Html(page))`.
//!   The layer from [`Realtime::layer`] sends it only if the response is a success, with the
//!   acting user, and off the request path: a slow or dead real-time backend never slows or
//!   breaks a page.
//! - [`Access`] is what the app tells the web layer once: who the user of a request is, what
//!   others may see of them, and which objects they may listen to. The authorization endpoints
//!   in [`Realtime::routes`] ask it before any page subscribes (403 when the answer is no).
//! - The template helpers (`pusherable_script()`, `pusherable_subscribe(event, object)`,
//!   `pusherable_presence(object)`) and `pusherable.js`, served from the binary, do the rest in
//!   the browser: one connection per page, a default accessible notice, per-event callbacks,
//!   desktop notifications on request, "who else is here" lists, "who is online" for signed-in
//!   pages, and a word to the page when it is back from offline.
//!
//! # Quick start
//!
//! In a fresh axum app, with `pusherable`, `axum`, `minijinja`, `serde` (feature `derive`) and
//! `tokio` (feature `full`) as dependencies:
//!
//! ```no_run
//! use std::sync::Arc;
//!
//! use axum::{
//!     extract::{Path, State},
//!     http::{request::Parts, StatusCode},
//!     response::{Html, IntoResponse},
//!     routing::get,
//!     Router,
//! };
//! use minijinja::{context, Environment};
//! use pusherable::{Access, Live, Notify, ObjectChannel, Profile, Pusherable, Realtime};
//!
//! // 1. A model: its events go to `private-article-{id}`, without `editor_notes`.
//! #[derive(serde::Serialize, Pusherable)]
//! struct Article {
//!     id: u64,
//!     title: String,
//!     #[pusherable(secret)]
//!     editor_notes: String,
//! }
//!
//! // 2. Who the users are and what they may see, told once.
//! struct Users;
//!
//! impl Access for Users {
//!     type User = String;
//!
//!     async fn user(&self, request: &Parts) -> Option<String> {
//!         // Read the app's session here. This demo trusts a `user` cookie.
//!         let cookies = request.headers.get("cookie")?.to_str().ok()?;
//!         cookies
//!             .split(';')
//!             .find_map(|c| c.trim().strip_prefix("user="))
//!             .map(str::to_owned)
//!     }
//!
//!     fn profile(&self, user: &String) -> Profile {
//!         Profile::new(user).name(user)
//!     }
//!
//!     async fn may_see(&self, _user: &String, object: &ObjectChannel) -> bool {
//!         object.is::<Article>()
//!     }
//!
//!     // Optional: whose comings and goings a signed-in page follows ("who is online").
//!     async fn watchlist(&self, user: &String) -> Vec<String> {
//!         ["alice", "bob"].into_iter().filter(|u| u != user).map(str::to_owned).collect()
//!     }
//! }
//!
//! // 3. A page that tells the others it is open, and listens to them.
//! const EDIT: &str = r#"<!doctype html>
//! <html><head><title>{{ article.title }}</title>{{ pusherable_script() }}</head>
//! <body>
//!   <h1>Editing {{ article.title }}</h1>
//!   {{ pusherable_subscribe("*", article) }}
//!   <p>Online: <span id="online"></span></p>
//!   <script>
//!     // Optional: sign the page in, and show which of its watchlist are online.
//!     pusherable.signin().catch(() => {}); // anonymous visitors are refused
//!     pusherable.on("pusherable:watchlist", () => {
//!       document.getElementById("online").textContent = pusherable.watchlist().online.join(", ");
//!     });
//!   </script>
//! </body></html>"#;
//!
//! async fn edit(
//!     State(templates): State<Arc<Environment<'static>>>,
//!     Path(id): Path<u64>,
//! ) -> Result<impl IntoResponse, StatusCode> {
//!     let article = Article { id, title: "Hello".into(), editor_notes: String::new() };
//!     let page = templates
//!         .get_template("edit.html")
//!         .and_then(|t| t.render(context! { article => Live(&article) }))
//!         .map_err(|_| StatusCode::INTERNAL_SERVER_ERROR)?;
//!     Ok((Notify::update(&article), Html(page)))
//! }
//!
//! #[tokio::main]
//! async fn main() -> Result<(), Box<dyn std::error::Error>> {
//!     // 4. The real-time server runs inside the app; its routes and the layer go on the router.
//!     let realtime = Realtime::embedded(Users)?;
//!     let mut templates = Environment::new();
//!     templates.add_template("edit.html", EDIT)?;
//!     realtime.add_to_minijinja(&mut templates);
//!
//!     let app = Router::new()
//!         .route("/articles/{id}/edit", get(edit))
//!         .with_state(Arc::new(templates))
//!         .merge(realtime.routes())
//!         .layer(realtime.layer());
//!     let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await?;
//!     axum::serve(listener, app).await?;
//!     Ok(())
//! }
//! ```
//!
//! Open `http://127.0.0.1:3000/articles/1/edit` in two browsers with `user` cookies `alice`
//! and `bob`: each shows a notice when the other opens the page, and the other's name under
//! "Online" while their page is open.
//!
//! # Events and payload
//!
//! | constructor | event | django-pusherable |
//! |---|---|---|
//! | [`Notify::view`] | `view` | `PusherDetailMixin` |
//! | [`Notify::update`] | `update` (edit form opened) | `PusherUpdateMixin` |
//! | [`Notify::delete`] | `delete` (confirm page opened) | `PusherDeleteMixin` |
//! | [`Notify::updated`] | `updated` (saved) | — |
//! | [`Notify::deleted`] | `deleted` | — |
//! | [`Notify::custom`] | any name | `pusher_event_name` |
//!
//! Every event carries `{"object": {...fields}, "user": {"id": "7", "name": "Ada"}}` (`"user"`
//! is `null` for anonymous requests). In the browser, `data.user` also turns into its name when
//! used as text, so front-end code written for django-pusherable's string `user` keeps working.
//!
//! # Channels and authorization
//!
//! An object's channel is `{prefix}{namespace.}{model}-{key}`: `private-article-42` by default,
//! `presence-article-42` for [`Kind::Presence`] models, `article-42` for [`Kind::Public`] ones,
//! `private-blog.article-42` with a namespace. Private and presence channels are only open to
//! pages whose user [`Access::may_see`] the object; a presence channel also shows each page who
//! else is there, with the [`Profile`] of each user.
//!
//! # In the browser
//!
//! `pusherable_script()` loads `pusherable.js` once per page; it opens one connection for all
//! the page's subscriptions and, for each event:
//!
//! - calls `pusherable_notify(event, data)` if the page defines it (django-pusherable's
//!   contract), and the callbacks registered with `pusherable.on(event, callback)` (`"*"` for
//!   all);
//! - otherwise shows its own notice: a polite live region that screen readers announce, with a
//!   close button;
//! - shows a desktop notification while the tab is hidden, once the page has called
//!   `pusherable.enableDesktopNotifications()` (from a click: browsers ask the user);
//! - keeps each `pusherable_presence(object)` list filled, and calls
//!   `pusherable.onMembers(channel, callback)` callbacks with the current members.
//!
//! It reconnects with back-off, answers and sends pings, and re-subscribes after a reconnect.
//! When the last subscribe element or presence list of a channel leaves the page (a part of a
//! single-page app swapped out, say), the page leaves the channel; an element put back joins it
//! again. [`Builder::pusher_js`] makes it use the official pusher-js instead of its own client;
//! everything below works the same with either.
//!
//! What concerns the page itself rather than a channel goes to `pusherable.on(name, callback)`
//! and to a DOM event of the same name on `document` (never to `pusherable_notify`, whose
//! handlers expect an object's events):
//!
//! - `pusherable.signin()` signs the page's connection in as its user, through the user
//!   authentication route, and again after every reconnect. It resolves with the user
//!   (`{id, info, watchlist}`, also `pusherable.user()`), or rejects with an error whose
//!   `status` is 403 when nobody is signed in; `"pusherable:signin"` and
//!   `"pusherable:signin_error"` (`{status, code, message}`) say the same, and `<html>` gets
//!   `data-pusherable-signin` (`pending`, `signed-in`, `denied`, `error`).
//! - `"pusherable:watchlist"`, for a signed-in page, carries `{online: [ids], offline: [ids]}`:
//!   the users of its [`Access::watchlist`] whose status the server just told (all of them at
//!   sign-in, then each change). `pusherable.watchlist()` is the whole picture at any time.
//! - `"pusherable:reconnected"` comes once a lost connection is back and the page's
//!   subscriptions are made again (or after 10 s at most): `{offline_ms, channels}`, how long
//!   the page was offline and the channels it is on again. Events sent meanwhile were missed;
//!   this is the moment to check what changed (the newsroom compares its article's version).
//!
//! Also in `window.pusherable`:
//!
//! - `trigger(channel, "client-…", data)` sends a client event to the other pages on a
//!   private or presence channel (their `on` callbacks get the sender's `user_id` on presence
//!   channels);
//! - `socketId()`, to send as the [`SOCKET_ID_HEADER`] of the page's own requests so that it is
//!   not told about what it did itself;
//! - `members(channel)`, `subscribe(channel, events)`, `unsubscribe(channel)`, `off(event,
//!   callback)`.
//!
//! Each subscribe element and presence list gets a `data-pusherable-state` attribute
//! (`pending`, `subscribed`, `denied` when the app said no, `error`), and `<html>` a
//! `data-pusherable-connection` one, for styles and tests. If the page has a
//! `<meta name="csrf-token" content="…">`, its value goes with every authorization request as
//! `X-CSRF-Token`.
//!
//! # Templates
//!
//! [`Realtime::add_to_minijinja`] (feature `minijinja`, on by default) and
//! [`Realtime::add_to_tera`] (feature `tera`) add the three helpers to an engine. Templates get
//! objects wrapped in [`Live`], which serializes as the object's own fields plus its channel,
//! so `article.title` and `pusherable_subscribe("update", article)` both work; a channel name
//! works as well. Other engines, and hand-written HTML, use the same pieces directly:
//! [`Realtime::script_tag`], [`subscribe_tag`] and [`presence_tag`] return [`Markup`], HTML
//! whose every value is escaped. With the `askama` feature, askama outputs [`Markup`] fields
//! as they are:
//!
//! ```
//! # #[cfg(all(feature = "askama", feature = "embedded"))] {
//! # use pusherable::__doc::NoOne;
//! use askama::Template;
//! use pusherable::{presence_tag, subscribe_tag, Events, Markup, Pusherable};
//!
//! #[derive(Pusherable)]
//! #[pusherable(presence)]
//! struct Article { id: u64 }
//!
//! #[derive(Template)]
//! #[template(source = "<head>{{ script }}</head>{{ subscribe }}{{ others }}", ext = "html")]
//! struct ArticlePage { script: Markup, subscribe: Markup, others: Markup }
//!
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! let realtime = pusherable::Realtime::embedded(NoOne)?;
//! let channel = Article { id: 1 }.pusherable_channel()?;
//! let page = ArticlePage {
//!     script: realtime.script_tag(),
//!     subscribe: subscribe_tag(&Events::All, &channel),
//!     others: presence_tag(&channel),
//! };
//! assert!(page.render()?.contains(r#"<template data-pusherable-channel="presence-article-1""#));
//! # Ok::<(), Box<dyn std::error::Error>>(()) }).unwrap();
//! # }
//! ```
//!
//! # Backends
//!
//! [`Realtime::embedded`] runs the server in-process (feature `embedded`, on by default): events
//! are handed to it directly, without HTTP. `Backend::rest` (feature `rest`) sends them over
//! the Pusher REST API instead: to hosted Pusher, or to `pusherable serve` on another host.
//! [`Backend::from_url`] picks one from a configuration string (`embedded`, or
//! `http://KEY:SECRET@HOST:PORT/apps/ID`), so that a deployment switches with one variable.
//! Either way, events go through a bounded queue drained by a background task; what does not
//! fit is dropped, and every failure is logged and counted in [`Realtime::stats`].
//!
//! # Layout
//!
//! - `model`: the [`Pusherable`] trait and [`Kind`]; the derive lives in `pusherable-derive`.
//! - `channel`: [`ObjectChannel`], an object's channel name, made and read back.
//! - `access`: [`Access`], the app's answers about users, and [`Profile`].
//! - `notify`: [`Notify`], carried in the response's extensions.
//! - `layer`: [`NotifyLayer`], which queues the notifications of successful responses.
//! - `queue`: the bounded queue, its background task, [`Stats`].
//! - `breaker`: leaves a backend that keeps failing alone for a pause.
//! - `backend`: [`Backend`], the embedded server or the REST client, which also signs
//!   subscriptions.
//! - `auth`: the channel authorization and user authentication endpoints, [`AuthError`].
//! - `page`: the script tag, the subscribe and presence elements, [`Live`], HTML escaping.
//! - `templates`: the helpers for each template engine (features `minijinja` and `tera`).
//! - `assets`: `pusherable.js` (from `js/` in the repository), compiled in and served.
//! - `realtime`: [`Realtime`] and its [`Builder`], which tie the rest together.
//!
//! **Architecture invariant:** no request ever waits on the real-time backend: the layer only
//! `try_send`s into the queue. Every signature and channel-name rule comes from
//! `pusherable-protocol`.

#[cfg(not(any(feature = "embedded", feature = "rest")))]
compile_error!("pusherable needs a backend: enable the `embedded` or the `rest` feature");

mod access;
mod assets;
mod auth;
mod backend;
mod breaker;
mod channel;
mod layer;
mod model;
mod notify;
mod page;
mod queue;
mod realtime;
mod templates;

pub use access::{Access, Profile};
pub use auth::AuthError;
pub use backend::Backend;
#[cfg(feature = "embedded")]
pub use backend::IN_PROCESS_KEY;
pub use channel::{ChannelError, ObjectChannel};
pub use layer::{NotifyLayer, NotifyService, SOCKET_ID_HEADER};
pub use model::{Fields, Kind, Pusherable};
pub use notify::{Notify, NotifyError};
pub use page::{presence_tag, subscribe_tag, Events, Live, Markup, Websocket};
pub use queue::Stats;
pub use realtime::{BuildError, Builder, Realtime};

/// Derives [`Pusherable`]; see the trait for the attributes.
pub use pusherable_derive::Pusherable;

#[cfg(feature = "embedded")]
pub use pusherable_server as server;

#[cfg(feature = "rest")]
pub use pusherable_client as client;

#[doc(hidden)]
pub use model::__private;

/// Helpers for this crate's own doc examples; not part of the public API.
#[doc(hidden)]
pub mod __doc {
    use crate::{Access, ObjectChannel, Profile};

    /// An app with no users: every request is anonymous.
    #[derive(Debug, Clone, Copy)]
    pub struct NoOne;

    impl Access for NoOne {
        type User = ();
        async fn user(&self, _: &http::request::Parts) -> Option<()> {
            None
        }
        fn profile(&self, _: &()) -> Profile {
            Profile::new(0)
        }
        async fn may_see(&self, _: &(), _: &ObjectChannel) -> bool {
            false
        }
    }
}
