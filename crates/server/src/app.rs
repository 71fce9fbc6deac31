//! One app at run time: its settings, its state on this node, and what serves its events.

use std::{
    sync::{atomic::AtomicUsize, Arc, OnceLock},
    time::Duration,
};

use tokio::sync::mpsc;

use crate::{
    adapter::{Adapter, Delivery},
    cluster::Cluster,
    config::AppConfig,
    console::Console,
    fanout::CountThrottle,
    limiter::Limiter,
    metrics::Metrics,
    state::State,
    webhooks::Webhooks,
};

/// One app at run time.
#[derive(Debug)]
pub(crate) struct App {
    pub(crate) config: AppConfig,
    /// Connections, channels, members and users of this app on this node.
    pub(crate) state: State,
    pub(crate) metrics: Arc<Metrics>,
    /// `None` when the app has no webhook receivers.
    pub(crate) webhooks: Option<Arc<Webhooks>>,
    /// The other nodes of the cluster (none for a single node), shared by every app.
    pub(crate) adapter: Arc<dyn Adapter>,
    pub(crate) counts: CountThrottle,
    /// REST requests in the current second.
    pub(crate) rest_rate: Limiter<()>,
    /// REST events waiting for fan-out, delivered in order by one task (started on first use).
    pub(crate) queue: OnceLock<mpsc::Sender<Delivery>>,
    /// Open connections, checked against `max_connections`.
    pub(crate) connections: AtomicUsize,
    /// What the debug console's watchers read.
    pub(crate) console: Console,
    /// This node's link to the others, when it is one node of a cluster.
    cluster: Option<Arc<Cluster>>,
}

impl App {
    pub(crate) fn new(
        config: &AppConfig,
        webhook_queue: usize,
        adapter: Arc<dyn Adapter>,
        cluster: Option<Arc<Cluster>>,
    ) -> Self {
        let metrics = Arc::new(Metrics::default());
        App {
            config: config.clone(),
            state: State::default(),
            webhooks: Webhooks::new(config, webhook_queue, metrics.clone()),
            metrics,
            adapter,
            counts: CountThrottle::default(),
            rest_rate: Limiter::default(),
            queue: OnceLock::new(),
            connections: AtomicUsize::new(0),
            console: Console::default(),
            cluster,
        }
    }

    /// Whether this node sends `channel`'s webhooks: always on a single node; in a cluster,
    /// when it owns the channel.
    pub(crate) fn reports(&self, channel: &str) -> bool {
        self.cluster.as_ref().is_none_or(|c| c.owns(channel))
    }

    /// Runs `f` on one node of the cluster only, once per `ttl` for `key` (at once on a
    /// single node): for webhooks that every node would otherwise send.
    pub(crate) fn once_in_cluster(
        &self,
        key: String,
        ttl: Duration,
        f: impl FnOnce() + Send + 'static,
    ) {
        match &self.cluster {
            None => f(),
            Some(cluster) => {
                let cluster = cluster.clone();
                tokio::spawn(async move {
                    if cluster.claim(&key, ttl).await {
                        f();
                    }
                });
            }
        }
    }

    /// Waits until this node knows every change the cluster made before now (at once on a
    /// single node): see [`Cluster::settle`].
    pub(crate) async fn settle(&self) {
        if let Some(cluster) = &self.cluster {
            cluster.settle().await;
        }
    }
}
