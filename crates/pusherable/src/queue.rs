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
}

/// What the task shares with every handle.
pub(crate) struct Core<A> {
    pub(crate) access: A,
    pub(crate) backend: Backend,
    pub(crate) counters: Counters,
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
    /// user could not be found in time, or the notification itself was invalid. Each is logged
    /// with `tracing` at warn level.
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
                tracing::warn!(
                    events = total - handled,
                    timeout = ?core.settings.timeout,
                    "realtime events not sent in time"
                );
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
            }
            Err(error) => {
                core.counters.fail(1);
                tracing::warn!(
                    channel = %event.channel,
                    event = %event.name,
                    %error,
                    "realtime event not sent"
                );
            }
        }
    }
}

async fn send<A>(
    core: &Core<A>,
    event: &Event,
    user: Option<&serde_json::Value>,
    except: Option<&str>,
) -> Result<(), String> {
    let data = serde_json::to_string(&Payload {
        object: &event.object,
        user,
    })
    .map_err(|e| e.to_string())?;
    if data.len() > EVENT_DATA_MAX {
        return Err(format!(
            "the payload is {} bytes, over the limit of {EVENT_DATA_MAX}: leave fields out with #[pusherable(exclude(...))]",
            data.len()
        ));
    }
    core.backend
        .send(event.channel.name(), &event.name, &data, except)
        .await
        .map_err(|e| e.to_string())
}
