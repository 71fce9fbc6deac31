//! `pusherable trigger`: send one event to one or more channels over the REST API.

use std::fmt::Write as _;

use pusherable_client::{Info, TriggerOptions, TriggerReply};

use crate::{
    failure::Failure,
    output::{self, RestArgs},
};

/// Options of `pusherable trigger`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// The channels to send to (1 to 100).
    #[arg(required = true, value_name = "CHANNEL")]
    channels: Vec<String>,
    /// The event name.
    #[arg(long, short)]
    event: String,
    /// The event data, sent exactly as given: JSON text or plain text.
    #[arg(long, short, value_name = "JSON_OR_TEXT", allow_hyphen_values = true)]
    data: String,
    /// Leave out the connection with this socket id (the one that caused the event).
    #[arg(long, value_name = "ID")]
    socket_id: Option<String>,
    /// Channel attributes to report back: user_count, subscription_count (comma-separated).
    #[arg(long, value_delimiter = ',', value_name = "ATTRIBUTES")]
    info: Vec<Info>,
    #[command(flatten)]
    rest: RestArgs,
}

pub(crate) async fn run(args: Args) -> Result<(), Failure> {
    let options = TriggerOptions {
        socket_id: args.socket_id,
        info: args.info,
    };
    let (channels, event) = (&args.channels, &args.event);
    // A `&str` goes out as the REST `data` string itself, so JSON and plain text both arrive
    // at subscribers byte for byte.
    let data = args.data.as_str();
    args.rest
        .ask(
            async |c| c.trigger_with(channels, event, data, &options).await,
            |reply| human(event, channels, reply),
        )
        .await
}

fn human(event: &str, channels: &[String], reply: &TriggerReply) -> String {
    let mut text = format!("sent {event:?} to {}\n", channels.join(", "));
    for (name, attributes) in &reply.channels {
        let _ = writeln!(
            text,
            "{name}: {}",
            output::attributes(attributes.user_count, attributes.subscription_count)
        );
    }
    text
}

#[cfg(test)]
mod tests {
    use pusherable_client::ChannelAttributes;

    use super::*;

    #[test]
    fn human_output() {
        let channels = ["news".to_owned(), "presence-room".to_owned()];
        assert_eq!(
            human("headline", &channels, &TriggerReply::default()),
            "sent \"headline\" to news, presence-room\n"
        );
        let mut reply = TriggerReply::default();
        reply.channels.insert(
            "presence-room".into(),
            ChannelAttributes {
                user_count: Some(2),
                subscription_count: None,
            },
        );
        assert_eq!(
            human("headline", &channels, &reply),
            "sent \"headline\" to news, presence-room\npresence-room: user_count 2\n"
        );
    }
}
