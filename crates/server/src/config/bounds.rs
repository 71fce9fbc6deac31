//! The range of every number in the configuration, inclusive.
//!
//! [`Config::validate`] refuses a value outside its range when the configuration loads, with
//! an error that names the key and the range: before a timeout could overflow an `Instant` or
//! a queue grow without bound.

use std::{fmt::Display, ops::RangeInclusive};

use super::{AppConfig, Config, ConfigError};

/// `max_message_bytes`: a WebSocket message; a ping or a subscription must fit.
pub const MAX_MESSAGE_BYTES: RangeInclusive<usize> = 1024..=16 * 1024 * 1024;
/// `outbound_budget_bytes`: one connection's outbound queue.
pub const OUTBOUND_BUDGET_BYTES: RangeInclusive<usize> = 16 * 1024..=1024 * 1024 * 1024;
/// `shutdown_grace_secs`.
pub const SHUTDOWN_GRACE_SECS: RangeInclusive<u64> = 0..=3600;
/// `pong_timeout_secs`.
pub const PONG_TIMEOUT_SECS: RangeInclusive<u64> = 1..=600;
/// `max_subscriptions_per_connection`.
pub const MAX_SUBSCRIPTIONS_PER_CONNECTION: RangeInclusive<usize> = 1..=100_000;
/// `webhook_queue`: per receiver, and the removals waiting out their delay per app.
pub const WEBHOOK_QUEUE: RangeInclusive<usize> = 1..=1_000_000;
/// `max_connection_attempts_per_ip`; 0 is no limit.
pub const MAX_CONNECTION_ATTEMPTS_PER_IP: RangeInclusive<u32> = 0..=1_000_000;
/// `metrics_token`, in characters.
pub const METRICS_TOKEN_CHARS: RangeInclusive<usize> = 16..=256;
/// An app's `console_token`, in characters: a shorter one would be guessed long before the
/// app's secret.
pub const CONSOLE_TOKEN_CHARS: RangeInclusive<usize> = 16..=256;
/// `tls.handshake_timeout_secs`.
pub const TLS_HANDSHAKE_TIMEOUT_SECS: RangeInclusive<u64> = 1..=300;
/// `tls.max_handshakes`.
pub const TLS_MAX_HANDSHAKES: RangeInclusive<usize> = 1..=100_000;
/// An app's `max_connections`; 0 is no limit.
pub const MAX_CONNECTIONS: RangeInclusive<usize> = 0..=10_000_000;
/// An app's `activity_timeout`: pusher-js refuses 0.
pub const ACTIVITY_TIMEOUT: RangeInclusive<u64> = 1..=3600;
/// An app's `max_channel_name_length`: room for a prefix and a name; the official
/// libraries refuse more than 200 anyway.
pub const MAX_CHANNEL_NAME_LENGTH: RangeInclusive<usize> = 16..=1024;
/// An app's `max_event_bytes`: a larger event could not fit in a REST body.
pub const MAX_EVENT_BYTES: RangeInclusive<usize> = 1..=1024 * 1024;
/// An app's `max_rest_requests_per_second`; 0 is no limit.
pub const MAX_REST_REQUESTS_PER_SECOND: RangeInclusive<u32> = 0..=1_000_000;
/// An app's `signin_timeout_secs`, when set.
pub const SIGNIN_TIMEOUT_SECS: RangeInclusive<u64> = 1..=3600;

impl Config {
    pub(super) fn check_numbers(&self) -> Result<(), ConfigError> {
        let s = "";
        in_range(
            s,
            "max_message_bytes",
            self.max_message_bytes,
            MAX_MESSAGE_BYTES,
            " bytes",
        )?;
        in_range(
            s,
            "outbound_budget_bytes",
            self.outbound_budget_bytes,
            OUTBOUND_BUDGET_BYTES,
            " bytes",
        )?;
        in_range(
            s,
            "shutdown_grace_secs",
            self.shutdown_grace_secs,
            SHUTDOWN_GRACE_SECS,
            " seconds",
        )?;
        in_range(
            s,
            "pong_timeout_secs",
            self.pong_timeout_secs,
            PONG_TIMEOUT_SECS,
            " seconds",
        )?;
        in_range(
            s,
            "max_subscriptions_per_connection",
            self.max_subscriptions_per_connection,
            MAX_SUBSCRIPTIONS_PER_CONNECTION,
            "",
        )?;
        in_range(
            s,
            "webhook_queue",
            self.webhook_queue,
            WEBHOOK_QUEUE,
            " events",
        )?;
        in_range(
            s,
            "max_connection_attempts_per_ip",
            self.max_connection_attempts_per_ip,
            MAX_CONNECTION_ATTEMPTS_PER_IP,
            " per second (0: no limit)",
        )?;
        if let Some(tls) = &self.tls {
            in_range(
                s,
                "tls.handshake_timeout_secs",
                tls.handshake_timeout_secs,
                TLS_HANDSHAKE_TIMEOUT_SECS,
                " seconds",
            )?;
            in_range(
                s,
                "tls.max_handshakes",
                tls.max_handshakes,
                TLS_MAX_HANDSHAKES,
                "",
            )?;
        }
        Ok(())
    }
}

impl AppConfig {
    pub(super) fn check_numbers(&self, outbound_budget_bytes: usize) -> Result<(), ConfigError> {
        let s = &format!("app {}: ", self.id);
        in_range(
            s,
            "max_connections",
            self.max_connections,
            MAX_CONNECTIONS,
            " (0: no limit)",
        )?;
        in_range(
            s,
            "activity_timeout",
            self.activity_timeout,
            ACTIVITY_TIMEOUT,
            " seconds",
        )?;
        in_range(
            s,
            "max_channel_name_length",
            self.max_channel_name_length,
            MAX_CHANNEL_NAME_LENGTH,
            " characters",
        )?;
        in_range(
            s,
            "max_event_bytes",
            self.max_event_bytes,
            MAX_EVENT_BYTES,
            " bytes",
        )?;
        in_range(
            s,
            "max_rest_requests_per_second",
            self.max_rest_requests_per_second,
            MAX_REST_REQUESTS_PER_SECOND,
            " (0: no limit)",
        )?;
        if let Some(secs) = self.signin_timeout_secs {
            in_range(
                s,
                "signin_timeout_secs",
                secs,
                SIGNIN_TIMEOUT_SECS,
                " seconds",
            )?;
        }
        // A frame larger than a connection's whole outbound budget would close every
        // subscriber it is sent to.
        if self.max_event_bytes.saturating_mul(2) > outbound_budget_bytes {
            return Err(ConfigError::Invalid(format!(
                "{s}max_event_bytes = {} must be at most half of outbound_budget_bytes = {}",
                self.max_event_bytes, outbound_budget_bytes
            )));
        }
        Ok(())
    }
}

/// Refuses `value` unless it lies in `range`, naming the key and the range.
fn in_range<T: PartialOrd + Display + Copy>(
    scope: &str,
    key: &str,
    value: T,
    range: RangeInclusive<T>,
    unit: &str,
) -> Result<(), ConfigError> {
    if range.contains(&value) {
        return Ok(());
    }
    Err(ConfigError::Invalid(format!(
        "{scope}{key} = {value} is out of range: it must be {} to {}{unit}",
        range.start(),
        range.end()
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Where a key lives in the TOML file.
    #[derive(Clone, Copy)]
    enum Table {
        Server,
        App,
        Tls,
    }

    /// The file with `key = value` in `table`, and everything else at its default.
    fn with(table: Table, key: &str, value: u64) -> String {
        let app = "[[apps]]\nid = '1'\nkey = 'k'\nsecret = 's'\n";
        // Room in the outbound budget for the largest event, so that only `key` is tested.
        let budget = "outbound_budget_bytes = 4194304\n";
        match table {
            Table::Server => format!("{key} = {value}\n{app}max_event_bytes = 1024\n"),
            Table::App => format!("{budget}{app}{key} = {value}\n"),
            Table::Tls => format!("{app}[tls]\ncert = 'c.pem'\nkey = 'k.pem'\n{key} = {value}\n"),
        }
    }

    #[test]
    fn every_number_is_range_checked() {
        use Table::*;
        // (table, key, lowest allowed, highest allowed)
        let keys: &[(Table, &str, u64, u64)] = &[
            (Server, "max_message_bytes", 1024, 16 * 1024 * 1024),
            (
                Server,
                "outbound_budget_bytes",
                16 * 1024,
                1024 * 1024 * 1024,
            ),
            (Server, "shutdown_grace_secs", 0, 3600),
            (Server, "pong_timeout_secs", 1, 600),
            (Server, "max_subscriptions_per_connection", 1, 100_000),
            (Server, "webhook_queue", 1, 1_000_000),
            (Server, "max_connection_attempts_per_ip", 0, 1_000_000),
            (App, "max_connections", 0, 10_000_000),
            (App, "activity_timeout", 1, 3600),
            (App, "max_channel_name_length", 16, 1024),
            (App, "max_event_bytes", 1, 1024 * 1024),
            (App, "max_rest_requests_per_second", 0, 1_000_000),
            (App, "signin_timeout_secs", 1, 3600),
            (Tls, "handshake_timeout_secs", 1, 300),
            (Tls, "max_handshakes", 1, 100_000),
        ];
        for &(table, key, low, high) in keys {
            for ok in [low, high] {
                let toml = with(table, key, ok);
                if let Err(e) = Config::from_toml(&toml) {
                    panic!("{key} = {ok} must be allowed: {e}");
                }
            }
            let refused = |bad: u64| match Config::from_toml(&with(table, key, bad)) {
                Ok(_) => panic!("{key} = {bad} must be refused"),
                Err(e) => e.to_string(),
            };
            for bad in [Some(high + 1), low.checked_sub(1)].into_iter().flatten() {
                let err = refused(bad);
                assert!(
                    err.contains(&format!("{key} = {bad} is out of range"))
                        && err.contains(&format!("must be {low} to {high}")),
                    "{key} = {bad}: {err}"
                );
            }
            // The largest number a TOML file can hold; for a `u32` key the parser refuses it
            // already, pointing at the key's line.
            let err = refused(i64::MAX as u64);
            assert!(err.contains(key), "{key} = i64::MAX: {err}");
        }
    }

    /// What used to overflow an `Instant` is refused before a server starts.
    #[test]
    fn a_huge_timeout_is_refused_by_the_server_too() {
        let mut config = Config::default();
        let mut app = AppConfig::new("1", "k", "s");
        app.activity_timeout = u64::MAX;
        config.apps.push(app);
        let err = crate::Server::new(config).unwrap_err().to_string();
        assert!(err.contains("activity_timeout"), "{err}");
    }
}
