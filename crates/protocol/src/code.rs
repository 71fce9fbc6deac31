//! Close codes and `pusher:error` codes (PROTOCOL.md §1.2, §1.3).
//!
//! What pusher-js does on a close code decides which one to use: 4000–4099 and ≥ 4300 end the
//! client for good, 4100–4199 make it back off for a second, 4200–4299 make it retry at once.

/// A WebSocket close code the server sends, and why.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u16)]
pub enum CloseCode {
    /// No app has this key.
    AppNotFound = 4001,
    /// The app is disabled.
    AppDisabled = 4003,
    /// The app has as many connections as it may.
    OverConnectionQuota = 4004,
    /// The WebSocket path is not `/app/{key}`.
    PathNotFound = 4005,
    /// The `version` query parameter is malformed.
    InvalidVersion = 4006,
    /// The protocol version is not supported (1–3, above 7, or not a number).
    UnsupportedProtocol = 4007,
    /// No protocol version was given.
    NoProtocol = 4008,
    /// The connection is not authorized (origin, sign-in timeout, terminated by the app).
    Unauthorized = 4009,
    /// The server is over capacity or shutting down, or this client reads too slowly: back off,
    /// then reconnect.
    OverCapacity = 4100,
    /// The client did not answer a ping in time.
    PongTimeout = 4201,
    /// A WebSocket message was larger than the server reads (RFC 6455 "message too big").
    MessageTooBig = 1009,
}

impl CloseCode {
    /// The number on the wire.
    pub fn code(self) -> u16 {
        self as u16
    }

    /// The code with this number, if the server sends it.
    ///
    /// ```
    /// use pusherable_protocol::CloseCode;
    /// assert_eq!(CloseCode::from_code(4100), Some(CloseCode::OverCapacity));
    /// assert_eq!(CloseCode::from_code(1000), None);
    /// ```
    pub fn from_code(code: u16) -> Option<Self> {
        [
            Self::AppNotFound,
            Self::AppDisabled,
            Self::OverConnectionQuota,
            Self::PathNotFound,
            Self::InvalidVersion,
            Self::UnsupportedProtocol,
            Self::NoProtocol,
            Self::Unauthorized,
            Self::OverCapacity,
            Self::PongTimeout,
            Self::MessageTooBig,
        ]
        .into_iter()
        .find(|c| c.code() == code)
    }

    /// The reason text sent with the close frame.
    pub fn reason(self) -> &'static str {
        match self {
            Self::AppNotFound => "Application does not exist",
            Self::AppDisabled => "Application is disabled",
            Self::OverConnectionQuota => "Application is over connection quota",
            Self::PathNotFound => "Path not found",
            Self::InvalidVersion => "Invalid version string format",
            Self::UnsupportedProtocol => "Unsupported protocol version",
            Self::NoProtocol => "No protocol version supplied",
            Self::Unauthorized => "Connection is unauthorized",
            Self::OverCapacity => "Over capacity",
            Self::PongTimeout => "Pong reply not received",
            Self::MessageTooBig => "Message too big",
        }
    }
}

/// The `code` of a `pusher:error` frame that leaves the socket open.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u16)]
pub enum ErrorCode {
    /// The frame was not understood (not JSON, a field missing or of the wrong type, a binary
    /// frame, an unknown `pusher:` event). The socket stays open: sent as a message, 4200 is
    /// harmless, where as a close code it would make pusher-js reconnect in a tight loop.
    InvalidMessage = 4200,
    /// Sign-in failed.
    Unauthorized = 4009,
    /// A client event was rejected (rate limit, not allowed on this channel, not subscribed…).
    ClientEventRejected = 4301,
    /// More than 100 ids in a watchlist; the first 100 were kept.
    WatchlistLimit = 4302,
}

impl ErrorCode {
    /// The number on the wire.
    pub fn code(self) -> u16 {
        self as u16
    }
}
