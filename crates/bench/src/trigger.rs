//! Signed REST triggers over a small pool of kept-alive HTTP/1.1 connections.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http_body_util::{BodyExt as _, Full};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use percent_encoding::{utf8_percent_encode, NON_ALPHANUMERIC};
use pusherable_protocol::rest::TriggerBody;
use pusherable_protocol::sign::signed_query;

use crate::target::Target;

/// How long one trigger may take before it counts as failed.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// Why a trigger failed.
#[derive(Debug, thiserror::Error)]
pub enum TriggerError {
    /// The request could not be sent or its answer not read.
    #[error("http: {0}")]
    Http(String),
    /// The server answered with a status other than 2xx.
    #[error("status {status}: {body}")]
    Status {
        /// The HTTP status.
        status: u16,
        /// The start of the answer's body.
        body: String,
    },
    /// No answer within the request timeout.
    #[error("no answer within {0:?}")]
    Timeout(Duration),
}

/// Triggers events on one target's REST API.
#[derive(Clone)]
pub(crate) struct Trigger {
    client: Client<HttpConnector, Full<Bytes>>,
    base: String,
    path: String,
    key: String,
    secret: String,
}

impl Trigger {
    /// A client that keeps up to `pool` connections open.
    pub(crate) fn new(target: &Target, pool: usize) -> Self {
        let mut connector = HttpConnector::new();
        connector.set_nodelay(true);
        let client = Client::builder(TokioExecutor::new())
            .pool_max_idle_per_host(pool)
            .pool_idle_timeout(Duration::from_secs(60))
            .build(connector);
        Trigger {
            client,
            base: format!("http://{}", target.addr),
            path: target.events_path(),
            key: target.key.clone(),
            secret: target.secret.clone(),
        }
    }

    /// `POST /apps/{id}/events`, signed with the app secret.
    pub(crate) async fn send(
        &self,
        channels: Vec<String>,
        event: &str,
        data: String,
    ) -> Result<(), TriggerError> {
        let body = TriggerBody {
            name: event.to_owned(),
            data,
            channels: Some(channels),
            ..Default::default()
        };
        let body = serde_json::to_vec(&body).map_err(|e| TriggerError::Http(e.to_string()))?;
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let query = signed_query(&self.key, &self.secret, "POST", &self.path, &body, now, &[]);
        let mut uri = format!("{}{}?", self.base, self.path);
        for (i, (k, v)) in query.iter().enumerate() {
            if i > 0 {
                uri.push('&');
            }
            uri.push_str(k);
            uri.push('=');
            uri.extend(utf8_percent_encode(v, NON_ALPHANUMERIC));
        }
        let request = hyper::Request::post(uri)
            .header(hyper::header::CONTENT_TYPE, "application/json")
            .body(Full::new(Bytes::from(body)))
            .map_err(|e| TriggerError::Http(e.to_string()))?;
        let exchange = async {
            let response = self
                .client
                .request(request)
                .await
                .map_err(|e| TriggerError::Http(e.to_string()))?;
            let status = response.status();
            // Read the body whole so that the connection goes back to the pool.
            let body = response
                .into_body()
                .collect()
                .await
                .map_err(|e| TriggerError::Http(e.to_string()))?
                .to_bytes();
            if status.is_success() {
                Ok(())
            } else {
                Err(TriggerError::Status {
                    status: status.as_u16(),
                    body: String::from_utf8_lossy(&body[..body.len().min(200)]).into_owned(),
                })
            }
        };
        tokio::time::timeout(REQUEST_TIMEOUT, exchange)
            .await
            .unwrap_or(Err(TriggerError::Timeout(REQUEST_TIMEOUT)))
    }
}
