//! How a command fails: one line for a person, and an exit code for a script.

use std::fmt;

use pusherable_client::{Error as ClientError, ErrorKind};
use pusherable_protocol::rest::ErrorBody;

/// Longest piece of a server's reply quoted in a message; an HTML error page can be huge.
const QUOTE_MAX: usize = 200;

/// Why a command failed.
#[derive(Debug)]
pub(crate) enum Failure {
    /// The command line, the target or the input was refused before anything was sent.
    /// Exit code 2, as for clap's own usage errors.
    Usage(String),
    /// The server refused, could not be reached, or went away. Exit code 1.
    Failed(String),
}

impl Failure {
    /// The process exit code for this failure.
    pub(crate) fn exit_code(&self) -> u8 {
        match self {
            Self::Usage(_) => 2,
            Self::Failed(_) => 1,
        }
    }

    /// Describes an error of a REST call to `endpoint` (which holds no credentials).
    pub(crate) fn from_client(e: &ClientError, endpoint: &str) -> Self {
        let status = e.status().unwrap_or(0);
        match e.kind() {
            ErrorKind::InvalidInput => Self::Usage(e.to_string()),
            ErrorKind::PayloadTooLarge if e.status().is_none() => Self::Usage(e.to_string()),
            ErrorKind::Network => Self::Failed(format!(
                "cannot reach {endpoint}: {}",
                root_cause(e).unwrap_or_else(|| e.to_string())
            )),
            ErrorKind::Timeout => {
                Self::Failed(format!("no reply from {endpoint} in time (see --timeout)"))
            }
            ErrorKind::InvalidReply => Self::Failed(format!(
                "{endpoint} answered HTTP {status}, but not with the Pusher API's JSON: {}",
                quote(e.body().unwrap_or_default())
            )),
            kind => {
                let said = server_message(e.body().unwrap_or_default());
                let hint = match kind {
                    ErrorKind::Authentication => {
                        "; check the key and secret (and this machine's clock)"
                    }
                    ErrorKind::NotFound => "; check the app id and the URL",
                    _ => "",
                };
                Self::Failed(format!(
                    "{kind} (HTTP {status} from {endpoint}): {said}{hint}"
                ))
            }
        }
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Usage(message) | Self::Failed(message) => f.write_str(message),
        }
    }
}

/// The innermost cause of an error, which is what a person can act on ("Connection refused")
/// where the outer ones only say that a request failed and repeat its signed URL.
pub(crate) fn root_cause(e: &(dyn std::error::Error + 'static)) -> Option<String> {
    let mut cause = e.source()?;
    while let Some(next) = cause.source() {
        cause = next;
    }
    Some(cause.to_string())
}

/// What the server said: the `error` member of a Pusher error body, or the body itself.
fn server_message(body: &str) -> String {
    match serde_json::from_str::<ErrorBody>(body) {
        Ok(parsed) => quote(&parsed.error),
        Err(_) if body.trim().is_empty() => "(empty reply)".to_owned(),
        Err(_) => quote(body),
    }
}

/// `text` on one line, cut to [`QUOTE_MAX`] characters.
pub(crate) fn quote(text: &str) -> String {
    let one_line = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if one_line.chars().count() > QUOTE_MAX {
        let cut: String = one_line.chars().take(QUOTE_MAX).collect();
        format!("{cut}…")
    } else {
        one_line
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_messages_are_one_short_line() {
        assert_eq!(
            server_message(r#"{"error":"Invalid signature","code":401}"#),
            "Invalid signature"
        );
        assert_eq!(server_message("  "), "(empty reply)");
        assert_eq!(
            server_message("<html>\n<body>Bad\n gateway</body>"),
            "<html> <body>Bad gateway</body>"
        );
        let long = server_message(&"x".repeat(1000));
        assert_eq!(long.chars().count(), QUOTE_MAX + 1);
    }

    #[test]
    fn input_errors_are_usage_errors() {
        let e = ClientError::from(pusherable_client::InvalidInput::NoChannels);
        let failure = Failure::from_client(&e, "http://127.0.0.1/apps/1");
        assert_eq!(failure.exit_code(), 2);
        assert_eq!(failure.to_string(), "a trigger needs at least one channel");
    }
}
