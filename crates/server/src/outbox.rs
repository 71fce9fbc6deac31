//! A connection's outbound queue: bounded by bytes, shared with the fan-out.
//!
//! The fan-out pushes the same encoded frame (`Utf8Bytes`, a reference-counted buffer) into many
//! outboxes; pushing never allocates per recipient beyond the queue slot and never waits. When a
//! client reads too slowly and its queue passes the byte budget, the outbox stops taking frames
//! and the connection closes with 4100, so that pusher-js backs off and reconnects later.
//!
//! The same mechanism lets the server end a connection from outside its task, for example when
//! the app terminates a user's connections (4009).

use std::{
    collections::VecDeque,
    sync::{
        atomic::{AtomicBool, AtomicU16, AtomicUsize, Ordering},
        Arc, Mutex, PoisonError,
    },
    task::Poll,
};

use axum::extract::ws::Utf8Bytes;
use futures_util::task::AtomicWaker;
use pusherable_protocol::CloseCode;
use tokio::sync::Notify;

/// Bytes charged per queued frame on top of its length, so that a flood of tiny frames is
/// bounded too (a queue slot and its bookkeeping).
const SLOT_COST: usize = 64;
/// Queue slots kept once the queue is empty again. A queue that grew for a burst gives the rest
/// back, so that what a connection holds follows what it has waiting, not the most it ever had.
const SLOTS_KEPT: usize = 8;

/// The sending half, kept in the state for each connection.
#[derive(Debug)]
pub(crate) struct Outbox {
    queue: Arc<Queue>,
    /// Bytes (plus [`SLOT_COST`] each) waiting in the queue: what the budget bounds.
    queued: AtomicUsize,
    budget: usize,
    /// The close code asked for (0 while open): 4100 once the budget was passed. The connection
    /// closes with it at its next wake-up, and the outbox takes no more frames.
    closing: AtomicU16,
    /// Wakes a connection task even while it is stuck writing to a client that stopped reading.
    wake: Notify,
}

/// The frames themselves, shared by both halves. A plain deque under a lock rather than a
/// channel: a tokio channel keeps a block of 32 slots (1 KiB) per connection, and a second one
/// for good once 32 frames went through it, where most connections have a frame or two waiting.
#[derive(Debug, Default)]
struct Queue {
    frames: Mutex<VecDeque<Utf8Bytes>>,
    /// The waiting connection task, woken when a frame is queued and when the outbox is dropped:
    /// a lock-free hand-over, since every delivery to the connection wakes it.
    ready: AtomicWaker,
    /// Set when the outbox is dropped, before `ready` is woken: no frame can come any more.
    ended: AtomicBool,
}

impl Queue {
    fn push(&self, frame: Utf8Bytes) {
        self.frames
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push_back(frame);
        self.ready.wake();
    }

    fn pop(&self) -> Option<Utf8Bytes> {
        let mut frames = self.frames.lock().unwrap_or_else(PoisonError::into_inner);
        let frame = frames.pop_front();
        if frames.is_empty() && frames.capacity() > SLOTS_KEPT {
            frames.shrink_to(SLOTS_KEPT);
        }
        frame
    }
}

/// The receiving half, owned by the connection's task.
#[derive(Debug)]
pub(crate) struct Inbox {
    queue: Arc<Queue>,
}

pub(crate) fn new(budget: usize) -> (Outbox, Inbox) {
    let queue = Arc::new(Queue::default());
    let outbox = Outbox {
        queue: queue.clone(),
        queued: AtomicUsize::new(0),
        budget,
        closing: AtomicU16::new(0),
        wake: Notify::new(),
    };
    (outbox, Inbox { queue })
}

impl Outbox {
    /// Queues a frame. Returns false if the connection is past its budget or closing.
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
        self.queue.push(frame.clone());
        true
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
            self.queue.push(Utf8Bytes::from_static(""));
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

impl Drop for Outbox {
    fn drop(&mut self) {
        // A task waiting in `Inbox::recv` learns that no frame can come any more. The flag, not
        // the count of the queue's owners: that only drops after this body has run, and a task
        // woken in between would see the outbox still there and wait for good.
        self.queue.ended.store(true, Ordering::Release);
        self.queue.ready.wake();
    }
}

impl Inbox {
    /// Waits for the next frame; `None` once the outbox is gone and the queue is empty.
    pub(crate) async fn recv(&mut self) -> Option<Utf8Bytes> {
        std::future::poll_fn(|cx| {
            if let Some(frame) = self.queue.pop() {
                return Poll::Ready(Some(frame));
            }
            self.queue.ready.register(cx.waker());
            // A frame queued, or the outbox dropped, between the first look and the
            // registration woke nobody: look again.
            if let Some(frame) = self.queue.pop() {
                return Poll::Ready(Some(frame));
            }
            if self.queue.ended.load(Ordering::Acquire) {
                // Nothing can be queued any more; a frame pushed just before the drop is here.
                return Poll::Ready(self.queue.pop());
            }
            Poll::Pending
        })
        .await
    }

    /// The next frame if one is waiting.
    pub(crate) fn try_recv(&mut self) -> Option<Utf8Bytes> {
        self.queue.pop()
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

    #[test]
    fn a_burst_leaves_no_slots_behind() {
        let (out, mut inbox) = new(usize::MAX);
        let f = Utf8Bytes::from("0123456789");
        for _ in 0..1000 {
            assert!(out.push(&f));
        }
        while let Some(frame) = inbox.try_recv() {
            out.sent(&frame);
        }
        let slots = inbox.queue.frames.lock().unwrap().capacity();
        assert!(slots <= SLOTS_KEPT, "{slots} slots kept after the burst");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn recv_ends_whenever_the_outbox_is_dropped() {
        // The drop races the waiting task on another thread; every time, the task must end.
        for _ in 0..2_000 {
            let (out, mut inbox) = new(usize::MAX);
            let waiting = tokio::spawn(async move { inbox.recv().await });
            tokio::task::yield_now().await;
            drop(out);
            let ended = tokio::time::timeout(std::time::Duration::from_secs(5), waiting).await;
            assert!(matches!(ended, Ok(Ok(None))), "{ended:?}");
        }
    }

    #[tokio::test]
    async fn recv_wakes_for_a_frame_and_ends_with_the_outbox() {
        let (out, mut inbox) = new(usize::MAX);
        let waiting = tokio::spawn(async move {
            let first = inbox.recv().await;
            let second = inbox.recv().await;
            (first, second, inbox.recv().await)
        });
        tokio::task::yield_now().await;
        assert!(out.push(&Utf8Bytes::from("a")));
        assert!(out.push(&Utf8Bytes::from("b")));
        drop(out);
        let (first, second, end) = waiting.await.unwrap();
        assert_eq!(first.as_deref(), Some("a"));
        assert_eq!(second.as_deref(), Some("b"));
        assert_eq!(end, None);
    }
}
