//! What this node knows of one app: its connections, the channels they joined, presence
//! members, signed-in users and their watchlists, the last event of each cache channel, and —
//! in a cluster — each other node's share of every channel and user.
//!
//! Everything is kept once, here. A connection task holds its [`Peer`] and asks [`State`] what
//! it joined or who it signed in as; the REST API asks the same type for counts and members,
//! which cover the whole cluster. The state holds plain data and never encodes a frame: each
//! call that changes it takes a closure from the fan-out path, run while the lock that the
//! change needed is still held, so that what the fan-out queues for a connection is ordered
//! with the change itself (a new subscriber gets `subscription_succeeded` before any event
//! published after it joined).
//!
//! Locks are plain `std` locks, held only for in-memory work and never across an `.await`.
//! Lock order: a peer's session, then the channel map, then a channel, then the cache; a
//! peer's session, then the user index.

mod channel;
mod users;

use std::{
    collections::HashMap,
    sync::{Arc, Mutex, MutexGuard, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard},
    time::{Duration, Instant},
};

use axum::extract::ws::Utf8Bytes;
use pusherable_protocol::{ChannelName, SocketId};

use channel::Channel;
pub(crate) use channel::{ChannelCounts, ChannelView, Share};
pub(crate) use users::SignedIn;

use crate::{adapter::NodeId, outbox::Outbox};

/// How long a cache channel keeps its last event.
const CACHE_TTL: Duration = Duration::from_secs(30 * 60);
/// Most cache channels remembered per app; past it, the oldest entry goes.
const CACHE_MAX_CHANNELS: usize = 10_000;

/// One connection, as the state knows it.
#[derive(Debug)]
pub(crate) struct Peer {
    /// The key of this connection in every map (cheaper to hash than a socket id).
    pub(crate) id: u64,
    pub(crate) socket_id: SocketId,
    pub(crate) outbox: Outbox,
    /// What the connection joined and who it is: changed only by [`State`]. The lock is only
    /// ever contended by the state's own readers, since one task drives each connection.
    session: Mutex<Session>,
}

#[derive(Debug, Default)]
struct Session {
    /// Joined channels, with the presence user id the connection joined as.
    channels: HashMap<ChannelName, Option<Arc<str>>>,
    user: Option<User>,
}

/// A presence member as a subscription declares it.
#[derive(Debug, Clone)]
pub(crate) struct Member {
    pub(crate) user_id: Arc<str>,
    /// JSON text of `user_info` (`null` when absent).
    pub(crate) info: Arc<str>,
}

/// The user a connection signed in as.
#[derive(Debug, Clone)]
pub(crate) struct User {
    pub(crate) id: Arc<str>,
    /// JSON text of `user_info` (`null` when absent), shared on presence channels.
    pub(crate) info: Arc<str>,
    pub(crate) watchlist: Vec<Arc<str>>,
}

impl Peer {
    pub(crate) fn new(id: u64, socket_id: SocketId, outbox: Outbox) -> Self {
        Peer {
            id,
            socket_id,
            outbox,
            session: Mutex::default(),
        }
    }

    fn session(&self) -> MutexGuard<'_, Session> {
        lock(&self.session)
    }

    /// Whether the connection joined `channel`, and as which presence member.
    pub(crate) fn joined(&self, channel: &str) -> Option<(ChannelName, Option<Arc<str>>)> {
        self.session()
            .channels
            .get_key_value(channel)
            .map(|(name, user)| (name.clone(), user.clone()))
    }

    /// The user the connection signed in as.
    pub(crate) fn user(&self) -> Option<User> {
        self.session().user.clone()
    }

    /// Whether the connection signed in.
    pub(crate) fn signed_in(&self) -> bool {
        self.session().user.is_some()
    }
}

/// The last REST event of a cache channel.
#[derive(Debug, Clone)]
struct Cached {
    frame: Utf8Bytes,
    data: Arc<str>,
    expires: Instant,
}

/// The state of one app on this node.
#[derive(Debug, Default)]
pub(crate) struct State {
    channels: RwLock<HashMap<ChannelName, Arc<Channel>>>,
    cache: Mutex<HashMap<ChannelName, Cached>>,
    users: Mutex<users::Users>,
    /// Open connections of the app on each other node, as their last heartbeat said.
    remote_connections: Mutex<HashMap<NodeId, usize>>,
}

/// Limits a subscription is checked against.
#[derive(Debug, Clone, Copy)]
pub(crate) struct JoinLimits {
    /// Channels one connection may join.
    pub(crate) channels: usize,
    /// Distinct users of one presence channel.
    pub(crate) members: usize,
}

/// Why the state refused a subscription.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum JoinError {
    /// The connection joined its maximum of channels.
    TooManyChannels,
    /// The presence channel already has its maximum of distinct users.
    MembersFull,
}

/// What a subscription changed.
#[derive(Debug, Clone, Default)]
pub(crate) struct Joined {
    /// False when the connection was subscribed already.
    pub(crate) new: bool,
    /// The channel had no subscriber before, on any node.
    pub(crate) occupied: bool,
    /// The member the connection joined as, on a presence channel.
    pub(crate) member: Option<Member>,
    /// The member was present nowhere before: the others learn of them.
    pub(crate) member_added: bool,
    /// The member's first connection to this channel on this node.
    pub(crate) member_here: bool,
    /// A cache channel's last event, if it has one that is still fresh.
    pub(crate) cached: Option<Utf8Bytes>,
    /// Subscriptions after the change, on every node.
    pub(crate) subscriptions: usize,
    /// Subscriptions after the change, on this node.
    pub(crate) subscriptions_here: usize,
}

/// What an unsubscription changed.
#[derive(Debug, Clone, Default)]
pub(crate) struct Left {
    /// The presence user id the connection had joined as.
    pub(crate) user_id: Option<Arc<str>>,
    /// The channel has no subscriber any more, on any node.
    pub(crate) vacated: bool,
    /// The member is present nowhere any more.
    pub(crate) member_removed: bool,
    /// The member's last connection to this channel on this node left.
    pub(crate) member_gone_here: bool,
    /// Subscriptions after the change, on every node.
    pub(crate) subscriptions: usize,
    /// Subscriptions after the change, on this node.
    pub(crate) subscriptions_here: usize,
}

/// What a change did to a channel for the whole cluster: what webhooks report and the console
/// shows, whether the change was a subscription here ([`Joined::changes`]), a leaving here
/// ([`Left::changes`]) or another node's share ([`State::set_share`]).
#[derive(Debug, Clone, Default)]
pub(crate) struct Changed {
    /// Members present nowhere before, and present nowhere now.
    pub(crate) added: Vec<Member>,
    pub(crate) removed: Vec<Arc<str>>,
    /// The cluster-wide subscription count, when it changed.
    pub(crate) subscriptions: Option<usize>,
    /// The channel had no subscriber anywhere before, or has none now.
    pub(crate) occupied: bool,
    pub(crate) vacated: bool,
}

impl Joined {
    /// What the subscription changed for the cluster (nothing when it was a repeat).
    pub(crate) fn changes(&self) -> Changed {
        if !self.new {
            return Changed::default();
        }
        Changed {
            added: self
                .member
                .iter()
                .filter(|_| self.member_added)
                .cloned()
                .collect(),
            subscriptions: Some(self.subscriptions),
            occupied: self.occupied,
            ..Changed::default()
        }
    }
}

impl Left {
    /// What leaving changed for the cluster.
    pub(crate) fn changes(&self) -> Changed {
        Changed {
            removed: self
                .user_id
                .iter()
                .filter(|_| self.member_removed)
                .cloned()
                .collect(),
            subscriptions: Some(self.subscriptions),
            vacated: self.vacated,
            ..Changed::default()
        }
    }
}

fn read<T>(lock: &RwLock<T>) -> RwLockReadGuard<'_, T> {
    lock.read().unwrap_or_else(PoisonError::into_inner)
}

fn write<T>(lock: &RwLock<T>) -> RwLockWriteGuard<'_, T> {
    lock.write().unwrap_or_else(PoisonError::into_inner)
}

fn lock<T>(lock: &Mutex<T>) -> MutexGuard<'_, T> {
    lock.lock().unwrap_or_else(PoisonError::into_inner)
}

impl State {
    fn channel(&self, name: &str) -> Option<Arc<Channel>> {
        read(&self.channels).get(name).cloned()
    }

    /// Subscribes `peer` to `channel`, as `member` on a presence channel, and runs `greet`
    /// with the channel still locked. Subscribing again keeps the first membership and changes
    /// nothing; `greet` runs again (the success is repeated).
    pub(crate) fn subscribe(
        &self,
        peer: &Arc<Peer>,
        channel: &ChannelName,
        member: Option<Member>,
        limits: JoinLimits,
        greet: impl FnOnce(&Joined, ChannelView<'_>),
    ) -> Result<Joined, JoinError> {
        let mut session = peer.session();
        let previous = session.channels.get(channel).cloned();
        if previous.is_none() && session.channels.len() >= limits.channels {
            return Err(JoinError::TooManyChannels);
        }
        let mut map = write(&self.channels);
        let ch = map.entry(channel.clone()).or_default().clone();
        // Taken before the map is released, so that a concurrent last unsubscribe cannot drop
        // this channel from the map between the lookup and the insert.
        let mut state = write(&ch.state);
        drop(map);
        let mut joined = Joined {
            new: previous.is_none(),
            occupied: state.subscriptions() == 0,
            ..Joined::default()
        };
        joined.member = match (previous, member) {
            (Some(Some(user_id)), _) => Some(Member {
                user_id,
                info: Arc::from("null"),
            }),
            (Some(None), _) | (None, None) => None,
            (None, Some(member)) => {
                if !state.is_present(&member.user_id) && state.distinct_users() >= limits.members {
                    let empty = state.is_empty();
                    drop(state);
                    if empty {
                        self.remove_if_empty(channel);
                    }
                    return Err(JoinError::MembersFull);
                }
                joined.member_added = !state.is_present(&member.user_id);
                joined.member_here = state.add_member(&member);
                Some(member)
            }
        };
        if joined.new {
            state.subscribers.insert(peer.id, peer.clone());
            let user_id = joined.member.as_ref().map(|m| m.user_id.clone());
            session.channels.insert(channel.clone(), user_id);
        }
        if channel.is_cache() {
            joined.cached = self.cached(channel).map(|c| c.frame);
        }
        joined.subscriptions = state.subscriptions();
        joined.subscriptions_here = state.subscribers.len();
        greet(&joined, ChannelView::new(&state));
        Ok(joined)
    }

    /// Removes `peer` from `channel` and runs `tell` with the channel still locked (the
    /// leaver no longer in it). `None` when the connection had not joined it.
    pub(crate) fn unsubscribe(
        &self,
        peer: &Peer,
        channel: &str,
        tell: impl FnOnce(&Left, ChannelView<'_>),
    ) -> Option<(ChannelName, Left)> {
        let (name, user_id) = peer.session().channels.remove_entry(channel)?;
        let left = self.leave(peer.id, &name, user_id, tell);
        Some((name, left))
    }

    /// Removes `peer` from every channel and signs it out: the connection is gone. Runs
    /// `tell` for each channel left, as [`State::unsubscribe`] does.
    pub(crate) fn remove(
        &self,
        peer: &Peer,
        mut tell: impl FnMut(&ChannelName, &Left, ChannelView<'_>),
    ) -> (Vec<(ChannelName, Left)>, Option<User>) {
        let session = std::mem::take(&mut *peer.session());
        let left = session
            .channels
            .into_iter()
            .map(|(name, user_id)| {
                let left = self.leave(peer.id, &name, user_id, |l, v| tell(&name, l, v));
                (name, left)
            })
            .collect();
        (left, session.user)
    }

    fn leave(
        &self,
        peer_id: u64,
        channel: &ChannelName,
        user_id: Option<Arc<str>>,
        tell: impl FnOnce(&Left, ChannelView<'_>),
    ) -> Left {
        let mut left = Left {
            user_id,
            ..Left::default()
        };
        let Some(ch) = self.channel(channel) else {
            return left;
        };
        let mut state = write(&ch.state);
        state.subscribers.remove(&peer_id);
        if let Some(user_id) = &left.user_id {
            left.member_gone_here = state.remove_member(user_id);
            left.member_removed = left.member_gone_here && !state.is_present(user_id);
        }
        left.subscriptions = state.subscriptions();
        left.subscriptions_here = state.subscribers.len();
        left.vacated = left.subscriptions == 0;
        tell(&left, ChannelView::new(&state));
        let empty = state.is_empty();
        drop(state);
        if empty {
            self.remove_if_empty(channel);
        }
        left
    }

    fn remove_if_empty(&self, channel: &ChannelName) {
        let mut map = write(&self.channels);
        let empty = map
            .get(channel)
            .is_some_and(|ch| read(&ch.state).is_empty());
        if empty {
            map.remove(channel);
        }
    }

    /// Sets another node's share of `channel` and runs `tell` with the channel still locked,
    /// with what that changed here. `None` replaces the share with nothing.
    pub(crate) fn set_share(
        &self,
        node: NodeId,
        channel: &ChannelName,
        share: Option<Share>,
        tell: impl FnOnce(&Changed, ChannelView<'_>),
    ) -> Changed {
        let ch = if share.is_some() {
            let mut map = write(&self.channels);
            map.entry(channel.clone()).or_default().clone()
        } else {
            match self.channel(channel) {
                Some(ch) => ch,
                None => return Changed::default(),
            }
        };
        let mut state = write(&ch.state);
        let shared = state.set_share(node, share);
        tell(&shared, ChannelView::new(&state));
        let empty = state.is_empty();
        drop(state);
        if empty {
            self.remove_if_empty(channel);
        }
        shared
    }

    /// Changes another node's share of `channel` with `change`, as [`State::set_share`].
    pub(crate) fn update_share(
        &self,
        node: NodeId,
        channel: &ChannelName,
        change: impl FnOnce(&mut Share),
        tell: impl FnOnce(&Changed, ChannelView<'_>),
    ) -> Changed {
        let mut share = self
            .channel(channel)
            .and_then(|ch| read(&ch.state).share(node).cloned())
            .unwrap_or_default();
        change(&mut share);
        let share = (!share.is_empty()).then_some(share);
        self.set_share(node, channel, share, tell)
    }

    /// The channels `node` has a share of.
    pub(crate) fn channels_of(&self, node: NodeId) -> Vec<ChannelName> {
        read(&self.channels)
            .iter()
            .filter(|(_, ch)| read(&ch.state).share(node).is_some())
            .map(|(name, _)| name.clone())
            .collect()
    }

    /// This node's share of every channel: what another node needs to answer for it.
    pub(crate) fn own_shares(&self) -> Vec<(ChannelName, Share)> {
        read(&self.channels)
            .iter()
            .filter_map(|(name, ch)| {
                let share = read(&ch.state).own_share();
                (!share.is_empty()).then(|| (name.clone(), share))
            })
            .collect()
    }

    /// Runs `each` for every subscriber of `channel` on this node, under the channel's lock.
    pub(crate) fn for_each_subscriber(&self, channel: &str, each: impl FnMut(&Arc<Peer>)) {
        if let Some(ch) = self.channel(channel) {
            read(&ch.state).subscribers.values().for_each(each);
        }
    }

    /// Remembers `frame` as the last event of cache channel `channel`, then runs `each` for
    /// every subscriber. Both happen under the channel's lock, so a new subscriber gets either
    /// the old cached event and then this one, or this one once, never it twice.
    pub(crate) fn remember_and_for_each(
        &self,
        channel: &ChannelName,
        frame: &Utf8Bytes,
        data: &str,
        each: impl FnMut(&Arc<Peer>),
    ) {
        let entry = Cached {
            frame: frame.clone(),
            data: Arc::from(data),
            expires: Instant::now() + CACHE_TTL,
        };
        let map = read(&self.channels);
        let ch = map.get(channel).cloned();
        let state = ch.as_ref().map(|ch| read(&ch.state));
        {
            let mut cache = lock(&self.cache);
            if cache.len() >= CACHE_MAX_CHANNELS && !cache.contains_key(channel) {
                let now = Instant::now();
                cache.retain(|_, c| c.expires > now);
                if cache.len() >= CACHE_MAX_CHANNELS {
                    let oldest = cache
                        .iter()
                        .min_by_key(|(_, c)| c.expires)
                        .map(|(k, _)| k.clone());
                    if let Some(oldest) = oldest {
                        cache.remove(&oldest);
                    }
                }
            }
            cache.insert(channel.clone(), entry);
        }
        drop(map);
        if let Some(state) = state {
            state.subscribers.values().for_each(each);
        }
    }

    /// The live cached event of `channel`, forgetting it if it expired.
    fn cached(&self, channel: &str) -> Option<Cached> {
        let mut cache = lock(&self.cache);
        match cache.get(channel) {
            Some(c) if c.expires > Instant::now() => Some(c.clone()),
            Some(_) => {
                cache.remove(channel);
                None
            }
            None => None,
        }
    }

    /// The cached data of a cache channel and its seconds to live.
    pub(crate) fn cached_data(&self, channel: &str) -> Option<(String, u64)> {
        self.cached(channel).map(|c| {
            let ttl = c
                .expires
                .saturating_duration_since(Instant::now())
                .as_secs();
            (c.data.to_string(), ttl)
        })
    }

    /// Subscriptions and distinct users of a channel on every node (zeros when unoccupied).
    pub(crate) fn counts(&self, channel: &str) -> ChannelCounts {
        self.channel(channel)
            .map(|ch| read(&ch.state).counts())
            .unwrap_or_default()
    }

    /// Channels occupied on any node whose name starts with `prefix`, with their counts.
    pub(crate) fn occupied(&self, prefix: &str) -> Vec<(ChannelName, ChannelCounts)> {
        read(&self.channels)
            .iter()
            .filter(|(name, _)| name.starts_with(prefix))
            .map(|(name, ch)| (name.clone(), read(&ch.state).counts()))
            .filter(|(_, counts)| counts.subscriptions > 0)
            .collect()
    }

    /// The distinct user ids of a presence channel, on every node.
    pub(crate) fn users(&self, channel: &str) -> Vec<String> {
        self.channel(channel)
            .map(|ch| {
                ChannelView::new(&read(&ch.state))
                    .members()
                    .into_iter()
                    .map(|(id, _)| id.to_owned())
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Subscriptions on this node, summed over channels (for metrics).
    pub(crate) fn subscription_total(&self) -> usize {
        read(&self.channels)
            .values()
            .map(|ch| read(&ch.state).subscribers.len())
            .sum()
    }

    /// Channels with a subscriber on this node (for metrics).
    pub(crate) fn channel_total(&self) -> usize {
        read(&self.channels)
            .values()
            .filter(|ch| !read(&ch.state).subscribers.is_empty())
            .count()
    }

    /// Records the open connections of the app on another node (`None`: the node is gone).
    pub(crate) fn set_remote_connections(&self, node: NodeId, count: Option<usize>) {
        let mut remote = lock(&self.remote_connections);
        match count {
            Some(n) => remote.insert(node, n),
            None => remote.remove(&node),
        };
    }

    /// Open connections of the app on the other nodes.
    pub(crate) fn remote_connections(&self) -> usize {
        lock(&self.remote_connections).values().sum()
    }
}
