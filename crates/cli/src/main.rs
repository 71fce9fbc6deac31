//! `pusherable`: run a Pusher-compatible server, and talk to one.
//!
//! ```text
//! pusherable serve --port 6001                       # prints PUSHER_URL for its development app
//! export PUSHER_URL=http://KEY:SECRET@127.0.0.1:6001/apps/1
//! pusherable trigger news --event headline --data '{"title":"Hi"}'
//! pusherable channels --json
//! pusherable channel news --info subscription_count
//! pusherable users presence-room
//! pusherable listen news private-orders presence-room --user-id ada
//! pusherable bench --url "$PUSHER_URL" fan-out --connections 1000
//! ```
//!
//! The REST commands (`trigger`, `channels`, `channel`, `users`) go through
//! `pusherable-client`, and `listen` signs its subscriptions with it, so every signature and
//! name rule comes from `pusherable-protocol`. They work against any Pusher-compatible server,
//! hosted Pusher included. Output is a line or two for a person, or JSON with `--json`;
//! `listen` always prints one JSON frame per line.
//!
//! Exit codes: 0 on success; 1 when the server refused, could not be reached or went away;
//! 2 when the command line, the target or the input was refused before anything was sent.
//! Every failure is one line on stderr, starting with `pusherable: `.
//!
//! # Layout
//!
//! - `serve`: the standalone server, until Ctrl-C or SIGTERM.
//! - `target`: `--url`, `PUSHER_URL` or `--app-id/--key/--secret/--host/…`, turned into a
//!   REST client, and the WebSocket URL of the same app.
//! - `trigger`: one event to one or more channels.
//! - `channels`: the occupied channels, one channel's state, a presence channel's users.
//! - `listen`: a WebSocket client that prints every frame as a JSON line.
//! - `bench`: `pusherable-bench`'s own flags and run function, as a subcommand.
//! - `output`: human and JSON output on stdout.
//! - `failure`: the one-line message and exit code of each failure.
//!
//! The binary allocates with jemalloc (the default `jemalloc` feature): a server that holds
//! thousands of connections while they come and go keeps its memory flat with it, where
//! glibc's malloc lets it creep up for as long as the churn lasts.

#[cfg(feature = "jemalloc")]
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

mod channels;
mod failure;
mod listen;
mod output;
mod serve;
mod target;
mod trigger;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::failure::Failure;

#[derive(Debug, Parser)]
#[command(
    name = "pusherable",
    version,
    about = "A Pusher-protocol-7 server and tools"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run a standalone server (Pusher Channels protocol 7 and REST API).
    Serve(serve::Args),
    /// Send an event to one or more channels.
    Trigger(trigger::Args),
    /// List the occupied channels.
    Channels(channels::ListArgs),
    /// Show whether a channel is occupied, and its attributes.
    Channel(channels::OneArgs),
    /// List the users on a presence channel.
    Users(channels::UsersArgs),
    /// Subscribe to channels over a WebSocket and print each frame as a JSON line.
    Listen(listen::Args),
    /// Load-test a server on this machine (the pusherable-bench scenarios).
    Bench(pusherable_bench::Args),
}

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("PUSHERABLE_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Serve(args) => serve::run(args).await,
        Command::Trigger(args) => trigger::run(args).await,
        Command::Channels(args) => channels::list(args).await,
        Command::Channel(args) => channels::one(args).await,
        Command::Users(args) => channels::users(args).await,
        Command::Listen(args) => listen::run(args).await,
        Command::Bench(args) => pusherable_bench::run(&args)
            .await
            .map(drop)
            .map_err(|e| match e {
                pusherable_bench::BenchError::Target(_) | pusherable_bench::BenchError::Args(_) => {
                    Failure::Usage(e.to_string())
                }
                _ => Failure::Failed(e.to_string()),
            }),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            eprintln!("pusherable: {failure}");
            ExitCode::from(failure.exit_code())
        }
    }
}
