//! The bare broadcaster: the least a server can do and still be driven by the load generator.
//!
//! It greets each WebSocket with `pusher:connection_established`, answers every subscribe with
//! `pusher_internal:subscription_succeeded` (no signature checks, no presence), and relays
//! `POST /apps/{id}/events` to everyone on the named channels, over kept-alive HTTP/1.1. What it
//! reaches on a machine is the ceiling a real server on that machine can be compared with.
//!
//! It is lean in the same places a real server should be: small WebSocket buffers, each frame
//! encoded once and shared by every recipient, and a bounded queue per connection (a message
//! that does not fit is dropped and counted, and shows up as lost in the load generator).

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use futures_util::{SinkExt as _, StreamExt as _};
use http_body_util::{BodyExt as _, Full, Limited};
use hyper::body::Incoming;
use hyper::header::{
    HeaderValue, CONNECTION, CONTENT_TYPE, SEC_WEBSOCKET_ACCEPT, SEC_WEBSOCKET_KEY, UPGRADE,
};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use pusherable_protocol::frame::{parse, ClientFrame};
use pusherable_protocol::rest::TriggerBody;
use pusherable_protocol::{outbound, SocketId};
use tokio::net::{TcpListener, TcpSocket};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tokio_tungstenite::tungstenite::protocol::Role;
use tokio_tungstenite::tungstenite::{Message, Utf8Bytes};
use tokio_tungstenite::WebSocketStream;
use tokio_util::sync::CancellationToken;

/// Frames waiting for one slow connection before further ones are dropped.
const QUEUE: usize = 1024;
/// Largest REST body read.
const BODY_MAX: usize = 64 * 1024;

/// Options of the bare broadcaster.
#[derive(Debug, Clone, clap::Args)]
pub struct BareArgs {
    /// Address to listen on (loopback only).
    #[arg(long, default_value = "127.0.0.1:6002")]
    pub listen: SocketAddr,
}

/// Why the bare broadcaster did not start.
#[derive(Debug, thiserror::Error)]
pub enum BareError {
    /// The listen address is not a loopback address.
    #[error("{0} is not a loopback address")]
    NotLoopback(SocketAddr),
    /// Binding the listener failed.
    #[error("listen on {0}: {1}")]
    Listen(SocketAddr, std::io::Error),
}

/// A bare broadcaster running in the background.
#[derive(Debug)]
pub struct RunningBare {
    local_addr: SocketAddr,
    stop: CancellationToken,
    task: JoinHandle<()>,
    hub: Arc<Hub>,
}

impl RunningBare {
    /// The address it listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Frames dropped so far because a connection's queue was full.
    pub fn dropped(&self) -> u64 {
        self.hub.dropped.load(Ordering::Relaxed)
    }

    /// Stops accepting, closes every connection and waits for the listener task to end.
    pub async fn shutdown(self) {
        self.stop.cancel();
        let _ = self.task.await;
    }
}

/// Starts the bare broadcaster on `addr` (port 0 picks a free port).
///
/// ```
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// let bare = pusherable_bench::bare::spawn("127.0.0.1:0".parse().unwrap()).await.unwrap();
/// assert_ne!(bare.local_addr().port(), 0);
/// bare.shutdown().await;
/// # });
/// ```
pub async fn spawn(addr: SocketAddr) -> Result<RunningBare, BareError> {
    if !addr.ip().is_loopback() {
        return Err(BareError::NotLoopback(addr));
    }
    let listener = listen(addr).map_err(|e| BareError::Listen(addr, e))?;
    let local_addr = listener
        .local_addr()
        .map_err(|e| BareError::Listen(addr, e))?;
    let stop = CancellationToken::new();
    let hub = Arc::new(Hub::default());
    let task = tokio::spawn(accept_loop(listener, hub.clone(), stop.clone()));
    Ok(RunningBare {
        local_addr,
        stop,
        task,
        hub,
    })
}

/// A listener with a backlog as deep as the kernel allows, so that a burst of connects is
/// queued rather than dropped and retried a second later.
fn listen(addr: SocketAddr) -> std::io::Result<TcpListener> {
    let socket = if addr.is_ipv4() {
        TcpSocket::new_v4()?
    } else {
        TcpSocket::new_v6()?
    };
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(4096)
}

async fn accept_loop(listener: TcpListener, hub: Arc<Hub>, stop: CancellationToken) {
    loop {
        let (stream, _) = tokio::select! {
            () = stop.cancelled() => return,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                // Out of file descriptors, or a connection reset before accept: keep serving.
                Err(_) => continue,
            },
        };
        let _ = stream.set_nodelay(true);
        let (hub, stop) = (hub.clone(), stop.clone());
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |req| {
                let (hub, stop) = (hub.clone(), stop.clone());
                async move { Ok::<_, Infallible>(route(req, hub, stop).await) }
            });
            let conn = hyper::server::conn::http1::Builder::new()
                .keep_alive(true)
                .serve_connection(TokioIo::new(stream), service)
                .with_upgrades();
            let _ = conn.await;
        });
    }
}

/// Channel name → connection id → that connection's queue.
#[derive(Debug, Default)]
struct Hub {
    channels: Mutex<HashMap<String, HashMap<u64, mpsc::Sender<Utf8Bytes>>>>,
    next_id: AtomicU64,
    dropped: AtomicU64,
}

impl Hub {
    fn subscribe(&self, channel: &str, id: u64, queue: &mpsc::Sender<Utf8Bytes>) {
        if let Ok(mut channels) = self.channels.lock() {
            channels
                .entry(channel.to_owned())
                .or_default()
                .insert(id, queue.clone());
        }
    }

    fn unsubscribe(&self, channel: &str, id: u64) {
        if let Ok(mut channels) = self.channels.lock() {
            if let Some(members) = channels.get_mut(channel) {
                members.remove(&id);
                if members.is_empty() {
                    channels.remove(channel);
                }
            }
        }
    }

    fn broadcast(&self, channel: &str, frame: &Utf8Bytes) {
        let Ok(channels) = self.channels.lock() else {
            return;
        };
        let Some(members) = channels.get(channel) else {
            return;
        };
        for queue in members.values() {
            if queue.try_send(frame.clone()).is_err() {
                self.dropped.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
}

type Reply = Response<Full<Bytes>>;

fn reply(status: StatusCode, body: &'static str) -> Reply {
    let mut response = Response::new(Full::new(Bytes::from_static(body.as_bytes())));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

async fn route(req: Request<Incoming>, hub: Arc<Hub>, stop: CancellationToken) -> Reply {
    let path = req.uri().path();
    if req.method() == Method::GET && path.starts_with("/app/") {
        upgrade(req, hub, stop)
    } else if req.method() == Method::POST
        && path.starts_with("/apps/")
        && path.ends_with("/events")
    {
        trigger(req, &hub).await
    } else {
        reply(StatusCode::NOT_FOUND, r#"{"error":"not found","code":404}"#)
    }
}

async fn trigger(req: Request<Incoming>, hub: &Hub) -> Reply {
    let Ok(body) = Limited::new(req.into_body(), BODY_MAX).collect().await else {
        return reply(
            StatusCode::BAD_REQUEST,
            r#"{"error":"unreadable body","code":400}"#,
        );
    };
    let Ok(body) = serde_json::from_slice::<TriggerBody>(&body.to_bytes()) else {
        return reply(
            StatusCode::BAD_REQUEST,
            r#"{"error":"bad body","code":400}"#,
        );
    };
    let channels = body.channels.into_iter().flatten().chain(body.channel);
    for channel in channels {
        let frame = outbound::channel_event(&channel, &body.name, &body.data, None);
        hub.broadcast(&channel, &Utf8Bytes::from(frame));
    }
    reply(StatusCode::OK, "{}")
}

fn upgrade(mut req: Request<Incoming>, hub: Arc<Hub>, stop: CancellationToken) -> Reply {
    let Some(key) = req.headers().get(SEC_WEBSOCKET_KEY) else {
        return reply(
            StatusCode::BAD_REQUEST,
            r#"{"error":"not a websocket","code":400}"#,
        );
    };
    let accept = derive_accept_key(key.as_bytes());
    let upgrading = hyper::upgrade::on(&mut req);
    tokio::spawn(async move {
        let Ok(upgraded) = upgrading.await else {
            return;
        };
        let ws = WebSocketStream::from_raw_socket(
            TokioIo::new(upgraded),
            Role::Server,
            Some(crate::conn::small_buffers().write_buffer_size(16 * 1024)),
        )
        .await;
        connection(ws, &hub, stop).await;
    });
    let mut response = reply(StatusCode::SWITCHING_PROTOCOLS, "");
    let headers = response.headers_mut();
    headers.remove(CONTENT_TYPE);
    headers.insert(UPGRADE, HeaderValue::from_static("websocket"));
    headers.insert(CONNECTION, HeaderValue::from_static("Upgrade"));
    if let Ok(accept) = HeaderValue::from_str(&accept) {
        headers.insert(SEC_WEBSOCKET_ACCEPT, accept);
    }
    response
}

async fn connection<S>(mut ws: WebSocketStream<S>, hub: &Hub, stop: CancellationToken)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    let id = hub.next_id.fetch_add(1, Ordering::Relaxed);
    let socket_id = SocketId::from_parts(id + 1, id + 1);
    let (queue, mut outbox) = mpsc::channel::<Utf8Bytes>(QUEUE);
    let mut channels: Vec<String> = Vec::new();
    let hello = outbound::connection_established(&socket_id, 120);
    if ws.send(Message::Text(hello.into())).await.is_err() {
        return;
    }
    loop {
        tokio::select! {
            () = stop.cancelled() => break,
            incoming = ws.next() => {
                let text = match incoming {
                    Some(Ok(Message::Text(text))) => text,
                    Some(Ok(Message::Close(_))) | None | Some(Err(_)) => break,
                    Some(Ok(_)) => continue,
                };
                let answer = match parse(text.as_str()) {
                    Ok(ClientFrame::Subscribe(s)) => {
                        hub.subscribe(&s.channel, id, &queue);
                        if !channels.contains(&s.channel) {
                            channels.push(s.channel.clone());
                        }
                        outbound::subscription_succeeded(&s.channel)
                    }
                    Ok(ClientFrame::Unsubscribe { channel }) => {
                        hub.unsubscribe(&channel, id);
                        channels.retain(|c| *c != channel);
                        continue;
                    }
                    Ok(ClientFrame::Ping) => outbound::pong().to_owned(),
                    _ => continue,
                };
                if ws.send(Message::Text(answer.into())).await.is_err() {
                    break;
                }
            }
            Some(frame) = outbox.recv() => {
                // Write everything already queued, then flush once.
                let mut ok = ws.feed(Message::Text(frame)).await.is_ok();
                while let (true, Ok(frame)) = (ok, outbox.try_recv()) {
                    ok = ws.feed(Message::Text(frame)).await.is_ok();
                }
                if !ok || ws.flush().await.is_err() {
                    break;
                }
            }
        }
    }
    for channel in &channels {
        hub.unsubscribe(channel, id);
    }
}
