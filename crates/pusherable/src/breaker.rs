//! Stops trying a backend that keeps failing, for a while: a dead backend then costs neither
//! a connection attempt nor a log line per event, and pages keep the whole machine.

use std::{
    sync::Mutex,
    time::{Duration, Instant},
};

/// Failures in a row after which the backend is left alone for a pause.
const THRESHOLD: u32 = 5;

/// After [`THRESHOLD`] failures in a row, events fail at once for `pause`; then one is tried
/// again, and either closes the breaker or opens it for another pause.
pub(crate) struct Breaker {
    pause: Duration,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    failures: u32,
    open_until: Option<Instant>,
    /// Events failed without trying since the breaker last opened, for the next log line.
    skipped: u64,
}

/// What became of a failure, for the caller to log or not.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Failed {
    /// One of the first failures in a row: log it.
    Log,
    /// The breaker has just opened, after `skipped` events failed without being tried.
    Opened { skipped: u64 },
    /// A failure while others already opened the breaker: already logged.
    Quiet,
}

impl Breaker {
    pub(crate) fn new(pause: Duration) -> Self {
        Breaker {
            pause,
            state: Mutex::new(State::default()),
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        // The state stays consistent under any panic: every update is a plain assignment.
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// False while the breaker is open: fail the event without trying.
    pub(crate) fn allow(&self, now: Instant) -> bool {
        let mut state = self.state();
        match state.open_until {
            Some(until) if now < until => {
                state.skipped += 1;
                false
            }
            _ => true,
        }
    }

    /// The backend took an event: close the breaker. True if it was open before.
    pub(crate) fn success(&self) -> bool {
        let mut state = self.state();
        let was_open = state.open_until.is_some();
        *state = State::default();
        was_open
    }

    /// The backend failed an event.
    pub(crate) fn failure(&self, now: Instant) -> Failed {
        let mut state = self.state();
        state.failures = state.failures.saturating_add(1);
        if state.failures < THRESHOLD {
            return Failed::Log;
        }
        match state.open_until {
            Some(until) if now < until => Failed::Quiet,
            _ => {
                state.open_until = Some(now + self.pause);
                Failed::Opened {
                    skipped: std::mem::take(&mut state.skipped),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opens_after_failures_in_a_row_and_closes_on_success() {
        let b = Breaker::new(Duration::from_secs(10));
        let t0 = Instant::now();
        for _ in 0..THRESHOLD - 1 {
            assert!(b.allow(t0));
            assert_eq!(b.failure(t0), Failed::Log);
        }
        assert_eq!(b.failure(t0), Failed::Opened { skipped: 0 });
        assert!(!b.allow(t0));
        assert!(!b.allow(t0 + Duration::from_secs(9)));
        // A failure that was already under way when it opened.
        assert_eq!(b.failure(t0), Failed::Quiet);

        // After the pause, one probe: failing opens it again and reports what was skipped.
        let t1 = t0 + Duration::from_secs(10);
        assert!(b.allow(t1));
        assert_eq!(b.failure(t1), Failed::Opened { skipped: 2 });
        assert!(!b.allow(t1));

        let t2 = t1 + Duration::from_secs(10);
        assert!(b.allow(t2));
        assert!(b.success());
        assert!(b.allow(t2));
        assert_eq!(b.failure(t2), Failed::Log);
        assert!(!b.success());
    }
}
