//! `GET /apps/{id}/channels`, `…/channels/{name}` and `…/channels/{name}/users`.

use axum::{
    extract::{OriginalUri, Path, RawQuery, State},
    http::Method,
    Json,
};
use pusherable_protocol::{
    rest::{CachedEvent, ChannelAttributes, ChannelReply, ChannelsReply, User, UsersReply},
    ChannelKind,
};

use super::{param, RestError, SignedRequest};
use crate::{
    trigger::{self, Info},
    Server,
};

pub(super) async fn list(
    State(server): State<Server>,
    Path(app_id): Path<String>,
    method: Method,
    uri: OriginalUri,
    query: RawQuery,
) -> Result<Json<ChannelsReply>, RestError> {
    let req = SignedRequest {
        method: &method,
        uri: &uri,
        query: &query,
        body: b"",
    };
    let (app, params) = req.verify(&server, &app_id)?;
    let prefix = param(&params, "filter_by_prefix").unwrap_or("");
    let info = Info::parse(param(&params, "info"), false)?;
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
    let channels = app
        .hub
        .occupied(prefix)
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
    State(server): State<Server>,
    Path((app_id, channel)): Path<(String, String)>,
    method: Method,
    uri: OriginalUri,
    query: RawQuery,
) -> Result<Json<ChannelReply>, RestError> {
    let req = SignedRequest {
        method: &method,
        uri: &uri,
        query: &query,
        body: b"",
    };
    let (app, params) = req.verify(&server, &app_id)?;
    let channel = trigger::channel_name(&app, &channel)?;
    let info = Info::parse(param(&params, "info"), true)?;
    info.check(&channel)?;
    let counts = app.hub.counts(&channel);
    Ok(Json(ChannelReply {
        occupied: counts.subscriptions > 0,
        user_count: info.user_count.then_some(counts.users as u64),
        subscription_count: info
            .subscription_count
            .then_some(counts.subscriptions as u64),
        cache: info.cache.then(|| {
            app.hub
                .cached_data(&channel)
                .map(|(data, ttl)| CachedEvent { data, ttl })
        }),
    }))
}

pub(super) async fn users(
    State(server): State<Server>,
    Path((app_id, channel)): Path<(String, String)>,
    method: Method,
    uri: OriginalUri,
    query: RawQuery,
) -> Result<Json<UsersReply>, RestError> {
    let req = SignedRequest {
        method: &method,
        uri: &uri,
        query: &query,
        body: b"",
    };
    let (app, _) = req.verify(&server, &app_id)?;
    let channel = trigger::channel_name(&app, &channel)?;
    if channel.kind() != ChannelKind::Presence {
        return Err(RestError::bad_request(format!(
            "{channel} is not a presence channel"
        )));
    }
    let users = app
        .hub
        .users(&channel)
        .into_iter()
        .map(|id| User { id })
        .collect();
    Ok(Json(UsersReply { users }))
}
