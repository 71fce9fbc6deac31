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
//! counts and webhooks. What changed is announced to the other nodes as a
//! [`Change`](crate::adapter::Change); [`apply`] is the other side, where each node tells its
//! own connections what another node's change means for them (`cluster.rs`).
//!
//! **Invariant:** nothing is encoded or allocated per recipient: a recipient costs one
//! reference-count increment and one queue slot.

mod cluster;
mod lifecycle;

use std::sync::{Arc, Weak};

use axum::extract::ws::Utf8Bytes;
use pusherable_protocol::{outbound, ChannelName, CloseCode};
use tokio::sync::mpsc;

pub(crate) use cluster::{apply, node_gone, replace_node};
pub(crate) use lifecycle::CountThrottle;

use crate::{
    adapter::{Change, Delivery, MemberChange},
    app::App,
    console,
    state::{JoinError, JoinLimits, Left, Member, Peer, SignedIn, User},
    trigger::Event,
};

/// REST deliveries that may wait for fan-out per app before REST callers wait.
const QUEUE: usize = 4096;
/// Deliveries the delivery task takes from the queue at once.
const BATCH: usize = 64;

/// Delivers `delivery` to this node's connections and hands it to the other nodes.
pub(crate) fn publish(app: &App, delivery: &Delivery) {
    deliver(app, delivery);
    app.adapter.forward(&app.config.id, delivery);
    console::delivered(app, delivery, false);
}

/// Delivers what another node published to this node's connections.
pub(crate) fn receive(app: &App, delivery: &Delivery) {
    deliver(app, delivery);
    console::delivered(app, delivery, true);
}

/// Queues `delivery` for this node's connections only.
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
        Delivery::Terminate { user_id, code } => {
            app.state
                .for_each_connection_of(user_id, |peer| peer.outbox.close(*code));
        }
    }
}

/// One delivery per channel of a checked event, each frame encoded once.
pub(crate) fn events(event: Event) -> impl Iterator<Item = Delivery> {
    let Event {
        channels,
        name,
        data,
        except,
    } = event;
    // Only a cache channel keeps the data beside its frame.
    let cached: Option<Arc<str>> = channels
        .iter()
        .any(ChannelName::is_cache)
        .then(|| data.as_str().into());
    channels.into_iter().map(move |channel| Delivery::Channel {
        frame: outbound::channel_event(&channel, &name, &data, None).into(),
        cache: if channel.is_cache() {
            cached.clone()
        } else {
            None
        },
        except: except.clone(),
        channel,
    })
}

/// Queues deliveries for the app's delivery task: a REST trigger is answered before its
/// fan-out is done. The task delivers them in the order they came, and the queue is bounded:
/// when it is full, callers wait.
pub(crate) async fn enqueue(app: &Arc<App>, deliveries: impl IntoIterator<Item = Delivery>) {
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
    // Under load, triggers queue up while the task waits for its turn on a worker: it takes
    // all of them at once rather than one per wake-up.
    let mut batch = Vec::with_capacity(BATCH);
    while rx.recv_many(&mut batch, BATCH).await > 0 {
        let Some(app) = app.upgrade() else {
            return;
        };
        for delivery in batch.drain(..) {
            publish(&app, &delivery);
        }
    }
}

/// Subscribes `peer` to `channel`: it gets `subscription_succeeded` (with the member list on
/// a presence channel, then a cache channel's last event or `pusher:cache_miss`), and the
/// others get `member_added` when the member was present nowhere before.
pub(crate) fn subscribe(
    app: &Arc<App>,
    peer: &Arc<Peer>,
    channel: &ChannelName,
    member: Option<Member>,
    limits: JoinLimits,
) -> Result<(), JoinError> {
    let joined = app
        .state
        .subscribe(peer, channel, member, limits, |joined, view| {
            match &joined.member {
                None => peer
                    .outbox
                    .push_text(outbound::subscription_succeeded(channel)),
                Some(_) => {
                    let members = view.members();
                    let members = members.iter().copied();
                    peer.outbox
                        .push_text(outbound::presence_succeeded(channel, members))
                }
            };
            if let (true, Some(m)) = (joined.member_added, &joined.member) {
                let frame = Utf8Bytes::from(outbound::member_added(channel, &m.user_id, &m.info));
                for other in view.subscribers().filter(|p| p.id != peer.id) {
                    other.outbox.push(&frame);
                }
            }
            if channel.is_cache() {
                match &joined.cached {
                    Some(frame) => peer.outbox.push(frame),
                    None => peer.outbox.push_text(outbound::cache_miss(channel)),
                };
            }
        })?;
    if joined.new {
        let member = joined
            .member
            .as_ref()
            .filter(|_| joined.member_here)
            .map(|m| MemberChange::Added {
                user_id: m.user_id.clone(),
                info: m.info.clone(),
            });
        announce_channel(app, channel, joined.subscriptions_here, member);
    }
    console::subscribed(app, channel, &peer.socket_id, &joined);
    lifecycle::joined(app, channel, &joined);
    Ok(())
}

/// `pusher:unsubscribe`: the others get `member_removed` when this was the member's last
/// connection anywhere. Unknown channels are ignored.
pub(crate) fn unsubscribe(app: &Arc<App>, peer: &Peer, channel: &str) {
    let Some((channel, left)) = app.state.unsubscribe(peer, channel, |left, view| {
        tell_removed(channel, left, view.subscribers());
    }) else {
        return;
    };
    console::unsubscribed(app, &channel, &peer.socket_id);
    after_leaving(app, &channel, &left);
}

/// The connection is gone: it leaves every channel and signs out.
pub(crate) fn remove(app: &Arc<App>, peer: &Peer) {
    let (left, user) = app.state.remove(peer, |channel, left, view| {
        tell_removed(channel, left, view.subscribers());
    });
    for (channel, left) in &left {
        console::unsubscribed(app, channel, &peer.socket_id);
        after_leaving(app, channel, left);
    }
    if let Some(user) = user {
        sign_out(app, peer.id, &user);
    }
}

fn tell_removed<'a>(channel: &str, left: &Left, others: impl Iterator<Item = &'a Arc<Peer>>) {
    if let Some(user_id) = left.user_id.as_deref().filter(|_| left.member_removed) {
        let frame = Utf8Bytes::from(outbound::member_removed(channel, user_id));
        for other in others {
            other.outbox.push(&frame);
        }
    }
}

fn after_leaving(app: &Arc<App>, channel: &ChannelName, left: &Left) {
    let member = left
        .user_id
        .as_ref()
        .filter(|_| left.member_gone_here)
        .map(|user_id| MemberChange::Removed {
            user_id: user_id.clone(),
        });
    announce_channel(app, channel, left.subscriptions_here, member);
    lifecycle::left(app, channel, left);
}

fn announce_channel(
    app: &App,
    channel: &ChannelName,
    subscriptions: usize,
    member: Option<MemberChange>,
) {
    let change = Change::Channel {
        channel: channel.clone(),
        subscriptions,
        member,
    };
    app.adapter.announce(&app.config.id, &change);
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
/// first connection anywhere. `Err` with the current user when the connection signed in as
/// someone else; `Ok(None)` when it signed in as this user already.
pub(crate) fn sign_in(
    app: &App,
    peer: &Arc<Peer>,
    user: User,
) -> Result<Option<SignedIn>, Arc<str>> {
    let user_id = user.id.clone();
    let signed_in = app.state.sign_in(peer, user, |watchers| {
        tell_watchers(watchers, "online", &user_id);
    })?;
    if signed_in.as_ref().is_some_and(|s| s.first_here) {
        let change = Change::User {
            user_id,
            signed_in: true,
        };
        app.adapter.announce(&app.config.id, &change);
    }
    Ok(signed_in)
}

fn sign_out(app: &App, peer_id: u64, user: &User) {
    let (_, last_here) = app.state.sign_out(peer_id, user, |watchers| {
        tell_watchers(watchers, "offline", &user.id);
    });
    if last_here {
        let change = Change::User {
            user_id: user.id.clone(),
            signed_in: false,
        };
        app.adapter.announce(&app.config.id, &change);
    }
}

/// Queues a watchlist event about `user_id` for `watchers`.
fn tell_watchers<'a>(watchers: impl Iterator<Item = &'a Arc<Peer>>, name: &str, user_id: &str) {
    let ids = [user_id.to_owned()];
    let frame = Utf8Bytes::from(outbound::watchlist_events(
        [(name, ids.as_slice())].into_iter(),
    ));
    for w in watchers {
        w.outbox.push(&frame);
    }
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
