//! One app at run time: its settings, its state on this node, and what serves its events.

use std::sync::{atomic::AtomicUsize, Arc, OnceLock};

use tokio::sync::mpsc;

use crate::{
    adapter::{Adapter, Delivery},
    config::AppConfig,
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
}

impl App {
    pub(crate) fn new(config: &AppConfig, webhook_queue: usize, adapter: Arc<dyn Adapter>) -> Self {
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
        }
    }
}
