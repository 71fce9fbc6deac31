//! `GET /apps/{id}/channels`, `…/channels/{name}` and `…/channels/{name}/users`.

use axum::{extract::Path, Json};
use pusherable_protocol::{
    rest::{CachedEvent, ChannelAttributes, ChannelReply, ChannelsReply, User, UsersReply},
    ChannelKind,
};
use serde::Deserialize;

use super::{RestError, Signed};
use crate::trigger::{self, Info};

/// The channel named in the route.
#[derive(Deserialize)]
pub(super) struct ChannelPath {
    channel: String,
}

pub(super) async fn list(signed: Signed) -> Result<Json<ChannelsReply>, RestError> {
    let prefix = signed.param("filter_by_prefix").unwrap_or_default();
    let info = Info::parse(signed.param("info").as_deref(), false)?;
    if info.subscription_count {
        return Err(RestError::bad_request(
            "Only user_count may be asked for in a channel list",
        ));
    }
    if info.user_count && !prefix.starts_with("presence-") {
        return Err(RestError::bad_request(
            "user_count needs filter_by_prefix=presence-",
        ));
    }
    let app = &signed.app;
    app.settle().await;
    let channels = app
        .state
        .occupied(&prefix)
        .into_iter()
        .map(|(name, counts)| {
            let attrs = ChannelAttributes {
                user_count: info.user_count.then_some(counts.users as u64),
                subscription_count: None,
            };
            (name.to_string(), attrs)
        })
        .collect();
    Ok(Json(ChannelsReply { channels }))
}

pub(super) async fn show(
    Path(ChannelPath { channel }): Path<ChannelPath>,
    signed: Signed,
) -> Result<Json<ChannelReply>, RestError> {
    let app = &signed.app;
    let channel = trigger::channel_name(app, &channel)?;
    let info = Info::parse(signed.param("info").as_deref(), true)?;
    info.check(&channel)?;
    app.settle().await;
    let counts = app.state.counts(&channel);
    Ok(Json(ChannelReply {
        occupied: counts.subscriptions > 0,
        user_count: info.user_count.then_some(counts.users as u64),
        subscription_count: info
            .subscription_count
            .then_some(counts.subscriptions as u64),
        cache: info.cache.then(|| {
            app.state
                .cached_data(&channel)
                .map(|(data, ttl)| CachedEvent { data, ttl })
        }),
    }))
}

pub(super) async fn users(
    Path(ChannelPath { channel }): Path<ChannelPath>,
    Signed { app, .. }: Signed,
) -> Result<Json<UsersReply>, RestError> {
    let channel = trigger::channel_name(&app, &channel)?;
    if channel.kind() != ChannelKind::Presence {
        return Err(RestError::bad_request(format!(
            "{channel} is not a presence channel"
        )));
    }
    app.settle().await;
    let users = app
        .state
        .users(&channel)
        .into_iter()
        .map(|id| User { id })
        .collect();
    Ok(Json(UsersReply { users }))
}
