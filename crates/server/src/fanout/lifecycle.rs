//! What follows a subscription change: `subscription_count` announcements and webhooks.
//!
//! The state reports what a change did ([`Joined`], [`Left`]); this module turns that into
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
    state::{Joined, Left},
};

/// Above this many subscribers, counts are announced at most every [`COUNT_EVERY`].
const COUNT_THROTTLE_ABOVE: usize = 100;
const COUNT_EVERY: Duration = Duration::from_secs(5);

/// When each busy channel last announced its count, and whether an announcement is scheduled.
#[derive(Debug, Default)]
pub(crate) struct CountThrottle {
    channels: Mutex<HashMap<ChannelName, (Instant, bool)>>,
}

impl CountThrottle {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<ChannelName, (Instant, bool)>> {
        self.channels.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

pub(super) fn joined(app: &Arc<App>, channel: &ChannelName, j: &Joined) {
    if let Some(hooks) = &app.webhooks {
        if j.occupied && j.new {
            hooks.channel_occupied(channel);
        }
        if let (true, Some(member)) = (j.member_added, &j.member) {
            hooks.member_added(channel, &member.user_id);
        }
        if channel.is_cache() && j.cached.is_none() {
            hooks.cache_miss(channel);
        }
    }
    if j.new {
        count_changed(app, channel, j.subscriptions);
    }
}

pub(super) fn left(app: &Arc<App>, channel: &ChannelName, l: &Left) {
    if let Some(hooks) = &app.webhooks {
        if let (true, Some(user)) = (l.member_removed, &l.user_id) {
            hooks.member_removed(channel, user);
        }
        if l.vacated {
            hooks.channel_vacated(channel);
        }
    }
    if l.vacated {
        app.counts.lock().remove(channel);
    } else {
        count_changed(app, channel, l.subscriptions);
    }
}

/// Announces a new subscription count, throttled on busy channels. Never on presence channels.
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
    let entry = map
        .entry(channel.clone())
        .or_insert((now - COUNT_EVERY, false));
    if entry.1 {
        return;
    }
    let due = entry.0 + COUNT_EVERY;
    if due <= now {
        entry.0 = now;
        drop(map);
        announce(app, channel, count);
        return;
    }
    entry.1 = true;
    drop(map);
    let (app, channel) = (app.clone(), channel.clone());
    tokio::spawn(async move {
        tokio::time::sleep_until(due.into()).await;
        if let Some(entry) = app.counts.lock().get_mut(&channel) {
            *entry = (Instant::now(), false);
        }
        let count = app.state.counts(&channel).subscriptions;
        if count > 0 {
            announce(&app, &channel, count);
        }
    });
}

fn announce(app: &App, channel: &ChannelName, count: usize) {
    let delivery = Delivery::Channel {
        channel: channel.clone(),
        frame: outbound::subscription_count(channel, count).into(),
        except: None,
        cache: None,
    };
    super::publish(app, &delivery);
    if let Some(hooks) = &app.webhooks {
        hooks.subscription_count(channel, count);
    }
}
