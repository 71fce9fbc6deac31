//! Calls about one signed-in user: sending to all their connections, disconnecting them.

use pusherable_protocol::ChannelName;
use serde::Serialize;

use crate::{
    error::{Error, InvalidInput},
    trigger::{encode_data, TriggerOptions},
    Client,
};

impl Client {
    /// Sends `event` to every connection signed in as `user_id`, through the user's
    /// `#server-to-user-{user_id}` channel. pusher-js emits it on `pusher.user`.
    ///
    /// `data` is encoded as for [`trigger`](Self::trigger).
    ///
    /// ```no_run
    /// # async fn run(client: pusherable_client::Client) -> Result<(), pusherable_client::Error> {
    /// client.send_to_user("user-42", "notice", &serde_json::json!({"text": "Saved"})).await?;
    /// # Ok(())
    /// # }
    /// ```
    pub async fn send_to_user(
        &self,
        user_id: &str,
        event: &str,
        data: &(impl Serialize + ?Sized),
    ) -> Result<(), Error> {
        let channel = user_channel(user_id)?;
        let body = self.event_body(
            &[channel],
            event,
            encode_data(data)?,
            &TriggerOptions::default(),
        )?;
        self.post("/events", &body).await.map(drop)
    }

    /// Closes every connection signed in as `user_id`. Connections that only carry that id as
    /// a presence member are not affected.
    ///
    /// ```no_run
    /// # async fn run(client: pusherable_client::Client) -> Result<(), pusherable_client::Error> {
    /// client.terminate_user_connections("user-42").await?;
    /// # Ok(())
    /// # }
    /// ```
    pub async fn terminate_user_connections(&self, user_id: &str) -> Result<(), Error> {
        user_channel(user_id)?;
        let route = format!("/users/{user_id}/terminate_connections");
        // The body is `{}`, as the official libraries send it; the reply is `{}` too, read
        // only to check that it is JSON.
        self.post(&route, &serde_json::Map::new())
            .await?
            .json::<serde_json::Value>()
            .map(drop)
    }
}

/// A user id is valid where its `#server-to-user-` channel is; that also keeps it safe in a path.
pub(crate) fn user_channel(user_id: &str) -> Result<ChannelName, InvalidInput> {
    ChannelName::for_user(user_id).map_err(|_| InvalidInput::UserId(user_id.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_ids_follow_channel_name_rules() {
        assert_eq!(
            user_channel("user-1").unwrap().as_str(),
            "#server-to-user-user-1"
        );
        for bad in ["", "a/b", "a b", "a?b", "a#b", "ü"] {
            assert!(
                matches!(user_channel(bad), Err(InvalidInput::UserId(_))),
                "{bad}"
            );
        }
    }
}
