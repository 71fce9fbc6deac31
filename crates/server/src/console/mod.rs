//! The live debug console: what happens in an app, as it happens, for someone watching.
//!
//! The fan-out, the lifecycle, the cluster and the connection tasks call the taps below, one
//! line each, wherever something a developer debugging an app wants to see happens:
//! connections opening and closing, subscriptions, channels occupied and vacated, presence
//! members, and events (from the REST API, the app's own process and clients). Each tap turns
//! what it is given into an [`Entry`], serializes it once and hands the text to the app's
//! [`Console`], a bounded broadcast that the console's stream (`http.rs`) reads.
//!
//! **Invariant:** when nobody watches, a tap costs one atomic load and builds nothing; and a
//! tap never runs per recipient, only once per change or per delivery. A console that cannot
//! keep up misses entries (it is told how many) rather than holding memory.

mod http;

use std::{
    borrow::Cow,
    sync::{
        atomic::{AtomicUsize, Ordering},
        Arc, OnceLock,
    },
    time::{SystemTime, UNIX_EPOCH},
};

use pusherable_protocol::{ChannelName, SocketId};
use serde::{Deserialize, Serialize};
use tokio::sync::broadcast;

pub(crate) use http::routes;

use crate::{
    adapter::Delivery,
    app::App,
    state::{Changed, Joined},
};

/// Entries that may wait for each watcher; a watcher further behind skips the oldest.
const BACKLOG: usize = 1024;

/// One app's console: who watches, and the broadcast they read.
#[derive(Debug, Default)]
pub(crate) struct Console {
    /// Open console streams. The taps read this and nothing else when nobody watches: it is
    /// one atomic load, where the broadcast's own receiver count takes a lock.
    watchers: AtomicUsize,
    /// Made when the first console opens, so that an app nobody watches holds no backlog.
    sender: OnceLock<broadcast::Sender<Arc<str>>>,
}

impl Console {
    #[inline]
    fn listening(&self) -> bool {
        self.watchers.load(Ordering::Relaxed) > 0
    }

    fn send(&self, entry: &Entry<'_>) {
        let Some(sender) = self.sender.get() else {
            return;
        };
        match serde_json::to_string(entry) {
            // Err only when the last watcher left since `listening`: nothing to do.
            Ok(text) => drop(sender.send(text.into())),
            Err(e) => tracing::warn!(error = %e, "console entry not serialized"),
        }
    }
}

/// One open console stream.
#[derive(Debug)]
pub(crate) struct Watch {
    receiver: broadcast::Receiver<Arc<str>>,
    /// To count this watcher out when it is dropped.
    app: Arc<App>,
}

impl Watch {
    /// A new watcher of `app`, which sees every entry from now on until it is dropped.
    pub(crate) fn new(app: &Arc<App>) -> Self {
        let receiver = app
            .console
            .sender
            .get_or_init(|| broadcast::channel(BACKLOG).0)
            .subscribe();
        app.console.watchers.fetch_add(1, Ordering::Relaxed);
        Watch {
            receiver,
            app: app.clone(),
        }
    }

    /// The next entry as JSON text; when the watcher fell behind, an entry that says how many
    /// it missed.
    pub(crate) async fn next(&mut self) -> Option<Arc<str>> {
        match self.receiver.recv().await {
            Ok(text) => Some(text),
            Err(broadcast::error::RecvError::Lagged(missed)) => {
                let entry = Entry {
                    missed: Some(missed),
                    ..Entry::new(Kind::Missed)
                };
                serde_json::to_string(&entry).ok().map(Arc::from)
            }
            Err(broadcast::error::RecvError::Closed) => None,
        }
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        self.app.console.watchers.fetch_sub(1, Ordering::Relaxed);
    }
}

/// What happened, as the console's stream carries it: one JSON object per entry.
#[derive(Debug, Serialize)]
#[serde(rename_all = "snake_case")]
enum Kind {
    ConnectionOpened,
    ConnectionClosed,
    Subscribed,
    Unsubscribed,
    ChannelOccupied,
    ChannelVacated,
    MemberAdded,
    MemberRemoved,
    /// From the REST API or the app's own process.
    ApiEvent,
    /// From a client (a `client-` event).
    ClientEvent,
    /// The watcher fell behind and skipped entries.
    Missed,
}

/// One entry of the console's stream.
#[derive(Debug, Serialize)]
struct Entry<'a> {
    #[serde(rename = "type")]
    kind: Kind,
    #[serde(skip_serializing_if = "Option::is_none")]
    channel: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    event: Option<&'a str>,
    /// An event's data, or a member's `user_info`, as JSON text.
    #[serde(skip_serializing_if = "Option::is_none")]
    data: Option<&'a str>,
    /// The connection concerned: a client event's sender, the connection an API event
    /// skips (its `socket_id`).
    #[serde(skip_serializing_if = "Option::is_none")]
    socket_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    user_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    missed: Option<u64>,
    /// It happened on another node of the cluster.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    remote: bool,
    time_ms: u64,
}

impl Entry<'_> {
    fn new(kind: Kind) -> Self {
        Entry {
            kind,
            channel: None,
            event: None,
            data: None,
            socket_id: None,
            user_id: None,
            missed: None,
            remote: false,
            time_ms: SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX)),
        }
    }
}

// The taps. Each is inlined where it is called, so that while nobody watches it is the one
// load of `listening`; what builds an entry lives in the functions they call.

/// A connection opened on this node.
#[inline]
pub(crate) fn opened(app: &App, socket_id: &SocketId) {
    if app.console.listening() {
        connection(app, Kind::ConnectionOpened, socket_id);
    }
}

/// A connection of this node closed.
#[inline]
pub(crate) fn closed(app: &App, socket_id: &SocketId) {
    if app.console.listening() {
        connection(app, Kind::ConnectionClosed, socket_id);
    }
}

/// A connection of this node subscribed to `channel` (not again: `joined.new`).
#[inline]
pub(crate) fn subscribed(app: &App, channel: &ChannelName, socket_id: &SocketId, j: &Joined) {
    if app.console.listening() && j.new {
        let user_id = j.member.as_ref().map(|m| &*m.user_id);
        subscription(app, Kind::Subscribed, channel, socket_id, user_id);
    }
}

/// A connection of this node left `channel`, or closed while subscribed to it.
#[inline]
pub(crate) fn unsubscribed(app: &App, channel: &ChannelName, socket_id: &SocketId) {
    if app.console.listening() {
        subscription(app, Kind::Unsubscribed, channel, socket_id, None);
    }
}

/// What a change did to the channel for the cluster: occupied or vacated it, added or removed
/// members; made on this node, or (`remote`) on another.
#[inline]
pub(crate) fn changed(app: &App, channel: &ChannelName, c: &Changed, remote: bool) {
    if app.console.listening() {
        changed_entries(app, channel, c, remote);
    }
}

/// An event on its way to subscribers: published on this node, or received from another
/// (`remote`). Presence changes and counts are not deliveries; terminations are not shown.
#[inline]
pub(crate) fn delivered(app: &App, delivery: &Delivery, remote: bool) {
    if app.console.listening() {
        if let Delivery::Channel {
            channel,
            frame,
            except,
            ..
        } = delivery
        {
            event(app, channel, frame, except.as_ref(), remote);
        }
    }
}

fn connection(app: &App, kind: Kind, socket_id: &SocketId) {
    app.console.send(&Entry {
        socket_id: Some(socket_id.as_str()),
        ..Entry::new(kind)
    });
}

fn subscription(app: &App, kind: Kind, channel: &str, socket_id: &SocketId, user_id: Option<&str>) {
    app.console.send(&Entry {
        socket_id: Some(socket_id.as_str()),
        user_id,
        ..channel_entry(kind, channel, false)
    });
}

fn changed_entries(app: &App, channel: &str, s: &Changed, remote: bool) {
    if s.occupied {
        app.console
            .send(&channel_entry(Kind::ChannelOccupied, channel, remote));
    }
    for m in &s.added {
        member_entry(
            app,
            Kind::MemberAdded,
            channel,
            &m.user_id,
            Some(&m.info),
            remote,
        );
    }
    for user_id in &s.removed {
        member_entry(app, Kind::MemberRemoved, channel, user_id, None, remote);
    }
    if s.vacated {
        app.console
            .send(&channel_entry(Kind::ChannelVacated, channel, remote));
    }
}

fn channel_entry(kind: Kind, channel: &str, remote: bool) -> Entry<'_> {
    Entry {
        channel: Some(channel),
        remote,
        ..Entry::new(kind)
    }
}

fn member_entry(
    app: &App,
    kind: Kind,
    channel: &str,
    user_id: &str,
    info: Option<&str>,
    remote: bool,
) {
    app.console.send(&Entry {
        user_id: Some(user_id),
        data: info,
        ..channel_entry(kind, channel, remote)
    });
}

/// The parts of an event frame the console shows.
#[derive(Deserialize)]
struct Frame<'a> {
    #[serde(borrow)]
    event: Cow<'a, str>,
    #[serde(default)]
    data: serde_json::Value,
    #[serde(borrow, default)]
    user_id: Option<Cow<'a, str>>,
}

fn event(app: &App, channel: &str, frame: &str, except: Option<&SocketId>, remote: bool) {
    // The delivery holds only the encoded frame, which is read back here: a cost paid while
    // someone watches, and never on the fan-out path otherwise.
    let Ok(frame) = serde_json::from_str::<Frame<'_>>(frame) else {
        return;
    };
    let data = match &frame.data {
        serde_json::Value::String(s) => Cow::Borrowed(s.as_str()),
        serde_json::Value::Null => Cow::Borrowed(""),
        other => Cow::Owned(other.to_string()),
    };
    // A client may send only `client-` events, and the API seldom sends one: the name tells
    // where an event came from alike on every node, forwarded or not.
    let kind = if frame.event.starts_with("client-") {
        Kind::ClientEvent
    } else {
        Kind::ApiEvent
    };
    app.console.send(&Entry {
        event: Some(&frame.event),
        data: Some(&data),
        socket_id: except.map(SocketId::as_str),
        user_id: frame.user_id.as_deref(),
        ..channel_entry(kind, channel, remote)
    });
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::adapter::LocalAdapter;

    #[tokio::test]
    async fn nothing_is_sent_while_nobody_watches_and_a_slow_watcher_is_told_what_it_missed() {
        let config = crate::config::AppConfig::new("1", "key", "secret");
        let app = Arc::new(App::new(&config, 16, Arc::new(LocalAdapter), None));
        let console = &app.console;
        assert!(!console.listening());
        let socket_id = SocketId::from_parts(1, 2);
        opened(&app, &socket_id);
        assert!(console.sender.get().is_none());
        let mut watch = Watch::new(&app);
        assert!(console.listening());
        for _ in 0..BACKLOG + 5 {
            opened(&app, &socket_id);
        }
        let first: serde_json::Value = serde_json::from_str(&watch.next().await.unwrap()).unwrap();
        assert_eq!(first["type"], "missed");
        assert_eq!(first["missed"], 5);
        let next: serde_json::Value = serde_json::from_str(&watch.next().await.unwrap()).unwrap();
        assert_eq!(next["type"], "connection_opened");
        assert_eq!(next["socket_id"], "1.2");
        drop(watch);
        assert!(!console.listening());
    }

    #[test]
    fn an_entry_leaves_out_what_it_does_not_have() {
        let entry = Entry {
            channel: Some("c"),
            ..Entry::new(Kind::ChannelVacated)
        };
        let text = serde_json::to_string(&entry).unwrap();
        assert!(
            text.starts_with(r#"{"type":"channel_vacated","channel":"c","time_ms":"#),
            "{text}"
        );
    }
}
