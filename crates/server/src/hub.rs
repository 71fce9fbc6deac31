//! The channels of one app: who is subscribed, who is present, and fan-out.
//!
//! Locks are plain `std` locks, held only for in-memory work and never across an `.await`.
//! Frames for a subscriber are queued *while the channel's lock is held*, which gives the one
//! ordering clients rely on: `subscription_succeeded` (and a presence member list) reaches a
//! connection before any event published after it joined, and `member_added` reaches the others
//! before anything the new member sends.

use std::{
    collections::HashMap,
    sync::{Arc, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard},
};

use axum::extract::ws::Utf8Bytes;
use pusherable_protocol::{outbound, ChannelName, SocketId};

use crate::outbox::Outbox;

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

#[derive(Debug)]
struct Channel {
    state: RwLock<ChannelState>,
}

/// All channels of one app.
#[derive(Debug, Default)]
pub(crate) struct Hub {
    channels: RwLock<HashMap<ChannelName, Arc<Channel>>>,
}

/// Why a subscription was refused by the hub.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum JoinError {
    /// The presence channel already has its maximum of distinct users.
    MembersFull,
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

    /// Adds `peer` to `channel` and queues `subscription_succeeded` for it (with the member
    /// list on presence channels) and `member_added` for the others when this is the user's
    /// first connection. Subscribing twice is idempotent: the success is sent again, nothing else.
    pub(crate) fn subscribe(
        &self,
        channel: &ChannelName,
        peer: &Arc<Peer>,
        member: Option<&Member>,
        max_members: usize,
    ) -> Result<(), JoinError> {
        let mut map = write(&self.channels);
        let ch = map
            .entry(channel.clone())
            .or_insert_with(|| {
                Arc::new(Channel {
                    state: RwLock::default(),
                })
            })
            .clone();
        // Taken before the map is released, so that a concurrent last unsubscribe cannot drop
        // this channel from the map between the lookup and the insert (lock order: map, channel).
        let mut state = write(&ch.state);
        drop(map);
        let already = state.subscribers.contains_key(&peer.id);
        let Some(member) = member else {
            state.subscribers.insert(peer.id, peer.clone());
            drop(state);
            peer.outbox
                .push_text(outbound::subscription_succeeded(channel));
            return Ok(());
        };
        let mut first_connection = false;
        if !already {
            match state.members.get_mut(&member.user_id) {
                Some((_, count)) => *count += 1,
                None => {
                    if state.members.len() >= max_members {
                        drop(state);
                        self.remove_if_empty(channel);
                        return Err(JoinError::MembersFull);
                    }
                    state
                        .members
                        .insert(member.user_id.clone(), (member.info.clone(), 1));
                    first_connection = true;
                }
            }
            state.subscribers.insert(peer.id, peer.clone());
        }
        let list = outbound::presence_succeeded(
            channel,
            state.members.iter().map(|(id, (info, _))| (&**id, &**info)),
        );
        peer.outbox.push_text(list);
        if first_connection {
            let added: Utf8Bytes =
                outbound::member_added(channel, &member.user_id, &member.info).into();
            for other in state.subscribers.values().filter(|p| p.id != peer.id) {
                other.outbox.push(&added);
            }
        }
        Ok(())
    }

    /// Removes `peer` from `channel`; on a presence channel, `member_removed` goes to the others
    /// when this was the user's last connection. Unknown channels and peers are ignored.
    pub(crate) fn unsubscribe(&self, channel: &ChannelName, peer_id: u64, user_id: Option<&str>) {
        let Some(ch) = self.channel(channel) else {
            return;
        };
        let mut state = write(&ch.state);
        if state.subscribers.remove(&peer_id).is_none() {
            return;
        }
        if let Some(user_id) = user_id {
            let last = match state.members.get_mut(user_id) {
                Some((_, count)) if *count > 1 => {
                    *count -= 1;
                    false
                }
                Some(_) => true,
                None => false,
            };
            if last {
                state.members.remove(user_id);
                let removed: Utf8Bytes = outbound::member_removed(channel, user_id).into();
                for other in state.subscribers.values() {
                    other.outbox.push(&removed);
                }
            }
        }
        let empty = state.subscribers.is_empty();
        drop(state);
        if empty {
            self.remove_if_empty(channel);
        }
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
                (!s.subscribers.is_empty()).then(|| {
                    (
                        name.clone(),
                        ChannelCounts {
                            subscriptions: s.subscribers.len(),
                            users: s.members.len(),
                        },
                    )
                })
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
}
