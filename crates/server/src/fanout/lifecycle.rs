//! What follows a subscription change: `subscription_count` announcements and webhooks.
//!
//! The state reports what a change did ([`Joined`], [`Left`], [`Changed`]); this module turns that into
//! announcements, published through the fan-out, and webhooks.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex, PoisonError},
    time::{Duration, Instant},
};

use pusherable_protocol::{outbound, ChannelKind, ChannelName};

use crate::{
    adapter::Delivery,
    app::App,
    console,
    state::{Changed, Joined, Left},
    webhooks::CACHE_MISS_EVERY,
};

/// Above this many subscribers, counts are announced at most every [`COUNT_EVERY`].
const COUNT_THROTTLE_ABOVE: usize = 100;
const COUNT_EVERY: Duration = Duration::from_secs(5);

/// When each busy channel last announced its count, and whether an announcement is scheduled.
#[derive(Debug, Default)]
pub(crate) struct CountThrottle {
    channels: Mutex<HashMap<ChannelName, Throttled>>,
}

#[derive(Debug, Clone, Copy)]
struct Throttled {
    last: Instant,
    scheduled: bool,
}

impl CountThrottle {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<ChannelName, Throttled>> {
        self.channels.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

pub(super) fn joined(app: &Arc<App>, channel: &ChannelName, j: &Joined) {
    changed(app, channel, &j.changes(), false);
    if let Some(hooks) = &app.webhooks {
        if channel.is_cache() && j.cached.is_none() {
            // Checked here first, so a burst of misses claims at most once per channel and
            // period; every node of a cluster sees the miss, and one reports it.
            if hooks.cache_miss_due(channel) {
                let (hooks, name) = (hooks.clone(), channel.clone());
                let key = format!("cache_miss:{}:{channel}", app.config.id);
                app.once_in_cluster(key, CACHE_MISS_EVERY, move || hooks.cache_miss(&name));
            }
        }
    }
}

pub(super) fn left(app: &Arc<App>, channel: &ChannelName, l: &Left) {
    changed(app, channel, &l.changes(), false);
}

/// What follows a change to `channel`, made here or (`remote`) on another node: the console,
/// the webhooks (from the channel's reporting node), the new subscription count.
pub(super) fn changed(app: &Arc<App>, channel: &ChannelName, c: &Changed, remote: bool) {
    console::changed(app, channel, c, remote);
    if let Some(hooks) = app.webhooks.as_ref().filter(|_| app.reports(channel)) {
        if c.occupied {
            hooks.channel_occupied(channel);
        }
        for member in &c.added {
            hooks.member_added(channel, &member.user_id);
        }
        for user_id in &c.removed {
            hooks.member_removed(channel, user_id);
        }
        if c.vacated {
            hooks.channel_vacated(channel);
        }
    }
    match c.subscriptions {
        Some(_) if c.vacated => {
            app.counts.lock().remove(channel);
        }
        Some(count) => count_changed(app, channel, count),
        None => {}
    }
}

/// Announces a new subscription count (the whole cluster's) to this node's subscribers,
/// throttled on busy channels; never on presence channels.
fn count_changed(app: &Arc<App>, channel: &ChannelName, count: usize) {
    if !app.config.subscription_count || channel.kind() == ChannelKind::Presence {
        return;
    }
    if count <= COUNT_THROTTLE_ABOVE {
        announce(app, channel, count);
        return;
    }
    let now = Instant::now();
    let mut map = app.counts.lock();
    let entry = map.entry(channel.clone()).or_insert(Throttled {
        last: now - COUNT_EVERY,
        scheduled: false,
    });
    if entry.scheduled {
        return;
    }
    let due = entry.last + COUNT_EVERY;
    if due <= now {
        entry.last = now;
        drop(map);
        announce(app, channel, count);
        return;
    }
    entry.scheduled = true;
    drop(map);
    let (app, channel) = (app.clone(), channel.clone());
    tokio::spawn(async move {
        tokio::time::sleep_until(due.into()).await;
        if let Some(entry) = app.counts.lock().get_mut(&channel) {
            *entry = Throttled {
                last: Instant::now(),
                scheduled: false,
            };
        }
        let count = app.state.counts(&channel).subscriptions;
        if count > 0 {
            announce(&app, &channel, count);
        }
    });
}

/// Tells this node's subscribers the count; the channel's reporting node also sends the
/// webhook.
fn announce(app: &App, channel: &ChannelName, count: usize) {
    // Every node announces to its own subscribers: not forwarded.
    let delivery = Delivery::Channel {
        channel: channel.clone(),
        frame: outbound::subscription_count(channel, count).into(),
        except: None,
        cache: None,
    };
    super::deliver(app, &delivery);
    if let Some(hooks) = app.webhooks.as_ref().filter(|_| app.reports(channel)) {
        hooks.subscription_count(channel, count);
    }
}
