//! What nodes say to each other over Redis, and how it is written.
//!
//! A message is one line of JSON (the header), a newline, and for an event the frame exactly
//! as subscribers receive it: the frame is already JSON text, so carrying it after the header
//! spares escaping it again, and the receiving node shares those bytes among its subscribers.
//!
//! Messages come from other nodes of the same deployment, but they are still parsed without
//! trusting them: a message that does not read is dropped and counted, never a panic.

use std::{borrow::Cow, collections::HashMap, sync::Arc};

use axum::extract::ws::Utf8Bytes;
use pusherable_protocol::{limits, ChannelName, CloseCode, SocketId};
use serde::{Deserialize, Serialize};

use crate::{
    adapter::{Change, Delivery, MemberChange, NodeId},
    state::Share,
};

/// One channel in a `State` message: name, subscriptions, presence members (id, info).
pub(super) type ChannelShare = (String, usize, Vec<(String, String)>);

/// One node's share of one app, as a `State` message carries it.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(super) struct AppShare {
    pub(super) app: String,
    /// Open connections.
    pub(super) conns: usize,
    /// Channel → (subscriptions, presence members as user id → info).
    pub(super) channels: Vec<ChannelShare>,
    /// Signed-in users.
    pub(super) users: Vec<String>,
}

/// The header of a message; `Event` is followed by its frame.
///
/// The text of the messages every event and change makes is borrowed, both ways: written
/// from the delivery's own strings, read from the message's bytes where it needs no
/// unescaping.
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "t", rename_all = "snake_case")]
enum Header<'a> {
    Event {
        n: NodeId,
        #[serde(borrow)]
        app: Cow<'a, str>,
        #[serde(borrow)]
        channel: Cow<'a, str>,
        #[serde(default, borrow, skip_serializing_if = "Option::is_none")]
        except: Option<Cow<'a, str>>,
        /// The data a cache channel remembers.
        #[serde(default, borrow, skip_serializing_if = "Option::is_none")]
        cache: Option<Cow<'a, str>>,
    },
    Terminate {
        n: NodeId,
        #[serde(borrow)]
        app: Cow<'a, str>,
        #[serde(borrow)]
        user: Cow<'a, str>,
        code: u16,
    },
    Channel {
        n: NodeId,
        #[serde(borrow)]
        app: Cow<'a, str>,
        #[serde(borrow)]
        channel: Cow<'a, str>,
        subs: usize,
        #[serde(default, borrow, skip_serializing_if = "Option::is_none")]
        added: Option<(Cow<'a, str>, Cow<'a, str>)>,
        #[serde(default, borrow, skip_serializing_if = "Option::is_none")]
        removed: Option<Cow<'a, str>>,
    },
    User {
        n: NodeId,
        #[serde(borrow)]
        app: Cow<'a, str>,
        #[serde(borrow)]
        user: Cow<'a, str>,
        on: bool,
    },
    Alive {
        n: NodeId,
        conns: Vec<(String, usize)>,
    },
    Hello {
        n: NodeId,
    },
    State {
        n: NodeId,
        apps: Vec<AppShare>,
    },
    Bye {
        n: NodeId,
    },
    Sync {
        n: NodeId,
        token: u64,
    },
    Synced {
        n: NodeId,
        token: u64,
        to: NodeId,
    },
}

/// A message, read.
#[derive(Debug)]
pub(super) enum Message<'a> {
    /// Deliver to this node's connections.
    Delivery {
        app: Cow<'a, str>,
        delivery: Delivery,
    },
    /// Another node's share changed.
    Change { app: Cow<'a, str>, change: Change },
    /// A heartbeat, with the node's open connections per app.
    Alive { conns: Vec<(String, usize)> },
    /// A node (re)joined: every node answers with its `State`.
    Hello,
    /// All that a node has.
    State { apps: Vec<AppShare> },
    /// A node leaves the cluster.
    Bye,
    /// A node asks every node to answer once all it published before is out.
    Sync { token: u64 },
    /// The answer to `to`'s `Sync`.
    Synced { token: u64, to: NodeId },
}

/// Why a message was dropped.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct Unreadable;

fn encode(header: &Header, frame: &str) -> Vec<u8> {
    // Serializing these plain structs cannot fail.
    let mut out = serde_json::to_vec(header).unwrap_or_default();
    out.push(b'\n');
    out.extend_from_slice(frame.as_bytes());
    out
}

pub(super) fn delivery(node: NodeId, app: &str, delivery: &Delivery) -> Vec<u8> {
    match delivery {
        Delivery::Channel {
            frame,
            channel,
            cache,
            except,
        } => encode(
            &Header::Event {
                n: node,
                app: app.into(),
                channel: (&**channel).into(),
                except: except.as_ref().map(|s| s.as_str().into()),
                cache: cache.as_deref().map(Cow::Borrowed),
            },
            frame.as_str(),
        ),
        Delivery::Terminate { user_id, code } => encode(
            &Header::Terminate {
                n: node,
                app: app.into(),
                user: (&**user_id).into(),
                code: code.code(),
            },
            "",
        ),
    }
}

pub(super) fn change(node: NodeId, app: &str, change: &Change) -> Vec<u8> {
    let header = match change {
        Change::Channel {
            channel,
            subscriptions,
            member,
        } => {
            let (added, removed) = match member {
                Some(MemberChange::Added { user_id, info }) => {
                    (Some(((&**user_id).into(), (&**info).into())), None)
                }
                Some(MemberChange::Removed { user_id }) => (None, Some((&**user_id).into())),
                None => (None, None),
            };
            Header::Channel {
                n: node,
                app: app.into(),
                channel: (&**channel).into(),
                subs: *subscriptions,
                added,
                removed,
            }
        }
        Change::User { user_id, signed_in } => Header::User {
            n: node,
            app: app.into(),
            user: (&**user_id).into(),
            on: *signed_in,
        },
    };
    encode(&header, "")
}

pub(super) fn alive(node: NodeId, conns: Vec<(String, usize)>) -> Vec<u8> {
    encode(&Header::Alive { n: node, conns }, "")
}

pub(super) fn hello(node: NodeId) -> Vec<u8> {
    encode(&Header::Hello { n: node }, "")
}

pub(super) fn state(node: NodeId, apps: Vec<AppShare>) -> Vec<u8> {
    encode(&Header::State { n: node, apps }, "")
}

pub(super) fn bye(node: NodeId) -> Vec<u8> {
    encode(&Header::Bye { n: node }, "")
}

pub(super) fn sync(node: NodeId, token: u64) -> Vec<u8> {
    encode(&Header::Sync { n: node, token }, "")
}

pub(super) fn synced(node: NodeId, token: u64, to: NodeId) -> Vec<u8> {
    encode(&Header::Synced { n: node, token, to }, "")
}

fn channel_name(name: &str) -> Result<ChannelName, Unreadable> {
    ChannelName::parse(name, limits::CHANNEL_NAME_MAX_LIBRARIES).map_err(|_| Unreadable)
}

/// Reads a message: who sent it, and what it says.
pub(super) fn read(bytes: &[u8]) -> Result<(NodeId, Message<'_>), Unreadable> {
    let split = bytes.iter().position(|b| *b == b'\n').ok_or(Unreadable)?;
    let header: Header = serde_json::from_slice(&bytes[..split]).map_err(|_| Unreadable)?;
    let rest = &bytes[split + 1..];
    Ok(match header {
        Header::Event {
            n,
            app,
            channel,
            except,
            cache,
        } => {
            let frame = std::str::from_utf8(rest).map_err(|_| Unreadable)?;
            let except = except
                .map(|s| SocketId::parse(&s).map_err(|_| Unreadable))
                .transpose()?;
            let delivery = Delivery::Channel {
                channel: channel_name(&channel)?,
                frame: Utf8Bytes::from(frame),
                except,
                cache: cache.map(Arc::from),
            };
            (n, Message::Delivery { app, delivery })
        }
        Header::Terminate { n, app, user, code } => {
            let code = CloseCode::from_code(code).ok_or(Unreadable)?;
            let delivery = Delivery::Terminate {
                user_id: user.into(),
                code,
            };
            (n, Message::Delivery { app, delivery })
        }
        Header::Channel {
            n,
            app,
            channel,
            subs,
            added,
            removed,
        } => {
            let member = match (added, removed) {
                (Some((user_id, info)), None) => Some(MemberChange::Added {
                    user_id: user_id.into(),
                    info: info.into(),
                }),
                (None, Some(user_id)) => Some(MemberChange::Removed {
                    user_id: user_id.into(),
                }),
                (None, None) => None,
                (Some(_), Some(_)) => return Err(Unreadable),
            };
            let change = Change::Channel {
                channel: channel_name(&channel)?,
                subscriptions: subs,
                member,
            };
            (n, Message::Change { app, change })
        }
        Header::User { n, app, user, on } => {
            let change = Change::User {
                user_id: user.into(),
                signed_in: on,
            };
            (n, Message::Change { app, change })
        }
        Header::Alive { n, conns } => (n, Message::Alive { conns }),
        Header::Hello { n } => (n, Message::Hello),
        Header::State { n, apps } => (n, Message::State { apps }),
        Header::Bye { n } => (n, Message::Bye),
        Header::Sync { n, token } => (n, Message::Sync { token }),
        Header::Synced { n, token, to } => (n, Message::Synced { token, to }),
    })
}

impl AppShare {
    /// The shares of a `State` message, with the channel names checked.
    pub(super) fn shares(&self) -> Vec<(ChannelName, Share)> {
        self.channels
            .iter()
            .filter_map(|(name, subscriptions, members)| {
                let members: HashMap<Arc<str>, Arc<str>> = members
                    .iter()
                    .map(|(id, info)| (Arc::from(id.as_str()), Arc::from(info.as_str())))
                    .collect();
                let share = Share {
                    subscriptions: *subscriptions,
                    members,
                };
                Some((channel_name(name).ok()?, share))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_read_back_with_their_frame_untouched() {
        let frame = r#"{"event":"e","channel":"cache-x","data":"{\"a\":\"b\\nc\"}"}"#;
        let d = Delivery::Channel {
            channel: channel_name("cache-x").unwrap(),
            frame: Utf8Bytes::from(frame),
            except: Some(SocketId::parse("123.456").unwrap()),
            cache: Some(Arc::from("{\"a\":1}")),
        };
        let bytes = delivery(7, "1", &d);
        let (n, m) = read(&bytes).unwrap();
        assert_eq!(n, 7);
        let Message::Delivery {
            app,
            delivery:
                Delivery::Channel {
                    channel,
                    frame: read_frame,
                    except,
                    cache,
                },
        } = m
        else {
            panic!("not an event: {m:?}");
        };
        assert_eq!(app, "1");
        assert_eq!(&*channel, "cache-x");
        assert_eq!(read_frame.as_str(), frame);
        assert_eq!(except.unwrap().as_str(), "123.456");
        assert_eq!(cache.as_deref(), Some("{\"a\":1}"));
    }

    #[test]
    fn changes_read_back() {
        let change = Change::Channel {
            channel: channel_name("presence-room").unwrap(),
            subscriptions: 3,
            member: Some(MemberChange::Added {
                user_id: "u1".into(),
                info: "{\"name\":\"Ann\"}".into(),
            }),
        };
        let bytes = super::change(9, "2", &change);
        let (n, m) = read(&bytes).unwrap();
        assert_eq!(n, 9);
        assert!(matches!(m, Message::Change { app, change: c } if app == "2" && c == change));
    }

    #[test]
    fn garbage_is_unreadable() {
        for bad in [
            &b""[..],
            b"{}",
            b"{\"t\":\"event\"}\n",
            b"{\"t\":\"event\",\"n\":1,\"app\":\"1\",\"channel\":\"bad name\"}\n{}",
            b"{\"t\":\"terminate\",\"n\":1,\"app\":\"1\",\"user\":\"u\",\"code\":1}\n",
            b"\xff\n",
        ] {
            assert_eq!(read(bad).err(), Some(Unreadable), "{bad:?}");
        }
    }
}
