//! Who may read `/metrics` on the standalone server: loopback by default, a bearer token, or
//! a listener of its own.
#![allow(clippy::unwrap_used)]

use std::net::SocketAddr;

use pusherable_test_support::*;

const TOKEN: &str = "a-metrics-token-of-some-length";

/// The status of `GET http://{addr}/metrics`, with `Authorization: Bearer {token}` if given.
async fn get(addr: SocketAddr, token: Option<&str>) -> (u16, String) {
    let mut req = reqwest::Client::new().get(format!("http://{addr}/metrics"));
    if let Some(token) = token {
        req = req.bearer_auth(token);
    }
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    (status, resp.text().await.unwrap())
}

fn is_metrics(text: &str) -> bool {
    text.contains("pusherable_connections{app_id=\"3\"}")
}

#[tokio::test]
async fn open_on_a_loopback_listener_and_absent_beyond_it() {
    let s = start(config()).await;
    let (status, text) = get(s.local_addr(), None).await;
    assert!(status == 200 && is_metrics(&text), "{status} {text}");

    // The same server on every address: nothing there, unless a token or address says so.
    let wide = pusherable_server::spawn(config(), "0.0.0.0:0".parse().unwrap())
        .await
        .unwrap();
    let addr = SocketAddr::from(([127, 0, 0, 1], wide.local_addr().port()));
    assert_eq!(get(addr, None).await.0, 404);
    // The rest of the server is there.
    assert_eq!(
        reqwest::get(format!("http://{addr}/up"))
            .await
            .unwrap()
            .status(),
        200
    );
}

#[tokio::test]
async fn a_token_is_asked_for_when_configured() {
    let mut cfg = config();
    cfg.metrics_token = Some(TOKEN.into());
    let s = start(cfg).await;
    let addr = s.local_addr();
    for wrong in [None, Some("a-metrics-token-of-some-lengtH"), Some("")] {
        let resp = {
            let mut req = reqwest::Client::new().get(format!("http://{addr}/metrics"));
            if let Some(token) = wrong {
                req = req.bearer_auth(token);
            }
            req.send().await.unwrap()
        };
        assert_eq!(resp.status().as_u16(), 401, "{wrong:?}");
        assert_eq!(resp.headers()["www-authenticate"], "Bearer");
        assert!(!is_metrics(&resp.text().await.unwrap()));
    }
    let (status, text) = get(addr, Some(TOKEN)).await;
    assert!(status == 200 && is_metrics(&text), "{status} {text}");

    // Beyond loopback too, the token opens it.
    let mut cfg = config();
    cfg.metrics_token = Some(TOKEN.into());
    let wide = pusherable_server::spawn(cfg, "0.0.0.0:0".parse().unwrap())
        .await
        .unwrap();
    let addr = SocketAddr::from(([127, 0, 0, 1], wide.local_addr().port()));
    assert_eq!(get(addr, None).await.0, 401);
    assert_eq!(get(addr, Some(TOKEN)).await.0, 200);
}

#[tokio::test]
async fn a_listener_of_its_own_takes_metrics_off_the_main_one() {
    let mut cfg = config();
    cfg.metrics_addr = Some("127.0.0.1:0".parse().unwrap());
    let s = start(cfg).await;
    let metrics = s.metrics_addr().expect("a metrics listener");
    assert_ne!(metrics, s.local_addr());
    assert_eq!(get(s.local_addr(), None).await.0, 404);
    let (status, text) = get(metrics, None).await;
    assert!(status == 200 && is_metrics(&text), "{status} {text}");
    // Only /metrics lives there.
    let up = reqwest::get(format!("http://{metrics}/up")).await.unwrap();
    assert_eq!(up.status().as_u16(), 404);

    // With a token as well, the metrics listener asks for it.
    let mut cfg = config();
    cfg.metrics_addr = Some("127.0.0.1:0".parse().unwrap());
    cfg.metrics_token = Some(TOKEN.into());
    let s = start(cfg).await;
    let metrics = s.metrics_addr().unwrap();
    assert_eq!(get(metrics, None).await.0, 401);
    assert_eq!(get(metrics, Some(TOKEN)).await.0, 200);
    s.shutdown().await;
    assert!(
        tokio::net::TcpStream::connect(metrics).await.is_err(),
        "the metrics listener stops with the server"
    );
}
