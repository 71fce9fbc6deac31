//! The seam between this node and the other nodes of a cluster.
//!
//! Everything that reaches subscribers is a [`Delivery`], made by the fan-out path
//! (`fanout`). The fan-out delivers it to this node's connections, then hands it to the
//! adapter, which carries it to the other nodes; there, the fan-out delivers it to theirs.
//! The local adapter has no other nodes.

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
    /// A frame for the connections whose watchlist holds a user: that user came online or
    /// went offline.
    Watchers {
        /// The watched user.
        user_id: Arc<str>,
        /// The `pusher_internal:watchlist_events` frame.
        frame: Utf8Bytes,
    },
    /// Every connection signed in as a user is closed with a code.
    Terminate {
        /// The user.
        user_id: Arc<str>,
        /// The close code.
        code: CloseCode,
    },
}

/// Carries deliveries to the other nodes of a cluster.
pub trait Adapter: Send + Sync + fmt::Debug + 'static {
    /// Hands `delivery`, for app `app_id`, to the other nodes; this node's connections have
    /// it already.
    fn forward(&self, app_id: &str, delivery: &Delivery);
}

/// A single node: nothing to forward.
#[derive(Debug, Default, Clone, Copy)]
pub struct LocalAdapter;

impl Adapter for LocalAdapter {
    fn forward(&self, _app_id: &str, _delivery: &Delivery) {}
}
