//! A pusherable server on a free port, the client pointed at it, and a raw protocol-7
//! WebSocket subscriber, for tests over real sockets.
#![allow(dead_code, unreachable_pub, clippy::unwrap_used)]

use std::{net::SocketAddr, time::Duration};

use futures_util::{SinkExt, StreamExt};
use pusherable_client::{Client, UserAuth};
use pusherable_server::{AppConfig, Config, Spawned};
use serde_json::{json, Value};
use tokio::net::TcpStream;
use tokio_tungstenite::{tungstenite::Message, MaybeTlsStream, WebSocketStream};

pub const ID: &str = "3";
pub const KEY: &str = "278d425bdf160c739803";
pub const SECRET: &str = "7ad3773142a6692b25b8";
pub const MASTER_KEY: &str = "BwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc=";

/// A guard against a hung test, not a timing assertion: every wait below fails after it.
pub const PATIENCE: Duration = Duration::from_secs(10);

pub fn app() -> AppConfig {
    AppConfig::new(ID, KEY, SECRET)
}

pub async fn start_with(app: AppConfig) -> Spawned {
    let mut config = Config::default();
    config.apps.push(app);
    pusherable_server::spawn(config, "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap()
}

pub async fn start() -> Spawned {
    start_with(app()).await
}

/// The client under test, pointed at `server` with the app's credentials and master key.
pub fn client(server: &Spawned) -> Client {
    let addr = server.local_addr();
    Client::builder(ID, KEY, SECRET)
        .host(&addr.ip().to_string())
        .port(addr.port())
        .tls(false)
        .timeout(PATIENCE)
        .encryption_master_key_base64(MASTER_KEY)
        .build()
        .unwrap()
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

    /// Sends `pusher:subscribe` with `data` (which names the channel) and returns the reply.
    pub async fn subscribe_with(&mut self, data: Value) -> Value {
        self.send(json!({"event": "pusher:subscribe", "data": data}))
            .await;
        self.recv().await
    }

    /// Subscribes to a public channel and checks that it worked.
    pub async fn subscribe(&mut self, channel: &str) {
        let reply = self
            .subscribe_with(json!({"auth": "", "channel": channel}))
            .await;
        assert_eq!(
            reply["event"], "pusher_internal:subscription_succeeded",
            "{reply}"
        );
    }

    /// Signs in with the data an app's user authentication endpoint returned, as pusher-js
    /// sends it, and returns the reply.
    pub async fn sign_in(&mut self, auth: &UserAuth) -> Value {
        self.send(json!({
            "event": "pusher:signin",
            "data": {"auth": auth.auth, "user_data": auth.user_data},
        }))
        .await;
        self.recv().await
    }

    /// Waits for the server to close the connection, and gives the close code.
    pub async fn close_code(&mut self) -> Option<u16> {
        loop {
            match tokio::time::timeout(PATIENCE, self.ws.next())
                .await
                .expect("a close within the test's patience")
            {
                Some(Ok(Message::Close(frame))) => return frame.map(|f| u16::from(f.code)),
                None | Some(Err(_)) => return None,
                Some(Ok(_)) => {}
            }
        }
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
