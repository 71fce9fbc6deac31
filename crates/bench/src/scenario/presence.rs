//! Presence churn: members join and leave presence channels as fast as the server lets them,
//! while one watcher per channel counts the `member_added` / `member_removed` events.
//!
//! Each join is a new user id (`c{member}-{cycle}`), so every join and every leave must reach
//! the watcher: none is folded into another connection of the same user.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use pusherable_protocol::limits::PRESENCE_MEMBERS_MAX;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::{after, check_connections, check_seconds, Run};
use crate::conn::{Conn, ConnError, Event, Sources};
use crate::record::{histogram, micros_since, per_second, Countdown, Latencies};
use crate::report::Report;
use crate::target::Target;
use crate::BenchError;

/// Options of the `presence` scenario.
#[derive(Debug, Clone, clap::Args)]
pub struct PresenceArgs {
    /// Connections that join and leave over and over.
    #[arg(short, long, default_value_t = 200)]
    pub members: usize,
    /// Members per presence channel; one watcher joins each channel too, and a channel holds
    /// at most 100 users.
    #[arg(long, default_value_t = 50)]
    pub per_channel: usize,
    /// Seconds of churn.
    #[arg(short, long, default_value_t = 10)]
    pub duration: u64,
    /// Upper bound on join/leave cycles per member.
    #[arg(long, default_value_t = 100_000)]
    pub max_cycles: u64,
    /// Seconds to wait for the last member events after the churn.
    #[arg(long, default_value_t = 10)]
    pub drain: u64,
}

/// Send times of the last few joins and leaves of each member, so that a watcher can tell how
/// long a member event took. A watcher more than `RING` cycles behind reads a newer stamp; it
/// would have to lag by several round trips of the same member for that to happen.
const RING: u64 = 16;

struct Shared {
    target: Target,
    stamps: Vec<AtomicU64>,
    /// Member events seen by watchers; the drain waits on this.
    member_events: Countdown,
    added: AtomicU64,
    removed: AtomicU64,
    member_latency: Latencies,
    join_latency: Latencies,
    epoch: Instant,
}

impl Shared {
    fn stamp(&self, member: usize, cycle: u64, leave: bool) -> Option<&AtomicU64> {
        let slot = (member as u64 * RING + cycle % RING) * 2 + u64::from(leave);
        self.stamps.get(usize::try_from(slot).ok()?)
    }

    async fn join(&self, conn: &mut Conn, channel: &str, user_id: &str) -> Result<(), ConnError> {
        conn.join_presence(&self.target, channel, user_id).await
    }

    fn member_event(&self, user_id: &str, leave: bool) {
        let Some((member, cycle)) = parse_member(user_id) else {
            return;
        };
        if leave {
            self.removed.fetch_add(1, Ordering::Relaxed);
        } else {
            self.added.fetch_add(1, Ordering::Relaxed);
        }
        if let Some(sent) = self.stamp(member, cycle, leave) {
            let sent = sent.load(Ordering::Acquire);
            let now = micros_since(self.epoch);
            self.member_latency.record(member, now.saturating_sub(sent));
        }
        self.member_events.add(1);
    }
}

fn parse_member(user_id: &str) -> Option<(usize, u64)> {
    let (member, cycle) = user_id.strip_prefix('c')?.split_once('-')?;
    Some((member.parse().ok()?, cycle.parse().ok()?))
}

/// Runs `presence` against `run.target`.
pub async fn presence(run: &Run, args: &PresenceArgs) -> Result<Report, BenchError> {
    if args.per_channel == 0 || args.per_channel >= PRESENCE_MEMBERS_MAX {
        return Err(BenchError::Args(format!(
            "--per-channel must be 1 to {}: the watcher is a member too",
            PRESENCE_MEMBERS_MAX - 1
        )));
    }
    check_connections(args.members, "--members")?;
    check_seconds(args.duration, "--duration")?;
    check_seconds(args.drain, "--drain")?;
    let mut report = Report::new("presence", &run.target.label);
    report.param("members", args.members);
    report.param("per_channel", args.per_channel);
    report.param("duration_s", args.duration);
    let channels = args.members.div_ceil(args.per_channel).max(1);
    let channel = |g: usize| format!("presence-bench-{}-{g}", run.tag);
    let shared = Arc::new(Shared {
        target: run.target.clone(),
        stamps: (0..args.members as u64 * RING * 2)
            .map(|_| AtomicU64::new(0))
            .collect(),
        member_events: Countdown::new(None),
        added: AtomicU64::new(0),
        removed: AtomicU64::new(0),
        member_latency: Latencies::new(),
        join_latency: Latencies::new(),
        epoch: Instant::now(),
    });
    let sources = Arc::new(Sources::new(&run.target, run.client.source_ips));
    let before = run.sample(&mut report);

    // Watchers first: one per channel, joined before any churn starts.
    let stop = CancellationToken::new();
    let mut watchers = JoinSet::new();
    let (ready_tx, mut ready_rx) = tokio::sync::mpsc::channel::<Result<(), String>>(channels);
    for g in 0..channels {
        let (shared, sources, stop, ready) = (
            shared.clone(),
            sources.clone(),
            stop.clone(),
            ready_tx.clone(),
        );
        let channel = channel(g);
        let node = run.target.node(g);
        watchers.spawn(async move {
            let mut conn = match watcher_join(&shared, &node, &sources, &channel, g).await {
                Ok(conn) => conn,
                Err(e) => {
                    let _ = ready.send(Err(format!("watcher {g}: {e}"))).await;
                    return;
                }
            };
            let _ = ready.send(Ok(())).await;
            loop {
                let event = tokio::select! {
                    () = stop.cancelled() => break,
                    event = conn.next_event() => event,
                };
                match event {
                    Ok(Some(Event::MemberAdded(u))) => shared.member_event(&u, false),
                    Ok(Some(Event::MemberRemoved(u))) => shared.member_event(&u, true),
                    Ok(Some(_)) => {}
                    Ok(None) | Err(_) => break,
                }
            }
        });
    }
    drop(ready_tx);
    let mut watchers_failed = 0u64;
    for _ in 0..channels {
        match ready_rx.recv().await {
            Some(Ok(())) => {}
            Some(Err(e)) => {
                watchers_failed += 1;
                report.note(e);
            }
            None => break,
        }
    }

    // Then every member's connection, before the clock starts.
    let bar = run.bar(args.members as u64, "connecting");
    let permits = Arc::new(Semaphore::new(
        usize::try_from(run.client.connect_concurrency).unwrap_or(64),
    ));
    let mut opening = JoinSet::new();
    for i in 0..args.members {
        let (target, sources, permits, bar) = (
            run.target.node(i),
            sources.clone(),
            permits.clone(),
            bar.clone(),
        );
        opening.spawn(async move {
            let _permit = permits.acquire().await;
            let conn = Conn::open(&target, &sources).await;
            bar.inc(1);
            (i, conn)
        });
    }
    let mut conns = Vec::with_capacity(args.members);
    let mut members_failed = 0u64;
    while let Some(done) = opening.join_next().await {
        match done {
            Ok((i, Ok(conn))) => conns.push((i, conn)),
            Ok((i, Err(e))) => {
                members_failed += 1;
                report.note(format!("member {i}: {e}"));
            }
            Err(e) => {
                members_failed += 1;
                report.note(format!("member task: {e}"));
            }
        }
    }
    bar.finish_and_clear();
    report.count("watchers_failed", watchers_failed);
    report.count("members_failed", members_failed);

    let joins = Arc::new(AtomicU64::new(0));
    let leaves = Arc::new(AtomicU64::new(0));
    let end = after(args.duration);
    let bar = run.bar(args.duration, "churning");
    let started = Instant::now();
    let mut churners = JoinSet::new();
    for (i, conn) in conns {
        let (shared, joins, leaves) = (shared.clone(), joins.clone(), leaves.clone());
        let channel = channel(i / args.per_channel);
        let max_cycles = args.max_cycles;
        churners.spawn(async move {
            churn(&shared, conn, i, &channel, end, max_cycles, &joins, &leaves).await
        });
    }
    let mut ticks = tokio::time::interval(Duration::from_secs(1));
    loop {
        tokio::select! {
            done = churners.join_next() => match done {
                Some(Ok(Err(e))) => report.note(e),
                Some(_) => {}
                None => break,
            },
            _ = ticks.tick() => bar.set_position(started.elapsed().as_secs()),
        }
    }
    let took = started.elapsed();
    bar.finish_and_clear();
    let joins = joins.load(Ordering::SeqCst);
    let leaves = leaves.load(Ordering::SeqCst);
    let goal = joins + leaves;
    let all_in = shared.member_events.wait(goal, after(args.drain)).await;
    let after = run.sample(&mut report);
    stop.cancel();
    while watchers.join_next().await.is_some() {}

    let added = shared.added.load(Ordering::SeqCst);
    let removed = shared.removed.load(Ordering::SeqCst);
    report.count("joins", joins);
    report.count("leaves", leaves);
    report.metric("joins_per_sec", per_second(joins, took), "/s");
    report.metric("leaves_per_sec", per_second(leaves, took), "/s");
    report.count("member_added", added);
    report.count("member_removed", removed);
    report.count(
        "member_events_lost",
        joins.saturating_sub(added) + leaves.saturating_sub(removed),
    );
    report.latencies("join", &shared.join_latency.merged());
    report.latencies("member_event", &shared.member_latency.merged());
    if !all_in {
        report.note(format!(
            "{} member events missing after a {} s drain",
            goal.saturating_sub(added + removed),
            args.drain
        ));
    }
    report.server(before, after, 0);
    Ok(report)
}

async fn watcher_join(
    shared: &Shared,
    node: &Target,
    sources: &Sources,
    channel: &str,
    g: usize,
) -> Result<Conn, ConnError> {
    let mut conn = Conn::open(node, sources).await?;
    shared.join(&mut conn, channel, &format!("w{g}")).await?;
    conn.until_subscribed(|_| {}).await?;
    Ok(conn)
}

/// Joins and leaves until `end` or `max_cycles`; a cycle always ends with a leave, so the
/// watcher's count has a known goal.
#[allow(clippy::too_many_arguments)]
async fn churn(
    shared: &Shared,
    mut conn: Conn,
    member: usize,
    channel: &str,
    end: Instant,
    max_cycles: u64,
    joins: &AtomicU64,
    leaves: &AtomicU64,
) -> Result<(), String> {
    let fail = |e: ConnError| format!("member {member}: {e}");
    let mut join_latency = histogram();
    let mut cycle = 0;
    while cycle < max_cycles && Instant::now() < end {
        let user = format!("c{member}-{cycle}");
        let sent = micros_since(shared.epoch);
        if let Some(stamp) = shared.stamp(member, cycle, false) {
            stamp.store(sent, Ordering::Release);
        }
        shared.join(&mut conn, channel, &user).await.map_err(fail)?;
        conn.until_subscribed(|_| {}).await.map_err(fail)?;
        join_latency.saturating_record(micros_since(shared.epoch).saturating_sub(sent).max(1));
        joins.fetch_add(1, Ordering::SeqCst);
        if let Some(stamp) = shared.stamp(member, cycle, true) {
            stamp.store(micros_since(shared.epoch), Ordering::Release);
        }
        conn.unsubscribe(channel).await.map_err(fail)?;
        leaves.fetch_add(1, Ordering::SeqCst);
        cycle += 1;
    }
    shared.join_latency.absorb(member, &join_latency);
    conn.close().await;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn member_ids() {
        assert_eq!(parse_member("c12-345"), Some((12, 345)));
        assert_eq!(parse_member("w3"), None);
        assert_eq!(parse_member("c1-x"), None);
    }
}
