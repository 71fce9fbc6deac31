//! What commands print on stdout: a line or two for a person, or JSON with `--json`.

use std::io::{ErrorKind, Write as _};

use pusherable_client::{Client, Error as ClientError};
use serde::Serialize;

use crate::{failure::Failure, target::TargetArgs};

/// The flags of a command that makes one REST request and prints the reply.
#[derive(Debug, clap::Args)]
pub(crate) struct RestArgs {
    /// Print the server's reply as JSON.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    target: TargetArgs,
}

impl RestArgs {
    /// Makes `request` with the client the flags describe, and prints the reply: as JSON with
    /// `--json`, else as `human` writes it.
    pub(crate) async fn ask<R: Serialize>(
        &self,
        request: impl AsyncFnOnce(&Client) -> Result<R, ClientError>,
        human: impl FnOnce(&R) -> String,
    ) -> Result<(), Failure> {
        let client = self.target.client()?;
        let reply = request(&client)
            .await
            .map_err(|e| Failure::from_client(&e, client.endpoint().as_str()))?;
        if self.json {
            print_json(&reply)
        } else {
            print(&human(&reply))
        }
    }
}

/// Prints `text` (lines, each ending in a newline) on stdout.
///
/// A closed stdout (`pusherable channels | head -1`) is not a failure of the command.
pub(crate) fn print(text: &str) -> Result<(), Failure> {
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == ErrorKind::BrokenPipe => Ok(()),
        Err(e) => Err(Failure::Failed(format!("cannot write to stdout: {e}"))),
    }
}

/// Prints `value` as one line of JSON.
pub(crate) fn print_json(value: &impl Serialize) -> Result<(), Failure> {
    let mut line = serde_json::to_string(value)
        .map_err(|e| Failure::Failed(format!("cannot write the reply as JSON: {e}")))?;
    line.push('\n');
    print(&line)
}

/// `user_count 2, subscription_count 3`: the attributes the server reported, in words.
pub(crate) fn attributes(user_count: Option<u64>, subscription_count: Option<u64>) -> String {
    let mut parts = Vec::new();
    if let Some(n) = user_count {
        parts.push(format!("user_count {n}"));
    }
    if let Some(n) = subscription_count {
        parts.push(format!("subscription_count {n}"));
    }
    parts.join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attributes_in_words() {
        assert_eq!(attributes(None, None), "");
        assert_eq!(attributes(Some(2), None), "user_count 2");
        assert_eq!(
            attributes(Some(2), Some(3)),
            "user_count 2, subscription_count 3"
        );
    }
}
