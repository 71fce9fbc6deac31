//! Asking the server about channels: which are occupied, how many are on one, who is present.

use std::{fmt, str::FromStr};

use pusherable_protocol::{
    rest::{ChannelReply, ChannelsReply, UsersReply},
    ChannelKind,
};

use crate::{
    error::{Error, InvalidInput},
    trigger::parse_channel,
    Client,
};

/// A channel attribute the REST API can report (its `info` parameter).
///
/// ```
/// use pusherable_client::Info;
/// assert_eq!("user_count".parse::<Info>().unwrap(), Info::UserCount);
/// assert_eq!(Info::SubscriptionCount.to_string(), "subscription_count");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Info {
    /// Distinct users on a presence channel.
    UserCount,
    /// Subscribed connections on any other channel.
    SubscriptionCount,
    /// The last event of a cache channel (single-channel queries only).
    Cache,
}

impl Info {
    /// The name the REST API uses.
    ///
    /// ```
    /// assert_eq!(pusherable_client::Info::Cache.as_str(), "cache");
    /// ```
    pub fn as_str(self) -> &'static str {
        match self {
            Self::UserCount => "user_count",
            Self::SubscriptionCount => "subscription_count",
            Self::Cache => "cache",
        }
    }
}

impl fmt::Display for Info {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Info {
    type Err = InvalidInput;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "user_count" => Ok(Self::UserCount),
            "subscription_count" => Ok(Self::SubscriptionCount),
            "cache" => Ok(Self::Cache),
            _ => Err(InvalidInput::Info(s.to_owned())),
        }
    }
}

/// The `info` parameter: names joined by commas, or nothing.
pub(crate) fn join_info(info: &[Info]) -> Option<String> {
    if info.is_empty() {
        return None;
    }
    Some(
        info.iter()
            .map(|i| i.as_str())
            .collect::<Vec<_>>()
            .join(","),
    )
}

impl Client {
    /// The occupied channels, optionally only those whose name starts with `filter_by_prefix`.
    ///
    /// Only [`Info::UserCount`] is allowed here, and only with a `presence-` prefix; the server
    /// answers 400 otherwise.
    ///
    /// ```no_run
    /// use pusherable_client::Info;
    /// # async fn run(client: pusherable_client::Client) -> Result<(), pusherable_client::Error> {
    /// let reply = client.channels(Some("presence-"), &[Info::UserCount]).await?;
    /// for (name, attributes) in &reply.channels {
    ///     println!("{name}: {:?} users", attributes.user_count);
    /// }
    /// # Ok(())
    /// # }
    /// ```
    pub async fn channels(
        &self,
        filter_by_prefix: Option<&str>,
        info: &[Info],
    ) -> Result<ChannelsReply, Error> {
        let info = join_info(info);
        let mut params = Vec::new();
        if let Some(prefix) = filter_by_prefix {
            params.push(("filter_by_prefix", prefix));
        }
        if let Some(info) = &info {
            params.push(("info", info.as_str()));
        }
        self.get("/channels", &params).await
    }

    /// The state of one channel: whether it is occupied, and the attributes asked for.
    ///
    /// ```no_run
    /// use pusherable_client::Info;
    /// # async fn run(client: pusherable_client::Client) -> Result<(), pusherable_client::Error> {
    /// let reply = client.channel("article-1", &[Info::SubscriptionCount]).await?;
    /// println!("occupied: {}, connections: {:?}", reply.occupied, reply.subscription_count);
    /// # Ok(())
    /// # }
    /// ```
    pub async fn channel(&self, name: &str, info: &[Info]) -> Result<ChannelReply, Error> {
        let channel = parse_channel(name)?;
        if channel.kind() == ChannelKind::ServerToUser {
            return Err(InvalidInput::WrongChannelKind {
                call: "a channel query",
                channel: name.to_owned(),
            }
            .into());
        }
        let info = join_info(info);
        let params: Vec<(&str, &str)> = info.iter().map(|i| ("info", i.as_str())).collect();
        // `info` is one parameter with comma-joined names (an `Option`, so at most one pair).
        self.get(&format!("/channels/{channel}"), &params).await
    }

    /// The distinct users on a presence channel.
    ///
    /// ```no_run
    /// # async fn run(client: pusherable_client::Client) -> Result<(), pusherable_client::Error> {
    /// let reply = client.users("presence-room").await?;
    /// let ids: Vec<&str> = reply.users.iter().map(|u| u.id.as_str()).collect();
    /// # Ok(())
    /// # }
    /// ```
    pub async fn users(&self, channel: &str) -> Result<UsersReply, Error> {
        let name = parse_channel(channel)?;
        if name.kind() != ChannelKind::Presence {
            return Err(InvalidInput::WrongChannelKind {
                call: "a user list",
                channel: channel.to_owned(),
            }
            .into());
        }
        self.get(&format!("/channels/{name}/users"), &[]).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn info_names_round_trip() {
        for info in [Info::UserCount, Info::SubscriptionCount, Info::Cache] {
            assert_eq!(info.as_str().parse::<Info>().unwrap(), info);
        }
        assert!(matches!(
            "members".parse::<Info>(),
            Err(InvalidInput::Info(_))
        ));
        assert_eq!(join_info(&[]), None);
        assert_eq!(
            join_info(&[Info::UserCount, Info::Cache]).as_deref(),
            Some("user_count,cache")
        );
    }
}
