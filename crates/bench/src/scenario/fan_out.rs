//! Fan-out: connections on one shared channel (and, for `many-channels`, each on its own
//! channel too) receive events triggered over REST at a fixed rate.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use hdrhistogram::Histogram;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tokio::time::{Instant, MissedTickBehavior};

use super::{after, check_connections, check_receipts, check_seconds, Run, Subscribers, MAX_RATE};
use crate::conn::{Conn, Payload, Sources, BENCH_EVENT};
use crate::record::{histogram, micros_since, per_second, Bits, SharedBits};
use crate::report::Report;
use crate::trigger::Trigger;
use crate::BenchError;

/// Options of the `fan-out` scenario.
#[derive(Debug, Clone, clap::Args)]
pub struct FanOutArgs {
    /// Subscribed connections.
    #[arg(short, long, default_value_t = 1000)]
    pub connections: usize,
    /// Events triggered per second.
    #[arg(short, long, default_value_t = 10.0)]
    pub rate: f64,
    /// Seconds of triggering.
    #[arg(short, long, default_value_t = 10)]
    pub duration: u64,
    /// Upper bound on the number of events, whatever rate and duration say.
    #[arg(long, default_value_t = 100_000)]
    pub max_events: u64,
    /// REST requests in flight at once (and kept-alive HTTP connections).
    #[arg(long, default_value_t = 4)]
    pub pool: usize,
    /// Seconds to wait for the last deliveries after the last trigger.
    #[arg(long, default_value_t = 10)]
    pub drain: u64,
    /// Pad each event's data to about this many bytes (0: no padding).
    #[arg(long, default_value_t = 0, value_parser = clap::value_parser!(u64).range(0..=10_000))]
    pub payload_bytes: u64,
    /// More connections on the same channels that subscribe, then never read again: a server
    /// should cut them off without the others noticing. They are not counted as subscribers.
    #[arg(long, default_value_t = 0, value_parser = clap::value_parser!(u64).range(0..=1_000))]
    pub stalled: u64,
}

impl Default for FanOutArgs {
    fn default() -> Self {
        FanOutArgs {
            connections: 1000,
            rate: 10.0,
            duration: 10,
            max_events: 100_000,
            pool: 4,
            drain: 10,
            payload_bytes: 0,
            stalled: 0,
        }
    }
}

/// Options of the `many-channels` scenario.
#[derive(Debug, Clone, clap::Args)]
pub struct ManyChannelsArgs {
    /// Rate, duration and connections, as for `fan-out`.
    #[command(flatten)]
    pub fan_out: FanOutArgs,
    /// Own channels named by one trigger (1 to 100); every other trigger goes to the shared
    /// channel instead.
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=100))]
    pub channels_per_trigger: u64,
}

/// Which channels the connections subscribe to and each trigger names.
#[derive(Debug, Clone)]
enum Shape {
    /// Everyone on one channel; every trigger goes there.
    Shared { channel: String },
    /// Each connection on its own channel and on a shared one. Even triggers go to the shared
    /// channel; odd ones to the own channels of the next group of `group` connections.
    Own {
        shared: String,
        prefix: String,
        group: usize,
        groups: u64,
    },
}

impl Shape {
    fn subscriptions(&self, conn: usize) -> Vec<String> {
        match self {
            Shape::Shared { channel } => vec![channel.clone()],
            Shape::Own { shared, prefix, .. } => vec![shared.clone(), format!("{prefix}{conn}")],
        }
    }

    fn trigger_channels(&self, seq: u64, connections: usize) -> Vec<String> {
        match self {
            Shape::Shared { channel } => vec![channel.clone()],
            Shape::Own { shared, .. } if seq % 2 == 0 => vec![shared.clone()],
            Shape::Own {
                prefix,
                group,
                groups,
                ..
            } => {
                let g = usize::try_from((seq / 2) % groups).unwrap_or(0);
                let first = g * group;
                (first..(first + group).min(connections))
                    .map(|c| format!("{prefix}{c}"))
                    .collect()
            }
        }
    }

    fn expects(&self, conn: usize, seq: u64) -> bool {
        match self {
            Shape::Shared { .. } => true,
            Shape::Own { .. } if seq % 2 == 0 => true,
            Shape::Own { group, groups, .. } => (seq / 2) % groups == (conn / group.max(&1)) as u64,
        }
    }
}

/// Runs `fan-out` against `run.target`.
pub async fn fan_out(run: &Run, args: &FanOutArgs) -> Result<Report, BenchError> {
    let shape = Shape::Shared {
        channel: format!("bench-{}-fanout", run.tag),
    };
    go(run, "fan-out", args, shape).await
}

/// Runs `many-channels` against `run.target`.
pub async fn many_channels(run: &Run, args: &ManyChannelsArgs) -> Result<Report, BenchError> {
    let group = usize::try_from(args.channels_per_trigger)
        .unwrap_or(1)
        .max(1);
    let shape = Shape::Own {
        shared: format!("bench-{}-shared", run.tag),
        prefix: format!("bench-{}-own-", run.tag),
        group,
        groups: args.fan_out.connections.div_ceil(group).max(1) as u64,
    };
    let mut report = go(run, "many-channels", &args.fan_out, shape).await?;
    report.param("channels_per_trigger", args.channels_per_trigger);
    Ok(report)
}

async fn go(
    run: &Run,
    scenario: &str,
    args: &FanOutArgs,
    shape: Shape,
) -> Result<Report, BenchError> {
    if !(args.rate > 0.0 && args.rate <= MAX_RATE) {
        return Err(BenchError::Args(format!(
            "--rate must be above 0 and at most {MAX_RATE}"
        )));
    }
    check_connections(args.connections, "--connections")?;
    check_seconds(args.duration, "--duration")?;
    check_seconds(args.drain, "--drain")?;
    let mut report = Report::new(scenario, &run.target.label);
    report.param("connections", args.connections);
    report.param("rate", args.rate);
    report.param("duration_s", args.duration);
    if args.payload_bytes > 0 {
        report.param("payload_bytes", args.payload_bytes);
    }
    let events =
        ((args.rate * args.duration as f64).ceil() as u64).clamp(1, args.max_events.max(1));
    check_receipts(args.connections, events)?;
    let epoch = Instant::now();

    let before = run.sample(&mut report);
    let subs = Subscribers::spawn(
        run,
        args.connections,
        |i| shape.subscriptions(i),
        events,
        epoch,
    );
    let (live, failed, took) = subs.ready(run.connect_deadline()).await;
    report.count("connections_live", live);
    report.count("connections_failed", failed);
    report.metric("subscribe_all_seconds", took.as_secs_f64(), "s");
    let mut stalled = stall(run, args.stalled, &shape.subscriptions(0)).await?;
    let subscribed = run.sample(&mut report);
    let me_before = crate::process::sample(std::process::id()).ok();

    let trigger = Trigger::new(&run.target, args.pool);
    let sent = send_at_rate(run, &trigger, args, events, epoch, |seq| {
        shape.trigger_channels(seq, args.connections)
    })
    .await;
    let goal: u64 = (0..args.connections)
        .filter(|&c| subs.is_live(c))
        .map(|c| {
            (0..events)
                .filter(|&s| sent.accepted.get(s) && shape.expects(c, s))
                .count() as u64
        })
        .sum();
    let bar = run.bar(goal, "draining");
    let drain_deadline = after(args.drain);
    let all_in = subs.drained(goal, drain_deadline).await;
    bar.finish_and_clear();
    let delivered = subs.delivered();
    let last = subs.last_delivery_micros();
    let latency = subs.latency();
    let after = run.sample(&mut report);
    let me_after = crate::process::sample(std::process::id()).ok();
    let fleet = subs.finish().await;
    if args.stalled > 0 {
        report.param("stalled", args.stalled);
        let mut cut_off = 0;
        for conn in &mut stalled {
            // A server that cut the connection off has closed it already; its close frame
            // comes after whatever it had sent, which the kernel still holds.
            if conn.close_code(Duration::from_secs(2)).await.is_ok() {
                cut_off += 1;
            }
        }
        report.count("stalled_cut_off", cut_off);
    }

    let mut lost = 0u64;
    let mut duplicates = 0u64;
    for (c, r) in &fleet.receipts {
        duplicates += r.duplicates + r.strays;
        lost += (0..events)
            .filter(|&s| sent.accepted.get(s) && shape.expects(*c, s) && !r.seen.get(s))
            .count() as u64;
    }
    let window = Duration::from_micros(last.saturating_sub(sent.first_micros));
    report.count("events_triggered", sent.ok);
    report.count("trigger_errors", sent.errors);
    report.metric("trigger_rate", per_second(sent.ok, sent.took), "/s");
    report.count("deliveries", delivered);
    report.count("deliveries_expected", goal);
    report.metric("deliveries_per_sec", per_second(delivered, window), "/s");
    report.count("lost", lost);
    report.count("duplicates", duplicates);
    report.latencies("latency", &latency);
    report.latencies("rest", &sent.rest);
    if !all_in {
        report.note(format!(
            "{} deliveries missing after a {} s drain",
            goal.saturating_sub(delivered),
            args.drain
        ));
    }
    report.server(before, subscribed, live);
    if let (Some(s), Some(a)) = (subscribed, after) {
        let cpu = a.cpu.saturating_sub(s.cpu);
        report.metric("server_cpu_seconds_triggering", cpu.as_secs_f64(), "s");
        if delivered > 0 {
            // What one delivery costs the server, whether or not it kept up: the figure to
            // compare servers by when both are far from saturation.
            let micros = cpu.as_secs_f64() * 1e6 / delivered as f64;
            report.metric("server_cpu_us_per_delivery", micros, "us");
        }
    }
    if let (Some(b), Some(a)) = (me_before, me_after) {
        // The load generator shares the machine: what it burns, the server could not use.
        report.metric(
            "bench_cpu_seconds_triggering",
            a.cpu.saturating_sub(b.cpu).as_secs_f64(),
            "s",
        );
    }
    for e in fleet.errors.into_iter().chain(sent.notes) {
        report.note(e);
    }
    Ok(report)
}

/// Opens `count` connections that subscribe to `channels`, then are never read again. Their
/// receive buffers are small, so that the server's sends to them back up within seconds.
async fn stall(run: &Run, count: u64, channels: &[String]) -> Result<Vec<Conn>, BenchError> {
    let sources = Sources::new(&run.target, run.client.source_ips);
    let mut stalled = Vec::new();
    for _ in 0..count {
        let mut conn = Conn::open_with(&run.target, &sources, Some(4096))
            .await
            .map_err(|e| BenchError::Failed(format!("stalled connection: {e}")))?;
        for channel in channels {
            conn.subscribe(channel, None, None)
                .await
                .and(conn.until_subscribed(|_| {}).await)
                .map_err(|e| BenchError::Failed(format!("stalled connection: {e}")))?;
        }
        stalled.push(conn);
    }
    Ok(stalled)
}

/// What the trigger loop did.
pub(crate) struct Sent {
    pub(crate) accepted: Bits,
    pub(crate) ok: u64,
    pub(crate) errors: u64,
    pub(crate) rest: Histogram<u64>,
    pub(crate) first_micros: u64,
    pub(crate) took: Duration,
    pub(crate) notes: Vec<String>,
}

/// Triggers `events` events at `args.rate`, at most `args.pool` in flight.
///
/// The schedule is kept even when the server falls behind (missed ticks fire in a burst), so
/// that a slow server sees the load it was offered rather than a politely reduced one.
async fn send_at_rate(
    run: &Run,
    trigger: &Trigger,
    args: &FanOutArgs,
    events: u64,
    epoch: Instant,
    channels: impl Fn(u64) -> Vec<String>,
) -> Sent {
    let accepted = Arc::new(SharedBits::new(events));
    let rest = Arc::new(Mutex::new(histogram()));
    let permits = Arc::new(Semaphore::new(args.pool.max(1)));
    let notes = Arc::new(Mutex::new(Vec::new()));
    let bar = run.bar(events, "triggering");
    // The rate was checked to be within (0, MAX_RATE], so the period is at least 10 µs.
    let period = Duration::try_from_secs_f64(1.0 / args.rate).unwrap_or(Duration::from_secs(1));
    let mut ticks = tokio::time::interval(period.max(Duration::from_micros(1)));
    ticks.set_missed_tick_behavior(MissedTickBehavior::Burst);
    let mut in_flight = JoinSet::new();
    let first_micros = micros_since(epoch);
    let started = Instant::now();
    let mut attempted = 0u64;
    let payload_bytes = usize::try_from(args.payload_bytes).unwrap_or(0);
    for seq in 0..events {
        ticks.tick().await;
        let Ok(permit) = permits.clone().acquire_owned().await else {
            break;
        };
        let (trigger, accepted, rest, notes, bar) = (
            trigger.clone(),
            accepted.clone(),
            rest.clone(),
            notes.clone(),
            bar.clone(),
        );
        let channels = channels(seq);
        attempted += 1;
        in_flight.spawn(async move {
            let t = micros_since(epoch);
            let data = Payload::padded(seq, t, payload_bytes);
            let result = trigger.send(channels, BENCH_EVENT, data).await;
            let took = micros_since(epoch).saturating_sub(t);
            if let Ok(mut h) = rest.lock() {
                h.saturating_record(took.max(1));
            }
            drop(permit);
            bar.inc(1);
            match result {
                Ok(()) => accepted.set(seq),
                Err(e) => {
                    if let Ok(mut n) = notes.lock() {
                        if n.len() < 3 {
                            n.push(format!("trigger {seq}: {e}"));
                        }
                    }
                }
            }
        });
        // Reap finished requests as we go so the set stays small.
        while in_flight.try_join_next().is_some() {}
    }
    while in_flight.join_next().await.is_some() {}
    let took = started.elapsed();
    bar.finish_and_clear();
    let snapshot = accepted.snapshot();
    let ok = (0..events).filter(|&s| snapshot.get(s)).count() as u64;
    let errors = attempted - ok;
    let rest = rest
        .lock()
        .map(|h| h.clone())
        .unwrap_or_else(|_| histogram());
    let notes = notes.lock().map(|n| n.clone()).unwrap_or_default();
    Sent {
        accepted: snapshot,
        ok,
        errors,
        rest,
        first_micros,
        took,
        notes,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn own_channel_shape() {
        let shape = Shape::Own {
            shared: "s".into(),
            prefix: "o-".into(),
            group: 2,
            groups: 3,
        };
        assert_eq!(shape.subscriptions(4), vec!["s", "o-4"]);
        assert_eq!(shape.trigger_channels(0, 5), vec!["s"]);
        assert_eq!(shape.trigger_channels(1, 5), vec!["o-0", "o-1"]);
        assert_eq!(shape.trigger_channels(5, 5), vec!["o-4"]);
        assert_eq!(shape.trigger_channels(7, 5), vec!["o-0", "o-1"]);
        assert!(shape.expects(4, 5) && !shape.expects(3, 5) && shape.expects(3, 6));
    }
}
