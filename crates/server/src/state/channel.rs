//! One channel: this node's subscribers and members, and each other node's share.
//!
//! A member is present in the channel while any node has a connection of theirs in it; the
//! counts that the REST API answers and `subscription_count` announces add every node's.

use std::{
    collections::{HashMap, HashSet},
    sync::{Arc, RwLock},
};

use super::{Member, Peer};
use crate::adapter::NodeId;

#[derive(Debug, Default)]
pub(super) struct Channel {
    pub(super) state: RwLock<ChannelState>,
}

#[derive(Debug, Default)]
pub(super) struct ChannelState {
    /// This node's subscribers.
    pub(super) subscribers: HashMap<u64, Arc<Peer>>,
    /// Presence members on this node: user id → (info, this user's connections here).
    members: HashMap<Arc<str>, (Arc<str>, usize)>,
    /// What each other node has of this channel (empty on a single node).
    remote: HashMap<NodeId, Share>,
}

/// One node's share of a channel: its subscription count and its presence members.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Share {
    pub(crate) subscriptions: usize,
    /// User id → info.
    pub(crate) members: HashMap<Arc<str>, Arc<str>>,
}

impl Share {
    pub(crate) fn is_empty(&self) -> bool {
        self.subscriptions == 0 && self.members.is_empty()
    }
}

/// Counts of one channel.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct ChannelCounts {
    pub(crate) subscriptions: usize,
    pub(crate) users: usize,
}

impl ChannelState {
    pub(super) fn is_empty(&self) -> bool {
        self.subscribers.is_empty() && self.remote.is_empty()
    }

    /// Whether `user_id` has a connection in the channel on any node.
    pub(super) fn is_present(&self, user_id: &str) -> bool {
        self.members.contains_key(user_id) || self.present_elsewhere(user_id, None)
    }

    /// Whether `user_id` is in the channel on a node other than this one and `except`.
    fn present_elsewhere(&self, user_id: &str, except: Option<NodeId>) -> bool {
        self.remote
            .iter()
            .any(|(node, share)| Some(*node) != except && share.members.contains_key(user_id))
    }

    pub(super) fn distinct_users(&self) -> usize {
        if self.remote.is_empty() {
            return self.members.len();
        }
        let mut users: HashSet<&str> = self.members.keys().map(|id| &**id).collect();
        for share in self.remote.values() {
            users.extend(share.members.keys().map(|id| &**id));
        }
        users.len()
    }

    /// Subscriptions on every node.
    pub(super) fn subscriptions(&self) -> usize {
        self.subscribers.len() + self.remote.values().map(|s| s.subscriptions).sum::<usize>()
    }

    pub(super) fn counts(&self) -> ChannelCounts {
        ChannelCounts {
            subscriptions: self.subscriptions(),
            users: self.distinct_users(),
        }
    }

    /// Counts one more connection of `member` here; true if it is their first here.
    pub(super) fn add_member(&mut self, member: &Member) -> bool {
        match self.members.get_mut(&member.user_id) {
            Some((_, count)) => {
                *count += 1;
                false
            }
            None => {
                let entry = (member.info.clone(), 1);
                self.members.insert(member.user_id.clone(), entry);
                true
            }
        }
    }

    /// Counts one connection of `user_id` fewer here; true if it was their last here.
    pub(super) fn remove_member(&mut self, user_id: &str) -> bool {
        match self.members.get_mut(user_id) {
            Some((_, count)) if *count > 1 => {
                *count -= 1;
                false
            }
            Some(_) => {
                self.members.remove(user_id);
                true
            }
            None => false,
        }
    }

    pub(super) fn share(&self, node: NodeId) -> Option<&Share> {
        self.remote.get(&node)
    }

    /// This node's own share, as another node would keep it.
    pub(super) fn own_share(&self) -> Share {
        Share {
            subscriptions: self.subscribers.len(),
            members: self
                .members
                .iter()
                .map(|(id, (info, _))| (id.clone(), info.clone()))
                .collect(),
        }
    }

    /// Replaces `node`'s share and says what that changed for the cluster.
    pub(super) fn set_share(&mut self, node: NodeId, share: Option<Share>) -> super::Changed {
        let before = self.subscriptions();
        let old = match share {
            Some(share) => self.remote.insert(node, share),
            None => self.remote.remove(&node),
        }
        .unwrap_or_default();
        let after = self.subscriptions();
        let mut shared = super::Changed {
            subscriptions: (before != after).then_some(after),
            occupied: before == 0 && after > 0,
            vacated: before > 0 && after == 0,
            ..super::Changed::default()
        };
        let new = self.remote.get(&node);
        let elsewhere = |user: &str| {
            self.members.contains_key(user) || self.present_elsewhere(user, Some(node))
        };
        for (user, info) in new.iter().flat_map(|s| &s.members) {
            if !old.members.contains_key(user) && !elsewhere(user) {
                shared.added.push(Member {
                    user_id: user.clone(),
                    info: info.clone(),
                });
            }
        }
        for user in old.members.keys() {
            let still = new.is_some_and(|s| s.members.contains_key(user));
            if !still && !elsewhere(user) {
                shared.removed.push(user.clone());
            }
        }
        shared
    }
}

/// A channel while a change to it holds its lock: what the fan-out may read to greet a new
/// subscriber or to tell the others.
pub(crate) struct ChannelView<'a> {
    state: &'a ChannelState,
}

impl<'a> ChannelView<'a> {
    pub(super) fn new(state: &'a ChannelState) -> Self {
        ChannelView { state }
    }

    /// Every subscriber on this node, the one that just joined included.
    pub(crate) fn subscribers(&self) -> impl Iterator<Item = &'a Arc<Peer>> + Clone {
        self.state.subscribers.values()
    }

    /// Presence members on every node, each once: user id and info.
    pub(crate) fn members(&self) -> Vec<(&'a str, &'a str)> {
        let state = self.state;
        let local = state.members.iter().map(|(id, (info, _))| (id, info));
        if state.remote.is_empty() {
            // A single node: nothing to tell apart.
            return local.map(|(id, info)| (&**id, &**info)).collect();
        }
        let mut seen: HashSet<&str> = HashSet::new();
        let remote = state.remote.values().flat_map(|s| s.members.iter());
        local
            .chain(remote)
            .filter(|(id, _)| seen.insert(id))
            .map(|(id, info)| (&**id, &**info))
            .collect()
    }
}
