//! One client connection, as cheap as it can be: a small-buffered WebSocket that one task owns.

use std::borrow::Cow;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use futures_util::{SinkExt as _, StreamExt as _};
use pusherable_protocol::auth::{authorize_channel, PresenceMember};
use pusherable_protocol::client;
use serde::Deserialize;
use serde_json::value::RawValue;
use tokio::net::{TcpSocket, TcpStream};
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::{self, Message};
use tokio_tungstenite::WebSocketStream;

use crate::target::Target;

/// How long one connection may take to connect and receive `pusher:connection_established`.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(15);

/// How long a subscription may wait for its answer, and a frame for room in the socket.
const REPLY_TIMEOUT: Duration = Duration::from_secs(30);

/// Why a connection failed.
#[derive(Debug, thiserror::Error)]
pub enum ConnError {
    /// The TCP connection failed.
    #[error("connect: {0}")]
    Io(#[from] std::io::Error),
    /// The WebSocket handshake or a later read or write failed.
    #[error("websocket: {0}")]
    Ws(#[from] tungstenite::Error),
    /// The connection did not open, a subscription was not answered, or a frame could not be
    /// sent, within its timeout.
    #[error("no answer within {0:?}")]
    Timeout(Duration),
    /// The server closed the connection, or sent `pusher:error` before the handshake.
    #[error("closed by the server: {0}")]
    Closed(String),
    /// A subscription could not be signed (a member id or channel the protocol refuses).
    #[error("cannot sign the subscription: {0}")]
    Sign(#[from] pusherable_protocol::auth::AuthorizeError),
}

/// Hands out local source addresses in turn: `127.0.0.1`, `127.0.0.2`, …
///
/// Each source address has its own range of ephemeral ports, so spreading connections over
/// several lets one process open more connections to one server port than a single range holds.
#[derive(Debug)]
pub(crate) struct Sources {
    count: usize,
    ipv4: bool,
    next: AtomicUsize,
}

impl Sources {
    /// Uses `count` addresses for an IPv4 loopback target; an IPv6 target uses `::1` only.
    pub(crate) fn new(target: &Target, count: u8) -> Self {
        Sources {
            count: usize::from(count.max(1)),
            ipv4: target.addr.is_ipv4(),
            next: AtomicUsize::new(0),
        }
    }

    fn next(&self) -> Option<IpAddr> {
        if !self.ipv4 {
            return None;
        }
        let i = self.next.fetch_add(1, Ordering::Relaxed) % self.count;
        // `count` fits in a u8 and is at least 1, so the last octet stays within 1..=255.
        let octet = u8::try_from(i + 1).unwrap_or(1);
        Some(IpAddr::V4(Ipv4Addr::new(127, 0, 0, octet)))
    }
}

/// A frame from the server, reduced to what the scenarios need.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Event {
    /// `pusher_internal:subscription_succeeded`.
    Subscribed,
    /// `pusher_internal:member_added`, with the user id.
    MemberAdded(String),
    /// `pusher_internal:member_removed`, with the user id.
    MemberRemoved(String),
    /// An event this crate triggered: its sequence number and send time.
    Bench(Payload),
    /// `pusher:error` or `pusher:subscription_error`, as text.
    Error(String),
    /// Anything else.
    Other,
}

/// The `data` of every event the load generator triggers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub(crate) struct Payload {
    /// The sequence number of the trigger.
    pub(crate) s: u64,
    /// When it was sent, in microseconds since the run's epoch.
    pub(crate) t: u64,
}

impl Payload {
    /// The `data` string for the event with sequence number `s` sent at `t`.
    pub(crate) fn data(s: u64, t: u64) -> String {
        format!("{{\"s\":{s},\"t\":{t}}}")
    }

    /// [`data`](Self::data) made about `bytes` long with a filler member `p`, which readers
    /// ignore.
    pub(crate) fn padded(s: u64, t: u64, bytes: usize) -> String {
        let mut data = Self::data(s, t);
        if bytes > data.len() + 8 {
            let fill = bytes - data.len() - 7;
            data.pop();
            data.push_str(",\"p\":\"");
            data.extend(std::iter::repeat_n('x', fill));
            data.push_str("\"}");
        }
        data
    }
}

#[derive(Deserialize)]
struct Frame<'a> {
    #[serde(borrow)]
    event: Cow<'a, str>,
    #[serde(default, borrow)]
    data: Option<&'a RawValue>,
}

#[derive(Deserialize)]
struct Member<'a> {
    #[serde(borrow)]
    user_id: Cow<'a, str>,
}

/// The event name of every event the load generator triggers.
pub(crate) const BENCH_EVENT: &str = "bench";

/// Reads one text frame into an [`Event`].
pub(crate) fn classify(text: &str) -> Event {
    let Ok(frame) = serde_json::from_str::<Frame<'_>>(text) else {
        return Event::Other;
    };
    let data = || -> Option<Cow<'_, str>> {
        let raw = frame.data?;
        // Channel events carry `data` as a JSON string; a few servers send an object instead.
        if raw.get().starts_with('"') {
            serde_json::from_str::<Cow<'_, str>>(raw.get()).ok()
        } else {
            Some(Cow::Borrowed(raw.get()))
        }
    };
    match frame.event.as_ref() {
        BENCH_EVENT => data()
            .and_then(|d| serde_json::from_str::<Payload>(&d).ok())
            .map_or(Event::Other, Event::Bench),
        "pusher_internal:subscription_succeeded" => Event::Subscribed,
        "pusher_internal:member_added" | "pusher_internal:member_removed" => {
            let Some(user) = data().and_then(|d| {
                serde_json::from_str::<Member<'_>>(&d)
                    .ok()
                    .map(|m| m.user_id.into_owned())
            }) else {
                return Event::Other;
            };
            if frame.event == "pusher_internal:member_added" {
                Event::MemberAdded(user)
            } else {
                Event::MemberRemoved(user)
            }
        }
        "pusher:error" | "pusher:subscription_error" => Event::Error(text.to_owned()),
        _ => Event::Other,
    }
}

/// WebSocket buffers sized for small Pusher frames rather than tungstenite's 128 KiB default,
/// so that ten thousand connections fit beside the server on a small machine.
pub(crate) fn small_buffers() -> WebSocketConfig {
    WebSocketConfig::default()
        .read_buffer_size(4 * 1024)
        .write_buffer_size(0)
        .max_message_size(Some(pusherable_protocol::limits::WS_MESSAGE_MAX * 2))
        .max_frame_size(Some(pusherable_protocol::limits::WS_MESSAGE_MAX * 2))
}

/// An open client connection that has received `pusher:connection_established`.
pub(crate) struct Conn {
    ws: WebSocketStream<TcpStream>,
    /// The socket id the server gave this connection, needed to sign presence subscriptions.
    pub(crate) socket_id: String,
}

#[derive(Deserialize)]
struct Established {
    socket_id: String,
}

impl Conn {
    /// Connects from the next source address and waits for the handshake.
    pub(crate) async fn open(target: &Target, sources: &Sources) -> Result<Conn, ConnError> {
        Self::open_with(target, sources, None).await
    }

    /// [`open`](Self::open) with the socket's receive buffer set to `receive_buffer` bytes (the
    /// kernel's smallest is a few KiB), for a connection that will stop reading and should
    /// fill up soon.
    pub(crate) async fn open_with(
        target: &Target,
        sources: &Sources,
        receive_buffer: Option<u32>,
    ) -> Result<Conn, ConnError> {
        let open = Self::open_inner(target, sources.next(), receive_buffer);
        tokio::time::timeout(CONNECT_TIMEOUT, open)
            .await
            .unwrap_or(Err(ConnError::Timeout(CONNECT_TIMEOUT)))
    }

    async fn open_inner(
        target: &Target,
        source: Option<IpAddr>,
        receive_buffer: Option<u32>,
    ) -> Result<Conn, ConnError> {
        let socket = if target.addr.is_ipv4() {
            TcpSocket::new_v4()?
        } else {
            TcpSocket::new_v6()?
        };
        if let Some(ip) = source {
            socket.bind(SocketAddr::new(ip, 0))?;
        }
        if let Some(bytes) = receive_buffer {
            socket.set_recv_buffer_size(bytes)?;
        }
        let stream = socket.connect(target.addr).await?;
        stream.set_nodelay(true)?;
        let (mut ws, _) = tokio_tungstenite::client_async_with_config(
            target.ws_url(),
            stream,
            Some(small_buffers()),
        )
        .await?;
        loop {
            let text = match ws.next().await {
                Some(Ok(Message::Text(text))) => text,
                Some(Ok(Message::Close(frame))) => {
                    return Err(ConnError::Closed(format!("{frame:?}")))
                }
                Some(Ok(_)) => continue,
                Some(Err(e)) => return Err(e.into()),
                None => return Err(ConnError::Closed("end of stream".into())),
            };
            let frame: Frame<'_> = serde_json::from_str(text.as_str())
                .map_err(|_| ConnError::Closed(format!("unexpected frame {text}")))?;
            if frame.event != "pusher:connection_established" {
                return Err(ConnError::Closed(format!("unexpected frame {text}")));
            }
            let data = frame
                .data
                .and_then(|raw| serde_json::from_str::<String>(raw.get()).ok())
                .or_else(|| frame.data.map(|raw| raw.get().to_owned()))
                .unwrap_or_default();
            let established: Established = serde_json::from_str(&data)
                .map_err(|_| ConnError::Closed(format!("bad connection_established {text}")))?;
            return Ok(Conn {
                ws,
                socket_id: established.socket_id,
            });
        }
    }

    /// Sends `pusher:subscribe`; `auth` and `channel_data` are for private and presence channels.
    pub(crate) async fn subscribe(
        &mut self,
        channel: &str,
        auth: Option<&str>,
        channel_data: Option<&str>,
    ) -> Result<(), ConnError> {
        self.send_text(client::subscribe(channel, auth, channel_data))
            .await
    }

    /// Joins a presence channel as `user_id` (with empty `user_info`), signed with the target's
    /// secret; the answer comes later, as for [`Conn::subscribe`].
    pub(crate) async fn join_presence(
        &mut self,
        target: &Target,
        channel: &str,
        user_id: &str,
    ) -> Result<(), ConnError> {
        let member = PresenceMember::new(user_id).info(serde_json::json!({}));
        let signed = authorize_channel(
            &target.key,
            &target.secret,
            &self.socket_id,
            channel,
            Some(&member),
        )?;
        self.subscribe(channel, Some(&signed.auth), signed.channel_data.as_deref())
            .await
    }

    /// Sends `pusher:unsubscribe`.
    pub(crate) async fn unsubscribe(&mut self, channel: &str) -> Result<(), ConnError> {
        self.send_text(client::unsubscribe(channel)).await
    }

    async fn send_text(&mut self, text: String) -> Result<(), ConnError> {
        tokio::time::timeout(REPLY_TIMEOUT, self.ws.send(Message::Text(text.into())))
            .await
            .map_err(|_| ConnError::Timeout(REPLY_TIMEOUT))??;
        Ok(())
    }

    /// The next event, answering the server's `pusher:ping` on the way.
    ///
    /// `Ok(None)` means the server closed the connection.
    pub(crate) async fn next_event(&mut self) -> Result<Option<Event>, ConnError> {
        loop {
            let text = match self.ws.next().await {
                Some(Ok(Message::Text(text))) => text,
                Some(Ok(Message::Close(_))) | None => return Ok(None),
                Some(Ok(_)) => continue,
                Some(Err(e)) => return Err(e.into()),
            };
            if text.as_str().contains("\"pusher:ping\"") {
                self.send_text(client::pong().to_owned()).await?;
                continue;
            }
            return Ok(Some(classify(text.as_str())));
        }
    }

    /// Waits for `pusher_internal:subscription_succeeded`, passing other events to `other`.
    pub(crate) async fn until_subscribed(
        &mut self,
        mut other: impl FnMut(Event),
    ) -> Result<(), ConnError> {
        let wait = async {
            loop {
                match self.next_event().await? {
                    Some(Event::Subscribed) => return Ok(()),
                    Some(Event::Error(text)) => return Err(ConnError::Closed(text)),
                    Some(event) => other(event),
                    None => return Err(ConnError::Closed("end of stream".into())),
                }
            }
        };
        tokio::time::timeout(REPLY_TIMEOUT, wait)
            .await
            .unwrap_or(Err(ConnError::Timeout(REPLY_TIMEOUT)))
    }

    /// Reads everything the server had sent until it closed the connection, and the close code
    /// it gave (`None` when the socket just ended); `Err` when it is still open after `within`.
    pub(crate) async fn close_code(&mut self, within: Duration) -> Result<Option<u16>, ConnError> {
        let read = async {
            loop {
                match self.ws.next().await {
                    Some(Ok(Message::Close(frame))) => return Ok(frame.map(|f| f.code.into())),
                    Some(Ok(_)) => {}
                    Some(Err(_)) | None => return Ok(None),
                }
            }
        };
        tokio::time::timeout(within, read)
            .await
            .unwrap_or(Err(ConnError::Timeout(within)))
    }

    /// Closes the connection politely, without waiting long for the server's answer.
    pub(crate) async fn close(mut self) {
        let _ = tokio::time::timeout(Duration::from_secs(1), self.ws.close(None)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classify_frames() {
        assert_eq!(
            classify(r#"{"event":"bench","channel":"c","data":"{\"s\":3,\"t\":40}"}"#),
            Event::Bench(Payload { s: 3, t: 40 })
        );
        assert_eq!(
            classify(r#"{"event":"bench","channel":"c","data":{"s":3,"t":40}}"#),
            Event::Bench(Payload { s: 3, t: 40 })
        );
        assert_eq!(
            classify(
                r#"{"event":"pusher_internal:subscription_succeeded","channel":"c","data":"{}"}"#
            ),
            Event::Subscribed
        );
        assert_eq!(
            classify(
                r#"{"event":"pusher_internal:member_added","channel":"presence-a","data":"{\"user_id\":\"u1\",\"user_info\":{}}"}"#
            ),
            Event::MemberAdded("u1".into())
        );
        assert_eq!(
            classify(
                r#"{"event":"pusher_internal:member_removed","channel":"presence-a","data":"{\"user_id\":\"u\\\"1\"}"}"#
            ),
            Event::MemberRemoved("u\"1".into())
        );
        assert_eq!(classify("garbage"), Event::Other);
        assert_eq!(classify(r#"{"event":"bench","data":"nope"}"#), Event::Other);
        assert!(matches!(
            classify(r#"{"event":"pusher:error","data":{"message":"x","code":4001}}"#),
            Event::Error(_)
        ));
    }

    #[test]
    fn payload_round_trip() {
        let data = Payload::data(7, 123);
        let text = pusherable_protocol::outbound::channel_event("c", BENCH_EVENT, &data, None);
        assert_eq!(classify(&text), Event::Bench(Payload { s: 7, t: 123 }));
    }
}
