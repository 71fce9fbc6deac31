//! This node: its settings, its apps, and the signal that drains it.
//!
//! Every route of the server runs with a [`Node`] as its state; [`crate::Server`] is the
//! public handle on one.

use std::{
    collections::HashMap,
    net::IpAddr,
    pin::pin,
    sync::{
        atomic::{AtomicU64, AtomicUsize, Ordering},
        Arc,
    },
};

use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::{adapter::Adapter, app::App, cluster::Cluster, config::Config, limiter::Limiter};

#[derive(Debug)]
pub(crate) struct Node {
    pub(crate) config: Config,
    by_id: HashMap<String, Arc<App>>,
    by_key: HashMap<String, Arc<App>>,
    /// Cancelled when the server drains: every connection then closes with 4100.
    pub(crate) shutdown: CancellationToken,
    /// Open WebSocket connections of every app: what a drain waits to see fall to 0.
    open: AtomicUsize,
    /// Woken when the last open connection closes, so that a drain needs no polling.
    idle: Notify,
    /// Source of the state's internal connection ids.
    pub(crate) next_peer: AtomicU64,
    /// Connection attempts per IP address in the current second.
    pub(crate) attempts: Limiter<IpAddr>,
    /// This node's link to the others, when it is one node of a cluster.
    pub(crate) cluster: Option<Arc<Cluster>>,
}

impl Node {
    /// A node for `config`'s apps, which were checked already.
    pub(crate) fn new(
        config: Config,
        adapter: &Arc<dyn Adapter>,
        cluster: Option<Arc<Cluster>>,
    ) -> Self {
        let apps: Vec<Arc<App>> = config
            .apps
            .iter()
            .map(|c| {
                let app = App::new(c, config.webhook_queue, adapter.clone(), cluster.clone());
                Arc::new(app)
            })
            .collect();
        let by_id = apps
            .iter()
            .map(|a| (a.config.id.clone(), a.clone()))
            .collect();
        let by_key = apps
            .iter()
            .map(|a| (a.config.key.clone(), a.clone()))
            .collect();
        Node {
            config,
            by_id,
            by_key,
            shutdown: CancellationToken::new(),
            open: AtomicUsize::new(0),
            idle: Notify::new(),
            next_peer: AtomicU64::new(1),
            attempts: Limiter::default(),
            cluster,
        }
    }

    pub(crate) fn app_by_id(&self, id: &str) -> Option<&Arc<App>> {
        self.by_id.get(id)
    }

    pub(crate) fn app_by_key(&self, key: &str) -> Option<&Arc<App>> {
        self.by_key.get(key)
    }

    /// Counts a connection as open until [`Node::closed`].
    pub(crate) fn opened(&self) {
        self.open.fetch_add(1, Ordering::AcqRel);
    }

    /// Counts a connection as closed, and wakes a drain that waits for the last one.
    pub(crate) fn closed(&self) {
        if self.open.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.idle.notify_waiters();
        }
    }

    /// Open connections of every app.
    pub(crate) fn open_connections(&self) -> usize {
        self.open.load(Ordering::Acquire)
    }

    /// Completes once no connection is open.
    pub(crate) async fn idle(&self) {
        loop {
            let mut woken = pin!(self.idle.notified());
            // Registered before the count is read: a close in between still wakes it.
            woken.as_mut().enable();
            if self.open_connections() == 0 {
                return;
            }
            woken.await;
        }
    }

    /// Every app, in no particular order.
    pub(crate) fn apps(&self) -> impl Iterator<Item = &Arc<App>> {
        self.by_id.values()
    }
}
