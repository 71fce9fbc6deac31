//! The client under test, pointed at a test server.
#![allow(dead_code, unreachable_pub, clippy::unwrap_used)]

use pusherable_client::Client;
use pusherable_server::Spawned;
use pusherable_test_support::{ID, KEY, MASTER_KEY, PATIENCE, SECRET};

/// The client under test, pointed at `server` with the test app's credentials and master key.
pub fn client(server: &Spawned) -> Client {
    let addr = server.local_addr();
    Client::builder(ID, KEY, SECRET)
        .host(&addr.ip().to_string())
        .port(addr.port())
        .tls(false)
        .timeout(PATIENCE)
        .encryption_master_key_base64(MASTER_KEY)
        .build()
        .unwrap()
}
