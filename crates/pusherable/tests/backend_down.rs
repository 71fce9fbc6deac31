//! The REST backend: events reach a standalone server, and a dead or hung one costs pages
//! nothing. No test here measures time: each shows that the page has answered while the
//! event is still undelivered, or that it answered although delivery failed.
#![allow(clippy::unwrap_used)]

mod common;

use std::{net::SocketAddr, time::Duration};

use common::{app, get_as, notification, serve, subscribe_as, Users};
use pusherable::{client::Client as RestClient, Backend, Realtime};
use pusherable_test_support::{config, start, Socket, ID, KEY, SECRET};
use tokio::net::{TcpListener, TcpStream};

fn rest(port: u16) -> Backend {
    let client = RestClient::builder(ID, KEY, SECRET)
        .host("127.0.0.1")
        .port(port)
        .tls(false)
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap();
    Backend::rest(client)
}

/// A port nothing listens on: connections are refused.
async fn dead_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    listener.local_addr().unwrap().port()
}

/// A listener that accepts connections and never answers, until the returned sender is
/// dropped, which closes them all.
async fn black_hole() -> (u16, tokio::sync::oneshot::Sender<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(async move {
        let mut held: Vec<TcpStream> = Vec::new();
        tokio::select! {
            _ = async {
                while let Ok((socket, _)) = listener.accept().await {
                    held.push(socket);
                }
            } => {}
            _ = stopped => {}
        }
        drop(held);
    });
    (port, stop)
}

#[tokio::test]
async fn events_reach_a_standalone_server_over_rest() {
    let server = start(config()).await;
    let realtime = Realtime::builder(Users)
        .backend(rest(server.local_addr().port()))
        .build()
        .unwrap();
    let addr = serve(app(&realtime)).await;

    // Pages connect to the standalone server, which the script tag points at.
    assert!(realtime.script_tag().contains(&format!(
        "data-host=\"127.0.0.1\" data-port=\"{}\" data-tls=\"false\"",
        server.local_addr().port()
    )));
    let mut bob = Socket::connect(server.local_addr()).await;
    subscribe_as(&mut bob, addr, "bob", "private-article-1").await;
    get_as(addr, "/articles/1/edit", Some("alice")).await;
    let (channel, event, data) = notification(&mut bob).await;
    assert_eq!(
        (channel.as_str(), event.as_str()),
        ("private-article-1", "update")
    );
    assert_eq!(data["user"]["id"], "alice");
    realtime.flush().await;
    assert_eq!(realtime.stats().sent, 1);
    server.shutdown().await;
}

#[tokio::test]
async fn a_dead_backend_leaves_pages_answering_and_counts_the_failure() {
    let realtime = Realtime::builder(Users)
        .backend(rest(dead_port().await))
        .build()
        .unwrap();
    let addr: SocketAddr = serve(app(&realtime)).await;
    for _ in 0..3 {
        let res = get_as(addr, "/articles/1/edit", Some("alice")).await;
        assert_eq!(res.status(), 200);
        assert_eq!(res.text().await.unwrap(), "<form>edit</form>");
    }
    realtime.flush().await;
    let stats = realtime.stats();
    assert_eq!(
        (stats.sent, stats.failed, stats.pending),
        (0, 3, 0),
        "{stats:?}"
    );
}

#[tokio::test]
async fn a_hung_backend_never_holds_up_a_page() {
    let (port, release) = black_hole().await;
    let realtime = Realtime::builder(Users)
        .backend(rest(port))
        .build()
        .unwrap();
    let addr = serve(app(&realtime)).await;

    let res = get_as(addr, "/articles/1/edit", Some("alice")).await;
    assert_eq!(res.status(), 200);
    // The page has its answer while its event still waits on the backend.
    assert_eq!(realtime.stats().pending, 1);
    assert_eq!(realtime.stats().failed, 0);

    drop(release);
    realtime.flush().await;
    let stats = realtime.stats();
    assert_eq!(
        (stats.sent, stats.failed, stats.pending),
        (0, 1, 0),
        "{stats:?}"
    );
}

#[tokio::test]
async fn the_queue_is_bounded_and_counts_what_it_drops() {
    let (port, release) = black_hole().await;
    let realtime = Realtime::builder(Users)
        .backend(rest(port))
        .queue_capacity(1)
        .concurrency(1)
        .build()
        .unwrap();
    let addr = serve(app(&realtime)).await;

    for _ in 0..6 {
        let res = get_as(addr, "/articles/1", Some("alice")).await;
        assert_eq!(res.status(), 200);
    }
    // One event is being sent and at most one waits; the rest were dropped.
    let stats = realtime.stats();
    assert!(stats.dropped >= 4, "{stats:?}");
    assert!(stats.pending <= 2, "{stats:?}");

    drop(release);
    realtime.flush().await;
    let stats = realtime.stats();
    assert_eq!(stats.failed + stats.dropped, 6, "{stats:?}");
    assert_eq!(stats.pending, 0);
}

#[tokio::test]
async fn a_backend_slower_than_the_timeout_counts_as_failed() {
    let (port, _release) = black_hole().await;
    let realtime = Realtime::builder(Users)
        .backend(rest(port))
        .timeout(Duration::from_millis(50))
        .build()
        .unwrap();
    let addr = serve(app(&realtime)).await;
    assert_eq!(
        get_as(addr, "/articles/1", Some("alice")).await.status(),
        200
    );
    // Still hung: only the deadline can end this flush.
    realtime.flush().await;
    assert_eq!(realtime.stats().failed, 1);
}

/// A listener that accepts each connection and closes it at once, counting them.
async fn slammer() -> (u16, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let accepted = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let count = accepted.clone();
    tokio::spawn(async move {
        while let Ok((socket, _)) = listener.accept().await {
            count.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            drop(socket);
        }
    });
    (port, accepted)
}

#[tokio::test]
async fn a_backend_that_keeps_failing_is_left_alone_for_a_pause() {
    let (port, accepted) = slammer().await;
    let realtime = Realtime::builder(Users)
        .backend(rest(port))
        // Longer than any test run: once open, the breaker stays open here.
        .failure_pause(Duration::from_secs(3600))
        .build()
        .unwrap();
    let addr = serve(app(&realtime)).await;
    for _ in 0..20 {
        assert_eq!(
            get_as(addr, "/articles/1", Some("alice")).await.status(),
            200
        );
        realtime.flush().await;
    }
    let stats = realtime.stats();
    assert_eq!((stats.sent, stats.failed), (0, 20), "{stats:?}");
    // Five failures in a row were tried; the fifteen after them were not.
    assert_eq!(accepted.load(std::sync::atomic::Ordering::SeqCst), 5);
}
