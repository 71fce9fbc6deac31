//! Bad flags are refused with a typed error before any connection is opened.

use clap::Parser;
use pusherable_bench::scenario::fan_out::{fan_out, FanOutArgs};
use pusherable_bench::scenario::presence::{presence, PresenceArgs};
use pusherable_bench::scenario::rest::{rest, RestArgs};
use pusherable_bench::scenario::soak::{soak, SoakArgs};
use pusherable_bench::scenario::Run;
use pusherable_bench::{BenchError, Command, Target, TargetError};

#[derive(Parser)]
struct Cli {
    #[command(flatten)]
    bench: pusherable_bench::Args,
}

fn nowhere() -> Run {
    // Nothing listens on port 9 (discard) here; validation must fail before connecting.
    Run::new(Target::new("127.0.0.1", 9, "1", "key", "secret").expect("a loopback target"))
}

fn refused(result: Result<impl std::fmt::Debug, BenchError>) -> String {
    match result {
        Err(BenchError::Args(text)) => text,
        other => panic!("expected an argument error, got {other:?}"),
    }
}

#[tokio::test]
async fn out_of_range_scenario_flags() {
    let run = nowhere();
    for args in [
        FanOutArgs {
            rate: 0.0,
            ..Default::default()
        },
        FanOutArgs {
            rate: f64::NAN,
            ..Default::default()
        },
        FanOutArgs {
            rate: 1e300,
            ..Default::default()
        },
        FanOutArgs {
            connections: usize::MAX,
            ..Default::default()
        },
        FanOutArgs {
            duration: u64::MAX,
            ..Default::default()
        },
        FanOutArgs {
            drain: u64::MAX,
            ..Default::default()
        },
        FanOutArgs {
            connections: 1_000_000,
            rate: 100_000.0,
            duration: 86_400,
            max_events: u64::MAX,
            ..Default::default()
        },
    ] {
        let text = refused(fan_out(&run, &args).await);
        assert!(
            text.starts_with("--") || text.contains("too much"),
            "{text}"
        );
    }
    let text = refused(
        presence(
            &run,
            &PresenceArgs {
                members: 10,
                per_channel: 100,
                duration: 1,
                max_cycles: 1,
                drain: 1,
            },
        )
        .await,
    );
    assert!(text.contains("--per-channel"), "{text}");
    let text = refused(
        rest(
            &run,
            &RestArgs {
                subscribers: vec![100],
                concurrency: 1,
                duration: 1,
                max_requests: u64::MAX,
                drain: 1,
            },
        )
        .await,
    );
    assert!(text.contains("too much"), "{text}");
    for (args, flag) in [
        (
            SoakArgs {
                minutes: u64::MAX,
                ..Default::default()
            },
            "--minutes",
        ),
        (
            SoakArgs {
                sample_every: 0,
                ..Default::default()
            },
            "--sample-every",
        ),
        (
            SoakArgs {
                reconnect_percent: f64::NAN,
                ..Default::default()
            },
            "--reconnect-percent",
        ),
        (
            SoakArgs {
                connections: usize::MAX,
                ..Default::default()
            },
            "--connections",
        ),
        // It reads the server's memory, so it needs the server's process id.
        (SoakArgs::default(), "--server-pid"),
    ] {
        let text = refused(soak(&run, &args).await);
        assert!(text.contains(flag), "{text}");
    }
}

#[tokio::test]
async fn a_remote_target_is_refused() {
    let cli = Cli::try_parse_from([
        "bench",
        "--url",
        "http://key:secret@192.0.2.1:6001/apps/1",
        "fan-out",
        "-c",
        "1",
    ])
    .expect("the flags parse");
    assert!(matches!(cli.bench.command, Command::FanOut(_)));
    match pusherable_bench::run(&cli.bench).await {
        Err(BenchError::Target(TargetError::NotLoopback(host))) => assert_eq!(host, "192.0.2.1"),
        other => panic!("expected NotLoopback, got {other:?}"),
    }
}

#[tokio::test]
async fn a_remote_node_is_refused() {
    let cli = Cli::try_parse_from([
        "bench",
        "--url",
        "http://key:secret@127.0.0.1:9/apps/1",
        "--node",
        "192.0.2.1:6001",
        "fan-out",
        "-c",
        "1",
    ])
    .expect("the flags parse");
    match pusherable_bench::run(&cli.bench).await {
        Err(BenchError::Target(TargetError::BadNode(node))) => assert_eq!(node, "192.0.2.1:6001"),
        other => panic!("expected BadNode, got {other:?}"),
    }
}

#[test]
fn flags_parse_for_every_scenario() {
    for line in [
        "bench --app-id 1 --key k --secret s fan-out -c 10 -r 5 -d 1",
        "bench --url a=http://k:s@127.0.0.1:1/apps/1 many-channels -c 10 --channels-per-trigger 5",
        "bench --url http://k:s@127.0.0.1:1/apps/1 --server-pid 4 connections -c 10 --quiet",
        "bench --url http://k:s@127.0.0.1:1/apps/1 rest --subscribers 0,5 --json out.json",
        "bench --url http://k:s@127.0.0.1:1/apps/1 presence -m 10 --per-channel 5 --source-ips 2",
        "bench --url c=http://k:s@127.0.0.1:1/apps/1 --node c=127.0.0.1:2 --server-pid c=4 --server-pid c=5 fan-out",
        "bench --url http://k:s@127.0.0.1:1/apps/1 --server-pid 4 soak -c 100 -m 1 --sample-every 5",
        "bench bare-broadcaster --listen 127.0.0.1:0",
    ] {
        let parsed = Cli::try_parse_from(line.split(' '));
        assert!(parsed.is_ok(), "{line}: {:?}", parsed.err());
    }
    assert!(
        Cli::try_parse_from("bench many-channels --channels-per-trigger 101".split(' ')).is_err()
    );
    assert!(Cli::try_parse_from("bench fan-out --source-ips 0".split(' ')).is_err());
}
