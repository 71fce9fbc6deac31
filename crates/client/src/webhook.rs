//! Checking a webhook request from the server and reading its events (PROTOCOL.md §6).
//!
//! A webhook is trusted only when its key is the app's, its signature matches the exact body
//! bytes received, its content type is exactly `application/json`, and its `time_ms` is within
//! five minutes of now, which stops an old request from being replayed.

use std::time::{SystemTime, UNIX_EPOCH};

use pusherable_protocol::sign::verify_webhook_signature;
use reqwest::header::CONTENT_TYPE;

use crate::Client;

/// The webhook body and its events, as the server writes them; see the protocol crate.
pub use pusherable_protocol::webhook::{Webhook, WebhookEvent};
/// The header map [`Client::webhook`] reads: the same type as `axum::http::HeaderMap`.
pub use reqwest::header::HeaderMap;

/// How far `time_ms` may be from the receiver's clock, in milliseconds (five minutes, as the
/// official libraries allow).
///
/// ```
/// assert_eq!(pusherable_client::webhook::FRESHNESS_MS, 5 * 60 * 1000);
/// ```
pub const FRESHNESS_MS: u64 = 300_000;

/// Why a webhook request was refused.
///
/// ```
/// use pusherable_client::WebhookError;
/// assert_eq!(WebhookError::BadSignature.status(), 401);
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WebhookError {
    /// A required header is missing or not text.
    #[error("missing header {0}")]
    MissingHeader(&'static str),
    /// `X-Pusher-Key` is not this app's key.
    #[error("X-Pusher-Key is not this app's key")]
    WrongKey,
    /// `X-Pusher-Signature` does not match the body.
    #[error("X-Pusher-Signature does not match the body")]
    BadSignature,
    /// `Content-Type` is not exactly `application/json`.
    #[error("Content-Type must be application/json, got {0:?}")]
    ContentType(String),
    /// The body is not a webhook object.
    #[error("malformed webhook body: {0}")]
    Malformed(String),
    /// `time_ms` is more than five minutes from the receiver's clock.
    #[error("webhook time_ms {time_ms} is more than 300 s from now ({now_ms})")]
    Stale {
        /// The webhook's time.
        time_ms: u64,
        /// The receiver's clock.
        now_ms: u64,
    },
}

impl WebhookError {
    /// The status an app's webhook endpoint should answer with: 401 for a request that is not
    /// from the server, 400 for one that is malformed.
    ///
    /// ```
    /// assert_eq!(pusherable_client::WebhookError::Malformed("x".into()).status(), 400);
    /// ```
    pub fn status(&self) -> u16 {
        match self {
            Self::MissingHeader(_) | Self::WrongKey | Self::BadSignature | Self::Stale { .. } => {
                401
            }
            Self::ContentType(_) | Self::Malformed(_) => 400,
        }
    }
}

impl Client {
    /// Checks a webhook request (its headers and its body bytes exactly as received) and gives
    /// its events.
    ///
    /// ```
    /// use pusherable_client::{webhook::HeaderMap, Client};
    /// fn handle(client: &Client, headers: &HeaderMap, body: &[u8]) -> u16 {
    ///     match client.webhook(headers, body) {
    ///         Ok(hook) => {
    ///             for event in hook.events { println!("{event:?}"); }
    ///             200
    ///         }
    ///         Err(e) => e.status(),
    ///     }
    /// }
    /// ```
    pub fn webhook(&self, headers: &HeaderMap, body: &[u8]) -> Result<Webhook, WebhookError> {
        self.webhook_at(headers, body, SystemTime::now())
    }

    /// [`webhook`](Self::webhook) with the receiver's clock given, for replaying stored
    /// requests.
    ///
    /// ```
    /// use std::time::{Duration, UNIX_EPOCH};
    /// use pusherable_client::{webhook::HeaderMap, Client, WebhookEvent};
    /// # use reqwest::header::HeaderValue;
    /// let client = Client::builder("3", "278d425bdf160c739803", "7ad3773142a6692b25b8").build()?;
    /// let body = br#"{"time_ms":1353088179000,"events":[{"name":"channel_occupied","channel":"test-channel"}]}"#;
    /// let mut headers = HeaderMap::new();
    /// headers.insert("X-Pusher-Key", HeaderValue::from_static("278d425bdf160c739803"));
    /// headers.insert("X-Pusher-Signature", HeaderValue::from_static("a75991c70411687368415522e804927a17c0ebd911b016382031c6dc5ab30b0d"));
    /// headers.insert("Content-Type", HeaderValue::from_static("application/json"));
    /// let hook = client.webhook_at(&headers, body, UNIX_EPOCH + Duration::from_millis(1353088179000)).unwrap();
    /// assert_eq!(hook.events, [WebhookEvent::ChannelOccupied { channel: "test-channel".into() }]);
    /// # Ok::<(), pusherable_client::Error>(())
    /// ```
    pub fn webhook_at(
        &self,
        headers: &HeaderMap,
        body: &[u8],
        now: SystemTime,
    ) -> Result<Webhook, WebhookError> {
        let header = |name: &'static str| {
            headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .ok_or(WebhookError::MissingHeader(name))
        };
        let content_type = header(CONTENT_TYPE.as_str())?;
        if content_type != "application/json" {
            return Err(WebhookError::ContentType(content_type.to_owned()));
        }
        if header("x-pusher-key")? != self.inner.key {
            return Err(WebhookError::WrongKey);
        }
        if !verify_webhook_signature(&self.inner.secret, body, header("x-pusher-signature")?) {
            return Err(WebhookError::BadSignature);
        }
        let hook: Webhook =
            serde_json::from_slice(body).map_err(|e| WebhookError::Malformed(e.to_string()))?;
        let now_ms = now
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
        if hook.time_ms.abs_diff(now_ms) > FRESHNESS_MS {
            return Err(WebhookError::Stale {
                time_ms: hook.time_ms,
                now_ms,
            });
        }
        Ok(hook)
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use pusherable_protocol::sign::webhook_signature;
    use reqwest::header::HeaderValue;

    use super::*;

    const KEY: &str = "278d425bdf160c739803";
    const SECRET: &str = "7ad3773142a6692b25b8";
    const NOW_MS: u64 = 1_795_854_636_805;

    fn client() -> Client {
        Client::builder("3", KEY, SECRET).build().unwrap()
    }

    fn headers(key: &str, signature: &str, content_type: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (name, value) in [
            ("x-pusher-key", key),
            ("x-pusher-signature", signature),
            ("content-type", content_type),
        ] {
            h.insert(name, HeaderValue::from_str(value).unwrap());
        }
        h
    }

    fn check(body: &str) -> Result<Webhook, WebhookError> {
        let sig = webhook_signature(SECRET, body.as_bytes());
        client().webhook_at(
            &headers(KEY, &sig, "application/json"),
            body.as_bytes(),
            UNIX_EPOCH + Duration::from_millis(NOW_MS),
        )
    }

    #[test]
    fn every_documented_event_is_typed() {
        let body = format!(
            r#"{{"time_ms":{NOW_MS},"events":[
            {{"name":"channel_occupied","channel":"a"}},
            {{"name":"channel_vacated","channel":"a"}},
            {{"name":"member_added","channel":"presence-r","user_id":"42"}},
            {{"name":"member_removed","channel":"presence-r","user_id":7}},
            {{"name":"client_event","channel":"private-c","event":"client-x","data":"{{\"a\":1}}","socket_id":"1.2"}},
            {{"name":"client_event","channel":"presence-r","event":"client-y","data":{{"b":2}},"socket_id":"1.3","user_id":"42"}},
            {{"name":"cache_miss","channel":"cache-z"}},
            {{"name":"subscription_count","channel":"a","subscription_count":3}},
            {{"name":"something_new","channel":"a","extra":true}}]}}"#
        );
        let hook = check(&body).unwrap();
        assert_eq!(hook.time_ms, NOW_MS);
        use WebhookEvent::*;
        assert_eq!(
            hook.events[..8],
            [
                ChannelOccupied {
                    channel: "a".into()
                },
                ChannelVacated {
                    channel: "a".into()
                },
                MemberAdded {
                    channel: "presence-r".into(),
                    user_id: "42".into()
                },
                MemberRemoved {
                    channel: "presence-r".into(),
                    user_id: "7".into()
                },
                ClientEvent {
                    channel: "private-c".into(),
                    event: "client-x".into(),
                    data: r#"{"a":1}"#.into(),
                    socket_id: "1.2".into(),
                    user_id: None
                },
                ClientEvent {
                    channel: "presence-r".into(),
                    event: "client-y".into(),
                    data: r#"{"b":2}"#.into(),
                    socket_id: "1.3".into(),
                    user_id: Some("42".into())
                },
                CacheMiss {
                    channel: "cache-z".into()
                },
                SubscriptionCount {
                    channel: "a".into(),
                    subscription_count: 3
                },
            ]
        );
        assert!(matches!(&hook.events[8], Other { name, .. } if name == "something_new"));
    }

    #[test]
    fn refusals() {
        let body = format!(r#"{{"time_ms":{NOW_MS},"events":[]}}"#);
        let sig = webhook_signature(SECRET, body.as_bytes());
        let now = UNIX_EPOCH + Duration::from_millis(NOW_MS);
        let c = client();
        let run = |h: &HeaderMap, body: &str| c.webhook_at(h, body.as_bytes(), now);

        assert!(run(&headers(KEY, &sig, "application/json"), &body).is_ok());
        assert!(matches!(
            run(
                &headers(KEY, &sig, "application/json; charset=utf-8"),
                &body
            ),
            Err(WebhookError::ContentType(_))
        ));
        assert!(matches!(
            run(&headers("other", &sig, "application/json"), &body),
            Err(WebhookError::WrongKey)
        ));
        assert!(matches!(
            run(
                &headers(KEY, &sig, "application/json"),
                &body.replace("[]", "[ ]")
            ),
            Err(WebhookError::BadSignature)
        ));
        let mut no_sig = headers(KEY, &sig, "application/json");
        no_sig.remove("x-pusher-signature");
        assert!(matches!(
            run(&no_sig, &body),
            Err(WebhookError::MissingHeader("x-pusher-signature"))
        ));
        assert!(matches!(check("[1,2]"), Err(WebhookError::Malformed(_))));
        assert!(matches!(
            check(&format!(
                r#"{{"time_ms":{NOW_MS},"events":[{{"name":"member_added","channel":"p"}}]}}"#
            )),
            Err(WebhookError::Malformed(_))
        ));
    }

    #[test]
    fn freshness_is_five_minutes_either_way() {
        for (offset, fresh) in [
            (0_i64, true),
            (300_000, true),
            (-300_000, true),
            (300_001, false),
            (-300_001, false),
        ] {
            let time_ms = NOW_MS.checked_add_signed(offset).unwrap();
            let result = check(&format!(r#"{{"time_ms":{time_ms},"events":[]}}"#));
            assert_eq!(result.is_ok(), fresh, "offset {offset}");
            if !fresh {
                assert!(matches!(result, Err(WebhookError::Stale { .. })));
            }
        }
    }
}
