//! Triggering events: one event on many channels, or a batch of events.
//!
//! Every rule the REST API would answer with 400 or 413 is checked here first, so a bad call
//! fails at once with a typed [`InvalidInput`] instead of a round trip.

use pusherable_protocol::{
    limits::{
        BATCH_EVENTS_MAX, CHANNEL_NAME_MAX_LIBRARIES, EVENT_DATA_MAX, EVENT_NAME_MAX,
        TRIGGER_CHANNELS_MAX,
    },
    rest::{BatchBody, BatchEvent, BatchReply, TriggerBody, TriggerReply},
    ChannelKind, ChannelName, SocketId,
};
use serde::Serialize;

use crate::{
    channels::{join_info, Info},
    error::{Error, InvalidInput},
    Client,
};

/// Optional parts of a trigger.
///
/// ```
/// use pusherable_client::{Info, TriggerOptions};
/// let options = TriggerOptions {
///     socket_id: Some("1234.1234".into()),
///     info: vec![Info::SubscriptionCount],
/// };
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TriggerOptions {
    /// The connection that caused the event, which should not receive it (its socket id).
    pub socket_id: Option<String>,
    /// Attributes of each channel to return with the reply.
    pub info: Vec<Info>,
}

/// One event of a [`Client::trigger_batch`].
///
/// ```
/// use pusherable_client::{Event, Info};
/// let event = Event::new("presence-room", "joined", &serde_json::json!({"id": 7}))?
///     .socket_id("1234.1234")
///     .info(&[Info::UserCount]);
/// # Ok::<(), pusherable_client::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    channel: String,
    name: String,
    /// Already in its wire form, so that a serialization error shows where the event is made.
    data: String,
    socket_id: Option<String>,
    info: Vec<Info>,
}

impl Event {
    /// An event named `name` on `channel`. `data` that serializes to a JSON string (a `&str`, a
    /// `String`) is sent as that string; anything else is sent as its JSON text.
    ///
    /// ```
    /// use pusherable_client::Event;
    /// let text = Event::new("news", "headline", "plain text")?;
    /// let json = Event::new("news", "story", &serde_json::json!({"id": 1}))?;
    /// # Ok::<(), pusherable_client::Error>(())
    /// ```
    pub fn new(
        channel: impl Into<String>,
        name: impl Into<String>,
        data: &(impl Serialize + ?Sized),
    ) -> Result<Self, Error> {
        Ok(Self {
            channel: channel.into(),
            name: name.into(),
            data: encode_data(data)?,
            socket_id: None,
            info: Vec::new(),
        })
    }

    /// Leaves out the connection with this socket id.
    ///
    /// ```
    /// let event = pusherable_client::Event::new("news", "headline", "x")?.socket_id("1.2");
    /// # Ok::<(), pusherable_client::Error>(())
    /// ```
    pub fn socket_id(mut self, socket_id: impl Into<String>) -> Self {
        self.socket_id = Some(socket_id.into());
        self
    }

    /// Asks for these attributes of the channel in the batch reply.
    ///
    /// ```
    /// use pusherable_client::{Event, Info};
    /// let event = Event::new("news", "headline", "x")?.info(&[Info::SubscriptionCount]);
    /// # Ok::<(), pusherable_client::Error>(())
    /// ```
    pub fn info(mut self, info: &[Info]) -> Self {
        self.info = info.to_vec();
        self
    }
}

impl Client {
    /// Triggers `event` on each of `channels` (1 to 100).
    ///
    /// `data` that serializes to a JSON string (a `&str`, a `String`) is sent as that string;
    /// anything else is sent as its JSON text, which pusher-js parses back. On a
    /// `private-encrypted-` channel (which must then be the only one) the data is encrypted with
    /// the channel's key first.
    ///
    /// ```no_run
    /// # async fn run(client: pusherable_client::Client) -> Result<(), pusherable_client::Error> {
    /// client.trigger(&["article-1", "article-2"], "update", &serde_json::json!({"title": "Hi"})).await?;
    /// client.trigger(&["ticker"], "tick", "42").await?;
    /// # Ok(())
    /// # }
    /// ```
    pub async fn trigger(
        &self,
        channels: &[impl AsRef<str>],
        event: &str,
        data: &(impl Serialize + ?Sized),
    ) -> Result<(), Error> {
        let body = self.trigger_body(channels, event, data, &TriggerOptions::default())?;
        self.post("/events", &body).await.map(drop)
    }

    /// [`trigger`](Self::trigger) with a socket id to leave out and channel attributes to
    /// return.
    ///
    /// ```no_run
    /// use pusherable_client::{Info, TriggerOptions};
    /// # async fn run(client: pusherable_client::Client) -> Result<(), pusherable_client::Error> {
    /// let options = TriggerOptions { socket_id: None, info: vec![Info::SubscriptionCount] };
    /// let reply = client.trigger_with(&["news"], "headline", "Hi", &options).await?;
    /// println!("{:?}", reply.channels["news"].subscription_count);
    /// # Ok(())
    /// # }
    /// ```
    pub async fn trigger_with(
        &self,
        channels: &[impl AsRef<str>],
        event: &str,
        data: &(impl Serialize + ?Sized),
        options: &TriggerOptions,
    ) -> Result<TriggerReply, Error> {
        let body = self.trigger_body(channels, event, data, options)?;
        self.post("/events", &body).await?.json()
    }

    /// Triggers up to 10 events, each on its own channel, in one request.
    ///
    /// Entry `i` of the reply's `batch` answers event `i` when any event asked for
    /// [`info`](Event::info).
    ///
    /// ```no_run
    /// use pusherable_client::Event;
    /// # async fn run(client: pusherable_client::Client) -> Result<(), pusherable_client::Error> {
    /// client.trigger_batch(&[
    ///     Event::new("article-1", "update", "first")?,
    ///     Event::new("article-2", "delete", "second")?,
    /// ]).await?;
    /// # Ok(())
    /// # }
    /// ```
    pub async fn trigger_batch(&self, events: &[Event]) -> Result<BatchReply, Error> {
        if events.is_empty() || events.len() > BATCH_EVENTS_MAX {
            return Err(InvalidInput::BatchSize {
                count: events.len(),
                max: BATCH_EVENTS_MAX,
            }
            .into());
        }
        let batch = events
            .iter()
            .map(|e| {
                let channel = parse_channel(&e.channel)?;
                check_event_name(&e.name)?;
                Ok(BatchEvent {
                    data: self.wire_data(&channel, e.data.clone())?,
                    channel: e.channel.clone(),
                    name: e.name.clone(),
                    socket_id: check_socket_id(e.socket_id.as_deref())?,
                    info: join_info(&e.info),
                })
            })
            .collect::<Result<Vec<_>, InvalidInput>>()?;
        self.post("/batch_events", &BatchBody { batch })
            .await?
            .json()
    }

    fn trigger_body(
        &self,
        channels: &[impl AsRef<str>],
        event: &str,
        data: &(impl Serialize + ?Sized),
        options: &TriggerOptions,
    ) -> Result<TriggerBody, InvalidInput> {
        if channels.is_empty() {
            return Err(InvalidInput::NoChannels);
        }
        if channels.len() > TRIGGER_CHANNELS_MAX {
            return Err(InvalidInput::TooManyChannels {
                count: channels.len(),
                max: TRIGGER_CHANNELS_MAX,
            });
        }
        let names = channels
            .iter()
            .map(|c| parse_channel(c.as_ref()))
            .collect::<Result<Vec<_>, _>>()?;
        self.event_body(&names, event, encode_data(data)?, options)
    }

    /// The body of `POST /events` for already valid channel names.
    pub(crate) fn event_body(
        &self,
        channels: &[ChannelName],
        event: &str,
        data: String,
        options: &TriggerOptions,
    ) -> Result<TriggerBody, InvalidInput> {
        let encrypted = channels
            .iter()
            .any(|c| c.kind() == ChannelKind::PrivateEncrypted);
        if encrypted && channels.len() > 1 {
            return Err(InvalidInput::EncryptedWithOthers);
        }
        check_event_name(event)?;
        let socket_id = check_socket_id(options.socket_id.as_deref())?;
        let data = match channels.first() {
            Some(first) => self.wire_data(first, data)?,
            None => return Err(InvalidInput::NoChannels),
        };
        Ok(TriggerBody {
            name: event.to_owned(),
            data,
            channels: Some(channels.iter().map(|c| c.as_str().to_owned()).collect()),
            channel: None,
            socket_id,
            info: join_info(&options.info),
        })
    }

    /// The `data` as it goes on the wire for `channel`: encrypted on `private-encrypted-`
    /// channels, and within the size limit either way.
    fn wire_data(&self, channel: &ChannelName, data: String) -> Result<String, InvalidInput> {
        let data = if channel.kind() == ChannelKind::PrivateEncrypted {
            let key = self
                .inner
                .master_key
                .as_ref()
                .ok_or_else(|| InvalidInput::NoEncryptionKey(channel.as_str().to_owned()))?;
            key.seal(channel, &data)
        } else {
            data
        };
        if data.len() > EVENT_DATA_MAX {
            return Err(InvalidInput::DataTooLarge {
                bytes: data.len(),
                max: EVENT_DATA_MAX,
            });
        }
        Ok(data)
    }
}

/// The REST `data` string: a value whose JSON is a string is sent as that string (what the
/// official libraries do with a string argument); anything else as its JSON text.
pub(crate) fn encode_data(data: &(impl Serialize + ?Sized)) -> Result<String, InvalidInput> {
    let json = serde_json::to_string(data).map_err(InvalidInput::Data)?;
    if json.starts_with('"') {
        serde_json::from_str(&json).map_err(InvalidInput::Data)
    } else {
        Ok(json)
    }
}

/// Channel names are checked with the official libraries' 200-character limit; a server with a
/// stricter limit answers 400.
pub(crate) fn parse_channel(name: &str) -> Result<ChannelName, InvalidInput> {
    ChannelName::parse(name, CHANNEL_NAME_MAX_LIBRARIES).map_err(|source| {
        InvalidInput::ChannelName {
            name: name.to_owned(),
            source,
        }
    })
}

fn check_event_name(name: &str) -> Result<(), InvalidInput> {
    let len = name.chars().count();
    if len == 0 || len > EVENT_NAME_MAX {
        return Err(InvalidInput::EventName {
            len,
            max: EVENT_NAME_MAX,
        });
    }
    Ok(())
}

pub(crate) fn check_socket_id(socket_id: Option<&str>) -> Result<Option<String>, InvalidInput> {
    socket_id
        .map(|id| {
            SocketId::parse(id)
                .map(|_| id.to_owned())
                .map_err(|_| InvalidInput::SocketId(id.to_owned()))
        })
        .transpose()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client() -> Client {
        Client::builder("3", "278d425bdf160c739803", "7ad3773142a6692b25b8")
            .encryption_master_key([7; 32])
            .build()
            .unwrap()
    }

    fn body(
        channels: &[&str],
        event: &str,
        data: &(impl Serialize + ?Sized),
    ) -> Result<TriggerBody, InvalidInput> {
        client().trigger_body(channels, event, data, &TriggerOptions::default())
    }

    #[test]
    fn strings_go_as_is_and_values_as_json() {
        assert_eq!(body(&["a"], "e", "plain").unwrap().data, "plain");
        assert_eq!(
            body(&["a"], "e", &String::from("{\"x\":1}")).unwrap().data,
            "{\"x\":1}"
        );
        assert_eq!(
            body(&["a"], "e", &serde_json::json!({"x": [1, "y"]}))
                .unwrap()
                .data,
            r#"{"x":[1,"y"]}"#
        );
        assert_eq!(body(&["a"], "e", &5).unwrap().data, "5");
        assert_eq!(
            body(&["a"], "e", "quote \" and \\").unwrap().data,
            "quote \" and \\"
        );
    }

    #[test]
    fn body_shape() {
        let options = TriggerOptions {
            socket_id: Some("1234.1234".into()),
            info: vec![Info::UserCount, Info::SubscriptionCount],
        };
        let b = client()
            .trigger_body(&["a", "presence-b"], "e", "d", &options)
            .unwrap();
        assert_eq!(
            serde_json::to_string(&b).unwrap(),
            r#"{"name":"e","data":"d","channels":["a","presence-b"],"socket_id":"1234.1234","info":"user_count,subscription_count"}"#
        );
    }

    #[test]
    fn checks_before_sending() {
        let names: Vec<String> = (0..101).map(|i| format!("c{i}")).collect();
        let too_many = client().trigger_body(&names, "e", "d", &TriggerOptions::default());
        assert!(matches!(
            too_many,
            Err(InvalidInput::TooManyChannels { count: 101, .. })
        ));
        assert!(client()
            .trigger_body(&names[..100], "e", "d", &TriggerOptions::default())
            .is_ok());
        assert!(matches!(body(&[], "e", "d"), Err(InvalidInput::NoChannels)));
        assert!(matches!(
            body(&["bad name"], "e", "d"),
            Err(InvalidInput::ChannelName { .. })
        ));
        assert!(matches!(
            body(&["a"], "", "d"),
            Err(InvalidInput::EventName { len: 0, .. })
        ));
        assert!(body(&["a"], &"é".repeat(200), "d").is_ok());
        assert!(matches!(
            body(&["a"], &"é".repeat(201), "d"),
            Err(InvalidInput::EventName { len: 201, .. })
        ));
        assert!(body(&["a"], "e", &"x".repeat(10 * 1024)).is_ok());
        assert!(matches!(
            body(&["a"], "e", &"x".repeat(10 * 1024 + 1)),
            Err(InvalidInput::DataTooLarge { bytes: 10241, .. })
        ));
        let bad_socket = TriggerOptions {
            socket_id: Some("1.2.3".into()),
            info: vec![],
        };
        assert!(matches!(
            client().trigger_body(&["a"], "e", "d", &bad_socket),
            Err(InvalidInput::SocketId(_))
        ));
    }

    #[test]
    fn encrypted_channels_go_alone_and_need_a_key() {
        assert!(matches!(
            body(&["private-encrypted-a", "b"], "e", "d"),
            Err(InvalidInput::EncryptedWithOthers)
        ));
        let sealed = body(&["private-encrypted-a"], "e", "secret").unwrap();
        assert!(sealed.data.starts_with(r#"{"nonce":""#));
        assert!(!sealed.data.contains("secret"));
        let keyless = Client::builder("3", "k", "s").build().unwrap();
        assert!(matches!(
            keyless.trigger_body(
                &["private-encrypted-a"],
                "e",
                "d",
                &TriggerOptions::default()
            ),
            Err(InvalidInput::NoEncryptionKey(_))
        ));
        // The limit applies to what is sent: ciphertext is larger than the plaintext.
        assert!(matches!(
            body(&["private-encrypted-a"], "e", &"x".repeat(8 * 1024)),
            Err(InvalidInput::DataTooLarge { .. })
        ));
    }
}
