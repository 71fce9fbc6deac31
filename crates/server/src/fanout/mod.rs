//! The one way anything reaches subscribers.
//!
//! Every frame that more than its own sender sees is encoded here, once, and delivered from
//! here: events from the REST API and from the app's own process, client events, presence
//! changes, subscription counts, a cache channel's last event, watchlist changes and
//! terminations. Each becomes a [`Delivery`]; [`publish`] queues it for this node's
//! connections and hands it to the [`Adapter`](crate::adapter::Adapter), which carries it to
//! the other nodes of a cluster, where [`receive`] delivers it to theirs.
//!
//! Follow a REST trigger: `rest::events::trigger` checks it (`trigger::check`), [`events`]
//! encodes one frame per channel, [`enqueue`] hands them to the app's delivery task, which
//! calls [`publish`], which pushes the same bytes into each subscriber's outbox; the
//! connection task writes them to its socket.
//!
//! Subscriptions and sign-ins change [`State`](crate::state::State) through the functions
//! here too, so that what they tell other connections (`member_added`, `online`) is queued in
//! the same order as the change itself; `lifecycle` turns the change into subscription
//! counts and webhooks.
//!
//! **Invariant:** nothing is encoded or allocated per recipient: a recipient costs one
//! reference-count increment and one queue slot.

mod lifecycle;

use std::sync::{Arc, Weak};

use axum::extract::ws::Utf8Bytes;
use pusherable_protocol::{outbound, ChannelName, CloseCode, SocketId};
use tokio::sync::mpsc;

pub(crate) use lifecycle::CountThrottle;

use crate::{
    adapter::Delivery,
    app::App,
    state::{JoinError, JoinLimits, Member, Peer, SignedIn, User},
    trigger::Event,
};

/// REST deliveries that may wait for fan-out per app before REST callers wait.
const QUEUE: usize = 4096;

/// Delivers `delivery` to this node's connections and hands it to the other nodes.
pub(crate) fn publish(app: &App, delivery: &Delivery) {
    deliver(app, delivery);
    app.adapter.forward(&app.config.id, delivery);
}

/// Delivers what another node published to this node's connections.
pub(crate) fn receive(app: &App, delivery: &Delivery) {
    deliver(app, delivery);
}

fn deliver(app: &App, delivery: &Delivery) {
    match delivery {
        Delivery::Channel {
            channel,
            frame,
            except,
            cache,
        } => {
            let mut delivered = 0;
            let push = |peer: &Arc<Peer>| {
                if except.as_ref().is_some_and(|e| *e == peer.socket_id) {
                    return;
                }
                if peer.outbox.push(frame) {
                    delivered += 1;
                }
            };
            match cache {
                Some(data) => app.state.remember_and_for_each(channel, frame, data, push),
                None => app.state.for_each_subscriber(channel, push),
            }
            app.metrics.sent(delivered, frame.len());
        }
        Delivery::Watchers { user_id, frame } => app.state.for_each_watcher(user_id, |peer| {
            peer.outbox.push(frame);
        }),
        Delivery::Terminate { user_id, code } => {
            app.state
                .for_each_connection_of(user_id, |peer| peer.outbox.close(*code));
        }
    }
}

/// One delivery per channel of a checked event, each frame encoded once.
pub(crate) fn events(event: Event) -> Vec<Delivery> {
    let Event {
        channels,
        name,
        data,
        except,
    } = event;
    let data: Arc<str> = data.into();
    channels
        .into_iter()
        .map(|channel| Delivery::Channel {
            frame: outbound::channel_event(&channel, &name, &data, None).into(),
            cache: channel.is_cache().then(|| data.clone()),
            except: except.clone(),
            channel,
        })
        .collect()
}

/// Queues deliveries for the app's delivery task: a REST trigger is answered before its
/// fan-out is done. The task delivers them in the order they came, and the queue is bounded:
/// when it is full, callers wait.
pub(crate) async fn enqueue(app: &Arc<App>, deliveries: Vec<Delivery>) {
    let queue = app.queue.get_or_init(|| {
        let (tx, rx) = mpsc::channel(QUEUE);
        // A weak reference: the app owns the queue, so the task must not own the app.
        tokio::spawn(deliver_queued(Arc::downgrade(app), rx));
        tx
    });
    for delivery in deliveries {
        if matches!(&delivery, Delivery::Channel { cache: Some(_), .. }) {
            // A cache channel's event is remembered and sent under one lock, so that a new
            // subscriber gets it exactly once; done now, it is also in the cache as soon as
            // the trigger is answered. Each channel's events keep their order either way.
            publish(app, &delivery);
        } else if queue.send(delivery).await.is_err() {
            return;
        }
    }
}

async fn deliver_queued(app: Weak<App>, mut rx: mpsc::Receiver<Delivery>) {
    while let Some(delivery) = rx.recv().await {
        let Some(app) = app.upgrade() else {
            return;
        };
        publish(&app, &delivery);
    }
}

/// Subscribes `peer` to `channel`: it gets `subscription_succeeded` (with the member list on
/// a presence channel, then a cache channel's last event or `pusher:cache_miss`), and the
/// others get `member_added` when this is the user's first connection.
pub(crate) fn subscribe(
    app: &Arc<App>,
    peer: &Arc<Peer>,
    channel: &ChannelName,
    member: Option<Member>,
    limits: JoinLimits,
) -> Result<(), JoinError> {
    let mut added = None;
    let joined = app
        .state
        .subscribe(peer, channel, member, limits, |joined, view| {
            match &joined.member {
                None => peer
                    .outbox
                    .push_text(outbound::subscription_succeeded(channel)),
                Some(_) => peer
                    .outbox
                    .push_text(outbound::presence_succeeded(channel, view.members())),
            };
            if let (true, Some(m)) = (joined.member_added, &joined.member) {
                let frame = Utf8Bytes::from(outbound::member_added(channel, &m.user_id, &m.info));
                for other in view.subscribers().filter(|p| p.id != peer.id) {
                    other.outbox.push(&frame);
                }
                added = Some(frame);
            }
            if channel.is_cache() {
                match &joined.cached {
                    Some(frame) => peer.outbox.push(frame),
                    None => peer.outbox.push_text(outbound::cache_miss(channel)),
                };
            }
        })?;
    if let Some(frame) = added {
        let except = Some(peer.socket_id.clone());
        forward_channel(app, channel, frame, except);
    }
    lifecycle::joined(app, channel, &joined);
    Ok(())
}

/// `pusher:unsubscribe`: the others get `member_added`'s counterpart when this was the
/// user's last connection. Unknown channels are ignored.
pub(crate) fn unsubscribe(app: &Arc<App>, peer: &Peer, channel: &str) {
    let mut removed = None;
    let Some((channel, left)) = app.state.unsubscribe(peer, channel, |left, view| {
        removed = member_removed(left, view.subscribers(), |id| {
            outbound::member_removed(channel, id)
        });
    }) else {
        return;
    };
    if let Some(frame) = removed {
        forward_channel(app, &channel, frame, None);
    }
    lifecycle::left(app, &channel, &left);
}

/// The connection is gone: it leaves every channel and signs out.
pub(crate) fn remove(app: &Arc<App>, peer: &Peer) {
    let mut removed = Vec::new();
    let (left, user) = app.state.remove(peer, |channel, left, view| {
        let frame = member_removed(left, view.subscribers(), |id| {
            outbound::member_removed(channel, id)
        });
        if let Some(frame) = frame {
            removed.push((channel.clone(), frame));
        }
    });
    for (channel, frame) in removed {
        forward_channel(app, &channel, frame, None);
    }
    for (channel, left) in &left {
        lifecycle::left(app, channel, left);
    }
    if let Some(user) = user {
        sign_out(app, peer.id, &user);
    }
}

/// Queues `member_removed` for the remaining subscribers when the leaver was the member's
/// last connection, and returns the frame for the other nodes.
fn member_removed<'a>(
    left: &crate::state::Left,
    others: impl Iterator<Item = &'a Arc<Peer>>,
    encode: impl FnOnce(&str) -> String,
) -> Option<Utf8Bytes> {
    let user_id = left.user_id.as_deref().filter(|_| left.member_removed)?;
    let frame = Utf8Bytes::from(encode(user_id));
    for other in others {
        other.outbox.push(&frame);
    }
    Some(frame)
}

fn forward_channel(app: &App, channel: &ChannelName, frame: Utf8Bytes, except: Option<SocketId>) {
    let delivery = Delivery::Channel {
        channel: channel.clone(),
        frame,
        except,
        cache: None,
    };
    app.adapter.forward(&app.config.id, &delivery);
}

/// A `client-` event from `sender`, who joined `channel` (as `user_id` on presence).
pub(crate) fn client_event(
    app: &App,
    sender: &Peer,
    channel: &ChannelName,
    user_id: Option<&str>,
    event: &str,
    data: &str,
) {
    let frame = outbound::channel_event(channel, event, data, user_id).into();
    publish(
        app,
        &Delivery::Channel {
            channel: channel.clone(),
            frame,
            except: Some(sender.socket_id.clone()),
            cache: None,
        },
    );
    if let Some(hooks) = &app.webhooks {
        hooks.client_event(channel, event, data, sender.socket_id.as_str(), user_id);
    }
}

/// Signs `peer` in as `user`; the user's watchers learn they are online when this is their
/// first connection. `Err` with the current user when the connection signed in as someone
/// else; `Ok(None)` when it signed in as this user already.
pub(crate) fn sign_in(
    app: &App,
    peer: &Arc<Peer>,
    user: User,
) -> Result<Option<SignedIn>, Arc<str>> {
    let user_id = user.id.clone();
    let mut online = None;
    let signed_in = app.state.sign_in(peer, user, |watchers| {
        let frame = watchlist_frame("online", &user_id);
        for w in watchers {
            w.outbox.push(&frame);
        }
        online = Some(frame);
    })?;
    if signed_in.as_ref().is_some_and(|s| s.first) {
        let frame = online.unwrap_or_else(|| watchlist_frame("online", &user_id));
        let delivery = Delivery::Watchers { user_id, frame };
        app.adapter.forward(&app.config.id, &delivery);
    }
    Ok(signed_in)
}

fn sign_out(app: &App, peer_id: u64, user: &User) {
    let mut offline = None;
    let last = app.state.sign_out(peer_id, user, |watchers| {
        let frame = watchlist_frame("offline", &user.id);
        for w in watchers {
            w.outbox.push(&frame);
        }
        offline = Some(frame);
    });
    if last {
        let frame = offline.unwrap_or_else(|| watchlist_frame("offline", &user.id));
        let user_id = user.id.clone();
        let delivery = Delivery::Watchers { user_id, frame };
        app.adapter.forward(&app.config.id, &delivery);
    }
}

fn watchlist_frame(name: &str, user_id: &str) -> Utf8Bytes {
    let ids = [user_id.to_owned()];
    outbound::watchlist_events([(name, ids.as_slice())].into_iter()).into()
}

/// Closes every connection signed in as `user_id`, on every node, with 4009: pusher-js does
/// not reconnect on its own, the app decides when the user comes back.
pub(crate) fn terminate(app: &App, user_id: &str) {
    // The close code alone tells the client (protocol 6 and later); a queued `pusher:error`
    // would never be written, since a connection stops writing once a close is asked for.
    let delivery = Delivery::Terminate {
        user_id: user_id.into(),
        code: CloseCode::Unauthorized,
    };
    publish(app, &delivery);
}
