//! Every REST call of the client against a real pusherable server over HTTP, with raw
//! WebSocket subscribers checking what arrives.

mod common;

use common::client;
use pusherable_client::{Event, Info, PresenceMember, TriggerOptions};
use pusherable_test_support::{config, pusher_url, start, Socket};
use serde_json::json;

#[tokio::test]
async fn trigger_delivers_strings_as_is_and_values_as_json() {
    let server = start(config()).await;
    let client = client(&server);
    let mut socket = Socket::connect(server.local_addr()).await;
    socket.subscribe("news").await;

    client
        .trigger(&["news"], "headline", "plain text")
        .await
        .unwrap();
    let event = socket.next_event().await;
    assert_eq!(event["event"], "headline");
    assert_eq!(event["channel"], "news");
    assert_eq!(event["data"], "plain text");

    client
        .trigger(&["news"], "story", &json!({"id": 1, "title": "Hi"}))
        .await
        .unwrap();
    assert_eq!(
        socket.next_event().await["data"],
        r#"{"id":1,"title":"Hi"}"#
    );
    server.shutdown().await;
}

#[tokio::test]
async fn one_trigger_reaches_every_channel_named() {
    let server = start(config()).await;
    let client = client(&server);
    let mut socket = Socket::connect(server.local_addr()).await;
    socket.subscribe("a").await;
    socket.subscribe("b").await;

    client.trigger(&["a", "b"], "ping", "x").await.unwrap();
    let mut channels = vec![
        socket.next_event().await["channel"].clone(),
        socket.next_event().await["channel"].clone(),
    ];
    channels.sort_by_key(|c| c.to_string());
    assert_eq!(channels, [json!("a"), json!("b")]);
    server.shutdown().await;
}

#[tokio::test]
async fn socket_id_leaves_that_connection_out_and_info_counts_the_rest() {
    let server = start(config()).await;
    let client = client(&server);
    let mut sender = Socket::connect(server.local_addr()).await;
    let mut other = Socket::connect(server.local_addr()).await;
    sender.subscribe("room").await;
    other.subscribe("room").await;

    let options = TriggerOptions {
        socket_id: Some(sender.socket_id.clone()),
        info: vec![Info::SubscriptionCount],
    };
    let reply = client
        .trigger_with(&["room"], "moved", "first", &options)
        .await
        .unwrap();
    assert_eq!(reply.channels["room"].subscription_count, Some(2));
    assert_eq!(other.next_event().await["data"], "first");

    // The sender's next event is the second one: it never got the first.
    client.trigger(&["room"], "moved", "second").await.unwrap();
    assert_eq!(sender.next_event().await["data"], "second");
    assert_eq!(other.next_event().await["data"], "second");
    server.shutdown().await;
}

#[tokio::test]
async fn batch_delivers_in_order_and_answers_per_entry() {
    let server = start(config()).await;
    let client = client(&server);
    let mut socket = Socket::connect(server.local_addr()).await;
    socket.subscribe("a").await;
    socket.subscribe("b").await;

    let reply = client
        .trigger_batch(&[
            Event::new("a", "first", "one").unwrap(),
            Event::new("b", "second", &json!({"x": 1}))
                .unwrap()
                .info(&[Info::SubscriptionCount]),
        ])
        .await
        .unwrap();
    assert_eq!(reply.batch.len(), 2);
    assert_eq!(reply.batch[1].subscription_count, Some(1));

    let first = socket.next_event().await;
    assert_eq!(
        (&first["channel"], &first["data"]),
        (&json!("a"), &json!("one"))
    );
    let second = socket.next_event().await;
    assert_eq!(
        (&second["channel"], &second["data"]),
        (&json!("b"), &json!(r#"{"x":1}"#))
    );
    server.shutdown().await;
}

#[tokio::test]
async fn channels_channel_and_users_report_what_is_subscribed() {
    let server = start(config()).await;
    let client = client(&server);
    let mut ada = Socket::connect(server.local_addr()).await;
    let mut bob = Socket::connect(server.local_addr()).await;
    ada.subscribe("lobby").await;
    for (socket, id) in [(&mut ada, "1"), (&mut bob, "2")] {
        let auth = client
            .authorize_channel(
                &socket.socket_id,
                "presence-room",
                Some(&PresenceMember::new(id)),
            )
            .unwrap();
        socket
            .subscribe_with_auth("presence-room", &auth.auth, auth.channel_data.as_deref())
            .await;
    }

    let all = client.channels(None, &[]).await.unwrap();
    let names: Vec<&str> = all.channels.keys().map(String::as_str).collect();
    assert_eq!(names, ["lobby", "presence-room"]);

    let presence = client
        .channels(Some("presence-"), &[Info::UserCount])
        .await
        .unwrap();
    assert_eq!(presence.channels.len(), 1);
    assert_eq!(presence.channels["presence-room"].user_count, Some(2));

    let lobby = client
        .channel("lobby", &[Info::SubscriptionCount])
        .await
        .unwrap();
    assert!(lobby.occupied);
    assert_eq!(lobby.subscription_count, Some(1));
    let room = client
        .channel("presence-room", &[Info::UserCount])
        .await
        .unwrap();
    assert_eq!(room.user_count, Some(2));
    assert!(!client.channel("empty", &[]).await.unwrap().occupied);

    let users = client.users("presence-room").await.unwrap();
    let mut ids: Vec<&str> = users.users.iter().map(|u| u.id.as_str()).collect();
    ids.sort_unstable();
    assert_eq!(ids, ["1", "2"]);
    server.shutdown().await;
}

#[tokio::test]
async fn clones_share_one_client_and_calls_run_concurrently() {
    let server = start(config()).await;
    let client = client(&server);
    let mut socket = Socket::connect(server.local_addr()).await;
    socket.subscribe("many").await;

    let calls = (0..20).map(|i| {
        let client = client.clone();
        async move { client.trigger(&["many"], "n", &i).await }
    });
    for result in futures_util::future::join_all(calls).await {
        result.unwrap();
    }
    let mut seen: Vec<u32> = Vec::new();
    for _ in 0..20 {
        seen.push(
            socket.next_event().await["data"]
                .as_str()
                .unwrap()
                .parse()
                .unwrap(),
        );
    }
    seen.sort_unstable();
    assert_eq!(seen, (0..20).collect::<Vec<_>>());
    server.shutdown().await;
}

#[tokio::test]
async fn from_url_reaches_the_same_server() {
    let server = start(config()).await;
    let addr = server.local_addr();
    let client = pusherable_client::Client::from_url(&pusher_url(&server)).unwrap();
    let mut socket = Socket::connect(addr).await;
    socket.subscribe("url").await;
    client.trigger(&["url"], "e", "via url").await.unwrap();
    assert_eq!(socket.next_event().await["data"], "via url");
    server.shutdown().await;
}
