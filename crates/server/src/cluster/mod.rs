//! Several nodes that serve as one, meeting on a Redis server.
//!
//! Every node publishes what it delivers ([`Delivery`]) and what changed in its share of
//! the cluster ([`Change`]) on one Redis pub/sub channel, and applies what the others
//! publish: their events reach its subscribers, and their shares of each channel and user
//! join its state, so that member lists, counts and REST answers cover the whole cluster.
//! Redis delivers one channel's messages to every subscriber in the same order, and each
//! node publishes through one connection, so every node sees each other node's changes in
//! the order they happened.
//!
//! Nodes heartbeat. A node that (re)connects says `Hello` and its whole state; every other
//! node answers with its own, so a node that restarted, or a Redis server that restarted,
//! leaves no stale view behind. A node that stops heartbeating is gone after
//! `node_timeout_ms`: its members leave every node's member lists (`member_removed`), its
//! counts leave every answer, and each channel's webhooks come from one owner node
//! ([`Cluster::owns`]), which then reports the gone node's departures too.
//!
//! When Redis cannot be reached, each node goes on serving its own connections; what it
//! would publish meanwhile is dropped and counted (its whole state is sent again on
//! reconnection), and no peer is declared gone while this node cannot hear anyone.

pub(crate) mod message;

use std::{
    collections::{HashMap, HashSet},
    sync::{
        atomic::{AtomicBool, AtomicU64, Ordering},
        Arc, Mutex, PoisonError, Weak,
    },
    time::Duration,
};

use rand::Rng as _;
use redis::aio::MultiplexedConnection;
use tokio::{
    sync::{mpsc, oneshot},
    time::Instant,
};
use tokio_util::sync::CancellationToken;

use crate::{
    adapter::{Adapter, Change, Delivery, NodeId},
    config::ClusterConfig,
    fanout,
    node::Node,
};
use message::{AppShare, Message, NodeMessage};

/// Messages published in one pipeline at most.
const BATCH: usize = 512;
/// How long a connection attempt, or a reply from Redis, may take.
const REDIS_TIMEOUT: Duration = Duration::from_secs(3);
/// Messages from Redis waiting to be applied; past it, the subscription stops being read.
const INCOMING: usize = 16_384;
/// How often the subscription's thread looks up from a quiet connection.
const READ_WAKE: Duration = Duration::from_secs(1);
/// Longest wait for a [`Cluster::settle`] round trip; past it, the answer is what is known.
const SETTLE_TIMEOUT: Duration = Duration::from_millis(500);
/// Reconnection back-off: first delay, and the longest.
const BACKOFF_FIRST: Duration = Duration::from_millis(100);
const BACKOFF_MAX: Duration = Duration::from_secs(5);

/// This node's membership of a cluster: the [`Adapter`] that carries its deliveries and
/// changes, and the task that keeps it linked to Redis.
#[derive(Debug)]
pub(crate) struct Cluster {
    id: NodeId,
    config: ClusterConfig,
    client: redis::Client,
    /// The Redis pub/sub channel of this cluster.
    channel: String,
    queue: mpsc::Sender<Vec<u8>>,
    /// The receiving end of `queue`, until the link task takes it.
    pending: Mutex<Option<mpsc::Receiver<Vec<u8>>>>,
    /// Linked to Redis and subscribed: only then is anything queued for publishing.
    up: AtomicBool,
    /// A change could not be queued: the node's whole state must be sent again.
    resync: AtomicBool,
    stop: CancellationToken,
    metrics: ClusterMetrics,
    /// The nodes this node hears, itself included, sorted: who owns which channel.
    live: Mutex<Vec<NodeId>>,
    /// A connection for commands while the link is up (a clone of the publishing one).
    commands: Mutex<Option<MultiplexedConnection>>,
    /// Waiters of [`Cluster::settle`], by token.
    settling: Mutex<HashMap<u64, Settling>>,
    next_token: AtomicU64,
}

/// A [`Cluster::settle`] under way.
#[derive(Debug)]
struct Settling {
    /// The nodes yet to answer; `None` until the node's own `Sync` came back.
    waiting: Option<HashSet<NodeId>>,
    done: oneshot::Sender<()>,
}

/// Counters of the link, for `/metrics`.
#[derive(Debug, Default)]
pub(crate) struct ClusterMetrics {
    pub(crate) published: AtomicU64,
    pub(crate) received: AtomicU64,
    /// Messages not published: the link was down or the queue was full.
    pub(crate) dropped: AtomicU64,
    /// Messages from other nodes that did not read.
    pub(crate) unreadable: AtomicU64,
    pub(crate) connects: AtomicU64,
    /// Nodes this node hears, itself included.
    pub(crate) nodes: AtomicU64,
}

impl Cluster {
    /// A cluster member for `config`; nothing is connected until [`Cluster::start`].
    pub(crate) fn new(config: &ClusterConfig) -> Result<Arc<Self>, String> {
        let url = config.redis_url.as_deref().unwrap_or_default();
        let client =
            redis::Client::open(url).map_err(|e| format!("cluster.redis_url {url:?}: {e}"))?;
        let (queue, pending) = mpsc::channel(config.publish_queue);
        Ok(Arc::new(Cluster {
            id: rand::rng().random_range(1..u64::MAX),
            config: config.clone(),
            client,
            channel: format!("{}#cluster", config.prefix),
            queue,
            pending: Mutex::new(Some(pending)),
            up: AtomicBool::new(false),
            resync: AtomicBool::new(false),
            stop: CancellationToken::new(),
            metrics: ClusterMetrics::default(),
            live: Mutex::default(),
            commands: Mutex::default(),
            settling: Mutex::default(),
            next_token: AtomicU64::new(1),
        }))
    }

    /// Links `node` to the cluster, in a task of the current Tokio runtime.
    pub(crate) fn start(self: &Arc<Self>, node: Weak<Node>) {
        let pending = self
            .pending
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(rx) = pending {
            tokio::spawn(Link::new(self.clone(), node).run(rx));
        }
    }

    /// Leaves the cluster: the others forget this node at once.
    pub(crate) fn leave(&self) {
        self.stop.cancel();
    }

    pub(crate) fn is_up(&self) -> bool {
        self.up.load(Ordering::Relaxed)
    }

    pub(crate) fn metrics(&self) -> &ClusterMetrics {
        &self.metrics
    }

    /// Waits until this node has applied everything the other nodes had to publish when it
    /// asked: it publishes `Sync`, every node answers once what it queued before is out, and
    /// Redis keeps one order for all. A question about the cluster (a member list, a count)
    /// asked right after a change on another node then sees that change. Returns at once
    /// when Redis is out of reach, and after [`SETTLE_TIMEOUT`] when a node does not answer.
    pub(crate) async fn settle(&self) {
        if !self.is_up() {
            return;
        }
        let token = self.next_token.fetch_add(1, Ordering::Relaxed);
        let (done, rx) = oneshot::channel();
        let settling = Settling {
            waiting: None,
            done,
        };
        self.settling
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(token, settling);
        self.send(message::sync(self.id, token), false);
        let _ = tokio::time::timeout(SETTLE_TIMEOUT, rx).await;
        self.settling
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&token);
    }

    /// Whether this node reports `channel`'s webhooks (occupied, vacated, members, counts).
    ///
    /// Each channel has one owner among the nodes this node hears: the one whose id, hashed
    /// with the channel's name, is highest. The owner sees every change to the channel in one
    /// order, so it can hold a removal for a moment and take it back when the channel (or the
    /// member) returns on any node, as a single server does. While Redis is out of reach, each
    /// node reports for itself.
    pub(crate) fn owns(&self, channel: &str) -> bool {
        if !self.is_up() {
            return true;
        }
        let live = self.live.lock().unwrap_or_else(PoisonError::into_inner);
        let owner = live
            .iter()
            .copied()
            .chain(std::iter::once(self.id))
            .max_by_key(|node| rendezvous(*node, channel));
        owner == Some(self.id)
    }

    /// Claims `key` for `ttl` across the cluster: true on one node only, until it expires.
    /// True when Redis is out of reach: each node then decides for itself.
    pub(crate) async fn claim(&self, key: &str, ttl: Duration) -> bool {
        let conn = self
            .commands
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        let Some(mut conn) = conn else {
            return true;
        };
        let key = format!("{}:claim:{key}", self.config.prefix);
        let ttl = u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX);
        let set: redis::RedisResult<Option<String>> = redis::cmd("SET")
            .arg(&key)
            .arg(self.id)
            .arg("NX")
            .arg("PX")
            .arg(ttl)
            .query_async(&mut conn)
            .await;
        set.map_or(true, |reply| reply.is_some())
    }

    fn send(&self, message: Vec<u8>, change: bool) {
        if !self.is_up() {
            // Nothing can reach the others now; the whole state goes out on reconnection.
            self.metrics.dropped.fetch_add(1, Ordering::Relaxed);
            return;
        }
        if self.queue.try_send(message).is_err() {
            self.metrics.dropped.fetch_add(1, Ordering::Relaxed);
            if change {
                self.resync.store(true, Ordering::Relaxed);
            }
        }
    }
}

impl Adapter for Cluster {
    fn forward(&self, app_id: &str, delivery: &Delivery) {
        self.send(message::delivery(self.id, app_id, delivery), false);
    }

    fn announce(&self, app_id: &str, change: &Change) {
        self.send(message::change(self.id, app_id, change), true);
    }
}

/// The task that keeps a node linked: connects, publishes, applies what it hears, and
/// reconnects with back-off.
struct Link {
    cluster: Arc<Cluster>,
    node: Weak<Node>,
    /// Other nodes, and when each was last heard.
    peers: HashMap<NodeId, Instant>,
}

impl Link {
    fn new(cluster: Arc<Cluster>, node: Weak<Node>) -> Self {
        Link {
            cluster,
            node,
            peers: HashMap::new(),
        }
    }

    async fn run(mut self, mut rx: mpsc::Receiver<Vec<u8>>) {
        let mut delay = BACKOFF_FIRST;
        let mut failing = false;
        loop {
            if self.cluster.stop.is_cancelled() || self.node.strong_count() == 0 {
                return;
            }
            match self.connect().await {
                Ok((conn, incoming)) => {
                    delay = BACKOFF_FIRST;
                    failing = false;
                    self.cluster
                        .metrics
                        .connects
                        .fetch_add(1, Ordering::Relaxed);
                    tracing::info!(node = self.cluster.id, "linked to the cluster");
                    self.session(conn, incoming, &mut rx).await;
                    *self
                        .cluster
                        .commands
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner) = None;
                    tracing::warn!(node = self.cluster.id, "cluster link lost; reconnecting");
                }
                Err(e) if !failing => {
                    failing = true;
                    tracing::warn!(node = self.cluster.id, error = %e, "cannot reach Redis; retrying");
                }
                Err(_) => {}
            }
            self.cluster.up.store(false, Ordering::Relaxed);
            while rx.try_recv().is_ok() {
                self.cluster.metrics.dropped.fetch_add(1, Ordering::Relaxed);
            }
            let jitter = rand::rng().random_range(0..=delay.as_millis() as u64 / 4);
            tokio::select! {
                () = self.cluster.stop.cancelled() => return,
                () = tokio::time::sleep(delay + Duration::from_millis(jitter)) => {}
            }
            delay = (delay * 2).min(BACKOFF_MAX);
        }
    }

    /// Opens the publishing connection and the subscription.
    ///
    /// The connection manager of redis-rs reconnects by itself, but this link must know when
    /// it is down (to freeze its view of the peers and to say its whole state again), so it
    /// reconnects itself. The subscription is read by a thread of its own, one message at a
    /// time, into a bounded queue: a node that cannot keep up stops reading, Redis's output
    /// buffer limit for subscribers then drops the subscription, and the node resynchronises,
    /// rather than buffering without bound in this process (the async subscription of
    /// redis-rs reads into an unbounded queue).
    async fn connect(
        &self,
    ) -> redis::RedisResult<(MultiplexedConnection, mpsc::Receiver<Vec<u8>>)> {
        let config = redis::AsyncConnectionConfig::new()
            .set_connection_timeout(REDIS_TIMEOUT)
            .set_response_timeout(REDIS_TIMEOUT);
        let client = &self.cluster.client;
        let conn = client
            .get_multiplexed_async_connection_with_config(&config)
            .await?;
        let (tx, rx) = mpsc::channel(INCOMING);
        let (ready, subscribed) = oneshot::channel();
        let (client, channel) = (client.clone(), self.cluster.channel.clone());
        std::thread::Builder::new()
            .name("pusherable-cluster".into())
            .spawn(move || read_subscription(&client, &channel, &tx, ready))
            .map_err(|e| {
                redis::RedisError::from((redis::ErrorKind::IoError, "thread", e.to_string()))
            })?;
        tokio::time::timeout(REDIS_TIMEOUT, subscribed)
            .await
            .map_err(|_| timeout())?
            .map_err(|_| timeout())??;
        Ok((conn, rx))
    }

    /// Serves one connection to Redis until it fails or the node leaves.
    async fn session(
        &mut self,
        mut conn: MultiplexedConnection,
        mut incoming: mpsc::Receiver<Vec<u8>>,
        rx: &mut mpsc::Receiver<Vec<u8>>,
    ) {
        // Peers may have been silent only because this node could not hear them.
        let now = Instant::now();
        self.peers.values_mut().for_each(|t| *t = now);
        // Up before the state is taken: a change made meanwhile is queued, and published after
        // the state, which it then updates.
        self.cluster.up.store(true, Ordering::Relaxed);
        *self
            .cluster
            .commands
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some(conn.clone());
        let Some(state) = self.state() else { return };
        let hello = message::hello(self.cluster.id);
        if self.publish(&mut conn, &[hello, state]).await.is_err() {
            return;
        }
        let mut tick =
            tokio::time::interval(Duration::from_millis(self.cluster.config.heartbeat_ms));
        let mut batch = Vec::with_capacity(BATCH);
        loop {
            let mut replies = Vec::new();
            tokio::select! {
                () = self.cluster.stop.cancelled() => {
                    self.cluster.up.store(false, Ordering::Relaxed);
                    let _ = self.publish(&mut conn, &[message::bye(self.cluster.id)]).await;
                    return;
                }
                msg = incoming.recv() => {
                    let Some(msg) = msg else { return };
                    self.cluster.metrics.received.fetch_add(1, Ordering::Relaxed);
                    if let Some(reply) = self.handle(&msg) {
                        // What was queued before goes out first: an answer to `Sync` promises
                        // exactly that.
                        while let Ok(queued) = rx.try_recv() {
                            replies.push(queued);
                        }
                        replies.push(reply);
                    }
                }
                n = rx.recv_many(&mut batch, BATCH) => {
                    if n == 0 {
                        return;
                    }
                    replies.append(&mut batch);
                    if self.cluster.resync.swap(false, Ordering::Relaxed) {
                        replies.extend(self.state());
                    }
                }
                _ = tick.tick() => {
                    replies.extend(self.alive());
                    self.sweep();
                }
            }
            if !replies.is_empty() && self.publish(&mut conn, &replies).await.is_err() {
                return;
            }
        }
    }

    async fn publish(
        &self,
        conn: &mut MultiplexedConnection,
        messages: &[Vec<u8>],
    ) -> redis::RedisResult<()> {
        let mut pipe = redis::pipe();
        for m in messages {
            pipe.cmd("PUBLISH")
                .arg(&self.cluster.channel)
                .arg(m.as_slice())
                .ignore();
        }
        pipe.query_async::<()>(conn).await?;
        let n = messages.len() as u64;
        self.cluster
            .metrics
            .published
            .fetch_add(n, Ordering::Relaxed);
        Ok(())
    }

    /// Applies a message from another node; returns what to publish in answer.
    fn handle(&mut self, bytes: &[u8]) -> Option<Vec<u8>> {
        let Ok((from, message)) = message::read(bytes) else {
            self.cluster
                .metrics
                .unreadable
                .fetch_add(1, Ordering::Relaxed);
            return None;
        };
        if from == self.cluster.id {
            if let Message::Node(NodeMessage::Sync { token }) = message {
                // Everything before this point is applied here; the others answer next.
                let peers: HashSet<NodeId> = self.peers.keys().copied().collect();
                self.settled(token, |waiting| *waiting = Some(peers));
            }
            return None;
        }
        if let Message::Node(NodeMessage::Synced { token, to }) = message {
            if to == self.cluster.id {
                self.settled(token, |waiting| {
                    if let Some(waiting) = waiting {
                        waiting.remove(&from);
                    }
                });
            }
            return None;
        }
        let node = self.node.upgrade()?;
        if !matches!(message, Message::Node(NodeMessage::Bye))
            && self.peers.insert(from, Instant::now()).is_none()
        {
            self.count_nodes();
        }
        match message {
            Message::Delivery { app, delivery } => {
                if let Some(app) = node.app_by_id(&app) {
                    fanout::receive(app, &delivery);
                }
            }
            Message::Change { app, change } => {
                if let Some(app) = node.app_by_id(&app) {
                    fanout::apply(app, from, &change);
                }
            }
            Message::Node(NodeMessage::Alive { conns }) => {
                for (app, n) in conns {
                    if let Some(app) = node.app_by_id(&app) {
                        app.state.set_remote_connections(from, Some(n));
                    }
                }
            }
            Message::Node(NodeMessage::Hello) => return self.state(),
            Message::Node(NodeMessage::State { apps }) => {
                let mut by_app: HashMap<&str, &AppShare> =
                    apps.iter().map(|a| (a.app.as_str(), a)).collect();
                for app in node.apps() {
                    let share = by_app.remove(app.config.id.as_str());
                    let share = share.cloned().unwrap_or_default();
                    let users: Vec<Arc<str>> =
                        share.users.iter().map(|u| Arc::from(u.as_str())).collect();
                    fanout::replace_node(app, from, share.shares(), &users);
                    app.state.set_remote_connections(from, Some(share.conns));
                }
            }
            Message::Node(NodeMessage::Sync { token }) => {
                return Some(message::synced(self.cluster.id, token, from))
            }
            Message::Node(NodeMessage::Synced { .. }) => {}
            Message::Node(NodeMessage::Bye) => {
                self.peers.remove(&from);
                self.count_nodes();
                for app in node.apps() {
                    fanout::node_gone(app, from);
                }
            }
        }
        self.count_nodes();
        None
    }

    /// Updates the nodes a settle waits for, and ends it once none is left.
    fn settled(&self, token: u64, update: impl FnOnce(&mut Option<HashSet<NodeId>>)) {
        let mut settling = self
            .cluster
            .settling
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let Some(entry) = settling.get_mut(&token) else {
            return;
        };
        update(&mut entry.waiting);
        if entry.waiting.as_ref().is_some_and(HashSet::is_empty) {
            if let Some(entry) = settling.remove(&token) {
                let _ = entry.done.send(());
            }
        }
    }

    /// Forgets the peers not heard for `node_timeout_ms`.
    fn sweep(&mut self) {
        let timeout = Duration::from_millis(self.cluster.config.node_timeout_ms);
        let now = Instant::now();
        let gone: Vec<NodeId> = self
            .peers
            .iter()
            .filter(|(_, seen)| now.duration_since(**seen) > timeout)
            .map(|(id, _)| *id)
            .collect();
        if gone.is_empty() {
            return;
        }
        for id in &gone {
            self.peers.remove(id);
        }
        // The channels' owners among the live nodes report what the gone ones cannot.
        self.count_nodes();
        if let Some(node) = self.node.upgrade() {
            for id in gone {
                tracing::warn!(
                    node = self.cluster.id,
                    gone = id,
                    "node stopped heartbeating; forgetting it"
                );
                for app in node.apps() {
                    fanout::node_gone(app, id);
                }
            }
        }
        self.count_nodes();
    }

    /// Publishes who is live: the node count for `/metrics`, and the channel owners.
    fn count_nodes(&self) {
        let n = self.peers.len() as u64 + 1;
        self.cluster.metrics.nodes.store(n, Ordering::Relaxed);
        let mut live: Vec<NodeId> = self.peers.keys().copied().collect();
        live.sort_unstable();
        *self
            .cluster
            .live
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = live;
    }

    fn alive(&self) -> Option<Vec<u8>> {
        let node = self.node.upgrade()?;
        let conns = node
            .apps()
            .map(|a| (a.config.id.clone(), a.connections.load(Ordering::Relaxed)))
            .collect();
        Some(message::alive(self.cluster.id, conns))
    }

    /// This node's whole state.
    fn state(&self) -> Option<Vec<u8>> {
        let node = self.node.upgrade()?;
        let apps = node
            .apps()
            .map(|app| AppShare {
                app: app.config.id.clone(),
                conns: app.connections.load(Ordering::Relaxed),
                channels: app
                    .state
                    .own_shares()
                    .into_iter()
                    .map(|(name, share)| {
                        let members = share
                            .members
                            .iter()
                            .map(|(id, info)| (id.to_string(), info.to_string()))
                            .collect();
                        (name.to_string(), share.subscriptions, members)
                    })
                    .collect(),
                users: app
                    .state
                    .own_users()
                    .iter()
                    .map(|u| u.to_string())
                    .collect(),
            })
            .collect();
        Some(message::state(self.cluster.id, apps))
    }
}

/// Reads the cluster's subscription until the connection fails or the link is gone: runs
/// on a thread of its own (see [`Link::connect`]).
fn read_subscription(
    client: &redis::Client,
    channel: &str,
    tx: &mpsc::Sender<Vec<u8>>,
    ready: oneshot::Sender<redis::RedisResult<()>>,
) {
    let mut conn = match client.get_connection_with_timeout(REDIS_TIMEOUT) {
        Ok(conn) => conn,
        Err(e) => {
            let _ = ready.send(Err(e));
            return;
        }
    };
    // One `PubSub` for the thread's life: dropping it leaves the subscription.
    let mut pubsub = conn.as_pubsub();
    let subscribed = pubsub
        .set_read_timeout(Some(REDIS_TIMEOUT))
        .and_then(|()| pubsub.subscribe(channel))
        // From here on, a quiet cluster is no error: the wait only lets the thread see that
        // the link is gone.
        .and_then(|()| pubsub.set_read_timeout(Some(READ_WAKE)));
    let failed = subscribed.is_err();
    if ready.send(subscribed).is_err() || failed {
        return;
    }
    loop {
        match pubsub.get_message() {
            Ok(msg) => {
                if tx.blocking_send(msg.get_payload_bytes().to_vec()).is_err() {
                    return;
                }
            }
            Err(e) if e.is_timeout() => {
                if tx.is_closed() {
                    return;
                }
            }
            // Dropping `tx` tells the link that the subscription is lost.
            Err(_) => return,
        }
    }
}

/// A stable hash of a node and a channel name (FNV-1a): the same on every node and every
/// build, unlike the standard library's hasher.
fn rendezvous(node: NodeId, channel: &str) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in node.to_le_bytes().iter().chain(channel.as_bytes()) {
        hash ^= u64::from(*byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    hash
}

fn timeout() -> redis::RedisError {
    redis::RedisError::from((redis::ErrorKind::IoError, "timed out"))
}
