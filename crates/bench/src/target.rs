//! The server under test: where it listens, which app to use, and how to find its process.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

/// Where and as which app the load generator talks to a server.
///
/// Only loopback addresses are accepted: the load this crate produces is meant for a server on
/// the same machine, never for one across a network.
///
/// ```
/// use pusherable_bench::Target;
/// let t = Target::from_url("http://278d425bdf160c739803:7ad3773142a6692b25b8@127.0.0.1:6001/apps/3")?;
/// assert_eq!(t.app_id, "3");
/// assert_eq!(t.addr.port(), 6001);
/// assert!(Target::from_url("http://k:s@10.0.0.1:6001/apps/3").is_err());
/// # Ok::<(), pusherable_bench::TargetError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// A short name for reports, such as `pusherable` or `bare`.
    pub label: String,
    /// The server's address (a loopback address).
    pub addr: SocketAddr,
    /// The app id, used in REST paths.
    pub app_id: String,
    /// The app key, used in the WebSocket path and in signatures.
    pub key: String,
    /// The app secret, used to sign REST requests and presence subscriptions.
    pub secret: String,
    /// Further nodes of the same server (a cluster): connections are dealt over `addr` and
    /// these in turn, while REST requests all go to `addr`, as a load balancer in front of
    /// WebSockets and one app server triggering would do. Each is a loopback address.
    pub nodes: Vec<SocketAddr>,
    /// The server's process ids (one per node), to read its memory and CPU time from `/proc`;
    /// the figures of several processes are summed.
    pub pids: Vec<u32>,
}

/// Why a target was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TargetError {
    /// The URL does not parse, or is not `http://KEY:SECRET@HOST:PORT/apps/ID`.
    #[error("bad target URL {url:?}: {why}")]
    BadUrl {
        /// The URL as given.
        url: String,
        /// What is wrong with it.
        why: &'static str,
    },
    /// The host is not a loopback address.
    #[error("{0} is not a loopback address: the load generator only targets this machine")]
    NotLoopback(String),
    /// A flag needed to build the target is missing.
    #[error("missing --{0} (or give --url)")]
    Missing(&'static str),
    /// A `--server-pid` value is not `[LABEL=]PID`, or names no target.
    #[error("bad --server-pid {0:?}: expected [LABEL=]PID naming a target")]
    BadPid(String),
    /// A `--node` value is not `[LABEL=]HOST:PORT` on loopback, or names no target.
    #[error("bad --node {0:?}: expected [LABEL=]HOST:PORT on loopback, naming a target")]
    BadNode(String),
}

impl Target {
    /// Reads `http://KEY:SECRET@HOST:PORT/apps/ID`; the label is `HOST:PORT`.
    pub fn from_url(url: &str) -> Result<Self, TargetError> {
        let bad = |why| TargetError::BadUrl {
            url: url.to_owned(),
            why,
        };
        let parsed = url::Url::parse(url).map_err(|_| bad("not a URL"))?;
        if parsed.scheme() != "http" {
            return Err(bad("the scheme must be http"));
        }
        let key = decode(parsed.username());
        let secret = decode(parsed.password().unwrap_or(""));
        if key.is_empty() || secret.is_empty() {
            return Err(bad("KEY:SECRET@ is missing"));
        }
        let host = parsed.host_str().ok_or_else(|| bad("no host"))?;
        let port = parsed.port().unwrap_or(80);
        let mut segments = parsed.path_segments().ok_or_else(|| bad("no path"))?;
        let app_id = match (segments.next(), segments.next()) {
            (Some("apps"), Some(id)) if !id.is_empty() => decode(id),
            _ => return Err(bad("the path must be /apps/ID")),
        };
        if segments.any(|s| !s.is_empty()) {
            return Err(bad("the path must be /apps/ID"));
        }
        let ip = loopback(host)?;
        Ok(Target {
            label: SocketAddr::new(ip, port).to_string(),
            addr: SocketAddr::new(ip, port),
            app_id,
            key,
            secret,
            nodes: Vec::new(),
            pids: Vec::new(),
        })
    }

    /// Builds a target from its parts; `host` must name a loopback address.
    pub fn new(
        host: &str,
        port: u16,
        app_id: &str,
        key: &str,
        secret: &str,
    ) -> Result<Self, TargetError> {
        let ip = loopback(host)?;
        Ok(Target {
            label: SocketAddr::new(ip, port).to_string(),
            addr: SocketAddr::new(ip, port),
            app_id: app_id.to_owned(),
            key: key.to_owned(),
            secret: secret.to_owned(),
            nodes: Vec::new(),
            pids: Vec::new(),
        })
    }

    /// How many nodes connections are dealt over: 1 plus [`nodes`](Self::nodes).
    pub fn node_count(&self) -> usize {
        1 + self.nodes.len()
    }

    /// The target as the `i`-th connection sees it: `addr` for the first, then each node in
    /// turn, round and round.
    ///
    /// ```
    /// use pusherable_bench::Target;
    /// let mut t = Target::from_url("http://k:s@127.0.0.1:6001/apps/1")?;
    /// t.nodes.push("127.0.0.1:6002".parse().unwrap());
    /// let ports: Vec<u16> = (0..4).map(|i| t.node(i).addr.port()).collect();
    /// assert_eq!(ports, [6001, 6002, 6001, 6002]);
    /// # Ok::<(), pusherable_bench::TargetError>(())
    /// ```
    pub fn node(&self, i: usize) -> Target {
        let addr = match i % self.node_count() {
            0 => self.addr,
            n => self.nodes.get(n - 1).copied().unwrap_or(self.addr),
        };
        Target {
            addr,
            nodes: Vec::new(),
            ..self.clone()
        }
    }

    /// The WebSocket URL a pusher-js 8 client would open.
    pub fn ws_url(&self) -> String {
        format!(
            "ws://{}/app/{}?protocol=7&client=pusherable-bench&version={}&flash=false",
            self.addr,
            self.key,
            env!("CARGO_PKG_VERSION")
        )
    }

    /// The REST path that triggers an event.
    pub fn events_path(&self) -> String {
        format!("/apps/{}/events", self.app_id)
    }
}

fn decode(s: &str) -> String {
    percent_encoding::percent_decode_str(s)
        .decode_utf8_lossy()
        .into_owned()
}

/// Reads `HOST:PORT` (`127.0.0.2:6001`, `[::1]:6001`, `localhost:6001`) on loopback.
fn loopback_addr(spec: &str) -> Option<SocketAddr> {
    let (host, port) = spec.rsplit_once(':')?;
    let port = port.parse().ok()?;
    if host.is_empty() || (host.contains(':') && !host.starts_with('[')) {
        return None;
    }
    loopback(host).ok().map(|ip| SocketAddr::new(ip, port))
}

/// Splits `LABEL=VALUE`; without `=`, the whole is the value.
fn labelled(spec: &str) -> (Option<&str>, &str) {
    match spec.split_once('=') {
        Some((label, value)) => (Some(label), value),
        None => (None, spec),
    }
}

/// The target `label` names; without a label, the only target.
fn named<'a>(targets: &'a mut [Target], label: Option<&str>) -> Option<&'a mut Target> {
    match label {
        Some(label) => targets.iter_mut().find(|t| t.label == label),
        None if targets.len() == 1 => targets.first_mut(),
        None => None,
    }
}

/// Resolves `host` without DNS: an IP literal or `localhost`, and only on loopback.
fn loopback(host: &str) -> Result<IpAddr, TargetError> {
    let trimmed = host.trim_start_matches('[').trim_end_matches(']');
    let ip = if trimmed.eq_ignore_ascii_case("localhost") {
        IpAddr::V4(Ipv4Addr::LOCALHOST)
    } else {
        trimmed
            .parse::<IpAddr>()
            .map_err(|_| TargetError::NotLoopback(host.to_owned()))?
    };
    if ip.is_loopback() {
        Ok(ip)
    } else {
        Err(TargetError::NotLoopback(host.to_owned()))
    }
}

/// The flags that name the servers under test.
///
/// Give one server with `--host/--port/--app-id/--key/--secret`, or one or more with `--url`;
/// with several, every scenario runs against each in turn and the report puts them side by side.
/// A server of several nodes (a cluster) is one target: its first node's URL, then `--node`
/// for each other node and `--server-pid` for each process.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct TargetArgs {
    /// The server's host: an IP literal on loopback, or `localhost`.
    #[arg(long, default_value = "127.0.0.1")]
    pub host: String,
    /// The server's port.
    #[arg(long, default_value_t = 6001)]
    pub port: u16,
    /// The app id.
    #[arg(long)]
    pub app_id: Option<String>,
    /// The app key.
    #[arg(long)]
    pub key: Option<String>,
    /// The app secret.
    #[arg(long)]
    pub secret: Option<String>,
    /// A server as `[LABEL=]http://KEY:SECRET@HOST:PORT/apps/ID`; repeat to compare servers.
    #[arg(long = "url", value_name = "[LABEL=]URL")]
    pub urls: Vec<String>,
    /// The process id of a server, as `[LABEL=]PID`, to measure its memory and CPU time;
    /// repeat for each process of a server of several nodes (their figures are summed).
    #[arg(long = "server-pid", value_name = "[LABEL=]PID")]
    pub server_pids: Vec<String>,
    /// Another node of a server, as `[LABEL=]HOST:PORT`: connections are dealt over the
    /// server's URL and its nodes in turn; REST requests still go to the URL.
    #[arg(long = "node", value_name = "[LABEL=]HOST:PORT")]
    pub nodes: Vec<String>,
}

impl TargetArgs {
    /// The targets these flags name, in order.
    ///
    /// ```
    /// use pusherable_bench::TargetArgs;
    /// let args = TargetArgs {
    ///     urls: vec!["bare=http://k:s@127.0.0.1:7001/apps/1".into()],
    ///     server_pids: vec!["bare=42".into()],
    ///     ..Default::default()
    /// };
    /// let targets = args.targets()?;
    /// assert_eq!((targets[0].label.as_str(), &targets[0].pids[..]), ("bare", &[42][..]));
    /// # Ok::<(), pusherable_bench::TargetError>(())
    /// ```
    pub fn targets(&self) -> Result<Vec<Target>, TargetError> {
        let mut targets = Vec::new();
        if self.urls.is_empty() {
            let app_id = self
                .app_id
                .as_deref()
                .ok_or(TargetError::Missing("app-id"))?;
            let key = self.key.as_deref().ok_or(TargetError::Missing("key"))?;
            let secret = self
                .secret
                .as_deref()
                .ok_or(TargetError::Missing("secret"))?;
            targets.push(Target::new(&self.host, self.port, app_id, key, secret)?);
        }
        for spec in &self.urls {
            let (label, url) = match spec.split_once('=') {
                Some((label, url)) if !label.contains(':') && !label.contains('/') => {
                    (Some(label), url)
                }
                _ => (None, spec.as_str()),
            };
            let mut target = Target::from_url(url)?;
            if let Some(label) = label {
                label.clone_into(&mut target.label);
            }
            targets.push(target);
        }
        for spec in &self.server_pids {
            let bad = || TargetError::BadPid(spec.clone());
            let (label, pid) = labelled(spec);
            let pid: u32 = pid.parse().map_err(|_| bad())?;
            let target = named(&mut targets, label).ok_or_else(bad)?;
            if !target.pids.contains(&pid) {
                target.pids.push(pid);
            }
        }
        for spec in &self.nodes {
            let bad = || TargetError::BadNode(spec.clone());
            let (label, addr) = labelled(spec);
            let addr = loopback_addr(addr).ok_or_else(bad)?;
            named(&mut targets, label).ok_or_else(bad)?.nodes.push(addr);
        }
        Ok(targets)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        let t = Target::from_url("http://k%2B:s@localhost:7001/apps/app-1/").unwrap();
        assert_eq!(t.key, "k+");
        assert_eq!(t.app_id, "app-1");
        assert_eq!(t.addr, "127.0.0.1:7001".parse().unwrap());
        let t = Target::from_url("http://k:s@[::1]:7001/apps/1").unwrap();
        assert_eq!(t.addr, "[::1]:7001".parse().unwrap());
        for bad in [
            "nonsense",
            "https://k:s@127.0.0.1:1/apps/1",
            "http://127.0.0.1:1/apps/1",
            "http://k@127.0.0.1:1/apps/1",
            "http://k:s@127.0.0.1:1/app/1",
            "http://k:s@127.0.0.1:1/apps/1/events",
            "http://k:s@example.com:1/apps/1",
            "http://k:s@192.168.1.1:1/apps/1",
        ] {
            assert!(Target::from_url(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn flags() {
        let args = TargetArgs {
            host: "127.0.0.1".into(),
            port: 6001,
            ..Default::default()
        };
        assert_eq!(args.targets(), Err(TargetError::Missing("app-id")));
        let args = TargetArgs {
            urls: vec![
                "a=http://k:s@127.0.0.1:1/apps/1".into(),
                "http://k:s@127.0.0.2:2/apps/1".into(),
            ],
            server_pids: vec!["127.0.0.2:2=7".into()],
            ..Default::default()
        };
        let t = args.targets().unwrap();
        assert_eq!(t[0].label, "a");
        assert_eq!(t[1].pids, [7]);
        let args = TargetArgs {
            urls: vec!["http://k:s@127.0.0.1:1/apps/1".into()],
            server_pids: vec!["nobody=7".into()],
            ..Default::default()
        };
        assert!(matches!(args.targets(), Err(TargetError::BadPid(_))));
    }

    #[test]
    fn a_server_of_several_nodes() {
        let args = TargetArgs {
            urls: vec![
                "one=http://k:s@127.0.0.1:1/apps/1".into(),
                "two=http://k:s@127.0.0.1:2/apps/1".into(),
            ],
            server_pids: vec![
                "one=5".into(),
                "two=7".into(),
                "two=8".into(),
                "two=8".into(),
            ],
            nodes: vec!["two=127.0.0.1:3".into(), "two=localhost:4".into()],
            ..Default::default()
        };
        let t = args.targets().unwrap();
        assert_eq!((t[0].pids.as_slice(), t[0].node_count()), (&[5][..], 1));
        assert_eq!(t[1].pids, [7, 8]);
        let ports: Vec<u16> = (0..7).map(|i| t[1].node(i).addr.port()).collect();
        assert_eq!(ports, [2, 3, 4, 2, 3, 4, 2]);
        assert!(t[1].node(1).nodes.is_empty());
        assert_eq!(t[1].node(2).key, "k");

        let one = |node: &str| TargetArgs {
            urls: vec!["http://k:s@127.0.0.1:1/apps/1".into()],
            nodes: vec![node.into()],
            ..Default::default()
        };
        let t = one("[::1]:9").targets().unwrap();
        assert_eq!(t[0].nodes, ["[::1]:9".parse().unwrap()]);
        let t = one("127.0.0.1:1=127.0.0.2:9").targets().unwrap();
        assert_eq!(t[0].nodes, ["127.0.0.2:9".parse().unwrap()]);
        for bad in [
            "10.0.0.1:9",
            "example.com:9",
            "127.0.0.1",
            "127.0.0.1:port",
            "::1:9",
            ":9",
            "nobody=127.0.0.1:9",
        ] {
            assert_eq!(
                one(bad).targets(),
                Err(TargetError::BadNode(bad.into())),
                "{bad}"
            );
        }
    }
}
