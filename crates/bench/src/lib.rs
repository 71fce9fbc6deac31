//! Load generator for any Pusher-compatible server, and a bare broadcaster to compare against.
//!
//! `pusherable bench` (or this crate's own `pusherable-bench` binary) opens thousands of cheap
//! WebSocket clients on this machine, triggers events over the signed REST API, and reports
//! deliveries per second, end-to-end latency, lost messages, and the server's memory and CPU
//! time. Give it several servers and it runs the same scenario against each, side by side.
//!
//! Scenarios:
//!
//! - `fan-out`: C connections on one public channel, events triggered at rate R.
//! - `many-channels`: C connections each on its own channel plus one shared channel.
//! - `connections`: open C clients as fast as possible; time it, and weigh each on the server.
//! - `rest`: signed trigger requests per second, with 0 and with 100 subscribers.
//! - `presence`: joins and leaves per second on presence channels, member events counted.
//! - `soak`: many connections held for a long time under steady traffic and churn, the
//!   server's memory and CPU read every minute, and a verdict on whether memory stayed flat.
//!
//! A server of several nodes (a cluster) is one target: REST requests go to its URL, its
//! connections are dealt over the URL's node and each `--node` in turn, and the memory and CPU
//! time of all its processes (`--server-pid`, repeated) are summed.
//!
//! Every event carries its sequence number and send time; every connection counts which
//! sequence numbers it received, so a loss on one connection is never hidden by a duplicate on
//! another. Only loopback addresses are ever targeted, and every loop is bounded in count and
//! in time.
//!
//! # Layout
//!
//! - [`target`]: the server under test (address, other nodes, app credentials, process ids)
//!   and its flags.
//! - `conn`: one client connection (small buffers, bound to one of several loopback source
//!   addresses), and the few frames the scenarios read.
//! - `trigger`: signed REST triggers over a small kept-alive HTTP/1.1 pool.
//! - `record`: receipts, latency histograms, and counters that can be waited on.
//! - [`scenario`]: one module per scenario, plus the fleet of subscribers they share.
//! - [`report`]: results, the side-by-side table and the JSON file.
//! - [`process`]: resident memory and CPU time of the server's processes from `/proc`.
//! - [`bare`]: the bare broadcaster, the ceiling of the machine.
//!
//! ```no_run
//! use clap::Parser;
//!
//! #[derive(Parser)]
//! struct Cli {
//!     #[command(flatten)]
//!     bench: pusherable_bench::Args,
//! }
//!
//! # async fn main_() -> Result<(), pusherable_bench::BenchError> {
//! let cli = Cli::parse();
//! let reports = pusherable_bench::run(&cli.bench).await?;
//! assert!(!reports.is_empty());
//! # Ok(()) }
//! ```

pub mod bare;
mod conn;
pub mod process;
mod record;
pub mod report;
pub mod scenario;
pub mod target;
mod trigger;

use std::path::PathBuf;

pub use conn::ConnError;
pub use report::Report;
pub use target::{Target, TargetArgs, TargetError};
pub use trigger::TriggerError;

use scenario::{
    connections::ConnectionsArgs,
    fan_out::{FanOutArgs, ManyChannelsArgs},
    presence::PresenceArgs,
    rest::RestArgs,
    soak::SoakArgs,
    ClientArgs, Run,
};

/// The flags of `pusherable bench`.
#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    /// The servers under test.
    #[command(flatten)]
    pub target: TargetArgs,
    /// How client connections are opened.
    #[command(flatten)]
    pub client: ClientArgs,
    /// Also write the results as JSON to this file.
    #[arg(long, global = true)]
    pub json: Option<PathBuf>,
    /// No progress bars on stderr.
    #[arg(long, short, global = true)]
    pub quiet: bool,
    /// What to run.
    #[command(subcommand)]
    pub command: Command,
}

/// A scenario, or the bare broadcaster.
#[derive(Debug, Clone, clap::Subcommand)]
pub enum Command {
    /// C connections on one channel; events triggered over REST at rate R.
    FanOut(FanOutArgs),
    /// C connections each on its own channel plus one shared channel.
    ManyChannels(ManyChannelsArgs),
    /// Open C connections as fast as possible; server memory per idle connection.
    Connections(ConnectionsArgs),
    /// Signed trigger requests per second, with 0 and with 100 subscribers.
    Rest(RestArgs),
    /// Presence joins and leaves per second, with member events delivered.
    Presence(PresenceArgs),
    /// Hold N connections for M minutes under traffic and churn; memory must stay flat.
    Soak(SoakArgs),
    /// Run the bare broadcaster (the machine's ceiling) until interrupted.
    BareBroadcaster(bare::BareArgs),
}

/// Why a run failed as a whole (problems of single connections or requests are counted in
/// the report instead).
#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    /// A target flag is wrong.
    #[error(transparent)]
    Target(#[from] TargetError),
    /// A scenario flag is wrong.
    #[error("{0}")]
    Args(String),
    /// The bare broadcaster could not start.
    #[error(transparent)]
    Bare(#[from] bare::BareError),
    /// The JSON file could not be written.
    #[error("write {0}: {1}")]
    Json(PathBuf, std::io::Error),
    /// A scenario that checks something (the soak) found it broken; the reports were printed.
    #[error("{0}")]
    Failed(String),
}

/// Runs what `args` asks for, prints the table on stdout and writes the JSON file if asked.
///
/// The open-file limit is raised to its hard limit first, since each connection is a file.
pub async fn run(args: &Args) -> Result<Vec<Report>, BenchError> {
    // Running with the soft limit is still useful, just for fewer connections.
    let _ = rlimit::increase_nofile_limit(u64::MAX);
    if let Command::BareBroadcaster(bare_args) = &args.command {
        let bare = bare::spawn(bare_args.listen).await?;
        println!(
            "bare broadcaster on {}: any app id, key and secret, e.g. http://key:secret@{}/apps/1",
            bare.local_addr(),
            bare.local_addr()
        );
        let _ = tokio::signal::ctrl_c().await;
        bare.shutdown().await;
        return Ok(Vec::new());
    }
    let mut reports = Vec::new();
    for target in args.target.targets()? {
        let mut run = Run::new(target);
        run.client = args.client.clone();
        run.progress = !args.quiet;
        reports.extend(scenario(&run, &args.command).await?);
    }
    print!("{}", report::table(&reports));
    if let Some(path) = &args.json {
        let json = serde_json::to_vec_pretty(&reports)
            .map_err(|e| BenchError::Json(path.clone(), e.into()))?;
        std::fs::write(path, json).map_err(|e| BenchError::Json(path.clone(), e))?;
    }
    let failures: Vec<String> = reports
        .iter()
        .flat_map(|r| {
            r.failures
                .iter()
                .map(|f| format!("{} [{}]: {f}", r.scenario, r.target))
        })
        .collect();
    if !failures.is_empty() {
        return Err(BenchError::Failed(failures.join("; ")));
    }
    Ok(reports)
}

/// Runs one scenario against one target.
pub async fn scenario(run: &Run, command: &Command) -> Result<Vec<Report>, BenchError> {
    Ok(match command {
        Command::FanOut(a) => vec![scenario::fan_out::fan_out(run, a).await?],
        Command::ManyChannels(a) => vec![scenario::fan_out::many_channels(run, a).await?],
        Command::Connections(a) => vec![scenario::connections::connections(run, a).await?],
        Command::Rest(a) => scenario::rest::rest(run, a).await?,
        Command::Presence(a) => vec![scenario::presence::presence(run, a).await?],
        Command::Soak(a) => vec![scenario::soak::soak(run, a).await?],
        Command::BareBroadcaster(_) => Vec::new(),
    })
}
