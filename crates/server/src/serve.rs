//! The standalone listener: bind, serve, drain.

use std::{future::Future, io, net::SocketAddr, sync::Arc};

use axum::{
    extract::ws::{rejection::WebSocketUpgradeRejection, WebSocketUpgrade},
    http::{header, HeaderMap, StatusCode},
    response::{IntoResponse, Response},
    routing::MethodRouter,
    serve::ListenerExt as _,
    Json, Router,
};
use pusherable_protocol::{code::CloseCode, outbound, rest::ErrorBody};
use tokio::{net::TcpListener, task::JoinHandle};
use tokio_util::sync::CancellationToken;

use crate::{guard, tls, Config, ConfigError, Server};

/// A server running in the background, as tests and the CLI start it.
#[derive(Debug)]
pub struct Spawned {
    addr: SocketAddr,
    /// Where `/metrics` has a listener of its own (`metrics_addr`).
    metrics_addr: Option<SocketAddr>,
    server: Server,
    /// Cancelled to stop accepting connections.
    stop: CancellationToken,
    task: JoinHandle<io::Result<()>>,
    metrics_task: Option<JoinHandle<io::Result<()>>>,
}

/// Why a server did not start.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// The configuration was refused.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// TLS could not be set up from the configured files.
    #[error(transparent)]
    Tls(#[from] tls::TlsError),
    /// The address could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// What the system said.
        source: io::Error,
    },
}

/// Starts a standalone server for `config` on `addr` (port 0 picks a free one).
///
/// ```no_run
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// let mut config = pusherable_server::Config::default();
/// config.apps.push(pusherable_server::AppConfig::new("1", "key", "secret"));
/// let running = pusherable_server::spawn(config, "127.0.0.1:0".parse()?).await?;
/// println!("listening on {}", running.local_addr());
/// running.shutdown().await;
/// # Ok(()) }
/// ```
pub async fn spawn(config: Config, addr: SocketAddr) -> Result<Spawned, ServeError> {
    let tls = match &config.tls {
        Some(c) => Some((tls::acceptor(c)?, c.clone())),
        None => None,
    };
    let server = Server::new(config)?;
    let listener = TcpListener::bind(addr)
        .await
        .map_err(|source| ServeError::Bind { addr, source })?;
    let addr = listener
        .local_addr()
        .map_err(|source| ServeError::Bind { addr, source })?;
    let stop = CancellationToken::new();
    let app = standalone_router(&server, addr).into_make_service_with_connect_info::<SocketAddr>();
    let stopped = stop.clone().cancelled_owned();
    let task = match tls {
        None => {
            let listener = listener.tap_io(|tcp| {
                // Frames are small and latency matters more than packet count.
                let _ = tcp.set_nodelay(true);
            });
            tokio::spawn(async move {
                axum::serve(listener, app)
                    .with_graceful_shutdown(stopped)
                    .await
            })
        }
        Some((acceptor, tls_config)) => {
            let listener = tls::TlsListener::new(listener, acceptor, &tls_config, stop.clone())
                .map_err(|source| ServeError::Bind { addr, source })?
                // axum knows how to give handlers the peer address of a tapped listener.
                .tap_io(|_| {});
            tokio::spawn(async move {
                axum::serve(listener, app)
                    .with_graceful_shutdown(stopped)
                    .await
            })
        }
    };
    let (metrics_addr, metrics_task) = match server.config().metrics_addr {
        Some(at) => match serve_metrics(&server, at, stop.clone()).await {
            Ok((bound, metrics)) => (Some(bound), Some(metrics)),
            Err(e) => {
                task.abort();
                return Err(e);
            }
        },
        None => (None, None),
    };
    Ok(Spawned {
        addr,
        metrics_addr,
        server,
        stop,
        task,
        metrics_task,
    })
}

/// Runs a standalone server until `signal` completes, then drains it.
pub async fn serve(
    config: Config,
    addr: SocketAddr,
    signal: impl Future<Output = ()>,
) -> Result<(), ServeError> {
    let running = spawn(config, addr).await?;
    signal.await;
    running.shutdown().await;
    Ok(())
}

impl Spawned {
    /// The address the server listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// `https` when the server speaks TLS, `http` otherwise.
    pub fn scheme(&self) -> &'static str {
        if self.server.config().tls.is_some() {
            "https"
        } else {
            "http"
        }
    }

    /// The address of the listener that serves only `/metrics`, when `metrics_addr` is set.
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.metrics_addr
    }

    /// The server, to publish in-process or read counts.
    pub fn server(&self) -> &Server {
        &self.server
    }

    /// Stops accepting, tells every client to come back later (close 4100, after which
    /// pusher-js waits a second and reconnects, to this server restarted or to another one),
    /// and waits until the last connection has closed, or at most `shutdown_grace_secs`.
    pub async fn shutdown(self) {
        self.stop.cancel();
        self.server.shutdown();
        let grace = self.server.config().shutdown_grace();
        let deadline = tokio::time::Instant::now() + grace;
        let mut task = self.task;
        let _ = tokio::time::timeout_at(deadline, &mut task).await;
        let _ = tokio::time::timeout_at(deadline, self.server.drained()).await;
        self.server.leave_cluster();
        task.abort();
        if let Some(mut metrics) = self.metrics_task {
            let _ = tokio::time::timeout_at(deadline, &mut metrics).await;
            metrics.abort();
        }
    }
}

/// The protocol's routes and the debug console (unless the configuration turns it off), plus
/// answers for every other path: a WebSocket upgrade elsewhere is closed with 4005, anything
/// else is a JSON 404.
///
/// `/metrics` is here only when it has no listener of its own, and then only behind
/// `metrics_token`, or for a server that listens on a loopback address only: counts of
/// connections and channels are nobody else's business.
fn standalone_router(server: &Server, listening_on: SocketAddr) -> Router {
    let config = server.config();
    let router = server.routes(config.console.unwrap_or(true));
    let metrics = match (config.metrics_addr, &config.metrics_token) {
        (Some(_), _) => None,
        (None, Some(token)) => Some(metrics_route(server, Some(token))),
        (None, None) if listening_on.ip().is_loopback() => Some(metrics_route(server, None)),
        (None, None) => {
            tracing::warn!(
                "/metrics is off: this server listens beyond loopback; \
                 set metrics_token or metrics_addr to serve it"
            );
            None
        }
    };
    let router = match metrics {
        Some(route) => router.route(&format!("{}/metrics", config.path_prefix), route),
        None => router,
    };
    router.fallback(fallback)
}

/// Serves `/metrics` alone on `addr` until `stop` is cancelled.
async fn serve_metrics(
    server: &Server,
    addr: SocketAddr,
    stop: CancellationToken,
) -> Result<(SocketAddr, JoinHandle<io::Result<()>>), ServeError> {
    let listener = TcpListener::bind(addr)
        .await
        .map_err(|source| ServeError::Bind { addr, source })?;
    let bound = listener
        .local_addr()
        .map_err(|source| ServeError::Bind { addr, source })?;
    let token = server.config().metrics_token.as_deref();
    let app = Router::new()
        .route("/metrics", metrics_route(server, token))
        .fallback(fallback);
    let task = tokio::spawn(async move {
        axum::serve(listener, app)
            .with_graceful_shutdown(stop.cancelled_owned())
            .await
    });
    Ok((bound, task))
}

/// `GET /metrics`, for anyone or only with `Authorization: Bearer TOKEN`.
fn metrics_route(server: &Server, token: Option<&str>) -> MethodRouter {
    let server = server.clone();
    let token: Option<Arc<str>> = token.map(Arc::from);
    axum::routing::get(move |headers: HeaderMap| {
        let allowed = token
            .as_deref()
            .is_none_or(|t| guard::bearer(&headers).is_some_and(|g| guard::same(g, t).into()));
        let text = allowed.then(|| server.metrics_text());
        async move {
            match text {
                Some(text) => {
                    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], text).into_response()
                }
                None => (
                    StatusCode::UNAUTHORIZED,
                    [(header::WWW_AUTHENTICATE, "Bearer")],
                    Json(ErrorBody {
                        error: "/metrics needs Authorization: Bearer and the metrics_token".into(),
                        code: 401,
                    }),
                )
                    .into_response(),
            }
        }
    })
}

async fn fallback(ws: Result<WebSocketUpgrade, WebSocketUpgradeRejection>) -> Response {
    match ws {
        Ok(ws) => ws.on_upgrade(|mut socket| async move {
            use axum::extract::ws::{CloseFrame, Message, Utf8Bytes};
            let code = CloseCode::PathNotFound;
            let _ = socket
                .send(Message::Text(
                    outbound::error(Some(code.code()), code.reason()).into(),
                ))
                .await;
            let _ = socket
                .send(Message::Close(Some(CloseFrame {
                    code: code.code(),
                    reason: Utf8Bytes::from_static(code.reason()),
                })))
                .await;
        }),
        Err(_) => (
            StatusCode::NOT_FOUND,
            Json(ErrorBody {
                error: "Not found".into(),
                code: 404,
            }),
        )
            .into_response(),
    }
}
