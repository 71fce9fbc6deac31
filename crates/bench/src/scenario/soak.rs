//! Soak: hold many connections for a long time under steady traffic and churn, read the
//! server's memory and CPU at a fixed period, and say whether memory ended flat.
//!
//! Each connection is one task that lives for the whole run. Most sit on one of a pool of
//! public channels and, now and then, move to another (unsubscribe, subscribe) or close and
//! open again; a share are presence members that join and leave with a new user id each time,
//! so every kind of state the server keeps (connections, subscriptions, channels that empty
//! and fill again, presence members) is made and dropped over and over. Meanwhile events are
//! triggered over REST at a steady rate to a share of the channels.
//!
//! **Memory is flat** when the server's mean resident memory over the last third of the
//! readings is at most `--max-growth-percent` above its mean over the middle third. The first
//! third is left out: connections, channel maps and the allocator's pools are still settling.
//! A leak of a fixed size per connection, subscription or member grows memory steadily under
//! churn, and shows as the last third above the middle one.
//!
//! Deliveries are counted, not checked one by one: connections move between channels, so which
//! events each should get is not fixed (`fan-out` checks every delivery).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use pusherable_protocol::limits::{PRESENCE_MEMBERS_MAX, TRIGGER_CHANNELS_MAX};
use serde::Serialize;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tokio::time::{Instant, MissedTickBehavior};
use tokio_util::sync::CancellationToken;

use super::{after, check_connections, Run, MAX_RATE, MAX_SECONDS};
use crate::conn::{Conn, ConnError, Event, Payload, Sources, BENCH_EVENT};
use crate::process::Sample;
use crate::record::{micros_since, per_second, Countdown};
use crate::report::{Reading, Report};
use crate::target::Target;
use crate::trigger::Trigger;
use crate::BenchError;

/// Options of the `soak` scenario.
#[derive(Debug, Clone, clap::Args, Serialize)]
pub struct SoakArgs {
    /// Connections held open for the whole run (some closing and opening again all the time).
    #[arg(short, long, default_value_t = 10_000)]
    pub connections: usize,
    /// Minutes of traffic and churn, once every connection is open.
    #[arg(short, long, default_value_t = 30)]
    pub minutes: u64,
    /// Seconds between two readings of the server.
    #[arg(long, default_value_t = 60)]
    pub sample_every: u64,
    /// Public channels the connections are spread over.
    #[arg(long, default_value_t = 2_000)]
    pub channels: usize,
    /// REST triggers per second.
    #[arg(short, long, default_value_t = 20.0)]
    pub rate: f64,
    /// Channels each trigger names, taken in turn from the pool (1 to 100).
    #[arg(long, default_value_t = 10)]
    pub channels_per_trigger: usize,
    /// Share of the connections that close and open again, per minute, in percent.
    #[arg(long, default_value_t = 10.0)]
    pub reconnect_percent: f64,
    /// Share of the connections that move to another channel, per minute, in percent.
    #[arg(long, default_value_t = 20.0)]
    pub move_percent: f64,
    /// Share of the connections that are presence members instead, in percent.
    #[arg(long, default_value_t = 2.0)]
    pub presence_percent: f64,
    /// Mean seconds a presence member stays before leaving, and stays away before joining again.
    #[arg(long, default_value_t = 30)]
    pub presence_stay: u64,
    /// How much the mean memory of the last third may exceed the middle third's, in percent,
    /// before the soak fails.
    #[arg(long, default_value_t = 5.0)]
    pub max_growth_percent: f64,
}

impl Default for SoakArgs {
    fn default() -> Self {
        SoakArgs {
            connections: 10_000,
            minutes: 30,
            sample_every: 60,
            channels: 2_000,
            rate: 20.0,
            channels_per_trigger: 10,
            reconnect_percent: 10.0,
            move_percent: 20.0,
            presence_percent: 2.0,
            presence_stay: 30,
            max_growth_percent: 5.0,
        }
    }
}

/// Members per presence channel: half of what a channel holds, so joins never hit the limit.
const PER_PRESENCE_CHANNEL: usize = PRESENCE_MEMBERS_MAX / 2;
/// Failed attempts in a row after which a connection stops trying to open again.
const MAX_REOPEN_ATTEMPTS: u32 = 10;
/// A bound on the steps of one connection's loop, far above what any run takes; the run's end
/// bounds it in time.
const MAX_STEPS: u64 = 100_000_000;
/// The soak fails when fewer connections than this share are open at the end.
const MIN_LIVE_AT_END: f64 = 0.9;
/// The soak fails when more triggers than this share fail.
const MAX_TRIGGER_ERRORS: f64 = 0.01;

impl SoakArgs {
    fn check(&self) -> Result<(), BenchError> {
        let refuse = |text: String| Err(BenchError::Args(text));
        check_connections(self.connections, "--connections")?;
        if self.connections == 0 {
            return refuse("--connections must be at least 1".into());
        }
        if self.minutes == 0 || self.minutes > MAX_SECONDS / 60 {
            return refuse(format!("--minutes must be 1 to {}", MAX_SECONDS / 60));
        }
        if self.sample_every == 0 || self.minutes * 60 / self.sample_every < 3 {
            return refuse(
                "--sample-every must leave at least 3 readings after the first, \
                 to compare the thirds of the run"
                    .into(),
            );
        }
        if self.channels == 0 || self.channels > super::MAX_CONNECTIONS {
            return refuse(format!(
                "--channels must be 1 to {}",
                super::MAX_CONNECTIONS
            ));
        }
        if !(self.rate > 0.0 && self.rate <= MAX_RATE) {
            return refuse(format!("--rate must be above 0 and at most {MAX_RATE}"));
        }
        if !(1..=TRIGGER_CHANNELS_MAX.min(self.channels)).contains(&self.channels_per_trigger) {
            return refuse(format!(
                "--channels-per-trigger must be 1 to {} and at most --channels",
                TRIGGER_CHANNELS_MAX
            ));
        }
        for (value, flag, max) in [
            (self.reconnect_percent, "--reconnect-percent", 6_000.0),
            (self.move_percent, "--move-percent", 6_000.0),
            (self.presence_percent, "--presence-percent", 100.0),
            (self.max_growth_percent, "--max-growth-percent", 1_000.0),
        ] {
            if !(0.0..=max).contains(&value) {
                return refuse(format!("{flag} must be 0 to {max}"));
            }
        }
        if self.presence_stay == 0 || self.presence_stay > MAX_SECONDS {
            return refuse(format!(
                "--presence-stay must be 1 to {MAX_SECONDS} seconds"
            ));
        }
        Ok(())
    }

    /// Mean time between two events of one connection that happen `percent` times per minute
    /// per hundred connections; `None` when they never happen.
    fn mean_gap(percent: f64) -> Option<Duration> {
        (percent > 0.0).then(|| Duration::from_secs_f64(60.0 * 100.0 / percent))
    }
}

/// What happened since the start, counted by every task; readings report the differences.
#[derive(Default)]
struct Counters {
    live: AtomicU64,
    deliveries: AtomicU64,
    triggers: AtomicU64,
    trigger_errors: AtomicU64,
    reconnects: AtomicU64,
    moves: AtomicU64,
    presence: AtomicU64,
    errors: AtomicU64,
}

/// The counters at one moment, to subtract from the next.
#[derive(Clone, Copy, Default)]
struct Totals {
    deliveries: u64,
    triggers: u64,
    trigger_errors: u64,
    reconnects: u64,
    moves: u64,
    presence: u64,
    errors: u64,
}

impl Counters {
    fn totals(&self) -> Totals {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        Totals {
            deliveries: get(&self.deliveries),
            triggers: get(&self.triggers),
            trigger_errors: get(&self.trigger_errors),
            reconnects: get(&self.reconnects),
            moves: get(&self.moves),
            presence: get(&self.presence),
            errors: get(&self.errors),
        }
    }
}

/// What every connection task shares.
struct Shared {
    target: Target,
    sources: Sources,
    /// Held while opening a connection, to cap the connections being opened at once.
    permits: Semaphore,
    tag: String,
    channels: usize,
    presence_members: usize,
    reconnect_gap: Option<Duration>,
    move_gap: Option<Duration>,
    presence_stay: Duration,
    counters: Counters,
    /// Connections that opened, or gave up, the first time; the churn starts after all have.
    settled: Countdown,
    /// When the churn ends; set once every connection settled, before `go` is cancelled.
    end: OnceLock<Instant>,
    errors: Mutex<Vec<String>>,
}

impl Shared {
    fn channel(&self, index: usize) -> String {
        format!("soak-{}-{index}", self.tag)
    }

    fn presence_channel(&self, slot: usize) -> String {
        format!("presence-soak-{}-{}", self.tag, slot / PER_PRESENCE_CHANNEL)
    }

    fn error(&self, text: String) {
        self.counters.errors.fetch_add(1, Ordering::Relaxed);
        if let Ok(mut errors) = self.errors.lock() {
            if errors.len() < 5 {
                errors.push(text);
            }
        }
    }

    fn delivered(&self, event: &Event) {
        if matches!(event, Event::Bench(_)) {
            self.counters.deliveries.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// A small deterministic generator (splitmix64): two runs with the same flags churn alike.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A number in `0..n`; `n` must be above 0.
    fn below(&mut self, n: usize) -> usize {
        usize::try_from(self.next() % n as u64).unwrap_or(0)
    }

    /// A number in `[0, 1)`.
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// A wait of `mean` on average, between half and one and a half of it.
    fn around(&mut self, mean: Duration) -> Duration {
        mean.mul_f64(0.5 + self.unit())
    }

    /// The first wait after the churn starts, drawn as if the connection had been churning for
    /// long already: up to half of `mean` as often as any later wait, and past that less and
    /// less often, up to one and a half of it. The connections then act as often in the first
    /// minutes as in the last, instead of all at once or in waves.
    fn first(&mut self, mean: Duration) -> Duration {
        if self.unit() < 0.5 {
            mean.mul_f64(0.5 * self.unit())
        } else {
            mean.mul_f64(1.5 - self.unit().sqrt())
        }
    }
}

/// One connection's life over the run.
struct Slot {
    index: usize,
    rng: Rng,
    shared: Arc<Shared>,
    conn: Option<Conn>,
    /// The public channel it is on (for a member of the public pool).
    channel: usize,
    /// Whether it is a presence member, and whether it is in its presence channel now.
    presence: bool,
    joined: bool,
    /// Joins so far: each join is a new user id.
    cycle: u64,
    /// Failed attempts to open in a row.
    failures: u32,
}

impl Slot {
    fn new(index: usize, shared: Arc<Shared>) -> Self {
        let mut rng = Rng(index as u64);
        let channel = rng.below(shared.channels);
        Slot {
            index,
            presence: index < shared.presence_members,
            rng,
            shared,
            conn: None,
            channel,
            joined: false,
            cycle: 0,
            failures: 0,
        }
    }

    /// Opens a connection and subscribes it to its public channel; a presence member joins
    /// later, on its own clock.
    async fn open(&mut self) -> Result<(), ConnError> {
        let shared = self.shared.clone();
        let _permit = shared.permits.acquire().await;
        let mut conn = Conn::open(&shared.target, &shared.sources).await?;
        if !self.presence {
            conn.subscribe(&shared.channel(self.channel), None, None)
                .await?;
            conn.until_subscribed(|event| shared.delivered(&event))
                .await?;
        }
        self.conn = Some(conn);
        self.joined = false;
        self.failures = 0;
        shared.counters.live.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }

    /// Closes the connection, politely when `polite`.
    async fn close(&mut self, polite: bool) {
        if let Some(conn) = self.conn.take() {
            self.shared.counters.live.fetch_sub(1, Ordering::Relaxed);
            if polite {
                conn.close().await;
            }
        }
    }

    /// The next frame, or never when there is no connection.
    async fn next_event(&mut self) -> Result<Option<Event>, ConnError> {
        match self.conn.as_mut() {
            Some(conn) => conn.next_event().await,
            None => std::future::pending().await,
        }
    }

    /// Handles what the server sent; false if the connection is gone.
    fn received(&mut self, event: Result<Option<Event>, ConnError>) -> bool {
        match event {
            Ok(Some(Event::Error(text))) => {
                self.shared
                    .error(format!("connection {}: {text}", self.index));
                true
            }
            Ok(Some(event)) => {
                self.shared.delivered(&event);
                true
            }
            Ok(None) => {
                self.shared
                    .error(format!("connection {}: closed by the server", self.index));
                false
            }
            Err(e) => {
                self.shared.error(format!("connection {}: {e}", self.index));
                false
            }
        }
    }

    /// Leaves its channel for another one of the pool.
    async fn move_channel(&mut self) -> Result<(), ConnError> {
        let Some(conn) = self.conn.as_mut() else {
            return Ok(());
        };
        let shared = &self.shared;
        let next = (self.channel + 1 + self.rng.below(shared.channels)) % shared.channels;
        conn.unsubscribe(&shared.channel(self.channel)).await?;
        self.channel = next;
        conn.subscribe(&shared.channel(next), None, None).await?;
        conn.until_subscribed(|event| shared.delivered(&event))
            .await?;
        shared.counters.moves.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }

    /// Joins its presence channel as a new user, or leaves it.
    async fn toggle_presence(&mut self) -> Result<(), ConnError> {
        let Some(conn) = self.conn.as_mut() else {
            return Ok(());
        };
        let shared = &self.shared;
        let channel = shared.presence_channel(self.index);
        if self.joined {
            conn.unsubscribe(&channel).await?;
            self.joined = false;
        } else {
            let user = format!("m{}-{}", self.index, self.cycle);
            conn.join_presence(&shared.target, &channel, &user).await?;
            conn.until_subscribed(|event| shared.delivered(&event))
                .await?;
            self.joined = true;
            self.cycle += 1;
        }
        shared.counters.presence.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }

    /// Opens the first connection, waits for the churn to start while reading what arrives,
    /// then churns until the end of the run or `stop`.
    async fn run(mut self, go: CancellationToken, stop: CancellationToken) {
        if let Err(e) = self.open().await {
            self.shared.error(format!("connection {}: {e}", self.index));
            self.failures = 1;
        }
        self.shared.settled.add(1);
        loop {
            tokio::select! {
                () = go.cancelled() => break,
                () = stop.cancelled() => return self.close(true).await,
                event = self.next_event() => if !self.received(event) {
                    self.close(false).await;
                },
            }
        }
        let Some(end) = self.shared.end.get().copied() else {
            return self.close(true).await;
        };
        self.churn(end, &stop).await;
        // Stay open until the last reading is taken.
        stop.cancelled().await;
        self.close(true).await;
    }

    async fn churn(&mut self, end: Instant, stop: &CancellationToken) {
        let now = Instant::now();
        let shared = self.shared.clone();
        let mut reopen = match (&self.conn, shared.reconnect_gap) {
            (None, _) => now,
            (Some(_), Some(gap)) => now + self.rng.first(gap),
            (Some(_), None) => end,
        };
        let mut act = match (self.presence, shared.move_gap) {
            (true, _) => now + self.rng.first(shared.presence_stay),
            (false, Some(gap)) => now + self.rng.first(gap),
            (false, None) => end,
        };
        for _ in 0..MAX_STEPS {
            let next = reopen.min(act).min(end);
            tokio::select! {
                () = stop.cancelled() => return,
                () = tokio::time::sleep_until(next) => {}
                event = self.next_event() => {
                    if !self.received(event) {
                        self.close(false).await;
                        reopen = Instant::now();
                    }
                    continue;
                }
            }
            let now = Instant::now();
            if now >= end {
                return;
            }
            if now >= reopen {
                reopen = self.reopen(end).await;
            } else if now >= act {
                let (done, gap) = if self.presence {
                    (self.toggle_presence().await, Some(shared.presence_stay))
                } else {
                    (self.move_channel().await, shared.move_gap)
                };
                if let Err(e) = done {
                    shared.error(format!("connection {}: {e}", self.index));
                    self.close(false).await;
                    reopen = Instant::now();
                }
                act = gap.map_or(end, |gap| Instant::now() + self.rng.around(gap));
            }
        }
    }

    /// Closes (if open) and opens again; returns when to do so next.
    async fn reopen(&mut self, end: Instant) -> Instant {
        let was_open = self.conn.is_some();
        self.close(true).await;
        match self.open().await {
            Ok(()) => {
                if was_open {
                    self.shared
                        .counters
                        .reconnects
                        .fetch_add(1, Ordering::Relaxed);
                }
                self.shared
                    .reconnect_gap
                    .map_or(end, |gap| Instant::now() + self.rng.around(gap))
            }
            Err(e) => {
                self.shared.error(format!("connection {}: {e}", self.index));
                self.failures += 1;
                if self.failures >= MAX_REOPEN_ATTEMPTS {
                    end
                } else {
                    Instant::now() + Duration::from_secs(1)
                }
            }
        }
    }
}

/// Runs `soak` against `run.target`.
pub async fn soak(run: &Run, args: &SoakArgs) -> Result<Report, BenchError> {
    args.check()?;
    let mut report = Report::new("soak", &run.target.label);
    report.params(args);
    if run.target.pids.is_empty() {
        return Err(BenchError::Args(
            "soak reads the server's memory: give --server-pid".into(),
        ));
    }
    let presence_members = ((args.connections as f64 * args.presence_percent / 100.0).round()
        as usize)
        .min(args.connections);
    let shared = Arc::new(Shared {
        target: run.target.clone(),
        sources: Sources::new(&run.target, run.client.source_ips),
        permits: Semaphore::new(usize::try_from(run.client.connect_concurrency).unwrap_or(64)),
        tag: run.tag.clone(),
        channels: args.channels,
        presence_members,
        reconnect_gap: SoakArgs::mean_gap(args.reconnect_percent),
        move_gap: SoakArgs::mean_gap(args.move_percent),
        presence_stay: Duration::from_secs(args.presence_stay),
        counters: Counters::default(),
        settled: Countdown::new(Some(args.connections as u64)),
        end: OnceLock::new(),
        errors: Mutex::new(Vec::new()),
    });
    let before = run.sample(&mut report);

    let go = CancellationToken::new();
    let stop = CancellationToken::new();
    let mut slots = JoinSet::new();
    for i in 0..args.connections {
        slots.spawn(Slot::new(i, shared.clone()).run(go.clone(), stop.clone()));
    }
    let opening = Instant::now();
    shared
        .settled
        .wait(args.connections as u64, run.connect_deadline())
        .await;
    let live = shared.counters.live.load(Ordering::Relaxed);
    report.count("connections_open_at_start", live);
    report.metric("open_all_seconds", opening.elapsed().as_secs_f64(), "s");
    report.count("presence_members", presence_members as u64);

    let duration = Duration::from_secs(args.minutes * 60);
    let start = Instant::now();
    let end = start + duration;
    let _ = shared.end.set(end);
    go.cancel();
    let triggers = tokio::spawn(trigger(
        run.target.clone(),
        args.clone(),
        shared.clone(),
        end,
    ));
    let readings = read_server(run, args, &shared, start).await;
    let _ = triggers.await;
    stop.cancel();
    // Every task ends on `stop`; closing takes at most a second each, and they run at once.
    let closing = after(30);
    while let Ok(Some(_)) = tokio::time::timeout_at(closing, slots.join_next()).await {}
    slots.abort_all();

    let totals = shared.counters.totals();
    let live_at_end = readings.last().map_or(0, |r| r.connections);
    report.count("connections_open_at_end", live_at_end);
    report.count("reconnects", totals.reconnects);
    report.count("moves", totals.moves);
    report.count("presence_joins_and_leaves", totals.presence);
    report.count("triggers", totals.triggers);
    report.count("trigger_errors", totals.trigger_errors);
    report.count("deliveries", totals.deliveries);
    report.metric(
        "deliveries_per_sec",
        per_second(totals.deliveries, duration),
        "/s",
    );
    report.count("errors", totals.errors);
    if let (Some(before), Some(first)) = (before, readings.first()) {
        report.count("server_rss_before_kib", before.rss_kib);
        if live > 0 {
            let grown = first.rss_kib.saturating_sub(before.rss_kib) as f64;
            report.metric("server_kib_per_connection", grown / live as f64, "KiB");
        }
    }
    let verdict = Verdict::of(&readings, args.max_growth_percent);
    Verdict::report(verdict.as_ref(), &mut report);
    if let Ok(errors) = shared.errors.lock() {
        for e in errors.iter() {
            report.note(e.clone());
        }
    }

    let asked = args.connections as f64;
    if (live_at_end as f64) < asked * MIN_LIVE_AT_END {
        report.failures.push(format!(
            "{live_at_end} of {} connections open at the end (at least {:.0}% must be)",
            args.connections,
            MIN_LIVE_AT_END * 100.0
        ));
    }
    let attempted = totals.triggers + totals.trigger_errors;
    if attempted == 0 || totals.trigger_errors as f64 > attempted as f64 * MAX_TRIGGER_ERRORS {
        report.failures.push(format!(
            "{} of {attempted} triggers failed",
            totals.trigger_errors
        ));
    }
    if presence_members < args.connections && totals.deliveries == 0 {
        report
            .failures
            .push("no event reached any connection".into());
    }
    report.readings = readings;
    Ok(report)
}

/// Triggers events at `args.rate` until `end`, each to the next `channels_per_trigger`
/// channels of the pool, with at most 4 requests in flight.
async fn trigger(target: Target, args: SoakArgs, shared: Arc<Shared>, end: Instant) {
    const IN_FLIGHT: usize = 4;
    let client = Trigger::new(&target, IN_FLIGHT);
    let permits = Arc::new(Semaphore::new(IN_FLIGHT));
    // The rate was checked to be within (0, MAX_RATE], so the period is at least 10 µs.
    let period = Duration::try_from_secs_f64(1.0 / args.rate).unwrap_or(Duration::from_secs(1));
    let mut ticks = tokio::time::interval(period.max(Duration::from_micros(10)));
    // A soak offers a steady load: a late tick is not made up for with a burst.
    ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let most = (args.rate * (args.minutes * 60) as f64).ceil() as u64 + 1;
    let epoch = Instant::now();
    let mut in_flight = JoinSet::new();
    let mut next_channel = 0usize;
    for seq in 0..most {
        tokio::select! {
            _ = ticks.tick() => {}
            () = tokio::time::sleep_until(end) => break,
        }
        let Ok(permit) = permits.clone().acquire_owned().await else {
            break;
        };
        if Instant::now() >= end {
            break;
        }
        let channels: Vec<String> = (0..args.channels_per_trigger)
            .map(|k| shared.channel((next_channel + k) % args.channels))
            .collect();
        next_channel = (next_channel + args.channels_per_trigger) % args.channels;
        let (client, shared) = (client.clone(), shared.clone());
        in_flight.spawn(async move {
            let data = Payload::data(seq, micros_since(epoch));
            let result = client.send(channels, BENCH_EVENT, data).await;
            drop(permit);
            match result {
                Ok(()) => shared.counters.triggers.fetch_add(1, Ordering::Relaxed),
                Err(e) => {
                    shared.error(format!("trigger {seq}: {e}"));
                    shared
                        .counters
                        .trigger_errors
                        .fetch_add(1, Ordering::Relaxed)
                }
            };
        });
        while in_flight.try_join_next().is_some() {}
    }
    while in_flight.join_next().await.is_some() {}
}

/// Reads the server every `sample_every` seconds from `start` to the end of the run, printing
/// each reading on stderr as it is taken.
async fn read_server(run: &Run, args: &SoakArgs, shared: &Shared, start: Instant) -> Vec<Reading> {
    let every = Duration::from_secs(args.sample_every);
    let count = args.minutes * 60 / args.sample_every;
    let me = std::process::id();
    let mut readings = Vec::new();
    let mut previous: Option<(Instant, Sample, Option<Sample>, Totals)> = None;
    eprintln!("{}", Reading::header());
    for k in 0..=count {
        tokio::time::sleep_until(start + every * u32::try_from(k).unwrap_or(u32::MAX)).await;
        let now = Instant::now();
        let server = match crate::process::sample_all(&run.target.pids) {
            Ok(Some(sample)) => sample,
            Ok(None) => break,
            Err(e) => {
                shared.error(format!("the server could not be read: {e}"));
                break;
            }
        };
        let bench = crate::process::sample(me).ok();
        let totals = shared.counters.totals();
        let since = previous.as_ref().map(|p| p.3).unwrap_or_default();
        let percent = |now: Sample, then: Option<Sample>, wall: Duration| {
            let cpu = now.cpu.saturating_sub(then.map_or(now.cpu, |s| s.cpu));
            if wall.is_zero() {
                0.0
            } else {
                100.0 * cpu.as_secs_f64() / wall.as_secs_f64()
            }
        };
        let wall = previous
            .as_ref()
            .map_or(Duration::ZERO, |p| now.duration_since(p.0));
        let reading = Reading {
            elapsed_s: now.duration_since(start).as_secs(),
            rss_kib: server.rss_kib,
            cpu_percent: percent(server, previous.as_ref().map(|p| p.1), wall),
            bench_cpu_percent: bench.map_or(0.0, |b| {
                percent(b, previous.as_ref().and_then(|p| p.2), wall)
            }),
            connections: shared.counters.live.load(Ordering::Relaxed),
            deliveries: totals.deliveries - since.deliveries,
            triggers: totals.triggers - since.triggers,
            reconnects: totals.reconnects - since.reconnects,
            moves: totals.moves - since.moves,
            presence: totals.presence - since.presence,
            errors: totals.errors - since.errors,
        };
        eprintln!("{}", reading.row());
        readings.push(reading);
        previous = Some((now, server, bench, totals));
    }
    readings
}

/// Whether memory ended flat: the mean of the last third of the readings against the middle
/// third's.
#[derive(Debug, Clone, PartialEq)]
struct Verdict {
    middle_kib: f64,
    last_kib: f64,
    max_kib: u64,
    growth_percent: f64,
    max_growth_percent: f64,
}

impl Verdict {
    fn of(readings: &[Reading], max_growth_percent: f64) -> Option<Verdict> {
        let n = readings.len();
        if n < 3 {
            return None;
        }
        let mean = |part: &[Reading]| {
            part.iter().map(|r| r.rss_kib as f64).sum::<f64>() / part.len().max(1) as f64
        };
        let middle_kib = mean(&readings[n / 3..2 * n / 3]);
        let last_kib = mean(&readings[2 * n / 3..]);
        let growth_percent = if middle_kib > 0.0 {
            100.0 * (last_kib - middle_kib) / middle_kib
        } else {
            0.0
        };
        Some(Verdict {
            middle_kib,
            last_kib,
            max_kib: readings.iter().map(|r| r.rss_kib).max().unwrap_or(0),
            growth_percent,
            max_growth_percent,
        })
    }

    fn flat(&self) -> bool {
        self.growth_percent <= self.max_growth_percent
    }

    fn report(verdict: Option<&Verdict>, report: &mut Report) {
        let Some(v) = verdict else {
            report
                .failures
                .push("too few readings of the server to judge its memory".into());
            return;
        };
        report.metric("server_rss_middle_third_kib", v.middle_kib.round(), "KiB");
        report.metric("server_rss_last_third_kib", v.last_kib.round(), "KiB");
        report.count("server_rss_max_kib", v.max_kib);
        report.metric("server_rss_growth_percent", v.growth_percent, "%");
        report.count("memory_flat", u64::from(v.flat()));
        let text = format!(
            "memory {}: the last third's mean RSS is {:+.1}% against the middle third's \
             ({:.1} → {:.1} MiB; at most {:+.1}% passes)",
            if v.flat() { "ended flat" } else { "grew" },
            v.growth_percent,
            v.middle_kib / 1024.0,
            v.last_kib / 1024.0,
            v.max_growth_percent
        );
        if v.flat() {
            report.notes.insert(0, text);
        } else {
            report.failures.push(text);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn readings(rss: &[u64]) -> Vec<Reading> {
        rss.iter()
            .enumerate()
            .map(|(i, &rss_kib)| Reading {
                elapsed_s: i as u64 * 60,
                rss_kib,
                cpu_percent: 0.0,
                bench_cpu_percent: 0.0,
                connections: 0,
                deliveries: 0,
                triggers: 0,
                reconnects: 0,
                moves: 0,
                presence: 0,
                errors: 0,
            })
            .collect()
    }

    #[test]
    fn verdict_compares_the_last_third_with_the_middle() {
        // Warm-up growth in the first third does not count.
        let v = Verdict::of(&readings(&[10, 50, 100, 100, 101, 100, 102, 101, 100]), 5.0).unwrap();
        assert_eq!(v.last_kib, 101.0);
        assert!((v.middle_kib - 301.0 / 3.0).abs() < 1e-9, "{v:?}");
        assert!(v.flat() && v.growth_percent < 1.0, "{v:?}");
        // A steady climb does.
        let v = Verdict::of(
            &readings(&[100, 110, 120, 130, 140, 150, 160, 170, 180]),
            5.0,
        )
        .unwrap();
        assert!(!v.flat(), "{v:?}");
        assert!((v.growth_percent - 30.0 / 1.4).abs() < 1e-9, "{v:?}");
        // Shrinking is flat.
        assert!(Verdict::of(&readings(&[100, 100, 100, 90]), 5.0)
            .unwrap()
            .flat());
        assert_eq!(Verdict::of(&readings(&[100, 100]), 5.0), None);
    }

    #[test]
    fn flags_are_checked_before_anything_opens() {
        let ok = SoakArgs::default();
        assert!(ok.check().is_ok());
        let refused = |args: SoakArgs, flag: &str| {
            let Err(BenchError::Args(text)) = args.check() else {
                panic!("{flag} accepted");
            };
            assert!(text.contains(flag), "{text}");
        };
        refused(
            SoakArgs {
                minutes: 0,
                ..ok.clone()
            },
            "--minutes",
        );
        refused(
            SoakArgs {
                minutes: 1,
                sample_every: 30,
                ..ok.clone()
            },
            "--sample-every",
        );
        refused(
            SoakArgs {
                channels_per_trigger: 101,
                ..ok.clone()
            },
            "--channels-per-trigger",
        );
        refused(
            SoakArgs {
                channels: 5,
                channels_per_trigger: 10,
                ..ok.clone()
            },
            "--channels-per-trigger",
        );
        refused(
            SoakArgs {
                rate: 0.0,
                ..ok.clone()
            },
            "--rate",
        );
        refused(
            SoakArgs {
                presence_percent: 101.0,
                ..ok.clone()
            },
            "--presence-percent",
        );
        refused(
            SoakArgs {
                connections: 0,
                ..ok.clone()
            },
            "--connections",
        );
    }

    #[test]
    fn churn_is_spread_and_repeatable() {
        let mut a = Rng(7);
        let mut b = Rng(7);
        let mean = Duration::from_secs(60);
        for _ in 0..1000 {
            let wait = a.around(mean);
            assert_eq!(wait, b.around(mean));
            assert!(wait >= mean / 2 && wait <= mean * 3 / 2);
            assert!(a.below(3) < 3);
            b.below(3);
        }
        // Waits of half to one and a half of the mean leave, on average, 13/24 of it from any
        // moment to the next action: the first wait must look the same.
        let firsts: Vec<Duration> = (0..20_000).map(|_| a.first(mean)).collect();
        assert!(firsts.iter().all(|w| *w <= mean * 3 / 2));
        let average = firsts.iter().sum::<Duration>() / 20_000;
        let expected = mean * 13 / 24;
        assert!(
            average > expected * 95 / 100 && average < expected * 105 / 100,
            "{average:?}"
        );
        assert_eq!(SoakArgs::mean_gap(0.0), None);
        assert_eq!(SoakArgs::mean_gap(10.0), Some(Duration::from_secs(600)));
    }
}
