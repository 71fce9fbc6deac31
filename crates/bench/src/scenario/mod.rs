//! The scenarios, and the fleet of subscriber connections most of them share.

pub mod connections;
pub mod fan_out;
pub mod presence;
pub mod rest;
pub mod soak;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::conn::{Conn, Event, Sources};
use crate::record::{micros_since, Countdown, Latencies, Receipts};
use crate::report::Report;
use crate::target::Target;
use crate::BenchError;

/// Most connections one scenario opens: far past one machine's file limit, and a bound on the
/// bookkeeping allocated up front.
pub const MAX_CONNECTIONS: usize = 1_000_000;
/// Longest duration, drain or timeout a flag may ask for, in seconds (a day).
pub const MAX_SECONDS: u64 = 24 * 3600;
/// Highest trigger rate, per second.
pub const MAX_RATE: f64 = 100_000.0;
/// Receipt bits that all connections may hold together (256 MiB): connections × events.
const MAX_RECEIPT_BITS: u64 = 8 * 256 * 1024 * 1024;

pub(crate) fn check_connections(n: usize, flag: &str) -> Result<(), BenchError> {
    if n > MAX_CONNECTIONS {
        return Err(BenchError::Args(format!(
            "{flag} must be at most {MAX_CONNECTIONS}"
        )));
    }
    Ok(())
}

pub(crate) fn check_seconds(secs: u64, flag: &str) -> Result<(), BenchError> {
    if secs > MAX_SECONDS {
        return Err(BenchError::Args(format!(
            "{flag} must be at most {MAX_SECONDS} seconds"
        )));
    }
    Ok(())
}

/// Each connection keeps one bit per event it may receive; refuse runs whose bits would not
/// fit comfortably in memory.
pub(crate) fn check_receipts(connections: usize, events: u64) -> Result<(), BenchError> {
    if (connections as u64).saturating_mul(events) > MAX_RECEIPT_BITS {
        return Err(BenchError::Args(format!(
            "{connections} connections × {events} events is too much to track; \
             lower the connections, or the events (rate × duration, --max-events, --max-requests)"
        )));
    }
    Ok(())
}

/// `secs` from now, saturating instead of overflowing.
pub(crate) fn after(secs: u64) -> Instant {
    let now = Instant::now();
    now.checked_add(Duration::from_secs(secs.min(MAX_SECONDS)))
        .unwrap_or(now)
}

/// How client connections are opened; shared by every scenario.
#[derive(Debug, Clone, clap::Args)]
pub struct ClientArgs {
    /// Spread connections over this many source addresses (127.0.0.1, 127.0.0.2, …), each with
    /// its own ephemeral ports.
    #[arg(long, global = true, default_value_t = 8, value_parser = clap::value_parser!(u8).range(1..))]
    pub source_ips: u8,
    /// Connections being opened at once; more can overflow the server's accept backlog.
    #[arg(long, global = true, default_value_t = 64, value_parser = clap::value_parser!(u64).range(1..=4096))]
    pub connect_concurrency: u64,
    /// Seconds to wait for every connection to open and subscribe.
    #[arg(long, global = true, default_value_t = 120)]
    pub connect_timeout: u64,
}

impl Default for ClientArgs {
    fn default() -> Self {
        ClientArgs {
            source_ips: 8,
            connect_concurrency: 64,
            connect_timeout: 120,
        }
    }
}

/// What every scenario gets: the target, how to open connections, and where progress goes.
#[derive(Debug, Clone)]
pub struct Run {
    /// The server under test.
    pub target: Target,
    /// Connection options.
    pub client: ClientArgs,
    /// Whether to draw progress bars on stderr.
    pub progress: bool,
    /// Names channels so that two runs against one server never share a channel.
    pub tag: String,
}

impl Run {
    /// A run against `target` with default connection options and no progress bars.
    ///
    /// ```
    /// use pusherable_bench::{scenario::Run, Target};
    /// let target = Target::new("127.0.0.1", 6001, "1", "key", "secret")?;
    /// let run = Run::new(target);
    /// assert!(!run.progress);
    /// # Ok::<(), pusherable_bench::TargetError>(())
    /// ```
    pub fn new(target: Target) -> Self {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        Run {
            target,
            client: ClientArgs::default(),
            progress: false,
            tag: format!("{:x}{:x}", std::process::id(), nanos),
        }
    }

    pub(crate) fn bar(&self, len: u64, what: &str) -> ProgressBar {
        let target = if self.progress {
            ProgressDrawTarget::stderr()
        } else {
            ProgressDrawTarget::hidden()
        };
        let bar = ProgressBar::with_draw_target(Some(len), target);
        let style = ProgressStyle::with_template(
            "{prefix} {msg:<14} [{bar:30}] {pos}/{len} {per_sec:>10} {elapsed}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar());
        bar.set_style(style.progress_chars("=> "));
        bar.set_prefix(self.target.label.clone());
        bar.set_message(what.to_owned());
        bar
    }

    pub(crate) fn connect_deadline(&self) -> Instant {
        after(self.client.connect_timeout)
    }

    /// Memory and CPU time of the target's processes, summed; `None` without a pid.
    pub(crate) fn sample(&self, report: &mut Report) -> Option<crate::process::Sample> {
        match crate::process::sample_all(&self.target.pids) {
            Ok(s) => s,
            Err(e) => {
                report.note(e.to_string());
                None
            }
        }
    }
}

/// State every subscriber task shares with the scenario that started it.
struct Shared {
    /// Connections that opened and subscribed, or failed to: the scenario waits on this.
    settled: Countdown,
    /// Which connections are live, so that only their deliveries are expected.
    live: Vec<AtomicBool>,
    /// Set once the scenario stopped waiting for connections: one that opens later would miss
    /// the first events and count them as lost, so it gives up instead.
    closed: AtomicBool,
    /// Distinct deliveries of triggered events; the drain waits on this.
    delivered: Countdown,
    /// When the last delivery arrived, in microseconds since the epoch.
    last_delivery: AtomicU64,
    /// Trigger-to-delivery latency.
    latency: Latencies,
    /// Time from starting to connect until subscribed (or just connected).
    setup: Latencies,
    errors: Mutex<Vec<String>>,
    bar: ProgressBar,
}

impl Shared {
    fn error(&self, text: String) {
        if let Ok(mut errors) = self.errors.lock() {
            if errors.len() < 5 {
                errors.push(text);
            }
        }
    }
}

/// A fleet of connections that each subscribe to some channels and record every bench event.
pub(crate) struct Subscribers {
    shared: Arc<Shared>,
    tasks: JoinSet<(usize, Option<Receipts>)>,
    stop: CancellationToken,
    count: usize,
    started: Instant,
}

/// How the fleet ended.
pub(crate) struct Fleet {
    /// Receipts of each connection that opened, by connection index.
    pub(crate) receipts: Vec<(usize, Receipts)>,
    pub(crate) errors: Vec<String>,
}

impl Subscribers {
    /// Starts `count` connections; connection `i` subscribes to `channels(i)`, on the
    /// target's `i`-th node in turn.
    ///
    /// `seq_len` is how many sequence numbers the scenario may trigger; `epoch` is the clock
    /// that event payloads are stamped with.
    pub(crate) fn spawn(
        run: &Run,
        count: usize,
        channels: impl Fn(usize) -> Vec<String>,
        seq_len: u64,
        epoch: Instant,
    ) -> Self {
        let shared = Arc::new(Shared {
            settled: Countdown::new(Some(count as u64)),
            live: (0..count).map(|_| AtomicBool::new(false)).collect(),
            closed: AtomicBool::new(false),
            delivered: Countdown::new(None),
            last_delivery: AtomicU64::new(0),
            latency: Latencies::new(),
            setup: Latencies::new(),
            errors: Mutex::new(Vec::new()),
            bar: run.bar(count as u64, "connecting"),
        });
        let sources = Arc::new(Sources::new(&run.target, run.client.source_ips));
        let permits = Arc::new(Semaphore::new(
            usize::try_from(run.client.connect_concurrency).unwrap_or(64),
        ));
        let nodes: Vec<Arc<Target>> = (0..run.target.node_count())
            .map(|n| Arc::new(run.target.node(n)))
            .collect();
        let stop = CancellationToken::new();
        let mut tasks = JoinSet::new();
        for i in 0..count {
            let task = Subscriber {
                index: i,
                target: nodes[i % nodes.len()].clone(),
                sources: sources.clone(),
                permits: permits.clone(),
                channels: channels(i),
                shared: shared.clone(),
                stop: stop.clone(),
                seq_len,
                epoch,
            };
            tasks.spawn(task.run());
        }
        Subscribers {
            shared,
            tasks,
            stop,
            count,
            started: Instant::now(),
        }
    }

    /// Waits until every connection has subscribed or failed, or the deadline; returns (live,
    /// failed or late) and the time it took.
    pub(crate) async fn ready(&self, deadline: Instant) -> (u64, u64, Duration) {
        self.shared.settled.wait(self.count as u64, deadline).await;
        self.shared.closed.store(true, Ordering::SeqCst);
        let took = self.started.elapsed();
        self.shared.bar.finish_and_clear();
        // Connections still opening at the deadline count as failed: they give up on their own.
        let live = self.live_count();
        (live, self.count as u64 - live, took)
    }

    pub(crate) fn live_count(&self) -> u64 {
        self.shared
            .live
            .iter()
            .filter(|l| l.load(Ordering::SeqCst))
            .count() as u64
    }

    pub(crate) fn is_live(&self, i: usize) -> bool {
        self.shared
            .live
            .get(i)
            .is_some_and(|l| l.load(Ordering::SeqCst))
    }

    /// Waits until `goal` distinct deliveries arrived, or `deadline`; true if all arrived.
    pub(crate) async fn drained(&self, goal: u64, deadline: Instant) -> bool {
        self.shared.delivered.wait(goal, deadline).await
    }

    pub(crate) fn delivered(&self) -> u64 {
        self.shared.delivered.count()
    }

    pub(crate) fn last_delivery_micros(&self) -> u64 {
        self.shared.last_delivery.load(Ordering::SeqCst)
    }

    pub(crate) fn latency(&self) -> hdrhistogram::Histogram<u64> {
        self.shared.latency.merged()
    }

    pub(crate) fn setup(&self) -> hdrhistogram::Histogram<u64> {
        self.shared.setup.merged()
    }

    /// Closes every connection and collects what each received.
    pub(crate) async fn finish(mut self) -> Fleet {
        self.stop.cancel();
        let mut receipts = Vec::with_capacity(self.count);
        while let Some(done) = self.tasks.join_next().await {
            if let Ok((i, Some(r))) = done {
                receipts.push((i, r));
            }
        }
        receipts.sort_by_key(|(i, _)| *i);
        let errors = self
            .shared
            .errors
            .lock()
            .map(|e| e.clone())
            .unwrap_or_default();
        Fleet { receipts, errors }
    }
}

struct Subscriber {
    index: usize,
    /// The target as seen from the node this connection opens on.
    target: Arc<Target>,
    sources: Arc<Sources>,
    /// Held while connecting, to cap the connections being opened at once.
    permits: Arc<Semaphore>,
    channels: Vec<String>,
    shared: Arc<Shared>,
    stop: CancellationToken,
    seq_len: u64,
    epoch: Instant,
}

impl Subscriber {
    async fn run(self) -> (usize, Option<Receipts>) {
        let i = self.index;
        let mut receipts = Receipts::new(self.seq_len);
        let stop = self.stop.clone();
        let opened = tokio::select! {
            () = stop.cancelled() => None,
            opened = self.open(&mut receipts) => Some(opened),
        };
        let mut conn = match opened {
            Some(Ok(conn)) => conn,
            Some(Err(e)) => {
                self.shared.error(format!("connection {i}: {e}"));
                self.shared.settled.add(1);
                return (i, None);
            }
            None => return (i, None),
        };
        if let Some(live) = self.shared.live.get(i) {
            live.store(true, Ordering::SeqCst);
            if self.shared.closed.load(Ordering::SeqCst) {
                live.store(false, Ordering::SeqCst);
                self.shared
                    .error(format!("connection {i}: opened after the connect timeout"));
                return (i, None);
            }
        }
        self.shared.settled.add(1);
        self.shared.bar.inc(1);
        loop {
            let event = tokio::select! {
                () = stop.cancelled() => break,
                event = conn.next_event() => event,
            };
            match event {
                Ok(Some(Event::Bench(p))) => self.delivered(&mut receipts, p),
                Ok(Some(_)) => {}
                Ok(None) => {
                    self.shared
                        .error(format!("connection {i}: closed by the server"));
                    break;
                }
                Err(e) => {
                    self.shared.error(format!("connection {i}: {e}"));
                    break;
                }
            }
        }
        (i, Some(receipts))
    }

    async fn open(&self, receipts: &mut Receipts) -> Result<Conn, crate::conn::ConnError> {
        let _permit = self.permits.acquire().await;
        let started = Instant::now();
        let mut conn = Conn::open(&self.target, &self.sources).await?;
        for channel in &self.channels {
            conn.subscribe(channel, None, None).await?;
        }
        for _ in &self.channels {
            conn.until_subscribed(|event| {
                if let Event::Bench(p) = event {
                    self.delivered(receipts, p);
                }
            })
            .await?;
        }
        let micros = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX);
        self.shared.setup.record(self.index, micros);
        Ok(conn)
    }

    fn delivered(&self, receipts: &mut Receipts, p: crate::conn::Payload) {
        if receipts.record(p.s, self.seq_len) {
            let now = micros_since(self.epoch);
            self.shared
                .latency
                .record(self.index, now.saturating_sub(p.t));
            self.shared.last_delivery.fetch_max(now, Ordering::SeqCst);
            self.shared.delivered.add(1);
        }
    }
}
