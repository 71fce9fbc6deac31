//! What an app's auth endpoint signs: `pusherable_protocol::auth`.

use pusherable_protocol::auth::{authenticate_user, authorize_channel, PresenceMember};
use pusherable_protocol::limits::{
    CHANNEL_NAME_MAX_LIBRARIES, PRESENCE_USER_ID_MAX, PRESENCE_USER_INFO_MAX,
};
use pusherable_protocol::sign;
use pusherable_protocol::{ChannelName, SocketId};
use serde_json::Value;

use crate::{fields, text};

/// Any socket id, channel, user id and user info or user data is refused or signed without
/// panicking; what is signed keeps every rule (a socket id of the server's form, a channel that
/// needs a signature, a member within the limits, user data with a usable `id`), and its
/// signature verifies over exactly the text returned. Fields, one a line: socket id, channel,
/// user id, then the rest (the member's info as JSON, and the sign-in's `user_data`).
pub fn authorize(data: &[u8]) {
    const KEY: &str = "278d425bdf160c739803";
    const SECRET: &str = "7ad3773142a6692b25b8";
    let [socket_id, channel, user_id, rest] = fields::<4>(data);
    let (socket_id, channel, user_id, rest) =
        (text(socket_id), text(channel), text(user_id), text(rest));
    let socket_ok = SocketId::parse(&socket_id).is_ok();
    let kind_ok = ChannelName::parse(&channel, CHANNEL_NAME_MAX_LIBRARIES)
        .is_ok_and(|name| name.kind().needs_auth());

    let info: Option<Value> = serde_json::from_str(&rest).ok();
    let mut member = PresenceMember::new(user_id.as_str());
    if let Some(info) = info.clone() {
        member = member.info(info);
    }
    let id_len = user_id.chars().count();
    let member_ok = (1..=PRESENCE_USER_ID_MAX).contains(&id_len)
        && info
            .as_ref()
            .is_none_or(|i| i.to_string().len() <= PRESENCE_USER_INFO_MAX);
    for member in [None, Some(&member)] {
        let signed = authorize_channel(KEY, SECRET, &socket_id, &channel, member);
        let expected = socket_ok && kind_ok && (member.is_none() || member_ok);
        assert_eq!(
            signed.is_ok(),
            expected,
            "{socket_id:?} {channel:?} {member:?}"
        );
        let Ok(signed) = signed else { continue };
        let channel_data = signed.channel_data.as_deref();
        assert_eq!(channel_data.is_some(), member.is_some());
        if let Some(channel_data) = channel_data {
            let read: Value = serde_json::from_str(channel_data).expect("channel_data is JSON");
            assert_eq!(read["user_id"].as_str(), Some(user_id.as_str()));
            assert_eq!(read.get("user_info"), info.as_ref());
        }
        let sts = sign::channel_string_to_sign(&socket_id, &channel, channel_data);
        assert_eq!(sign::verify_auth(KEY, SECRET, &signed.auth, &sts), Ok(()));
    }

    let signed = authenticate_user(KEY, SECRET, &socket_id, rest.clone());
    let id = serde_json::from_str::<Value>(&rest)
        .ok()
        .and_then(|user| user.get("id")?.as_str().map(str::to_owned));
    let id_ok = id
        .as_deref()
        .is_some_and(|id| !id.is_empty() && ChannelName::for_user(id).is_ok());
    assert_eq!(signed.is_ok(), socket_ok && id_ok, "{socket_id:?} {rest:?}");
    if let Ok(signed) = signed {
        assert_eq!(signed.user_data, rest, "the text signed is the text given");
        let sts = sign::user_string_to_sign(&socket_id, &rest);
        assert_eq!(sign::verify_auth(KEY, SECRET, &signed.auth, &sts), Ok(()));
    }
}
