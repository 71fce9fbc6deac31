//! Every kind of failure, each from a real socket: the pusherable server's own refusals, a
//! listener that never answers, a port with nothing on it, and a server that answers nonsense.

mod common;

use std::time::Duration;

use common::client;
use pusherable_client::{Client, Error, ErrorKind, Info, InvalidInput, TriggerOptions};
use pusherable_test_support::{config, start, ID, KEY, PATIENCE, SECRET};
use tokio::{io::AsyncWriteExt, net::TcpListener};

fn client_for(addr: std::net::SocketAddr, id: &str, secret: &str) -> Client {
    Client::builder(id, KEY, secret)
        .host(&addr.ip().to_string())
        .port(addr.port())
        .tls(false)
        .timeout(PATIENCE)
        .build()
        .expect("a valid configuration")
}

#[tokio::test]
async fn server_refusals_keep_their_status_and_body() {
    let server = start(config()).await;
    let addr = server.local_addr();

    let wrong_secret = client_for(addr, ID, "not-the-secret");
    let err = wrong_secret.trigger(&["a"], "e", "d").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Authentication, "{err}");
    assert_eq!(err.status(), Some(401));
    assert!(err.body().unwrap().contains("signature"), "{err}");

    let unknown_app = client_for(addr, "99", SECRET);
    let err = unknown_app.trigger(&["a"], "e", "d").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound, "{err}");
    assert_eq!(err.status(), Some(404));

    // user_count needs a presence- prefix: a rule only the server checks.
    let err = client(&server)
        .channels(None, &[Info::UserCount])
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::BadRequest, "{err}");
    assert_eq!(err.status(), Some(400));
    server.shutdown().await;
}

#[tokio::test]
async fn disabled_app_is_forbidden() {
    let mut disabled = config();
    disabled.apps[0].enabled = false;
    let server = start(disabled).await;
    let err = client(&server).trigger(&["a"], "e", "d").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Forbidden, "{err}");
    assert_eq!(err.status(), Some(403));
    server.shutdown().await;
}

#[tokio::test]
async fn data_over_the_server_limit_is_payload_too_large() {
    let mut small = config();
    small.apps[0].max_event_bytes = 100;
    let server = start(small).await;
    let err = client(&server)
        .trigger(&["a"], "e", &"x".repeat(200))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::PayloadTooLarge, "{err}");
    assert_eq!(err.status(), Some(413));
    server.shutdown().await;
}

#[tokio::test]
async fn client_side_checks_fail_before_any_request() {
    // Nothing listens here: a check that let the call through would give a network error.
    let closed = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = closed.local_addr().unwrap();
    drop(closed);
    let client = client_for(addr, ID, SECRET);

    let err = client
        .trigger(&["a"], "e", &"x".repeat(10 * 1024 + 1))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::PayloadTooLarge);
    assert_eq!(err.status(), None);

    let bad_socket = TriggerOptions {
        socket_id: Some("nope".into()),
        info: vec![],
    };
    for err in [
        client.trigger(&[] as &[&str], "e", "d").await.unwrap_err(),
        client.trigger(&["a b"], "e", "d").await.unwrap_err(),
        client
            .trigger(&["a"], &"e".repeat(201), "d")
            .await
            .unwrap_err(),
        client
            .trigger_with(&["a"], "e", "d", &bad_socket)
            .await
            .unwrap_err(),
        client.trigger_batch(&[]).await.unwrap_err(),
        client.users("not-presence").await.unwrap_err(),
        client.channel("#server-to-user-1", &[]).await.unwrap_err(),
        client.send_to_user("a b", "e", "d").await.unwrap_err(),
        client.terminate_user_connections("../x").await.unwrap_err(),
    ] {
        assert_eq!(err.kind(), ErrorKind::InvalidInput, "{err}");
    }
    // No key was configured on this client, so encrypted channels are refused.
    assert!(matches!(
        client
            .trigger(&["private-encrypted-x"], "e", "d")
            .await
            .unwrap_err(),
        Error::InvalidInput(InvalidInput::NoEncryptionKey(_))
    ));
}

#[tokio::test]
async fn nothing_listening_is_a_network_error() {
    let closed = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = closed.local_addr().unwrap();
    drop(closed);
    let err = client_for(addr, ID, SECRET)
        .trigger(&["a"], "e", "d")
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Network, "{err}");
    assert_eq!(err.status(), None);
}

#[tokio::test]
async fn a_server_that_never_answers_times_out() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    // Accepts, keeps the connection open, and never writes a byte.
    let holder = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((stream, _)) = listener.accept().await {
            held.push(stream);
        }
    });
    let client = Client::builder(ID, KEY, SECRET)
        .host("127.0.0.1")
        .port(addr.port())
        .tls(false)
        .timeout(Duration::from_millis(200))
        .build()
        .unwrap();
    let err = client.trigger(&["a"], "e", "d").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Timeout, "{err}");
    holder.abort();
}

#[tokio::test]
async fn a_reply_that_is_not_json_is_an_invalid_reply() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let answer = tokio::spawn(async move {
        let (mut stream, _) = listener.accept().await.unwrap();
        let mut request = vec![0u8; 4096];
        // The request is small and arrives in one read; its content does not matter here.
        let _ = tokio::io::AsyncReadExt::read(&mut stream, &mut request).await;
        let body = "<html>hello</html>";
        let reply = format!(
            "HTTP/1.1 200 OK\r\ncontent-type: text/html\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
            body.len()
        );
        stream.write_all(reply.as_bytes()).await.unwrap();
        stream.shutdown().await.unwrap();
    });
    let err = client_for(addr, ID, SECRET)
        .channels(None, &[])
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidReply, "{err}");
    assert_eq!(err.status(), Some(200));
    assert_eq!(err.body(), Some("<html>hello</html>"));
    answer.await.unwrap();
}
