//! What the scenarios count while they run: receipts, latencies, and "all done" signals.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use hdrhistogram::Histogram;
use tokio::sync::Notify;
use tokio::time::Instant;

/// One bit per sequence number.
#[derive(Debug, Clone, Default)]
pub(crate) struct Bits(Vec<u64>);

impl Bits {
    pub(crate) fn new(len: u64) -> Self {
        Bits(vec![0; usize::try_from(len.div_ceil(64)).unwrap_or(0)])
    }

    /// Sets bit `i`; false if it was already set or is out of range.
    pub(crate) fn set(&mut self, i: u64) -> bool {
        let (word, bit) = (i / 64, 1u64 << (i % 64));
        match usize::try_from(word).ok().and_then(|w| self.0.get_mut(w)) {
            Some(w) if *w & bit == 0 => {
                *w |= bit;
                true
            }
            _ => false,
        }
    }

    pub(crate) fn get(&self, i: u64) -> bool {
        usize::try_from(i / 64)
            .ok()
            .and_then(|w| self.0.get(w))
            .is_some_and(|w| w & (1 << (i % 64)) != 0)
    }
}

/// A bit set that several tasks write at once: which triggers the server accepted.
#[derive(Debug)]
pub(crate) struct SharedBits(Vec<AtomicU64>);

impl SharedBits {
    pub(crate) fn new(len: u64) -> Self {
        SharedBits((0..len.div_ceil(64)).map(|_| AtomicU64::new(0)).collect())
    }

    pub(crate) fn set(&self, i: u64) {
        if let Some(w) = usize::try_from(i / 64).ok().and_then(|w| self.0.get(w)) {
            w.fetch_or(1 << (i % 64), Ordering::Relaxed);
        }
    }

    /// A plain copy, once every writer is done.
    pub(crate) fn snapshot(&self) -> Bits {
        Bits(self.0.iter().map(|w| w.load(Ordering::Acquire)).collect())
    }
}

/// What one connection received of the triggered events.
#[derive(Debug, Clone, Default)]
pub(crate) struct Receipts {
    /// Which sequence numbers arrived, to count losses per connection rather than in total
    /// (a duplicate on one connection must not hide a loss on another).
    pub(crate) seen: Bits,
    /// Events that arrived twice.
    pub(crate) duplicates: u64,
    /// Events with a sequence number that was never sent.
    pub(crate) strays: u64,
}

impl Receipts {
    pub(crate) fn new(len: u64) -> Self {
        Receipts {
            seen: Bits::new(len),
            ..Default::default()
        }
    }

    /// Records sequence number `seq`; true the first time it arrives.
    pub(crate) fn record(&mut self, seq: u64, len: u64) -> bool {
        if seq >= len {
            self.strays += 1;
            false
        } else if self.seen.set(seq) {
            true
        } else {
            self.duplicates += 1;
            false
        }
    }
}

/// A counter that a waiter can wait on until it reaches a goal set later, without polling.
#[derive(Debug)]
pub(crate) struct Countdown {
    count: AtomicU64,
    goal: AtomicU64,
    reached: Notify,
}

impl Countdown {
    pub(crate) fn new(goal: Option<u64>) -> Self {
        Countdown {
            count: AtomicU64::new(0),
            goal: AtomicU64::new(goal.unwrap_or(u64::MAX)),
            reached: Notify::new(),
        }
    }

    pub(crate) fn add(&self, n: u64) {
        // SeqCst pairs with `wait`: either this sees the goal, or the waiter sees the count.
        let now = self.count.fetch_add(n, Ordering::SeqCst) + n;
        if now >= self.goal.load(Ordering::SeqCst) {
            self.reached.notify_one();
        }
    }

    pub(crate) fn count(&self) -> u64 {
        self.count.load(Ordering::SeqCst)
    }

    /// Waits until the count reaches `goal` or `deadline` passes; true if it got there.
    pub(crate) async fn wait(&self, goal: u64, deadline: Instant) -> bool {
        self.goal.store(goal, Ordering::SeqCst);
        loop {
            let reached = self.reached.notified();
            if self.count.load(Ordering::SeqCst) >= goal {
                return true;
            }
            if tokio::time::timeout_at(deadline, reached).await.is_err() {
                return self.count.load(Ordering::SeqCst) >= goal;
            }
        }
    }
}

/// Highest latency a histogram holds, in microseconds (ten minutes).
const MAX_MICROS: u64 = 600_000_000;

pub(crate) fn histogram() -> Histogram<u64> {
    // The bounds are constants that hdrhistogram accepts, so this cannot fail.
    Histogram::new_with_bounds(1, MAX_MICROS, 3).unwrap_or_else(|_| unreachable!())
}

/// Latencies recorded by many connection tasks at once, in a few locked shards so that the
/// tasks rarely wait on each other.
#[derive(Debug)]
pub(crate) struct Latencies(Vec<Mutex<Histogram<u64>>>);

const SHARDS: usize = 16;

impl Latencies {
    pub(crate) fn new() -> Self {
        Latencies((0..SHARDS).map(|_| Mutex::new(histogram())).collect())
    }

    pub(crate) fn record(&self, shard: usize, micros: u64) {
        if let Some(h) = self.0.get(shard % SHARDS) {
            if let Ok(mut h) = h.lock() {
                h.saturating_record(micros.clamp(1, MAX_MICROS));
            }
        }
    }

    /// Adds a histogram that one task filled on its own.
    pub(crate) fn absorb(&self, shard: usize, h: &Histogram<u64>) {
        if let Some(mine) = self.0.get(shard % SHARDS) {
            if let Ok(mut mine) = mine.lock() {
                // Both come from `histogram()`, so the bounds match and adding cannot fail.
                let _ = mine.add(h);
            }
        }
    }

    pub(crate) fn merged(&self) -> Histogram<u64> {
        let mut all = histogram();
        for h in &self.0 {
            if let Ok(h) = h.lock() {
                // Same bounds on both sides, so adding cannot fail.
                let _ = all.add(&*h);
            }
        }
        all
    }
}

/// Microseconds since `epoch`.
pub(crate) fn micros_since(epoch: Instant) -> u64 {
    u64::try_from(epoch.elapsed().as_micros()).unwrap_or(u64::MAX)
}

/// `n` events over `elapsed`, per second.
pub(crate) fn per_second(n: u64, elapsed: Duration) -> f64 {
    let secs = elapsed.as_secs_f64();
    if secs > 0.0 {
        n as f64 / secs
    } else {
        0.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bits_and_receipts() {
        let mut r = Receipts::new(130);
        assert!(r.record(129, 130));
        assert!(!r.record(129, 130));
        assert!(!r.record(130, 130));
        assert!(r.seen.get(129) && !r.seen.get(0) && !r.seen.get(1000));
        assert_eq!((r.duplicates, r.strays), (1, 1));
        let s = SharedBits::new(70);
        s.set(69);
        s.set(500);
        assert!(s.snapshot().get(69));
    }

    #[tokio::test]
    async fn countdown_reaches_a_goal_set_after_the_counting() {
        let c = std::sync::Arc::new(Countdown::new(None));
        c.add(3);
        let deadline = Instant::now() + Duration::from_secs(5);
        assert!(c.wait(3, deadline).await);
        let waiter = {
            let c = c.clone();
            tokio::spawn(async move { c.wait(5, deadline).await })
        };
        c.add(2);
        assert!(waiter.await.unwrap());
        assert!(!c.wait(100, Instant::now()).await);
    }
}
