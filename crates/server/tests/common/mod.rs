//! A raw protocol-7 client and a signed REST caller, for tests over real sockets.
#![allow(dead_code, unreachable_pub, clippy::unwrap_used, clippy::expect_used)]

use std::{net::SocketAddr, time::Duration};

use futures_util::{SinkExt, StreamExt};
use pusherable_protocol::sign;
use pusherable_server::{AppConfig, Config, Spawned};
use serde_json::{json, Value};
use tokio::net::TcpStream;
use tokio_tungstenite::{
    tungstenite::{protocol::frame::coding::CloseCode, Message},
    MaybeTlsStream, WebSocketStream,
};

pub const ID: &str = "3";
pub const KEY: &str = "278d425bdf160c739803";
pub const SECRET: &str = "7ad3773142a6692b25b8";

/// A guard against a hung test, not a timing assertion: every wait below fails after it.
pub const PATIENCE: Duration = Duration::from_secs(10);

pub fn config() -> Config {
    let mut config = Config::default();
    config.apps.push(AppConfig::new(ID, KEY, SECRET));
    config
}

pub async fn start(config: Config) -> Spawned {
    pusherable_server::spawn(config, "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap()
}

pub struct Client {
    pub ws: WebSocketStream<MaybeTlsStream<TcpStream>>,
    pub socket_id: String,
}

/// How a server ended a connection.
#[derive(Debug, PartialEq, Eq)]
pub enum Closed {
    Code(u16),
    NoFrame,
}

impl Client {
    pub async fn raw(
        addr: SocketAddr,
        path_and_query: &str,
    ) -> WebSocketStream<MaybeTlsStream<TcpStream>> {
        let (ws, _) = tokio_tungstenite::connect_async(format!("ws://{addr}{path_and_query}"))
            .await
            .unwrap();
        ws
    }

    pub async fn connect(addr: SocketAddr) -> Client {
        Self::connect_key(addr, KEY).await
    }

    pub async fn connect_key(addr: SocketAddr, key: &str) -> Client {
        let ws = Self::raw(
            addr,
            &format!("/app/{key}?protocol=7&client=js&version=8.6.0&flash=false"),
        )
        .await;
        let mut c = Client {
            ws,
            socket_id: String::new(),
        };
        let hello = c.recv().await;
        assert_eq!(hello["event"], "pusher:connection_established", "{hello}");
        let data: Value =
            serde_json::from_str(hello["data"].as_str().expect("string data")).unwrap();
        assert_eq!(data["activity_timeout"], 120);
        c.socket_id = data["socket_id"].as_str().unwrap().to_owned();
        c
    }

    pub async fn send(&mut self, v: Value) {
        self.ws.send(Message::text(v.to_string())).await.unwrap();
    }

    pub async fn send_text(&mut self, t: &str) {
        self.ws.send(Message::text(t.to_owned())).await.unwrap();
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
                Message::Text(t) => return serde_json::from_str(&t).expect("JSON frame"),
                Message::Ping(_) | Message::Pong(_) => continue,
                other => panic!("expected a text frame, got {other:?}"),
            }
        }
    }

    /// The next frame whose event is not one of `skip`.
    pub async fn recv_event(&mut self, event: &str) -> Value {
        loop {
            let v = self.recv().await;
            if v["event"] == event {
                return v;
            }
        }
    }

    /// Waits for the server to close, and says how.
    pub async fn closed(&mut self) -> Closed {
        loop {
            match tokio::time::timeout(PATIENCE, self.ws.next())
                .await
                .expect("close within patience")
            {
                Some(Ok(Message::Close(Some(f)))) => return Closed::Code(u16::from(f.code)),
                Some(Ok(Message::Close(None))) | None | Some(Err(_)) => return Closed::NoFrame,
                Some(Ok(_)) => continue,
            }
        }
    }

    pub async fn subscribe(&mut self, channel: &str) -> Value {
        self.send(json!({"event":"pusher:subscribe","data":{"auth":"","channel":channel}}))
            .await;
        self.recv().await
    }

    pub async fn subscribe_private(&mut self, channel: &str, channel_data: Option<&str>) -> Value {
        let auth = sign::channel_auth(KEY, SECRET, &self.socket_id, channel, channel_data);
        let mut data = json!({"auth": auth, "channel": channel});
        if let Some(cd) = channel_data {
            data["channel_data"] = json!(cd);
        }
        self.send(json!({"event":"pusher:subscribe","data":data}))
            .await;
        self.recv().await
    }

    pub async fn join(&mut self, channel: &str, user_id: &str, name: &str) -> Value {
        let cd = json!({"user_id": user_id, "user_info": {"name": name}}).to_string();
        self.subscribe_private(channel, Some(&cd)).await
    }

    /// Proves the connection is alive and that everything sent before was handled.
    pub async fn round_trip(&mut self) {
        self.send(json!({"event":"pusher:ping","data":{}})).await;
        let pong = self.recv_event("pusher:pong").await;
        assert_eq!(pong["data"], "{}");
    }
}

pub fn close_code(c: CloseCode) -> u16 {
    u16::from(c)
}

/// Unix time now, in seconds.
pub fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// A signed REST call; returns the status and the JSON body.
pub async fn rest(
    addr: SocketAddr,
    method: &str,
    path: &str,
    body: Option<&Value>,
    extra: &[(&str, &str)],
) -> (u16, Value) {
    rest_raw(
        addr,
        method,
        path,
        body.map(|b| b.to_string()).as_deref(),
        extra,
        SECRET,
    )
    .await
}

pub async fn rest_raw(
    addr: SocketAddr,
    method: &str,
    path: &str,
    body: Option<&str>,
    extra: &[(&str, &str)],
    secret: &str,
) -> (u16, Value) {
    let body = body.unwrap_or("");
    let query = sign::signed_query(KEY, secret, method, path, body.as_bytes(), now(), extra);
    let client = reqwest::Client::new();
    let url = format!("http://{addr}{path}");
    let req = match method {
        "GET" => client.get(url),
        _ => client
            .post(url)
            .header("content-type", "application/json")
            .body(body.to_owned()),
    };
    let resp = req.query(&query).send().await.unwrap();
    let status = resp.status().as_u16();
    let text = resp.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

pub async fn trigger(addr: SocketAddr, channels: &[&str], event: &str, data: &str) -> (u16, Value) {
    rest(
        addr,
        "POST",
        &format!("/apps/{ID}/events"),
        Some(&json!({"name": event, "channels": channels, "data": data})),
        &[],
    )
    .await
}

impl Client {
    /// Signs in with `user_data` (JSON text) and returns the server's answer.
    pub async fn signin(&mut self, user_data: &str) -> Value {
        let auth = sign::user_auth(KEY, SECRET, &self.socket_id, user_data);
        self.send(json!({"event":"pusher:signin","data":{"auth":auth,"user_data":user_data}}))
            .await;
        self.recv().await
    }
}
