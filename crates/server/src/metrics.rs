//! Counters for `/metrics`, in the Prometheus text format.
//!
//! Counting happens once per frame received and once per broadcast (with the number of
//! recipients), never once per recipient: the fan-out path stays free of shared writes.

use std::{
    fmt::Write as _,
    sync::atomic::{AtomicU64, Ordering},
};

/// The counters of one app.
#[derive(Debug, Default)]
pub(crate) struct Metrics {
    pub(crate) messages_in: AtomicU64,
    pub(crate) bytes_in: AtomicU64,
    pub(crate) messages_out: AtomicU64,
    pub(crate) bytes_out: AtomicU64,
    pub(crate) connections_total: AtomicU64,
    pub(crate) rest_requests: AtomicU64,
    pub(crate) webhooks_sent: AtomicU64,
    pub(crate) webhooks_failed: AtomicU64,
    pub(crate) webhooks_dropped: AtomicU64,
    /// Removals sent without their delay because too many were waiting already.
    pub(crate) webhook_removals_undelayed: AtomicU64,
}

impl Metrics {
    pub(crate) fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }

    /// Records a frame sent to `recipients` connections.
    pub(crate) fn sent(&self, recipients: usize, frame_len: usize) {
        let r = recipients as u64;
        self.messages_out.fetch_add(r, Ordering::Relaxed);
        self.bytes_out
            .fetch_add(r * frame_len as u64, Ordering::Relaxed);
    }
}

/// Renders the state of this node's link to the cluster.
pub(crate) fn render_cluster(out: &mut String, up: bool, m: &crate::cluster::ClusterMetrics) {
    let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
    let lines: [(&str, &str, &str, u64); 7] = [
        (
            "pusherable_cluster_link_up",
            "gauge",
            "1 while linked to Redis and subscribed",
            u64::from(up),
        ),
        (
            "pusherable_cluster_nodes",
            "gauge",
            "Nodes this node hears, itself included",
            get(&m.nodes),
        ),
        (
            "pusherable_cluster_connects_total",
            "counter",
            "Links to Redis made",
            get(&m.connects),
        ),
        (
            "pusherable_cluster_published_total",
            "counter",
            "Messages published to the other nodes",
            get(&m.published),
        ),
        (
            "pusherable_cluster_received_total",
            "counter",
            "Messages received from Redis",
            get(&m.received),
        ),
        (
            "pusherable_cluster_dropped_total",
            "counter",
            "Messages not published (link down or queue full)",
            get(&m.dropped),
        ),
        (
            "pusherable_cluster_unreadable_total",
            "counter",
            "Messages from other nodes that did not read",
            get(&m.unreadable),
        ),
    ];
    for (name, kind, help, value) in lines {
        let _ = writeln!(
            out,
            "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}"
        );
    }
}

/// One sample of one app, for rendering.
pub(crate) struct Sample<'a> {
    pub(crate) app_id: &'a str,
    pub(crate) connections: usize,
    pub(crate) subscriptions: usize,
    pub(crate) channels: usize,
    pub(crate) metrics: &'a Metrics,
}

/// A metric's name, its help text, and how to read it.
type Line<T> = (&'static str, &'static str, T);
type Gauge = Line<fn(&Sample<'_>) -> u64>;
type Counter = Line<fn(&Metrics) -> &AtomicU64>;

/// Renders every app's counters.
pub(crate) fn render(samples: &[Sample<'_>]) -> String {
    let mut out = String::new();
    let gauges: [Gauge; 3] = [
        (
            "pusherable_connections",
            "Open WebSocket connections",
            |s| s.connections as u64,
        ),
        ("pusherable_subscriptions", "Channel subscriptions", |s| {
            s.subscriptions as u64
        }),
        ("pusherable_channels", "Occupied channels", |s| {
            s.channels as u64
        }),
    ];
    for (name, help, get) in gauges {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} gauge");
        for s in samples {
            let _ = writeln!(out, "{name}{{app_id=\"{}\"}} {}", s.app_id, get(s));
        }
    }
    let counters: [Counter; 10] = [
        (
            "pusherable_connections_total",
            "WebSocket connections opened",
            |m| &m.connections_total,
        ),
        (
            "pusherable_messages_received_total",
            "Frames received from clients",
            |m| &m.messages_in,
        ),
        (
            "pusherable_bytes_received_total",
            "Bytes received from clients",
            |m| &m.bytes_in,
        ),
        (
            "pusherable_messages_sent_total",
            "Broadcast frames queued for clients",
            |m| &m.messages_out,
        ),
        (
            "pusherable_bytes_sent_total",
            "Broadcast bytes queued for clients",
            |m| &m.bytes_out,
        ),
        ("pusherable_rest_requests_total", "REST API requests", |m| {
            &m.rest_requests
        }),
        (
            "pusherable_webhooks_sent_total",
            "Webhook requests delivered",
            |m| &m.webhooks_sent,
        ),
        (
            "pusherable_webhooks_failed_total",
            "Webhook attempts that failed",
            |m| &m.webhooks_failed,
        ),
        (
            "pusherable_webhooks_dropped_total",
            "Webhook events dropped (queue full or retries exhausted)",
            |m| &m.webhooks_dropped,
        ),
        (
            "pusherable_webhook_removals_undelayed_total",
            "channel_vacated and member_removed webhooks sent without their 3 s delay (too many waiting)",
            |m| &m.webhook_removals_undelayed,
        ),
    ];
    for (name, help, get) in counters {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} counter");
        for s in samples {
            let _ = writeln!(
                out,
                "{name}{{app_id=\"{}\"}} {}",
                s.app_id,
                get(s.metrics).load(Ordering::Relaxed)
            );
        }
    }
    out
}
