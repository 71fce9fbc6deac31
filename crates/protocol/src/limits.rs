//! The documented limits of Pusher Channels (PROTOCOL.md §3).

/// Longest channel name Pusher's documentation allows, prefix included.
///
/// The official server libraries accept up to [`CHANNEL_NAME_MAX_LIBRARIES`]; pusherable uses
/// this stricter value by default and lets an app raise it.
pub const CHANNEL_NAME_MAX: usize = 164;
/// Longest channel name the official server libraries accept.
pub const CHANNEL_NAME_MAX_LIBRARIES: usize = 200;
/// Longest event name, in characters.
pub const EVENT_NAME_MAX: usize = 200;
/// Largest `data` of one event, in bytes (REST and client events alike).
pub const EVENT_DATA_MAX: usize = 10 * 1024;
/// Most channels one REST trigger may name.
pub const TRIGGER_CHANNELS_MAX: usize = 100;
/// Most events in one `batch_events` call.
pub const BATCH_EVENTS_MAX: usize = 10;
/// Most distinct users on one presence channel.
pub const PRESENCE_MEMBERS_MAX: usize = 100;
/// Largest `user_info` of a presence member, in bytes of JSON.
pub const PRESENCE_USER_INFO_MAX: usize = 1024;
/// Longest presence user id, in characters.
pub const PRESENCE_USER_ID_MAX: usize = 128;
/// Client events one connection may send per second.
pub const CLIENT_EVENTS_PER_SECOND: u32 = 10;
/// Most user ids one signed-in user may watch.
pub const WATCHLIST_MAX: usize = 100;
/// Largest WebSocket message the server reads, in bytes; larger ones close with 1009.
pub const WS_MESSAGE_MAX: usize = 64 * 1024;
/// Seconds of silence after which a ping is due (sent in `connection_established`).
pub const ACTIVITY_TIMEOUT_SECS: u64 = 120;
/// Seconds to wait for a pong (or any message) after a ping before closing with 4201.
pub const PONG_TIMEOUT_SECS: u64 = 30;
/// How far a REST `auth_timestamp` may be from the server's clock, exclusive, in seconds.
pub const REST_TIMESTAMP_WINDOW_SECS: u64 = 600;
/// Lowest and highest protocol versions the server accepts.
pub const PROTOCOL_VERSIONS: std::ops::RangeInclusive<u32> = 4..=7;
