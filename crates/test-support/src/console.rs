//! A reader of the debug console's stream (server-sent events), as the console page reads it.

use std::net::SocketAddr;

use serde_json::Value;

use crate::PATIENCE;

/// An open `/console/apps/{id}/stream`: one JSON entry per event.
pub struct ConsoleStream {
    response: reqwest::Response,
    buffer: String,
}

impl ConsoleStream {
    /// Opens the stream of app `app_id` on `addr` with `credentials` (the app's secret or its
    /// console token) and checks that it answered 200 with `text/event-stream`.
    pub async fn open(addr: SocketAddr, app_id: &str, credentials: &str) -> ConsoleStream {
        let response = reqwest::Client::new()
            .get(format!("http://{addr}/console/apps/{app_id}/stream"))
            .bearer_auth(credentials)
            .send()
            .await
            .expect("the console answers");
        assert_eq!(response.status(), 200);
        assert_eq!(
            response.headers()["content-type"],
            "text/event-stream",
            "{:?}",
            response.headers()
        );
        ConsoleStream {
            response,
            buffer: String::new(),
        }
    }

    /// The next entry, within [`PATIENCE`].
    pub async fn next(&mut self) -> Value {
        loop {
            if let Some(end) = self.buffer.find("\n\n") {
                let block: String = self.buffer.drain(..end + 2).collect();
                let data: Vec<&str> = block
                    .lines()
                    .filter_map(|l| l.strip_prefix("data:"))
                    .map(str::trim_start)
                    .collect();
                if !data.is_empty() {
                    return serde_json::from_str(&data.join("\n")).expect("an entry is JSON");
                }
                continue;
            }
            let chunk = self.chunk().await.expect("the stream stays open");
            self.buffer
                .push_str(std::str::from_utf8(&chunk).expect("the stream is UTF-8"));
        }
    }

    /// The next entry of type `kind`, skipping others.
    pub async fn next_of(&mut self, kind: &str) -> Value {
        loop {
            let entry = self.next().await;
            if entry["type"] == kind {
                return entry;
            }
        }
    }

    /// The next raw piece of the stream, `None` once it ended.
    pub async fn chunk(&mut self) -> Option<bytes::Bytes> {
        tokio::time::timeout(PATIENCE, self.response.chunk())
            .await
            .expect("the stream moves within the test's patience")
            .expect("the stream reads")
    }
}
