//! `cargo xtask bench`: pusherable and the bare broadcaster side by side, each step on
//! freshly started servers, so that memory figures start from a clean process.
//!
//! The servers are started with their open-file limit raised to the hard limit, and every
//! target is on loopback. Results are printed and written to `target/bench/STEP.json`.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitCode, Stdio};

use crate::tools::{self, Workspace};

/// One measurement: a name, and the `pusherable-bench` scenario and flags it runs.
struct Step {
    name: &'static str,
    args: &'static [&'static str],
    quick: &'static [&'static str],
}

const STEPS: &[Step] = &[
    Step {
        name: "connections-10000",
        args: &["connections", "-c", "10000"],
        quick: &["connections", "-c", "1000"],
    },
    Step {
        name: "fan-out-1000",
        args: &["fan-out", "-c", "1000", "-r", "100", "-d", "20"],
        quick: &["fan-out", "-c", "100", "-r", "100", "-d", "3"],
    },
    Step {
        name: "fan-out-10000",
        args: &["fan-out", "-c", "10000", "-r", "10", "-d", "20"],
        quick: &["fan-out", "-c", "1000", "-r", "10", "-d", "3"],
    },
    Step {
        name: "fan-out-10000-light",
        args: &["fan-out", "-c", "10000", "-r", "2", "-d", "20"],
        quick: &["fan-out", "-c", "1000", "-r", "2", "-d", "3"],
    },
    Step {
        name: "many-channels-10000",
        args: &[
            "many-channels",
            "-c",
            "10000",
            "-r",
            "4",
            "-d",
            "20",
            "--channels-per-trigger",
            "100",
        ],
        quick: &["many-channels", "-c", "1000", "-r", "4", "-d", "3"],
    },
    Step {
        name: "rest",
        args: &["rest", "-d", "10", "--subscribers", "0,100"],
        quick: &["rest", "-d", "2", "--subscribers", "0,100"],
    },
];

pub(crate) fn run(args: &[String]) -> ExitCode {
    if args.iter().any(|a| a == "--list") {
        for step in STEPS {
            println!("{:<22} pusherable-bench {}", step.name, step.args.join(" "));
        }
        return ExitCode::SUCCESS;
    }
    let quick = args.iter().any(|a| a == "--quick");
    let wanted: Vec<&String> = args.iter().filter(|a| !a.starts_with("--")).collect();
    if let Some(unknown) = wanted
        .iter()
        .find(|w| !STEPS.iter().any(|s| s.name == w.as_str()))
    {
        eprintln!("unknown step `{unknown}`; `cargo xtask bench --list` shows them");
        return ExitCode::FAILURE;
    }
    let workspace = Workspace::locate();
    match steps(&workspace, quick, &wanted) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xtask bench: {e}");
            ExitCode::FAILURE
        }
    }
}

fn steps(workspace: &Workspace, quick: bool, wanted: &[&String]) -> Result<(), String> {
    tools::run(workspace.cargo().args([
        "build",
        "--profile",
        "bench-release",
        "-p",
        "pusherable-cli",
        "-p",
        "pusherable-bench",
    ]))?;
    let bin = target_dir(workspace).join("bench-release");
    let out = target_dir(workspace).join("bench");
    std::fs::create_dir_all(&out).map_err(|e| format!("create {}: {e}", out.display()))?;
    for step in STEPS {
        if !wanted.is_empty() && !wanted.iter().any(|w| w.as_str() == step.name) {
            continue;
        }
        println!("== {}", step.name);
        let mut pusherable = Server::start(
            &bin.join("pusherable"),
            &["serve", "--port", "0"],
            "  PUSHER_URL=",
        )?;
        let mut bare = match Server::start(
            &bin.join("bare-broadcaster"),
            &["--listen", "127.0.0.1:0"],
            "bare broadcaster listening on ",
        ) {
            Ok(bare) => bare,
            Err(e) => {
                pusherable.stop();
                return Err(e);
            }
        };
        let bare_url = format!("http://bench:secret@{}/apps/1", bare.line);
        let json = out.join(format!("{}.json", step.name));
        let mut bench = Command::new(bin.join("pusherable-bench"));
        bench
            .arg("--url")
            .arg(format!("pusherable={}", pusherable.line))
            .arg("--server-pid")
            .arg(format!("pusherable={}", pusherable.child.id()))
            .arg("--url")
            .arg(format!("bare={bare_url}"))
            .arg("--server-pid")
            .arg(format!("bare={}", bare.child.id()))
            .arg("--json")
            .arg(&json)
            .args(if quick { step.quick } else { step.args });
        let result = tools::run(&mut bench);
        pusherable.stop();
        bare.stop();
        result?;
    }
    println!("results in {}", out.display());
    Ok(())
}

fn target_dir(workspace: &Workspace) -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR").map_or_else(
        || workspace.root.join("target"),
        |dir| workspace.root.join(dir),
    )
}

/// A server process this task started, and the part of its banner line we waited for.
struct Server {
    child: Child,
    line: String,
}

impl Server {
    /// Starts `program` with the open-file limit raised to the hard limit, and waits for the
    /// stdout line that starts with `prefix` (the rest of it is kept).
    fn start(program: &Path, args: &[&str], prefix: &str) -> Result<Server, String> {
        let mut child = Command::new("sh")
            .arg("-c")
            .arg(r#"ulimit -n "$(ulimit -Hn)" && exec "$0" "$@""#)
            .arg(program)
            .args(args)
            .stdout(Stdio::piped())
            .spawn()
            .map_err(|e| format!("start {}: {e}", program.display()))?;
        let Some(stdout) = child.stdout.take() else {
            let _ = child.kill();
            return Err(format!("no stdout from {}", program.display()));
        };
        let mut lines = BufReader::new(stdout).lines();
        // The banner is a few lines long; a server that says nothing useful in 20 has failed.
        let found = lines
            .by_ref()
            .take(20)
            .map_while(Result::ok)
            .find_map(|l| l.strip_prefix(prefix).map(str::to_owned));
        let Some(line) = found else {
            let _ = child.kill();
            let _ = child.wait();
            return Err(format!("{} printed no `{prefix}` line", program.display()));
        };
        // Keep reading so that a later line never blocks the server on a full pipe.
        std::thread::spawn(move || lines.for_each(drop));
        Ok(Server { child, line })
    }

    fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
