//! The seam between this node's hub and the other nodes of a cluster.
//!
//! Every broadcast is delivered to this node's subscribers first; the adapter then hands it to
//! the other nodes, whose hubs deliver it to theirs. The local adapter has no other nodes. A
//! Redis adapter implements the same trait without touching the connection or channel code.

use std::fmt;

use axum::extract::ws::Utf8Bytes;
use pusherable_protocol::{ChannelName, SocketId};

/// One event for one channel, already encoded as the frame subscribers receive.
#[derive(Debug, Clone)]
pub struct Broadcast {
    /// The app's id.
    pub app_id: String,
    /// The channel.
    pub channel: ChannelName,
    /// The frame, encoded once and shared by every recipient.
    pub frame: Utf8Bytes,
    /// A connection that must not receive it (REST `socket_id`).
    pub except: Option<SocketId>,
    /// The event's data when the channel is a cache channel, which keeps its last event.
    pub cache_data: Option<std::sync::Arc<str>>,
}

/// Carries broadcasts to the other nodes of a cluster.
pub trait Adapter: Send + Sync + fmt::Debug + 'static {
    /// Hands `broadcast` to the other nodes; this node's subscribers already have it.
    fn forward(&self, broadcast: &Broadcast);
}

/// A single node: nothing to forward.
#[derive(Debug, Default, Clone, Copy)]
pub struct LocalAdapter;

impl Adapter for LocalAdapter {
    fn forward(&self, _broadcast: &Broadcast) {}
}
