//! The `pusherable` binary, run as a user runs it, and what it printed.
#![allow(dead_code, unreachable_pub, clippy::unwrap_used)]

use std::{borrow::BorrowMut, process::Output};

use pusherable_test_support::PATIENCE;
use tokio::process::Command;

/// The `pusherable` binary, with none of the variables it reads set by whoever runs the tests.
pub fn pusherable<I, S>(args: I) -> Command
where
    I: IntoIterator<Item = S>,
    S: AsRef<std::ffi::OsStr>,
{
    let mut command = Command::new(env!("CARGO_BIN_EXE_pusherable"));
    command
        .args(args)
        .env_remove("PUSHER_URL")
        .env_remove("PUSHER_ENCRYPTION_MASTER_KEY_BASE64")
        .env_remove("PUSHERABLE_LOG")
        .env_remove("PUSHERABLE_CONFIG")
        .env_remove("PUSHERABLE_HOST")
        .env_remove("PUSHERABLE_PORT")
        .env_remove("PUSHERABLE_APP_ID")
        .env_remove("PUSHERABLE_APP_KEY")
        .env_remove("PUSHERABLE_APP_SECRET")
        .env_remove("PUSHERABLE_CONSOLE")
        .env_remove("PUSHERABLE_CONSOLE_TOKEN")
        .kill_on_drop(true);
    command
}

/// Runs `command` (a `Command` or a `&mut Command`) to its end.
pub async fn run(mut command: impl BorrowMut<Command>) -> Output {
    tokio::time::timeout(PATIENCE, command.borrow_mut().output())
        .await
        .expect("the command ends within the test's patience")
        .unwrap()
}

pub fn stdout(output: &Output) -> String {
    String::from_utf8(output.stdout.clone()).unwrap()
}

pub fn stderr(output: &Output) -> String {
    String::from_utf8(output.stderr.clone()).unwrap()
}

/// Checks that the command failed with `code` and one line on stderr, and gives that line.
pub fn failed(output: &Output, code: i32) -> String {
    let err = stderr(output);
    assert_eq!(output.status.code(), Some(code), "stderr: {err}");
    assert_eq!(err.lines().count(), 1, "one line on stderr: {err}");
    assert!(err.starts_with("pusherable: "), "{err}");
    err
}

/// Sends SIGTERM to a process this test started.
pub async fn terminate(pid: u32) {
    let status = Command::new("kill")
        .arg("-TERM")
        .arg(pid.to_string())
        .status()
        .await
        .unwrap();
    assert!(status.success());
}
