//! The trigger queue: bounded, drained by one background task that sends a few events at a
//! time, each with a deadline. Requests only ever `try_send` into it, so a slow or dead backend
//! costs a page nothing; what does not fit is dropped and counted.

use std::{
    sync::{
        atomic::{AtomicU64, Ordering::Relaxed},
        Arc,
    },
    time::Duration,
};

use http::request::Parts;
use pusherable_protocol::limits::EVENT_DATA_MAX;
use tokio::sync::{mpsc, watch, Semaphore};

use crate::{
    access::{Access, Profile},
    backend::Backend,
    breaker::{Breaker, Failed},
    model::Payload,
    notify::Event,
};

/// The events of one response (or one [`Realtime::send`](crate::Realtime::send)), sent with the
/// same acting user.
pub(crate) struct Job {
    pub(crate) events: Vec<Arc<Event>>,
    pub(crate) user: Actor,
    /// The connection that caused the events (`X-Socket-ID`), which does not receive them.
    pub(crate) except: Option<String>,
}

/// Who acted: found from the request in the background, or given.
pub(crate) enum Actor {
    Request(Box<Parts>),
    Known(Option<Profile>),
}

/// Settings of the queue and its task.
#[derive(Debug, Clone)]
pub(crate) struct Settings {
    pub(crate) capacity: usize,
    pub(crate) concurrency: usize,
    pub(crate) timeout: Duration,
    /// How long a backend that failed several events in a row is left alone.
    pub(crate) failure_pause: Duration,
}

/// What the task shares with every handle.
pub(crate) struct Core<A> {
    pub(crate) access: A,
    pub(crate) backend: Backend,
    pub(crate) counters: Counters,
    pub(crate) breaker: Breaker,
    pub(crate) settings: Settings,
}

/// Counts of what happened to events, readable at any time through [`Stats`].
pub(crate) struct Counters {
    sent: AtomicU64,
    failed: AtomicU64,
    dropped: AtomicU64,
    /// Jobs taken into the queue; [`Counters::done`] catches up with it.
    accepted: AtomicU64,
    /// Jobs finished (sent, failed or dropped), watched by `flush`.
    done: watch::Sender<u64>,
}

/// What the web layer has done with events since it started.
///
/// ```
/// # #[cfg(feature = "embedded")] {
/// # use pusherable::__doc::NoOne;
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// let realtime = pusherable::Realtime::embedded(NoOne)?;
/// let stats = realtime.stats();
/// assert_eq!((stats.sent, stats.failed, stats.dropped, stats.pending), (0, 0, 0, 0));
/// # Ok::<(), pusherable::BuildError>(()) }).unwrap();
/// # }
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    /// Events the backend took.
    pub sent: u64,
    /// Events that failed: the backend refused them or did not answer in time, the acting
    /// user could not be found in time, the notification itself was invalid, or the backend
    /// had failed several events in a row and was being left alone for a pause. Failures are
    /// logged with `tracing` at warn level, but for those of a pause, which are logged once.
    pub failed: u64,
    /// Events dropped because the queue was full.
    pub dropped: u64,
    /// Responses whose events are queued or being sent.
    pub pending: u64,
}

impl Counters {
    pub(crate) fn new() -> Self {
        Counters {
            sent: AtomicU64::new(0),
            failed: AtomicU64::new(0),
            dropped: AtomicU64::new(0),
            accepted: AtomicU64::new(0),
            done: watch::Sender::new(0),
        }
    }

    pub(crate) fn stats(&self) -> Stats {
        let accepted = self.accepted.load(Relaxed);
        let done = *self.done.borrow();
        Stats {
            sent: self.sent.load(Relaxed),
            failed: self.failed.load(Relaxed),
            dropped: self.dropped.load(Relaxed),
            pending: accepted.saturating_sub(done),
        }
    }

    pub(crate) fn fail(&self, n: u64) {
        self.failed.fetch_add(n, Relaxed);
    }

    fn finish_job(&self) {
        self.done.send_modify(|d| *d += 1);
    }

    /// Waits until every job accepted before the call has finished.
    pub(crate) async fn flush(&self) {
        let target = self.accepted.load(Relaxed);
        let mut done = self.done.subscribe();
        // The sender lives as long as `self`, so this only ends when the count is reached.
        let _ = done.wait_for(|d| *d >= target).await;
    }
}

/// Queues `job` without waiting; false (and counted as dropped) when the queue is full.
pub(crate) fn offer<A>(core: &Core<A>, queue: &mpsc::Sender<Job>, job: Job) -> bool {
    let n = job.events.len() as u64;
    core.counters.accepted.fetch_add(1, Relaxed);
    match queue.try_send(job) {
        Ok(()) => true,
        Err(_) => {
            core.counters.dropped.fetch_add(n, Relaxed);
            core.counters.finish_job();
            tracing::warn!(
                events = n,
                capacity = core.settings.capacity,
                "realtime queue full: events dropped"
            );
            false
        }
    }
}

/// The background task: runs until every handle is gone and the queue is empty.
pub(crate) async fn run<A: Access>(core: Arc<Core<A>>, mut queue: mpsc::Receiver<Job>) {
    let slots = Arc::new(Semaphore::new(core.settings.concurrency.max(1)));
    loop {
        let Ok(slot) = slots.clone().acquire_owned().await else {
            break;
        };
        let Some(job) = queue.recv().await else {
            break;
        };
        let core = core.clone();
        tokio::spawn(async move {
            // Counts the job as finished however the task ends, so `flush` never hangs.
            let _finished = Finished(&core.counters);
            let total = job.events.len() as u64;
            let mut handled = 0u64;
            let on_time =
                tokio::time::timeout(core.settings.timeout, deliver(&core, &job, &mut handled))
                    .await;
            if on_time.is_err() {
                core.counters.fail(total - handled);
                let error = format!("not sent within {:?}", core.settings.timeout);
                backend_failed(&core, total - handled, &error);
            }
            drop(slot);
        });
    }
}

struct Finished<'a>(&'a Counters);

impl Drop for Finished<'_> {
    fn drop(&mut self) {
        self.0.finish_job();
    }
}

async fn deliver<A: Access>(core: &Core<A>, job: &Job, handled: &mut u64) {
    let user = match &job.user {
        Actor::Known(profile) => profile.as_ref().map(Profile::to_json),
        Actor::Request(parts) => core
            .access
            .user(parts)
            .await
            .map(|user| core.access.profile(&user).to_json()),
    };
    for event in &job.events {
        let result = send(core, event, user.as_ref(), job.except.as_deref()).await;
        *handled += 1;
        match result {
            Ok(()) => {
                core.counters.sent.fetch_add(1, Relaxed);
                if core.breaker.success() {
                    tracing::info!("realtime backend answers again");
                }
            }
            Err(Unsent::Paused) => core.counters.fail(1),
            Err(Unsent::Invalid(error)) => {
                core.counters.fail(1);
                tracing::warn!(
                    channel = %event.channel,
                    event = %event.name,
                    %error,
                    "realtime event not sent"
                );
            }
            Err(Unsent::Backend(error)) => {
                core.counters.fail(1);
                backend_failed(core, 1, &error);
            }
        }
    }
}

/// Why one event was not sent.
enum Unsent {
    /// The event itself is at fault (too large, unserializable): logged each time.
    Invalid(String),
    /// The backend failed: logged until the breaker opens.
    Backend(String),
    /// The breaker is open: not even tried.
    Paused,
}

/// Counts a backend failure with the breaker and logs what is worth a line.
fn backend_failed<A>(core: &Core<A>, events: u64, error: &str) {
    match core.breaker.failure(std::time::Instant::now()) {
        Failed::Log => tracing::warn!(events, %error, "realtime events not sent"),
        Failed::Opened { skipped } => tracing::warn!(
            events,
            %error,
            skipped,
            pause = ?core.settings.failure_pause,
            "realtime backend keeps failing: events fail without being sent for a pause"
        ),
        Failed::Quiet => {}
    }
}

async fn send<A>(
    core: &Core<A>,
    event: &Event,
    user: Option<&serde_json::Value>,
    except: Option<&str>,
) -> Result<(), Unsent> {
    let data = serde_json::to_string(&Payload {
        object: &event.object,
        user,
    })
    .map_err(|e| Unsent::Invalid(e.to_string()))?;
    if data.len() > EVENT_DATA_MAX {
        return Err(Unsent::Invalid(format!(
            "the payload is {} bytes, over the limit of {EVENT_DATA_MAX}: leave fields out with #[pusherable(exclude(...))]",
            data.len()
        )));
    }
    if !core.breaker.allow(std::time::Instant::now()) {
        return Err(Unsent::Paused);
    }
    core.backend
        .send(event.channel.name(), &event.name, &data, except)
        .await
        .map_err(|e| Unsent::Backend(e.to_string()))
}
