//! The auth helpers' output, sent by a raw WebSocket client exactly as pusher-js would send
//! it, is accepted by the real server; and encrypted events open with the key it hands out.

mod common;

use base64::{engine::general_purpose::STANDARD, Engine as _};
use common::client;
use crypto_secretbox::{
    aead::{Aead, KeyInit},
    Nonce, XSalsa20Poly1305,
};
use pusherable_client::{ChannelAuth, PresenceMember};
use pusherable_test_support::{config, start, Socket};
use serde_json::{json, Value};

/// Subscribes as pusher-js does with an auth endpoint's answer: it drops `shared_secret`.
async fn subscribe(socket: &mut Socket, channel: &str, auth: &ChannelAuth) -> Value {
    socket
        .request_subscription_with_auth(channel, &auth.auth, auth.channel_data.as_deref())
        .await
}

#[tokio::test]
async fn private_channel_authorization_is_accepted() {
    let server = start(config()).await;
    let client = client(&server);
    let mut socket = Socket::connect(server.local_addr()).await;

    let auth = client
        .authorize_channel(&socket.socket_id, "private-orders", None)
        .unwrap();
    let reply = subscribe(&mut socket, "private-orders", &auth).await;
    assert_eq!(
        reply["event"], "pusher_internal:subscription_succeeded",
        "{reply}"
    );
    assert_eq!(reply["channel"], "private-orders");
    server.shutdown().await;
}

#[tokio::test]
async fn an_authorization_is_bound_to_its_socket() {
    let server = start(config()).await;
    let client = client(&server);
    let mut first = Socket::connect(server.local_addr()).await;
    let mut second = Socket::connect(server.local_addr()).await;

    let for_first = client
        .authorize_channel(&first.socket_id, "private-orders", None)
        .unwrap();
    let reply = subscribe(&mut second, "private-orders", &for_first).await;
    assert_eq!(reply["event"], "pusher:subscription_error", "{reply}");
    assert_eq!(reply["data"]["status"], 401);

    let reply = subscribe(&mut first, "private-orders", &for_first).await;
    assert_eq!(reply["event"], "pusher_internal:subscription_succeeded");
    server.shutdown().await;
}

#[tokio::test]
async fn presence_members_are_signed_and_seen_by_others() {
    let server = start(config()).await;
    let client = client(&server);
    let mut ada = Socket::connect(server.local_addr()).await;
    let mut bob = Socket::connect(server.local_addr()).await;

    let ada_member = PresenceMember::new("1").info(json!({"name": "Ada"}));
    let auth = client
        .authorize_channel(&ada.socket_id, "presence-room", Some(&ada_member))
        .unwrap();
    let reply = subscribe(&mut ada, "presence-room", &auth).await;
    assert_eq!(
        reply["event"], "pusher_internal:subscription_succeeded",
        "{reply}"
    );

    let bob_member = PresenceMember::new("2").info(json!({"name": "Bob"}));
    let auth = client
        .authorize_channel(&bob.socket_id, "presence-room", Some(&bob_member))
        .unwrap();
    let reply = subscribe(&mut bob, "presence-room", &auth).await;
    let presence: Value = serde_json::from_str(reply["data"].as_str().unwrap()).unwrap();
    assert_eq!(presence["presence"]["count"], 2);
    assert_eq!(presence["presence"]["hash"]["1"], json!({"name": "Ada"}));
    assert_eq!(presence["presence"]["hash"]["2"], json!({"name": "Bob"}));

    let added = ada.recv().await;
    assert_eq!(added["event"], "pusher_internal:member_added");
    let member: Value = serde_json::from_str(added["data"].as_str().unwrap()).unwrap();
    assert_eq!(
        member,
        json!({"user_id": "2", "user_info": {"name": "Bob"}})
    );
    server.shutdown().await;
}

#[tokio::test]
async fn encrypted_events_open_with_the_authorized_shared_secret() {
    let server = start(config()).await;
    let client = client(&server);
    let mut socket = Socket::connect(server.local_addr()).await;
    let channel = "private-encrypted-ledger";

    let auth = client
        .authorize_channel(&socket.socket_id, channel, None)
        .unwrap();
    let reply = subscribe(&mut socket, channel, &auth).await;
    assert_eq!(
        reply["event"], "pusher_internal:subscription_succeeded",
        "{reply}"
    );

    let plaintext = json!({"amount": 42, "note": "déjà vu"});
    client
        .trigger(&[channel], "entry", &plaintext)
        .await
        .unwrap();
    let event = socket.next_event().await;
    assert_eq!(event["event"], "entry");
    let sealed: Value = serde_json::from_str(event["data"].as_str().unwrap()).unwrap();
    assert!(!event["data"].as_str().unwrap().contains("amount"));

    // What pusher-js does with the auth answer's shared_secret.
    let key = STANDARD.decode(auth.shared_secret.unwrap()).unwrap();
    let nonce = STANDARD.decode(sealed["nonce"].as_str().unwrap()).unwrap();
    let ciphertext = STANDARD
        .decode(sealed["ciphertext"].as_str().unwrap())
        .unwrap();
    let cipher = XSalsa20Poly1305::new_from_slice(&key).unwrap();
    let opened = cipher
        .decrypt(Nonce::from_slice(&nonce), ciphertext.as_slice())
        .unwrap();
    let opened: Value = serde_json::from_slice(&opened).unwrap();
    assert_eq!(opened, plaintext);
    server.shutdown().await;
}
