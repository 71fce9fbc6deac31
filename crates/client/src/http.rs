//! Signing, sending and reading one REST request.

use std::time::{SystemTime, UNIX_EPOCH};

use pusherable_protocol::sign::signed_query;
use reqwest::{header::CONTENT_TYPE, Method, Response, Url};
use serde::{de::DeserializeOwned, Serialize};

use crate::{
    error::{Error, InvalidInput},
    Client,
};

/// Largest successful reply read; a channel list is the biggest thing the API returns.
const REPLY_MAX: usize = 16 * 1024 * 1024;
/// Largest error body kept; it is only there to be shown to a person.
const ERROR_BODY_MAX: usize = 64 * 1024;

impl Client {
    /// `GET {endpoint}{route}?{params, signed}` and parses the JSON reply.
    pub(crate) async fn get<T: DeserializeOwned>(
        &self,
        route: &str,
        params: &[(&str, &str)],
    ) -> Result<T, Error> {
        let url = self.signed_url(&Method::GET, route, b"", params, unix_now());
        self.send(self.inner.http.get(url)).await?.json()
    }

    /// `POST {endpoint}{route}` with `body` as JSON.
    pub(crate) async fn post(&self, route: &str, body: &impl Serialize) -> Result<Reply, Error> {
        let body = serde_json::to_vec(body).map_err(InvalidInput::Data)?;
        let url = self.signed_url(&Method::POST, route, &body, &[], unix_now());
        let request = self
            .inner
            .http
            .post(url)
            .header(CONTENT_TYPE, "application/json")
            .body(body);
        self.send(request).await
    }

    /// The URL of a request, with `auth_*` and `body_md5` added as the protocol crate signs them.
    pub(crate) fn signed_url(
        &self,
        method: &Method,
        route: &str,
        body: &[u8],
        params: &[(&str, &str)],
        timestamp: u64,
    ) -> Url {
        let mut url = self.inner.endpoint.clone();
        let path = format!("{}{route}", url.path());
        let query = signed_query(
            &self.inner.key,
            &self.inner.secret,
            method.as_str(),
            &path,
            body,
            timestamp,
            params,
        );
        url.set_path(&path);
        url.query_pairs_mut().extend_pairs(query);
        url
    }

    async fn send(&self, request: reqwest::RequestBuilder) -> Result<Reply, Error> {
        let response = request.send().await.map_err(Error::from_reqwest)?;
        let status = response.status().as_u16();
        if response.status().is_success() {
            let body = read_capped(response, REPLY_MAX).await?;
            Ok(Reply { status, body })
        } else {
            let body = read_capped(response, ERROR_BODY_MAX).await?;
            Err(Error::from_status(
                status,
                String::from_utf8_lossy(&body).into_owned(),
            ))
        }
    }
}

/// A 2xx reply.
pub(crate) struct Reply {
    status: u16,
    body: Vec<u8>,
}

impl Reply {
    /// Parses the body. An empty body counts as `{}`: some servers send nothing on success.
    pub(crate) fn json<T: DeserializeOwned>(&self) -> Result<T, Error> {
        let body = &self.body;
        let text = if body.iter().all(u8::is_ascii_whitespace) {
            b"{}".as_slice()
        } else {
            body
        };
        serde_json::from_slice(text).map_err(|source| Error::InvalidReply {
            status: self.status,
            body: String::from_utf8_lossy(&body[..body.len().min(ERROR_BODY_MAX)]).into_owned(),
            source,
        })
    }
}

/// Reads a body, keeping at most `cap` bytes, so that a misbehaving server cannot make the
/// client buffer without limit.
async fn read_capped(mut response: Response, cap: usize) -> Result<Vec<u8>, Error> {
    let mut out = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(Error::from_reqwest)? {
        let room = cap - out.len();
        if chunk.len() >= room {
            out.extend_from_slice(&chunk[..room]);
            break;
        }
        out.extend_from_slice(&chunk);
    }
    Ok(out)
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Pusher's worked example (PROTOCOL.md §5.1 A), through the client's own URL building.
    #[test]
    fn signed_url_matches_the_documented_example() {
        let client = Client::builder("3", "278d425bdf160c739803", "7ad3773142a6692b25b8")
            .host("127.0.0.1")
            .port(6001)
            .tls(false)
            .build()
            .unwrap();
        let body = br#"{"name":"foo","channels":["project-3"],"data":"{\"some\":\"data\"}"}"#;
        let url = client.signed_url(&Method::POST, "/events", body, &[], 1_353_088_179);
        assert_eq!(
            url.as_str(),
            "http://127.0.0.1:6001/apps/3/events?auth_key=278d425bdf160c739803\
             &auth_signature=da454824c97ba181a32ccc17a72625ba02771f50b50e1e7430e47a1f3f457e6c\
             &auth_timestamp=1353088179&auth_version=1.0&body_md5=ec365a775a4cd0599faeb73354201b6f"
        );
    }

    #[test]
    fn query_values_are_escaped_but_signed_decoded() {
        let client = Client::builder("3", "278d425bdf160c739803", "7ad3773142a6692b25b8")
            .cluster("eu")
            .build()
            .unwrap();
        let url = client.signed_url(
            &Method::GET,
            "/channels/presence-foobar",
            b"",
            &[("info", "user_count,subscription_count")],
            1_353_088_179,
        );
        assert!(url
            .as_str()
            .starts_with("https://api-eu.pusher.com/apps/3/channels/presence-foobar?"));
        let pairs: Vec<(String, String)> = url.query_pairs().into_owned().collect();
        assert!(pairs.contains(&("info".into(), "user_count,subscription_count".into())));
        assert!(!pairs.iter().any(|(k, _)| k == "body_md5"));
    }

    #[test]
    fn empty_reply_is_an_empty_object() {
        let reply = |body: &[u8]| Reply {
            status: 202,
            body: body.to_vec(),
        };
        let v: serde_json::Value = reply(b" ").json().unwrap();
        assert_eq!(v, serde_json::json!({}));
        let e = reply(b"<html>").json::<serde_json::Value>().unwrap_err();
        assert_eq!(e.kind(), crate::ErrorKind::InvalidReply);
        assert_eq!(e.status(), Some(202));
        assert_eq!(e.body(), Some("<html>"));
    }
}
