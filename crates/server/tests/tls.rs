//! The standalone server over TLS, with a certificate made for the test.
#![allow(clippy::unwrap_used)]

use pusherable_server::TlsConfig;
use pusherable_test_support::*;

#[tokio::test]
async fn serves_https_and_refuses_bad_files() {
    let dir = std::env::temp_dir().join(format!("pusherable-tls-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let made = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    std::fs::write(&cert, made.cert.pem()).unwrap();
    std::fs::write(&key, made.signing_key.serialize_pem()).unwrap();

    let mut cfg = config();
    cfg.tls = Some(TlsConfig::new(&cert, &key));
    let s = start(cfg).await;
    assert_eq!(s.scheme(), "https");
    let client = reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(made.cert.pem().as_bytes()).unwrap())
        .build()
        .unwrap();
    let port = s.local_addr().port();
    let up = client
        .get(format!("https://localhost:{port}/up"))
        .send()
        .await
        .unwrap();
    assert_eq!(up.status().as_u16(), 200);
    // Plain HTTP on the TLS port gets no answer.
    assert!(reqwest::get(format!("http://127.0.0.1:{port}/up"))
        .await
        .is_err());

    let mut bad = config();
    bad.tls = Some(TlsConfig::new(&key, &cert));
    let err = pusherable_server::spawn(bad, "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap_err();
    assert!(err.to_string().contains("certificate"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// True once the server has closed `stream` (without waiting if it has not).
fn closed_by_server(stream: &std::net::TcpStream) -> bool {
    use std::io::Read as _;
    stream.set_nonblocking(true).unwrap();
    let mut byte = [0u8; 1];
    let closed = match (&*stream).read(&mut byte) {
        Ok(n) => n == 0,
        Err(e) => e.kind() != std::io::ErrorKind::WouldBlock,
    };
    stream.set_nonblocking(false).unwrap();
    closed
}

/// Clients that connect and never start a handshake hold a slot only until their deadline;
/// with every slot taken, the next client is served once one of them is cut off.
#[tokio::test]
async fn silent_clients_are_cut_off_and_handshakes_in_flight_are_capped() {
    let dir = std::env::temp_dir().join(format!("pusherable-tls-cap-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let made = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    std::fs::write(&cert, made.cert.pem()).unwrap();
    std::fs::write(&key, made.signing_key.serialize_pem()).unwrap();

    let mut cfg = config();
    let mut tls = TlsConfig::new(&cert, &key);
    tls.handshake_timeout_secs = 1;
    tls.max_handshakes = 2;
    cfg.tls = Some(tls);
    let s = start(cfg).await;
    let addr = s.local_addr();
    let silent: Vec<std::net::TcpStream> = (0..2)
        .map(|_| std::net::TcpStream::connect(addr).unwrap())
        .collect();

    let client = reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(made.cert.pem().as_bytes()).unwrap())
        .build()
        .unwrap();
    let up = tokio::time::timeout(
        PATIENCE,
        client
            .get(format!("https://localhost:{}/up", addr.port()))
            .send(),
    )
    .await
    .expect("served within the test's patience")
    .unwrap();
    assert_eq!(up.status().as_u16(), 200);
    // Both slots were taken: the request could only be served after one silent client was
    // cut off. Without the cap, both would still be open now.
    assert!(
        silent.iter().any(closed_by_server),
        "a silent client was cut off before the next handshake started"
    );
    // And each silent client is cut off in the end.
    tokio::task::spawn_blocking(move || {
        for stream in silent {
            stream.set_read_timeout(Some(PATIENCE)).unwrap();
            let mut byte = [0u8; 1];
            match std::io::Read::read(&mut &stream, &mut byte) {
                Ok(0) => {}
                Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => {}
                other => panic!("the server closes a client that never says hello: {other:?}"),
            }
        }
    })
    .await
    .unwrap();
    let _ = std::fs::remove_dir_all(&dir);
}
