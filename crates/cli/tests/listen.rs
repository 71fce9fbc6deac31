//! `pusherable listen` against a real server: public, presence and encrypted channels, a
//! refused subscription, an unknown app, and SIGTERM.
#![allow(clippy::unwrap_used)]

mod common;

use std::process::Stdio;

use common::{failed, pusherable, run, terminate};
use pusherable_client::{Client, ClientBuilder, PresenceMember};
use pusherable_test_support::{config, pusher_url, start, Socket, KEY, MASTER_KEY, PATIENCE};
use serde_json::{json, Value};
use tokio::{
    io::{AsyncBufReadExt, BufReader, Lines},
    process::{Child, ChildStdout},
};

/// A running `pusherable listen` and the JSON lines it prints.
struct Listener {
    child: Child,
    lines: Lines<BufReader<ChildStdout>>,
}

impl Listener {
    fn spawn(args: &[&str]) -> Listener {
        let mut child = pusherable(["listen"])
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let lines = BufReader::new(child.stdout.take().unwrap()).lines();
        Listener { child, lines }
    }

    async fn next(&mut self) -> Value {
        let line = tokio::time::timeout(PATIENCE, self.lines.next_line())
            .await
            .expect("a line within the test's patience")
            .unwrap()
            .expect("listen is still running");
        serde_json::from_str(&line).unwrap_or_else(|e| panic!("{e}: {line}"))
    }

    async fn subscribed(&mut self, channel: &str) -> Value {
        let frame = self.next().await;
        assert_eq!(
            frame["event"], "pusher_internal:subscription_succeeded",
            "{frame}"
        );
        assert_eq!(frame["channel"], channel, "{frame}");
        frame
    }

    async fn exit_code(mut self) -> Option<i32> {
        tokio::time::timeout(PATIENCE, self.child.wait())
            .await
            .expect("listen ends within the test's patience")
            .unwrap()
            .code()
    }
}

#[tokio::test]
async fn listen_prints_events_and_joins_presence_channels() {
    let server = start(config()).await;
    let mut bob = Socket::connect(server.local_addr()).await;
    let client = Client::from_url(&pusher_url(&server)).unwrap();
    let auth = client
        .authorize_channel(
            &bob.socket_id,
            "presence-room",
            Some(&PresenceMember::new("bob")),
        )
        .unwrap();
    bob.subscribe_with_auth("presence-room", &auth.auth, auth.channel_data.as_deref())
        .await;

    let mut listener = Listener::spawn(&[
        "--url",
        &pusher_url(&server),
        "news",
        "presence-room",
        "--user-id",
        "ada",
        "--user-info",
        r#"{"name":"Ada"}"#,
        "--count",
        "2",
    ]);
    listener.subscribed("news").await;
    let joined = listener.subscribed("presence-room").await;
    let presence: Value = serde_json::from_str(joined["data"].as_str().unwrap()).unwrap();
    assert_eq!(presence["presence"]["count"], 2, "{presence}");
    let added = bob.recv().await;
    assert_eq!(added["event"], "pusher_internal:member_added");
    assert_eq!(
        added["data"],
        r#"{"user_id":"ada","user_info":{"name":"Ada"}}"#
    );

    client
        .trigger(&["news"], "headline", r#"{"title": "Hi"}"#)
        .await
        .unwrap();
    assert_eq!(
        listener.next().await,
        json!({"event": "headline", "channel": "news", "data": r#"{"title": "Hi"}"#})
    );
    client
        .trigger(&["presence-room"], "hello", "plain")
        .await
        .unwrap();
    assert_eq!(listener.next().await["data"], "plain");
    // Two channel events were asked for: listen leaves, and says so to the channel.
    assert_eq!(listener.exit_code().await, Some(0));
    assert_eq!(bob.next_event().await["event"], "hello");
    let removed = bob.recv().await;
    assert_eq!(
        removed["event"], "pusher_internal:member_removed",
        "{removed}"
    );
    server.shutdown().await;
}

#[tokio::test]
async fn listen_decrypts_encrypted_channels_with_the_master_key() {
    let server = start(config()).await;
    let mut listener = Listener::spawn(&[
        "--url",
        &pusher_url(&server),
        "private-encrypted-vault",
        "--encryption-master-key",
        MASTER_KEY,
        "--count",
        "1",
    ]);
    listener.subscribed("private-encrypted-vault").await;
    let client = ClientBuilder::from_url(&pusher_url(&server))
        .unwrap()
        .encryption_master_key_base64(MASTER_KEY)
        .build()
        .unwrap();
    client
        .trigger(&["private-encrypted-vault"], "open", r#"{"code":1234}"#)
        .await
        .unwrap();
    let event = listener.next().await;
    assert_eq!(event["data"], r#"{"code":1234}"#, "{event}");
    assert_eq!(listener.exit_code().await, Some(0));

    // Without the key, nothing is sent: encrypted channels cannot be authorized.
    let output = run(pusherable([
        "listen",
        "--url",
        &pusher_url(&server),
        "private-encrypted-vault",
    ]))
    .await;
    let err = failed(&output, 2);
    assert!(err.contains("master key"), "{err}");
    server.shutdown().await;
}

#[tokio::test]
async fn refusals_end_listen_with_one_readable_line() {
    let server = start(config()).await;
    let addr = server.local_addr();

    let wrong_secret = format!("http://{KEY}:not-the-secret@{addr}/apps/3");
    let output = run(pusherable([
        "listen",
        "--url",
        &wrong_secret,
        "private-orders",
    ]))
    .await;
    let err = failed(&output, 1);
    assert!(
        err.contains("subscription to private-orders refused"),
        "{err}"
    );
    // The refusal itself was printed as a frame first.
    let frame: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(frame["event"], "pusher:subscription_error");

    let unknown_key = format!("http://unknown:secret@{addr}/apps/3");
    let output = run(pusherable(["listen", "--url", &unknown_key, "news"])).await;
    let err = failed(&output, 1);
    assert!(err.contains("4001"), "{err}");

    let output = run(pusherable([
        "listen",
        "--url",
        &pusher_url(&server),
        "#server-to-user-1",
    ]))
    .await;
    failed(&output, 2);
    server.shutdown().await;
}

#[tokio::test]
async fn listen_stops_cleanly_on_sigterm() {
    let server = start(config()).await;
    let mut listener = Listener::spawn(&["--url", &pusher_url(&server), "news"]);
    listener.subscribed("news").await;
    terminate(listener.child.id().unwrap()).await;
    assert_eq!(listener.exit_code().await, Some(0));
    server.shutdown().await;
}
