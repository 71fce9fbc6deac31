//! The one error type of the client, and the checks that fail before anything is sent.

use std::fmt;

use pusherable_protocol::{auth::AuthorizeError, ChannelNameError};

/// What went wrong, coarsely: match on this to decide what to do.
///
/// ```
/// use pusherable_client::{Client, ErrorKind};
/// let err = Client::from_url("ftp://key:secret@example.com/apps/1").unwrap_err();
/// assert_eq!(err.kind(), ErrorKind::InvalidInput);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The server answered 400: the request broke a rule the client does not check.
    BadRequest,
    /// The server answered 401: wrong key or secret, or a clock more than 600 s off.
    Authentication,
    /// The server answered 403: the app is disabled or over its quota.
    Forbidden,
    /// The server answered 413, or the event data is over 10 KB and was not sent.
    PayloadTooLarge,
    /// The server answered 404: unknown app id or route.
    NotFound,
    /// The server answered another non-2xx status.
    UnexpectedStatus,
    /// The server answered 2xx with a body that is not the documented JSON.
    InvalidReply,
    /// The connection failed or broke before a full reply arrived.
    Network,
    /// No reply within the configured timeout.
    Timeout,
    /// The arguments or the configuration were refused before anything was sent.
    InvalidInput,
}

impl ErrorKind {
    fn from_status(status: u16) -> Self {
        match status {
            400 => Self::BadRequest,
            401 => Self::Authentication,
            403 => Self::Forbidden,
            404 => Self::NotFound,
            413 => Self::PayloadTooLarge,
            _ => Self::UnexpectedStatus,
        }
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::BadRequest => "bad request",
            Self::Authentication => "authentication failed",
            Self::Forbidden => "forbidden",
            Self::PayloadTooLarge => "payload too large",
            Self::NotFound => "not found",
            Self::UnexpectedStatus => "unexpected status",
            Self::InvalidReply => "invalid reply",
            Self::Network => "network error",
            Self::Timeout => "timed out",
            Self::InvalidInput => "invalid input",
        })
    }
}

/// Every failure of a [`Client`](crate::Client) call.
///
/// A reply from the server keeps its status and body, so a caller can log what the server said.
///
/// ```
/// use pusherable_client::{Client, ErrorKind};
/// # async fn run(client: Client) {
/// match client.trigger(&["my-channel"], "my-event", "hello").await {
///     Ok(()) => {}
///     Err(e) if e.kind() == ErrorKind::Timeout => { /* retry later */ }
///     Err(e) => eprintln!("status {:?}, body {:?}: {e}", e.status(), e.body()),
/// }
/// # }
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Refused before sending; nothing went over the network.
    #[error(transparent)]
    InvalidInput(#[from] InvalidInput),
    /// The server answered with a status other than 2xx.
    #[error("{kind}: HTTP {status}: {body}")]
    Status {
        /// What the status means.
        kind: ErrorKind,
        /// The HTTP status code.
        status: u16,
        /// The reply body as text (cut at 64 KiB).
        body: String,
    },
    /// The server answered 2xx, but not with the JSON the API documents.
    #[error("invalid reply (HTTP {status}): {source}: {body}")]
    InvalidReply {
        /// The HTTP status code.
        status: u16,
        /// The reply body as text (cut at 64 KiB).
        body: String,
        /// Why it did not parse.
        source: serde_json::Error,
    },
    /// No reply within the configured timeout.
    #[error("request timed out")]
    Timeout(#[source] reqwest::Error),
    /// The connection failed, or the reply was cut short.
    #[error("network error: {0}")]
    Network(#[source] reqwest::Error),
}

impl Error {
    /// What kind of failure this is.
    ///
    /// ```
    /// use pusherable_client::{Error, ErrorKind, InvalidInput};
    /// let e = Error::from(InvalidInput::NoChannels);
    /// assert_eq!(e.kind(), ErrorKind::InvalidInput);
    /// ```
    pub fn kind(&self) -> ErrorKind {
        match self {
            Self::InvalidInput(InvalidInput::DataTooLarge { .. }) => ErrorKind::PayloadTooLarge,
            Self::InvalidInput(_) => ErrorKind::InvalidInput,
            Self::Status { kind, .. } => *kind,
            Self::InvalidReply { .. } => ErrorKind::InvalidReply,
            Self::Timeout(_) => ErrorKind::Timeout,
            Self::Network(_) => ErrorKind::Network,
        }
    }

    /// The HTTP status, when the server answered.
    ///
    /// ```
    /// use pusherable_client::{Error, InvalidInput};
    /// assert_eq!(Error::from(InvalidInput::NoChannels).status(), None);
    /// ```
    pub fn status(&self) -> Option<u16> {
        match self {
            Self::Status { status, .. } | Self::InvalidReply { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// The reply body, when the server answered.
    ///
    /// ```
    /// use pusherable_client::{Error, InvalidInput};
    /// assert_eq!(Error::from(InvalidInput::NoChannels).body(), None);
    /// ```
    pub fn body(&self) -> Option<&str> {
        match self {
            Self::Status { body, .. } | Self::InvalidReply { body, .. } => Some(body),
            _ => None,
        }
    }

    pub(crate) fn from_status(status: u16, body: String) -> Self {
        Self::Status {
            kind: ErrorKind::from_status(status),
            status,
            body,
        }
    }

    pub(crate) fn from_reqwest(e: reqwest::Error) -> Self {
        if e.is_timeout() {
            Self::Timeout(e)
        } else {
            Self::Network(e)
        }
    }
}

/// A check that failed before anything was sent.
///
/// ```
/// use pusherable_client::InvalidInput;
/// let e = InvalidInput::TooManyChannels { count: 101, max: 100 };
/// assert_eq!(e.to_string(), "101 channels in one trigger; at most 100 are allowed");
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum InvalidInput {
    /// A channel name breaks the naming rules.
    #[error("invalid channel name {name:?}: {source}")]
    ChannelName {
        /// The name given.
        name: String,
        /// The rule it breaks.
        source: ChannelNameError,
    },
    /// A trigger named no channel.
    #[error("a trigger needs at least one channel")]
    NoChannels,
    /// A trigger named too many channels.
    #[error("{count} channels in one trigger; at most {max} are allowed")]
    TooManyChannels {
        /// How many were given.
        count: usize,
        /// The limit.
        max: usize,
    },
    /// A trigger names an encrypted channel along with others; each encrypted channel has its
    /// own key, so its event must be sent on its own.
    #[error("an event for a private-encrypted- channel must name that channel only")]
    EncryptedWithOthers,
    /// An event name is empty or too long.
    #[error("event name must be 1 to {max} characters; got {len}")]
    EventName {
        /// Its length in characters.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// Event data is larger than the API accepts.
    #[error("event data is {bytes} bytes; at most {max} are allowed")]
    DataTooLarge {
        /// Its size as sent (after encryption, for encrypted channels).
        bytes: usize,
        /// The limit.
        max: usize,
    },
    /// Event data could not be turned into JSON.
    #[error("event data is not serializable to JSON: {0}")]
    Data(#[source] serde_json::Error),
    /// A batch is empty or too long.
    #[error("a batch holds 1 to {max} events; got {count}")]
    BatchSize {
        /// How many were given.
        count: usize,
        /// The limit.
        max: usize,
    },
    /// A socket id is not two runs of digits joined by a dot.
    #[error("invalid socket_id {0:?}: expected two runs of digits joined by a dot")]
    SocketId(String),
    /// A user id is empty, or has a character channel names may not have.
    #[error("invalid user id {0:?}")]
    UserId(String),
    /// A user object for sign-in lacks a non-empty string `id`, or is not a JSON object.
    #[error("user data must be a JSON object with a non-empty string \"id\"")]
    UserData,
    /// A presence member's id or info is over the documented limits.
    #[error("presence member: {0}")]
    PresenceMember(&'static str),
    /// The channel kind does not allow this call (for example, authorizing a public channel).
    #[error("{call} is not possible on channel {channel:?}")]
    WrongChannelKind {
        /// The call.
        call: &'static str,
        /// The channel given.
        channel: String,
    },
    /// A `private-encrypted-` channel was used, but no encryption master key is configured.
    #[error("channel {0:?} is end-to-end encrypted, but no encryption master key is configured")]
    NoEncryptionKey(String),
    /// The encryption master key is not the base64 of exactly 32 bytes.
    #[error("the encryption master key must be the base64 of exactly 32 bytes")]
    EncryptionKey,
    /// An `info` attribute that the REST API does not know.
    #[error("unknown info attribute {0:?}; expected user_count, subscription_count or cache")]
    Info(String),
    /// The configuration does not make a usable endpoint.
    #[error("invalid configuration: {0}")]
    Config(String),
}

impl From<AuthorizeError> for InvalidInput {
    fn from(e: AuthorizeError) -> Self {
        match e {
            AuthorizeError::SocketId(id) => Self::SocketId(id),
            AuthorizeError::ChannelName { name, source } => Self::ChannelName { name, source },
            AuthorizeError::WrongChannelKind(channel) => Self::WrongChannelKind {
                call: "authorization",
                channel,
            },
            AuthorizeError::PresenceMember(why) => Self::PresenceMember(why),
            AuthorizeError::UserData => Self::UserData,
            AuthorizeError::UserId(id) => Self::UserId(id),
        }
    }
}
