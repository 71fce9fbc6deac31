//! A connection's outbound queue: bounded by bytes, shared with the hub.
//!
//! The hub pushes the same encoded frame (`Utf8Bytes`, a reference-counted buffer) into many
//! outboxes; pushing never allocates per recipient beyond the queue slot and never waits. When a
//! client reads too slowly and its queue passes the byte budget, the outbox stops taking frames
//! and the connection closes with 4100, so that pusher-js backs off and reconnects later.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use axum::extract::ws::Utf8Bytes;
use tokio::sync::{mpsc, Notify};

/// Bytes charged per queued frame on top of its length, so that a flood of tiny frames is
/// bounded too (a queue slot and its bookkeeping).
const SLOT_COST: usize = 64;

/// The sending half, kept by the hub for each subscriber.
#[derive(Debug)]
pub(crate) struct Outbox {
    tx: mpsc::UnboundedSender<Utf8Bytes>,
    /// Bytes (plus [`SLOT_COST`] each) waiting in the queue: the bound of the unbounded channel.
    queued: AtomicUsize,
    budget: usize,
    /// Set once the budget was passed; the connection closes with 4100 at its next wake-up.
    overflowed: AtomicBool,
    /// Wakes a connection task that is stuck writing to a client that stopped reading.
    overflow: Notify,
}

/// The receiving half, owned by the connection's task.
#[derive(Debug)]
pub(crate) struct Inbox {
    rx: mpsc::UnboundedReceiver<Utf8Bytes>,
}

pub(crate) fn new(budget: usize) -> (Outbox, Inbox) {
    let (tx, rx) = mpsc::unbounded_channel();
    let outbox = Outbox {
        tx,
        queued: AtomicUsize::new(0),
        budget,
        overflowed: AtomicBool::new(false),
        overflow: Notify::new(),
    };
    (outbox, Inbox { rx })
}

impl Outbox {
    /// Queues a frame. Returns false if the connection is gone or past its budget.
    pub(crate) fn push(&self, frame: &Utf8Bytes) -> bool {
        if self.overflowed.load(Ordering::Relaxed) {
            return false;
        }
        let cost = frame.len() + SLOT_COST;
        let before = self.queued.fetch_add(cost, Ordering::Relaxed);
        if before + cost > self.budget {
            self.queued.fetch_sub(cost, Ordering::Relaxed);
            self.overflowed.store(true, Ordering::Relaxed);
            // Wake the task whether it waits for frames (the empty frame) or for the socket.
            self.overflow.notify_one();
            let _ = self.tx.send(Utf8Bytes::from_static(""));
            return false;
        }
        self.tx.send(frame.clone()).is_ok()
    }

    /// Queues text made for this connection alone.
    pub(crate) fn push_text(&self, text: impl Into<Utf8Bytes>) -> bool {
        self.push(&text.into())
    }

    /// True once the client fell behind by more than the budget.
    pub(crate) fn overflowed(&self) -> bool {
        self.overflowed.load(Ordering::Relaxed)
    }

    /// Completes once the budget has been passed (at once if it already was).
    pub(crate) async fn overflowed_signal(&self) {
        self.overflow.notified().await;
    }

    /// Marks a frame as written to the socket.
    pub(crate) fn sent(&self, frame: &Utf8Bytes) {
        if !frame.is_empty() {
            self.queued
                .fetch_sub(frame.len() + SLOT_COST, Ordering::Relaxed);
        }
    }
}

impl Inbox {
    /// Waits for the next frame; `None` when every sender is gone.
    pub(crate) async fn recv(&mut self) -> Option<Utf8Bytes> {
        self.rx.recv().await
    }

    /// The next frame if one is waiting.
    pub(crate) fn try_recv(&mut self) -> Option<Utf8Bytes> {
        self.rx.try_recv().ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn budget_is_enforced_and_released() {
        let (out, mut inbox) = new(2 * (10 + SLOT_COST));
        let f = Utf8Bytes::from("0123456789");
        assert!(out.push(&f));
        assert!(out.push(&f));
        let first = inbox.try_recv().unwrap();
        out.sent(&first);
        assert!(out.push(&f), "room again after a frame was written");
        assert!(!out.push(&f), "over budget");
        assert!(out.overflowed());
        assert!(
            !out.push(&Utf8Bytes::from("x")),
            "nothing more once overflowed"
        );
    }
}
