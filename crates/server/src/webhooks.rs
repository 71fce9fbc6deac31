//! Webhooks (PROTOCOL.md §6): what happened in an app, told to the app's own HTTP endpoints.
//!
//! Events wait in a bounded queue per receiver and are delivered by one task per receiver, in
//! order, retried with exponential back-off and jitter for up to five minutes. A full queue
//! drops new events and counts them; the log says when dropping starts and when it stops, not
//! once per event. Nothing here ever waits on the WebSocket path: enqueueing is `try_send`.
//!
//! `channel_vacated` and `member_removed` wait three seconds; if the channel (or member) comes
//! back in that time, neither the removal nor the return is reported, so a page reload does not
//! show up as leave-and-join. One timer task per app serves every waiting removal, from a queue
//! bounded like the receivers' (`webhook_queue`); past it, a removal is sent at once.

use std::{
    collections::{HashMap, VecDeque},
    sync::{
        atomic::{AtomicU64, Ordering},
        Arc, Mutex, OnceLock, PoisonError, Weak,
    },
    time::{Duration, Instant, SystemTime, UNIX_EPOCH},
};

use pusherable_protocol::{
    sign,
    webhook::{Webhook, WebhookEvent as Event},
};
use rand::Rng as _;
use tokio::sync::{mpsc, Notify};

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
/// Cache misses of one channel are reported at most this often (by one node of a cluster).
pub(crate) const CACHE_MISS_EVERY: Duration = Duration::from_secs(10);
/// Channels whose last cache miss is remembered, at most.
const CACHE_MISS_CHANNELS: usize = 10_000;

/// One receiver and its queue.
#[derive(Debug)]
struct Target {
    config: WebhookConfig,
    /// Started on first use, inside the runtime that serves the app.
    queue: OnceLock<mpsc::Sender<Event>>,
    /// Events dropped since the queue last had room.
    dropping: Burst,
    /// Attempts failed since the receiver last answered.
    failing: Burst,
}

/// Counts one kind of trouble while it lasts, so that a flood is logged when it starts and
/// when it ends rather than once per event.
#[derive(Debug, Default)]
struct Burst(AtomicU64);

impl Burst {
    /// Counts one; true for the first of a burst.
    fn hit(&self) -> bool {
        self.0.fetch_add(1, Ordering::Relaxed) == 0
    }

    /// Ends the burst, if one is on: how many it counted.
    fn end(&self) -> u64 {
        // Read first: the common case, no burst, writes nothing shared.
        if self.0.load(Ordering::Relaxed) == 0 {
            return 0;
        }
        self.0.swap(0, Ordering::Relaxed)
    }
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

/// A removal waiting out [`REMOVAL_DELAY`].
#[derive(Debug)]
struct Waiting {
    due: tokio::time::Instant,
    removal: Removal,
    generation: u64,
    event: Event,
}

/// The removals waiting out their delay.
#[derive(Debug, Default)]
struct Delayed {
    /// The generation that may still send each removal; a quick return takes it out.
    pending: HashMap<Removal, u64>,
    /// Every waiting removal, oldest first. All wait the same delay, so this is also the
    /// order they are due in; one returned early stays until due, then is skipped.
    queue: VecDeque<Waiting>,
    generation: u64,
}

/// The webhooks of one app.
#[derive(Debug)]
pub(crate) struct Webhooks {
    targets: Vec<Arc<Target>>,
    key: String,
    secret: String,
    batching: bool,
    /// Events that may wait per receiver, and removals that may wait out their delay.
    queue_len: usize,
    metrics: Arc<Metrics>,
    delayed: Mutex<Delayed>,
    /// Wakes the timer task when a removal arrives at an empty queue (or the app goes away).
    timer_wake: Arc<Notify>,
    /// The timer task, started with the first removal, inside the runtime that serves the app.
    timer: OnceLock<()>,
    /// Removals sent without their delay since the queue last had room.
    undelayed: Burst,
    cache_misses: Mutex<HashMap<String, Instant>>,
    http: reqwest::Client,
}

impl Drop for Webhooks {
    fn drop(&mut self) {
        // The timer task holds only a weak reference; woken, it sees the app is gone.
        self.timer_wake.notify_one();
    }
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
                    dropping: Burst::default(),
                    failing: Burst::default(),
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
            delayed: Mutex::default(),
            timer_wake: Arc::new(Notify::new()),
            timer: OnceLock::new(),
            undelayed: Burst::default(),
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
            let url = &target.config.url;
            if queue.try_send(event.clone()).is_err() {
                Metrics::add(&self.metrics.webhooks_dropped, 1);
                if target.dropping.hit() {
                    tracing::warn!(%url, "webhook queue full; dropping events until it has room");
                }
            } else {
                let dropped = target.dropping.end();
                if dropped > 0 {
                    tracing::warn!(%url, dropped, "webhook queue has room again");
                }
            }
        }
    }

    /// Cancels a pending removal; true if there was one.
    fn cancel(&self, removal: &Removal) -> bool {
        self.delayed
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .pending
            .remove(removal)
            .is_some()
    }

    /// Sends `event` after [`REMOVAL_DELAY`] unless `removal` is cancelled first; at once if
    /// too many removals wait already.
    fn delay(self: &Arc<Self>, removal: Removal, event: Event) {
        let mut delayed = self.delayed.lock().unwrap_or_else(PoisonError::into_inner);
        if delayed.queue.len() >= self.queue_len {
            drop(delayed);
            // Better early than never: the receiver hears of the removal, and of a quick
            // return as a new arrival.
            Metrics::add(&self.metrics.webhook_removals_undelayed, 1);
            if self.undelayed.hit() {
                tracing::warn!("too many webhook removals waiting; sending them undelayed");
            }
            self.send(&event);
            return;
        }
        delayed.generation += 1;
        let generation = delayed.generation;
        delayed.pending.insert(removal.clone(), generation);
        let was_empty = delayed.queue.is_empty();
        delayed.queue.push_back(Waiting {
            due: tokio::time::Instant::now() + REMOVAL_DELAY,
            removal,
            generation,
            event,
        });
        drop(delayed);
        let undelayed = self.undelayed.end();
        if undelayed > 0 {
            tracing::warn!(undelayed, "webhook removals wait out their delay again");
        }
        self.timer.get_or_init(|| {
            tokio::spawn(removal_timer(Arc::downgrade(self), self.timer_wake.clone()));
        });
        // Later removals are due later: only an empty queue needs the timer woken.
        if was_empty {
            self.timer_wake.notify_one();
        }
    }

    /// Takes the removals due by `now` that nothing cancelled; and when the next is due.
    fn take_due(&self, now: tokio::time::Instant) -> (Vec<Event>, Option<tokio::time::Instant>) {
        let mut delayed = self.delayed.lock().unwrap_or_else(PoisonError::into_inner);
        let mut due = Vec::new();
        while delayed.queue.front().is_some_and(|w| w.due <= now) {
            let Some(w) = delayed.queue.pop_front() else {
                break;
            };
            if delayed.pending.get(&w.removal) == Some(&w.generation) {
                delayed.pending.remove(&w.removal);
                due.push(w.event);
            }
        }
        (due, delayed.queue.front().map(|w| w.due))
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

    /// Whether a cache miss of `channel` is due for reporting: at most once per
    /// [`CACHE_MISS_EVERY`] per channel on this node. Records it when it is.
    pub(crate) fn cache_miss_due(&self, channel: &str) -> bool {
        let now = Instant::now();
        let mut seen = self
            .cache_misses
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if seen
            .get(channel)
            .is_some_and(|t| now.duration_since(*t) < CACHE_MISS_EVERY)
        {
            return false;
        }
        if seen.len() >= CACHE_MISS_CHANNELS {
            seen.retain(|_, t| now.duration_since(*t) < CACHE_MISS_EVERY);
            if seen.len() >= CACHE_MISS_CHANNELS {
                // All recent: forgetting them costs at most a repeated webhook each.
                seen.clear();
            }
        }
        seen.insert(channel.to_owned(), now);
        true
    }

    /// Reports a cache miss that [`Webhooks::cache_miss_due`] let through.
    pub(crate) fn cache_miss(self: &Arc<Self>, channel: &str) {
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

/// Sends each delayed removal when it is due, until the app's webhooks are gone.
async fn removal_timer(hooks: Weak<Webhooks>, wake: Arc<Notify>) {
    loop {
        let next = {
            let Some(hooks) = hooks.upgrade() else {
                return;
            };
            let (due, next) = hooks.take_due(tokio::time::Instant::now());
            for event in &due {
                hooks.send(event);
            }
            next
        };
        match next {
            Some(at) => {
                tokio::select! {
                    () = tokio::time::sleep_until(at) => {}
                    () = wake.notified() => {}
                }
            }
            None => wake.notified().await,
        }
    }
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
        post_with_retries(&hooks, &target, &batch).await;
    }
}

/// The wait before a retry, for a back-off `step`: a random point in its second half, so that
/// the retries of many servers (or receivers) do not keep arriving together.
fn jittered(step: Duration) -> Duration {
    let half = step / 2;
    let ms = u64::try_from(half.as_millis()).unwrap_or(u64::MAX);
    half + Duration::from_millis(rand::rng().random_range(0..=ms))
}

async fn post_with_retries(hooks: &Webhooks, target: &Target, events: &[Event]) {
    let url = target.config.url.as_str();
    let mut hook = Webhook {
        time_ms: 0,
        events: events.to_vec(),
    };
    let started = Instant::now();
    let mut step = RETRY_FIRST_DELAY;
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
        let failure = match result {
            Ok(resp) if resp.status().is_success() => {
                Metrics::add(&hooks.metrics.webhooks_sent, 1);
                let failed = target.failing.end();
                if failed > 0 {
                    tracing::info!(%url, failed, "webhook receiver answers again");
                }
                return;
            }
            Ok(resp) => format!("answered {}", resp.status()),
            Err(e) => e.to_string(),
        };
        Metrics::add(&hooks.metrics.webhooks_failed, 1);
        // Once per outage: a receiver that is down fails every attempt of every event.
        if target.failing.hit() {
            tracing::warn!(%url, %failure, "webhook receiver failing; retrying with back-off");
        } else {
            tracing::debug!(%url, %failure, "webhook attempt failed");
        }
        let wait = jittered(step);
        if started.elapsed() + wait > RETRY_FOR {
            Metrics::add(&hooks.metrics.webhooks_dropped, events.len() as u64);
            tracing::error!(%url, "webhook given up after five minutes of retries");
            return;
        }
        tokio::time::sleep(wait).await;
        step = (step * 2).min(RETRY_MAX_DELAY);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_wait_a_random_part_of_each_step() {
        let step = Duration::from_secs(8);
        let waits: Vec<Duration> = (0..64).map(|_| jittered(step)).collect();
        assert!(
            waits.iter().all(|w| (step / 2..=step).contains(w)),
            "{waits:?}"
        );
        assert!(waits.iter().any(|w| *w != waits[0]), "not all the same");
    }

    #[test]
    fn a_burst_is_told_once_and_counted() {
        let b = Burst::default();
        assert_eq!(b.end(), 0);
        assert!(b.hit());
        assert!(!b.hit());
        assert!(!b.hit());
        assert_eq!(b.end(), 3);
        assert_eq!(b.end(), 0);
        assert!(b.hit(), "a new burst is told again");
    }
}
