//! `pusher:signin` (PROTOCOL.md §2.5, §2.6): user authentication.

use std::sync::Arc;

use pusherable_protocol::{code::ErrorCode, limits, outbound, sign};
use serde_json::Value;

use super::Connection;
use crate::{fanout, state::User};

impl Connection {
    pub(super) fn signin(&mut self, auth: &str, user_data: &str) {
        match self.try_signin(auth, user_data) {
            Ok((statuses, truncated)) => {
                self.peer
                    .outbox
                    .push_text(outbound::signin_success(user_data));
                if let Some(frame) = statuses {
                    self.peer.outbox.push_text(frame);
                }
                if truncated {
                    self.error(
                        ErrorCode::WatchlistLimit,
                        &format!(
                            "Watchlist limit exceeded: only the first {} ids are watched",
                            limits::WATCHLIST_MAX
                        ),
                    );
                }
            }
            Err(message) => self.error(ErrorCode::Unauthorized, &message),
        }
    }

    /// Signs the connection in. Returns the watchlist status frame, and whether the watchlist
    /// had to be cut to its limit.
    fn try_signin(
        &mut self,
        auth: &str,
        user_data: &str,
    ) -> Result<(Option<String>, bool), String> {
        let config = &self.app.config;
        let sts = sign::user_string_to_sign(self.peer.socket_id.as_str(), user_data);
        sign::verify_auth(&config.key, &config.secret, auth, &sts).map_err(|e| e.to_string())?;
        let value: Value = serde_json::from_str(user_data)
            .map_err(|_| "Invalid user_data: not JSON".to_owned())?;
        let id = match value.get("id") {
            Some(Value::String(s)) if !s.is_empty() => s.as_str(),
            _ => return Err("Invalid user_data: id must be a non-empty string".into()),
        };
        if id.len() > limits::CHANNEL_NAME_MAX_LIBRARIES
            || pusherable_protocol::ChannelName::for_user(id).is_err()
        {
            return Err("Invalid user_data: id has characters a channel name cannot hold".into());
        }
        let info = value
            .get("user_info")
            .map_or_else(|| "null".to_owned(), Value::to_string);
        let mut watchlist: Vec<Arc<str>> = match value.get("watchlist") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Array(ids)) => ids
                .iter()
                .map(|v| match v {
                    Value::String(s) => Ok(Arc::from(s.as_str())),
                    Value::Number(n) => Ok(Arc::from(n.to_string())),
                    _ => Err("Invalid user_data: watchlist holds user ids".to_owned()),
                })
                .collect::<Result<_, _>>()?,
            Some(_) => return Err("Invalid user_data: watchlist must be an array".into()),
        };
        let truncated = watchlist.len() > limits::WATCHLIST_MAX;
        watchlist.truncate(limits::WATCHLIST_MAX);
        let user = User {
            id: Arc::from(id),
            info: Arc::from(info),
            watchlist,
        };
        let signed_in = fanout::sign_in(&self.app, &self.peer, user)
            .map_err(|current| format!("Already signed in as another user ({current})"))?;
        // Signing in again as the same user changes nothing.
        let Some(signed_in) = signed_in else {
            return Ok((None, false));
        };
        let events = [
            ("online", signed_in.online.as_slice()),
            ("offline", signed_in.offline.as_slice()),
        ];
        let statuses =
            (!(signed_in.online.is_empty() && signed_in.offline.is_empty())).then(|| {
                outbound::watchlist_events(events.into_iter().filter(|(_, ids)| !ids.is_empty()))
            });
        Ok((statuses, truncated))
    }
}
