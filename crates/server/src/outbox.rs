//! A connection's outbound queue: bounded by bytes, shared with the fan-out.
//!
//! The fan-out pushes the same encoded frame (`Utf8Bytes`, a reference-counted buffer) into many
//! outboxes; pushing never allocates per recipient beyond the queue slot and never waits. When a
//! client reads too slowly and its queue passes the byte budget, the outbox stops taking frames
//! and the connection closes with 4100, so that pusher-js backs off and reconnects later.
//!
//! The same mechanism lets the server end a connection from outside its task, for example when
//! the app terminates a user's connections (4009).

use std::sync::atomic::{AtomicU16, AtomicUsize, Ordering};

use axum::extract::ws::Utf8Bytes;
use pusherable_protocol::CloseCode;
use tokio::sync::{mpsc, Notify};

/// Bytes charged per queued frame on top of its length, so that a flood of tiny frames is
/// bounded too (a queue slot and its bookkeeping).
const SLOT_COST: usize = 64;

/// The sending half, kept in the state for each connection.
#[derive(Debug)]
pub(crate) struct Outbox {
    tx: mpsc::UnboundedSender<Utf8Bytes>,
    /// Bytes (plus [`SLOT_COST`] each) waiting in the queue: the bound of the unbounded channel.
    queued: AtomicUsize,
    budget: usize,
    /// The close code asked for (0 while open): 4100 once the budget was passed. The connection
    /// closes with it at its next wake-up, and the outbox takes no more frames.
    closing: AtomicU16,
    /// Wakes a connection task even while it is stuck writing to a client that stopped reading.
    wake: Notify,
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
        closing: AtomicU16::new(0),
        wake: Notify::new(),
    };
    (outbox, Inbox { rx })
}

impl Outbox {
    /// Queues a frame. Returns false if the connection is gone or past its budget.
    pub(crate) fn push(&self, frame: &Utf8Bytes) -> bool {
        if self.closing.load(Ordering::Relaxed) != 0 {
            return false;
        }
        let cost = frame.len() + SLOT_COST;
        let before = self.queued.fetch_add(cost, Ordering::Relaxed);
        if before + cost > self.budget {
            self.queued.fetch_sub(cost, Ordering::Relaxed);
            self.close(CloseCode::OverCapacity);
            return false;
        }
        self.tx.send(frame.clone()).is_ok()
    }

    /// Queues text made for this connection alone.
    pub(crate) fn push_text(&self, text: impl Into<Utf8Bytes>) -> bool {
        self.push(&text.into())
    }

    /// Asks the connection to close with `code`; the first request wins.
    pub(crate) fn close(&self, code: CloseCode) {
        if self
            .closing
            .compare_exchange(0, code.code(), Ordering::Relaxed, Ordering::Relaxed)
            .is_ok()
        {
            // Wake the task whether it waits for frames (the empty frame) or for the socket.
            self.wake.notify_one();
            let _ = self.tx.send(Utf8Bytes::from_static(""));
        }
    }

    /// The close code asked for, once one was.
    pub(crate) fn closing(&self) -> Option<CloseCode> {
        CloseCode::from_code(self.closing.load(Ordering::Relaxed))
    }

    /// Completes once a close was asked for (at once if it already was).
    pub(crate) async fn close_requested(&self) {
        self.wake.notified().await;
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
        assert_eq!(out.closing(), Some(CloseCode::OverCapacity));
        assert!(
            !out.push(&Utf8Bytes::from("x")),
            "nothing more once closing"
        );
    }
}
