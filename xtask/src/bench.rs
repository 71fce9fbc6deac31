//! `cargo xtask bench`: pusherable and the bare broadcaster side by side, each step on
//! freshly started servers, so that memory figures start from a clean process. When a sockudo
//! binary is at hand (see [`crate::sockudo`]), sockudo is started afresh for each step too and
//! measured third.
//!
//! The servers are started with their open-file limit raised to the hard limit, and every
//! target is on loopback. Results are printed and written to `target/bench/STEP.json`.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitCode, Stdio};

use crate::sockudo::{self, Sockudo};
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

/// What the command line asks for.
#[derive(Debug, Default, PartialEq, Eq)]
struct Options {
    list: bool,
    quick: bool,
    /// `--sockudo PATH`.
    sockudo: Option<PathBuf>,
    /// `--no-sockudo`: leave sockudo out even when its binary is found.
    no_sockudo: bool,
    /// Step names; every step when empty.
    steps: Vec<String>,
}

fn parse(args: &[String]) -> Result<Options, String> {
    let mut options = Options::default();
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--list" => options.list = true,
            "--quick" => options.quick = true,
            "--no-sockudo" => options.no_sockudo = true,
            "--sockudo" => {
                let path = args
                    .next()
                    .ok_or("--sockudo needs the path of a sockudo binary")?;
                options.sockudo = Some(path.into());
            }
            other => {
                if let Some(path) = other.strip_prefix("--sockudo=") {
                    options.sockudo = Some(path.into());
                } else if other.starts_with("--") {
                    return Err(format!("unknown option `{other}`"));
                } else if STEPS.iter().any(|s| s.name == other) {
                    options.steps.push(other.to_owned());
                } else {
                    return Err(format!(
                        "unknown step `{other}`; `cargo xtask bench --list` shows them"
                    ));
                }
            }
        }
    }
    if options.no_sockudo && options.sockudo.is_some() {
        return Err("--sockudo and --no-sockudo contradict each other".to_owned());
    }
    Ok(options)
}

pub(crate) fn run(args: &[String]) -> ExitCode {
    let options = match parse(args) {
        Ok(options) => options,
        Err(e) => {
            eprintln!("xtask bench: {e}");
            return ExitCode::FAILURE;
        }
    };
    if options.list {
        for step in STEPS {
            println!("{:<22} pusherable-bench {}", step.name, step.args.join(" "));
        }
        return ExitCode::SUCCESS;
    }
    let sockudo = if options.no_sockudo {
        Ok(None)
    } else {
        sockudo::locate(
            options.sockudo.as_deref(),
            std::env::var_os("SOCKUDO_BIN").as_deref(),
            Path::new(sockudo::DEFAULT_BIN),
        )
    };
    let workspace = Workspace::locate();
    match sockudo.and_then(|sockudo| steps(&workspace, &options, sockudo.as_deref())) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xtask bench: {e}");
            ExitCode::FAILURE
        }
    }
}

fn steps(workspace: &Workspace, options: &Options, sockudo: Option<&Path>) -> Result<(), String> {
    tools::run(workspace.cargo().args([
        "build",
        "--profile",
        "bench-release",
        "-p",
        "pusherable-cli",
        "-p",
        "pusherable-bench",
    ]))?;
    if let Some(sockudo) = sockudo {
        println!(
            "with {} ({})",
            sockudo::version(sockudo)?,
            sockudo.display()
        );
    }
    let bin = target_dir(workspace).join("bench-release");
    let out = target_dir(workspace).join("bench");
    std::fs::create_dir_all(&out).map_err(|e| format!("create {}: {e}", out.display()))?;
    for step in STEPS {
        if !options.steps.is_empty() && !options.steps.iter().any(|w| w == step.name) {
            continue;
        }
        println!("== {}", step.name);
        // Each server is stopped when dropped, on every path out of this iteration.
        let pusherable = Server::start(
            &bin.join("pusherable"),
            &["serve", "--port", "0"],
            "  PUSHER_URL=",
        )?;
        let bare = Server::start(
            &bin.join("bare-broadcaster"),
            &["--listen", "127.0.0.1:0"],
            "bare broadcaster listening on ",
        )?;
        let sockudo = sockudo.map(Sockudo::start).transpose()?;
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
            .arg(format!("bare={}", bare.child.id()));
        if let Some(sockudo) = &sockudo {
            bench
                .arg("--url")
                .arg(format!("sockudo={}", sockudo.url()))
                .arg("--server-pid")
                .arg(format!("sockudo={}", sockudo.pid()));
        }
        bench
            .arg("--json")
            .arg(&json)
            .args(if options.quick { step.quick } else { step.args });
        let result = tools::run(&mut bench);
        drop((pusherable, bare, sockudo));
        result?;
    }
    println!("results in {}", out.display());
    Ok(())
}

pub(crate) fn target_dir(workspace: &Workspace) -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR").map_or_else(
        || workspace.root.join("target"),
        |dir| workspace.root.join(dir),
    )
}

/// `sh` running `program` with the open-file limit raised to the hard limit: each connection is
/// a file. `exec` keeps the process id the server's own.
pub(crate) fn with_raised_file_limit(program: &Path) -> Command {
    let mut command = Command::new("sh");
    command
        .arg("-c")
        .arg(r#"ulimit -n "$(ulimit -Hn)" && exec "$0" "$@""#)
        .arg(program);
    command
}

/// A server process this task started, and the part of its banner line we waited for. It is
/// killed on drop.
pub(crate) struct Server {
    pub(crate) child: Child,
    pub(crate) line: String,
}

impl Server {
    /// Starts `program` with the open-file limit raised to the hard limit, and waits for the
    /// stdout line that starts with `prefix` (the rest of it is kept).
    pub(crate) fn start(program: &Path, args: &[&str], prefix: &str) -> Result<Server, String> {
        let mut child = with_raised_file_limit(program)
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
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[cfg(test)]
mod tests {
    use super::{parse, Options};

    fn options(args: &[&str]) -> Result<Options, String> {
        parse(&args.iter().map(|a| a.to_string()).collect::<Vec<_>>())
    }

    #[test]
    fn flags_and_steps() {
        assert_eq!(options(&[]), Ok(Options::default()));
        let o = options(&["--quick", "rest", "--sockudo", "/x/sockudo", "fan-out-1000"]).unwrap();
        assert!(o.quick && !o.list && !o.no_sockudo);
        assert_eq!(o.sockudo.as_deref(), Some("/x/sockudo".as_ref()));
        assert_eq!(o.steps, ["rest", "fan-out-1000"]);
        let o = options(&["--sockudo=/y/sockudo"]).unwrap();
        assert_eq!(o.sockudo.as_deref(), Some("/y/sockudo".as_ref()));
        assert!(options(&["--no-sockudo", "--list"]).unwrap().no_sockudo);
    }

    #[test]
    fn refusals() {
        let refused = |args: &[&str], why: &str| {
            let err = options(args).unwrap_err();
            assert!(err.contains(why), "{args:?}: {err}");
        };
        refused(&["nope"], "unknown step `nope`");
        refused(&["--quik"], "unknown option `--quik`");
        refused(&["--sockudo"], "--sockudo needs");
        refused(&["--sockudo", "s", "--no-sockudo"], "contradict");
    }
}
