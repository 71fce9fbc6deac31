//! Webhooks (PROTOCOL.md §6): what happened in an app, told to the app's own HTTP endpoints.
//!
//! Events wait in a bounded queue per receiver and are delivered by one task per receiver, in
//! order, with exponential back-off for up to five minutes. A full queue drops new events and
//! counts them. Nothing here ever waits on the WebSocket path: enqueueing is `try_send`.
//!
//! `channel_vacated` and `member_removed` wait three seconds; if the channel (or member) comes
//! back in that time, neither the removal nor the return is reported, so a page reload does not
//! show up as leave-and-join.

use std::{
    collections::HashMap,
    sync::{
        atomic::{AtomicU64, Ordering},
        Arc, Mutex, OnceLock, PoisonError,
    },
    time::{Duration, Instant, SystemTime, UNIX_EPOCH},
};

use pusherable_protocol::{
    sign,
    webhook::{Webhook, WebhookEvent as Event},
};
use tokio::sync::mpsc;

use crate::{config::WebhookConfig, metrics::Metrics};

/// Every webhook event kind.
pub(crate) const KINDS: [&str; 7] = [
    "channel_occupied",
    "channel_vacated",
    "member_added",
    "member_removed",
    "client_event",
    "cache_miss",
    "subscription_count",
];

/// How long removals wait for a quick return.
const REMOVAL_DELAY: Duration = Duration::from_secs(3);
/// How long a failing delivery is retried.
const RETRY_FOR: Duration = Duration::from_secs(5 * 60);
/// First retry delay; doubled after each failure, up to [`RETRY_MAX_DELAY`].
const RETRY_FIRST_DELAY: Duration = Duration::from_millis(500);
const RETRY_MAX_DELAY: Duration = Duration::from_secs(10);
/// Most events in one batched request.
const BATCH_MAX: usize = 50;
/// Cache misses of one channel are reported at most this often.
const CACHE_MISS_EVERY: Duration = Duration::from_secs(10);

/// One receiver and its queue.
#[derive(Debug)]
struct Target {
    config: WebhookConfig,
    /// Started on first use, inside the runtime that serves the app.
    queue: OnceLock<mpsc::Sender<Event>>,
}

impl Target {
    fn wants(&self, e: &Event) -> bool {
        let c = &self.config;
        let channel = e.channel().unwrap_or_default();
        (c.event_types.is_empty() || c.event_types.iter().any(|t| t == e.name()))
            && c.channel_prefix
                .as_deref()
                .is_none_or(|p| channel.starts_with(p))
            && c.channel_suffix
                .as_deref()
                .is_none_or(|s| channel.ends_with(s))
    }
}

/// What a delayed removal is about.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Removal {
    Vacated(String),
    Member(String, String),
}

/// The webhooks of one app.
#[derive(Debug)]
pub(crate) struct Webhooks {
    targets: Vec<Arc<Target>>,
    key: String,
    secret: String,
    batching: bool,
    queue_len: usize,
    metrics: Arc<Metrics>,
    /// Removals waiting out their delay, with the generation that may still send them.
    pending: Mutex<HashMap<Removal, u64>>,
    generation: AtomicU64,
    cache_misses: Mutex<HashMap<String, Instant>>,
    http: reqwest::Client,
}

impl Webhooks {
    pub(crate) fn new(
        app: &crate::AppConfig,
        queue_len: usize,
        metrics: Arc<Metrics>,
    ) -> Option<Arc<Self>> {
        if app.webhooks.is_empty() {
            return None;
        }
        let targets = app
            .webhooks
            .iter()
            .map(|config| {
                Arc::new(Target {
                    config: config.clone(),
                    queue: OnceLock::new(),
                })
            })
            .collect();
        Some(Arc::new(Webhooks {
            targets,
            key: app.key.clone(),
            secret: app.secret.clone(),
            batching: app.webhook_batching,
            queue_len: queue_len.max(1),
            metrics,
            pending: Mutex::default(),
            generation: AtomicU64::new(0),
            cache_misses: Mutex::default(),
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(10))
                .build()
                .unwrap_or_default(),
        }))
    }

    fn send(self: &Arc<Self>, event: &Event) {
        for target in self.targets.iter().filter(|t| t.wants(event)) {
            let queue = target.queue.get_or_init(|| {
                let (tx, rx) = mpsc::channel(self.queue_len);
                tokio::spawn(deliver(self.clone(), target.clone(), rx));
                tx
            });
            if queue.try_send(event.clone()).is_err() {
                Metrics::add(&self.metrics.webhooks_dropped, 1);
                tracing::warn!(url = %target.config.url, "webhook queue full; event dropped");
            }
        }
    }

    /// Cancels a pending removal; true if there was one.
    fn cancel(&self, removal: &Removal) -> bool {
        self.pending
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(removal)
            .is_some()
    }

    fn delay(self: &Arc<Self>, removal: Removal, event: Event) {
        let generation = self.generation.fetch_add(1, Ordering::Relaxed);
        self.pending
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(removal.clone(), generation);
        let hooks = self.clone();
        tokio::spawn(async move {
            tokio::time::sleep(REMOVAL_DELAY).await;
            let still = {
                let mut pending = hooks.pending.lock().unwrap_or_else(PoisonError::into_inner);
                if pending.get(&removal) == Some(&generation) {
                    pending.remove(&removal);
                    true
                } else {
                    false
                }
            };
            if still {
                hooks.send(&event);
            }
        });
    }

    pub(crate) fn channel_occupied(self: &Arc<Self>, channel: &str) {
        if !self.cancel(&Removal::Vacated(channel.to_owned())) {
            self.send(&Event::ChannelOccupied {
                channel: channel.to_owned(),
            });
        }
    }

    pub(crate) fn channel_vacated(self: &Arc<Self>, channel: &str) {
        self.delay(
            Removal::Vacated(channel.to_owned()),
            Event::ChannelVacated {
                channel: channel.to_owned(),
            },
        );
    }

    pub(crate) fn member_added(self: &Arc<Self>, channel: &str, user_id: &str) {
        if !self.cancel(&Removal::Member(channel.to_owned(), user_id.to_owned())) {
            self.send(&Event::MemberAdded {
                channel: channel.to_owned(),
                user_id: user_id.to_owned(),
            });
        }
    }

    pub(crate) fn member_removed(self: &Arc<Self>, channel: &str, user_id: &str) {
        let e = Event::MemberRemoved {
            channel: channel.to_owned(),
            user_id: user_id.to_owned(),
        };
        self.delay(Removal::Member(channel.to_owned(), user_id.to_owned()), e);
    }

    pub(crate) fn client_event(
        self: &Arc<Self>,
        channel: &str,
        event: &str,
        data: &str,
        socket_id: &str,
        user_id: Option<&str>,
    ) {
        self.send(&Event::ClientEvent {
            channel: channel.to_owned(),
            event: event.to_owned(),
            data: data.to_owned(),
            socket_id: socket_id.to_owned(),
            user_id: user_id.map(str::to_owned),
        });
    }

    pub(crate) fn cache_miss(self: &Arc<Self>, channel: &str) {
        let now = Instant::now();
        {
            let mut seen = self
                .cache_misses
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            if seen
                .get(channel)
                .is_some_and(|t| now.duration_since(*t) < CACHE_MISS_EVERY)
            {
                return;
            }
            if seen.len() > 10_000 {
                seen.retain(|_, t| now.duration_since(*t) < CACHE_MISS_EVERY);
            }
            seen.insert(channel.to_owned(), now);
        }
        self.send(&Event::CacheMiss {
            channel: channel.to_owned(),
        });
    }

    pub(crate) fn subscription_count(self: &Arc<Self>, channel: &str, count: usize) {
        self.send(&Event::SubscriptionCount {
            channel: channel.to_owned(),
            subscription_count: count as u64,
        });
    }
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// Delivers one receiver's events in order until its queue closes.
async fn deliver(hooks: Arc<Webhooks>, target: Arc<Target>, mut rx: mpsc::Receiver<Event>) {
    let mut batch = Vec::new();
    while let Some(first) = rx.recv().await {
        batch.clear();
        batch.push(first);
        if hooks.batching {
            while batch.len() < BATCH_MAX {
                match rx.try_recv() {
                    Ok(e) => batch.push(e),
                    Err(_) => break,
                }
            }
        }
        post_with_retries(&hooks, &target.config.url, &batch).await;
    }
}

async fn post_with_retries(hooks: &Webhooks, url: &str, events: &[Event]) {
    let mut hook = Webhook {
        time_ms: 0,
        events: events.to_vec(),
    };
    let started = Instant::now();
    let mut delay = RETRY_FIRST_DELAY;
    loop {
        // Each attempt is a new request: stamped and signed when it is made, so that a receiver
        // that checks freshness accepts a late retry too.
        hook.time_ms = now_ms();
        let Ok(body) = serde_json::to_vec(&hook) else {
            return;
        };
        let signature = sign::webhook_signature(&hooks.secret, &body);
        let result = hooks
            .http
            .post(url)
            .header("Content-Type", "application/json")
            .header("X-Pusher-Key", &hooks.key)
            .header("X-Pusher-Signature", signature)
            .body(body)
            .send()
            .await;
        match result {
            Ok(resp) if resp.status().is_success() => {
                Metrics::add(&hooks.metrics.webhooks_sent, 1);
                return;
            }
            Ok(resp) => {
                tracing::warn!(%url, status = %resp.status(), "webhook refused; will retry")
            }
            Err(e) => tracing::warn!(%url, error = %e, "webhook failed; will retry"),
        }
        Metrics::add(&hooks.metrics.webhooks_failed, 1);
        if started.elapsed() + delay > RETRY_FOR {
            Metrics::add(&hooks.metrics.webhooks_dropped, events.len() as u64);
            tracing::error!(%url, "webhook given up after five minutes of retries");
            return;
        }
        tokio::time::sleep(delay).await;
        delay = (delay * 2).min(RETRY_MAX_DELAY);
    }
}
