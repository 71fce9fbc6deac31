//! What this node knows of one app: its connections, the channels they joined, presence
//! members, signed-in users and their watchlists, and the last event of each cache channel.
//!
//! Everything is kept once, here. A connection task holds its [`Peer`] and asks [`State`] what
//! it joined or who it signed in as; the REST API asks the same type for counts and members.
//! The state holds plain data and never encodes a frame: each call that changes it takes a
//! closure from the fan-out path, run while the lock that the change needed is still held, so
//! that what the fan-out queues for a connection is ordered with the change itself (a new
//! subscriber gets `subscription_succeeded` before any event published after it joined).
//!
//! Locks are plain `std` locks, held only for in-memory work and never across an `.await`.
//! Lock order: a peer's session, then the channel map, then a channel, then the cache; a
//! peer's session, then the user index.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex, MutexGuard, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard},
    time::{Duration, Instant},
};

use axum::extract::ws::Utf8Bytes;
use pusherable_protocol::{ChannelName, SocketId};

use crate::outbox::Outbox;

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

#[derive(Debug, Default)]
struct ChannelState {
    subscribers: HashMap<u64, Arc<Peer>>,
    /// Presence channels: user id → (info, number of this user's connections here).
    members: HashMap<Arc<str>, (Arc<str>, usize)>,
}

#[derive(Debug, Default)]
struct Channel {
    state: RwLock<ChannelState>,
}

/// The last REST event of a cache channel.
#[derive(Debug, Clone)]
struct Cached {
    frame: Utf8Bytes,
    data: Arc<str>,
    expires: Instant,
}

#[derive(Debug, Default)]
struct Users {
    /// User id → that user's signed-in connections.
    connections: HashMap<Arc<str>, HashMap<u64, Arc<Peer>>>,
    /// Watched user id → the connections watching them.
    watchers: HashMap<Arc<str>, HashMap<u64, Arc<Peer>>>,
}

/// The state of one app on this node.
#[derive(Debug, Default)]
pub(crate) struct State {
    channels: RwLock<HashMap<ChannelName, Arc<Channel>>>,
    cache: Mutex<HashMap<ChannelName, Cached>>,
    users: Mutex<Users>,
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
    /// The channel had no subscriber before.
    pub(crate) occupied: bool,
    /// The member the connection joined as, on a presence channel.
    pub(crate) member: Option<Member>,
    /// The member's first connection on this presence channel.
    pub(crate) member_added: bool,
    /// A cache channel's last event, if it has one that is still fresh.
    pub(crate) cached: Option<Utf8Bytes>,
    /// Subscriptions after the change.
    pub(crate) subscriptions: usize,
}

/// What an unsubscription changed.
#[derive(Debug, Clone, Default)]
pub(crate) struct Left {
    /// The presence user id the connection had joined as.
    pub(crate) user_id: Option<Arc<str>>,
    /// The channel has no subscriber any more.
    pub(crate) vacated: bool,
    /// The member's last connection left this presence channel.
    pub(crate) member_removed: bool,
    /// Subscriptions after the change.
    pub(crate) subscriptions: usize,
}

/// A channel while a change to it holds its lock: what the fan-out may read to greet a new
/// subscriber or to tell the others.
pub(crate) struct ChannelView<'a> {
    state: &'a ChannelState,
}

impl ChannelView<'_> {
    /// Every subscriber, the one that just joined included.
    pub(crate) fn subscribers(&self) -> impl Iterator<Item = &Arc<Peer>> {
        self.state.subscribers.values()
    }

    /// Presence members: user id and info.
    pub(crate) fn members(&self) -> impl Iterator<Item = (&str, &str)> + Clone {
        self.state
            .members
            .iter()
            .map(|(id, (info, _))| (&**id, &**info))
    }
}

/// Counts of one channel.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct ChannelCounts {
    pub(crate) subscriptions: usize,
    pub(crate) users: usize,
}

/// What a sign-in changed.
#[derive(Debug, Clone, Default)]
pub(crate) struct SignedIn {
    /// The user's first connection: their watchers learn they are online.
    pub(crate) first: bool,
    /// Watched users online now, and offline now.
    pub(crate) online: Vec<String>,
    pub(crate) offline: Vec<String>,
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
            occupied: state.subscribers.is_empty(),
            ..Joined::default()
        };
        joined.member = match (previous, member) {
            (Some(Some(user_id)), _) => Some(Member {
                user_id,
                info: Arc::from("null"),
            }),
            (Some(None), _) | (None, None) => None,
            (None, Some(member)) => {
                let full = state.members.len() >= limits.members;
                match state.members.get_mut(&member.user_id) {
                    Some((_, count)) => *count += 1,
                    None if full => {
                        let empty = state.subscribers.is_empty();
                        drop(state);
                        if empty {
                            self.remove_if_empty(channel);
                        }
                        return Err(JoinError::MembersFull);
                    }
                    None => {
                        let entry = (member.info.clone(), 1);
                        state.members.insert(member.user_id.clone(), entry);
                        joined.member_added = true;
                    }
                }
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
        joined.subscriptions = state.subscribers.len();
        greet(&joined, ChannelView { state: &state });
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
            match state.members.get_mut(user_id) {
                Some((_, count)) if *count > 1 => *count -= 1,
                Some(_) => {
                    state.members.remove(user_id);
                    left.member_removed = true;
                }
                None => {}
            }
        }
        left.subscriptions = state.subscribers.len();
        left.vacated = state.subscribers.is_empty();
        tell(&left, ChannelView { state: &state });
        drop(state);
        if left.vacated {
            self.remove_if_empty(channel);
        }
        left
    }

    fn remove_if_empty(&self, channel: &ChannelName) {
        let mut map = write(&self.channels);
        let empty = map
            .get(channel)
            .is_some_and(|ch| read(&ch.state).subscribers.is_empty());
        if empty {
            map.remove(channel);
        }
    }

    /// Runs `each` for every subscriber of `channel`, under the channel's read lock.
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

    /// Subscriptions and distinct users of a channel (zeros when unoccupied).
    pub(crate) fn counts(&self, channel: &str) -> ChannelCounts {
        self.channel(channel)
            .map(|ch| counts(&read(&ch.state)))
            .unwrap_or_default()
    }

    /// Occupied channels whose name starts with `prefix`, with their counts.
    pub(crate) fn occupied(&self, prefix: &str) -> Vec<(ChannelName, ChannelCounts)> {
        read(&self.channels)
            .iter()
            .filter(|(name, _)| name.starts_with(prefix))
            .map(|(name, ch)| (name.clone(), counts(&read(&ch.state))))
            .filter(|(_, counts)| counts.subscriptions > 0)
            .collect()
    }

    /// The distinct user ids of a presence channel.
    pub(crate) fn users(&self, channel: &str) -> Vec<String> {
        self.channel(channel)
            .map(|ch| {
                read(&ch.state)
                    .members
                    .keys()
                    .map(|id| id.to_string())
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Every subscriber count of the app's occupied channels, summed (for metrics).
    pub(crate) fn subscription_total(&self) -> usize {
        read(&self.channels)
            .values()
            .map(|ch| read(&ch.state).subscribers.len())
            .sum()
    }

    /// Occupied channels (for metrics).
    pub(crate) fn channel_total(&self) -> usize {
        read(&self.channels).len()
    }

    /// Records that `peer` signed in as `user`. When this is the user's first connection,
    /// `online` runs with the user's watchers (`peer` left out), under the user index's lock.
    /// `None` when the connection had signed in already (as `Err` with that user when it was
    /// someone else).
    pub(crate) fn sign_in(
        &self,
        peer: &Arc<Peer>,
        user: User,
        online: impl FnOnce(&mut dyn Iterator<Item = &Arc<Peer>>),
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
        let first = !users.connections.contains_key(&user.id);
        users
            .connections
            .entry(user.id.clone())
            .or_default()
            .insert(peer.id, peer.clone());
        if first {
            if let Some(watchers) = users.watchers.get(&user.id) {
                online(&mut watchers.values().filter(|w| w.id != peer.id));
            }
        }
        let mut signed_in = SignedIn {
            first,
            ..SignedIn::default()
        };
        for watched in &user.watchlist {
            users
                .watchers
                .entry(watched.clone())
                .or_default()
                .insert(peer.id, peer.clone());
            let list = if users.connections.contains_key(watched) {
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

    /// Forgets a signed-out connection. When it was the user's last one, `offline` runs with
    /// the user's watchers under the user index's lock; returns whether it was.
    pub(crate) fn sign_out(
        &self,
        peer_id: u64,
        user: &User,
        offline: impl FnOnce(&mut dyn Iterator<Item = &Arc<Peer>>),
    ) -> bool {
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
            return false;
        };
        conns.remove(&peer_id);
        if !conns.is_empty() {
            return false;
        }
        users.connections.remove(&user.id);
        if let Some(watchers) = users.watchers.get(&user.id) {
            offline(&mut watchers.values());
        }
        true
    }

    /// Runs `each` for every connection signed in as `user_id`.
    pub(crate) fn for_each_connection_of(&self, user_id: &str, each: impl FnMut(&Arc<Peer>)) {
        if let Some(conns) = lock(&self.users).connections.get(user_id) {
            conns.values().for_each(each);
        }
    }

    /// Runs `each` for every connection watching `user_id`.
    pub(crate) fn for_each_watcher(&self, user_id: &str, each: impl FnMut(&Arc<Peer>)) {
        if let Some(watchers) = lock(&self.users).watchers.get(user_id) {
            watchers.values().for_each(each);
        }
    }
}

fn counts(state: &ChannelState) -> ChannelCounts {
    ChannelCounts {
        subscriptions: state.subscribers.len(),
        users: state.members.len(),
    }
}
