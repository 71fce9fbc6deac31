//! The newsroom demo: `cargo run --release -p newsroom`, then open <http://127.0.0.1:8000>.

use std::{io::Write as _, process::ExitCode};

use clap::Parser as _;
use newsroom::Settings;

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "newsroom=info,pusherable=info".into()),
        )
        .init();
    let settings = Settings::parse();
    let running = match newsroom::start(settings).await {
        Ok(running) => running,
        Err(e) => {
            eprintln!("newsroom: {e}");
            return ExitCode::FAILURE;
        }
    };
    {
        // Tests and scripts wait for this exact line.
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "newsroom listening on http://{}", running.local_addr());
        let _ = out.flush();
    }
    wait_for_signal().await;
    match running.stop().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("newsroom: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}
