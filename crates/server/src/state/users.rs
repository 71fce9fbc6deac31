//! Signed-in users: which connections each user has here, which other nodes have one of
//! theirs, and who watches whom.
//!
//! A user is online while at least one connection on any node is signed in as them
//! (PROTOCOL.md §2.6). Watchers are told when a watched user comes online or goes offline.

use std::{
    collections::{HashMap, HashSet},
    sync::Arc,
};

use super::{lock, Peer, State, User};
use crate::adapter::NodeId;

#[derive(Debug, Default)]
pub(super) struct Users {
    /// User id → that user's signed-in connections here.
    connections: HashMap<Arc<str>, HashMap<u64, Arc<Peer>>>,
    /// Watched user id → the connections here watching them.
    watchers: HashMap<Arc<str>, HashMap<u64, Arc<Peer>>>,
    /// User id → the other nodes where they are signed in.
    remote: HashMap<Arc<str>, HashSet<NodeId>>,
}

impl Users {
    fn online(&self, user_id: &str) -> bool {
        self.connections.contains_key(user_id) || self.remote.contains_key(user_id)
    }
}

/// What a sign-in changed.
#[derive(Debug, Clone, Default)]
pub(crate) struct SignedIn {
    /// The user's first connection on any node: their watchers learn they are online.
    pub(crate) first: bool,
    /// The user's first connection on this node: the other nodes must learn of it.
    pub(crate) first_here: bool,
    /// Watched users online now, and offline now.
    pub(crate) online: Vec<String>,
    pub(crate) offline: Vec<String>,
}

/// Watchers of one user, as a closure of the fan-out sees them.
pub(crate) type Watchers<'a> = &'a mut dyn Iterator<Item = &'a Arc<Peer>>;

impl State {
    /// Records that `peer` signed in as `user`. When this is the user's first connection
    /// anywhere, `online` runs with the user's watchers here (`peer` left out), under the
    /// user index's lock. `Ok(None)` when the connection had signed in as this user already;
    /// `Err` with the user it signed in as when that was someone else.
    pub(crate) fn sign_in(
        &self,
        peer: &Arc<Peer>,
        user: User,
        online: impl FnOnce(Watchers<'_>),
    ) -> Result<Option<SignedIn>, Arc<str>> {
        let mut session = peer.session();
        if let Some(current) = &session.user {
            return if current.id == user.id {
                Ok(None)
            } else {
                Err(current.id.clone())
            };
        }
        let mut users = lock(&self.users);
        let mut signed_in = SignedIn {
            first: !users.online(&user.id),
            first_here: !users.connections.contains_key(&user.id),
            ..SignedIn::default()
        };
        users
            .connections
            .entry(user.id.clone())
            .or_default()
            .insert(peer.id, peer.clone());
        if signed_in.first {
            if let Some(watchers) = users.watchers.get(&user.id) {
                online(&mut watchers.values().filter(|w| w.id != peer.id));
            }
        }
        for watched in &user.watchlist {
            users
                .watchers
                .entry(watched.clone())
                .or_default()
                .insert(peer.id, peer.clone());
            let list = if users.online(watched) {
                &mut signed_in.online
            } else {
                &mut signed_in.offline
            };
            list.push(watched.to_string());
        }
        drop(users);
        session.user = Some(user);
        Ok(Some(signed_in))
    }

    /// Forgets a signed-out connection. Returns (last anywhere, last here); when it was the
    /// user's last connection anywhere, `offline` runs with the user's watchers here, under
    /// the user index's lock.
    pub(crate) fn sign_out(
        &self,
        peer_id: u64,
        user: &User,
        offline: impl FnOnce(Watchers<'_>),
    ) -> (bool, bool) {
        let mut users = lock(&self.users);
        for watched in &user.watchlist {
            if let Some(w) = users.watchers.get_mut(watched) {
                w.remove(&peer_id);
                if w.is_empty() {
                    users.watchers.remove(watched);
                }
            }
        }
        let Some(conns) = users.connections.get_mut(&user.id) else {
            return (false, false);
        };
        conns.remove(&peer_id);
        if !conns.is_empty() {
            return (false, false);
        }
        users.connections.remove(&user.id);
        if users.online(&user.id) {
            return (false, true);
        }
        if let Some(watchers) = users.watchers.get(&user.id) {
            offline(&mut watchers.values());
        }
        (true, true)
    }

    /// Records whether `user_id` is signed in on another node. When that takes them from
    /// offline to online anywhere, or back, `tell` runs with their watchers here and whether
    /// they are online now.
    pub(crate) fn set_remote_user(
        &self,
        node: NodeId,
        user_id: &Arc<str>,
        signed_in: bool,
        tell: impl FnOnce(bool, Watchers<'_>),
    ) {
        let mut users = lock(&self.users);
        let before = users.online(user_id);
        if signed_in {
            users
                .remote
                .entry(user_id.clone())
                .or_default()
                .insert(node);
        } else if let Some(nodes) = users.remote.get_mut(user_id) {
            nodes.remove(&node);
            if nodes.is_empty() {
                users.remote.remove(user_id);
            }
        }
        let after = users.online(user_id);
        if before != after {
            if let Some(watchers) = users.watchers.get(user_id) {
                tell(after, &mut watchers.values());
            }
        }
    }

    /// The users signed in on `node`.
    pub(crate) fn users_of(&self, node: NodeId) -> Vec<Arc<str>> {
        lock(&self.users)
            .remote
            .iter()
            .filter(|(_, nodes)| nodes.contains(&node))
            .map(|(id, _)| id.clone())
            .collect()
    }

    /// The users signed in on this node.
    pub(crate) fn own_users(&self) -> Vec<Arc<str>> {
        lock(&self.users).connections.keys().cloned().collect()
    }

    /// Runs `each` for every connection here signed in as `user_id`.
    pub(crate) fn for_each_connection_of(&self, user_id: &str, each: impl FnMut(&Arc<Peer>)) {
        if let Some(conns) = lock(&self.users).connections.get(user_id) {
            conns.values().for_each(each);
        }
    }
}
