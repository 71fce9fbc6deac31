//! Settings, from flags or environment variables; every one has a default that runs the demo.

use std::net::SocketAddr;

/// How the newsroom starts. Each flag can also be given as the environment variable named
/// beside it; nothing else changes between running embedded and against another server.
#[derive(Debug, Clone, clap::Parser)]
#[command(
    name = "newsroom",
    about = "A small newsroom CMS with live presence and change notices"
)]
pub struct Settings {
    /// Address to serve the newsroom on; port 0 picks a free one.
    #[arg(long, env = "NEWSROOM_ADDR", default_value = "127.0.0.1:8000")]
    pub addr: SocketAddr,

    /// Database: `sqlite://FILE` (created on first start) or `postgres://USER@HOST/DB`.
    #[arg(
        long,
        env = "DATABASE_URL",
        default_value = "sqlite://newsroom.db",
        hide_env_values = true
    )]
    pub database_url: String,

    /// Where real-time events go: `embedded` (the default: the newsroom's own server, on its own
    /// port), a standalone `pusherable serve` as `http://KEY:SECRET@HOST:PORT/apps/ID`, or hosted
    /// Pusher as `https://KEY:SECRET@api-CLUSTER.pusher.com/apps/ID`.
    #[arg(long, env = "PUSHERABLE_URL", hide_env_values = true)]
    pub pusherable_url: Option<String>,
}

impl Settings {
    /// The demo's defaults with another address and database, as tests start it.
    ///
    /// ```
    /// let settings = newsroom::Settings::new("127.0.0.1:0".parse()?, "sqlite://test.db");
    /// assert!(settings.pusherable_url.is_none());
    /// # Ok::<(), std::net::AddrParseError>(())
    /// ```
    pub fn new(addr: SocketAddr, database_url: &str) -> Self {
        Settings {
            addr,
            database_url: database_url.to_owned(),
            pusherable_url: None,
        }
    }
}
