//! `cargo xtask test`: build the server, run the suites, print a summary.

use std::io::Write;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use crate::suites::{Suite, SUITES};
use crate::tools::{self, Workspace};

enum Outcome {
    Passed,
    Failed(String),
    NotRun(&'static str),
}

struct Step {
    name: &'static str,
    outcome: Outcome,
    took: Duration,
}

pub(crate) fn run(args: &[String]) -> ExitCode {
    if args.iter().any(|arg| arg == "--list") {
        for suite in SUITES {
            println!("{:<15} {}", suite.name, suite.about);
        }
        return ExitCode::SUCCESS;
    }
    let selected = match select(args) {
        Ok(selected) => selected,
        Err(message) => {
            eprintln!("{message}");
            return ExitCode::FAILURE;
        }
    };

    let workspace = Workspace::locate();
    let mut steps = Vec::new();

    let mut server_ready = true;
    if selected.iter().any(|suite| suite.needs_server) {
        if std::env::var_os("PUSHERABLE_BIN").is_some() {
            println!(
                "using PUSHERABLE_BIN={}",
                workspace.server_binary().display()
            );
        } else {
            let build = timed("build", || {
                tools::run(workspace.cargo().args(["build", "-p", "pusherable-cli"]))?;
                // The app server that the encryption suite drives, built here so that the
                // suite's own time goes to testing rather than compiling.
                tools::run(workspace.cargo().args([
                    "build",
                    "-p",
                    "pusherable-client",
                    "--example",
                    "app_server",
                ]))
            });
            server_ready = matches!(build.outcome, Outcome::Passed);
            steps.push(build);
        }
    }

    for suite in selected {
        if suite.needs_server && !server_ready {
            steps.push(Step {
                name: suite.name,
                outcome: Outcome::NotRun("the server did not build"),
                took: Duration::ZERO,
            });
            continue;
        }
        steps.push(timed(suite.name, || (suite.run)(&workspace)));
    }

    summarize(&steps)
}

/// The suites named in `args`, in the order of [`SUITES`]; all of them when
/// none is named.
fn select(args: &[String]) -> Result<Vec<&'static Suite>, String> {
    if let Some(unknown) = args
        .iter()
        .find(|arg| !SUITES.iter().any(|s| s.name == *arg))
    {
        let known: Vec<_> = SUITES.iter().map(|s| s.name).collect();
        return Err(format!(
            "unknown suite `{unknown}`; the suites are: {}",
            known.join(", ")
        ));
    }
    Ok(SUITES
        .iter()
        .filter(|suite| args.is_empty() || args.iter().any(|arg| arg == suite.name))
        .collect())
}

fn timed(name: &'static str, body: impl FnOnce() -> Result<(), String>) -> Step {
    println!("\n==> {name}");
    let _ = std::io::stdout().flush();
    let started = Instant::now();
    let outcome = match body() {
        Ok(()) => Outcome::Passed,
        Err(message) => Outcome::Failed(message),
    };
    Step {
        name,
        outcome,
        took: started.elapsed(),
    }
}

fn summarize(steps: &[Step]) -> ExitCode {
    println!("\n==> summary");
    let (mut passed, mut failed) = (0, 0);
    for step in steps {
        let status = match &step.outcome {
            Outcome::Passed => {
                passed += 1;
                "ok".to_string()
            }
            Outcome::Failed(message) => {
                failed += 1;
                format!("FAILED: {message}")
            }
            Outcome::NotRun(why) => {
                failed += 1;
                format!("NOT RUN: {why}")
            }
        };
        println!(
            "  {:<15} {:>7.1}s  {status}",
            step.name,
            step.took.as_secs_f64()
        );
    }
    println!("suites: {passed} passed, {failed} failed");
    if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

#[cfg(test)]
mod tests {
    use super::select;

    fn names(args: &[&str]) -> Result<Vec<&'static str>, String> {
        let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
        select(&args).map(|suites| suites.iter().map(|s| s.name).collect())
    }

    #[test]
    fn no_argument_selects_every_suite() {
        assert_eq!(
            names(&[]).unwrap(),
            [
                "rust",
                "compat-node",
                "compat-cluster",
                "compat-python",
                "fuzz",
                "soak",
                "e2e"
            ]
        );
    }

    #[test]
    fn named_suites_keep_the_declared_order() {
        assert_eq!(
            names(&["compat-python", "rust"]).unwrap(),
            ["rust", "compat-python"]
        );
    }

    #[test]
    fn an_unknown_suite_is_an_error() {
        let err = names(&["rust", "nope"]).unwrap_err();
        assert!(err.contains("`nope`"), "{err}");
    }
}
