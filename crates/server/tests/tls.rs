//! The standalone server over TLS, with a certificate made for the test.
#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use pusherable_server::TlsConfig;

#[tokio::test]
async fn serves_https_and_refuses_bad_files() {
    let dir = std::env::temp_dir().join(format!("pusherable-tls-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let made = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    std::fs::write(&cert, made.cert.pem()).unwrap();
    std::fs::write(&key, made.signing_key.serialize_pem()).unwrap();

    let mut cfg = config();
    cfg.tls = Some(TlsConfig {
        cert: cert.clone(),
        key: key.clone(),
    });
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
    bad.tls = Some(TlsConfig {
        cert: key.clone(),
        key: cert.clone(),
    });
    let err = pusherable_server::spawn(bad, "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap_err();
    assert!(err.to_string().contains("certificate"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}
