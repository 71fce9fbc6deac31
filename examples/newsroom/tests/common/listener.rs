//! A page's real-time side without the page: one WebSocket that follows one article channel
//! with the authorization a signed-in editor gets, and reports the events that arrive on it.

use pusherable_test_support::{data, Socket};
use serde_json::Value;

use super::Browser;

/// An event the newsroom sent on the channel: its name and its parsed data.
#[derive(Debug)]
pub(crate) struct Heard {
    pub(crate) event: String,
    pub(crate) data: Value,
}

impl Heard {
    fn from_frame(frame: &Value) -> Self {
        Heard {
            event: frame["event"].as_str().unwrap_or_default().to_owned(),
            data: data(frame),
        }
    }
}

pub(crate) struct Listener {
    socket: Socket,
}

impl Listener {
    /// Connects as `browser` does from a page of the newsroom (its app key is in the page's
    /// script tag) and subscribes to `channel` with the newsroom's own authorization endpoint.
    pub(crate) async fn follow(browser: &Browser, channel: &str) -> Self {
        let page = browser.get("/").await.text().await.unwrap();
        let key = attribute(&page, "data-key").expect("the layout has pusherable's script tag");
        let addr = browser.base.trim_start_matches("http://").parse().unwrap();
        let mut socket = Socket::connect_key(addr, &key).await;

        let answer = browser
            .post(
                "/pusherable/auth",
                &[("socket_id", &socket.socket_id), ("channel_name", channel)],
            )
            .await;
        socket.subscribe_authorized(channel, answer).await;
        Listener { socket }
    }

    /// The next event the app sent, skipping the protocol's own (members coming and going).
    pub(crate) async fn next(&mut self) -> Heard {
        Heard::from_frame(&self.socket.next_event().await)
    }

    /// Every event still to come until the server closes the socket, as it does when the
    /// newsroom stops after sending what it had queued.
    pub(crate) async fn rest(mut self) -> Vec<Heard> {
        let events = self.socket.events_until_closed().await;
        events.iter().map(Heard::from_frame).collect()
    }
}

/// The value of the first `name="…"` attribute in `page`.
pub(crate) fn attribute(page: &str, name: &str) -> Option<String> {
    let marker = format!("{name}=\"");
    let start = page.find(&marker)? + marker.len();
    let len = page[start..].find('"')?;
    Some(page[start..start + len].to_owned())
}
