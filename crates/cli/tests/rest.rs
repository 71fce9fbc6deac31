//! `pusherable trigger`, `channels`, `channel` and `users` against a real server.

mod common;

use common::{failed, pusherable, run, stdout};
use pusherable_client::{Client, PresenceMember};
use pusherable_test_support::{config, pusher_url, start, Socket, ID, KEY, SECRET};
use serde_json::{json, Value};

#[tokio::test]
async fn trigger_reaches_a_subscriber_byte_for_byte() {
    let server = start(config()).await;
    let mut socket = Socket::connect(server.local_addr()).await;
    socket.subscribe("news").await;

    let json_text = r#"{"title": "Hi",  "n": 1}"#;
    let output = run(
        pusherable(["trigger", "--url", &pusher_url(&server), "news"])
            .args(["--event", "headline", "--data", json_text]),
    )
    .await;
    assert!(output.status.success(), "{output:?}");
    assert_eq!(stdout(&output), "sent \"headline\" to news\n");
    let event = socket.next_event().await;
    assert_eq!(
        event,
        json!({"event": "headline", "channel": "news", "data": json_text})
    );

    // Plain text, even text that starts like a flag, goes out as given.
    let output = run(
        pusherable(["trigger", "--url", &pusher_url(&server), "news", "other"]).args([
            "-e",
            "note",
            "-d",
            "-1 is not JSON, nor is this",
        ]),
    )
    .await;
    assert!(output.status.success(), "{output:?}");
    assert_eq!(stdout(&output), "sent \"note\" to news, other\n");
    assert_eq!(
        socket.next_event().await["data"],
        "-1 is not JSON, nor is this"
    );
    server.shutdown().await;
}

#[tokio::test]
async fn trigger_with_flags_leaves_out_a_socket_and_reports_info_as_json() {
    let server = start(config()).await;
    let mut left_out = Socket::connect(server.local_addr()).await;
    left_out.subscribe("news").await;
    let mut other = Socket::connect(server.local_addr()).await;
    other.subscribe("news").await;
    let port = server.local_addr().port().to_string();
    let flags = [
        "--app-id",
        ID,
        "--key",
        KEY,
        "--secret",
        SECRET,
        "--host",
        "127.0.0.1",
        "--port",
        &port,
    ];

    let output = run(pusherable(["trigger", "news", "-e", "first", "-d", "1"])
        .args(flags)
        .args(["--socket-id", &left_out.socket_id])
        .args(["--info", "subscription_count", "--json"]))
    .await;
    assert!(output.status.success(), "{output:?}");
    let reply: Value = serde_json::from_str(&stdout(&output)).unwrap();
    assert_eq!(
        reply,
        json!({"channels": {"news": {"subscription_count": 2}}})
    );
    assert_eq!(other.next_event().await["event"], "first");

    let output = run(pusherable(["trigger", "news", "-e", "second", "-d", "2"]).args(flags)).await;
    assert!(output.status.success(), "{output:?}");
    // The left-out connection's next event is the second one: it never got the first.
    assert_eq!(left_out.next_event().await["event"], "second");
    assert_eq!(other.next_event().await["event"], "second");
    server.shutdown().await;
}

#[tokio::test]
async fn channels_channel_and_users_describe_who_is_there() {
    let server = start(config()).await;
    let channels = |args: &[&str]| {
        let mut command = pusherable(args);
        command.env("PUSHER_URL", pusher_url(&server));
        command
    };
    let output = run(&mut channels(&["channels"])).await;
    assert!(output.status.success(), "{output:?}");
    assert_eq!(stdout(&output), "no occupied channels\n");

    let mut reader = Socket::connect(server.local_addr()).await;
    reader.subscribe("news").await;
    let mut ada = Socket::connect(server.local_addr()).await;
    let client = Client::from_url(&pusher_url(&server)).unwrap();
    let auth = client
        .authorize_channel(
            &ada.socket_id,
            "presence-room",
            Some(&PresenceMember::new("ada")),
        )
        .unwrap();
    ada.subscribe_with_auth("presence-room", &auth.auth, auth.channel_data.as_deref())
        .await;

    let output = run(&mut channels(&["channels"])).await;
    assert_eq!(stdout(&output), "news\npresence-room\n", "{output:?}");
    let output = run(&mut channels(&[
        "channels",
        "--prefix",
        "presence-",
        "--info",
        "user_count",
        "--json",
    ]))
    .await;
    let reply: Value = serde_json::from_str(&stdout(&output)).unwrap();
    assert_eq!(
        reply,
        json!({"channels": {"presence-room": {"user_count": 1}}})
    );

    let output = run(&mut channels(&[
        "channel",
        "news",
        "--info",
        "subscription_count",
    ]))
    .await;
    assert_eq!(
        stdout(&output),
        "news: occupied, subscription_count 1\n",
        "{output:?}"
    );
    let output = run(&mut channels(&["channel", "sports", "--json"])).await;
    let reply: Value = serde_json::from_str(&stdout(&output)).unwrap();
    assert_eq!(reply, json!({"occupied": false}));

    let output = run(&mut channels(&["users", "presence-room"])).await;
    assert_eq!(stdout(&output), "ada\n", "{output:?}");
    let output = run(&mut channels(&["users", "presence-room", "--json"])).await;
    let reply: Value = serde_json::from_str(&stdout(&output)).unwrap();
    assert_eq!(reply, json!({"users": [{"id": "ada"}]}));
    server.shutdown().await;
}

#[tokio::test]
async fn bad_targets_fail_with_one_readable_line() {
    let server = start(config()).await;
    let addr = server.local_addr();

    let output = run(pusherable([
        "trigger", "news", "-e", "e", "-d", "d", "--url", "nonsense",
    ]))
    .await;
    let err = failed(&output, 2);
    assert!(err.contains("--url: "), "{err}");

    let output = run(pusherable(["channels"])).await;
    let err = failed(&output, 2);
    assert!(
        err.contains("PUSHER_URL") && err.contains("--app-id"),
        "{err}"
    );

    let wrong_secret = format!("http://{KEY}:not-the-secret@{addr}/apps/{ID}");
    let output = run(pusherable([
        "trigger",
        "news",
        "-e",
        "e",
        "-d",
        "d",
        "--url",
        &wrong_secret,
    ]))
    .await;
    let err = failed(&output, 1);
    assert!(err.contains("authentication failed (HTTP 401"), "{err}");
    assert!(err.contains("check the key and secret"), "{err}");
    assert!(!err.contains("not-the-secret"), "{err}");

    let wrong_app = format!("http://{KEY}:{SECRET}@{addr}/apps/404");
    let output = run(pusherable(["channels", "--url", &wrong_app])).await;
    let err = failed(&output, 1);
    assert!(err.contains("HTTP 404") && err.contains("app id"), "{err}");

    let output = run(pusherable(["users", "news", "--url", &pusher_url(&server)])).await;
    let err = failed(&output, 2);
    assert!(err.contains("\"news\""), "{err}");

    let output = run(pusherable([
        "trigger",
        "bad name",
        "-e",
        "e",
        "-d",
        "d",
        "--url",
        &pusher_url(&server),
    ]))
    .await;
    let err = failed(&output, 2);
    assert!(err.contains("invalid channel name"), "{err}");

    // A port nothing listens on any more.
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap()
    };
    let nowhere = format!("http://{KEY}:{SECRET}@{closed}/apps/{ID}");
    let output = run(pusherable(["channels", "--url", &nowhere])).await;
    let err = failed(&output, 1);
    assert!(
        err.contains(&format!("cannot reach http://{closed}/apps/{ID}")),
        "{err}"
    );
    assert!(!err.contains("auth_signature"), "{err}");

    // clap's own usage errors exit with 2 as well.
    let output = run(pusherable([
        "trigger",
        "news",
        "--url",
        &pusher_url(&server),
    ]))
    .await;
    assert_eq!(output.status.code(), Some(2), "{output:?}");
    server.shutdown().await;
}
