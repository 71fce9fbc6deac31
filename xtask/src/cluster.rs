//! The cluster steps of `cargo xtask bench`: `pusherable serve` on one node against two nodes
//! that meet on Redis, under the same load.
//!
//! Both servers serve the same app from a configuration file written to a temporary
//! directory; the two nodes also get a `[cluster]` table naming the Redis server and a prefix
//! of their own, so that nodes of another run, or of a test, on the same Redis server never
//! hear them. The cluster is ready when each node counts two nodes on `/metrics`: only then
//! does a trigger on one reach the other's subscribers.
//!
//! Redis is the machine's (`--redis`, loopback only); it is not started here, and its CPU time
//! is reported apart from the servers' since others may use it at the same time.

use std::fs;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::bench::Server;

/// The machine's Redis, unless `--redis` says otherwise.
pub(crate) const DEFAULT_REDIS: &str = "redis://127.0.0.1:6379";

const APP_ID: &str = "1";
const KEY: &str = "cluster-bench-key";
const SECRET: &str = "cluster-bench-secret";

/// How long the two nodes may take to hear each other; they heartbeat every second.
const MEET_WITHIN: Duration = Duration::from_secs(15);
/// How long one request to a node's `/metrics`, or to Redis, may take.
const ASK_TIMEOUT: Duration = Duration::from_secs(2);

/// The address of a `redis://[USER:PASSWORD@]HOST[:PORT][/DB]` URL, refused unless it is on
/// loopback: the bench runs servers against this machine's Redis only.
pub(crate) fn redis_addr(url: &str) -> Result<SocketAddr, String> {
    let bad = |why: &str| format!("--redis {url:?}: {why}");
    let rest = url
        .strip_prefix("redis://")
        .ok_or_else(|| bad("expected redis://HOST:PORT"))?;
    let authority = rest.split('/').next().unwrap_or_default();
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let (host, port) = match host_port.rsplit_once(':') {
        Some((host, port)) if !port.contains(']') => (
            host,
            port.parse::<u16>()
                .map_err(|_| bad("the port is not a number"))?,
        ),
        _ => (host_port, 6379),
    };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let ip = if host.eq_ignore_ascii_case("localhost") {
        IpAddr::V4(Ipv4Addr::LOCALHOST)
    } else {
        host.parse::<IpAddr>()
            .map_err(|_| bad("the host must be an IP literal or localhost"))?
    };
    if !ip.is_loopback() {
        return Err(bad("not a loopback address"));
    }
    Ok(SocketAddr::new(ip, port))
}

/// Whether something accepts connections at `addr`.
pub(crate) fn listens(addr: SocketAddr) -> bool {
    TcpStream::connect_timeout(&addr, ASK_TIMEOUT).is_ok()
}

/// A prefix no other cluster on the same Redis server uses: this process and the time.
fn fresh_prefix() -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    format!("pusherable-bench-{}-{nanos:x}", std::process::id())
}

/// The configuration of a node: the bench's app, and with `cluster` (a Redis URL and a
/// prefix) the `[cluster]` table that makes it a node of a cluster.
pub(crate) fn config(cluster: Option<(&str, &str)>) -> String {
    let mut text = format!(
        "# Written by `cargo xtask bench` for one step.\n\
         [[apps]]\nid = \"{APP_ID}\"\nkey = \"{KEY}\"\nsecret = \"{SECRET}\"\n"
    );
    if let Some((redis, prefix)) = cluster {
        text.push_str(&format!(
            "\n[cluster]\nredis_url = \"{redis}\"\nprefix = \"{prefix}\"\n"
        ));
    }
    text
}

/// One node on its own and two nodes of a cluster, all started for one step; they are stopped
/// and their directory removed on drop.
pub(crate) struct Servers {
    single: Server,
    nodes: [Server; 2],
    /// Their configuration files; dropped last, once the servers are stopped.
    _dir: Directory,
}

impl Servers {
    /// Starts `pusherable` (the binary) three times, and waits until the two nodes of the
    /// cluster hear each other through `redis`.
    pub(crate) fn start(pusherable: &Path, redis: &str) -> Result<Servers, String> {
        let prefix = fresh_prefix();
        let dir = std::env::temp_dir().join(&prefix);
        fs::create_dir_all(&dir).map_err(|e| format!("create {}: {e}", dir.display()))?;
        // Removed on every way out from here on.
        let dir = Directory(dir);
        let write = |name: &str, text: String| {
            let path = dir.0.join(name);
            fs::write(&path, text).map_err(|e| format!("write {}: {e}", path.display()))?;
            Ok::<PathBuf, String>(path)
        };
        let single_toml = write("single.toml", config(None))?;
        let node_toml = write("node.toml", config(Some((redis, &prefix))))?;
        let serve = |file: &Path| {
            let file = file.to_string_lossy().into_owned();
            Server::start(
                pusherable,
                &["serve", "--config", &file, "--port", "0"],
                "pusherable listening on http://",
            )
        };
        let single = serve(&single_toml)?;
        let nodes = [serve(&node_toml)?, serve(&node_toml)?];
        let deadline = Instant::now() + MEET_WITHIN;
        for node in &nodes {
            let addr = node_addr(node)?;
            while metric(&metrics(addr), "pusherable_cluster_nodes") != Some(2) {
                if Instant::now() >= deadline {
                    return Err(format!(
                        "the two nodes did not meet on {redis} within {} s \
                         (pusherable_cluster_nodes on http://{addr}/metrics)",
                        MEET_WITHIN.as_secs()
                    ));
                }
                // The nodes say nothing when they meet but on /metrics: poll it.
                std::thread::sleep(Duration::from_millis(50));
            }
        }
        Ok(Servers {
            single,
            nodes,
            _dir: dir,
        })
    }

    /// `pusherable-bench` flags for the two servers: `2-nodes` (triggers to the first node,
    /// connections dealt over both, both processes measured) first, so that the ratio column
    /// reads cluster / single node, then `1-node`.
    pub(crate) fn bench_args(&self) -> Result<Vec<String>, String> {
        let [a, b] = &self.nodes;
        let url = |server: &Server| format!("http://{KEY}:{SECRET}@{}/apps/{APP_ID}", server.line);
        Ok(vec![
            "--url".into(),
            format!("2-nodes={}", url(a)),
            "--server-pid".into(),
            format!("2-nodes={}", a.child.id()),
            "--server-pid".into(),
            format!("2-nodes={}", b.child.id()),
            "--node".into(),
            format!("2-nodes={}", node_addr(b)?),
            "--url".into(),
            format!("1-node={}", url(&self.single)),
            "--server-pid".into(),
            format!("1-node={}", self.single.child.id()),
        ])
    }

    /// What each node of the cluster says of its link: messages published to Redis, received
    /// from it, and dropped (a drop would show as a loss in the table).
    pub(crate) fn link_summary(&self) -> Vec<String> {
        self.nodes
            .iter()
            .map(|node| {
                let Ok(addr) = node_addr(node) else {
                    return format!("node {}: no address", node.line);
                };
                let text = metrics(addr);
                let get = |name: &str| {
                    metric(&text, &format!("pusherable_cluster_{name}_total"))
                        .map_or("?".to_owned(), |v| v.to_string())
                };
                format!(
                    "node {addr}: published {}, received {}, dropped {}",
                    get("published"),
                    get("received"),
                    get("dropped")
                )
            })
            .collect()
    }
}

/// A directory of ours, removed when dropped.
struct Directory(PathBuf);

impl Drop for Directory {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

fn node_addr(node: &Server) -> Result<SocketAddr, String> {
    node.line
        .parse()
        .map_err(|_| format!("`{}` is not an address", node.line))
}

/// The text of `GET /metrics` on `addr`, or nothing.
fn metrics(addr: SocketAddr) -> String {
    let Ok(mut stream) = TcpStream::connect_timeout(&addr, ASK_TIMEOUT) else {
        return String::new();
    };
    let _ = stream.set_read_timeout(Some(ASK_TIMEOUT));
    let _ = stream.set_write_timeout(Some(ASK_TIMEOUT));
    let request = format!("GET /metrics HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    let mut text = String::new();
    // The answer is a few KiB; a node that sends more than this is not one of ours.
    let read = stream
        .write_all(request.as_bytes())
        .and_then(|()| (&mut stream).take(1 << 20).read_to_string(&mut text));
    if read.is_ok() {
        text
    } else {
        String::new()
    }
}

/// The value of an unlabelled metric in Prometheus text.
fn metric(text: &str, name: &str) -> Option<u64> {
    text.lines().find_map(|line| {
        let value = line.strip_prefix(name)?.strip_prefix(' ')?;
        value.trim().parse().ok()
    })
}

/// CPU time the Redis server at `addr` has used so far (`used_cpu_sys` + `used_cpu_user` of
/// `INFO cpu`), or `None` when it does not say (a password is needed, say).
pub(crate) fn redis_cpu(addr: SocketAddr) -> Option<Duration> {
    let mut stream = TcpStream::connect_timeout(&addr, ASK_TIMEOUT).ok()?;
    stream.set_read_timeout(Some(ASK_TIMEOUT)).ok()?;
    stream.set_write_timeout(Some(ASK_TIMEOUT)).ok()?;
    stream.write_all(b"INFO cpu\r\n").ok()?;
    let mut reader = BufReader::new(stream);
    let mut header = String::new();
    reader.read_line(&mut header).ok()?;
    let len: u64 = header.trim_end().strip_prefix('$')?.parse().ok()?;
    let mut body = String::new();
    reader
        .take(len.min(1 << 16))
        .read_to_string(&mut body)
        .ok()?;
    cpu_of_info(&body)
}

fn cpu_of_info(info: &str) -> Option<Duration> {
    let field = |name: &str| {
        info.lines()
            .find_map(|l| l.strip_prefix(name)?.strip_prefix(':'))
            .and_then(|v| v.trim().parse::<f64>().ok())
    };
    Duration::try_from_secs_f64(field("used_cpu_sys")? + field("used_cpu_user")?).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redis_on_loopback_only() {
        let ok = |url: &str, addr: &str| {
            assert_eq!(redis_addr(url), Ok(addr.parse().unwrap()), "{url}");
        };
        ok(DEFAULT_REDIS, "127.0.0.1:6379");
        ok("redis://localhost", "127.0.0.1:6379");
        ok("redis://127.0.0.2:7000/3", "127.0.0.2:7000");
        ok("redis://user:pass@[::1]:7001/0", "[::1]:7001");
        ok("redis://[::1]", "[::1]:6379");
        for (url, why) in [
            ("http://127.0.0.1:6379", "expected redis://"),
            ("rediss://127.0.0.1:6379", "expected redis://"),
            ("redis://10.0.0.1:6379", "loopback"),
            ("redis://redis.example:6379", "IP literal"),
            ("redis://127.0.0.1:x", "port"),
        ] {
            let err = redis_addr(url).unwrap_err();
            assert!(err.contains(why), "{url}: {err}");
        }
    }

    #[test]
    fn configs_share_the_app_and_only_nodes_have_a_cluster() {
        let single = config(None);
        let node = config(Some(("redis://127.0.0.1:6379", "p-1")));
        for text in [&single, &node] {
            assert!(text.contains(&format!("key = \"{KEY}\"\n")), "{text}");
            assert!(text.contains(&format!("secret = \"{SECRET}\"\n")), "{text}");
        }
        assert!(!single.contains("[cluster]"), "{single}");
        assert!(
            node.ends_with("[cluster]\nredis_url = \"redis://127.0.0.1:6379\"\nprefix = \"p-1\"\n"),
            "{node}"
        );
        assert_ne!(fresh_prefix(), "");
        let prefix = fresh_prefix();
        assert!(
            prefix.len() <= 64
                && prefix
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(&b)),
            "{prefix}"
        );
    }

    #[test]
    fn reads_metrics_and_redis_info() {
        let text = "# HELP pusherable_cluster_nodes Nodes\n\
                    # TYPE pusherable_cluster_nodes gauge\n\
                    pusherable_cluster_nodes 2\n\
                    pusherable_cluster_nodes_extra 9\n";
        assert_eq!(metric(text, "pusherable_cluster_nodes"), Some(2));
        assert_eq!(metric(text, "pusherable_cluster_published_total"), None);
        let info = "# CPU\r\nused_cpu_sys:1.250000\r\nused_cpu_user:0.750000\r\n\
                    used_cpu_sys_children:9.0\r\n";
        assert_eq!(cpu_of_info(info), Some(Duration::from_secs(2)));
        assert_eq!(cpu_of_info("# CPU\r\n"), None);
    }
}
