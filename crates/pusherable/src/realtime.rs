//! [`Realtime`]: the one handle an app keeps, and its [`Builder`].

use std::{sync::Arc, time::Duration};

use axum::{routing, Router};
use tokio::sync::mpsc;

use crate::{
    access::{Access, Profile},
    backend::Backend,
    breaker::Breaker,
    layer::NotifyLayer,
    notify::Notify,
    page::{ClientScript, Markup, Page, Websocket},
    queue::{self, Actor, Core, Counters, Job, Settings, Stats},
};

/// The web layer of one app: the realtime layer, the routes pages need, the script tag and the
/// event queue. Cheap to clone; every clone is the same.
///
/// ```
/// # #[cfg(feature = "embedded")] {
/// use axum::{routing::get, Router};
/// # use pusherable::__doc::NoOne as Users;
/// # async fn run() -> Result<(), pusherable::BuildError> {
/// let realtime = pusherable::Realtime::embedded(Users)?;
/// let app: Router = Router::new()
///     .route("/", get(|| async { "home" }))
///     .merge(realtime.routes())
///     .layer(realtime.layer());
/// # Ok(()) }
/// # }
/// ```
pub struct Realtime<A: Access> {
    core: Arc<Core<A>>,
    /// Dropping the last handle closes the queue, and the background task ends once it is
    /// empty.
    queue: mpsc::Sender<Job>,
    page: Arc<Page>,
    /// Where the routes are mounted, such as `/pusherable`.
    path: Arc<str>,
}

impl<A: Access> Clone for Realtime<A> {
    fn clone(&self) -> Self {
        Realtime {
            core: self.core.clone(),
            queue: self.queue.clone(),
            page: self.page.clone(),
            path: self.path.clone(),
        }
    }
}

impl<A: Access> std::fmt::Debug for Realtime<A> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Realtime")
            .field("backend", &self.core.backend)
            .field("path", &self.path)
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}

/// Why a [`Realtime`] could not be built.
///
/// ```
/// # #[cfg(feature = "embedded")] {
/// # use pusherable::__doc::NoOne;
/// // Outside a Tokio runtime there is nowhere to run the event queue.
/// let err = pusherable::Realtime::embedded(NoOne).unwrap_err();
/// assert!(matches!(err, pusherable::BuildError::NoRuntime));
/// # }
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BuildError {
    /// Not called from within a Tokio runtime, which the event queue runs on.
    #[error("pusherable needs a Tokio runtime: build Realtime from async code")]
    NoRuntime,
    /// [`Builder::backend`] was not called.
    #[error("no backend: call Builder::backend")]
    NoBackend,
    /// The embedded server has no app with this id.
    #[error("the embedded server has no app with id {0:?}")]
    UnknownApp(String),
    /// [`Backend::from_url`] was given a URL it cannot use.
    #[error("invalid backend: {0}")]
    Backend(String),
    /// The route path does not start with `/`, ends with `/`, or has characters other than
    /// letters, digits and `-_./`.
    #[error("invalid route path {0:?}: expected something like /pusherable")]
    Path(String),
}

/// Configures a [`Realtime`]; made by [`Realtime::builder`].
///
/// ```
/// # #[cfg(feature = "embedded")] {
/// use std::time::Duration;
/// # use pusherable::__doc::NoOne;
/// # async fn run() -> Result<(), pusherable::BuildError> {
/// let realtime = pusherable::Realtime::builder(NoOne)
///     .backend(pusherable::Backend::in_process())
///     .path("/live")
///     .queue_capacity(256)
///     .timeout(Duration::from_secs(2))
///     .build()?;
/// # Ok(()) }
/// # }
/// ```
#[must_use]
pub struct Builder<A> {
    access: A,
    backend: Option<Backend>,
    path: String,
    settings: Settings,
    websocket: Option<Websocket>,
    client: ClientScript,
}

impl<A: Access> Realtime<A> {
    /// Starts configuring the web layer for an app whose users `access` describes.
    ///
    /// ```
    /// # use pusherable::__doc::NoOne;
    /// let builder = pusherable::Realtime::builder(NoOne);
    /// ```
    pub fn builder(access: A) -> Builder<A> {
        Builder {
            access,
            backend: None,
            path: "/pusherable".into(),
            settings: Settings {
                capacity: 1024,
                concurrency: 16,
                timeout: Duration::from_secs(5),
                failure_pause: Duration::from_secs(1),
            },
            websocket: None,
            client: ClientScript::Own,
        }
    }

    /// The quickest start: a real-time server inside this process, with default settings.
    /// Must be called from within a Tokio runtime.
    ///
    /// ```
    /// # #[cfg(feature = "embedded")] {
    /// # use pusherable::__doc::NoOne;
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// let realtime = pusherable::Realtime::embedded(NoOne)?;
    /// assert!(realtime.backend().server().is_some());
    /// # Ok::<(), pusherable::BuildError>(()) }).unwrap();
    /// # }
    /// ```
    #[cfg(feature = "embedded")]
    pub fn embedded(access: A) -> Result<Self, BuildError> {
        Self::builder(access).backend(Backend::in_process()).build()
    }

    /// The layer that sends each response's [`Notify`] once the response is a success. Install
    /// it once, on the whole router, after (outside of) the routes that notify, and before
    /// (inside of) any session layer whose data [`Access::user`] reads.
    ///
    /// ```
    /// # #[cfg(feature = "embedded")] {
    /// # use pusherable::__doc::NoOne;
    /// # async fn run() -> Result<(), pusherable::BuildError> {
    /// # let realtime = pusherable::Realtime::embedded(NoOne)?;
    /// let app: axum::Router = axum::Router::new().layer(realtime.layer());
    /// # Ok(()) }
    /// # }
    /// ```
    pub fn layer(&self) -> NotifyLayer<A> {
        NotifyLayer::new(self.clone())
    }

    /// The routes pages need, under the configured path (default `/pusherable`):
    ///
    /// - `POST {path}/auth`: channel authorization for pusher-js and pusherable.js;
    /// - `POST {path}/user-auth`: user authentication (`pusher:signin`, from
    ///   `pusherable.signin()` or pusher-js's `signin()`), with the [`Access::watchlist`];
    /// - `GET {path}/pusherable.js`: the browser script;
    /// - with the embedded backend, the server's own routes too (`/app/{key}` for WebSockets,
    ///   `/apps/{id}/…` for its REST API, `/up`): do not merge `server.router()` again.
    ///
    /// ```
    /// # #[cfg(feature = "embedded")] {
    /// # use pusherable::__doc::NoOne;
    /// # async fn run() -> Result<(), pusherable::BuildError> {
    /// # let realtime = pusherable::Realtime::embedded(NoOne)?;
    /// #[derive(Clone)]
    /// struct AppState;
    /// let app: axum::Router<AppState> = axum::Router::new().merge(realtime.routes());
    /// # Ok(()) }
    /// # }
    /// ```
    pub fn routes<S: Clone + Send + Sync + 'static>(&self) -> Router<S> {
        let p = &self.path;
        let own = Router::new()
            .route(
                &format!("{p}/auth"),
                routing::post(crate::auth::channel::<A>),
            )
            .route(
                &format!("{p}/user-auth"),
                routing::post(crate::auth::user::<A>),
            )
            .route(
                &format!("{p}/pusherable.js"),
                routing::get(crate::assets::script),
            )
            .with_state(self.clone());
        match self.core.backend.router() {
            Some(server) => own.merge(server.with_state(())),
            None => own,
        }
    }

    /// The `<script>` tag that loads pusherable.js with its settings: the app key, where to
    /// connect and the auth endpoints. Put it once in the page layout; the template helpers
    /// (`pusherable_script()`) output the same.
    ///
    /// ```
    /// # #[cfg(feature = "embedded")] {
    /// # use pusherable::__doc::NoOne;
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// # let realtime = pusherable::Realtime::embedded(NoOne)?;
    /// let tag = realtime.script_tag();
    /// assert!(tag.starts_with(r#"<script src="/pusherable/pusherable.js?v="#));
    /// # Ok::<(), pusherable::BuildError>(()) }).unwrap();
    /// # }
    /// ```
    pub fn script_tag(&self) -> Markup {
        self.page.script_tag()
    }

    /// The backend events go to.
    ///
    /// ```
    /// # #[cfg(feature = "embedded")] {
    /// # use pusherable::__doc::NoOne;
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// # let realtime = pusherable::Realtime::embedded(NoOne)?;
    /// let server = realtime.backend().server().expect("embedded");
    /// # Ok::<(), pusherable::BuildError>(()) }).unwrap();
    /// # }
    /// ```
    pub fn backend(&self) -> &Backend {
        &self.core.backend
    }

    /// The app's [`Access`].
    ///
    /// ```
    /// # #[cfg(feature = "embedded")] {
    /// # use pusherable::__doc::NoOne;
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// # let realtime = pusherable::Realtime::embedded(NoOne)?;
    /// let access: &NoOne = realtime.access();
    /// # Ok::<(), pusherable::BuildError>(()) }).unwrap();
    /// # }
    /// ```
    pub fn access(&self) -> &A {
        &self.core.access
    }

    /// Queues a notification outside of a response (from a background job, say), on behalf of
    /// `user` (`None` for the system). Returns false if it was invalid or the queue was full;
    /// either way it is counted and logged, as from the layer.
    ///
    /// ```
    /// # #[cfg(feature = "embedded")] {
    /// # use pusherable::__doc::NoOne;
    /// #[derive(pusherable::Pusherable)]
    /// struct Article { id: u64 }
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// # let realtime = pusherable::Realtime::embedded(NoOne)?;
    /// let queued = realtime.send(pusherable::Notify::custom("published", &Article { id: 1 }), None);
    /// assert!(queued);
    /// realtime.flush().await;
    /// assert_eq!(realtime.stats().sent, 1);
    /// # Ok::<(), pusherable::BuildError>(()) }).unwrap();
    /// # }
    /// ```
    pub fn send(&self, notify: Notify, user: Option<Profile>) -> bool {
        self.enqueue(vec![notify], Actor::Known(user), None)
    }

    /// Queues the notifications of one successful response.
    pub(crate) fn enqueue(
        &self,
        notifications: Vec<Notify>,
        user: Actor,
        except: Option<String>,
    ) -> bool {
        let mut events = Vec::with_capacity(notifications.len());
        for notify in notifications {
            match notify.inner {
                Ok(event) => events.push(event),
                Err(error) => {
                    self.core.counters.fail(1);
                    tracing::warn!(%error, "realtime event not sent");
                }
            }
        }
        if events.is_empty() {
            return false;
        }
        queue::offer(
            &self.core,
            &self.queue,
            Job {
                events,
                user,
                except,
            },
        )
    }

    /// What happened to events so far.
    ///
    /// ```
    /// # #[cfg(feature = "embedded")] {
    /// # use pusherable::__doc::NoOne;
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// # let realtime = pusherable::Realtime::embedded(NoOne)?;
    /// assert_eq!(realtime.stats().failed, 0);
    /// # Ok::<(), pusherable::BuildError>(()) }).unwrap();
    /// # }
    /// ```
    pub fn stats(&self) -> Stats {
        self.core.counters.stats()
    }

    /// Waits until every event queued before this call has been sent or has failed; for a
    /// graceful shutdown, and for tests.
    ///
    /// ```
    /// # #[cfg(feature = "embedded")] {
    /// # use pusherable::__doc::NoOne;
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// # let realtime = pusherable::Realtime::embedded(NoOne)?;
    /// realtime.flush().await;
    /// assert_eq!(realtime.stats().pending, 0);
    /// # Ok::<(), pusherable::BuildError>(()) }).unwrap();
    /// # }
    /// ```
    pub async fn flush(&self) {
        self.core.counters.flush().await;
    }

    pub(crate) fn core(&self) -> &Core<A> {
        &self.core
    }
}

impl<A: Access> Builder<A> {
    /// Where events go: [`Backend::in_process`], [`Backend::embedded`] or `Backend::rest`.
    ///
    /// ```
    /// # #[cfg(feature = "embedded")] {
    /// # use pusherable::__doc::NoOne;
    /// let builder = pusherable::Realtime::builder(NoOne).backend(pusherable::Backend::in_process());
    /// # }
    /// ```
    pub fn backend(mut self, backend: Backend) -> Self {
        self.backend = Some(backend);
        self
    }

    /// Where [`Realtime::routes`] are mounted; default `/pusherable`.
    ///
    /// ```
    /// # use pusherable::__doc::NoOne;
    /// let builder = pusherable::Realtime::builder(NoOne).path("/realtime");
    /// ```
    pub fn path(mut self, path: &str) -> Self {
        self.path = path.to_owned();
        self
    }

    /// How many responses' events may wait to be sent (default 1024). When the backend cannot
    /// keep up and the queue is full, further events are dropped and counted.
    ///
    /// ```
    /// # use pusherable::__doc::NoOne;
    /// let builder = pusherable::Realtime::builder(NoOne).queue_capacity(64);
    /// ```
    pub fn queue_capacity(mut self, capacity: usize) -> Self {
        self.settings.capacity = capacity.max(1);
        self
    }

    /// How many responses' events are sent at once (default 16).
    ///
    /// ```
    /// # use pusherable::__doc::NoOne;
    /// let builder = pusherable::Realtime::builder(NoOne).concurrency(4);
    /// ```
    pub fn concurrency(mut self, n: usize) -> Self {
        self.settings.concurrency = n.max(1);
        self
    }

    /// How long one response's events may take, finding the acting user included
    /// (default 5 s); past it they count as failed.
    ///
    /// ```
    /// # use pusherable::__doc::NoOne;
    /// let builder = pusherable::Realtime::builder(NoOne).timeout(std::time::Duration::from_secs(1));
    /// ```
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.settings.timeout = timeout;
        self
    }

    /// How long to leave a failing backend alone (default 1 s): after 5 failures in a row,
    /// events fail at once, without a connection attempt or a log line each, until the pause
    /// is over and one event is tried again.
    ///
    /// ```
    /// # use pusherable::__doc::NoOne;
    /// let builder = pusherable::Realtime::builder(NoOne)
    ///     .failure_pause(std::time::Duration::from_secs(5));
    /// ```
    pub fn failure_pause(mut self, pause: Duration) -> Self {
        self.settings.failure_pause = pause;
        self
    }

    /// Where pages open their WebSocket, when the backend's default is not right (a standalone
    /// server behind a proxy, say).
    ///
    /// ```
    /// # use pusherable::__doc::NoOne;
    /// let builder = pusherable::Realtime::builder(NoOne)
    ///     .websocket(pusherable::Websocket::host("ws.example.com").port(443).tls(true));
    /// ```
    pub fn websocket(mut self, websocket: Websocket) -> Self {
        self.websocket = Some(websocket);
        self
    }

    /// Pages use the official pusher-js, loaded from `src` (a URL the app serves; nothing is
    /// loaded from a CDN), instead of pusherable.js's own protocol client. Notices, callbacks
    /// and presence lists work the same.
    ///
    /// ```
    /// # use pusherable::__doc::NoOne;
    /// let builder = pusherable::Realtime::builder(NoOne).pusher_js("/static/pusher.min.js");
    /// ```
    pub fn pusher_js(mut self, src: &str) -> Self {
        self.client = ClientScript::PusherJs(src.to_owned());
        self
    }

    /// Starts the event queue's background task and returns the handle. Must be called from
    /// within a Tokio runtime.
    ///
    /// ```
    /// # use pusherable::__doc::NoOne;
    /// let err = pusherable::Realtime::builder(NoOne).build().unwrap_err();
    /// assert!(matches!(err, pusherable::BuildError::NoBackend));
    /// ```
    pub fn build(self) -> Result<Realtime<A>, BuildError> {
        let backend = self.backend.ok_or(BuildError::NoBackend)?;
        let path = self.path.trim_end_matches('/');
        let path_ok = path.starts_with('/')
            && path
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_./".contains(&b))
            && !path.contains("//");
        if !path_ok {
            return Err(BuildError::Path(self.path));
        }
        let runtime = tokio::runtime::Handle::try_current().map_err(|_| BuildError::NoRuntime)?;
        let page = Page {
            key: backend.key().to_owned(),
            websocket: self
                .websocket
                .unwrap_or_else(|| backend.default_websocket()),
            script_src: format!("{path}/pusherable.js?v={}", crate::assets::VERSION.as_str()),
            auth_endpoint: format!("{path}/auth"),
            user_auth_endpoint: format!("{path}/user-auth"),
            client: self.client,
        };
        let (queue, receiver) = mpsc::channel(self.settings.capacity);
        let core = Arc::new(Core {
            access: self.access,
            backend,
            counters: Counters::new(),
            breaker: Breaker::new(self.settings.failure_pause),
            settings: self.settings,
        });
        runtime.spawn(queue::run(core.clone(), receiver));
        Ok(Realtime {
            core,
            queue,
            page: Arc::new(page),
            path: path.into(),
        })
    }
}
