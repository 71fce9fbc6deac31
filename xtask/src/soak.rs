//! `cargo xtask soak`: the release server held under many connections, steady traffic and
//! churn for a long time (`pusherable bench soak`), and the `soak` suite of `cargo xtask test`,
//! a one-minute run of the same against the debug build.
//!
//! The server is started afresh with its open-file limit raised, on a free loopback port, and
//! stopped at the end. The readings and the verdict go to stdout and `target/soak/*.json`.

use std::path::Path;
use std::process::{Command, ExitCode};

use crate::bench::{self, Server};
use crate::tools::{self, Workspace};

/// `pusherable bench soak` flags of the `soak` suite: one minute, a thousand connections, and
/// churn far above the long run's (every connection reconnects and moves twice a minute, a
/// tenth are presence members that come and go every few seconds), so that a leak per
/// connection, subscription or member shows within the minute. Readings every 5 s leave four
/// in each third. Its memory may grow by 10% from the middle third to the last, twice the long
/// run's bound: the process is small and young, and the allocator's jitter is a larger share
/// of it.
const SUITE_FLAGS: &[&str] = &[
    "--connections",
    "1000",
    "--minutes",
    "1",
    "--sample-every",
    "5",
    "--channels",
    "200",
    "--reconnect-percent",
    "200",
    "--move-percent",
    "200",
    "--presence-percent",
    "10",
    "--presence-stay",
    "5",
    "--max-growth-percent",
    "10",
];

/// The `soak` suite, against the debug server that `cargo xtask test` built.
pub(crate) fn suite(workspace: &Workspace) -> Result<(), String> {
    soak(workspace, &workspace.server_binary(), SUITE_FLAGS, "suite")
}

/// What the command line asks for.
#[derive(Debug, PartialEq, Eq)]
struct Options {
    connections: String,
    minutes: String,
    /// Everything after `--`, for `pusherable bench soak`.
    more: Vec<String>,
}

fn parse(args: &[String]) -> Result<Options, String> {
    let mut options = Options {
        connections: "10000".into(),
        minutes: "30".into(),
        more: Vec::new(),
    };
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        let mut value = |flag: &str| {
            args.next()
                .filter(|v| v.parse::<u64>().is_ok())
                .cloned()
                .ok_or(format!("{flag} needs a number"))
        };
        match arg.as_str() {
            "--connections" | "-c" => options.connections = value("--connections")?,
            "--minutes" | "-m" => options.minutes = value("--minutes")?,
            "--" => {
                options.more = args.cloned().collect();
                break;
            }
            other => return Err(format!("unknown option `{other}`")),
        }
    }
    Ok(options)
}

/// `cargo xtask soak [--connections N] [--minutes M] [-- FLAGS...]`.
pub(crate) fn run(args: &[String]) -> ExitCode {
    let options = match parse(args) {
        Ok(options) => options,
        Err(e) => {
            eprintln!("xtask soak: {e}");
            return ExitCode::FAILURE;
        }
    };
    let workspace = Workspace::locate();
    let built = tools::run(workspace.cargo().args([
        "build",
        "--profile",
        "bench-release",
        "-p",
        "pusherable-cli",
    ]));
    let binary = bench::target_dir(&workspace)
        .join("bench-release")
        .join(format!("pusherable{}", std::env::consts::EXE_SUFFIX));
    let mut flags: Vec<&str> = vec![
        "--connections",
        &options.connections,
        "--minutes",
        &options.minutes,
    ];
    flags.extend(options.more.iter().map(String::as_str));
    let name = format!("soak-{}-{}min", options.connections, options.minutes);
    match built.and_then(|()| soak(&workspace, &binary, &flags, &name)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xtask soak: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Starts `binary serve`, then runs `binary bench soak FLAGS` against it; the JSON goes to
/// `target/soak/NAME.json`.
fn soak(workspace: &Workspace, binary: &Path, flags: &[&str], name: &str) -> Result<(), String> {
    let out = bench::target_dir(workspace).join("soak");
    std::fs::create_dir_all(&out).map_err(|e| format!("create {}: {e}", out.display()))?;
    let json = out.join(format!("{name}.json"));
    // Stopped when dropped, on every path out of here.
    let server = Server::start(binary, &["serve", "--port", "0"], "  PUSHER_URL=")?;
    let result = tools::run(
        Command::new(binary)
            .args(["bench", "--quiet", "--url"])
            .arg(&server.line)
            .arg("--server-pid")
            .arg(server.child.id().to_string())
            .arg("--json")
            .arg(&json)
            .arg("soak")
            .args(flags),
    );
    drop(server);
    println!("results in {}", json.display());
    result
}

#[cfg(test)]
mod tests {
    use super::{parse, Options};

    fn options(args: &[&str]) -> Result<Options, String> {
        parse(&args.iter().map(|a| a.to_string()).collect::<Vec<_>>())
    }

    #[test]
    fn flags() {
        let o = options(&[]).unwrap();
        assert_eq!(
            (o.connections.as_str(), o.minutes.as_str()),
            ("10000", "30")
        );
        let o = options(&["--minutes", "10", "-c", "500", "--", "--rate", "5"]).unwrap();
        assert_eq!((o.connections.as_str(), o.minutes.as_str()), ("500", "10"));
        assert_eq!(o.more, ["--rate", "5"]);
        assert!(options(&["--minutes"]).is_err());
        assert!(options(&["--minutes", "ten"]).is_err());
        assert!(options(&["--hours", "1"]).is_err());
    }
}
