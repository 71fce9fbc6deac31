//! The `socket_id` that names one connection.

use std::fmt;

/// A connection's id: two runs of ASCII digits joined by one dot, such as `1234.1234`.
///
/// The official server libraries refuse anything else when they sign or exclude, so the
/// parser is exactly as strict as they are (`^\d+\.\d+$`).
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SocketId(Box<str>);

/// Why a string is not a [`SocketId`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("invalid socket_id: expected two runs of digits joined by a dot")]
pub struct SocketIdError;

impl SocketId {
    /// Makes an id from two numbers. The server draws both at random, so that ids cannot be
    /// guessed; each part stays below 10^10 (and the whole below 2^53 when parsed as a number).
    ///
    /// ```
    /// use pusherable_protocol::SocketId;
    /// assert_eq!(SocketId::from_parts(1234, 99).as_str(), "1234.99");
    /// ```
    pub fn from_parts(high: u64, low: u64) -> Self {
        SocketId(format!("{high}.{low}").into_boxed_str())
    }

    /// Checks a socket id received from outside.
    ///
    /// ```
    /// use pusherable_protocol::SocketId;
    /// assert!(SocketId::parse("1234.1234").is_ok());
    /// assert!(SocketId::parse("1.2.3").is_err());
    /// ```
    pub fn parse(s: &str) -> Result<Self, SocketIdError> {
        if is_valid(s) {
            Ok(SocketId(s.into()))
        } else {
            Err(SocketIdError)
        }
    }

    /// The id as sent on the wire.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// True if `s` has the form `^\d+\.\d+$`.
pub fn is_valid(s: &str) -> bool {
    match s.split_once('.') {
        Some((a, b)) => {
            !a.is_empty()
                && !b.is_empty()
                && a.bytes().all(|c| c.is_ascii_digit())
                && b.bytes().all(|c| c.is_ascii_digit())
        }
        None => false,
    }
}

impl fmt::Display for SocketId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for SocketId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SocketId({})", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_what_the_libraries_accept() {
        for ok in [
            "1234.1234",
            "33722.7304974",
            "12345678901234567890.1",
            "0.0",
        ] {
            assert!(is_valid(ok), "{ok}");
        }
        for bad in [
            "1.2.3", "abc.123", "123.", ".5", " 1.2", "1.2 ", "", "12", "1,2", "١.٢",
        ] {
            assert!(!is_valid(bad), "{bad}");
        }
    }
}
