//! `pusherable listen`: connect as a WebSocket client, subscribe, and print what arrives.
//!
//! Private, presence and encrypted channels are authorized here with the app secret, as the
//! app's auth endpoint would. Every frame the server sends (but pings and pongs) goes to stdout
//! as one line of JSON, exactly as received, so that a script can read the stream; events on
//! `private-encrypted-` channels have their `data` decrypted first.

use std::{
    collections::HashMap,
    future::Future,
    io::{ErrorKind, Write as _},
    pin::Pin,
    time::Duration,
};

use futures_util::{SinkExt as _, StreamExt as _};
use pusherable_client::{Client, PresenceMember, Url};
use pusherable_protocol::{
    client, encryption::ChannelKey, limits::CHANNEL_NAME_MAX_LIBRARIES, ChannelKind, ChannelName,
    CloseCode,
};
use serde_json::Value;
use tokio::net::TcpStream;
use tokio_tungstenite::{
    tungstenite::{self, protocol::CloseFrame, Message},
    MaybeTlsStream, WebSocketStream,
};

use crate::{
    failure::{quote, root_cause, Failure},
    target::{websocket_url, TargetArgs},
};

/// A socket id used only to check every authorization before connecting.
const CHECK_SOCKET_ID: &str = "1.1";

/// Options of `pusherable listen`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// The channels to subscribe to; private-, private-encrypted- and presence- ones are
    /// authorized with the app secret.
    #[arg(required = true, value_name = "CHANNEL")]
    channels: Vec<String>,
    /// The user id to join presence channels as [default: pusherable-cli-SOCKET_ID].
    #[arg(long, value_name = "ID")]
    user_id: Option<String>,
    /// What other presence members see of this one, as JSON.
    #[arg(long, value_name = "JSON")]
    user_info: Option<String>,
    /// Exit after this many channel events (pusher: frames do not count).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    count: Option<u64>,
    #[command(flatten)]
    target: TargetArgs,
}

type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

pub(crate) async fn run(args: Args) -> Result<(), Failure> {
    let client = args.target.client()?;
    let channels = parse_channels(&args.channels)?;
    let user_info = args
        .user_info
        .as_deref()
        .map(serde_json::from_str::<Value>)
        .transpose()
        .map_err(|e| Failure::Usage(format!("--user-info is not JSON: {e}")))?;
    let member = |socket_id: &str| {
        let id = args
            .user_id
            .clone()
            .unwrap_or_else(|| format!("pusherable-cli-{socket_id}"));
        let member = PresenceMember::new(id);
        match &user_info {
            Some(info) => member.info(info.clone()),
            None => member,
        }
    };
    // Whatever cannot be authorized (a missing master key, a member over the limits) is
    // refused before connecting rather than after.
    subscribe_frames(
        &client,
        &channels,
        CHECK_SOCKET_ID,
        &member(CHECK_SOCKET_ID),
    )?;

    let signal = crate::serve::shutdown_signal();
    tokio::pin!(signal);
    let url = websocket_url(&client)?;
    let (mut socket, socket_id) = tokio::select! {
        connected = connect(&url, args.target.timeout()) => connected?,
        () = &mut signal => return Ok(()),
    };
    let (frames, keys) = subscribe_frames(&client, &channels, &socket_id, &member(&socket_id))?;
    for frame in frames {
        send(&mut socket, &frame).await?;
    }
    let outcome = listen(&mut socket, &keys, args.count, signal).await;
    // Closing politely lets the server send member_removed at once; a failure here changes
    // nothing for the user.
    let _ = socket.close(None).await;
    outcome
}

/// Opens the WebSocket and waits for `pusher:connection_established`; gives the socket id.
async fn connect(url: &Url, patience: Duration) -> Result<(Socket, String), Failure> {
    let shown = url.as_str().split('?').next().unwrap_or_default();
    let (mut socket, _) =
        tokio::time::timeout(patience, tokio_tungstenite::connect_async(url.as_str()))
            .await
            .map_err(|_| {
                Failure::Failed(format!("no answer from {shown} in time (see --timeout)"))
            })?
            .map_err(|e| connect_failure(&e, shown))?;
    let hello = tokio::time::timeout(patience, next_text(&mut socket))
        .await
        .map_err(|_| Failure::Failed(format!("{shown} sent no handshake in time")))??;
    let socket_id = socket_id(&hello).ok_or_else(|| {
        Failure::Failed(format!(
            "{shown} sent no connection_established: {}",
            quote(&hello)
        ))
    })?;
    tracing::debug!(%shown, %socket_id, "connected");
    Ok((socket, socket_id))
}

/// Reads frames until `count` channel events, a signal, a refused subscription or the end of
/// the connection.
async fn listen(
    socket: &mut Socket,
    keys: &HashMap<String, ChannelKey>,
    count: Option<u64>,
    mut signal: Pin<&mut impl Future<Output = ()>>,
) -> Result<(), Failure> {
    let mut remaining = count;
    loop {
        let text = tokio::select! {
            text = next_text(socket) => text?,
            () = signal.as_mut() => return Ok(()),
        };
        let Ok(frame) = serde_json::from_str::<Value>(&text) else {
            tracing::warn!(frame = %quote(&text), "ignoring a frame that is not JSON");
            continue;
        };
        let event = frame
            .get("event")
            .and_then(Value::as_str)
            .unwrap_or_default();
        match event {
            "pusher:ping" => {
                send(socket, client::pong()).await?;
                continue;
            }
            "pusher:pong" => continue,
            _ => {}
        }
        if !print_line(&shown_frame(&text, &frame, keys)) {
            // Nobody reads stdout any more.
            return Ok(());
        }
        if event == "pusher:subscription_error" {
            return Err(subscription_refused(&frame));
        }
        if !event.starts_with("pusher:") && !event.starts_with("pusher_internal:") {
            if let Some(n) = &mut remaining {
                *n -= 1;
                if *n == 0 {
                    return Ok(());
                }
            }
        }
    }
}

fn parse_channels(names: &[String]) -> Result<Vec<ChannelName>, Failure> {
    names
        .iter()
        .map(|name| {
            let channel = ChannelName::parse(name, CHANNEL_NAME_MAX_LIBRARIES)
                .map_err(|e| Failure::Usage(format!("{name:?}: {e}")))?;
            if channel.kind() == ChannelKind::ServerToUser {
                return Err(Failure::Usage(format!(
                    "{name:?}: #server-to-user- channels need a signed-in user; listen does not sign in"
                )));
            }
            Ok(channel)
        })
        .collect()
}

/// The `pusher:subscribe` frames for `channels`, and the keys of the encrypted ones.
fn subscribe_frames(
    rest: &Client,
    channels: &[ChannelName],
    socket_id: &str,
    member: &PresenceMember,
) -> Result<(Vec<String>, HashMap<String, ChannelKey>), Failure> {
    let mut frames = Vec::new();
    let mut keys = HashMap::new();
    for channel in channels {
        let name = channel.as_str();
        if !channel.kind().needs_auth() {
            // pusher-js sends an empty `auth` for a public channel.
            frames.push(client::subscribe(name, Some(""), None));
            continue;
        }
        let presence = (channel.kind() == ChannelKind::Presence).then_some(member);
        let auth = rest
            .authorize_channel(socket_id, name, presence)
            .map_err(|e| Failure::Usage(format!("{name}: {e}")))?;
        if let Some(secret) = &auth.shared_secret {
            let key = ChannelKey::from_shared_secret(secret)
                .map_err(|_| Failure::Failed("a channel key is not 32 bytes".to_owned()))?;
            keys.insert(name.to_owned(), key);
        }
        frames.push(client::subscribe(
            name,
            Some(&auth.auth),
            auth.channel_data.as_deref(),
        ));
    }
    Ok((frames, keys))
}

/// The line to print for `frame`: the text as received, on one line; an event on an
/// encrypted channel with its data decrypted.
fn shown_frame(text: &str, frame: &Value, keys: &HashMap<String, ChannelKey>) -> String {
    let key = frame
        .get("channel")
        .and_then(Value::as_str)
        .and_then(|channel| keys.get(channel));
    let event = frame
        .get("event")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let sealed = frame.get("data").and_then(Value::as_str);
    if let (Some(key), Some(sealed), false) = (key, sealed, event.starts_with("pusher")) {
        match key.open(sealed) {
            Ok(plaintext) => {
                let mut frame = frame.clone();
                frame["data"] = plaintext.into();
                return frame.to_string();
            }
            Err(why) => tracing::warn!(event, "cannot decrypt: {why}"),
        }
    }
    // JSON has newlines only between tokens, never inside a string, so this keeps the frame
    // intact and on one line.
    text.replace(['\n', '\r'], " ")
}

fn socket_id(hello: &str) -> Option<String> {
    let frame: Value = serde_json::from_str(hello).ok()?;
    if frame.get("event")?.as_str()? != "pusher:connection_established" {
        return None;
    }
    // `data` is a JSON string in protocol 7; an object is accepted too, as pusher-js does.
    let data = match frame.get("data")? {
        Value::String(text) => serde_json::from_str(text).ok()?,
        other => other.clone(),
    };
    Some(data.get("socket_id")?.as_str()?.to_owned())
}

fn subscription_refused(frame: &Value) -> Failure {
    let channel = frame
        .get("channel")
        .and_then(Value::as_str)
        .unwrap_or("a channel");
    let data = match frame.get("data") {
        Some(Value::String(text)) => serde_json::from_str(text).unwrap_or(Value::Null),
        Some(other) => other.clone(),
        None => Value::Null,
    };
    let why = data
        .get("error")
        .and_then(Value::as_str)
        .map_or_else(|| quote(&data.to_string()), quote);
    Failure::Failed(format!("subscription to {channel} refused: {why}"))
}

/// The next text frame; a close, an error or the end of the stream ends the listening.
async fn next_text(socket: &mut Socket) -> Result<String, Failure> {
    loop {
        match socket.next().await {
            None => return Err(Failure::Failed("the connection ended".to_owned())),
            Some(Err(e)) => {
                return Err(Failure::Failed(format!("the connection broke: {e}")));
            }
            Some(Ok(Message::Text(text))) => return Ok(text.as_str().to_owned()),
            Some(Ok(Message::Close(frame))) => return Err(closed(frame.as_ref())),
            // Pings are answered by tungstenite; Pusher sends no binary frames.
            Some(Ok(_)) => {}
        }
    }
}

fn closed(frame: Option<&CloseFrame>) -> Failure {
    let Some(frame) = frame else {
        return Failure::Failed("the server closed the connection".to_owned());
    };
    let code = u16::from(frame.code);
    let reason = if frame.reason.is_empty() {
        CloseCode::from_code(code).map_or("", CloseCode::reason)
    } else {
        frame.reason.as_str()
    };
    Failure::Failed(format!("the server closed the connection: {code} {reason}"))
}

async fn send(socket: &mut Socket, frame: &str) -> Result<(), Failure> {
    socket
        .send(Message::text(frame))
        .await
        .map_err(|e| Failure::Failed(format!("the connection broke: {e}")))
}

fn connect_failure(e: &tungstenite::Error, shown: &str) -> Failure {
    match e {
        tungstenite::Error::Http(response) => Failure::Failed(format!(
            "{shown} refused the WebSocket upgrade: HTTP {}",
            response.status()
        )),
        tungstenite::Error::Url(e) => Failure::Usage(format!("{shown}: {e}")),
        other => Failure::Failed(format!(
            "cannot reach {shown}: {}",
            root_cause(other).unwrap_or_else(|| other.to_string())
        )),
    }
}

/// Prints one line on stdout; false when stdout is closed.
fn print_line(line: &str) -> bool {
    let mut out = std::io::stdout().lock();
    match writeln!(out, "{line}").and_then(|()| out.flush()) {
        Ok(()) => true,
        Err(e) => {
            if e.kind() != ErrorKind::BrokenPipe {
                tracing::warn!("cannot write to stdout: {e}");
            }
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn client() -> Client {
        Client::builder("3", "278d425bdf160c739803", "7ad3773142a6692b25b8")
            .encryption_master_key_base64("BwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc=")
            .build()
            .unwrap()
    }

    fn channels(names: &[&str]) -> Vec<ChannelName> {
        parse_channels(&names.iter().map(|n| (*n).to_owned()).collect::<Vec<_>>()).unwrap()
    }

    #[test]
    fn subscriptions_are_signed_as_an_auth_endpoint_would() {
        let member = PresenceMember::new("42");
        let (frames, keys) = subscribe_frames(
            &client(),
            &channels(&[
                "news",
                "private-foobar",
                "presence-room",
                "private-encrypted-x",
            ]),
            "1234.1234",
            &member,
        )
        .unwrap();
        let frames: Vec<Value> = frames
            .iter()
            .map(|f| serde_json::from_str(f).unwrap())
            .collect();
        assert_eq!(
            frames[0],
            json!({"event": "pusher:subscribe", "data": {"auth": "", "channel": "news"}})
        );
        // PROTOCOL.md §4.2's vector for private-foobar.
        assert_eq!(
            frames[1]["data"]["auth"],
            "278d425bdf160c739803:58df8b0c36d6982b82c3ecf6b4662e34fe8c25bba48f5369f135bf843651c3a4"
        );
        assert_eq!(frames[2]["data"]["channel_data"], r#"{"user_id":"42"}"#);
        assert!(frames[3]["data"].get("shared_secret").is_none());
        assert_eq!(keys.len(), 1);
        assert_eq!(
            keys["private-encrypted-x"],
            ChannelKey::derive("private-encrypted-x", &[7; 32])
        );

        let keyless = Client::builder("3", "k", "s").build().unwrap();
        let e = subscribe_frames(
            &keyless,
            &channels(&["private-encrypted-x"]),
            "1.1",
            &member,
        )
        .unwrap_err();
        assert!(e.to_string().contains("master key"), "{e}");
    }

    #[test]
    fn user_channels_and_bad_names_are_refused() {
        for bad in ["#server-to-user-1", "no spaces", ""] {
            let e = parse_channels(&[bad.to_owned()]).unwrap_err();
            assert_eq!(e.exit_code(), 2, "{bad}: {e}");
        }
    }

    #[test]
    fn encrypted_events_are_shown_decrypted() {
        let key = ChannelKey::derive("private-encrypted-x", &[7; 32]);
        let data = key.seal(&[1; 24], "{\"secret\":1}");
        let frame = json!({"event": "e", "channel": "private-encrypted-x", "data": data});
        let keys = HashMap::from([("private-encrypted-x".to_owned(), key)]);
        let shown: Value =
            serde_json::from_str(&shown_frame(&frame.to_string(), &frame, &keys)).unwrap();
        assert_eq!(shown["data"], "{\"secret\":1}");
        // With another key, the frame is shown as it came.
        let other = HashMap::from([(
            "private-encrypted-x".to_owned(),
            ChannelKey::derive("private-encrypted-x", &[8; 32]),
        )]);
        assert_eq!(shown_frame("raw", &frame, &other), "raw");
    }

    #[test]
    fn frames_are_read_without_trusting_them() {
        assert_eq!(
            socket_id(r#"{"event":"pusher:connection_established","data":"{\"socket_id\":\"1.2\",\"activity_timeout\":120}"}"#)
                .as_deref(),
            Some("1.2")
        );
        for bad in [
            "",
            "[]",
            r#"{"event":"pusher:error","data":{}}"#,
            r#"{"event":"pusher:connection_established","data":"x"}"#,
        ] {
            assert_eq!(socket_id(bad), None, "{bad}");
        }
        let refused = subscription_refused(&json!({
            "event": "pusher:subscription_error",
            "channel": "private-a",
            "data": {"type": "AuthError", "error": "Invalid signature", "status": 401},
        }));
        assert_eq!(
            refused.to_string(),
            "subscription to private-a refused: Invalid signature"
        );
        assert_eq!(
            shown_frame("{\"a\":\n1}", &json!({"a": 1}), &HashMap::new()),
            "{\"a\": 1}"
        );
    }
}
