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
//! - `node`, `app`: this node's apps, and one app at run time.
//! - `state`: what this node knows of an app: connections, channels, presence members,
//!   signed-in users, the cache of cache channels. Plain data; kept once.
//! - `fanout`: the one way anything reaches subscribers: encodes each frame once, queues it
//!   for this node's connections, and hands it to the [`adapter`] for the other nodes.
//! - `outbox`: each connection's outbound queue, bounded by bytes.
//! - `connection`: one task per WebSocket; one module per client → server event.
//! - `rest`: the HTTP API (`/apps/{id}/…`), its signature check and its errors.
//! - `trigger`: checks of server-side events, shared by REST and [`Server::publish`].
//! - [`adapter`]: the seam to other nodes of a cluster; `cluster`: nodes that meet on Redis.
//! - `webhooks`, `metrics`, `limiter`: what the app is told, counted, and held to; `guard`:
//!   bearer credentials for `/metrics` and the console.
//! - `console`: the live debug console, its page and its stream; the taps that feed it.
//! - `serve`, `tls`: the standalone listener with graceful shutdown.
//!
//! **Architecture invariant:** this crate knows nothing of the web layer, and it never writes a
//! wire frame or a signature itself: `pusherable-protocol` does. Modules depend on `node`,
//! never on this file: [`Server`] is the public handle and nothing else.

pub mod adapter;
mod app;
mod cluster;
pub mod config;
mod connection;
mod console;
mod fanout;
mod guard;
mod limiter;
mod metrics;
mod node;
mod outbox;
mod rest;
mod serve;
mod state;
mod tls;
mod trigger;
mod webhooks;

use std::sync::{atomic::Ordering, Arc};

use axum::{extract::State, http::StatusCode, routing, Router};

pub use adapter::{Adapter, Delivery, LocalAdapter};

/// What the fuzz targets of `fuzz/` check of the server's own readers; not part of the API.
#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub mod fuzzing {
    /// Any bytes read as a message from another node of a cluster: see `cluster::message`.
    pub fn cluster_message(bytes: &[u8]) {
        crate::cluster::message::check(bytes);
    }
}
pub use config::{AppConfig, ClusterConfig, Config, ConfigError, TlsConfig, WebhookConfig};
pub use serve::{serve, spawn, ServeError, Spawned};
pub use tls::TlsError;
pub use trigger::TriggerError;

use node::Node;

/// A running server's shared state. Cheap to clone; every clone is the same server.
#[derive(Debug, Clone)]
pub struct Server {
    node: Arc<Node>,
}

/// Builds a [`Server`]: its settings, and how it reaches the other nodes of a cluster.
///
/// ```
/// use pusherable_server::{AppConfig, Config, LocalAdapter, Server};
///
/// let mut config = Config::default();
/// config.apps.push(AppConfig::new("1", "app-key", "app-secret"));
/// let server = Server::builder(config).adapter(LocalAdapter).build()?;
/// assert!(server.is_ready());
/// # Ok::<(), pusherable_server::ConfigError>(())
/// ```
#[derive(Debug)]
pub struct ServerBuilder {
    config: Config,
    adapter: Arc<dyn Adapter>,
}

impl ServerBuilder {
    /// Carries deliveries to the other nodes through `adapter` (default: [`LocalAdapter`],
    /// a single node). A Redis URL in the configuration takes its place.
    #[must_use]
    pub fn adapter(mut self, adapter: impl Adapter) -> Self {
        self.adapter = Arc::new(adapter);
        self
    }

    /// Joins the cluster of nodes that share the Redis server at `url` (`redis://host:port`):
    /// the same as `[cluster] redis_url` in the configuration.
    #[must_use]
    pub fn redis_url(mut self, url: impl Into<String>) -> Self {
        self.config.cluster.redis_url = Some(url.into());
        self
    }

    /// Checks the settings and makes the server. With a Redis URL, it must be called inside
    /// a Tokio runtime, which then keeps the node linked to the others.
    pub fn build(self) -> Result<Server, ConfigError> {
        self.config.validate()?;
        let (adapter, cluster) = match &self.config.cluster.redis_url {
            None => (self.adapter, None),
            Some(_) => {
                if tokio::runtime::Handle::try_current().is_err() {
                    return Err(ConfigError::Invalid(
                        "a cluster node must be built inside a Tokio runtime".into(),
                    ));
                }
                let cluster =
                    cluster::Cluster::new(&self.config.cluster).map_err(ConfigError::Invalid)?;
                (cluster.clone() as Arc<dyn Adapter>, Some(cluster))
            }
        };
        let node = Arc::new(Node::new(self.config, &adapter, cluster.clone()));
        if let Some(cluster) = cluster {
            cluster.start(Arc::downgrade(&node));
        }
        Ok(Server { node })
    }
}

impl Server {
    /// A single-node server for `config`'s apps.
    pub fn new(config: Config) -> Result<Self, ConfigError> {
        Self::builder(config).build()
    }

    /// A builder, for a server that is more than a single node.
    pub fn builder(config: Config) -> ServerBuilder {
        ServerBuilder {
            config,
            adapter: Arc::new(LocalAdapter),
        }
    }

    /// The settings this server runs with.
    pub fn config(&self) -> &Config {
        &self.node.config
    }

    /// The routes of the protocol, to merge into an app's router: the WebSocket endpoint
    /// `{prefix}/app/{key}`, the REST API `{prefix}/apps/{id}/…` and `{prefix}/up`; and the
    /// debug console `{prefix}/console` when the configuration turns it on (`console = true`).
    pub fn router(&self) -> Router {
        self.routes(self.node.config.console.unwrap_or(false))
    }

    /// The protocol's routes, with the debug console or without.
    fn routes(&self, console: bool) -> Router {
        let p = &self.node.config.path_prefix;
        let router = Router::new()
            .route(
                &format!("{p}/app/{{key}}"),
                routing::get(connection::upgrade),
            )
            .route(&format!("{p}/up"), routing::get(|| async { "OK" }))
            .route(&format!("{p}/ready"), routing::get(ready))
            .merge(rest::routes(p));
        let router = if console {
            router.merge(console::routes(p))
        } else {
            router
        };
        router.with_state(self.node.clone())
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
        let app = self
            .node
            .app_by_id(app_id)
            .ok_or(TriggerError::UnknownApp)?;
        let body = pusherable_protocol::rest::TriggerBody {
            name: event.to_owned(),
            data: data.to_owned(),
            channels: Some(channels.iter().map(|c| (*c).to_owned()).collect()),
            socket_id: except_socket_id.map(str::to_owned),
            ..Default::default()
        };
        let (event, _) = trigger::check(app, body)?;
        for delivery in fanout::events(event) {
            fanout::publish(app, &delivery);
        }
        Ok(())
    }

    /// Delivers what another node of the cluster published for app `app_id` to this node's
    /// connections. An [`Adapter`] calls this for every delivery it receives; unknown apps are
    /// ignored.
    pub fn receive(&self, app_id: &str, delivery: &Delivery) {
        if let Some(app) = self.node.app_by_id(app_id) {
            fanout::receive(app, delivery);
        }
    }

    /// Every app's counters in the Prometheus text format (what the standalone `/metrics`
    /// serves), for an app that wants to expose them on a route of its own.
    pub fn metrics_text(&self) -> String {
        let mut apps: Vec<&Arc<app::App>> = self.node.apps().collect();
        apps.sort_by(|a, b| a.config.id.cmp(&b.config.id));
        let samples: Vec<metrics::Sample<'_>> = apps
            .iter()
            .map(|a| metrics::Sample {
                app_id: &a.config.id,
                connections: a.connections.load(Ordering::Relaxed),
                subscriptions: a.state.subscription_total(),
                channels: a.state.channel_total(),
                metrics: &a.metrics,
            })
            .collect();
        let mut text = metrics::render(&samples);
        if let Some(cluster) = &self.node.cluster {
            metrics::render_cluster(&mut text, cluster.is_up(), cluster.metrics());
        }
        text
    }

    /// True while the server accepts connections (false once it drains).
    pub fn is_ready(&self) -> bool {
        !self.node.shutdown.is_cancelled()
    }

    /// Starts draining: every open connection is told to come back later (4100) and closed.
    pub fn shutdown(&self) {
        self.node.shutdown.cancel();
    }

    /// Leaves the cluster, if this node is one: the other nodes forget it at once, rather
    /// than after its heartbeats stop.
    pub fn leave_cluster(&self) {
        if let Some(cluster) = &self.node.cluster {
            cluster.leave();
        }
    }

    /// Open connections on this node, across all apps.
    pub fn connection_count(&self) -> usize {
        self.node.open_connections()
    }

    /// Completes once no connection is open on this node: after [`Server::shutdown`], when
    /// every client has been told to come back later and its connection has closed.
    pub async fn drained(&self) {
        self.node.idle().await;
    }
}

/// `/ready`: 200 while accepting connections, 503 while draining.
async fn ready(State(node): State<Arc<Node>>) -> StatusCode {
    if node.shutdown.is_cancelled() {
        StatusCode::SERVICE_UNAVAILABLE
    } else {
        StatusCode::OK
    }
}
