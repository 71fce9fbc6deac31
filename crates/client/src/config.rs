//! Building a [`Client`]: credentials, where the API lives, and how long to wait for it.

use std::{fmt, sync::Arc, time::Duration};

use reqwest::Url;

use crate::{
    encryption::MasterKey,
    error::{Error, InvalidInput},
    Client, Inner,
};

/// Host of hosted Pusher when no cluster is given.
const DEFAULT_HOST: &str = "api.pusherapp.com";
/// How long one call may take, connection included, unless the builder says otherwise.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
/// How long to wait for a TCP (and TLS) connection; never longer than the whole call.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Configures a [`Client`]; made by [`Client::builder`] or [`ClientBuilder::from_url`].
///
/// Defaults match hosted Pusher: `https://api-{cluster}.pusher.com` (or
/// `https://api.pusherapp.com` without a cluster), and a 30 s timeout per call. Setting
/// [`host`](Self::host) points the client at any compatible server instead, such as pusherable.
///
/// ```
/// use std::time::Duration;
/// use pusherable_client::Client;
/// let client = Client::builder("3", "278d425bdf160c739803", "7ad3773142a6692b25b8")
///     .host("127.0.0.1")
///     .port(6001)
///     .tls(false)
///     .timeout(Duration::from_secs(5))
///     .build()?;
/// assert_eq!(client.endpoint().as_str(), "http://127.0.0.1:6001/apps/3");
/// # Ok::<(), pusherable_client::Error>(())
/// ```
#[derive(Clone)]
pub struct ClientBuilder {
    app_id: String,
    key: String,
    secret: String,
    cluster: Option<String>,
    host: Option<String>,
    port: Option<u16>,
    tls: bool,
    /// Where the server's routes are mounted when it shares a router with an app (`/realtime`);
    /// it is part of every signed path.
    path_prefix: String,
    timeout: Duration,
    /// Kept as given until [`build`](Self::build), so that setters stay infallible and a bad key
    /// is reported once, with the other configuration errors.
    master_key: Option<MasterKeySource>,
}

#[derive(Clone)]
enum MasterKeySource {
    Base64(String),
    Bytes([u8; 32]),
}

impl ClientBuilder {
    pub(crate) fn new(app_id: &str, key: &str, secret: &str) -> Self {
        Self {
            app_id: app_id.to_owned(),
            key: key.to_owned(),
            secret: secret.to_owned(),
            cluster: None,
            host: None,
            port: None,
            tls: true,
            path_prefix: String::new(),
            timeout: DEFAULT_TIMEOUT,
            master_key: None,
        }
    }

    /// Reads app id, key, secret, scheme, host, port and path prefix from a URL of the form
    /// `http://KEY:SECRET@HOST:PORT/apps/ID`, as the official libraries' `forURL` does.
    ///
    /// `https` turns TLS on. A path before `/apps/ID` becomes the path prefix.
    ///
    /// ```
    /// use pusherable_client::ClientBuilder;
    /// let client = ClientBuilder::from_url("http://key:secret@127.0.0.1:6001/realtime/apps/3")?.build()?;
    /// assert_eq!(client.endpoint().as_str(), "http://127.0.0.1:6001/realtime/apps/3");
    /// # Ok::<(), pusherable_client::Error>(())
    /// ```
    pub fn from_url(url: &str) -> Result<Self, Error> {
        let bad = |why: &str| Error::from(InvalidInput::Config(format!("{why} in URL")));
        let url = Url::parse(url).map_err(|e| bad(&e.to_string()))?;
        let tls = match url.scheme() {
            "http" => false,
            "https" => true,
            _ => return Err(bad("scheme is not http or https")),
        };
        let host = url.host_str().ok_or_else(|| bad("no host"))?;
        let key = decode(url.username());
        let secret = decode(url.password().ok_or_else(|| bad("no secret"))?);
        let path = url.path().trim_end_matches('/');
        let (prefix, app_id) = path
            .rsplit_once("/apps/")
            .ok_or_else(|| bad("path is not /apps/ID"))?;
        let mut builder = Self::new(app_id, &key, &secret)
            .host(host)
            .tls(tls)
            .path_prefix(prefix);
        builder.port = url.port();
        Ok(builder)
    }

    /// The hosted Pusher cluster (`eu`, `mt1`, `ap1`, …): the API host becomes
    /// `api-{cluster}.pusher.com`. Ignored when [`host`](Self::host) is set.
    ///
    /// ```
    /// let client = pusherable_client::Client::builder("1", "key", "secret").cluster("eu").build()?;
    /// assert_eq!(client.endpoint().as_str(), "https://api-eu.pusher.com/apps/1");
    /// # Ok::<(), pusherable_client::Error>(())
    /// ```
    pub fn cluster(mut self, cluster: &str) -> Self {
        self.cluster = Some(cluster.to_owned());
        self
    }

    /// The API host name or IP address, for a self-hosted server.
    ///
    /// ```
    /// let client = pusherable_client::Client::builder("1", "key", "secret").host("pusher.example.com").build()?;
    /// assert_eq!(client.endpoint().as_str(), "https://pusher.example.com/apps/1");
    /// # Ok::<(), pusherable_client::Error>(())
    /// ```
    pub fn host(mut self, host: &str) -> Self {
        self.host = Some(host.to_owned());
        self
    }

    /// The TCP port; without it, 443 with TLS and 80 without.
    ///
    /// ```
    /// let client = pusherable_client::Client::builder("1", "key", "secret").host("localhost").port(8443).build()?;
    /// assert_eq!(client.endpoint().as_str(), "https://localhost:8443/apps/1");
    /// # Ok::<(), pusherable_client::Error>(())
    /// ```
    pub fn port(mut self, port: u16) -> Self {
        self.port = Some(port);
        self
    }

    /// Whether to speak HTTPS (the default) or plain HTTP.
    ///
    /// ```
    /// let client = pusherable_client::Client::builder("1", "key", "secret").host("localhost").tls(false).build()?;
    /// assert_eq!(client.endpoint().scheme(), "http");
    /// # Ok::<(), pusherable_client::Error>(())
    /// ```
    pub fn tls(mut self, tls: bool) -> Self {
        self.tls = tls;
        self
    }

    /// A path in front of `/apps/{id}`, for a server mounted under a prefix of an app's router.
    ///
    /// ```
    /// let client = pusherable_client::Client::builder("1", "key", "secret")
    ///     .host("localhost").path_prefix("/realtime/").build()?;
    /// assert_eq!(client.endpoint().path(), "/realtime/apps/1");
    /// # Ok::<(), pusherable_client::Error>(())
    /// ```
    pub fn path_prefix(mut self, prefix: &str) -> Self {
        let trimmed = prefix.trim_matches('/');
        self.path_prefix = if trimmed.is_empty() {
            String::new()
        } else {
            format!("/{trimmed}")
        };
        self
    }

    /// How long one call may take, from connecting to the last byte of the reply (30 s by
    /// default). A call that takes longer fails with [`ErrorKind::Timeout`](crate::ErrorKind).
    ///
    /// ```
    /// use std::time::Duration;
    /// let builder = pusherable_client::Client::builder("1", "key", "secret").timeout(Duration::from_secs(5));
    /// # builder.build()?;
    /// # Ok::<(), pusherable_client::Error>(())
    /// ```
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The end-to-end encryption master key, as base64 of 32 bytes (the form the official
    /// libraries and the Pusher dashboard use). Needed for `private-encrypted-` channels.
    ///
    /// ```
    /// let client = pusherable_client::Client::builder("1", "key", "secret")
    ///     .encryption_master_key_base64("BwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc=")
    ///     .build()?;
    /// # Ok::<(), pusherable_client::Error>(())
    /// ```
    pub fn encryption_master_key_base64(mut self, key: &str) -> Self {
        self.master_key = Some(MasterKeySource::Base64(key.to_owned()));
        self
    }

    /// The end-to-end encryption master key as raw bytes.
    ///
    /// ```
    /// let client = pusherable_client::Client::builder("1", "key", "secret")
    ///     .encryption_master_key([7; 32])
    ///     .build()?;
    /// # Ok::<(), pusherable_client::Error>(())
    /// ```
    pub fn encryption_master_key(mut self, key: [u8; 32]) -> Self {
        self.master_key = Some(MasterKeySource::Bytes(key));
        self
    }

    /// Checks the configuration and makes the client, with its connection pool.
    ///
    /// ```
    /// use pusherable_client::{Client, ErrorKind};
    /// let err = Client::builder("", "key", "secret").build().unwrap_err();
    /// assert_eq!(err.kind(), ErrorKind::InvalidInput);
    /// ```
    pub fn build(self) -> Result<Client, Error> {
        let config = |why: String| Error::from(InvalidInput::Config(why));
        if self.app_id.is_empty()
            || !self
                .app_id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            return Err(config(format!(
                "app id {:?} must be letters, digits, - or _",
                self.app_id
            )));
        }
        if self.key.is_empty() || self.key.contains(':') {
            return Err(config("key must be non-empty and have no ':'".into()));
        }
        if self.secret.is_empty() {
            return Err(config("secret must be non-empty".into()));
        }
        let host = match (&self.host, &self.cluster) {
            (Some(host), _) => host.clone(),
            (None, Some(cluster)) => {
                if cluster.is_empty() || !cluster.bytes().all(|b| b.is_ascii_alphanumeric()) {
                    return Err(config(format!(
                        "cluster {cluster:?} must be letters and digits"
                    )));
                }
                format!("api-{cluster}.pusher.com")
            }
            (None, None) => DEFAULT_HOST.to_owned(),
        };
        // An IPv6 address is written in brackets in a URL.
        let host = if host.parse::<std::net::Ipv6Addr>().is_ok() {
            format!("[{host}]")
        } else {
            host
        };
        let scheme = if self.tls { "https" } else { "http" };
        let mut endpoint = Url::parse(&format!("{scheme}://{host}"))
            .map_err(|e| config(format!("host {host:?}: {e}")))?;
        if endpoint.path() != "/"
            || endpoint.query().is_some()
            || endpoint.fragment().is_some()
            || !endpoint.username().is_empty()
        {
            return Err(config(format!("host {host:?} must be a bare host name")));
        }
        if let Some(port) = self.port {
            endpoint
                .set_port(Some(port))
                .map_err(|()| config(format!("port {port} on host {host:?}")))?;
        }
        if self.path_prefix.contains(['?', '#', '%']) {
            return Err(config(format!(
                "path prefix {:?} may not hold ?, # or %",
                self.path_prefix
            )));
        }
        let apps_path = format!("{}/apps/{}", self.path_prefix, self.app_id);
        endpoint.set_path(&apps_path);
        if endpoint.path() != apps_path {
            return Err(config(format!(
                "path prefix {:?} needs escaping",
                self.path_prefix
            )));
        }
        let master_key = match self.master_key {
            None => None,
            Some(MasterKeySource::Bytes(bytes)) => Some(MasterKey::new(bytes)),
            Some(MasterKeySource::Base64(text)) => Some(MasterKey::from_base64(&text)?),
        };
        let http = reqwest::Client::builder()
            .timeout(self.timeout)
            .connect_timeout(self.timeout.min(CONNECT_TIMEOUT))
            .tcp_nodelay(true)
            .build()
            .map_err(|e| config(format!("HTTP client: {e}")))?;
        Ok(Client {
            inner: Arc::new(Inner {
                key: self.key,
                secret: self.secret,
                endpoint,
                http,
                master_key,
            }),
        })
    }
}

/// Percent-decodes a URL's user or password part; the raw text stays when it is not UTF-8.
fn decode(part: &str) -> String {
    percent_encoding::percent_decode_str(part)
        .decode_utf8()
        .map_or_else(|_| part.to_owned(), |text| text.into_owned())
}

impl fmt::Debug for ClientBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientBuilder")
            .field("app_id", &self.app_id)
            .field("key", &self.key)
            .field("secret", &"<redacted>")
            .field("cluster", &self.cluster)
            .field("host", &self.host)
            .field("port", &self.port)
            .field("tls", &self.tls)
            .field("path_prefix", &self.path_prefix)
            .field("timeout", &self.timeout)
            .field(
                "master_key",
                &self.master_key.as_ref().map(|_| "<redacted>"),
            )
            .finish()
    }
}
