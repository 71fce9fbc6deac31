//! `pusherable-bench`: the load generator on its own, as `pusherable bench` offers it.

use clap::Parser;

/// Load generator for any Pusher-compatible server on this machine.
#[derive(Parser)]
#[command(name = "pusherable-bench", version)]
struct Cli {
    #[command(flatten)]
    bench: pusherable_bench::Args,
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    match pusherable_bench::run(&cli.bench).await {
        Ok(_) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("pusherable-bench: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
