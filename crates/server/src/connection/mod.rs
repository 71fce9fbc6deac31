//! One task per WebSocket connection.
//!
//! The task owns the socket. It waits on three things at once: a frame from the client, a frame
//! queued for it in its outbox (by the fan-out or by itself), and its activity timer. Client → server
//! events each have a module with the same shape: check the frame, apply it through the fan-out, answer.
//!
//! Every answer to this connection goes through its own outbox too, so that answers and
//! broadcasts reach the client in the order the fan-out decided.
//!
//! The task keeps no state of its own beyond its socket and timers: what it joined and who it
//! signed in as live in the app's [`State`](crate::state::State), behind its [`Peer`].

mod client_event;
mod signin;
mod subscribe;

use std::{
    future::{poll_fn, Future},
    net::{IpAddr, SocketAddr},
    pin::pin,
    sync::{atomic::Ordering, Arc},
    task::Poll,
    time::Duration,
};

use axum::{
    extract::{
        ws::{CloseFrame, Message, Utf8Bytes, WebSocket, WebSocketUpgrade},
        ConnectInfo, Path, RawQuery, State,
    },
    http::{header, HeaderMap},
    response::Response,
    Extension,
};
use futures_util::{future::Either, SinkExt as _};
use pusherable_protocol::{
    code::{CloseCode, ErrorCode},
    frame::{self, ClientFrame},
    limits, outbound, SocketId,
};
use rand::Rng as _;
use tokio::time::{sleep_until, Instant};

use crate::{
    app::App,
    console, fanout,
    metrics::Metrics,
    node::Node,
    outbox::{self, Inbox},
    state::Peer,
};

/// Capacity of a connection's read buffer. Clients of this protocol send small frames (pings,
/// subscriptions, client events); a larger message makes the buffer grow to fit it, up to the
/// message limit. tungstenite's default (128 KiB) would cost more than the rest of an idle
/// connection many times over.
const READ_BUFFER: usize = 1024;
/// Bytes gathered before tungstenite writes to the socket: a batch of frames goes out in one
/// system call at the flush that ends it. (At 0, every frame would be its own write, which
/// costs more than twice the CPU per delivery on a busy channel.)
const WRITE_BUFFER: usize = 8 * 1024;
/// How long the server waits to hand a close frame to a client before dropping the socket.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(1);
/// Frames written before a flush: enough to batch a burst into few system calls.
const WRITE_BATCH: usize = 64;

/// `GET {prefix}/app/{key}`: upgrades, then checks the request and runs the connection.
pub(crate) async fn upgrade(
    State(node): State<Arc<Node>>,
    Path(key): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    peer_addr: Option<Extension<ConnectInfo<SocketAddr>>>,
    ws: WebSocketUpgrade,
) -> Response {
    let request = Handshake {
        key,
        query,
        origin: headers
            .get(header::ORIGIN)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned),
        ip: peer_addr.map(|Extension(ConnectInfo(addr))| addr.ip()),
    };
    let max = node.config.max_message_bytes;
    ws.read_buffer_size(READ_BUFFER)
        .write_buffer_size(WRITE_BUFFER)
        .max_message_size(max)
        .max_frame_size(max)
        // No async wrapper here: the task's future is the connection loop itself, so the
        // socket is stored once per connection (an `async fn` that received the socket and
        // then moved it into another future would hold room for it twice).
        .on_upgrade(move |socket| match prepare(&node, &request) {
            Ok((conn, inbox)) => Either::Left(conn.run(socket, inbox)),
            Err(code) => Either::Right(Box::pin(refuse(socket, code))),
        })
}

/// What the upgrade request said, for the checks that follow it.
struct Handshake {
    key: String,
    query: Option<String>,
    origin: Option<String>,
    /// Known when the host serves with connect info (the standalone server does).
    ip: Option<IpAddr>,
}

/// Why a connection is refused right after the upgrade (PROTOCOL.md §1.2).
fn check_handshake(node: &Node, request: &Handshake) -> Result<Arc<App>, CloseCode> {
    let mut protocol = None;
    let mut version = None;
    for (k, v) in form_urlencoded::parse(request.query.as_deref().unwrap_or("").as_bytes()) {
        match &*k {
            "protocol" => protocol = Some(v.into_owned()),
            "version" => version = Some(v.into_owned()),
            _ => {}
        }
    }
    let protocol = protocol.ok_or(CloseCode::NoProtocol)?;
    match protocol.parse::<u32>() {
        Ok(p) if limits::PROTOCOL_VERSIONS.contains(&p) => {}
        _ => return Err(CloseCode::UnsupportedProtocol),
    }
    // `version` is informational; only a value no library would send is refused.
    if let Some(v) = version {
        let plausible = !v.is_empty()
            && v.len() <= 64
            && v.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"._+-".contains(&b));
        if !plausible {
            return Err(CloseCode::InvalidVersion);
        }
    }
    let app = node
        .app_by_key(&request.key)
        .ok_or(CloseCode::AppNotFound)?
        .clone();
    if !app.config.enabled {
        return Err(CloseCode::AppDisabled);
    }
    if node.shutdown.is_cancelled() {
        // Back off rather than retry at once: a 42xx during the handshake would loop.
        return Err(CloseCode::OverCapacity);
    }
    let origins = &app.config.allowed_origins;
    if !origins.is_empty() {
        let allowed = request
            .origin
            .as_deref()
            .is_some_and(|o| origins.iter().any(|a| a == o));
        if !allowed {
            return Err(CloseCode::Unauthorized);
        }
    }
    if let Some(ip) = request.ip {
        if !node
            .attempts
            .allow(ip, node.config.max_connection_attempts_per_ip)
        {
            return Err(CloseCode::OverCapacity);
        }
    }
    Ok(app)
}

async fn refuse(mut socket: WebSocket, code: CloseCode) {
    let error = outbound::error(Some(code.code()), code.reason());
    let _ = socket.send(Message::Text(error.into())).await;
    let _ = socket.send(close_message(code)).await;
}

fn close_message(code: CloseCode) -> Message {
    Message::Close(Some(CloseFrame {
        code: code.code(),
        reason: Utf8Bytes::from_static(code.reason()),
    }))
}

/// Counts a connection as open, in its app and on the node, until it ends, however it ends.
struct Slot {
    node: Arc<Node>,
    app: Arc<App>,
}

impl Slot {
    /// Takes a slot; returns it with the app's open connections, this one included.
    fn take(node: &Arc<Node>, app: &Arc<App>) -> (Self, usize) {
        node.opened();
        let open = app.connections.fetch_add(1, Ordering::Relaxed) + 1;
        let slot = Slot {
            node: node.clone(),
            app: app.clone(),
        };
        (slot, open)
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.app.connections.fetch_sub(1, Ordering::Relaxed);
        self.node.closed();
    }
}

/// Checks a new connection and sets up its state; the first frame
/// (`pusher:connection_established`) is queued already.
fn prepare(node: &Arc<Node>, request: &Handshake) -> Result<(Connection, Inbox), CloseCode> {
    let app = check_handshake(node, request)?;
    let (slot, open) = Slot::take(node, &app);
    // In a cluster the limit holds for the app's connections on every node.
    let max = app.config.max_connections;
    if max > 0 && open + app.state.remote_connections() > max {
        return Err(CloseCode::OverConnectionQuota);
    }
    Metrics::add(&app.metrics.connections_total, 1);
    let (outbox, inbox) = outbox::new(node.config.outbound_budget_bytes);
    let socket_id = {
        let mut rng = rand::rng();
        SocketId::from_parts(
            rng.random_range(0..10_000_000_000),
            rng.random_range(0..10_000_000_000),
        )
    };
    let id = node.next_peer.fetch_add(1, Ordering::Relaxed);
    let peer = Arc::new(Peer::new(id, socket_id, outbox));
    console::opened(&app, &peer.socket_id);
    peer.outbox.push_text(outbound::connection_established(
        &peer.socket_id,
        app.config.activity_timeout,
    ));
    let conn = Connection {
        node: node.clone(),
        app,
        peer,
        client_events: RateWindow::default(),
        _slot: slot,
    };
    Ok((conn, inbox))
}

/// The state a connection task keeps.
pub(crate) struct Connection {
    node: Arc<Node>,
    app: Arc<App>,
    peer: Arc<Peer>,
    client_events: RateWindow,
    /// Held for the connection's life: frees the app's connection slot when dropped, after
    /// the connection left its channels.
    _slot: Slot,
}

impl Connection {
    /// Runs the connection until the client leaves or the server closes it, then leaves
    /// every channel.
    async fn run(mut self, mut socket: WebSocket, mut inbox: Inbox) {
        let closed_with = self.serve(&mut socket, &mut inbox).await;
        tracing::debug!(socket_id = %self.peer.socket_id, ?closed_with, "connection closed");
        if let Some(code) = closed_with {
            // A client that stopped reading may never take the close frame: don't wait long.
            let _ = tokio::time::timeout(CLOSE_TIMEOUT, socket.send(close_message(code))).await;
        }
        fanout::remove(&self.app, &self.peer);
        console::closed(&self.app, &self.peer.socket_id);
    }

    /// Serves frames until the client leaves (`None`) or the server closes with a code.
    async fn serve(&mut self, socket: &mut WebSocket, inbox: &mut Inbox) -> Option<CloseCode> {
        let activity = Duration::from_secs(self.app.config.activity_timeout);
        let pong_timeout = Duration::from_secs(self.node.config.pong_timeout_secs);
        let mut last_seen = Instant::now();
        let mut ping_sent: Option<Instant> = None;
        // "Authorized connections": a connection that has not signed in by then is closed.
        let signin_deadline = self
            .app
            .config
            .signin_timeout_secs
            .map(|s| last_seen + Duration::from_secs(s));
        // One timer for the connection's life: it is re-armed only when it fires.
        let first = signin_deadline.map_or(last_seen + activity, |d| d.min(last_seen + activity));
        let timer = sleep_until(first);
        tokio::pin!(timer);
        let cancelled = self.node.shutdown.clone().cancelled_owned();
        tokio::pin!(cancelled);

        let code = loop {
            tokio::select! {
                biased;
                // 4100, not 4200: pusher-js then waits a second before it reconnects, by which
                // time a restarted server listens again; retrying at once would find nothing
                // and fall back to pusher-js's much longer connection timeout.
                () = &mut cancelled => break CloseCode::OverCapacity,
                frame = inbox.recv() => {
                    let frame = frame?;
                    if let Err(code) = self.write(socket, inbox, frame).await {
                        match code {
                            Some(code) => break code,
                            None => return None,
                        }
                    }
                }
                msg = socket.recv() => {
                    last_seen = Instant::now();
                    ping_sent = None;
                    match msg {
                        Some(Ok(Message::Text(text))) => {
                            let m = &self.app.metrics;
                            Metrics::add(&m.messages_in, 1);
                            Metrics::add(&m.bytes_in, text.len() as u64);
                            self.on_text(&text).await;
                        }
                        Some(Ok(Message::Binary(_))) => self.error(
                            ErrorCode::InvalidMessage,
                            "Invalid message format: binary frames are not supported",
                        ),
                        Some(Ok(Message::Ping(_) | Message::Pong(_))) => {}
                        Some(Ok(Message::Close(_))) | None => return None,
                        Some(Err(e)) => {
                            if is_too_big(&e) {
                                break CloseCode::MessageTooBig;
                            }
                            return None;
                        }
                    }
                }
                () = &mut timer => {
                    let now = Instant::now();
                    let unsigned_deadline = signin_deadline.filter(|_| !self.peer.signed_in());
                    if unsigned_deadline.is_some_and(|d| now >= d) {
                        break CloseCode::Unauthorized;
                    }
                    let next = if let Some(sent) = ping_sent {
                        if now >= sent + pong_timeout {
                            break CloseCode::PongTimeout;
                        }
                        sent + pong_timeout
                    } else if now >= last_seen + activity {
                        self.peer.outbox.push_text(Utf8Bytes::from_static(outbound::ping()));
                        ping_sent = Some(now);
                        now + pong_timeout
                    } else {
                        last_seen + activity
                    };
                    timer.as_mut().reset(unsigned_deadline.map_or(next, |d| d.min(next)));
                }
            }
        };
        Some(code)
    }

    /// Writes `first` and whatever else is queued (up to a batch), then flushes.
    /// `Err(Some(code))` asks the loop to close with `code`; `Err(None)` means the socket failed.
    async fn write(
        &self,
        socket: &mut WebSocket,
        inbox: &mut Inbox,
        first: Utf8Bytes,
    ) -> Result<(), Option<CloseCode>> {
        let mut next = Some(first);
        let mut written = 0;
        while let Some(frame) = next.take() {
            if let Some(code) = self.peer.outbox.closing() {
                return Err(Some(code));
            }
            self.peer.outbox.sent(&frame);
            if !frame.is_empty() {
                self.unless_closed(socket.feed(Message::Text(frame)))
                    .await?;
                written += 1;
            }
            if written < WRITE_BATCH {
                next = inbox.try_recv();
            }
        }
        self.unless_closed(socket.flush()).await
    }

    /// Awaits a socket write; should it have to wait (the client is not reading), a close
    /// request (4100 when the outbox overflows, 4009 on terminate) cuts it short. The common
    /// case, a write that completes at once, registers no waiter at all.
    async fn unless_closed<E>(
        &self,
        io: impl Future<Output = Result<(), E>>,
    ) -> Result<(), Option<CloseCode>> {
        let mut io = pin!(io);
        if let Poll::Ready(done) = poll_fn(|cx| Poll::Ready(io.as_mut().poll(cx))).await {
            return done.map_err(|_| None);
        }
        tokio::select! {
            done = io => done.map_err(|_| None),
            () = self.peer.outbox.close_requested() => Err(self.peer.outbox.closing()),
        }
    }

    async fn on_text(&mut self, text: &str) {
        match frame::parse(text) {
            Ok(ClientFrame::Ping) => {
                self.peer
                    .outbox
                    .push_text(Utf8Bytes::from_static(outbound::pong()));
            }
            Ok(ClientFrame::Pong) => {}
            Ok(ClientFrame::Subscribe(s)) => self.subscribe(&s).await,
            Ok(ClientFrame::Unsubscribe { channel }) => {
                // Idempotent and silent.
                fanout::unsubscribe(&self.app, &self.peer, &channel);
            }
            Ok(ClientFrame::Signin { auth, user_data }) => self.signin(&auth, &user_data),
            Ok(ClientFrame::ClientEvent {
                event,
                channel,
                data,
            }) => {
                self.client_event(&event, &channel, &data);
            }
            Err(e) => self.error(ErrorCode::InvalidMessage, &e.to_string()),
        }
    }

    /// Sends `pusher:error` to this connection; the socket stays open.
    fn error(&self, code: ErrorCode, message: &str) {
        self.peer
            .outbox
            .push_text(outbound::error(Some(code.code()), message));
    }
}

fn is_too_big(e: &axum::Error) -> bool {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = source {
        if let Some(tungstenite::Error::Capacity(_)) = err.downcast_ref::<tungstenite::Error>() {
            return true;
        }
        source = err.source();
    }
    false
}

/// Counts client events in the current one-second window.
#[derive(Debug, Default)]
struct RateWindow {
    started: Option<Instant>,
    count: u32,
}

impl RateWindow {
    /// True if one more event fits in the window.
    fn allow(&mut self, per_second: u32) -> bool {
        let now = Instant::now();
        match self.started {
            Some(start) if now.duration_since(start) < Duration::from_secs(1) => {}
            _ => {
                self.started = Some(now);
                self.count = 0;
            }
        }
        self.count += 1;
        self.count <= per_second
    }
}
