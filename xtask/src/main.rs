//! `cargo xtask`: the one place that knows how to build, install test tools and
//! run every test suite of the project.
//!
//! # Layout
//!
//! - `main.rs`: the command line. A new command (`bench`, say) gets its own
//!   module and one arm in [`main`].
//! - `test.rs`: `cargo xtask test`, which runs the suites in order and prints a
//!   summary.
//! - `suites.rs`: the list of suites. A new suite is one entry there.
//! - `bench.rs`: `cargo xtask bench`, which starts `pusherable serve` and the bare
//!   broadcaster afresh for each step and runs `pusherable-bench` against both.
//! - `cluster.rs`: the cluster steps of `cargo xtask bench`: one `pusherable serve` node
//!   against two that meet on the machine's Redis, their configuration and readiness.
//! - `fuzz.rs`: the fuzz targets of `fuzz/` under cargo fuzz, for the `fuzz` suite and
//!   `cargo xtask fuzz`.
//! - `soak.rs`: `cargo xtask soak`, the release server under long traffic and churn, and the
//!   one-minute `soak` suite.
//! - `sockudo.rs`: sockudo as a third server in `cargo xtask bench` when its binary is
//!   found: where it is, its generated configuration, starting it and waiting until it
//!   answers.
//! - `tools.rs`: preparing what suites need (node modules, the Python venv) and
//!   running commands.

mod bench;
mod cluster;
mod fuzz;
mod soak;
mod sockudo;
mod suites;
mod test;
mod tools;

use std::process::ExitCode;

const USAGE: &str = "\
usage: cargo xtask <command>

commands:
  test [SUITE...]   build the server, then run the given suites (all when none is named)
  test --list       list the suites
  bench [--quick] [--sockudo PATH | --no-sockudo] [--redis URL] [STEP...]
                    build in the bench-release profile, then compare `pusherable
                    serve` with the bare broadcaster, and with sockudo when its
                    binary is found, all started afresh for each step (all steps
                    when none is named); JSON in target/bench/. The cluster-*
                    steps compare two nodes on Redis (--redis, default
                    redis://127.0.0.1:6379, loopback only) with one node; they
                    are skipped when nothing listens there, unless named
  bench --list      list the steps
  fuzz [--seconds N] [TARGET...]
                    run the fuzz targets of fuzz/ (all when none is named) for N
                    seconds each (default 300); cargo-fuzz is installed when missing
  soak [--connections N] [--minutes M] [-- FLAGS...]
                    build in the bench-release profile, then hold N connections
                    (default 10000) under traffic and churn for M minutes (default
                    30), reading the server's memory and CPU each minute; FLAGS go
                    to `pusherable bench soak`; JSON in target/soak/
  help              show this text

environment:
  PUSHERABLE_BIN    server binary for the compatibility suites
                    (default: the debug build, built first)
  PYTHON            interpreter used to create the Python venv (default: python3)
  SOCKUDO_BIN       sockudo binary for `bench` when --sockudo is not given
                    (default: /opt/sockudo/bin/sockudo, if it exists)
";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some((command, rest)) = args.split_first() else {
        eprint!("{USAGE}");
        return ExitCode::FAILURE;
    };
    match command.as_str() {
        "test" => test::run(rest),
        "bench" => bench::run(rest),
        "fuzz" => fuzz::run(rest),
        "soak" => soak::run(rest),
        "help" | "-h" | "--help" => {
            print!("{USAGE}");
            ExitCode::SUCCESS
        }
        other => {
            eprintln!("unknown command `{other}`\n");
            eprint!("{USAGE}");
            ExitCode::FAILURE
        }
    }
}
