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

/// The header of a message, after the sender's node id and the app it is about (the header
/// line is `[node, app, header]`, the app `null` for what concerns the node); `Event` is
/// followed by its frame.
///
/// The text of the messages every event and change makes is borrowed, both ways: written
/// from the delivery's own strings, read from the message's bytes where it needs no
/// unescaping.
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "t", rename_all = "snake_case")]
enum Header<'a> {
    /// An event for the subscribers of `channel`, but `except`.
    Event {
        #[serde(borrow)]
        channel: Cow<'a, str>,
        #[serde(default, borrow, skip_serializing_if = "Option::is_none")]
        except: Option<Text<'a>>,
        /// The data a cache channel remembers.
        #[serde(default, borrow, skip_serializing_if = "Option::is_none")]
        cache: Option<Text<'a>>,
    },
    /// Close the connections of `user` with `code`.
    Terminate {
        #[serde(borrow)]
        user: Cow<'a, str>,
        code: u16,
    },
    /// The sender's share of `channel` now, and the member who joined or left it.
    Channel {
        #[serde(borrow)]
        channel: Cow<'a, str>,
        subs: usize,
        #[serde(default, borrow, skip_serializing_if = "Option::is_none")]
        member: Option<Member<'a>>,
    },
    /// `user` signed in on the sender (`on`), or left with its last connection there.
    User {
        #[serde(borrow)]
        user: Cow<'a, str>,
        on: bool,
    },
    /// What concerns the sender rather than an app.
    #[serde(untagged)]
    Node(NodeMessage),
}

/// What a node says of itself: the same on the wire and once read.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "t", rename_all = "snake_case")]
pub(super) enum NodeMessage {
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

/// A presence member who joined (user id, info) or left (user id) a channel.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum Member<'a> {
    Added(#[serde(borrow)] Cow<'a, str>, #[serde(borrow)] Cow<'a, str>),
    Removed(#[serde(borrow)] Cow<'a, str>),
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
    /// What the sender says of itself.
    Node(NodeMessage),
}

/// Why a message was dropped.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct Unreadable;

/// Text that is borrowed from the message where it needs no unescaping, also inside an
/// `Option` (where serde would otherwise always copy it).
#[derive(Debug, Serialize, Deserialize)]
#[serde(transparent)]
struct Text<'a>(#[serde(borrow)] Cow<'a, str>);

/// The first line of a message: `[node, app, header]`.
#[derive(Serialize, Deserialize)]
struct Line<'a>(
    NodeId,
    #[serde(borrow)] Option<Text<'a>>,
    #[serde(borrow)] Header<'a>,
);

fn encode(node: NodeId, app: Option<&str>, header: Header, frame: &str) -> Vec<u8> {
    // Serializing these plain structs cannot fail.
    let line = Line(node, app.map(|a| Text(a.into())), header);
    let mut out = serde_json::to_vec(&line).unwrap_or_default();
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
            node,
            Some(app),
            Header::Event {
                channel: (&**channel).into(),
                except: except.as_ref().map(|s| Text(s.as_str().into())),
                cache: cache.as_deref().map(|c| Text(c.into())),
            },
            frame.as_str(),
        ),
        Delivery::Terminate { user_id, code } => encode(
            node,
            Some(app),
            Header::Terminate {
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
            let member = member.as_ref().map(|m| match m {
                MemberChange::Added { user_id, info } => {
                    Member::Added((&**user_id).into(), (&**info).into())
                }
                MemberChange::Removed { user_id } => Member::Removed((&**user_id).into()),
            });
            Header::Channel {
                channel: (&**channel).into(),
                subs: *subscriptions,
                member,
            }
        }
        Change::User { user_id, signed_in } => Header::User {
            user: (&**user_id).into(),
            on: *signed_in,
        },
    };
    encode(node, Some(app), header, "")
}

pub(super) fn alive(node: NodeId, conns: Vec<(String, usize)>) -> Vec<u8> {
    encode(node, None, Header::Node(NodeMessage::Alive { conns }), "")
}

pub(super) fn hello(node: NodeId) -> Vec<u8> {
    encode(node, None, Header::Node(NodeMessage::Hello), "")
}

pub(super) fn state(node: NodeId, apps: Vec<AppShare>) -> Vec<u8> {
    encode(node, None, Header::Node(NodeMessage::State { apps }), "")
}

pub(super) fn bye(node: NodeId) -> Vec<u8> {
    encode(node, None, Header::Node(NodeMessage::Bye), "")
}

pub(super) fn sync(node: NodeId, token: u64) -> Vec<u8> {
    encode(node, None, Header::Node(NodeMessage::Sync { token }), "")
}

pub(super) fn synced(node: NodeId, token: u64, to: NodeId) -> Vec<u8> {
    encode(
        node,
        None,
        Header::Node(NodeMessage::Synced { token, to }),
        "",
    )
}

fn channel_name(name: &str) -> Result<ChannelName, Unreadable> {
    ChannelName::parse(name, limits::CHANNEL_NAME_MAX_LIBRARIES).map_err(|_| Unreadable)
}

/// Reads a message: who sent it, and what it says.
pub(super) fn read(bytes: &[u8]) -> Result<(NodeId, Message<'_>), Unreadable> {
    let split = bytes.iter().position(|b| *b == b'\n').ok_or(Unreadable)?;
    let Line(n, app, header) = serde_json::from_slice(&bytes[..split]).map_err(|_| Unreadable)?;
    let app = app.map(|a| a.0).ok_or(Unreadable);
    let rest = &bytes[split + 1..];
    Ok(match header {
        Header::Event {
            channel,
            except,
            cache,
        } => {
            let frame = std::str::from_utf8(rest).map_err(|_| Unreadable)?;
            let except = except
                .map(|s| SocketId::parse(&s.0).map_err(|_| Unreadable))
                .transpose()?;
            let delivery = Delivery::Channel {
                channel: channel_name(&channel)?,
                frame: Utf8Bytes::from(frame),
                except,
                cache: cache.map(|c| Arc::from(c.0)),
            };
            (
                n,
                Message::Delivery {
                    app: app?,
                    delivery,
                },
            )
        }
        Header::Terminate { user, code } => {
            let code = CloseCode::from_code(code).ok_or(Unreadable)?;
            let delivery = Delivery::Terminate {
                user_id: user.into(),
                code,
            };
            (
                n,
                Message::Delivery {
                    app: app?,
                    delivery,
                },
            )
        }
        Header::Channel {
            channel,
            subs,
            member,
        } => {
            let member = member.map(|m| match m {
                Member::Added(user_id, info) => MemberChange::Added {
                    user_id: user_id.into(),
                    info: info.into(),
                },
                Member::Removed(user_id) => MemberChange::Removed {
                    user_id: user_id.into(),
                },
            });
            let change = Change::Channel {
                channel: channel_name(&channel)?,
                subscriptions: subs,
                member,
            };
            (n, Message::Change { app: app?, change })
        }
        Header::User { user, on } => {
            let change = Change::User {
                user_id: user.into(),
                signed_in: on,
            };
            (n, Message::Change { app: app?, change })
        }
        Header::Node(node) => (n, Message::Node(node)),
    })
}

/// What must hold for any bytes read as a message: reading does not panic, and what reads
/// writes again as a message that reads back and writes again to the same bytes.
#[cfg(any(test, feature = "fuzzing"))]
pub(crate) fn check(bytes: &[u8]) {
    let Ok((node, message)) = read(bytes) else {
        return;
    };
    let written = write(node, &message);
    let (again, message) = read(&written).expect("a message written reads back");
    assert_eq!(again, node);
    assert_eq!(write(node, &message), written, "{message:?}");
}

/// Writes `message` as `node` says it.
#[cfg(any(test, feature = "fuzzing"))]
fn write(node: NodeId, message: &Message) -> Vec<u8> {
    match message {
        Message::Delivery { app, delivery: d } => delivery(node, app, d),
        Message::Change { app, change: c } => change(node, app, c),
        Message::Node(said) => encode(node, None, Header::Node(said.clone()), ""),
    }
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
        assert!(matches!(app, Cow::Borrowed("1")), "{app:?}");
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
    fn what_reads_writes_back_the_same() {
        let event = delivery(
            3,
            "1",
            &Delivery::Terminate {
                user_id: "u\"1".into(),
                code: CloseCode::Unauthorized,
            },
        );
        for message in [
            &event[..],
            b"[1,\"a\\u0041\",{\"t\":\"user\",\"user\":\"\\u00e9\",\"on\":false}]\n",
            b"[1,null,{\"t\":\"state\",\"apps\":[{\"app\":\"1\",\"conns\":2,\"channels\":[[\"presence-a\",1,[[\"u\",\"{}\"]]]],\"users\":[\"u\"]}]}]\n",
            b"[1,\"1\",{\"t\":\"channel\",\"channel\":\"presence-a\",\"subs\":0,\"member\":{\"removed\":\"u\"}}]\n",
        ] {
            assert!(read(message).is_ok(), "{:?}", String::from_utf8_lossy(message));
            check(message);
        }
    }

    #[test]
    fn garbage_is_unreadable() {
        for bad in [
            &b""[..],
            b"{}",
            b"[1,\"1\",{\"t\":\"event\"}]\n",
            b"{\"t\":\"hello\"}\n",
            b"[1,null,{\"t\":\"user\",\"user\":\"u\",\"on\":true}]\n",
            b"[1,\"1\",{\"t\":\"event\",\"channel\":\"bad name\"}]\n{}",
            b"[1,\"1\",{\"t\":\"terminate\",\"user\":\"u\",\"code\":1}]\n",
            b"\xff\n",
        ] {
            assert_eq!(read(bad).err(), Some(Unreadable), "{bad:?}");
        }
    }
}
