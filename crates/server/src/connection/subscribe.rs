//! `pusher:subscribe` (PROTOCOL.md §2.2–§2.4, §4).

use std::sync::Arc;

use pusherable_protocol::{
    frame::Subscribe,
    limits,
    outbound::{self, SubscriptionErrorKind},
    sign, ChannelKind, ChannelName,
};
use serde_json::Value;

use super::Connection;
use crate::{
    hub::{JoinError, Member},
    lifecycle,
};

/// A refused subscription: answered on the channel, and the socket stays open.
struct Refusal {
    kind: SubscriptionErrorKind,
    status: u16,
    message: String,
}

impl Refusal {
    fn auth(status: u16, message: impl Into<String>) -> Self {
        Refusal {
            kind: SubscriptionErrorKind::AuthError,
            status,
            message: message.into(),
        }
    }

    fn limit(message: impl Into<String>) -> Self {
        Refusal {
            kind: SubscriptionErrorKind::LimitReached,
            status: 400,
            message: message.into(),
        }
    }
}

impl Connection {
    pub(super) fn subscribe(&mut self, request: &Subscribe) {
        if let Err(r) = self.try_subscribe(request) {
            self.peer.outbox.push_text(outbound::subscription_error(
                &request.channel,
                r.kind,
                &r.message,
                r.status,
            ));
        }
    }

    fn try_subscribe(&mut self, request: &Subscribe) -> Result<(), Refusal> {
        let config = &self.app.config;
        let channel = ChannelName::parse(&request.channel, config.max_channel_name_length)
            .map_err(|e| Refusal::auth(400, format!("Invalid channel name: {e}")))?;
        let max = self.server.config().max_subscriptions_per_connection;
        if self.channels.len() >= max && !self.channels.contains_key(&channel) {
            return Err(Refusal::limit(format!(
                "A connection may join at most {max} channels"
            )));
        }
        let kind = channel.kind();
        if kind == ChannelKind::ServerToUser {
            // pusher-js subscribes with an empty auth; being signed in as the user is the proof.
            let mine = self
                .user
                .as_ref()
                .is_some_and(|u| Some(&*u.id) == channel.server_to_user_id());
            if !mine {
                return Err(Refusal::auth(
                    403,
                    "Only the connection signed in as this user may subscribe",
                ));
            }
        }
        if kind.needs_auth() {
            let sts = sign::channel_string_to_sign(
                self.peer.socket_id.as_str(),
                &channel,
                request.channel_data.as_deref(),
            );
            let auth = request.auth.as_deref().unwrap_or("");
            sign::verify_auth(&config.key, &config.secret, auth, &sts)
                .map_err(|e| Refusal::auth(401, e.to_string()))?;
        }
        let member = match (kind, request.channel_data.as_deref(), &self.user) {
            (ChannelKind::Presence, Some(data), _) => Some(parse_member(data)?),
            // A signed-in connection may join without channel_data: it joins as its user.
            (ChannelKind::Presence, None, Some(user)) => Some(Member {
                user_id: user.id.clone(),
                info: user.info.clone(),
            }),
            (ChannelKind::Presence, None, None) => {
                return Err(Refusal::auth(
                    400,
                    "Presence channels need channel_data, or a signed-in connection",
                ));
            }
            _ => None,
        };
        // Subscribing again keeps the first membership and only repeats the success.
        let member = match self.channels.get(&channel) {
            Some(Some(user_id)) => Some(Member {
                user_id: user_id.clone(),
                info: Arc::from("null"),
            }),
            _ => member,
        };
        let joined = self
            .app
            .hub
            .subscribe(
                &channel,
                &self.peer,
                member.as_ref(),
                limits::PRESENCE_MEMBERS_MAX,
            )
            .map_err(|JoinError::MembersFull| {
                let max = limits::PRESENCE_MEMBERS_MAX;
                Refusal::limit(format!("{channel} already has {max} members"))
            })?;
        let user_id = member.map(|m| m.user_id);
        lifecycle::joined(&self.app, &channel, user_id.as_deref(), joined);
        self.channels.insert(channel, user_id);
        Ok(())
    }
}

/// Reads the member out of a presence subscription's `channel_data`, after its signature was
/// checked over the raw text. Numeric user ids become their decimal text, as everywhere else.
fn parse_member(channel_data: &str) -> Result<Member, Refusal> {
    let bad = |m: &str| Refusal::auth(400, format!("Invalid channel_data: {m}"));
    let value: Value = serde_json::from_str(channel_data).map_err(|_| bad("not JSON"))?;
    let user_id = match value.get("user_id") {
        Some(Value::String(s)) if !s.is_empty() => s.clone(),
        Some(Value::Number(n)) => n.to_string(),
        _ => return Err(bad("user_id must be a non-empty string or a number")),
    };
    if user_id.chars().count() > limits::PRESENCE_USER_ID_MAX {
        return Err(Refusal::limit(format!(
            "user_id is longer than {} characters",
            limits::PRESENCE_USER_ID_MAX
        )));
    }
    let info = match value.get("user_info") {
        None => "null".to_owned(),
        Some(v) => v.to_string(),
    };
    if info.len() > limits::PRESENCE_USER_INFO_MAX {
        return Err(Refusal::limit(format!(
            "user_info is larger than {} bytes",
            limits::PRESENCE_USER_INFO_MAX
        )));
    }
    Ok(Member {
        user_id: user_id.into(),
        info: info.into(),
    })
}
