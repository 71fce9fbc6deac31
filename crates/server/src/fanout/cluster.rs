//! The other side of [`Change`]: what another node's change means for this node's
//! connections.
//!
//! Every node keeps every other node's share of each channel and each signed-in user in its
//! own state. When a share changes, this node tells its own subscribers what that means for
//! the cluster — `member_added` when a member was present nowhere before, `member_removed` when
//! they are present nowhere now, the new subscription count, a watched user's status — so each
//! connection hears of each change once, from the node it is connected to.
//!
//! A channel's webhooks come from its owner node (`App::reports`), whichever node the change
//! happened on, and for a node that is gone too.

use std::{collections::HashSet, sync::Arc};

use axum::extract::ws::Utf8Bytes;
use pusherable_protocol::{outbound, ChannelName};

use super::{lifecycle, tell_watchers};
use crate::{
    adapter::{Change, MemberChange, NodeId},
    app::App,
    state::{Changed, ChannelView, Share},
};

/// Applies `change`, announced by `node`, to this node's view of the cluster.
pub(crate) fn apply(app: &Arc<App>, node: NodeId, change: &Change) {
    match change {
        Change::Channel {
            channel,
            subscriptions,
            member,
        } => {
            let shared = app.state.update_share(
                node,
                channel,
                |share| {
                    share.subscriptions = *subscriptions;
                    match member {
                        Some(MemberChange::Added { user_id, info }) => {
                            share.members.insert(user_id.clone(), info.clone());
                        }
                        Some(MemberChange::Removed { user_id }) => {
                            share.members.remove(user_id);
                        }
                        None => {}
                    }
                },
                |shared, view| tell(channel, shared, &view),
            );
            lifecycle::changed(app, channel, &shared, true);
        }
        Change::User { user_id, signed_in } => set_user(app, node, user_id, *signed_in),
    }
}

/// Forgets everything `node` had: it left the cluster, or stopped answering.
pub(crate) fn node_gone(app: &Arc<App>, node: NodeId) {
    for channel in app.state.channels_of(node) {
        set_share(app, node, &channel, None);
    }
    for user_id in app.state.users_of(node) {
        set_user(app, node, &user_id, false);
    }
    app.state.set_remote_connections(node, None);
}

/// Replaces all that `node` had with `shares` and `users`: what it said it has when it
/// (re)joined the cluster.
pub(crate) fn replace_node(
    app: &Arc<App>,
    node: NodeId,
    shares: Vec<(ChannelName, Share)>,
    users: &[Arc<str>],
) {
    let now: HashSet<&ChannelName> = shares.iter().map(|(c, _)| c).collect();
    for channel in app.state.channels_of(node) {
        if !now.contains(&channel) {
            set_share(app, node, &channel, None);
        }
    }
    for (channel, share) in shares {
        set_share(app, node, &channel, Some(share));
    }
    let users_now: HashSet<&str> = users.iter().map(|u| &**u).collect();
    for user_id in app.state.users_of(node) {
        if !users_now.contains(&*user_id) {
            set_user(app, node, &user_id, false);
        }
    }
    for user_id in users {
        set_user(app, node, user_id, true);
    }
}

fn set_share(app: &Arc<App>, node: NodeId, channel: &ChannelName, share: Option<Share>) {
    let shared = app.state.set_share(node, channel, share, |shared, view| {
        tell(channel, shared, &view);
    });
    lifecycle::changed(app, channel, &shared, true);
}

fn set_user(app: &App, node: NodeId, user_id: &Arc<str>, signed_in: bool) {
    app.state
        .set_remote_user(node, user_id, signed_in, |online, watchers| {
            tell_watchers(watchers, if online { "online" } else { "offline" }, user_id);
        });
}

/// Queues, for this node's subscribers, the members that arrived in or left the cluster.
fn tell(channel: &str, shared: &Changed, view: &ChannelView<'_>) {
    let added = shared
        .added
        .iter()
        .map(|m| outbound::member_added(channel, &m.user_id, &m.info));
    let removed = shared
        .removed
        .iter()
        .map(|user_id| outbound::member_removed(channel, user_id));
    for frame in added.chain(removed) {
        let frame = Utf8Bytes::from(frame);
        for peer in view.subscribers() {
            peer.outbox.push(&frame);
        }
    }
}
