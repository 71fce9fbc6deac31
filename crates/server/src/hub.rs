//! The channels of one app: who is subscribed, who is present, the cache, and fan-out.
//!
//! Locks are plain `std` locks, held only for in-memory work and never across an `.await`.
//! Frames for a subscriber are queued *while the channel's lock is held*, which gives the one
//! ordering clients rely on: `subscription_succeeded` (and a presence member list, and a cache
//! channel's last event) reaches a connection before any event published after it joined, and
//! `member_added` reaches the others before anything the new member sends.
//!
//! Lock order: the channel map, then a channel's state, then the cache.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard},
    time::{Duration, Instant},
};

use axum::extract::ws::Utf8Bytes;
use pusherable_protocol::{outbound, ChannelName, SocketId};

use crate::outbox::Outbox;

/// How long a cache channel keeps its last event.
const CACHE_TTL: Duration = Duration::from_secs(30 * 60);
/// Most cache channels remembered per app; past it, the oldest entry goes.
const CACHE_MAX_CHANNELS: usize = 10_000;

/// What the hub keeps of a connection.
#[derive(Debug)]
pub(crate) struct Peer {
    /// The key of this connection in every subscriber map (cheaper to hash than a socket id).
    pub(crate) id: u64,
    pub(crate) socket_id: SocketId,
    pub(crate) outbox: Outbox,
}

/// A presence member as a subscription declares it.
#[derive(Debug, Clone)]
pub(crate) struct Member {
    pub(crate) user_id: Arc<str>,
    /// JSON text of `user_info` (`null` when absent).
    pub(crate) info: Arc<str>,
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

/// All channels of one app.
#[derive(Debug, Default)]
pub(crate) struct Hub {
    channels: RwLock<HashMap<ChannelName, Arc<Channel>>>,
    cache: Mutex<HashMap<ChannelName, Cached>>,
}

/// Why a subscription was refused by the hub.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum JoinError {
    /// The presence channel already has its maximum of distinct users.
    MembersFull,
}

/// What a subscription changed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Joined {
    /// False when the connection was subscribed already.
    pub(crate) new: bool,
    /// The channel had no subscriber before.
    pub(crate) occupied: bool,
    /// The member's first connection on this presence channel.
    pub(crate) member_added: bool,
    /// A cache channel had nothing to replay.
    pub(crate) cache_miss: bool,
    /// Subscriptions after the change.
    pub(crate) subscriptions: usize,
}

/// What an unsubscription changed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Left {
    /// False when the connection was not subscribed.
    pub(crate) left: bool,
    /// The channel has no subscriber any more.
    pub(crate) vacated: bool,
    /// The member's last connection left this presence channel.
    pub(crate) member_removed: bool,
    /// Subscriptions after the change.
    pub(crate) subscriptions: usize,
}

/// Counts of one channel.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct ChannelCounts {
    pub(crate) subscriptions: usize,
    pub(crate) users: usize,
}

fn read<T>(lock: &RwLock<T>) -> RwLockReadGuard<'_, T> {
    lock.read().unwrap_or_else(PoisonError::into_inner)
}

fn write<T>(lock: &RwLock<T>) -> RwLockWriteGuard<'_, T> {
    lock.write().unwrap_or_else(PoisonError::into_inner)
}

impl Hub {
    fn channel(&self, name: &str) -> Option<Arc<Channel>> {
        read(&self.channels).get(name).cloned()
    }

    fn cache(&self) -> std::sync::MutexGuard<'_, HashMap<ChannelName, Cached>> {
        self.cache.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The live cached event of `channel`, forgetting it if it expired.
    fn cached(&self, channel: &str) -> Option<Cached> {
        let mut cache = self.cache();
        match cache.get(channel) {
            Some(c) if c.expires > Instant::now() => Some(c.clone()),
            Some(_) => {
                cache.remove(channel);
                None
            }
            None => None,
        }
    }

    /// Adds `peer` to `channel` and queues `subscription_succeeded` for it (with the member
    /// list on presence channels, then a cache channel's last event or `pusher:cache_miss`),
    /// and `member_added` for the others when this is the user's first connection.
    /// Subscribing twice is idempotent: the success is sent again, nothing else.
    pub(crate) fn subscribe(
        &self,
        channel: &ChannelName,
        peer: &Arc<Peer>,
        member: Option<&Member>,
        max_members: usize,
    ) -> Result<Joined, JoinError> {
        let mut map = write(&self.channels);
        let ch = map.entry(channel.clone()).or_default().clone();
        // Taken before the map is released, so that a concurrent last unsubscribe cannot drop
        // this channel from the map between the lookup and the insert.
        let mut state = write(&ch.state);
        drop(map);
        let already = state.subscribers.contains_key(&peer.id);
        let mut joined = Joined {
            new: !already,
            occupied: state.subscribers.is_empty(),
            ..Joined::default()
        };
        match member {
            None => {
                state.subscribers.insert(peer.id, peer.clone());
                peer.outbox
                    .push_text(outbound::subscription_succeeded(channel));
            }
            Some(member) => {
                if !already {
                    let full = state.members.len() >= max_members;
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
                    state.subscribers.insert(peer.id, peer.clone());
                }
                let members = state.members.iter().map(|(id, (info, _))| (&**id, &**info));
                peer.outbox
                    .push_text(outbound::presence_succeeded(channel, members));
                if joined.member_added {
                    let added = outbound::member_added(channel, &member.user_id, &member.info);
                    let added = Utf8Bytes::from(added);
                    for other in state.subscribers.values().filter(|p| p.id != peer.id) {
                        other.outbox.push(&added);
                    }
                }
            }
        }
        if channel.is_cache() {
            match self.cached(channel) {
                Some(c) => {
                    peer.outbox.push(&c.frame);
                }
                None => {
                    peer.outbox.push_text(outbound::cache_miss(channel));
                    joined.cache_miss = true;
                }
            }
        }
        joined.subscriptions = state.subscribers.len();
        Ok(joined)
    }

    /// Removes `peer` from `channel`; on a presence channel, `member_removed` goes to the others
    /// when this was the user's last connection. Unknown channels and peers are ignored.
    pub(crate) fn unsubscribe(
        &self,
        channel: &ChannelName,
        peer_id: u64,
        user_id: Option<&str>,
    ) -> Left {
        let Some(ch) = self.channel(channel) else {
            return Left::default();
        };
        let mut state = write(&ch.state);
        if state.subscribers.remove(&peer_id).is_none() {
            return Left::default();
        }
        let mut left = Left {
            left: true,
            ..Left::default()
        };
        if let Some(user_id) = user_id {
            match state.members.get_mut(user_id) {
                Some((_, count)) if *count > 1 => *count -= 1,
                Some(_) => {
                    state.members.remove(user_id);
                    left.member_removed = true;
                    let removed = Utf8Bytes::from(outbound::member_removed(channel, user_id));
                    for other in state.subscribers.values() {
                        other.outbox.push(&removed);
                    }
                }
                None => {}
            }
        }
        left.subscriptions = state.subscribers.len();
        left.vacated = state.subscribers.is_empty();
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

    /// Queues `frame` for every subscriber of `channel` except `except`. Returns how many got it.
    pub(crate) fn publish(
        &self,
        channel: &str,
        frame: &Utf8Bytes,
        except: Option<&SocketId>,
    ) -> usize {
        let Some(ch) = self.channel(channel) else {
            return 0;
        };
        let state = read(&ch.state);
        fan_out(&state, frame, except)
    }

    /// Like [`Hub::publish`], and remembers the event as the channel's cached one. The cache is
    /// written under the channel's lock, so a new subscriber gets either the old cached event
    /// and then this one, or this one once, never it twice.
    pub(crate) fn publish_cached(
        &self,
        channel: &ChannelName,
        frame: &Utf8Bytes,
        data: &str,
        except: Option<&SocketId>,
    ) -> usize {
        let entry = Cached {
            frame: frame.clone(),
            data: Arc::from(data),
            expires: Instant::now() + CACHE_TTL,
        };
        let map = read(&self.channels);
        let ch = map.get(channel).cloned();
        let state = ch.as_ref().map(|ch| read(&ch.state));
        {
            let mut cache = self.cache();
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
        state.map_or(0, |s| fan_out(&s, frame, except))
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

    /// Like [`Hub::publish`], but skips the connection with this internal id (client events).
    pub(crate) fn publish_from(&self, channel: &str, frame: &Utf8Bytes, sender: u64) {
        let Some(ch) = self.channel(channel) else {
            return;
        };
        let state = read(&ch.state);
        for peer in state.subscribers.values().filter(|p| p.id != sender) {
            peer.outbox.push(frame);
        }
    }

    /// Subscriptions and distinct users of a channel (zeros when unoccupied).
    pub(crate) fn counts(&self, channel: &str) -> ChannelCounts {
        self.channel(channel)
            .map(|ch| {
                let s = read(&ch.state);
                ChannelCounts {
                    subscriptions: s.subscribers.len(),
                    users: s.members.len(),
                }
            })
            .unwrap_or_default()
    }

    /// Occupied channels whose name starts with `prefix`, with their counts.
    pub(crate) fn occupied(&self, prefix: &str) -> Vec<(ChannelName, ChannelCounts)> {
        let map = read(&self.channels);
        map.iter()
            .filter(|(name, _)| name.starts_with(prefix))
            .filter_map(|(name, ch)| {
                let s = read(&ch.state);
                let counts = ChannelCounts {
                    subscriptions: s.subscribers.len(),
                    users: s.members.len(),
                };
                (counts.subscriptions > 0).then(|| (name.clone(), counts))
            })
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
}

fn fan_out(state: &ChannelState, frame: &Utf8Bytes, except: Option<&SocketId>) -> usize {
    let mut delivered = 0;
    for peer in state.subscribers.values() {
        if except.is_some_and(|e| *e == peer.socket_id) {
            continue;
        }
        if peer.outbox.push(frame) {
            delivered += 1;
        }
    }
    delivered
}
