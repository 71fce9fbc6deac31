//! REST: signed trigger requests as fast as the server answers them, with and without
//! subscribers on the channel.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::task::JoinSet;
use tokio::time::Instant;

use super::{after, check_connections, check_receipts, check_seconds, Run, Subscribers};
use crate::conn::{Payload, BENCH_EVENT};
use crate::record::{histogram, micros_since, per_second, SharedBits};
use crate::report::Report;
use crate::trigger::Trigger;
use crate::BenchError;

/// Options of the `rest` scenario.
#[derive(Debug, Clone, clap::Args)]
pub struct RestArgs {
    /// Subscriber counts to run with, one phase each.
    #[arg(long, value_delimiter = ',', default_value = "0,100")]
    pub subscribers: Vec<usize>,
    /// Requests in flight at once (and kept-alive HTTP connections).
    #[arg(long, default_value_t = 8)]
    pub concurrency: usize,
    /// Seconds per phase.
    #[arg(short, long, default_value_t = 10)]
    pub duration: u64,
    /// Upper bound on requests per phase.
    #[arg(long, default_value_t = 1_000_000)]
    pub max_requests: u64,
    /// Seconds to wait for the last deliveries after the last request.
    #[arg(long, default_value_t = 10)]
    pub drain: u64,
}

/// Runs `rest` against `run.target`: one report per subscriber count.
pub async fn rest(run: &Run, args: &RestArgs) -> Result<Vec<Report>, BenchError> {
    check_seconds(args.duration, "--duration")?;
    check_seconds(args.drain, "--drain")?;
    for &subscribers in &args.subscribers {
        check_connections(subscribers, "--subscribers")?;
        check_receipts(subscribers, args.max_requests)?;
    }
    // The accepted-request bits are one per possible request, subscribers or not.
    check_receipts(1, args.max_requests)?;
    let mut reports = Vec::new();
    for &subscribers in &args.subscribers {
        reports.push(phase(run, args, subscribers).await);
    }
    Ok(reports)
}

async fn phase(run: &Run, args: &RestArgs, subscribers: usize) -> Report {
    let mut report = Report::new(
        &format!("rest-{subscribers}-subscribers"),
        &run.target.label,
    );
    report.param("concurrency", args.concurrency);
    report.param("duration_s", args.duration);
    let channel = format!("bench-{}-rest-{subscribers}", run.tag);
    let epoch = Instant::now();
    let subs = Subscribers::spawn(
        run,
        subscribers,
        |_| vec![channel.clone()],
        args.max_requests,
        epoch,
    );
    let (live, failed, _) = subs.ready(run.connect_deadline()).await;
    if subscribers > 0 {
        report.count("subscribers_live", live);
        report.count("subscribers_failed", failed);
    }
    let before = run.sample(&mut report);

    let trigger = Trigger::new(&run.target, args.concurrency);
    let next_seq = Arc::new(AtomicU64::new(0));
    let accepted = Arc::new(SharedBits::new(args.max_requests));
    let errors = Arc::new(AtomicU64::new(0));
    let end = after(args.duration);
    let bar = run.bar(args.duration, "requests");
    let started = Instant::now();
    let mut workers = JoinSet::new();
    for _ in 0..args.concurrency.max(1) {
        let (trigger, next_seq, accepted, errors, channel) = (
            trigger.clone(),
            next_seq.clone(),
            accepted.clone(),
            errors.clone(),
            channel.clone(),
        );
        let max = args.max_requests;
        workers.spawn(async move {
            let mut latency = histogram();
            let mut first_error = None;
            while Instant::now() < end {
                let seq = next_seq.fetch_add(1, Ordering::Relaxed);
                if seq >= max {
                    break;
                }
                let t = micros_since(epoch);
                let result = trigger
                    .send(vec![channel.clone()], BENCH_EVENT, Payload::data(seq, t))
                    .await;
                latency.saturating_record(micros_since(epoch).saturating_sub(t).max(1));
                match result {
                    Ok(()) => accepted.set(seq),
                    Err(e) => {
                        errors.fetch_add(1, Ordering::Relaxed);
                        first_error.get_or_insert_with(|| format!("trigger {seq}: {e}"));
                    }
                }
            }
            (latency, first_error)
        });
    }
    let mut latency = histogram();
    let mut ticks = tokio::time::interval(Duration::from_secs(1));
    loop {
        let done = tokio::select! {
            done = workers.join_next() => done,
            _ = ticks.tick() => {
                bar.set_position(started.elapsed().as_secs());
                continue;
            }
        };
        let Some(done) = done else { break };
        if let Ok((h, first_error)) = done {
            let _ = latency.add(&h);
            if let Some(e) = first_error {
                report.note(e);
            }
        }
    }
    let took = started.elapsed();
    bar.finish_and_clear();
    let sampled = run.sample(&mut report);
    let sent = next_seq.load(Ordering::Relaxed).min(args.max_requests);
    let accepted = accepted.snapshot();
    let ok = (0..sent).filter(|&s| accepted.get(s)).count() as u64;
    report.count("requests", sent);
    report.count("errors", errors.load(Ordering::Relaxed));
    report.metric("requests_per_sec", per_second(ok, took), "/s");
    report.latencies("rest", &latency);

    if subscribers > 0 {
        let goal = ok * live;
        let all_in = subs.drained(goal, after(args.drain)).await;
        let delivered = subs.delivered();
        report.count("deliveries", delivered);
        report.count("deliveries_expected", goal);
        report.latencies("latency", &subs.latency());
        let fleet = subs.finish().await;
        let lost: u64 = fleet
            .receipts
            .iter()
            .map(|(_, r)| {
                (0..sent)
                    .filter(|&s| accepted.get(s) && !r.seen.get(s))
                    .count() as u64
            })
            .sum();
        report.count("lost", lost);
        if !all_in {
            report.note(format!(
                "{} deliveries missing after a {} s drain",
                goal.saturating_sub(delivered),
                args.drain
            ));
        }
        for e in fleet.errors {
            report.note(e);
        }
    } else {
        subs.finish().await;
    }
    if let (Some(b), Some(a)) = (before, sampled) {
        let cpu = a.cpu.saturating_sub(b.cpu);
        report.metric("server_cpu_seconds", cpu.as_secs_f64(), "s");
        if ok > 0 {
            let micros = cpu.as_secs_f64() * 1e6 / ok as f64;
            report.metric("server_cpu_us_per_request", micros, "us");
        }
    }
    report
}
