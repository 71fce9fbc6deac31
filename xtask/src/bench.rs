//! `cargo xtask bench`: pusherable and the bare broadcaster side by side, each step on
//! freshly started servers, so that memory figures start from a clean process. When a sockudo
//! binary is at hand (see [`crate::sockudo`]), sockudo is started afresh for each step too and
//! measured third. The cluster steps compare pusherable on two nodes that meet on Redis with
//! pusherable on one node instead (see [`crate::cluster`]).
//!
//! The servers are started with their open-file limit raised to the hard limit, and every
//! target is on loopback. Results are printed and written to `target/bench/STEP.json`.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitCode, Stdio};

use crate::cluster;
use crate::sockudo::{self, Sockudo};
use crate::tools::{self, Workspace};

/// One measurement: a name, the servers it measures, and the `pusherable-bench` scenario and
/// flags it runs.
struct Step {
    name: &'static str,
    lineup: Lineup,
    args: &'static [&'static str],
    quick: &'static [&'static str],
}

/// Which servers a step measures side by side.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Lineup {
    /// pusherable, the bare broadcaster and, when its binary is found, sockudo.
    Servers,
    /// pusherable on two nodes of a cluster on Redis, and on one node: triggers go to the
    /// first node, subscribers are dealt over both.
    Cluster,
}

const STEPS: &[Step] = &[
    Step {
        name: "connections-10000",
        lineup: Lineup::Servers,
        args: &["connections", "-c", "10000"],
        quick: &["connections", "-c", "1000"],
    },
    Step {
        name: "fan-out-1000",
        lineup: Lineup::Servers,
        args: &["fan-out", "-c", "1000", "-r", "100", "-d", "20"],
        quick: &["fan-out", "-c", "100", "-r", "100", "-d", "3"],
    },
    Step {
        name: "fan-out-10000",
        lineup: Lineup::Servers,
        args: &["fan-out", "-c", "10000", "-r", "10", "-d", "20"],
        quick: &["fan-out", "-c", "1000", "-r", "10", "-d", "3"],
    },
    Step {
        name: "fan-out-10000-light",
        lineup: Lineup::Servers,
        args: &["fan-out", "-c", "10000", "-r", "2", "-d", "20"],
        quick: &["fan-out", "-c", "1000", "-r", "2", "-d", "3"],
    },
    Step {
        name: "many-channels-10000",
        lineup: Lineup::Servers,
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
    // The same load twice, the second time with ten more connections that stop reading at
    // once: the subscribers' latencies should not tell the two apart.
    Step {
        name: "fan-out-200-4k",
        lineup: Lineup::Servers,
        args: &[
            "fan-out",
            "-c",
            "200",
            "-r",
            "100",
            "-d",
            "20",
            "--payload-bytes",
            "4000",
        ],
        quick: &[
            "fan-out",
            "-c",
            "50",
            "-r",
            "100",
            "-d",
            "3",
            "--payload-bytes",
            "4000",
        ],
    },
    Step {
        name: "fan-out-200-4k-stalled",
        lineup: Lineup::Servers,
        args: &[
            "fan-out",
            "-c",
            "200",
            "-r",
            "100",
            "-d",
            "20",
            "--payload-bytes",
            "4000",
            "--stalled",
            "10",
        ],
        quick: &[
            "fan-out",
            "-c",
            "50",
            "-r",
            "100",
            "-d",
            "3",
            "--payload-bytes",
            "4000",
            "--stalled",
            "2",
        ],
    },
    Step {
        name: "rest",
        lineup: Lineup::Servers,
        args: &["rest", "-d", "10", "--subscribers", "0,100"],
        quick: &["rest", "-d", "2", "--subscribers", "0,100"],
    },
    // Two loads: one that both keep up with, where the figures show what the cluster costs,
    // and one at this kind of machine's limit, where they show what that cost takes away.
    Step {
        name: "cluster-fan-out-1000-light",
        lineup: Lineup::Cluster,
        args: &["fan-out", "-c", "1000", "-r", "20", "-d", "20"],
        quick: &["fan-out", "-c", "100", "-r", "20", "-d", "3"],
    },
    Step {
        name: "cluster-fan-out-1000",
        lineup: Lineup::Cluster,
        args: &["fan-out", "-c", "1000", "-r", "100", "-d", "20"],
        quick: &["fan-out", "-c", "100", "-r", "100", "-d", "3"],
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
    /// `--redis URL`: the Redis server the cluster steps' nodes meet on.
    redis: Option<String>,
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
            "--redis" => {
                let url = args
                    .next()
                    .ok_or("--redis needs a URL, redis://HOST:PORT")?;
                options.redis = Some(url.clone());
            }
            other => {
                if let Some(path) = other.strip_prefix("--sockudo=") {
                    options.sockudo = Some(path.into());
                } else if let Some(url) = other.strip_prefix("--redis=") {
                    options.redis = Some(url.to_owned());
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
    if let Some(url) = &options.redis {
        cluster::redis_addr(url)?;
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
            let against = match step.lineup {
                Lineup::Servers => "",
                Lineup::Cluster => "  (2 nodes on Redis vs 1 node)",
            };
            println!(
                "{:<26} pusherable-bench {}{against}",
                step.name,
                step.args.join(" ")
            );
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
    let redis = options.redis.as_deref().unwrap_or(cluster::DEFAULT_REDIS);
    for step in STEPS {
        if !options.steps.is_empty() && !options.steps.iter().any(|w| w == step.name) {
            continue;
        }
        println!("== {}", step.name);
        let json = out.join(format!("{}.json", step.name));
        let args = if options.quick { step.quick } else { step.args };
        match step.lineup {
            Lineup::Servers => servers_step(&bin, &json, args, sockudo)?,
            Lineup::Cluster => {
                let addr = cluster::redis_addr(redis)?;
                if !cluster::listens(addr) {
                    let why = format!("nothing listens at {redis} (--redis)");
                    // A run of every step still measures what it can without Redis.
                    if options.steps.is_empty() {
                        println!("skipped: {why}");
                        continue;
                    }
                    return Err(format!("{}: {why}", step.name));
                }
                cluster_step(&bin, &json, args, redis)?;
            }
        }
    }
    println!("results in {}", out.display());
    Ok(())
}

/// pusherable, the bare broadcaster and sockudo (when given), started afresh, under `args`.
fn servers_step(
    bin: &Path,
    json: &Path,
    args: &[&str],
    sockudo: Option<&Path>,
) -> Result<(), String> {
    // Each server is stopped when dropped, on every path out of this function.
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
    bench.arg("--json").arg(json).args(args);
    let result = tools::run(&mut bench);
    drop((pusherable, bare, sockudo));
    result
}

/// pusherable on two nodes of a fresh cluster on `redis`, then on one node, under `args`.
fn cluster_step(bin: &Path, json: &Path, args: &[&str], redis: &str) -> Result<(), String> {
    let servers = cluster::Servers::start(&bin.join("pusherable"), redis)?;
    let redis_addr = cluster::redis_addr(redis)?;
    let redis_before = cluster::redis_cpu(redis_addr);
    let mut bench = Command::new(bin.join("pusherable-bench"));
    bench
        .args(servers.bench_args()?)
        .arg("--json")
        .arg(json)
        .args(args);
    let result = tools::run(&mut bench);
    for line in servers.link_summary() {
        println!("  {line}");
    }
    if let (Some(before), Some(after)) = (redis_before, cluster::redis_cpu(redis_addr)) {
        // Not in the table: Redis is the machine's, and others may use it meanwhile.
        println!(
            "  redis at {redis}: {:.2} s of CPU during the step, both runs, anyone's use included",
            after.saturating_sub(before).as_secs_f64()
        );
    }
    drop(servers);
    result
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
        let mut command = with_raised_file_limit(program);
        // pusherable serve reads PUSHERABLE_* over its flags and file (a Redis URL, an app);
        // a step runs on what it passes, whatever the caller's shell exports.
        for (name, _) in std::env::vars_os() {
            if name.to_string_lossy().starts_with("PUSHERABLE_") {
                command.env_remove(name);
            }
        }
        let mut child = command
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
    use super::{parse, Lineup, Options, STEPS};

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
        let o = options(&["--redis", "redis://127.0.0.1:7000", "cluster-fan-out-1000"]).unwrap();
        assert_eq!(o.redis.as_deref(), Some("redis://127.0.0.1:7000"));
        assert_eq!(o.steps, ["cluster-fan-out-1000"]);
        let o = options(&["--redis=redis://localhost"]).unwrap();
        assert_eq!(o.redis.as_deref(), Some("redis://localhost"));
    }

    #[test]
    fn cluster_steps_are_fan_outs_and_names_are_unique() {
        let cluster: Vec<_> = STEPS
            .iter()
            .filter(|s| s.lineup == Lineup::Cluster)
            .collect();
        assert_eq!(cluster.len(), 2);
        for step in cluster {
            assert_eq!(step.args.first(), Some(&"fan-out"), "{}", step.name);
            assert_eq!(step.quick.first(), Some(&"fan-out"), "{}", step.name);
        }
        let names: Vec<_> = STEPS.iter().map(|s| s.name).collect();
        let unique: std::collections::HashSet<_> = names.iter().collect();
        assert_eq!(unique.len(), names.len(), "{names:?}");
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
        refused(&["--redis"], "--redis needs a URL");
        refused(&["--redis", "redis://10.1.2.3:6379"], "loopback");
        refused(&["--redis=127.0.0.1:6379"], "expected redis://");
    }
}
