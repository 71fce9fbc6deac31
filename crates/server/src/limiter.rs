//! Fixed one-second windows that count requests per key: REST calls per app, connection
//! attempts per IP address.

use std::{
    collections::HashMap,
    hash::Hash,
    sync::{Mutex, PoisonError},
    time::{Duration, Instant},
};

/// Keys tracked at most; past it, keys whose window ended are forgotten first, then all.
const MAX_KEYS: usize = 100_000;
const WINDOW: Duration = Duration::from_secs(1);

/// Counts events per key in the current second.
#[derive(Debug)]
pub(crate) struct Limiter<K> {
    windows: Mutex<HashMap<K, (Instant, u32)>>,
}

impl<K> Default for Limiter<K> {
    fn default() -> Self {
        Limiter {
            windows: Mutex::new(HashMap::new()),
        }
    }
}

impl<K: Hash + Eq> Limiter<K> {
    /// Counts one event for `key`; false if that passes `per_second` (0 = no limit).
    pub(crate) fn allow(&self, key: K, per_second: u32) -> bool {
        if per_second == 0 {
            return true;
        }
        let now = Instant::now();
        let mut windows = self.windows.lock().unwrap_or_else(PoisonError::into_inner);
        if windows.len() >= MAX_KEYS {
            windows.retain(|_, (start, _)| now.duration_since(*start) < WINDOW);
            if windows.len() >= MAX_KEYS {
                windows.clear();
            }
        }
        let (start, count) = windows.entry(key).or_insert((now, 0));
        if now.duration_since(*start) >= WINDOW {
            *start = now;
            *count = 0;
        }
        *count += 1;
        *count <= per_second
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_per_key() {
        let l = Limiter::default();
        assert!(l.allow("a", 2));
        assert!(l.allow("a", 2));
        assert!(!l.allow("a", 2));
        assert!(l.allow("b", 2));
        assert!(l.allow("c", 0));
    }
}
