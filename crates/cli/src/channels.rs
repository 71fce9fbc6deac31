//! `pusherable channels`, `pusherable channel NAME` and `pusherable users CHANNEL`: what the
//! REST API says about occupied channels and presence members.

use std::fmt::Write as _;

use pusherable_client::{ChannelReply, ChannelsReply, Info, UsersReply};

use crate::{
    failure::Failure,
    output::{self, RestArgs},
};

/// Options of `pusherable channels`.
#[derive(Debug, clap::Args)]
pub(crate) struct ListArgs {
    /// Only channels whose name starts with this (such as presence-).
    #[arg(long, value_name = "PREFIX")]
    prefix: Option<String>,
    /// Attributes to report: user_count, with a presence- prefix only.
    #[arg(long, value_delimiter = ',', value_name = "ATTRIBUTES")]
    info: Vec<Info>,
    #[command(flatten)]
    rest: RestArgs,
}

/// Options of `pusherable channel`.
#[derive(Debug, clap::Args)]
pub(crate) struct OneArgs {
    /// The channel.
    name: String,
    /// Attributes to report: user_count, subscription_count, cache (comma-separated).
    #[arg(long, value_delimiter = ',', value_name = "ATTRIBUTES")]
    info: Vec<Info>,
    #[command(flatten)]
    rest: RestArgs,
}

/// Options of `pusherable users`.
#[derive(Debug, clap::Args)]
pub(crate) struct UsersArgs {
    /// The presence channel.
    channel: String,
    #[command(flatten)]
    rest: RestArgs,
}

pub(crate) async fn list(args: ListArgs) -> Result<(), Failure> {
    let prefix = args.prefix.as_deref();
    args.rest
        .ask(async |c| c.channels(prefix, &args.info).await, human_list)
        .await
}

pub(crate) async fn one(args: OneArgs) -> Result<(), Failure> {
    let name = &args.name;
    args.rest
        .ask(
            async |c| c.channel(name, &args.info).await,
            |reply| human_one(name, reply),
        )
        .await
}

pub(crate) async fn users(args: UsersArgs) -> Result<(), Failure> {
    let channel = &args.channel;
    args.rest
        .ask(
            async |c| c.users(channel).await,
            |reply| human_users(channel, reply),
        )
        .await
}

/// One channel per line, with its attributes after two spaces.
fn human_list(reply: &ChannelsReply) -> String {
    if reply.channels.is_empty() {
        return "no occupied channels\n".to_owned();
    }
    let mut text = String::new();
    for (name, attributes) in &reply.channels {
        let attributes = output::attributes(attributes.user_count, attributes.subscription_count);
        if attributes.is_empty() {
            let _ = writeln!(text, "{name}");
        } else {
            let _ = writeln!(text, "{name}  {attributes}");
        }
    }
    text
}

fn human_one(name: &str, reply: &ChannelReply) -> String {
    let state = if reply.occupied {
        "occupied"
    } else {
        "not occupied"
    };
    let mut text = format!("{name}: {state}");
    let attributes = output::attributes(reply.user_count, reply.subscription_count);
    if !attributes.is_empty() {
        let _ = write!(text, ", {attributes}");
    }
    match &reply.cache {
        None => {}
        Some(None) => text.push_str(", nothing cached"),
        Some(Some(cached)) => {
            let _ = write!(
                text,
                ", cached for {} s more: {}",
                cached.ttl,
                crate::failure::quote(&cached.data)
            );
        }
    }
    text.push('\n');
    text
}

/// One user id per line.
fn human_users(channel: &str, reply: &UsersReply) -> String {
    if reply.users.is_empty() {
        return format!("no users on {channel}\n");
    }
    reply.users.iter().map(|u| format!("{}\n", u.id)).collect()
}

#[cfg(test)]
mod tests {
    use pusherable_client::{ChannelAttributes, User};
    use pusherable_protocol::rest::CachedEvent;

    use super::*;

    #[test]
    fn channel_lists() {
        assert_eq!(
            human_list(&ChannelsReply::default()),
            "no occupied channels\n"
        );
        let mut reply = ChannelsReply::default();
        reply
            .channels
            .insert("news".into(), ChannelAttributes::default());
        reply.channels.insert(
            "presence-room".into(),
            ChannelAttributes {
                user_count: Some(2),
                subscription_count: None,
            },
        );
        assert_eq!(human_list(&reply), "news\npresence-room  user_count 2\n");
    }

    #[test]
    fn one_channel() {
        let mut reply = ChannelReply::default();
        assert_eq!(human_one("news", &reply), "news: not occupied\n");
        reply.occupied = true;
        reply.subscription_count = Some(3);
        assert_eq!(
            human_one("news", &reply),
            "news: occupied, subscription_count 3\n"
        );
        reply.cache = Some(None);
        assert_eq!(
            human_one("news", &reply),
            "news: occupied, subscription_count 3, nothing cached\n"
        );
        reply.cache = Some(Some(CachedEvent {
            data: "{\"a\":\n1}".into(),
            ttl: 30,
        }));
        assert_eq!(
            human_one("news", &reply),
            "news: occupied, subscription_count 3, cached for 30 s more: {\"a\": 1}\n"
        );
    }

    #[test]
    fn user_lists() {
        let mut reply = UsersReply::default();
        assert_eq!(
            human_users("presence-a", &reply),
            "no users on presence-a\n"
        );
        reply.users = vec![User { id: "1".into() }, User { id: "ada".into() }];
        assert_eq!(human_users("presence-a", &reply), "1\nada\n");
    }
}
