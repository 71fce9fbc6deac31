//! `pusherable serve`.

use std::{io::Write as _, path::PathBuf};

use pusherable_server::{AppConfig, Config};

use crate::failure::Failure;

/// Options of `pusherable serve`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// TOML configuration file (apps, limits, listen address).
    #[arg(long, short, env = "PUSHERABLE_CONFIG")]
    config: Option<PathBuf>,
    /// Address to listen on (overrides the file and PUSHERABLE_HOST).
    #[arg(long)]
    host: Option<String>,
    /// Port to listen on; 0 picks a free one (overrides the file and PUSHERABLE_PORT).
    #[arg(long)]
    port: Option<u16>,
    /// Join the cluster of nodes that share this Redis server, `redis://host:port`
    /// (overrides the file and PUSHERABLE_REDIS_URL).
    #[arg(long, value_name = "URL")]
    redis_url: Option<String>,
}

pub(crate) async fn run(args: Args) -> Result<(), Failure> {
    let usage = |e: pusherable_server::ConfigError| Failure::Usage(e.to_string());
    let mut config = match &args.config {
        Some(path) => Config::from_file(path).map_err(usage)?,
        None => Config::default(),
    };
    config.apply_env(std::env::vars()).map_err(usage)?;
    if let Some(host) = args.host {
        config.host = host;
    }
    if let Some(port) = args.port {
        config.port = port;
    }
    if let Some(url) = args.redis_url {
        config.cluster.redis_url = Some(url);
        config.validate().map_err(usage)?;
    }
    let development = config.apps.is_empty();
    if development {
        config.apps.push(AppConfig::development());
    }
    let addr = config.listen_addr().map_err(usage)?;
    let signal = shutdown_signal();
    let running = pusherable_server::spawn(config.clone(), addr)
        .await
        .map_err(|e| Failure::Failed(e.to_string()))?;
    let addr = running.local_addr();
    {
        // Tests and scripts wait for this exact line.
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "pusherable listening on {}://{addr}", running.scheme());
        if development {
            let app = &config.apps[0];
            let _ = writeln!(
                out,
                "development app: id {} key {} secret {}",
                app.id, app.key, app.secret
            );
            let _ = writeln!(
                out,
                "  PUSHER_URL={}://{}:{}@{addr}/apps/{}",
                running.scheme(),
                app.key,
                app.secret,
                app.id
            );
        } else {
            for app in &config.apps {
                let _ = writeln!(out, "app {} (key {})", app.id, app.key);
            }
        }
        if let Some(metrics) = running.metrics_addr() {
            let _ = writeln!(out, "metrics on http://{metrics}/metrics");
        }
        if config.console != Some(false) {
            let _ = writeln!(
                out,
                "console on {}://{addr}{}/console (app id, then its secret or console_token)",
                running.scheme(),
                config.path_prefix
            );
        }
        let _ = out.flush();
    }
    signal.await;
    tracing::info!("draining connections");
    running.shutdown().await;
    Ok(())
}

/// Starts listening for Ctrl-C and SIGTERM; the future resolves on the first of them.
///
/// The handlers are installed before this returns, not when the future is first polled, so
/// that a signal which comes early (right after a banner line or a first frame was printed)
/// ends the command cleanly instead of killing the process.
pub(crate) fn shutdown_signal() -> impl std::future::Future<Output = ()> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let handlers = signal(SignalKind::terminate())
            .and_then(|term| signal(SignalKind::interrupt()).map(|interrupt| (term, interrupt)));
        async move {
            match handlers {
                Ok((mut term, mut interrupt)) => {
                    tokio::select! {
                        _ = term.recv() => {}
                        _ = interrupt.recv() => {}
                    }
                }
                Err(_) => {
                    let _ = tokio::signal::ctrl_c().await;
                }
            }
        }
    }
    #[cfg(not(unix))]
    {
        async {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}
