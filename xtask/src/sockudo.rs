//! sockudo as a third server in `cargo xtask bench`, when a sockudo binary is on this machine.
//!
//! pusherable never builds or ships sockudo: the runner starts a binary it is pointed at
//! (`--sockudo PATH`, else `SOCKUDO_BIN`, else [`DEFAULT_BIN`] when it exists). Each step gets
//! a fresh process, started from a configuration file generated in its own temporary
//! directory, on a free loopback port, with its open-file limit raised like the other servers.
//! It is ready when `GET /up/APP_ID` answers 200, which also proves that it read our file:
//! sockudo falls back to its defaults (port 6001, no app) when a `--config` file does not load.
//!
//! The configuration keeps sockudo's defaults except where one would make the comparison
//! unfair; [`config`] says why for each.

use std::ffi::OsStr;
use std::fs::{self, File};
use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Where `cargo install sockudo --root /opt/sockudo` puts the binary.
pub(crate) const DEFAULT_BIN: &str = "/opt/sockudo/bin/sockudo";

const APP_ID: &str = "1";
const KEY: &str = "sockudo-bench-key";
const SECRET: &str = "sockudo-bench-secret";

/// How long sockudo may take to answer its health check; it starts in well under a second.
const READY_WITHIN: Duration = Duration::from_secs(30);

/// The sockudo binary to include: `flag` (`--sockudo PATH`) first, then `env` (`SOCKUDO_BIN`),
/// then `default` if something is there. A path that was asked for and is missing is an error
/// rather than a run without sockudo. The result is absolute, since sockudo runs in its own
/// directory.
pub(crate) fn locate(
    flag: Option<&Path>,
    env: Option<&OsStr>,
    default: &Path,
) -> Result<Option<PathBuf>, String> {
    let (path, asked) = match (flag, env) {
        (Some(flag), _) => (flag, "--sockudo"),
        (None, Some(env)) => (Path::new(env), "SOCKUDO_BIN"),
        (None, None) if default.exists() => (default, "the default location"),
        (None, None) => return Ok(None),
    };
    let found = fs::canonicalize(path)
        .map_err(|e| format!("sockudo binary {} ({asked}): {e}", path.display()))?;
    if found.is_file() {
        Ok(Some(found))
    } else {
        Err(format!(
            "sockudo binary {} ({asked}) is not a file",
            path.display()
        ))
    }
}

/// The version line sockudo prints, such as `sockudo 5.2.0`, for the run's record.
pub(crate) fn version(bin: &Path) -> Result<String, String> {
    let out = Command::new(bin)
        .arg("--version")
        .output()
        .map_err(|e| format!("run {} --version: {e}", bin.display()))?;
    if !out.status.success() {
        return Err(format!(
            "{} --version failed ({})",
            bin.display(),
            out.status
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

/// The configuration file for a sockudo listening on `127.0.0.1:port`.
pub(crate) fn config(port: u16) -> String {
    format!(
        r#"# Written by `cargo xtask bench` for one step.
host = "127.0.0.1"
port = {port}
debug = false

[app_manager]
driver = "memory"

[[app_manager.array.apps]]
id = "{APP_ID}"
key = "{KEY}"
secret = "{SECRET}"
enabled = true
# No connection quota: the steps open up to 10,000 connections to one app, as they do on
# pusherable and the bare broadcaster.
max_connections = 0

# One process, as pusherable serve is: no cluster fan-out.
[adapter]
driver = "local"

[cache]
driver = "memory"

# The default queue is Redis, for webhooks; no webhook is configured, and the machine's Redis
# is no part of the comparison.
[queue]
driver = "none"

# The default limits are 20 WebSocket connections and 100 REST requests a minute per address,
# which every step exceeds; pusherable serve and the bare broadcaster have no such limits.
[rate_limiter]
enabled = false

# pusherable serve and the bare broadcaster keep no Prometheus counters; the default would
# also open a second listener on 0.0.0.0:9601.
[metrics]
enabled = false
"#
    )
}

/// A sockudo process started for one step; it is killed, and its directory removed, on drop.
pub(crate) struct Sockudo {
    child: Child,
    /// The temporary directory with its configuration and log, and its working directory so
    /// that no `config/config.toml` of the caller's directory is read.
    dir: PathBuf,
    url: String,
}

impl Sockudo {
    /// Starts `bin` (its open-file limit raised to the hard limit) and waits until it answers.
    pub(crate) fn start(bin: &Path) -> Result<Sockudo, String> {
        let port = free_port()?;
        let dir = std::env::temp_dir().join(format!(
            "pusherable-bench-sockudo-{}-{port}",
            std::process::id()
        ));
        fs::create_dir_all(&dir).map_err(|e| format!("create {}: {e}", dir.display()))?;
        let file = dir.join("sockudo.toml");
        fs::write(&file, config(port)).map_err(|e| format!("write {}: {e}", file.display()))?;
        let log_path = dir.join("sockudo.log");
        let log =
            File::create(&log_path).map_err(|e| format!("create {}: {e}", log_path.display()))?;
        let log_err = log
            .try_clone()
            .map_err(|e| format!("open {}: {e}", log_path.display()))?;
        let child = crate::bench::with_raised_file_limit(bin)
            .arg("--config")
            .arg(&file)
            .current_dir(&dir)
            // sockudo reads dozens of variables (HOST, PORT, REDIS_URL, DEBUG, ...) over its
            // file; a clean environment (but for PATH, to find `sh`) keeps the run to the file
            // above. Its default log level, info, writes a line per subscription; pusherable
            // serve logs none.
            .env_clear()
            .envs(std::env::var_os("PATH").map(|path| ("PATH", path)))
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(log_err)
            .spawn()
            .map_err(|e| format!("start {}: {e}", bin.display()))?;
        let mut sockudo = Sockudo {
            child,
            dir,
            url: format!("http://{KEY}:{SECRET}@127.0.0.1:{port}/apps/{APP_ID}"),
        };
        let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
        let exited = || match sockudo.child.try_wait() {
            Ok(status) => status.map(|s| s.to_string()),
            Err(e) => Some(e.to_string()),
        };
        match wait_until_up(addr, READY_WITHIN, exited) {
            Ok(()) => Ok(sockudo),
            Err(e) => {
                // Dropped, sockudo is killed; its directory stays, for the log the error names.
                sockudo.dir = PathBuf::new();
                Err(format!("sockudo {e}; its log is {}", log_path.display()))
            }
        }
    }

    /// `http://KEY:SECRET@127.0.0.1:PORT/apps/ID`, as `pusherable-bench --url` takes it.
    pub(crate) fn url(&self) -> &str {
        &self.url
    }

    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Sockudo {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if !self.dir.as_os_str().is_empty() {
            let _ = fs::remove_dir_all(&self.dir);
        }
    }
}

/// A loopback port nobody listens on right now. Another process could take it before sockudo
/// binds it; sockudo then exits, and [`wait_until_up`] says so.
fn free_port() -> Result<u16, String> {
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .and_then(|listener| listener.local_addr())
        .map(|addr| addr.port())
        .map_err(|e| format!("find a free port: {e}"))
}

/// Polls `GET /up/APP_ID` on `addr` until it answers 200, the process exits (`exited` returns
/// how), or `within` has passed.
fn wait_until_up(
    addr: SocketAddr,
    within: Duration,
    mut exited: impl FnMut() -> Option<String>,
) -> Result<(), String> {
    let deadline = Instant::now() + within;
    loop {
        if let Some(how) = exited() {
            return Err(format!("exited ({how}) before answering on {addr}"));
        }
        if answers_ok(addr) {
            return Ok(());
        }
        if Instant::now() >= deadline {
            return Err(format!(
                "did not answer GET /up/{APP_ID} on {addr} with 200 within {} s",
                within.as_secs()
            ));
        }
        // No readiness signal but the port itself: poll it.
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn answers_ok(addr: SocketAddr) -> bool {
    let wait = Duration::from_secs(1);
    let Ok(mut stream) = TcpStream::connect_timeout(&addr, wait) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(wait));
    let _ = stream.set_write_timeout(Some(wait));
    let request = format!("GET /up/{APP_ID} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    let mut status = [0_u8; 12];
    stream.write_all(request.as_bytes()).is_ok()
        && stream.read_exact(&mut status).is_ok()
        && status[8..] == *b" 200"
        && status.starts_with(b"HTTP/1.")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_listens_on_loopback_with_one_app_and_no_limits() {
        let config = config(16001);
        let has = |section: &str, lines: &[&str]| {
            let body = match section {
                "" => config.as_str(),
                _ => config
                    .split(&format!("\n[{section}]\n"))
                    .nth(1)
                    .unwrap_or_else(|| panic!("no [{section}] in\n{config}")),
            };
            let body = body.split("\n[").next().unwrap_or_default();
            for line in lines {
                assert!(
                    body.lines().any(|l| l == *line),
                    "[{section}] lacks `{line}`"
                );
            }
        };
        has("", &["host = \"127.0.0.1\"", "port = 16001"]);
        has(
            "[app_manager.array.apps]",
            &[
                &format!("id = \"{APP_ID}\""),
                &format!("key = \"{KEY}\""),
                &format!("secret = \"{SECRET}\""),
                "enabled = true",
                "max_connections = 0",
            ],
        );
        has("adapter", &["driver = \"local\""]);
        has("queue", &["driver = \"none\""]);
        has("rate_limiter", &["enabled = false"]);
        has("metrics", &["enabled = false"]);
    }

    #[test]
    fn locate_prefers_the_flag_then_the_environment_then_the_default() {
        let dir = std::env::temp_dir().join(format!("xtask-locate-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let [flag, env, default] = ["flag", "env", "default"].map(|name| {
            let path = dir.join(name);
            fs::write(&path, "").unwrap();
            fs::canonicalize(path).unwrap()
        });
        let missing = dir.join("missing");
        let found = |f: Option<&Path>, e: Option<&Path>, d: &Path| {
            locate(f, e.map(Path::as_os_str), d)
                .map(|p| p.map(|p| p.file_name().unwrap().to_owned()))
        };
        assert_eq!(
            found(Some(&flag), Some(&env), &default),
            Ok(Some("flag".into()))
        );
        assert_eq!(found(None, Some(&env), &default), Ok(Some("env".into())));
        assert_eq!(found(None, None, &default), Ok(Some("default".into())));
        assert_eq!(found(None, None, &missing), Ok(None));
        let asked_for = found(Some(&missing), None, &default).unwrap_err();
        assert!(asked_for.contains("--sockudo"), "{asked_for}");
        let asked_for = found(None, Some(&missing), &default).unwrap_err();
        assert!(asked_for.contains("SOCKUDO_BIN"), "{asked_for}");
        let not_a_file = found(Some(&dir), None, &default).unwrap_err();
        assert!(not_a_file.contains("not a file"), "{not_a_file}");
        fs::remove_dir_all(&dir).unwrap();
    }

    /// Answers each connection with the next status line of `statuses`.
    fn server(statuses: &'static [&'static str]) -> SocketAddr {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
        let addr = listener.local_addr().unwrap();
        std::thread::spawn(move || {
            for (status, stream) in statuses.iter().zip(listener.incoming()) {
                let mut stream = stream.unwrap();
                let mut request = [0_u8; 1024];
                let n = stream.read(&mut request).unwrap();
                assert!(request[..n].starts_with(b"GET /up/1 HTTP/1.1\r\n"));
                write!(stream, "{status}\r\ncontent-length: 0\r\n\r\n").unwrap();
            }
        });
        addr
    }

    #[test]
    fn ready_once_the_health_check_answers_200() {
        let addr = server(&["HTTP/1.1 503 Service Unavailable", "HTTP/1.1 200 OK"]);
        assert_eq!(wait_until_up(addr, READY_WITHIN, || None), Ok(()));
    }

    #[test]
    fn not_ready_when_the_process_exits() {
        let addr = server(&[]);
        let err = wait_until_up(addr, READY_WITHIN, || Some("exit status: 1".into())).unwrap_err();
        assert!(err.contains("exited (exit status: 1)"), "{err}");
    }
}
