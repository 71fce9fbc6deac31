//! The seam between this node and the other nodes of a cluster.
//!
//! Everything that reaches subscribers is a [`Delivery`], made by the fan-out path
//! (`fanout`). The fan-out delivers it to this node's connections, then hands it to the
//! adapter, which carries it to the other nodes; there, the fan-out delivers it to theirs.
//!
//! What each node must know of the others to answer for the whole cluster — who is subscribed
//! where, which presence members and signed-in users each node has — travels as a
//! [`Change`]. Every node keeps every other node's share in its own state and tells its own
//! connections about what changes (`member_added`, `subscription_count`, watchlist events),
//! so those are never forwarded as frames. The local adapter has no other nodes.

use std::{fmt, sync::Arc};

use axum::extract::ws::Utf8Bytes;
use pusherable_protocol::{ChannelName, CloseCode, SocketId};

/// Something for connections to receive, already encoded: every frame is encoded once and
/// its bytes are shared by every recipient.
#[derive(Debug, Clone)]
pub enum Delivery {
    /// A frame for the subscribers of a channel: an event (from the REST API, the app's own
    /// process or a client), a presence change, or a subscription count.
    Channel {
        /// The channel.
        channel: ChannelName,
        /// The frame.
        frame: Utf8Bytes,
        /// A connection that must not receive it: the REST `socket_id`, the sender of a
        /// client event, the member whose arrival it announces.
        except: Option<SocketId>,
        /// The event's data when the channel is a cache channel: every node remembers it as
        /// the channel's last event.
        cache: Option<Arc<str>>,
    },
    /// Every connection signed in as a user is closed with a code.
    Terminate {
        /// The user.
        user_id: Arc<str>,
        /// The close code.
        code: CloseCode,
    },
}

/// Names one node of a cluster: drawn at random when the node starts.
pub type NodeId = u64;

/// Something that changed on this node which the other nodes need to answer for the cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// This node's subscriptions to a channel changed, and maybe its presence members.
    Channel {
        /// The channel.
        channel: ChannelName,
        /// Subscriptions to it on this node now.
        subscriptions: usize,
        /// A member whose first connection here joined, or whose last one here left.
        member: Option<MemberChange>,
    },
    /// A user's first connection on this node signed in, or their last one here went.
    User {
        /// The user.
        user_id: Arc<str>,
        /// Whether they are signed in on this node now.
        signed_in: bool,
    },
}

/// A presence member arriving on, or leaving, one node's share of a channel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MemberChange {
    /// The member's first connection on the node joined.
    Added {
        /// The user.
        user_id: Arc<str>,
        /// JSON text of their `user_info`.
        info: Arc<str>,
    },
    /// The member's last connection on the node left.
    Removed {
        /// The user.
        user_id: Arc<str>,
    },
}

/// Carries deliveries and changes to the other nodes of a cluster.
pub trait Adapter: Send + Sync + fmt::Debug + 'static {
    /// Hands `delivery`, for app `app_id`, to the other nodes; this node's connections have
    /// it already.
    fn forward(&self, app_id: &str, delivery: &Delivery);

    /// Tells the other nodes what changed here, for app `app_id`. A single node has nobody
    /// to tell.
    fn announce(&self, app_id: &str, change: &Change) {
        let _ = (app_id, change);
    }
}

/// A single node: nothing to forward.
#[derive(Debug, Default, Clone, Copy)]
pub struct LocalAdapter;

impl Adapter for LocalAdapter {
    fn forward(&self, _app_id: &str, _delivery: &Delivery) {}
}
