//! A pusherable server on a free port, the `pusherable` binary run against it, and a raw
//! protocol-7 WebSocket subscriber, for tests over real sockets.
#![allow(dead_code, unreachable_pub, clippy::unwrap_used)]

use std::{borrow::BorrowMut, net::SocketAddr, process::Output, time::Duration};

use futures_util::{SinkExt, StreamExt};
use pusherable_server::{AppConfig, Config, Spawned};
use serde_json::{json, Value};
use tokio::{net::TcpStream, process::Command};
use tokio_tungstenite::{tungstenite::Message, MaybeTlsStream, WebSocketStream};

pub const ID: &str = "3";
pub const KEY: &str = "278d425bdf160c739803";
pub const SECRET: &str = "7ad3773142a6692b25b8";
pub const MASTER_KEY: &str = "BwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc=";

/// A guard against a hung test, not a timing assertion: every wait below fails after it.
pub const PATIENCE: Duration = Duration::from_secs(20);

pub async fn start() -> Spawned {
    let mut config = Config::default();
    config.apps.push(AppConfig::new(ID, KEY, SECRET));
    pusherable_server::spawn(config, "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap()
}

/// The app's URL on `server`, as `PUSHER_URL` holds it.
pub fn url(server: &Spawned) -> String {
    format!("http://{KEY}:{SECRET}@{}/apps/{ID}", server.local_addr())
}

/// The `pusherable` binary, with none of the variables it reads set by whoever runs the tests.
pub fn pusherable<I, S>(args: I) -> Command
where
    I: IntoIterator<Item = S>,
    S: AsRef<std::ffi::OsStr>,
{
    let mut command = Command::new(env!("CARGO_BIN_EXE_pusherable"));
    command
        .args(args)
        .env_remove("PUSHER_URL")
        .env_remove("PUSHER_ENCRYPTION_MASTER_KEY_BASE64")
        .env_remove("PUSHERABLE_LOG")
        .env_remove("PUSHERABLE_CONFIG")
        .env_remove("PUSHERABLE_HOST")
        .env_remove("PUSHERABLE_PORT")
        .env_remove("PUSHERABLE_APP_ID")
        .env_remove("PUSHERABLE_APP_KEY")
        .env_remove("PUSHERABLE_APP_SECRET")
        .env_remove("PUSHERABLE_CONSOLE")
        .env_remove("PUSHERABLE_CONSOLE_TOKEN")
        .kill_on_drop(true);
    command
}

/// Runs `command` (a `Command` or a `&mut Command`) to its end.
pub async fn run(mut command: impl BorrowMut<Command>) -> Output {
    tokio::time::timeout(PATIENCE, command.borrow_mut().output())
        .await
        .expect("the command ends within the test's patience")
        .unwrap()
}

pub fn stdout(output: &Output) -> String {
    String::from_utf8(output.stdout.clone()).unwrap()
}

pub fn stderr(output: &Output) -> String {
    String::from_utf8(output.stderr.clone()).unwrap()
}

/// Checks that the command failed with `code` and one line on stderr, and gives that line.
pub fn failed(output: &Output, code: i32) -> String {
    let err = stderr(output);
    assert_eq!(output.status.code(), Some(code), "stderr: {err}");
    assert_eq!(err.lines().count(), 1, "one line on stderr: {err}");
    assert!(err.starts_with("pusherable: "), "{err}");
    err
}

/// Sends SIGTERM to a process this test started.
pub async fn terminate(pid: u32) {
    let status = Command::new("kill")
        .arg("-TERM")
        .arg(pid.to_string())
        .status()
        .await
        .unwrap();
    assert!(status.success());
}

/// A WebSocket connection speaking protocol 7 as pusher-js does.
pub struct Socket {
    ws: WebSocketStream<MaybeTlsStream<TcpStream>>,
    pub socket_id: String,
}

impl Socket {
    pub async fn connect(addr: SocketAddr) -> Socket {
        let url = format!("ws://{addr}/app/{KEY}?protocol=7&client=js&version=8.6.0&flash=false");
        let (ws, _) = tokio_tungstenite::connect_async(url).await.unwrap();
        let mut socket = Socket {
            ws,
            socket_id: String::new(),
        };
        let hello = socket.recv().await;
        assert_eq!(hello["event"], "pusher:connection_established", "{hello}");
        let data: Value = serde_json::from_str(hello["data"].as_str().unwrap()).unwrap();
        socket.socket_id = data["socket_id"].as_str().unwrap().to_owned();
        socket
    }

    pub async fn send(&mut self, frame: Value) {
        self.ws
            .send(Message::text(frame.to_string()))
            .await
            .unwrap();
    }

    /// The next text frame, parsed.
    pub async fn recv(&mut self) -> Value {
        loop {
            let msg = tokio::time::timeout(PATIENCE, self.ws.next())
                .await
                .expect("a frame within the test's patience")
                .expect("socket open")
                .expect("no socket error");
            match msg {
                Message::Text(t) => return serde_json::from_str(&t).unwrap(),
                Message::Ping(_) | Message::Pong(_) => continue,
                other => panic!("expected a text frame, got {other:?}"),
            }
        }
    }

    /// Subscribes to a channel (with `auth` and `channel_data` when it needs them) and checks
    /// that it worked.
    pub async fn subscribe_with(&mut self, data: Value) {
        self.send(json!({"event": "pusher:subscribe", "data": data}))
            .await;
        let reply = self.recv().await;
        assert_eq!(
            reply["event"], "pusher_internal:subscription_succeeded",
            "{reply}"
        );
    }

    /// Subscribes to a public channel.
    pub async fn subscribe(&mut self, channel: &str) {
        self.subscribe_with(json!({"auth": "", "channel": channel}))
            .await;
    }

    /// The next channel event (not `pusher:` or `pusher_internal:`).
    pub async fn next_event(&mut self) -> Value {
        loop {
            let frame = self.recv().await;
            let name = frame["event"].as_str().unwrap_or_default();
            if !name.starts_with("pusher:") && !name.starts_with("pusher_internal:") {
                return frame;
            }
        }
    }
}
