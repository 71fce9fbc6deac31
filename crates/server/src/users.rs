//! Signed-in users of one app: which connections each user has, and who watches whom.
//!
//! A user is online while at least one connection is signed in as them (PROTOCOL.md §2.6).
//! Watchers are told when a watched user comes online or goes offline.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex, PoisonError},
};

use axum::extract::ws::Utf8Bytes;
use pusherable_protocol::{outbound, CloseCode};

use crate::hub::Peer;

#[derive(Debug, Default)]
struct State {
    /// User id → that user's signed-in connections.
    connections: HashMap<Arc<str>, HashMap<u64, Arc<Peer>>>,
    /// Watched user id → the connections watching them.
    watchers: HashMap<Arc<str>, HashMap<u64, Arc<Peer>>>,
}

/// The user index of one app.
#[derive(Debug, Default)]
pub(crate) struct Users {
    state: Mutex<State>,
}

fn status_frame(name: &str, user_id: &str) -> Utf8Bytes {
    let ids = [user_id.to_owned()];
    outbound::watchlist_events([(name, ids.as_slice())].into_iter()).into()
}

impl Users {
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Records that `peer` signed in as `user_id`, watching `watchlist`, and tells the user's
    /// watchers that they are online if this is their first connection. Returns the frame with
    /// the current status of every watched user, for `peer` to receive after `signin_success`.
    pub(crate) fn sign_in(
        &self,
        user_id: &Arc<str>,
        peer: &Arc<Peer>,
        watchlist: &[Arc<str>],
    ) -> Option<String> {
        let mut state = self.lock();
        let first = !state.connections.contains_key(user_id);
        state
            .connections
            .entry(user_id.clone())
            .or_default()
            .insert(peer.id, peer.clone());
        if first {
            if let Some(watchers) = state.watchers.get(user_id) {
                let frame = status_frame("online", user_id);
                for w in watchers.values().filter(|w| w.id != peer.id) {
                    w.outbox.push(&frame);
                }
            }
        }
        if watchlist.is_empty() {
            return None;
        }
        let (mut online, mut offline) = (Vec::new(), Vec::new());
        for watched in watchlist {
            state
                .watchers
                .entry(watched.clone())
                .or_default()
                .insert(peer.id, peer.clone());
            if state.connections.contains_key(watched) {
                online.push(watched.to_string());
            } else {
                offline.push(watched.to_string());
            }
        }
        let events = [
            ("online", online.as_slice()),
            ("offline", offline.as_slice()),
        ];
        Some(outbound::watchlist_events(
            events.into_iter().filter(|(_, ids)| !ids.is_empty()),
        ))
    }

    /// Forgets `peer`; the user's watchers learn they went offline if it was their last one.
    pub(crate) fn sign_out(&self, user_id: &str, peer_id: u64, watchlist: &[Arc<str>]) {
        let mut state = self.lock();
        for watched in watchlist {
            if let Some(w) = state.watchers.get_mut(watched) {
                w.remove(&peer_id);
                if w.is_empty() {
                    state.watchers.remove(watched);
                }
            }
        }
        let Some(conns) = state.connections.get_mut(user_id) else {
            return;
        };
        conns.remove(&peer_id);
        if !conns.is_empty() {
            return;
        }
        state.connections.remove(user_id);
        if let Some(watchers) = state.watchers.get(user_id) {
            let frame = status_frame("offline", user_id);
            for w in watchers.values() {
                w.outbox.push(&frame);
            }
        }
    }

    /// Closes every connection signed in as `user_id` with `code`; returns how many.
    pub(crate) fn terminate(&self, user_id: &str, code: CloseCode) -> usize {
        let state = self.lock();
        let Some(conns) = state.connections.get(user_id) else {
            return 0;
        };
        // The close code alone tells the client (protocol 6 and later); a queued `pusher:error`
        // would never be written, since a connection stops writing once a close is asked for.
        for peer in conns.values() {
            peer.outbox.close(code);
        }
        conns.len()
    }
}
