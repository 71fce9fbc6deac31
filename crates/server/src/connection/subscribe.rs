//! `pusher:subscribe` (PROTOCOL.md §2.2–§2.4, §4).

use pusherable_protocol::{
    frame::Subscribe,
    limits,
    outbound::{self, SubscriptionErrorKind},
    sign, ChannelKind, ChannelName,
};
use serde_json::Value;

use super::Connection;
use crate::{
    fanout,
    state::{JoinError, JoinLimits, Member},
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
    pub(super) async fn subscribe(&mut self, request: &Subscribe) {
        if let Err(r) = self.try_subscribe(request).await {
            self.peer.outbox.push_text(outbound::subscription_error(
                &request.channel,
                r.kind,
                &r.message,
                r.status,
            ));
        }
    }

    async fn try_subscribe(&mut self, request: &Subscribe) -> Result<(), Refusal> {
        let config = &self.app.config;
        let channel = ChannelName::parse(&request.channel, config.max_channel_name_length)
            .map_err(|e| Refusal::auth(400, format!("Invalid channel name: {e}")))?;
        let kind = channel.kind();
        let user = self.peer.user();
        if kind == ChannelKind::ServerToUser {
            // pusher-js subscribes with an empty auth; being signed in as the user is the proof.
            let mine = user
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
        let member = match (kind, request.channel_data.as_deref(), user) {
            (ChannelKind::Presence, Some(data), _) => Some(parse_member(data)?),
            // A signed-in connection may join without channel_data: it joins as its user.
            (ChannelKind::Presence, None, Some(user)) => Some(Member {
                user_id: user.id,
                info: user.info,
            }),
            (ChannelKind::Presence, None, None) => {
                return Err(Refusal::auth(
                    400,
                    "Presence channels need channel_data, or a signed-in connection",
                ));
            }
            _ => None,
        };
        let counted = config.subscription_count && kind != ChannelKind::Presence;
        if member.is_some() || channel.is_cache() || counted {
            // What the subscriber is told first covers what other nodes did just before:
            // the member list, the cached event, the subscription count.
            self.app.settle().await;
        }
        let limits = JoinLimits {
            channels: self.node.config.max_subscriptions_per_connection,
            members: limits::PRESENCE_MEMBERS_MAX,
        };
        fanout::subscribe(&self.app, &self.peer, &channel, member, limits).map_err(|e| match e {
            JoinError::TooManyChannels => Refusal::limit(format!(
                "A connection may join at most {} channels",
                limits.channels
            )),
            JoinError::MembersFull => {
                Refusal::limit(format!("{channel} already has {} members", limits.members))
            }
        })
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
