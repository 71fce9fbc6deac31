//! Which server and app a command talks to: `--url`, `PUSHER_URL`, or one flag per part.

use std::time::Duration;

use pusherable_client::{Client, ClientBuilder, Url};

use crate::failure::Failure;

/// The variable `pusherable serve` prints for its development app, and that the official
/// libraries read.
const URL_VARIABLE: &str = "PUSHER_URL";

/// The flags that name the app and its server.
///
/// `--url` wins; without it and without any of the other flags, `PUSHER_URL` is read. The
/// other flags describe the server part by part: `--host` for a self-hosted server (plain
/// HTTP unless `--tls`), `--cluster` or nothing for hosted Pusher (always TLS).
#[derive(Debug, clap::Args)]
#[command(next_help_heading = "Server")]
pub(crate) struct TargetArgs {
    /// The app as http[s]://KEY:SECRET@HOST:PORT/apps/ID [default: $PUSHER_URL].
    #[arg(
        long,
        value_name = "URL",
        conflicts_with_all = ["app_id", "key", "secret", "host", "port", "tls", "cluster"]
    )]
    url: Option<String>,
    /// The app id.
    #[arg(long, value_name = "ID")]
    app_id: Option<String>,
    /// The app key.
    #[arg(long)]
    key: Option<String>,
    /// The app secret.
    #[arg(long)]
    secret: Option<String>,
    /// A self-hosted server's host name or IP address.
    #[arg(long, conflicts_with = "cluster")]
    host: Option<String>,
    /// The server's port [default: 80, or 443 with TLS].
    #[arg(long)]
    port: Option<u16>,
    /// Speak HTTPS and WSS to --host (hosted Pusher always does).
    #[arg(long)]
    tls: bool,
    /// A hosted Pusher cluster (eu, mt1, ap1, …).
    #[arg(long)]
    cluster: Option<String>,
    /// The end-to-end encryption master key (base64 of 32 bytes), for private-encrypted-
    /// channels.
    #[arg(
        long,
        value_name = "BASE64",
        env = "PUSHER_ENCRYPTION_MASTER_KEY_BASE64",
        hide_env_values = true
    )]
    encryption_master_key: Option<String>,
    /// Seconds to wait for the server before giving up.
    #[arg(long, value_name = "SECONDS", default_value_t = 10)]
    timeout: u64,
}

impl TargetArgs {
    /// The REST client these flags describe; every problem is a [`Failure::Usage`].
    pub(crate) fn client(&self) -> Result<Client, Failure> {
        self.client_with(std::env::var(URL_VARIABLE).ok())
    }

    /// How long to wait for the server.
    pub(crate) fn timeout(&self) -> Duration {
        Duration::from_secs(self.timeout)
    }

    /// [`client`](Self::client) with the value of `PUSHER_URL` given, for tests.
    fn client_with(&self, env_url: Option<String>) -> Result<Client, Failure> {
        let flags = self.app_id.is_some()
            || self.key.is_some()
            || self.secret.is_some()
            || self.host.is_some()
            || self.port.is_some()
            || self.tls
            || self.cluster.is_some();
        let url = match (&self.url, env_url) {
            (Some(url), _) => Some(("--url", url.clone())),
            (None, Some(url)) if !flags && !url.is_empty() => Some((URL_VARIABLE, url)),
            _ => None,
        };
        let builder = match url {
            // The URL holds the secret: the message names where it came from, never its text.
            Some((from, url)) => {
                ClientBuilder::from_url(&url).map_err(|e| Failure::Usage(format!("{from}: {e}")))?
            }
            None => self.builder_from_flags()?,
        };
        let builder = match &self.encryption_master_key {
            Some(key) => builder.encryption_master_key_base64(key),
            None => builder,
        };
        builder
            .timeout(self.timeout())
            .build()
            .map_err(|e| Failure::Usage(e.to_string()))
    }

    fn builder_from_flags(&self) -> Result<ClientBuilder, Failure> {
        let missing = |flag: &str| {
            Failure::Usage(format!(
                "no app given: missing --{flag} (give --url, set {URL_VARIABLE}, \
                 or give --app-id, --key and --secret)"
            ))
        };
        let app_id = self.app_id.as_deref().ok_or_else(|| missing("app-id"))?;
        let key = self.key.as_deref().ok_or_else(|| missing("key"))?;
        let secret = self.secret.as_deref().ok_or_else(|| missing("secret"))?;
        let mut builder = Client::builder(app_id, key, secret);
        if let Some(host) = &self.host {
            builder = builder.host(host).tls(self.tls);
        } else if let Some(cluster) = &self.cluster {
            builder = builder.cluster(cluster);
        }
        if let Some(port) = self.port {
            builder = builder.port(port);
        }
        Ok(builder)
    }
}

/// The WebSocket URL a pusher-js client of the same app would open: the REST endpoint's
/// scheme, host, port and path prefix, with `/app/{key}` in place of `/apps/{id}`.
///
/// Hosted Pusher serves WebSockets on `ws-{cluster}.pusher.com` rather than
/// `api-{cluster}.pusher.com`, so those hosts are translated.
pub(crate) fn websocket_url(client: &Client) -> Result<Url, Failure> {
    let endpoint = client.endpoint();
    let bad = || Failure::Usage(format!("no WebSocket URL for {endpoint}"));
    let mut url = endpoint.clone();
    let scheme = if endpoint.scheme() == "https" {
        "wss"
    } else {
        "ws"
    };
    url.set_scheme(scheme).map_err(|()| bad())?;
    if let Some(host) = endpoint.host_str() {
        let ws_host = if host == "api.pusherapp.com" {
            Some("ws.pusherapp.com".to_owned())
        } else {
            host.strip_prefix("api-")
                .filter(|rest| rest.ends_with(".pusher.com"))
                .map(|rest| format!("ws-{rest}"))
        };
        if let Some(ws_host) = ws_host {
            url.set_host(Some(&ws_host)).map_err(|_| bad())?;
        }
    }
    let prefix = endpoint
        .path()
        .rsplit_once("/apps/")
        .map(|(prefix, _)| prefix.to_owned())
        .ok_or_else(bad)?;
    url.set_path(&prefix);
    url.path_segments_mut()
        .map_err(|()| bad())?
        .pop_if_empty()
        .push("app")
        .push(client.key());
    url.set_query(Some(&format!(
        "protocol=7&client=pusherable-cli&version={}&flash=false",
        env!("CARGO_PKG_VERSION")
    )));
    Ok(url)
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        target: TargetArgs,
    }

    fn target(args: &[&str]) -> TargetArgs {
        Cli::try_parse_from(std::iter::once("test").chain(args.iter().copied()))
            .map(|cli| cli.target)
            .unwrap_or_else(|e| panic!("{args:?}: {e}"))
    }

    fn endpoint(args: &[&str], env_url: Option<&str>) -> Result<String, String> {
        target(args)
            .client_with(env_url.map(str::to_owned))
            .map(|c| c.endpoint().to_string())
            .map_err(|e| e.to_string())
    }

    #[test]
    fn url_flag_then_variable_then_flags() {
        let env = Some("http://k:s@127.0.0.1:7000/apps/9");
        assert_eq!(
            endpoint(&["--url", "http://k:s@127.0.0.1:6001/apps/3"], env).unwrap(),
            "http://127.0.0.1:6001/apps/3"
        );
        assert_eq!(endpoint(&[], env).unwrap(), "http://127.0.0.1:7000/apps/9");
        let flags = [
            "--app-id", "3", "--key", "k", "--secret", "s", "--host", "::1", "--port", "6001",
        ];
        assert_eq!(endpoint(&flags, env).unwrap(), "http://[::1]:6001/apps/3");
        assert_eq!(
            endpoint(
                &[
                    "--app-id",
                    "3",
                    "--key",
                    "k",
                    "--secret",
                    "s",
                    "--cluster",
                    "eu"
                ],
                None
            )
            .unwrap(),
            "https://api-eu.pusher.com/apps/3"
        );
        assert_eq!(
            endpoint(
                &["--app-id", "3", "--key", "k", "--secret", "s", "--host", "h", "--tls"],
                None
            )
            .unwrap(),
            "https://h/apps/3"
        );
    }

    #[test]
    fn refusals_name_the_problem_but_not_the_secret() {
        let e = endpoint(&[], None).unwrap_err();
        assert!(
            e.contains("missing --app-id") && e.contains("PUSHER_URL"),
            "{e}"
        );
        let e = endpoint(&["--port", "1"], Some("http://k:s@h/apps/1")).unwrap_err();
        assert!(e.contains("missing --app-id"), "{e}");
        let e = endpoint(&["--url", "ftp://k:hunter2@h/apps/1"], None).unwrap_err();
        assert!(e.starts_with("--url: ") && !e.contains("hunter2"), "{e}");
        let e = endpoint(&[], Some("http://k:hunter2@h/nothing")).unwrap_err();
        assert!(
            e.starts_with("PUSHER_URL: ") && !e.contains("hunter2"),
            "{e}"
        );
        assert!(
            Cli::try_parse_from(["test", "--url", "http://k:s@h/apps/1", "--key", "k"]).is_err()
        );
    }

    #[test]
    fn websocket_urls_follow_the_rest_endpoint() {
        let ws = |args: &[&str]| {
            let client = target(args).client_with(None).unwrap();
            websocket_url(&client).unwrap().to_string()
        };
        let query = format!(
            "?protocol=7&client=pusherable-cli&version={}&flash=false",
            env!("CARGO_PKG_VERSION")
        );
        assert_eq!(
            ws(&["--url", "http://key:s@127.0.0.1:6001/apps/3"]),
            format!("ws://127.0.0.1:6001/app/key{query}")
        );
        assert_eq!(
            ws(&["--url", "https://key:s@example.com/realtime/apps/3"]),
            format!("wss://example.com/realtime/app/key{query}")
        );
        assert_eq!(
            ws(&[
                "--app-id",
                "3",
                "--key",
                "key",
                "--secret",
                "s",
                "--cluster",
                "eu"
            ]),
            format!("wss://ws-eu.pusher.com/app/key{query}")
        );
        assert_eq!(
            ws(&["--app-id", "3", "--key", "key", "--secret", "s"]),
            format!("wss://ws.pusherapp.com/app/key{query}")
        );
    }
}
