//! Connections: open many clients as fast as possible, then weigh the server with them.

use tokio::time::Instant;

use super::{check_connections, Run, Subscribers};
use crate::record::per_second;
use crate::report::Report;
use crate::BenchError;

/// Options of the `connections` scenario.
#[derive(Debug, Clone, clap::Args)]
pub struct ConnectionsArgs {
    /// Connections to open.
    #[arg(short, long, default_value_t = 1000)]
    pub connections: usize,
    /// Subscribe each connection to this public channel once it is open (idle otherwise).
    #[arg(long)]
    pub channel: Option<String>,
}

/// Runs `connections` against `run.target`.
///
/// Server memory per connection is (resident memory once every connection is open − before)
/// / open connections, read from `/proc/PID/status` when the target has a pid.
pub async fn connections(run: &Run, args: &ConnectionsArgs) -> Result<Report, BenchError> {
    check_connections(args.connections, "--connections")?;
    let mut report = Report::new("connections", &run.target.label);
    report.param("connections", args.connections);
    if let Some(channel) = &args.channel {
        report.param("channel", channel);
    }
    let channels: Vec<String> = args.channel.iter().cloned().collect();
    let before = run.sample(&mut report);
    let subs = Subscribers::spawn(
        run,
        args.connections,
        |_| channels.clone(),
        0,
        Instant::now(),
    );
    let (live, failed, took) = subs.ready(run.connect_deadline()).await;
    let after = run.sample(&mut report);
    report.count("connections_live", live);
    report.count("connections_failed", failed);
    report.metric("open_all_seconds", took.as_secs_f64(), "s");
    report.metric("connections_per_sec", per_second(live, took), "/s");
    report.latencies("setup", &subs.setup());
    report.server(before, after, live);
    let fleet = subs.finish().await;
    for e in fleet.errors {
        report.note(e);
    }
    Ok(report)
}
