//! Sign-in with `authenticate_user`, `send_to_user` and `terminate_user_connections` against
//! the real server, with raw WebSocket connections signed in as pusher-js signs in.

mod common;

use common::client;
use pusherable_client::Client;
use pusherable_test_support::{config, start, Socket};
use serde_json::json;

/// Connects and signs in as `id` with the client's `authenticate_user`, as pusher-js would.
async fn signed_in(server: &pusherable_server::Spawned, client: &Client, id: &str) -> Socket {
    let mut socket = Socket::connect(server.local_addr()).await;
    let auth = client
        .authenticate_user(&socket.socket_id, &json!({ "id": id }))
        .expect("a valid user");
    let reply = socket.sign_in_with_auth(&auth.auth, &auth.user_data).await;
    assert_eq!(reply["event"], "pusher:signin_success", "{reply}");
    socket
}

#[tokio::test]
async fn user_authentication_is_accepted_and_echoed() {
    let server = start(config()).await;
    let client = client(&server);
    let mut socket = Socket::connect(server.local_addr()).await;

    let auth = client
        .authenticate_user(
            &socket.socket_id,
            &json!({"id": "ada", "user_info": {"name": "Ada"}}),
        )
        .unwrap();
    let reply = socket.sign_in_with_auth(&auth.auth, &auth.user_data).await;
    assert_eq!(reply["event"], "pusher:signin_success", "{reply}");
    assert_eq!(reply["data"]["user_data"], auth.user_data);

    // Signed for another connection, the same data is refused.
    let mut other = Socket::connect(server.local_addr()).await;
    let reply = other.sign_in_with_auth(&auth.auth, &auth.user_data).await;
    assert_eq!(reply["event"], "pusher:error", "{reply}");
    server.shutdown().await;
}

#[tokio::test]
async fn send_to_user_reaches_only_that_users_connections() {
    let server = start(config()).await;
    let client = client(&server);
    let mut ada = signed_in(&server, &client, "ada").await;
    let mut bob = signed_in(&server, &client, "bob").await;
    for (socket, id) in [(&mut ada, "ada"), (&mut bob, "bob")] {
        // What pusher-js does right after signing in.
        socket.subscribe(&format!("#server-to-user-{id}")).await;
    }

    client
        .send_to_user("ada", "notice", &json!({"text": "Saved"}))
        .await
        .unwrap();
    client
        .send_to_user("bob", "notice", "for bob")
        .await
        .unwrap();

    let to_ada = ada.next_event().await;
    assert_eq!(to_ada["channel"], "#server-to-user-ada");
    assert_eq!(to_ada["data"], r#"{"text":"Saved"}"#);
    // Bob's first event is his own: Ada's never reached him.
    assert_eq!(bob.next_event().await["data"], "for bob");
    server.shutdown().await;
}

#[tokio::test]
async fn terminate_closes_the_users_connections_only() {
    let server = start(config()).await;
    let client = client(&server);
    let mut ada = signed_in(&server, &client, "ada").await;
    let mut bob = signed_in(&server, &client, "bob").await;
    bob.subscribe("still-here").await;

    client.terminate_user_connections("ada").await.unwrap();
    assert_eq!(ada.close_code().await, Some(4009));

    client.trigger(&["still-here"], "e", "alive").await.unwrap();
    assert_eq!(bob.next_event().await["data"], "alive");
    server.shutdown().await;
}
