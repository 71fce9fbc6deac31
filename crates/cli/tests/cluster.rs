//! Several `pusherable serve` processes that share a Redis server behave as one server:
//! events, presence and REST answers cover every node, a killed node's members leave, and a
//! Redis restart heals.
//!
//! The shared Redis at 127.0.0.1:6379 serves every test, each on a cluster prefix of its
//! own; the restart test starts a Redis server of its own on another port.
#![allow(clippy::unwrap_used)]

mod common;

use std::{
    net::SocketAddr,
    process::Stdio,
    time::{Duration, Instant},
};

use common::pusherable;
use pusherable_client::Client;
use pusherable_test_support::{data, ConsoleStream, Socket, ID, KEY, PATIENCE, SECRET};
use serde_json::{json, Value};
use tokio::{
    io::{AsyncBufReadExt, BufReader},
    process::{Child, Command},
};

const SHARED_REDIS: &str = "redis://127.0.0.1:6379";

/// One `pusherable serve` process, member of a cluster.
struct Node {
    child: Child,
    addr: SocketAddr,
    _config: TempFile,
}

struct TempFile(std::path::PathBuf);

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

fn unique(name: &str) -> String {
    let n: u64 = rand_u64();
    format!("test-{name}-{n:x}")
}

fn rand_u64() -> u64 {
    use std::hash::{BuildHasher, RandomState};
    RandomState::new().hash_one(std::time::SystemTime::now())
}

impl Node {
    /// Starts a node of the cluster `prefix` on `redis` with more settings for the app, and
    /// waits until it listens.
    async fn start_with(redis: &str, prefix: &str, app_settings: &str) -> Node {
        let path = std::env::temp_dir().join(format!("{}.toml", unique("node")));
        let config = format!(
            r#"
            [cluster]
            redis_url = "{redis}"
            prefix = "{prefix}"
            heartbeat_ms = 200
            node_timeout_ms = 2000

            [[apps]]
            id = "{ID}"
            key = "{KEY}"
            secret = "{SECRET}"
            {app_settings}
            "#
        );
        std::fs::write(&path, config).unwrap();
        let mut child = pusherable(["serve", "--port", "0", "--config"])
            .arg(&path)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let addr = tokio::time::timeout(PATIENCE, async {
            while let Some(line) = lines.next_line().await.unwrap() {
                if let Some(addr) = line.strip_prefix("pusherable listening on http://") {
                    return addr.parse().unwrap();
                }
            }
            panic!("the node ended before it listened");
        })
        .await
        .expect("the node listens within the test's patience");
        // Keep reading stdout so that the node never blocks on a full pipe.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        Node {
            child,
            addr,
            _config: TempFile(path),
        }
    }

    fn client(&self) -> Client {
        Client::from_url(&format!("http://{KEY}:{SECRET}@{}/apps/{ID}", self.addr)).unwrap()
    }

    async fn metric(&self, name: &str) -> Option<u64> {
        let text = reqwest_get(&format!("http://{}/metrics", self.addr)).await?;
        text.lines()
            .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
    }

    async fn kill(&mut self) {
        self.child.start_kill().unwrap();
        self.child.wait().await.unwrap();
    }
}

async fn reqwest_get(url: &str) -> Option<String> {
    let resp = reqwest::get(url).await.ok()?;
    resp.text().await.ok()
}

/// Waits until `check` holds: the nodes agree through Redis within moments, but not at once.
async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + PATIENCE;
    while !check().await {
        assert!(Instant::now() < deadline, "never happened: {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Starts `n` nodes of one cluster and waits until each hears all the others.
async fn cluster(redis: &str, n: usize) -> Vec<Node> {
    cluster_with(redis, n, "").await
}

async fn cluster_with(redis: &str, n: usize, app_settings: &str) -> Vec<Node> {
    let prefix = unique("cluster");
    let mut nodes = Vec::new();
    for _ in 0..n {
        nodes.push(Node::start_with(redis, &prefix, app_settings).await);
    }
    for node in &nodes {
        eventually("every node hears the others", || async {
            node.metric("pusherable_cluster_nodes").await == Some(n as u64)
        })
        .await;
    }
    nodes
}

/// Subscribes to a presence channel; returns the member ids of `subscription_succeeded`.
async fn join(socket: &mut Socket, channel: &str, user: &str) -> Vec<String> {
    let joined = socket.join(channel, user, user).await;
    let mut ids: Vec<String> = data(&joined)["presence"]["ids"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_owned())
        .collect();
    ids.sort();
    ids
}

async fn users(node: &Node, channel: &str) -> Vec<String> {
    let mut ids: Vec<String> = node
        .client()
        .users(channel)
        .await
        .unwrap()
        .users
        .into_iter()
        .map(|u| u.id)
        .collect();
    ids.sort();
    ids
}

#[tokio::test]
async fn events_from_any_node_reach_subscribers_on_every_node() {
    let nodes = cluster(SHARED_REDIS, 3).await;
    let mut sockets = Vec::new();
    for node in &nodes {
        let mut s = Socket::connect(node.addr).await;
        s.subscribe("news").await;
        sockets.push(s);
    }
    eventually("every node counts the three subscribers", || async {
        let reply = nodes[2]
            .client()
            .channel("news", &[pusherable_client::Info::SubscriptionCount])
            .await
            .unwrap();
        reply.subscription_count == Some(3)
    })
    .await;

    // A REST trigger on one node: every subscriber gets it once.
    nodes[0]
        .client()
        .trigger(&["news"], "headline", "1")
        .await
        .unwrap();
    nodes[1]
        .client()
        .trigger(&["news"], "headline", "2")
        .await
        .unwrap();
    // Events from two nodes have no order between them; each node's keep theirs.
    for s in &mut sockets {
        let mut got = Vec::new();
        for _ in 0..2 {
            let e = s.next_event().await;
            assert_eq!(e["event"], "headline");
            got.push(e["data"].as_str().unwrap().to_owned());
        }
        got.sort();
        assert_eq!(got, ["1", "2"]);
    }

    // A client event on one node reaches the other nodes' subscribers, not its sender.
    let channel = "private-chat";
    for s in &mut sockets {
        s.subscribe(channel).await;
    }
    sockets[1]
        .send(json!({"event": "client-typing", "channel": channel, "data": {"who": 1}}))
        .await;
    // Once the sender's next subscription is answered, its node has published the client
    // event; the REST event, triggered on the same node, is published after it.
    sockets[1].subscribe("sync").await;
    nodes[1]
        .client()
        .trigger(&[channel], "after", "x")
        .await
        .unwrap();
    for (i, s) in sockets.iter_mut().enumerate() {
        let e = s.next_event().await;
        if i == 1 {
            assert_eq!(e["event"], "after", "the sender does not get its own event");
        } else {
            assert_eq!(e["event"], "client-typing", "node {i}");
            assert_eq!(s.next_event().await["event"], "after");
        }
    }

    // `socket_id` leaves out one connection, wherever it is.
    let options = pusherable_client::TriggerOptions {
        socket_id: Some(sockets[2].socket_id.clone()),
        info: vec![],
    };
    nodes[0]
        .client()
        .trigger_with(&["news"], "skip", "2", &options)
        .await
        .unwrap();
    nodes[0]
        .client()
        .trigger(&["news"], "all", "3")
        .await
        .unwrap();
    assert_eq!(sockets[2].next_event().await["event"], "all");
    assert_eq!(sockets[1].next_event().await["event"], "skip");
}

#[tokio::test]
async fn presence_members_and_counts_cover_the_cluster() {
    let nodes = cluster(SHARED_REDIS, 3).await;
    let channel = "presence-room";
    let mut ann = Socket::connect(nodes[0].addr).await;
    assert_eq!(join(&mut ann, channel, "ann").await, ["ann"]);
    eventually("node 1 knows ann", || async {
        users(&nodes[1], channel).await == ["ann"]
    })
    .await;

    // Bob, on another node, is told of Ann; Ann is told of Bob, once.
    let mut bob = Socket::connect(nodes[1].addr).await;
    assert_eq!(join(&mut bob, channel, "bob").await, ["ann", "bob"]);
    let added = ann.skip_to("pusher_internal:member_added").await;
    assert!(
        added["data"].as_str().unwrap().contains("\"bob\""),
        "{added}"
    );
    eventually("node 2 lists both", || async {
        users(&nodes[2], channel).await == ["ann", "bob"]
    })
    .await;

    // Ann's second connection, on a third node, is no news to Bob.
    let mut ann2 = Socket::connect(nodes[2].addr).await;
    assert_eq!(join(&mut ann2, channel, "ann").await, ["ann", "bob"]);
    let reply = nodes[0]
        .client()
        .channel(channel, &[pusherable_client::Info::UserCount])
        .await
        .unwrap();
    assert_eq!(reply.user_count, Some(2));

    // Ann leaves node 0: she is still on node 2, so Bob hears nothing. Her connection has
    // processed the unsubscribe once it answers the next subscription, and node 0 publishes
    // in order: the event below reaches Bob after her leaving was applied on his node.
    ann.send(json!({"event": "pusher:unsubscribe", "data": {"channel": channel}}))
        .await;
    ann.subscribe("sync").await;
    nodes[0]
        .client()
        .trigger(&[channel], "first-left", "x")
        .await
        .unwrap();
    assert_eq!(bob.recv().await["event"], "first-left");

    // Then she leaves node 2 too: Bob is told once.
    drop(ann2);
    let removed = bob.recv().await;
    assert_eq!(
        removed["event"], "pusher_internal:member_removed",
        "{removed}"
    );
    assert!(
        removed["data"].as_str().unwrap().contains("\"ann\""),
        "{removed}"
    );
    nodes[2]
        .client()
        .trigger(&[channel], "ping", "x")
        .await
        .unwrap();
    assert_eq!(bob.recv().await["event"], "ping");
    assert_eq!(users(&nodes[0], channel).await, ["bob"]);
}

#[tokio::test]
async fn a_killed_node_leaves_every_answer() {
    let mut nodes = cluster(SHARED_REDIS, 3).await;
    let channel = "presence-desk";
    let mut bob = Socket::connect(nodes[1].addr).await;
    join(&mut bob, channel, "bob").await;
    let mut cat = Socket::connect(nodes[2].addr).await;
    join(&mut cat, channel, "cat").await;
    bob.skip_to("pusher_internal:member_added").await;
    eventually("node 0 lists both", || async {
        users(&nodes[0], channel).await == ["bob", "cat"]
    })
    .await;

    // SIGKILL: no goodbye. Within the node timeout, Cat leaves every node.
    let killed_at = Instant::now();
    nodes[2].kill().await;
    let removed = bob.skip_to("pusher_internal:member_removed").await;
    assert!(
        removed["data"].as_str().unwrap().contains("\"cat\""),
        "{removed}"
    );
    assert!(
        killed_at.elapsed() < Duration::from_secs(10),
        "gone within 10 s"
    );
    eventually("node 0 forgets cat", || async {
        users(&nodes[0], channel).await == ["bob"]
    })
    .await;
    eventually("two nodes left", || async {
        nodes[0].metric("pusherable_cluster_nodes").await == Some(2)
    })
    .await;
    drop(cat);
}

/// A Redis server of this test's own, on a free port.
struct Redis {
    port: u16,
    child: Option<Child>,
}

impl Redis {
    async fn start(port: u16) -> Redis {
        let mut redis = Redis { port, child: None };
        redis.restart().await;
        redis
    }

    async fn restart(&mut self) {
        let child = Command::new("redis-server")
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("redis-server is installed");
        self.child = Some(child);
        let addr = format!("127.0.0.1:{}", self.port);
        eventually("redis-server listens", || async {
            tokio::net::TcpStream::connect(&addr).await.is_ok()
        })
        .await;
    }

    async fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.start_kill().unwrap();
            child.wait().await.unwrap();
        }
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[tokio::test]
async fn a_redis_restart_heals() {
    let mut redis = Redis::start(free_port()).await;
    let nodes = cluster(&redis.url(), 2).await;
    let mut far = Socket::connect(nodes[1].addr).await;
    far.subscribe("news").await;
    let mut near = Socket::connect(nodes[0].addr).await;
    near.subscribe("news").await;

    redis.stop().await;
    eventually("node 0 sees the link down", || async {
        nodes[0].metric("pusherable_cluster_link_up").await == Some(0)
    })
    .await;
    // Each node goes on serving its own subscribers.
    nodes[0]
        .client()
        .trigger(&["news"], "local", "1")
        .await
        .unwrap();
    assert_eq!(near.next_event().await["event"], "local");

    redis.restart().await;
    for node in &nodes {
        eventually("the nodes link again", || async {
            node.metric("pusherable_cluster_link_up").await == Some(1)
                && node.metric("pusherable_cluster_nodes").await == Some(2)
        })
        .await;
    }
    // Each node said its whole state again: counts cover both nodes.
    eventually("node 0 counts both subscribers again", || async {
        let reply = nodes[0]
            .client()
            .channel("news", &[pusherable_client::Info::SubscriptionCount])
            .await
            .unwrap();
        reply.subscription_count == Some(2)
    })
    .await;
    nodes[0]
        .client()
        .trigger(&["news"], "again", "2")
        .await
        .unwrap();
    let e = far.next_event().await;
    assert_eq!(e["event"], "again", "cross-node delivery resumes: {e}");
    redis.stop().await;
}

/// Webhook events as a receiver gets them: (name, channel, user_id).
type Hook = (String, String, Option<String>);

/// A webhook receiver on a free port; every event it gets comes out of the channel.
async fn webhook_receiver() -> (String, tokio::sync::mpsc::UnboundedReceiver<Hook>) {
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    let app = axum::Router::new().route(
        "/",
        axum::routing::post(move |body: String| {
            let tx = tx.clone();
            async move {
                let body: Value = serde_json::from_str(&body).unwrap();
                for e in body["events"].as_array().unwrap() {
                    let field = |k: &str| e[k].as_str().map(str::to_owned);
                    let hook = (
                        field("name").unwrap(),
                        field("channel").unwrap(),
                        field("user_id"),
                    );
                    let _ = tx.send(hook);
                }
                "ok"
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, rx)
}

async fn next_hook(hooks: &mut tokio::sync::mpsc::UnboundedReceiver<Hook>) -> Hook {
    tokio::time::timeout(PATIENCE, hooks.recv())
        .await
        .expect("a webhook within the test's patience")
        .unwrap()
}

fn hook(name: &str, channel: &str, user: Option<&str>) -> Hook {
    (name.to_owned(), channel.to_owned(), user.map(str::to_owned))
}

#[tokio::test]
async fn webhooks_come_once_from_the_whole_cluster() {
    let (url, mut hooks) = webhook_receiver().await;
    let settings = format!("webhooks = [{{ url = \"{url}\", event_types = [\"channel_occupied\", \"channel_vacated\", \"member_added\", \"member_removed\"] }}]");
    let mut nodes = cluster_with(SHARED_REDIS, 3, &settings).await;
    let channel = "presence-hooked";

    // Ann's first connection, anywhere: the channel is occupied and she is added, once.
    let mut ann = Socket::connect(nodes[0].addr).await;
    join(&mut ann, channel, "ann").await;
    assert_eq!(
        next_hook(&mut hooks).await,
        hook("channel_occupied", channel, None)
    );
    assert_eq!(
        next_hook(&mut hooks).await,
        hook("member_added", channel, Some("ann"))
    );
    // Bob on another node: added once, and nothing repeats Ann's webhooks before it.
    let mut bob = Socket::connect(nodes[1].addr).await;
    join(&mut bob, channel, "bob").await;
    assert_eq!(
        next_hook(&mut hooks).await,
        hook("member_added", channel, Some("bob"))
    );

    // Ann reloads her page and lands on another node: a single server would report nothing
    // (a removal waits 3 s for a return), and neither does the cluster.
    drop(ann);
    let mut ann = Socket::connect(nodes[2].addr).await;
    join(&mut ann, channel, "ann").await;

    // Cat's node is killed: the cluster reports her removal once, for the dead node. The
    // wait covers Ann's removal delay: had anything reported her reload, it would come first.
    let mut cat = Socket::connect(nodes[2].addr).await;
    join(&mut cat, channel, "cat").await;
    assert_eq!(
        next_hook(&mut hooks).await,
        hook("member_added", channel, Some("cat"))
    );
    tokio::time::sleep(Duration::from_secs(4)).await;
    nodes[2].kill().await;
    // Ann's connection on the killed node goes too: both leave, in no set order.
    let mut gone = vec![next_hook(&mut hooks).await, next_hook(&mut hooks).await];
    gone.sort();
    assert_eq!(
        gone,
        [
            hook("member_removed", channel, Some("ann")),
            hook("member_removed", channel, Some("cat")),
        ]
    );
    // Bob leaves last: he is removed and the channel vacated, once each (both wait out the
    // same delay, so in no set order), and nothing came in between.
    drop(bob);
    let mut last = vec![next_hook(&mut hooks).await, next_hook(&mut hooks).await];
    last.sort();
    assert_eq!(
        last,
        [
            hook("channel_vacated", channel, None),
            hook("member_removed", channel, Some("bob")),
        ]
    );
    drop((ann, cat));
}

/// Opens a connection and reads until it is established (then closes it) or refused (with
/// its close code).
async fn try_connect(addr: SocketAddr) -> Result<(), u16> {
    let url = format!("ws://{addr}/app/{KEY}?protocol=7&client=js&version=8.6.0");
    let mut socket = Socket::open(url).await;
    if socket.recv().await["event"] == "pusher:connection_established" {
        return Ok(());
    }
    Err(socket
        .close_code()
        .await
        .expect("the connection ends with a close code"))
}

#[tokio::test]
async fn max_connections_counts_every_node() {
    let nodes = cluster_with(SHARED_REDIS, 2, "max_connections = 2").await;
    let _a = Socket::connect(nodes[0].addr).await;
    let _b = Socket::connect(nodes[0].addr).await;
    // Node 1 learns node 0's count from its next heartbeat; until then it may let one in.
    let deadline = Instant::now() + PATIENCE;
    loop {
        if let Err(code) = try_connect(nodes[1].addr).await {
            assert_eq!(code, 4004, "over the app's connection quota");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "node 1 never counted node 0's connections"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn the_console_of_one_node_shows_the_whole_cluster() {
    let nodes = cluster(SHARED_REDIS, 2).await;
    let mut console = ConsoleStream::open(nodes[1].addr, ID, SECRET).await;

    // Another node's member joins, publishes a client event, is sent an API event, and leaves.
    let mut alice = Socket::connect(nodes[0].addr).await;
    join(&mut alice, "presence-room", "alice").await;
    alice
        .send(json!({"event": "client-typing", "channel": "presence-room", "data": {"on": 1}}))
        .await;
    // Once the next subscription is answered, the client event has been published.
    alice.subscribe("sync").await;
    nodes[0]
        .client()
        .trigger(&["presence-room"], "headline", "1")
        .await
        .unwrap();
    drop(alice);

    let mut seen = Vec::new();
    while seen.len() < 8 {
        let entry = console.next().await;
        seen.push(format!(
            "{} {} {} {}",
            entry["type"].as_str().unwrap(),
            entry["channel"].as_str().unwrap_or(""),
            entry["event"]
                .as_str()
                .or(entry["user_id"].as_str())
                .unwrap_or(""),
            entry["remote"]
        ));
    }
    // The other node's connection and subscriptions are its own; what they do to channels,
    // and the events, reach this node's console too, marked as remote.
    assert_eq!(
        seen[..4],
        [
            "channel_occupied presence-room  true",
            "member_added presence-room alice true",
            "client_event presence-room client-typing true",
            "channel_occupied sync  true",
        ]
    );
    // A REST trigger is answered before its fan-out, and the node leaves its channels in no
    // particular order.
    seen[4..].sort();
    assert_eq!(
        seen[4..],
        [
            "api_event presence-room headline true",
            "channel_vacated presence-room  true",
            "channel_vacated sync  true",
            "member_removed presence-room alice true",
        ]
    );
}
