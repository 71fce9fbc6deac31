//! What follows a subscription change: `subscription_count` announcements and webhooks.
//!
//! The hub reports what a change did ([`Joined`], [`Left`]); this module turns that into
//! messages, so that the hub stays a plain data structure.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex, PoisonError},
    time::{Duration, Instant},
};

use pusherable_protocol::{outbound, ChannelKind, ChannelName};

use crate::{
    hub::{Joined, Left},
    App,
};

/// Above this many subscribers, counts are announced at most every [`COUNT_EVERY`].
const COUNT_THROTTLE_ABOVE: usize = 100;
const COUNT_EVERY: Duration = Duration::from_secs(5);

/// When each busy channel last announced its count, and whether an announcement is scheduled.
#[derive(Debug, Default)]
pub(crate) struct CountThrottle {
    channels: Mutex<HashMap<ChannelName, (Instant, bool)>>,
}

pub(crate) fn joined(app: &Arc<App>, channel: &ChannelName, user_id: Option<&str>, j: Joined) {
    if let Some(hooks) = &app.webhooks {
        if j.occupied && j.new {
            hooks.channel_occupied(channel);
        }
        if let (true, Some(user)) = (j.member_added, user_id) {
            hooks.member_added(channel, user);
        }
        if j.cache_miss {
            hooks.cache_miss(channel);
        }
    }
    if j.new {
        count_changed(app, channel, j.subscriptions);
    }
}

pub(crate) fn left(app: &Arc<App>, channel: &ChannelName, user_id: Option<&str>, l: Left) {
    if !l.left {
        return;
    }
    if let Some(hooks) = &app.webhooks {
        if let (true, Some(user)) = (l.member_removed, user_id) {
            hooks.member_removed(channel, user);
        }
        if l.vacated {
            hooks.channel_vacated(channel);
        }
    }
    if l.vacated {
        app.counts
            .channels
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(channel);
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
    let mut map = app
        .counts
        .channels
        .lock()
        .unwrap_or_else(PoisonError::into_inner);
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
        if let Some(entry) = app
            .counts
            .channels
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get_mut(&channel)
        {
            *entry = (Instant::now(), false);
        }
        let count = app.hub.counts(&channel).subscriptions;
        if count > 0 {
            announce(&app, &channel, count);
        }
    });
}

fn announce(app: &App, channel: &ChannelName, count: usize) {
    let frame = outbound::subscription_count(channel, count).into();
    app.hub.publish(channel, &frame, None);
    if let Some(hooks) = &app.webhooks {
        hooks.subscription_count(channel, count);
    }
}
