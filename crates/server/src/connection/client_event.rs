//! `client-…` events (PROTOCOL.md §2.2): relayed to the channel's other subscribers.

use pusherable_protocol::{code::ErrorCode, limits};

use super::Connection;
use crate::fanout;

impl Connection {
    pub(super) fn client_event(&mut self, event: &str, channel: &str, data: &str) {
        if let Err(message) = self.check_client_event(event, channel, data) {
            self.error(ErrorCode::ClientEventRejected, &message);
        }
    }

    fn check_client_event(&mut self, event: &str, channel: &str, data: &str) -> Result<(), String> {
        let config = &self.app.config;
        if !config.client_events {
            return Err("Client events are not enabled for this app".into());
        }
        if !self.client_events.allow(limits::CLIENT_EVENTS_PER_SECOND) {
            return Err("Client event rejected due to rate limit".into());
        }
        let Some((name, user_id)) = self.peer.joined(channel) else {
            return Err(format!(
                "Client event rejected: not subscribed to {channel}"
            ));
        };
        if !name.kind().allows_client_events() {
            return Err(format!(
                "Client event rejected: only private and presence channels carry client events, not {channel}"
            ));
        }
        if event.chars().count() > limits::EVENT_NAME_MAX {
            return Err(format!(
                "Client event rejected: name longer than {}",
                limits::EVENT_NAME_MAX
            ));
        }
        if data.len() > config.max_event_bytes {
            return Err(format!(
                "Client event rejected: data is {} bytes, the limit is {}",
                data.len(),
                config.max_event_bytes
            ));
        }
        fanout::client_event(
            &self.app,
            &self.peer,
            &name,
            user_id.as_deref(),
            event,
            data,
        );
        Ok(())
    }
}
