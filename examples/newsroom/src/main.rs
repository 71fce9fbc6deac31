//! The newsroom demo: `cargo run --release -p newsroom`, then open <http://127.0.0.1:8000>.

fn main() {}
