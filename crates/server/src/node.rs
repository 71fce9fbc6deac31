//! This node: its settings, its apps, and the signal that drains it.
//!
//! Every route of the server runs with a [`Node`] as its state; [`crate::Server`] is the
//! public handle on one.

use std::{
    collections::HashMap,
    net::IpAddr,
    sync::{atomic::AtomicU64, Arc},
};

use tokio_util::sync::CancellationToken;

use crate::{adapter::Adapter, app::App, cluster::Cluster, config::Config, limiter::Limiter};

#[derive(Debug)]
pub(crate) struct Node {
    pub(crate) config: Config,
    by_id: HashMap<String, Arc<App>>,
    by_key: HashMap<String, Arc<App>>,
    /// Cancelled when the server drains: every connection then closes with 4100.
    pub(crate) shutdown: CancellationToken,
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

    /// Every app, in no particular order.
    pub(crate) fn apps(&self) -> impl Iterator<Item = &Arc<App>> {
        self.by_id.values()
    }
}
