//! A Pusher-protocol-7 server you mount in your own axum app, or run on its own.
//!
//! Official Pusher clients (pusher-js, laravel-echo, the `pusher` libraries on npm and PyPI)
//! work against it unchanged.
//!
//! ```no_run
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! use pusherable_server::{AppConfig, Config, Server};
//!
//! let mut config = Config::default();
//! config.apps.push(AppConfig::new("1", "app-key", "app-secret"));
//! let server = Server::new(config)?;
//!
//! // The real-time routes live beside the app's own.
//! let app = axum::Router::new()
//!     .route("/", axum::routing::get(|| async { "hello" }))
//!     .merge(server.router());
//!
//! // Publish from the app's own code, without HTTP.
//! server.publish("1", &["news"], "story-published", r#"{"id":42}"#, None)?;
//! # let _ = app; Ok(()) }
//! ```
//!
//! # Layout
//!
//! - [`config`]: settings, from TOML and `PUSHERABLE_*` variables.
//! - `hub`: the channels of one app, subscribers, presence members and fan-out.
//! - `outbox`: each connection's outbound queue, bounded by bytes.
//! - `connection`: one task per WebSocket; one module per client → server event.
//! - `rest`: the HTTP API (`/apps/{id}/…`), its signature check and its errors.
//! - `trigger`: checks and delivery of events, shared by REST and [`Server::publish`].
//! - [`adapter`]: the seam to other nodes of a cluster.
//! - `serve`: the standalone listener with graceful shutdown.
//!
//! **Architecture invariant:** this crate knows nothing of the web layer, and it never writes a
//! wire frame or a signature itself: `pusherable-protocol` does.

pub mod adapter;
pub mod config;
mod connection;
mod hub;
mod lifecycle;
mod limiter;
mod metrics;
mod outbox;
mod rest;
mod serve;
mod tls;
mod trigger;
mod users;
mod webhooks;

use std::{
    collections::HashMap,
    sync::{
        atomic::{AtomicU64, AtomicUsize},
        Arc,
    },
};

use axum::{routing, Router};
use tokio_util::sync::CancellationToken;

pub use adapter::{Adapter, Broadcast, LocalAdapter};
pub use config::{AppConfig, Config, ConfigError, TlsConfig, WebhookConfig};
pub use serve::{serve, spawn, ServeError, Spawned};
pub use tls::TlsError;
pub use trigger::TriggerError;

/// REST events that may wait for fan-out per app before REST callers wait.
const FANOUT_QUEUE: usize = 4096;

/// A running server's shared state. Cheap to clone; every clone is the same server.
#[derive(Debug, Clone)]
pub struct Server {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    config: Config,
    by_id: HashMap<String, Arc<App>>,
    by_key: HashMap<String, Arc<App>>,
    adapter: Box<dyn Adapter>,
    /// Cancelled when the server drains: every connection then closes with 4200.
    shutdown: CancellationToken,
    /// Source of the hub's internal connection ids.
    next_peer: AtomicU64,
    /// Connection attempts per IP address in the current second.
    attempts: limiter::Limiter<std::net::IpAddr>,
}

/// One app at run time.
#[derive(Debug)]
pub(crate) struct App {
    pub(crate) config: AppConfig,
    pub(crate) hub: hub::Hub,
    pub(crate) users: users::Users,
    pub(crate) metrics: Arc<metrics::Metrics>,
    /// `None` when the app has no webhook receivers.
    pub(crate) webhooks: Option<Arc<webhooks::Webhooks>>,
    pub(crate) counts: lifecycle::CountThrottle,
    /// REST requests in the current second.
    pub(crate) rest_rate: limiter::Limiter<()>,
    /// REST events waiting for fan-out, delivered in order by one task (started on first use).
    pub(crate) fanout: std::sync::OnceLock<tokio::sync::mpsc::Sender<Broadcast>>,
    /// Open connections, checked against `max_connections`.
    pub(crate) connections: AtomicUsize,
}

impl Server {
    /// A single-node server for `config`'s apps.
    pub fn new(config: Config) -> Result<Self, ConfigError> {
        Self::with_adapter(config, Box::new(LocalAdapter))
    }

    /// A server whose broadcasts also go to other nodes through `adapter`.
    pub fn with_adapter(config: Config, adapter: Box<dyn Adapter>) -> Result<Self, ConfigError> {
        config.validate()?;
        let apps: Vec<Arc<App>> = config
            .apps
            .iter()
            .map(|c| {
                let metrics = Arc::new(metrics::Metrics::default());
                Arc::new(App {
                    config: c.clone(),
                    hub: hub::Hub::default(),
                    users: users::Users::default(),
                    webhooks: webhooks::Webhooks::new(c, config.webhook_queue, metrics.clone()),
                    metrics,
                    counts: lifecycle::CountThrottle::default(),
                    rest_rate: limiter::Limiter::default(),
                    fanout: std::sync::OnceLock::new(),
                    connections: AtomicUsize::new(0),
                })
            })
            .collect();
        let by_id = apps
            .iter()
            .map(|a| (a.config.id.clone(), a.clone()))
            .collect();
        let by_key = apps
            .iter()
            .map(|a| (a.config.key.clone(), a.clone()))
            .collect();
        Ok(Server {
            inner: Arc::new(Inner {
                config,
                by_id,
                by_key,
                adapter,
                shutdown: CancellationToken::new(),
                next_peer: AtomicU64::new(1),
                attempts: limiter::Limiter::default(),
            }),
        })
    }

    /// The settings this server runs with.
    pub fn config(&self) -> &Config {
        &self.inner.config
    }

    /// The routes of the protocol, to merge into an app's router: the WebSocket endpoint
    /// `{prefix}/app/{key}`, the REST API `{prefix}/apps/{id}/…` and `{prefix}/up`.
    pub fn router(&self) -> Router {
        let p = &self.inner.config.path_prefix;
        Router::new()
            .route(
                &format!("{p}/app/{{key}}"),
                routing::get(connection::upgrade),
            )
            .route(&format!("{p}/up"), routing::get(|| async { "OK" }))
            .route(&format!("{p}/ready"), routing::get(ready))
            .merge(rest::routes(p))
            .with_state(self.clone())
    }

    /// Triggers `event` with `data` on `channels` of app `app_id` from the app's own process:
    /// the same checks and delivery as `POST /apps/{id}/events`, without HTTP or signatures.
    pub fn publish(
        &self,
        app_id: &str,
        channels: &[&str],
        event: &str,
        data: &str,
        except_socket_id: Option<&str>,
    ) -> Result<(), TriggerError> {
        let app = self.app_by_id(app_id).ok_or(TriggerError::UnknownApp)?;
        let body = pusherable_protocol::rest::TriggerBody {
            name: event.to_owned(),
            data: data.to_owned(),
            channels: Some(channels.iter().map(|c| (*c).to_owned()).collect()),
            socket_id: except_socket_id.map(str::to_owned),
            ..Default::default()
        };
        let (broadcasts, _) = trigger::trigger(&app, body)?;
        for b in &broadcasts {
            self.broadcast(&app, b);
        }
        Ok(())
    }

    /// Every app's counters in the Prometheus text format (what the standalone `/metrics`
    /// serves), for an app that wants to expose them on a route of its own.
    pub fn metrics_text(&self) -> String {
        let mut apps: Vec<&Arc<App>> = self.inner.by_id.values().collect();
        apps.sort_by(|a, b| a.config.id.cmp(&b.config.id));
        let samples: Vec<metrics::Sample<'_>> = apps
            .iter()
            .map(|a| metrics::Sample {
                app_id: &a.config.id,
                connections: a.connections.load(std::sync::atomic::Ordering::Relaxed),
                subscriptions: a.hub.subscription_total(),
                channels: a.hub.occupied("").len(),
                metrics: &a.metrics,
            })
            .collect();
        metrics::render(&samples)
    }

    /// True while the server accepts connections (false once it drains).
    pub fn is_ready(&self) -> bool {
        !self.inner.shutdown.is_cancelled()
    }

    /// Starts draining: every open connection is told to reconnect (4200) and closed.
    pub fn shutdown(&self) {
        self.inner.shutdown.cancel();
    }

    /// Open connections across all apps.
    pub fn connection_count(&self) -> usize {
        self.inner
            .by_id
            .values()
            .map(|a| a.connections.load(std::sync::atomic::Ordering::Relaxed))
            .sum()
    }

    pub(crate) fn app_by_id(&self, id: &str) -> Option<Arc<App>> {
        self.inner.by_id.get(id).cloned()
    }

    pub(crate) fn app_by_key(&self, key: &str) -> Option<Arc<App>> {
        self.inner.by_key.get(key).cloned()
    }

    /// Queues broadcasts for delivery after the caller has answered: a REST trigger returns
    /// before its fan-out is done. One task per app delivers them in the order they came, and
    /// the queue is bounded: when it is full, callers wait.
    pub(crate) async fn deliver_later(&self, app: &Arc<App>, broadcasts: Vec<Broadcast>) {
        let queue = app.fanout.get_or_init(|| {
            let (tx, mut rx) = tokio::sync::mpsc::channel::<Broadcast>(FANOUT_QUEUE);
            // Weak references: the app owns the queue, so the task must not own the app.
            let (server, weak_app) = (Arc::downgrade(&self.inner), Arc::downgrade(app));
            tokio::spawn(async move {
                while let Some(b) = rx.recv().await {
                    let (Some(inner), Some(app)) = (server.upgrade(), weak_app.upgrade()) else {
                        return;
                    };
                    Server { inner }.broadcast(&app, &b);
                }
            });
            tx
        });
        for b in broadcasts {
            if b.cache_data.is_some() {
                // A cache channel's event is remembered and sent under one lock, so that a new
                // subscriber gets it exactly once; done now, it is also in the cache as soon as
                // the trigger is answered. Each channel's events keep their order either way.
                self.broadcast(app, &b);
            } else if queue.send(b).await.is_err() {
                return;
            }
        }
    }

    /// Delivers a broadcast here and hands it to the other nodes.
    pub(crate) fn broadcast(&self, app: &App, b: &Broadcast) {
        let delivered = match &b.cache_data {
            Some(data) => app
                .hub
                .publish_cached(&b.channel, &b.frame, data, b.except.as_ref()),
            None => app.hub.publish(&b.channel, &b.frame, b.except.as_ref()),
        };
        app.metrics.sent(delivered, b.frame.len());
        self.inner.adapter.forward(b);
    }
}

/// `/ready`: 200 while accepting connections, 503 while draining.
async fn ready(
    axum::extract::State(server): axum::extract::State<Server>,
) -> axum::http::StatusCode {
    if server.is_ready() {
        axum::http::StatusCode::OK
    } else {
        axum::http::StatusCode::SERVICE_UNAVAILABLE
    }
}
