//! A standalone server with the test app, on a port the system picks.

use pusherable_server::{AppConfig, Config, Spawned};

use crate::{ID, KEY, SECRET};

/// The test app, with the server's default limits and switches.
pub fn app() -> AppConfig {
    AppConfig::new(ID, KEY, SECRET)
}

/// A default configuration that serves [`app`] alone; tests change what they exercise.
///
/// ```
/// let mut config = pusherable_test_support::config();
/// config.apps[0].client_events = false;
/// assert_eq!(config.apps.len(), 1);
/// ```
pub fn config() -> Config {
    let mut config = Config::default();
    config.apps.push(app());
    config
}

/// Starts a standalone server for `config` on `127.0.0.1:0`.
///
/// It is listening when this returns: the socket is bound before, so a client may connect at
/// once.
pub async fn start(config: Config) -> Spawned {
    let any_port = "127.0.0.1:0".parse().expect("a loopback address");
    pusherable_server::spawn(config, any_port)
        .await
        .expect("the test server starts")
}

/// The test app's URL on `server`, as `PUSHER_URL` holds it.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let server = pusherable_test_support::start(pusherable_test_support::config()).await;
/// let url = pusherable_test_support::pusher_url(&server);
/// assert_eq!(
///     url,
///     format!("http://278d425bdf160c739803:7ad3773142a6692b25b8@{}/apps/3", server.local_addr())
/// );
/// # }
/// ```
pub fn pusher_url(server: &Spawned) -> String {
    format!("http://{KEY}:{SECRET}@{}/apps/{ID}", server.local_addr())
}
