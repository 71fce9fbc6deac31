//! `bare-broadcaster`: the minimal WebSocket broadcaster the load generator compares against.

use clap::Parser;

/// A bare WebSocket broadcaster: no signatures, no presence, just fan-out.
#[derive(Parser)]
#[command(name = "bare-broadcaster", version)]
struct Cli {
    #[command(flatten)]
    bare: pusherable_bench::bare::BareArgs,
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    // Each connection is a file; allow as many as the hard limit does.
    let _ = rlimit::increase_nofile_limit(u64::MAX);
    let bare = match pusherable_bench::bare::spawn(cli.bare.listen).await {
        Ok(bare) => bare,
        Err(e) => {
            eprintln!("bare-broadcaster: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    println!("bare broadcaster listening on {}", bare.local_addr());
    let _ = tokio::signal::ctrl_c().await;
    bare.shutdown().await;
    std::process::ExitCode::SUCCESS
}
