//! REST bodies, query strings and request signatures.

use std::fmt::Debug;

use pusherable_protocol::limits::REST_TIMESTAMP_WINDOW_SECS;
use pusherable_protocol::rest::{
    BatchBody, BatchReply, CachedEvent, ChannelReply, ChannelsReply, ErrorBody, TriggerBody,
    TriggerReply, UsersReply,
};
use pusherable_protocol::sign::{self, RestAuthError};
use pusherable_protocol::webhook::Webhook;
use serde::{de::DeserializeOwned, Serialize};

use crate::{fields, position, text};

const KEY: &str = "278d425bdf160c739803";
const SECRET: &str = "7ad3773142a6692b25b8";
/// A fixed clock, so that a crash found today reproduces tomorrow.
const NOW: u64 = 1_353_088_179;

/// Any bytes are read as every REST body and as a webhook body without panicking; a body that reads is written and
/// read back to the same value. The first bytes also make a [`ChannelReply`], which must
/// survive being written and read, as the REST client reads what the server wrote.
pub fn rest_body(data: &[u8]) {
    round_trip::<TriggerBody>(data);
    round_trip::<BatchBody>(data);
    round_trip::<TriggerReply>(data);
    round_trip::<BatchReply>(data);
    round_trip::<ChannelsReply>(data);
    round_trip::<ChannelReply>(data);
    round_trip::<UsersReply>(data);
    round_trip::<ErrorBody>(data);
    round_trip::<Webhook>(data);
    written_then_read(&channel_reply(data));
}

fn round_trip<T: Serialize + DeserializeOwned + PartialEq + Debug>(data: &[u8]) {
    if let Ok(value) = serde_json::from_slice::<T>(data) {
        written_then_read(&value);
    }
}

fn written_then_read<T: Serialize + DeserializeOwned + PartialEq + Debug>(value: &T) {
    let written = serde_json::to_string(value).expect("a body can always be written");
    let read: T = serde_json::from_str(&written)
        .unwrap_or_else(|e| panic!("{written} does not read back: {e}"));
    assert_eq!(&read, value, "written as {written}");
}

/// A reply with every shape the server can send, chosen by the first bytes of `data`.
fn channel_reply(data: &[u8]) -> ChannelReply {
    let flags = data.first().copied().unwrap_or(0);
    let mut number = [0u8; 8];
    for (n, b) in number.iter_mut().zip(data.iter().skip(1)) {
        *n = *b;
    }
    let number = u64::from_le_bytes(number);
    let cache = match (flags >> 3) & 3 {
        0 => None,
        1 => Some(None),
        _ => Some(Some(CachedEvent {
            data: text(data.get(9..).unwrap_or_default()),
            ttl: number % 3600,
        })),
    };
    ChannelReply {
        occupied: flags & 1 != 0,
        user_count: (flags & 2 != 0).then_some(number),
        subscription_count: (flags & 4 != 0).then_some(number / 3),
        cache,
    }
}

/// Any request is checked without panicking, whatever its method, path, query and body, and
/// whatever the server's clock says. The same request signed with the app's secret is
/// accepted once its query has been written and read as a URL query, and refused once its
/// body, path, a parameter or its signature changes, or its clock is 600 s off.
///
/// Fields, one a line: method, path, query string (as sent, percent-encoded), then the body.
pub fn rest_request(data: &[u8]) {
    let [method, path, query, body] = fields::<4>(data);
    let (method, path) = (text(method), text(path));
    let params: Vec<(String, String)> = form_urlencoded::parse(query).into_owned().collect();
    for now in [0, NOW, u64::MAX] {
        let _ = sign::verify_rest(KEY, SECRET, &method, &path, &params, body, now);
    }
    let _ = sign::rest_string_to_sign(&method, &path, &params);

    // The request's own parameters, less those the signature adds.
    let extra: Vec<(&str, &str)> = params
        .iter()
        .filter(|(k, _)| !is_signature_param(k))
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let signed = sign::signed_query(KEY, SECRET, &method, &path, body, NOW, &extra);
    let query = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(&signed)
        .finish();
    let received: Vec<(String, String)> = form_urlencoded::parse(query.as_bytes())
        .into_owned()
        .collect();
    let verify = |path: &str, params: &[(String, String)], body: &[u8], now: u64| {
        sign::verify_rest(KEY, SECRET, &method, path, params, body, now)
    };
    assert_eq!(verify(&path, &received, body, NOW), Ok(()), "query {query}");
    let window = REST_TIMESTAMP_WINDOW_SECS;
    assert_eq!(verify(&path, &received, body, NOW + window - 1), Ok(()));
    assert!(matches!(
        verify(&path, &received, body, NOW + window),
        Err(RestAuthError::TimestampExpired { .. })
    ));
    assert!(
        sign::verify_rest(KEY, "another secret", &method, &path, &received, body, NOW).is_err()
    );

    let mut other_path = path.clone();
    other_path.push('/');
    assert!(matches!(
        verify(&other_path, &received, body, NOW),
        Err(RestAuthError::BadSignature { .. })
    ));
    if !body.is_empty() {
        let mut other_body = body.to_vec();
        other_body[position(data, body.len())] ^= 1;
        assert_eq!(
            verify(&path, &received, &other_body, NOW),
            Err(RestAuthError::BodyMd5Mismatch)
        );
    }
    // A longer value makes a longer string to sign (or a wrong key, timestamp, version or
    // MD5), whatever the value holds.
    let mut params = received.clone();
    params[position(data, received.len())].1.push('0');
    assert!(verify(&path, &params, body, NOW).is_err(), "{params:?}");
    let mut params = received.clone();
    if let Some((_, signature)) = params.iter_mut().find(|(k, _)| k == "auth_signature") {
        flip_hex(signature, position(data, 64));
    }
    assert!(matches!(
        verify(&path, &params, body, NOW),
        Err(RestAuthError::BadSignature { .. })
    ));
}

/// The parameters that [`sign::signed_query`] adds; a request that sends its own would be
/// signing something else.
fn is_signature_param(key: &str) -> bool {
    matches!(
        key,
        "auth_key" | "auth_timestamp" | "auth_version" | "body_md5"
    ) || key.eq_ignore_ascii_case("auth_signature")
}

/// Changes hex digit `at` of `hex` to another hex digit.
pub(crate) fn flip_hex(hex: &mut String, at: usize) {
    let mut bytes = std::mem::take(hex).into_bytes();
    if let Some(b) = bytes.get_mut(at) {
        *b = if *b == b'0' { b'1' } else { b'0' };
    }
    *hex = String::from_utf8(bytes).unwrap_or_default();
}
