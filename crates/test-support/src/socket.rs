//! A WebSocket client that speaks protocol 7 one frame at a time, as pusher-js does.
//!
//! The frames it sends come from `pusherable_protocol::client`, as those of `pusherable listen`
//! and the load generator do; tests send frames of their own (bad ones too) with
//! [`Socket::send`] and [`Socket::send_text`].

use std::net::SocketAddr;

use futures_util::{SinkExt as _, StreamExt as _};
use pusherable_protocol::{channel, client, sign};
use serde_json::{json, Value};
use tokio::net::TcpStream;
use tokio_tungstenite::{
    tungstenite::{client::IntoClientRequest, Message},
    MaybeTlsStream, WebSocketStream,
};

use crate::{KEY, PATIENCE, SECRET};

/// The query string pusher-js 8 connects with.
const PUSHER_JS_QUERY: &str = "protocol=7&client=js&version=8.6.0&flash=false";

/// One WebSocket connection to a server, driven frame by frame.
///
/// Every wait fails the test after [`PATIENCE`]. Subscriptions and sign-ins that the test
/// app must sign are signed with [`SECRET`] through `pusherable_protocol::sign`; the
/// `…_with_auth` methods send a signature made elsewhere (by a client library or an app's
/// authorization endpoint) as pusher-js would.
#[derive(Debug)]
pub struct Socket {
    /// The stream itself, for what this client does not model: binary frames, frames the
    /// server may refuse before reading them whole.
    pub ws: WebSocketStream<MaybeTlsStream<TcpStream>>,
    /// From `pusher:connection_established`; empty on a socket from [`Socket::open`], which
    /// reads nothing.
    pub socket_id: String,
    /// The `activity_timeout` (seconds) the server announced with the `socket_id`.
    pub activity_timeout: u64,
}

impl Socket {
    /// Opens a WebSocket to `request` (a URL, or a request with its own headers) and reads
    /// nothing: for handshakes a test checks itself, such as refusals.
    pub async fn open(request: impl IntoClientRequest + Unpin) -> Socket {
        let (ws, _) = tokio_tungstenite::connect_async(request)
            .await
            .expect("the WebSocket handshake succeeds");
        Socket {
            ws,
            socket_id: String::new(),
            activity_timeout: 0,
        }
    }

    /// Connects to the test app at `addr` and reads its `socket_id`.
    pub async fn connect(addr: SocketAddr) -> Socket {
        Self::connect_key(addr, KEY).await
    }

    /// Connects to the app whose key is `key` at `addr`, as pusher-js does, and reads the
    /// `socket_id` from `pusher:connection_established`.
    pub async fn connect_key(addr: SocketAddr, key: &str) -> Socket {
        let mut socket = Self::open(format!("ws://{addr}/app/{key}?{PUSHER_JS_QUERY}")).await;
        let hello = socket.recv().await;
        assert_eq!(hello["event"], "pusher:connection_established", "{hello}");
        // pusher-js parses `data` as JSON text: an object here would break it.
        let established = data(&hello);
        socket.socket_id = established["socket_id"]
            .as_str()
            .unwrap_or_else(|| panic!("a socket_id in {hello}"))
            .to_owned();
        socket.activity_timeout = established["activity_timeout"]
            .as_u64()
            .unwrap_or_else(|| panic!("an activity_timeout in {hello}"));
        socket
    }

    /// Sends `frame` as a text frame.
    pub async fn send(&mut self, frame: Value) {
        self.send_text(&frame.to_string()).await;
    }

    /// Sends `text` as a text frame, as it is: for frames that are not valid JSON or not
    /// valid protocol.
    pub async fn send_text(&mut self, text: &str) {
        self.ws
            .send(Message::text(text))
            .await
            .expect("the frame is sent");
    }

    /// The next text frame, parsed; pings and pongs of the WebSocket layer are skipped.
    pub async fn recv(&mut self) -> Value {
        self.recv_or_closed().await.expect("socket open")
    }

    /// The next text frame, parsed, or `None` once the server has closed the connection.
    pub async fn recv_or_closed(&mut self) -> Option<Value> {
        loop {
            let message = tokio::time::timeout(PATIENCE, self.ws.next())
                .await
                .expect("a frame, or the close, within the test's patience");
            match message.map(|received| received.expect("no socket error")) {
                Some(Message::Text(text)) => {
                    return Some(serde_json::from_str(&text).expect("JSON frame"))
                }
                Some(Message::Ping(_) | Message::Pong(_)) => {}
                Some(Message::Close(_)) | None => return None,
                Some(other) => panic!("expected a text frame, got {other:?}"),
            }
        }
    }

    /// The next frame whose `event` is `event`; the frames before it are dropped.
    pub async fn skip_to(&mut self, event: &str) -> Value {
        loop {
            let frame = self.recv().await;
            if frame["event"] == event {
                return frame;
            }
        }
    }

    /// The next channel event: the next frame that is neither `pusher:` nor
    /// `pusher_internal:`.
    pub async fn next_event(&mut self) -> Value {
        self.next_event_or_closed()
            .await
            .expect("an event before the socket closed")
    }

    /// Every channel event still to come until the server closes the connection, as it does
    /// when it stops after sending what it had queued.
    pub async fn events_until_closed(&mut self) -> Vec<Value> {
        let mut events = Vec::new();
        while let Some(event) = self.next_event_or_closed().await {
            events.push(event);
        }
        events
    }

    async fn next_event_or_closed(&mut self) -> Option<Value> {
        loop {
            let frame = self.recv_or_closed().await?;
            let name = frame["event"].as_str().unwrap_or_default();
            if !name.starts_with("pusher:") && !name.starts_with("pusher_internal:") {
                return Some(frame);
            }
        }
    }

    /// Waits for the server to end the connection and gives its close code; `None` when the
    /// connection ended without one. Frames still queued before the close are dropped.
    pub async fn close_code(&mut self) -> Option<u16> {
        loop {
            let end = tokio::time::timeout(PATIENCE, self.ws.next())
                .await
                .expect("a close within the test's patience");
            match end {
                Some(Ok(Message::Close(frame))) => return frame.map(|f| u16::from(f.code)),
                None | Some(Err(_)) => return None,
                Some(Ok(_)) => {}
            }
        }
    }

    /// Proves the connection is alive and that everything sent before was handled: the
    /// server answers frames in order, so its pong comes after their answers.
    pub async fn round_trip(&mut self) {
        self.send_text(client::ping()).await;
        let pong = self.skip_to("pusher:pong").await;
        assert_eq!(pong["data"], "{}");
    }

    /// Subscribes to `channel`, signed for the test app when its kind needs it, and checks
    /// that the server said `subscription_succeeded`. Gives that frame, whose data is the
    /// member list on a presence channel.
    pub async fn subscribe(&mut self, channel: &str) -> Value {
        let reply = self.request_subscription(channel, None).await;
        succeeded(&reply, channel);
        reply
    }

    /// Subscribes to `channel` with an `auth` (and `channel_data`) made elsewhere, as
    /// pusher-js sends what an authorization endpoint answered, and checks that the server
    /// said `subscription_succeeded`. Gives that frame.
    pub async fn subscribe_with_auth(
        &mut self,
        channel: &str,
        auth: &str,
        channel_data: Option<&str>,
    ) -> Value {
        let reply = self
            .request_subscription_with_auth(channel, auth, channel_data)
            .await;
        succeeded(&reply, channel);
        reply
    }

    /// Subscribes to `channel` with what an app's authorization endpoint answered, as
    /// pusher-js does: a 200 whose JSON holds `auth` and, on a presence channel,
    /// `channel_data`. Checks that the server accepted it and gives its answer.
    pub async fn subscribe_authorized(
        &mut self,
        channel: &str,
        answer: reqwest::Response,
    ) -> Value {
        assert_eq!(answer.status(), 200, "authorization for {channel}");
        let answer: Value = answer.json().await.expect("a JSON authorization");
        let auth = answer["auth"]
            .as_str()
            .unwrap_or_else(|| panic!("an auth in {answer}"));
        self.subscribe_with_auth(channel, auth, answer["channel_data"].as_str())
            .await
    }

    /// Joins the presence `channel` as `user_id` named `name`, and checks that it worked.
    pub async fn join(&mut self, channel: &str, user_id: &str, name: &str) -> Value {
        let reply = self
            .request_subscription(channel, Some(&member(user_id, name)))
            .await;
        succeeded(&reply, channel);
        reply
    }

    /// Asks to subscribe to `channel` with `channel_data` when given, signed for the test app
    /// when the channel's kind needs it, and gives whatever the server answered.
    pub async fn request_subscription(
        &mut self,
        channel: &str,
        channel_data: Option<&str>,
    ) -> Value {
        let auth = if channel::kind_of(channel).needs_auth() {
            sign::channel_auth(KEY, SECRET, &self.socket_id, channel, channel_data)
        } else {
            // pusher-js sends an empty auth for channels that need none.
            String::new()
        };
        self.request_subscription_with_auth(channel, &auth, channel_data)
            .await
    }

    /// Asks to subscribe to `channel` with an `auth` (and `channel_data`) made elsewhere,
    /// as pusher-js sends what an authorization endpoint answered, and gives whatever the
    /// server answered.
    pub async fn request_subscription_with_auth(
        &mut self,
        channel: &str,
        auth: &str,
        channel_data: Option<&str>,
    ) -> Value {
        self.send_text(&client::subscribe(channel, Some(auth), channel_data))
            .await;
        self.recv().await
    }

    /// Signs in with `user_data` (JSON text), signed for the test app, and gives the
    /// server's answer.
    pub async fn sign_in(&mut self, user_data: &str) -> Value {
        let auth = sign::user_auth(KEY, SECRET, &self.socket_id, user_data);
        self.sign_in_with_auth(&auth, user_data).await
    }

    /// Signs in with an `auth` made elsewhere, as pusher-js sends what a user authentication
    /// endpoint answered, and gives the server's answer.
    pub async fn sign_in_with_auth(&mut self, auth: &str, user_data: &str) -> Value {
        self.send_text(&client::signin(auth, user_data)).await;
        self.recv().await
    }
}

fn succeeded(reply: &Value, channel: &str) {
    assert_eq!(
        reply["event"], "pusher_internal:subscription_succeeded",
        "subscription to {channel}: {reply}"
    );
    assert_eq!(reply["channel"], channel, "{reply}");
}

/// The `channel_data` of a presence member: `user_id`, with `name` as its `user_info`.
///
/// ```
/// assert_eq!(
///     pusherable_test_support::member("ada", "Ada"),
///     r#"{"user_id":"ada","user_info":{"name":"Ada"}}"#
/// );
/// ```
pub fn member(user_id: &str, name: &str) -> String {
    json!({"user_id": user_id, "user_info": {"name": name}}).to_string()
}

/// A frame's `data`, which the server always sends as JSON text, parsed.
///
/// ```
/// use serde_json::json;
/// let frame = json!({"event": "pusher_internal:member_removed", "data": r#"{"user_id":"ada"}"#});
/// assert_eq!(pusherable_test_support::data(&frame), json!({"user_id": "ada"}));
/// ```
pub fn data(frame: &Value) -> Value {
    let text = frame["data"]
        .as_str()
        .unwrap_or_else(|| panic!("string data in {frame}"));
    serde_json::from_str(text).unwrap_or_else(|e| panic!("JSON data in {frame}: {e}"))
}
