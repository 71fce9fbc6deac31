//! Channel and user authorization, webhook signatures and the hex they are written in.

use pusherable_protocol::encryption::{ChannelKey, OpenError, NONCE_LEN};
use pusherable_protocol::sign::{self, AuthError};

use crate::rest::flip_hex;
use crate::{fields, position, text};

/// Any `auth` value, signature or hex string is checked without panicking. What `sign` makes
/// verifies; the same with one hex digit, one byte of the signed text, or the secret changed
/// does not. Fields, one a line: key, secret, socket id, channel, then the rest (the
/// `channel_data`, `user_data` or webhook body, and an `auth` value or signature as given).
pub fn signature(data: &[u8]) {
    let [key, secret, socket_id, channel, rest] = fields::<5>(data);
    let (key, secret, socket_id, channel) =
        (text(key), text(secret), text(socket_id), text(channel));
    let given = text(rest);

    // Whatever a client sends as `auth`, and whatever is signed, nothing panics and only the
    // exact signature passes.
    let sts = sign::channel_string_to_sign(&socket_id, &channel, Some(&given));
    let verdict = sign::verify_auth(&key, &secret, &given, &sts);
    let exact = format!("{key}:{}", sign::hmac_hex(&secret, &sts));
    assert_eq!(verdict.is_ok(), given == exact, "{given:?}");
    assert_eq!(
        sign::verify_hex(&secret, given.as_bytes(), &given),
        given == sign::hmac_hex(&secret, &given),
        "{given:?} as the signature of itself"
    );
    assert_eq!(
        sign::verify_webhook_signature(&secret, rest, &given),
        given == sign::webhook_signature(&secret, rest)
    );

    check_hex(&sign::hmac_hex(&secret, &given), 64);
    check_hex(&sign::body_md5(rest), 32);
    let master_key: [u8; 32] = std::array::from_fn(|i| *rest.get(i).unwrap_or(&0));
    let shared = sign::encrypted_shared_secret(&channel, &master_key);
    assert_eq!(shared.len(), 44, "base64 of 32 bytes");
    check_encryption(&channel, &master_key, &given, rest, data);

    for channel_data in [None, Some(given.as_str())] {
        let sts = sign::channel_string_to_sign(&socket_id, &channel, channel_data);
        let auth = sign::channel_auth(&key, &secret, &socket_id, &channel, channel_data);
        check_auth(&key, &secret, &auth, &sts, data);
    }
    let sts = sign::user_string_to_sign(&socket_id, &given);
    let auth = sign::user_auth(&key, &secret, &socket_id, &given);
    check_auth(&key, &secret, &auth, &sts, data);

    let body = rest;
    let signature = sign::webhook_signature(&secret, body);
    assert!(sign::verify_webhook_signature(&secret, body, &signature));
    let mut wrong = signature.clone();
    flip_hex(&mut wrong, position(data, signature.len()));
    assert!(!sign::verify_webhook_signature(&secret, body, &wrong));
    if !body.is_empty() {
        let mut other = body.to_vec();
        other[position(data, body.len())] ^= 0x20;
        assert!(!sign::verify_webhook_signature(&secret, &other, &signature));
    }
}

/// `auth` (made by `sign`) passes for `sts`, and fails with a digit of its signature, a byte
/// of the signed text, or the secret changed.
fn check_auth(key: &str, secret: &str, auth: &str, sts: &str, data: &[u8]) {
    assert_eq!(sign::verify_auth(key, secret, auth, sts), Ok(()), "{auth}");
    let digits = auth.len() - key.len() - 1;
    let mut wrong = auth.to_owned();
    flip_hex(&mut wrong, key.len() + 1 + position(data, digits));
    assert!(matches!(
        sign::verify_auth(key, secret, &wrong, sts),
        Err(AuthError::BadSignature { .. })
    ));
    let mut other = sts.to_owned();
    other.push(':');
    assert!(sign::verify_auth(key, secret, auth, &other).is_err());
    let other_secret = format!("{secret}.");
    assert!(sign::verify_auth(key, &other_secret, auth, sts).is_err());
}

/// Any text is opened without panicking; what `seal` makes opens to the same text, with the
/// key derived or read back from its shared secret, and a changed envelope does not open.
fn check_encryption(channel: &str, master_key: &[u8; 32], text: &str, rest: &[u8], data: &[u8]) {
    let key = ChannelKey::derive(channel, master_key);
    let _ = key.open(text);
    assert_eq!(
        ChannelKey::from_shared_secret(&key.shared_secret())
            .ok()
            .as_ref(),
        Some(&key)
    );
    let nonce: [u8; NONCE_LEN] = std::array::from_fn(|i| *rest.get(i + 32).unwrap_or(&1));
    let sealed = key.seal(&nonce, text);
    assert_eq!(key.open(&sealed).as_deref(), Ok(text));
    let mut envelope: serde_json::Value =
        serde_json::from_str(&sealed).expect("an envelope is JSON");
    let ciphertext = envelope["ciphertext"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let mut changed = ciphertext.into_bytes();
    // Swap two base64 digits for two others: the ciphertext changes and still decodes.
    let at = position(data, changed.len() / 4) * 4;
    changed[at] = if changed[at] == b'A' { b'B' } else { b'A' };
    envelope["ciphertext"] = String::from_utf8(changed).unwrap_or_default().into();
    assert_eq!(
        key.open(&envelope.to_string()),
        Err(OpenError::Forged),
        "{envelope}"
    );
}

fn check_hex(hex: &str, len: usize) {
    assert_eq!(hex.len(), len, "{hex}");
    assert!(
        hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')),
        "{hex} is lowercase hex"
    );
}
