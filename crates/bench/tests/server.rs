//! Every scenario against a real pusherable server on loopback: nothing may be lost.

use std::future::IntoFuture as _;
use std::sync::{Arc, OnceLock};

use pusherable_bench::scenario::connections::{connections, ConnectionsArgs};
use pusherable_bench::scenario::fan_out::{fan_out, many_channels, FanOutArgs, ManyChannelsArgs};
use pusherable_bench::scenario::presence::{presence, PresenceArgs};
use pusherable_bench::scenario::rest::{rest, RestArgs};
use pusherable_bench::scenario::Run;
use pusherable_bench::{Report, Target};
use pusherable_server::{Adapter, AppConfig, Config, Delivery, Server};

const KEY: &str = "278d425bdf160c739803";
const SECRET: &str = "7ad3773142a6692b25b8";

async fn server() -> (pusherable_server::Spawned, Run) {
    let config = Config {
        apps: vec![AppConfig::new("3", KEY, SECRET)],
        ..Config::default()
    };
    let addr = "127.0.0.1:0".parse().expect("an address");
    let running = pusherable_server::spawn(config, addr)
        .await
        .expect("the server starts");
    let url = format!("http://{KEY}:{SECRET}@{}/apps/3", running.local_addr());
    let mut target = Target::from_url(&url).expect("a loopback target");
    // The server runs in this process, so this process's memory is the server's.
    target.pids = vec![std::process::id()];
    (running, Run::new(target))
}

fn metric(report: &Report, name: &str) -> f64 {
    report
        .metrics
        .iter()
        .find(|m| m.name == name)
        .map(|m| m.value)
        .unwrap_or_else(|| panic!("no {name} in {report:#?}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fan_out_loses_nothing() {
    let (running, run) = server().await;
    let args = FanOutArgs {
        connections: 200,
        rate: 50.0,
        duration: 5,
        ..Default::default()
    };
    let report = fan_out(&run, &args).await.unwrap();
    assert_eq!(metric(&report, "connections_live"), 200.0, "{report:#?}");
    assert_eq!(metric(&report, "events_triggered"), 250.0, "{report:#?}");
    assert_eq!(metric(&report, "trigger_errors"), 0.0, "{report:#?}");
    assert_eq!(metric(&report, "deliveries"), 200.0 * 250.0, "{report:#?}");
    assert_eq!(metric(&report, "lost"), 0.0, "{report:#?}");
    assert_eq!(metric(&report, "duplicates"), 0.0, "{report:#?}");
    assert!(metric(&report, "server_rss_after_kib") > 0.0, "{report:#?}");
    running.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stalled_connections_are_counted_once_the_server_closes_them() {
    let config = Config {
        apps: vec![AppConfig::new("3", KEY, SECRET)],
        outbound_budget_bytes: 64 * 1024,
        ..Config::default()
    };
    let running = pusherable_server::spawn(config, "127.0.0.1:0".parse().expect("an address"))
        .await
        .expect("the server starts");
    let url = format!("http://{KEY}:{SECRET}@{}/apps/3", running.local_addr());
    let mut target = Target::from_url(&url).expect("a loopback target");
    target.pids = vec![std::process::id()];
    // 10 MB for each stalled connection: more than the kernel's socket buffers take.
    let args = FanOutArgs {
        connections: 2,
        rate: 400.0,
        duration: 3,
        payload_bytes: 9000,
        stalled: 2,
        ..Default::default()
    };
    let report = fan_out(&Run::new(target), &args).await.unwrap();
    assert_eq!(metric(&report, "stalled_cut_off"), 2.0, "{report:#?}");
    assert_eq!(metric(&report, "deliveries"), 2.0 * 1200.0, "{report:#?}");
    assert_eq!(metric(&report, "lost"), 0.0, "{report:#?}");
    running.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_channels_deliver_each_event_to_its_own_subscribers() {
    let (running, run) = server().await;
    let args = ManyChannelsArgs {
        fan_out: FanOutArgs {
            connections: 100,
            rate: 40.0,
            duration: 1,
            ..Default::default()
        },
        channels_per_trigger: 7,
    };
    let report = many_channels(&run, &args).await.unwrap();
    // 20 even events reach all 100; 20 odd ones reach the 7 (or, last group, 2) they name.
    let deliveries = metric(&report, "deliveries");
    assert_eq!(
        deliveries,
        metric(&report, "deliveries_expected"),
        "{report:#?}"
    );
    assert!(deliveries > 2000.0, "{report:#?}");
    assert_eq!(metric(&report, "lost"), 0.0, "{report:#?}");
    running.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rest_counts_requests_and_deliveries() {
    let (running, run) = server().await;
    let args = RestArgs {
        subscribers: vec![0, 20],
        concurrency: 4,
        duration: 1,
        max_requests: 500,
        drain: 10,
    };
    let reports = rest(&run, &args).await.unwrap();
    assert_eq!(reports.len(), 2);
    for report in &reports {
        assert!(metric(report, "requests") > 0.0, "{report:#?}");
        assert_eq!(metric(report, "errors"), 0.0, "{report:#?}");
    }
    let with_subscribers = &reports[1];
    assert_eq!(
        metric(with_subscribers, "lost"),
        0.0,
        "{with_subscribers:#?}"
    );
    assert_eq!(
        metric(with_subscribers, "deliveries"),
        metric(with_subscribers, "requests") * 20.0,
        "{with_subscribers:#?}"
    );
    running.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn presence_churn_delivers_every_member_event() {
    let (running, run) = server().await;
    let args = PresenceArgs {
        members: 30,
        per_channel: 10,
        duration: 1,
        max_cycles: 1000,
        drain: 10,
    };
    let report = presence(&run, &args).await.unwrap();
    assert_eq!(metric(&report, "members_failed"), 0.0, "{report:#?}");
    assert!(metric(&report, "joins") > 0.0, "{report:#?}");
    assert_eq!(
        metric(&report, "joins"),
        metric(&report, "leaves"),
        "{report:#?}"
    );
    assert_eq!(
        metric(&report, "member_added"),
        metric(&report, "joins"),
        "{report:#?}"
    );
    assert_eq!(
        metric(&report, "member_removed"),
        metric(&report, "leaves"),
        "{report:#?}"
    );
    assert_eq!(metric(&report, "member_events_lost"), 0.0, "{report:#?}");
    running.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_are_opened_and_weighed() {
    let (running, run) = server().await;
    let args = ConnectionsArgs {
        connections: 300,
        channel: Some("lobby".into()),
    };
    let report = connections(&run, &args).await.unwrap();
    assert_eq!(metric(&report, "connections_live"), 300.0, "{report:#?}");
    assert_eq!(metric(&report, "connections_failed"), 0.0, "{report:#?}");
    assert!(
        metric(&report, "server_kib_per_connection") >= 0.0,
        "{report:#?}"
    );
    running.shutdown().await;
}

/// Hands each delivery to the other node of a two-node cluster in this process, as the Redis
/// link does between processes.
#[derive(Debug, Clone, Default)]
struct Peer(Arc<OnceLock<Server>>);

impl Adapter for Peer {
    fn forward(&self, app_id: &str, delivery: &Delivery) {
        if let Some(other) = self.0.get() {
            other.receive(app_id, delivery);
        }
    }
}

/// Two nodes that forward to each other, each on its own loopback port.
async fn two_nodes() -> [(Server, std::net::SocketAddr); 2] {
    let peers = [Peer::default(), Peer::default()];
    let mut nodes = Vec::new();
    for peer in &peers {
        let config = Config {
            apps: vec![AppConfig::new("3", KEY, SECRET)],
            ..Config::default()
        };
        let server = Server::builder(config)
            .adapter(peer.clone())
            .build()
            .expect("a node");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a port");
        let addr = listener.local_addr().expect("an address");
        tokio::spawn(axum::serve(listener, server.router()).into_future());
        nodes.push((server, addr));
    }
    // Each node's peer is the other one.
    let _ = peers[0].0.set(nodes[1].0.clone());
    let _ = peers[1].0.set(nodes[0].0.clone());
    let [a, b]: [_; 2] = nodes.try_into().expect("two nodes");
    [a, b]
}

fn connections_opened(server: &Server) -> u64 {
    server
        .metrics_text()
        .lines()
        .filter(|l| l.starts_with("pusherable_connections_total"))
        .filter_map(|l| l.split_whitespace().last()?.parse::<u64>().ok())
        .sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fan_out_over_two_nodes_deals_connections_and_loses_nothing() {
    let [(a, a_addr), (b, b_addr)] = two_nodes().await;
    let mut target =
        Target::from_url(&format!("http://{KEY}:{SECRET}@{a_addr}/apps/3")).expect("a target");
    target.nodes.push(b_addr);
    // Both nodes run in this process: its figures count once, whatever the pids say.
    target.pids = vec![std::process::id(), std::process::id()];
    let run = Run::new(target);
    let args = FanOutArgs {
        connections: 100,
        rate: 50.0,
        duration: 2,
        ..Default::default()
    };
    let report = fan_out(&run, &args).await.unwrap();
    assert_eq!(metric(&report, "connections_live"), 100.0, "{report:#?}");
    assert_eq!(metric(&report, "deliveries"), 100.0 * 100.0, "{report:#?}");
    assert_eq!(metric(&report, "lost"), 0.0, "{report:#?}");
    assert_eq!(metric(&report, "duplicates"), 0.0, "{report:#?}");
    assert!(metric(&report, "server_rss_after_kib") > 0.0, "{report:#?}");
    assert_eq!((connections_opened(&a), connections_opened(&b)), (50, 50));
    a.shutdown();
    b.shutdown();
}
