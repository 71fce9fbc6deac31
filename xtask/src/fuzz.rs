//! The fuzz targets of `fuzz/` (cargo fuzz, libFuzzer): the `fuzz` suite of `cargo xtask test`
//! runs each for a few seconds, `cargo xtask fuzz` for as long as asked.
//!
//! cargo fuzz passes nightly-only flags to rustc (`-Zsanitizer=address`, coverage passes).
//! `RUSTC_BOOTSTRAP=1` lets the stable toolchain take them, so a machine with only stable
//! fuzzes too; with nightly it changes nothing.

use std::path::PathBuf;
use std::process::{Command, ExitCode};

use crate::tools::{self, Workspace};

/// Seconds each target runs in `cargo xtask test`.
const SUITE_SECONDS: u64 = 10;
/// Seconds each target runs in `cargo xtask fuzz` when `--seconds` is not given.
const DEFAULT_SECONDS: u64 = 300;
/// Longest `--seconds`: a day.
const MAX_SECONDS: u64 = 24 * 3600;
/// Inputs per second that no target reaches, so that `-runs` bounds a run's count without
/// ending it before its time.
const RUNS_PER_SECOND: u64 = 200_000;

/// The `fuzz` suite: the seeds through every check on this toolchain, then each target under
/// libFuzzer for [`SUITE_SECONDS`]. Any crash fails it.
pub(crate) fn suite(workspace: &Workspace) -> Result<(), String> {
    tools::run(
        workspace
            .cargo()
            .args(["test", "--manifest-path", "fuzz/Cargo.toml", "--target-dir"])
            .arg(target_dir(workspace)),
    )?;
    fuzz(workspace, SUITE_SECONDS, &[])
}

/// `cargo xtask fuzz [--seconds N] [TARGET...]`.
pub(crate) fn run(args: &[String]) -> ExitCode {
    let (seconds, targets) = match parse(args) {
        Ok(parsed) => parsed,
        Err(e) => {
            eprintln!("xtask fuzz: {e}");
            return ExitCode::FAILURE;
        }
    };
    match fuzz(&Workspace::locate(), seconds, &targets) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xtask fuzz: {e}");
            ExitCode::FAILURE
        }
    }
}

fn parse(args: &[String]) -> Result<(u64, Vec<String>), String> {
    let mut seconds = DEFAULT_SECONDS;
    let mut targets = Vec::new();
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        if arg == "--seconds" {
            let value = args.next().ok_or("--seconds needs a number")?;
            seconds = value
                .parse()
                .ok()
                .filter(|s| (1..=MAX_SECONDS).contains(s))
                .ok_or(format!("--seconds must be 1 to {MAX_SECONDS}"))?;
        } else if arg.starts_with('-') {
            return Err(format!("unknown option `{arg}`"));
        } else {
            targets.push(arg.clone());
        }
    }
    Ok((seconds, targets))
}

/// Builds every target, then runs `only` (every target when empty) for `seconds` each.
fn fuzz(workspace: &Workspace, seconds: u64, only: &[String]) -> Result<(), String> {
    tools::ensure_cargo_fuzz(workspace)?;
    let target_dir = target_dir(workspace);
    tools::run(
        cargo_fuzz(workspace)
            .arg("build")
            .arg("--target-dir")
            .arg(&target_dir),
    )?;
    let listed = tools::output(cargo_fuzz(workspace).arg("list"))?;
    let all: Vec<&str> = listed
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    if let Some(unknown) = only.iter().find(|t| !all.contains(&t.as_str())) {
        return Err(format!(
            "unknown target `{unknown}`; the targets are: {}",
            all.join(", ")
        ));
    }
    let fuzz_dir = workspace.root.join("fuzz");
    for target in all
        .iter()
        .filter(|t| only.is_empty() || only.iter().any(|o| o == *t))
    {
        // New inputs go to the first folder, which is not committed; the seeds are read only.
        let corpus = fuzz_dir.join("corpus").join(target);
        std::fs::create_dir_all(&corpus)
            .map_err(|e| format!("create {}: {e}", corpus.display()))?;
        let runs = seconds.saturating_mul(RUNS_PER_SECOND);
        tools::run(
            cargo_fuzz(workspace)
                .args(["run", target, "--target-dir"])
                .arg(&target_dir)
                .arg(&corpus)
                .arg(fuzz_dir.join("seeds").join(target))
                .arg("--")
                .arg(format!("-max_total_time={seconds}"))
                .arg(format!("-runs={runs}"))
                // One slow input is a hang, not a reason to wait forever.
                .arg("-timeout=10")
                .arg("-print_final_stats=1"),
        )
        .map_err(|e| {
            format!(
                "{e}\nthe input that failed is in fuzz/artifacts/{target}/; \
                 docs/fuzzing.md says how to reproduce it"
            )
        })?;
    }
    Ok(())
}

fn cargo_fuzz(workspace: &Workspace) -> Command {
    let mut command = workspace.cargo();
    command.arg("fuzz").env("RUSTC_BOOTSTRAP", "1");
    command
}

/// `fuzz/target`, or `$CARGO_TARGET_DIR/fuzz` when the workspace builds elsewhere.
fn target_dir(workspace: &Workspace) -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR").map_or_else(
        || workspace.root.join("fuzz").join("target"),
        |dir| workspace.root.join(dir).join("fuzz"),
    )
}

#[cfg(test)]
mod tests {
    use super::parse;

    fn parsed(args: &[&str]) -> Result<(u64, Vec<String>), String> {
        parse(&args.iter().map(|a| a.to_string()).collect::<Vec<_>>())
    }

    #[test]
    fn seconds_and_targets() {
        assert_eq!(parsed(&[]), Ok((300, vec![])));
        assert_eq!(
            parsed(&["frame", "--seconds", "60", "channel"]),
            Ok((60, vec!["frame".into(), "channel".into()]))
        );
        assert!(parsed(&["--seconds"]).is_err());
        assert!(parsed(&["--seconds", "0"]).is_err());
        assert!(parsed(&["--seconds", "x"]).is_err());
        assert!(parsed(&["--minutes", "1"]).is_err());
    }
}
