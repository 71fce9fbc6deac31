//! Server and app settings: a TOML file, environment variables on top, defaults below.

pub mod bounds;

use std::{net::SocketAddr, path::Path, time::Duration};

use pusherable_protocol::limits;
use serde::Deserialize;

/// Everything a server needs to know before it starts.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Address the standalone server listens on.
    pub host: String,
    /// Port the standalone server listens on; 0 picks a free one.
    pub port: u16,
    /// Mounts every route under this path (for example `/realtime`; pusher-js's `wsPath`).
    pub path_prefix: String,
    /// The apps this server serves.
    pub apps: Vec<AppConfig>,
    /// Largest WebSocket message read from a client, in bytes; larger ones close with 1009.
    pub max_message_bytes: usize,
    /// Bytes that may wait in one connection's outbound queue before the connection is
    /// closed with 4100: a client that cannot keep up is cut off, never buffered without limit.
    pub outbound_budget_bytes: usize,
    /// Seconds that open connections get to close when the server stops.
    pub shutdown_grace_secs: u64,
    /// Seconds to wait for any message after pinging a silent client before closing with 4201.
    pub pong_timeout_secs: u64,
    /// Channels one connection may join at once; past it, subscriptions are refused
    /// (`LimitReached`), so that one client cannot grow the server's memory without bound.
    pub max_subscriptions_per_connection: usize,
    /// Webhook events that may wait per receiver; past it, new ones are dropped and counted.
    pub webhook_queue: usize,
    /// Most WebSocket connection attempts per second from one IP address; 0 means no limit.
    /// Past it, the connection is closed with 4100 (back off, then retry).
    pub max_connection_attempts_per_ip: u32,
    /// Serves the standalone server's `/metrics` on a listener of its own at this address
    /// (for example `127.0.0.1:9601`), and not on the main one.
    pub metrics_addr: Option<SocketAddr>,
    /// Bearer token that `/metrics` asks for (`Authorization: Bearer TOKEN`). Without it (and
    /// without `metrics_addr`), the main listener serves `/metrics` only when it listens on a
    /// loopback address.
    pub metrics_token: Option<String>,
    /// TLS for the standalone server: PEM certificate chain and private key paths.
    pub tls: Option<TlsConfig>,
    /// Several nodes that serve as one: where they meet.
    pub cluster: ClusterConfig,
    /// Serves the live debug console at `{path_prefix}/console`, guarded by each app's secret
    /// or `console_token`. Unset: on for the standalone server, off in an app's own router
    /// ([`crate::Server::router`]).
    pub console: Option<bool>,
}

/// The `[cluster]` table: nodes that share a Redis server serve as one server.
///
/// Without `redis_url`, the server is a single node.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ClusterConfig {
    /// `redis://host:port[/db]` (or `rediss://`); also `PUSHERABLE_REDIS_URL`.
    pub redis_url: Option<String>,
    /// Prefix of the Redis pub/sub channel the nodes talk on: clusters that share a Redis
    /// server need different prefixes.
    pub prefix: String,
    /// Milliseconds between a node's heartbeats.
    pub heartbeat_ms: u64,
    /// Milliseconds without a heartbeat after which a node counts as gone: its connections'
    /// presence members are removed from every node.
    pub node_timeout_ms: u64,
    /// Messages that may wait to be sent to Redis; past it, new ones are dropped and counted
    /// (and the node sends its whole state again once the queue drains).
    pub publish_queue: usize,
}

impl Default for ClusterConfig {
    fn default() -> Self {
        ClusterConfig {
            redis_url: None,
            prefix: "pusherable".into(),
            heartbeat_ms: 1_000,
            node_timeout_ms: 5_000,
            publish_queue: 65_536,
        }
    }
}

/// Certificate and key for `wss://` and `https://`, and how handshakes are held in check.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsConfig {
    /// PEM file with the certificate chain.
    pub cert: std::path::PathBuf,
    /// PEM file with the private key.
    pub key: std::path::PathBuf,
    /// Seconds a client has to finish its TLS handshake before it is disconnected.
    #[serde(default = "TlsConfig::default_handshake_timeout")]
    pub handshake_timeout_secs: u64,
    /// Handshakes in progress at once; past it, new connections wait in the listen backlog,
    /// so that clients that connect and say nothing cannot make the server hold unbounded work.
    #[serde(default = "TlsConfig::default_max_handshakes")]
    pub max_handshakes: usize,
}

impl TlsConfig {
    /// TLS from these PEM files, with the default handshake limits.
    pub fn new(cert: impl Into<std::path::PathBuf>, key: impl Into<std::path::PathBuf>) -> Self {
        TlsConfig {
            cert: cert.into(),
            key: key.into(),
            handshake_timeout_secs: Self::default_handshake_timeout(),
            max_handshakes: Self::default_max_handshakes(),
        }
    }

    fn default_handshake_timeout() -> u64 {
        10
    }

    fn default_max_handshakes() -> usize {
        1024
    }
}

/// One app: its credentials and its switches.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AppConfig {
    /// Numeric id, as the REST API's `/apps/{id}` and the PyPI library require.
    pub id: String,
    /// Public key, used by WebSocket clients in `/app/{key}`.
    pub key: String,
    /// Secret that signs everything.
    pub secret: String,
    /// False turns the app away (4003, 403).
    pub enabled: bool,
    /// Whether clients may send `client-` events.
    pub client_events: bool,
    /// Most connections at once; 0 means no limit. Past it, new connections close with 4004.
    pub max_connections: usize,
    /// Seconds of silence before a ping, announced to clients in `connection_established`.
    pub activity_timeout: u64,
    /// Longest channel name, in characters (Pusher: 164; the official libraries allow 200).
    pub max_channel_name_length: usize,
    /// Largest event `data`, in bytes.
    pub max_event_bytes: usize,
    /// Whether subscribers of non-presence channels get `pusher_internal:subscription_count`
    /// (and `subscription_count` webhooks fire).
    pub subscription_count: bool,
    /// Where to send webhooks.
    pub webhooks: Vec<WebhookConfig>,
    /// Whether one webhook request may carry several events.
    pub webhook_batching: bool,
    /// Most REST requests per second; 0 means no limit. Past it, the API answers 429.
    pub max_rest_requests_per_second: u32,
    /// "Authorized connections": seconds a connection has to sign in (`pusher:signin`) before
    /// it is closed with 4009. Off when absent.
    pub signin_timeout_secs: Option<u64>,
    /// Origins (`scheme://host[:port]`) allowed to open WebSocket connections; empty allows
    /// every origin. Others are closed with 4009.
    pub allowed_origins: Vec<String>,
    /// Opens this app's debug console besides the secret, for someone who may watch and
    /// trigger events without holding the secret that signs everything. 16 to 256 printable
    /// ASCII characters.
    pub console_token: Option<String>,
}

/// One webhook receiver.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WebhookConfig {
    /// The URL that receives `POST` requests.
    pub url: String,
    /// The event kinds to send (`channel_occupied`, `member_added`, …); empty sends all.
    pub event_types: Vec<String>,
    /// Only channels whose name starts with this.
    pub channel_prefix: Option<String>,
    /// Only channels whose name ends with this.
    pub channel_suffix: Option<String>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            host: "127.0.0.1".into(),
            port: 6001,
            path_prefix: String::new(),
            apps: Vec::new(),
            max_message_bytes: limits::WS_MESSAGE_MAX,
            outbound_budget_bytes: 1024 * 1024,
            shutdown_grace_secs: 5,
            pong_timeout_secs: limits::PONG_TIMEOUT_SECS,
            webhook_queue: 10_000,
            max_subscriptions_per_connection: 1_000,
            max_connection_attempts_per_ip: 0,
            metrics_addr: None,
            metrics_token: None,
            tls: None,
            cluster: ClusterConfig::default(),
            console: None,
        }
    }
}

impl Default for AppConfig {
    fn default() -> Self {
        AppConfig {
            id: String::new(),
            key: String::new(),
            secret: String::new(),
            enabled: true,
            client_events: true,
            max_connections: 0,
            activity_timeout: limits::ACTIVITY_TIMEOUT_SECS,
            max_channel_name_length: limits::CHANNEL_NAME_MAX,
            max_event_bytes: limits::EVENT_DATA_MAX,
            subscription_count: false,
            webhooks: Vec::new(),
            webhook_batching: false,
            max_rest_requests_per_second: 0,
            allowed_origins: Vec::new(),
            signin_timeout_secs: None,
            console_token: None,
        }
    }
}

impl AppConfig {
    /// An enabled app with client events on and every limit at Pusher's default.
    ///
    /// ```
    /// let app = pusherable_server::AppConfig::new("3", "278d425bdf160c739803", "7ad3773142a6692b25b8");
    /// assert!(app.client_events);
    /// ```
    pub fn new(id: impl Into<String>, key: impl Into<String>, secret: impl Into<String>) -> Self {
        AppConfig {
            id: id.into(),
            key: key.into(),
            secret: secret.into(),
            ..Default::default()
        }
    }

    /// A development app with a random key and secret.
    pub fn development() -> Self {
        use rand::Rng as _;
        let mut rng = rand::rng();
        let mut token = |n: usize| -> String {
            (0..n)
                .map(|_| format!("{:x}", rng.random_range(0..16u8)))
                .collect()
        };
        let key = token(20);
        let secret = token(20);
        AppConfig::new("1", key, secret)
    }
}

/// Why a configuration was refused.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// What the system said.
        source: std::io::Error,
    },
    /// The file is not valid TOML for a [`Config`].
    #[error("invalid configuration: {0}")]
    Parse(#[from] toml::de::Error),
    /// A value breaks a rule.
    #[error("invalid configuration: {0}")]
    Invalid(String),
}

impl Config {
    /// Reads a TOML file.
    pub fn from_file(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.display().to_string(),
            source,
        })?;
        Self::from_toml(&text)
    }

    /// Parses TOML text.
    ///
    /// ```
    /// let config = pusherable_server::Config::from_toml(r#"
    ///     port = 6001
    ///     [[apps]]
    ///     id = "3"
    ///     key = "278d425bdf160c739803"
    ///     secret = "7ad3773142a6692b25b8"
    ///     client_events = false
    /// "#).unwrap();
    /// assert_eq!(config.apps.len(), 1);
    /// assert!(!config.apps[0].client_events);
    /// ```
    pub fn from_toml(text: &str) -> Result<Self, ConfigError> {
        let config: Config = toml::from_str(text)?;
        config.validate()?;
        Ok(config)
    }

    /// Applies `PUSHERABLE_*` variables from `vars` (usually `std::env::vars()`):
    /// `HOST`, `PORT`, `PATH_PREFIX`, `REDIS_URL`, `CONSOLE` (`true` or `false`), and `APP_ID`,
    /// `APP_KEY`, `APP_SECRET`, `CONSOLE_TOKEN` for the first app (creating it when there is
    /// none).
    pub fn apply_env(
        &mut self,
        vars: impl Iterator<Item = (String, String)>,
    ) -> Result<(), ConfigError> {
        for (name, value) in vars {
            let Some(name) = name.strip_prefix("PUSHERABLE_") else {
                continue;
            };
            match name {
                "HOST" => self.host = value,
                "PORT" => {
                    self.port = value.parse().map_err(|_| {
                        ConfigError::Invalid(format!("PUSHERABLE_PORT={value} is not a port"))
                    })?;
                }
                "PATH_PREFIX" => self.path_prefix = value,
                "REDIS_URL" => self.cluster.redis_url = Some(value).filter(|v| !v.is_empty()),
                "CONSOLE" => {
                    self.console = Some(value.parse().map_err(|_| {
                        ConfigError::Invalid(format!(
                            "PUSHERABLE_CONSOLE={value} is not true or false"
                        ))
                    })?);
                }
                "APP_ID" | "APP_KEY" | "APP_SECRET" | "CONSOLE_TOKEN" => {
                    if self.apps.is_empty() {
                        self.apps.push(AppConfig::default());
                    }
                    let app = &mut self.apps[0];
                    match name {
                        "APP_ID" => app.id = value,
                        "APP_KEY" => app.key = value,
                        "APP_SECRET" => app.secret = value,
                        _ => app.console_token = Some(value).filter(|v| !v.is_empty()),
                    }
                }
                _ => {}
            }
        }
        self.validate()
    }

    /// Checks every rule a running server relies on, and that every number lies in its
    /// range (see [`bounds`]).
    pub fn validate(&self) -> Result<(), ConfigError> {
        let bad = |m: String| Err(ConfigError::Invalid(m));
        // Plain path characters only: the prefix then goes into URLs and pages as it is.
        let path_char = |c: char| c.is_ascii_alphanumeric() || "/-._~".contains(c);
        if !self.path_prefix.is_empty()
            && (!self.path_prefix.starts_with('/')
                || self.path_prefix.ends_with('/')
                || !self.path_prefix.chars().all(path_char))
        {
            return bad(format!(
                "path_prefix {:?} must start with / and not end with /, in letters, digits and /-._~",
                self.path_prefix
            ));
        }
        self.check_numbers()?;
        for (i, app) in self.apps.iter().enumerate() {
            if app.id.is_empty() || !app.id.bytes().all(|b| b.is_ascii_digit()) {
                return bad(format!(
                    "app #{} id {:?} must be digits (the PyPI library requires it)",
                    i + 1,
                    app.id
                ));
            }
            if app.key.is_empty() || app.secret.is_empty() {
                return bad(format!("app {} needs a key and a secret", app.id));
            }
            if app.key.contains(':') || app.key.contains('/') {
                return bad(format!("app {} key must not contain ':' or '/'", app.id));
            }
            if let Some(token) = &app.console_token {
                let printable = token.bytes().all(|b| b.is_ascii_graphic());
                if !bounds::CONSOLE_TOKEN_CHARS.contains(&token.len()) || !printable {
                    return bad(format!(
                        "app {} console_token must be {} to {} printable ASCII characters \
                         without spaces",
                        app.id,
                        bounds::CONSOLE_TOKEN_CHARS.start(),
                        bounds::CONSOLE_TOKEN_CHARS.end()
                    ));
                }
            }
            app.check_numbers(self.outbound_budget_bytes)?;
            for hook in &app.webhooks {
                if !(hook.url.starts_with("http://") || hook.url.starts_with("https://")) {
                    return bad(format!(
                        "app {} webhook url {:?} must be http(s)",
                        app.id, hook.url
                    ));
                }
                for kind in &hook.event_types {
                    if !crate::webhooks::KINDS.contains(&kind.as_str()) {
                        return bad(format!(
                            "app {} webhook event type {kind:?} is unknown",
                            app.id
                        ));
                    }
                }
            }
            for other in &self.apps[..i] {
                if other.id == app.id || other.key == app.key {
                    return bad(format!(
                        "apps {} and {} share an id or a key",
                        other.id, app.id
                    ));
                }
            }
        }
        if let Some(token) = &self.metrics_token {
            let printable = token.bytes().all(|b| b.is_ascii_graphic());
            if !bounds::METRICS_TOKEN_CHARS.contains(&token.len()) || !printable {
                return bad(format!(
                    "metrics_token must be {} to {} printable ASCII characters without spaces",
                    bounds::METRICS_TOKEN_CHARS.start(),
                    bounds::METRICS_TOKEN_CHARS.end()
                ));
            }
        }
        self.cluster.validate()
    }
}

impl ClusterConfig {
    fn validate(&self) -> Result<(), ConfigError> {
        let bad = |m: String| Err(ConfigError::Invalid(m));
        if let Some(url) = &self.redis_url {
            if !(url.starts_with("redis://") || url.starts_with("rediss://")) {
                return bad(format!(
                    "cluster.redis_url {url:?} must start with redis:// or rediss://"
                ));
            }
        }
        let name_ok = |b: u8| b.is_ascii_alphanumeric() || b"-_.:".contains(&b);
        if self.prefix.is_empty() || self.prefix.len() > 64 || !self.prefix.bytes().all(name_ok) {
            return bad(format!(
                "cluster.prefix {:?} must be 1 to 64 letters, digits or -_.:",
                self.prefix
            ));
        }
        if !(50..=60_000).contains(&self.heartbeat_ms) {
            return bad("cluster.heartbeat_ms must be 50 to 60000".into());
        }
        if self.node_timeout_ms < 2 * self.heartbeat_ms || self.node_timeout_ms > 600_000 {
            return bad(
                "cluster.node_timeout_ms must be at least twice heartbeat_ms, and at most 600000"
                    .into(),
            );
        }
        if !(16..=10_000_000).contains(&self.publish_queue) {
            return bad("cluster.publish_queue must be 16 to 10000000".into());
        }
        Ok(())
    }
}

impl Config {
    /// The address the standalone server listens on.
    pub fn listen_addr(&self) -> Result<SocketAddr, ConfigError> {
        let host = if self.host.contains(':') && !self.host.starts_with('[') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        };
        format!("{host}:{}", self.port)
            .parse()
            .map_err(|_| ConfigError::Invalid(format!("host {:?} is not an IP address", self.host)))
    }

    pub(crate) fn shutdown_grace(&self) -> Duration {
        Duration::from_secs(self.shutdown_grace_secs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_overrides_file() {
        let mut c =
            Config::from_toml("port = 7000\n[[apps]]\nid='1'\nkey='k'\nsecret='s'").unwrap();
        let vars = [
            ("PUSHERABLE_PORT", "7001"),
            ("PUSHERABLE_APP_SECRET", "s2"),
            ("PUSHERABLE_CONSOLE", "false"),
            ("PUSHERABLE_CONSOLE_TOKEN", "0123456789abcdef"),
            ("OTHER", "x"),
        ];
        c.apply_env(vars.iter().map(|(a, b)| (a.to_string(), b.to_string())))
            .unwrap();
        assert_eq!(c.port, 7001);
        assert_eq!(c.apps[0].secret, "s2");
        assert_eq!(c.console, Some(false));
        assert_eq!(c.apps[0].console_token.as_deref(), Some("0123456789abcdef"));
    }

    #[test]
    fn bad_configs_are_explained() {
        for (toml, needle) in [
            ("[[apps]]\nid='abc'\nkey='k'\nsecret='s'", "digits"),
            ("[[apps]]\nid='1'\nkey=''\nsecret='s'", "key and a secret"),
            (
                "[[apps]]\nid='1'\nkey='k'\nsecret='s'\n[[apps]]\nid='1'\nkey='j'\nsecret='s'",
                "share",
            ),
            ("path_prefix='x/'", "path_prefix"),
            ("path_prefix='/a\"b'", "path_prefix"),
            ("[cluster]\nredis_url='http://x'", "redis://"),
            (
                "[cluster]\nheartbeat_ms=1000\nnode_timeout_ms=1500",
                "twice",
            ),
            ("[cluster]\nprefix='a b'", "prefix"),
            (
                "[[apps]]\nid='1'\nkey='k'\nsecret='s'\nconsole_token='short'",
                "console_token",
            ),
            ("bogus=1", "unknown field"),
            ("metrics_token='short'", "metrics_token must be 16 to 256"),
            ("metrics_token='a token with spaces'", "without spaces"),
            (
                "outbound_budget_bytes=16384\n[[apps]]\nid='1'\nkey='k'\nsecret='s'\nmax_event_bytes=10000",
                "app 1: max_event_bytes = 10000 must be at most half of outbound_budget_bytes",
            ),
        ] {
            let err = Config::from_toml(toml).unwrap_err().to_string();
            assert!(err.contains(needle), "{err}");
        }
    }
}
