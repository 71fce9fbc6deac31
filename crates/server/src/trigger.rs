//! Checks of server-side events, shared by the REST API and [`crate::Server::publish`].
//!
//! What passes is an [`Event`]: plain data, which the fan-out encodes and delivers.

use pusherable_protocol::{
    limits,
    rest::{ChannelAttributes, TriggerBody, TriggerReply},
    ChannelKind, ChannelName, SocketId,
};

use crate::app::App;

/// An event that passed every check, for the fan-out to deliver.
#[derive(Debug)]
pub(crate) struct Event {
    pub(crate) channels: Vec<ChannelName>,
    pub(crate) name: String,
    pub(crate) data: String,
    /// The connection that must not receive it (REST `socket_id`).
    pub(crate) except: Option<SocketId>,
}

/// Why an event was refused. Each maps to one HTTP status of the REST API.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TriggerError {
    /// No app has this id (404).
    #[error("Unknown app")]
    UnknownApp,
    /// The app is disabled (403).
    #[error("App is disabled")]
    AppDisabled,
    /// A malformed request (400).
    #[error("{0}")]
    BadRequest(String),
    /// `data` is larger than the app allows (413).
    #[error("Event data is {size} bytes; the limit is {limit}")]
    TooLarge {
        /// Bytes sent.
        size: usize,
        /// Bytes allowed.
        limit: usize,
    },
}

/// The attributes a request may ask for with `info`.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Info {
    pub(crate) user_count: bool,
    pub(crate) subscription_count: bool,
    pub(crate) cache: bool,
}

impl Info {
    /// Parses `user_count,subscription_count,…`; unknown attributes are a 400.
    pub(crate) fn parse(s: Option<&str>, allow_cache: bool) -> Result<Self, TriggerError> {
        let mut info = Info::default();
        for attr in s
            .unwrap_or("")
            .split(',')
            .map(str::trim)
            .filter(|a| !a.is_empty())
        {
            match attr {
                "user_count" => info.user_count = true,
                "subscription_count" => info.subscription_count = true,
                "cache" if allow_cache => info.cache = true,
                other => {
                    return Err(TriggerError::BadRequest(format!(
                        "Unknown info attribute: {other}"
                    )))
                }
            }
        }
        Ok(info)
    }

    /// 400 when an attribute does not apply to the channel's kind.
    pub(crate) fn check(self, channel: &ChannelName) -> Result<(), TriggerError> {
        let presence = channel.kind() == ChannelKind::Presence;
        if self.user_count && !presence {
            return Err(TriggerError::BadRequest(format!(
                "user_count is only available on presence channels, not {channel}"
            )));
        }
        if self.subscription_count && presence {
            return Err(TriggerError::BadRequest(format!(
                "subscription_count is not available on presence channels ({channel})"
            )));
        }
        if self.cache && !channel.is_cache() {
            return Err(TriggerError::BadRequest(format!(
                "{channel} is not a cache channel"
            )));
        }
        Ok(())
    }
}

pub(crate) fn channel_name(app: &App, name: &str) -> Result<ChannelName, TriggerError> {
    let channel = ChannelName::parse(name, app.config.max_channel_name_length)
        .map_err(|e| TriggerError::BadRequest(format!("Invalid channel name {name:?}: {e}")))?;
    Ok(channel)
}

/// Checks one event for its channels, and reads the attributes it asked for.
///
/// The caller decides whether the event is delivered now ([`crate::Server::publish`]) or
/// after the answer (the REST API).
pub(crate) fn check(app: &App, body: TriggerBody) -> Result<(Event, TriggerReply), TriggerError> {
    if !app.config.enabled {
        return Err(TriggerError::AppDisabled);
    }
    let names: Vec<String> = match (body.channels, body.channel) {
        (Some(list), None) => list,
        (None, Some(one)) => vec![one],
        (Some(_), Some(_)) => {
            return Err(TriggerError::BadRequest(
                "Give channels or channel, not both".into(),
            ))
        }
        (None, None) => return Err(TriggerError::BadRequest("Missing channels".into())),
    };
    if names.is_empty() || names.len() > limits::TRIGGER_CHANNELS_MAX {
        return Err(TriggerError::BadRequest(format!(
            "An event goes to 1 to {} channels, not {}",
            limits::TRIGGER_CHANNELS_MAX,
            names.len()
        )));
    }
    let channels = names
        .iter()
        .map(|n| channel_name(app, n))
        .collect::<Result<Vec<_>, _>>()?;
    if channels.len() > 1
        && channels
            .iter()
            .any(|c| c.kind() == ChannelKind::PrivateEncrypted)
    {
        return Err(TriggerError::BadRequest(
            "An event for an encrypted channel must name that channel alone".into(),
        ));
    }
    check_event(app, &body.name, &body.data)?;
    let except = match body.socket_id.as_deref() {
        None | Some("") => None,
        Some(s) => Some(SocketId::parse(s).map_err(|e| TriggerError::BadRequest(e.to_string()))?),
    };
    let info = Info::parse(body.info.as_deref(), false)?;
    for c in &channels {
        info.check(c)?;
    }
    let mut reply = TriggerReply::default();
    if info.user_count || info.subscription_count {
        for channel in &channels {
            reply
                .channels
                .insert(channel.to_string(), attributes(app, channel, info));
        }
    }
    let event = Event {
        channels,
        name: body.name,
        data: body.data,
        except,
    };
    Ok((event, reply))
}

/// The attributes of one channel that `info` asked for.
pub(crate) fn attributes(app: &App, channel: &str, info: Info) -> ChannelAttributes {
    let counts = app.state.counts(channel);
    ChannelAttributes {
        user_count: info.user_count.then_some(counts.users as u64),
        subscription_count: info
            .subscription_count
            .then_some(counts.subscriptions as u64),
    }
}

pub(crate) fn check_event(app: &App, name: &str, data: &str) -> Result<(), TriggerError> {
    if name.is_empty() || name.chars().count() > limits::EVENT_NAME_MAX {
        return Err(TriggerError::BadRequest(format!(
            "Event name must be 1 to {} characters",
            limits::EVENT_NAME_MAX
        )));
    }
    if data.len() > app.config.max_event_bytes {
        return Err(TriggerError::TooLarge {
            size: data.len(),
            limit: app.config.max_event_bytes,
        });
    }
    Ok(())
}
