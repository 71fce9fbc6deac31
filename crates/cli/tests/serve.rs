//! `pusherable serve`: its banner, its development app, and a clean stop on SIGTERM.

mod common;

use std::process::Stdio;

use common::{pusherable, run, stdout, terminate};
use pusherable_test_support::PATIENCE;
use tokio::io::{AsyncBufReadExt, BufReader};

#[tokio::test]
async fn serve_prints_its_address_and_development_app_then_stops_on_sigterm() {
    let mut child = pusherable(["serve", "--host", "127.0.0.1", "--port", "0"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut next_line = async || {
        tokio::time::timeout(PATIENCE, lines.next_line())
            .await
            .expect("a line within the test's patience")
            .unwrap()
            .expect("the server is still running")
    };

    let listening = next_line().await;
    let addr = listening
        .strip_prefix("pusherable listening on http://")
        .unwrap_or_else(|| panic!("{listening}"))
        .to_owned();
    assert!(addr.starts_with("127.0.0.1:"), "{listening}");
    let app = next_line().await;
    assert!(app.starts_with("development app: id 1 key "), "{app}");
    let pusher_url = next_line().await;
    let pusher_url = pusher_url
        .strip_prefix("  PUSHER_URL=")
        .unwrap_or_else(|| panic!("{pusher_url}"))
        .to_owned();
    assert!(pusher_url.starts_with("http://") && pusher_url.ends_with(&format!("@{addr}/apps/1")));
    let console = next_line().await;
    assert!(
        console.starts_with(&format!("console on http://{addr}/console ")),
        "{console}"
    );

    // The printed URL is all the other commands need.
    let output =
        run(pusherable(["trigger", "news", "-e", "e", "-d", "{}"]).env("PUSHER_URL", &pusher_url))
            .await;
    assert!(output.status.success(), "{output:?}");
    let output = run(pusherable(["channels"]).env("PUSHER_URL", &pusher_url)).await;
    assert_eq!(stdout(&output), "no occupied channels\n", "{output:?}");

    terminate(child.id().unwrap()).await;
    let status = tokio::time::timeout(PATIENCE, child.wait())
        .await
        .expect("the server stops within the test's patience")
        .unwrap();
    assert!(status.success(), "{status}");
}
