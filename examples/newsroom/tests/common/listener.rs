//! A page's real-time side without the page: one WebSocket that follows one article channel
//! with the authorization a signed-in editor gets, and reports the events that arrive on it.

use std::time::Duration;

use futures_util::{SinkExt as _, StreamExt as _};
use serde_json::{json, Value};
use tokio::net::TcpStream;
use tokio_tungstenite::{tungstenite::Message, MaybeTlsStream, WebSocketStream};

use super::Browser;

/// How long any one wait may take before the test fails: a guard against a hang, not a
/// timing assertion.
const PATIENCE: Duration = Duration::from_secs(10);

/// An event the newsroom sent on the channel: its name and its parsed data.
#[derive(Debug)]
pub(crate) struct Heard {
    pub(crate) event: String,
    pub(crate) data: Value,
}

pub(crate) struct Listener {
    ws: WebSocketStream<MaybeTlsStream<TcpStream>>,
}

impl Listener {
    /// Connects as `browser` does from a page of the newsroom (its app key is in the page's
    /// script tag) and subscribes to `channel` with the newsroom's own authorization endpoint.
    pub(crate) async fn follow(browser: &Browser, channel: &str) -> Self {
        let page = browser.get("/").await.text().await.unwrap();
        let key = attribute(&page, "data-key").expect("the layout has pusherable's script tag");
        let host = browser.base.trim_start_matches("http://");
        let url = format!("ws://{host}/app/{key}?protocol=7&client=newsroom-tests&version=1");
        let (ws, _) = tokio_tungstenite::connect_async(url).await.unwrap();
        let mut listener = Listener { ws };

        let hello = listener
            .frame()
            .await
            .expect("the server greets a new socket");
        assert_eq!(hello["event"], "pusher:connection_established", "{hello}");
        let hello: Value = serde_json::from_str(hello["data"].as_str().unwrap()).unwrap();
        let socket_id = hello["socket_id"].as_str().unwrap();

        let res = browser
            .post(
                "/pusherable/auth",
                &[("socket_id", socket_id), ("channel_name", channel)],
            )
            .await;
        assert_eq!(res.status(), 200, "the editor may follow {channel}");
        let auth: Value = res.json().await.unwrap();
        let mut data = json!({ "channel": channel, "auth": auth["auth"] });
        if let Some(member) = auth.get("channel_data") {
            data["channel_data"] = member.clone();
        }
        listener
            .ws
            .send(Message::text(
                json!({ "event": "pusher:subscribe", "data": data }).to_string(),
            ))
            .await
            .unwrap();
        let reply = listener
            .frame()
            .await
            .expect("an answer to the subscription");
        assert_eq!(
            reply["event"], "pusher_internal:subscription_succeeded",
            "{reply}"
        );
        listener
    }

    /// The next event the app sent, skipping the protocol's own (members coming and going).
    pub(crate) async fn next(&mut self) -> Heard {
        self.heard()
            .await
            .expect("an event before the socket closed")
    }

    /// Every event still to come until the server closes the socket, as it does when the
    /// newsroom stops after sending what it had queued.
    pub(crate) async fn rest(mut self) -> Vec<Heard> {
        let mut all = Vec::new();
        while let Some(heard) = self.heard().await {
            all.push(heard);
        }
        all
    }

    async fn heard(&mut self) -> Option<Heard> {
        loop {
            let frame = self.frame().await?;
            let event = frame["event"].as_str().unwrap_or_default();
            if event.starts_with("pusher:") || event.starts_with("pusher_internal:") {
                continue;
            }
            return Some(Heard {
                event: event.to_owned(),
                data: serde_json::from_str(frame["data"].as_str().unwrap()).unwrap(),
            });
        }
    }

    /// The next text frame, or `None` once the socket is closed.
    async fn frame(&mut self) -> Option<Value> {
        loop {
            let message = tokio::time::timeout(PATIENCE, self.ws.next())
                .await
                .expect("a frame, or the close, within the test's patience");
            match message {
                Some(Ok(Message::Text(text))) => return Some(serde_json::from_str(&text).unwrap()),
                Some(Ok(Message::Close(_))) | None => return None,
                Some(Ok(_)) => continue,
                Some(Err(e)) => panic!("socket failed: {e}"),
            }
        }
    }
}

/// The value of the first `name="…"` attribute in `page`.
pub(crate) fn attribute(page: &str, name: &str) -> Option<String> {
    let marker = format!("{name}=\"");
    let start = page.find(&marker)? + marker.len();
    let len = page[start..].find('"')?;
    Some(page[start..start + len].to_owned())
}
