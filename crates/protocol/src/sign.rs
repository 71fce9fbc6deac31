//! Every signature of the protocol (PROTOCOL.md §4, §5.1, §6, §2.8).
//!
//! All are lowercase hex HMAC-SHA256 keyed with the app secret, computed over strings exactly as
//! they were received. Comparisons run in constant time.

use std::borrow::Cow;

use base64::Engine as _;
use hmac::{Hmac, Mac};
use md5::{Digest as _, Md5};
use sha2::Sha256;
use subtle::ConstantTimeEq;

use crate::limits::REST_TIMESTAMP_WINDOW_SECS;

type HmacSha256 = Hmac<Sha256>;

/// Lowercase hex HMAC-SHA256 of `message` keyed with `secret`.
///
/// ```
/// use pusherable_protocol::sign::hmac_hex;
/// assert_eq!(
///     hmac_hex("7ad3773142a6692b25b8", "1234.1234:private-foobar"),
///     "58df8b0c36d6982b82c3ecf6b4662e34fe8c25bba48f5369f135bf843651c3a4"
/// );
/// ```
pub fn hmac_hex(secret: &str, message: &str) -> String {
    hex::encode(hmac_bytes(secret, message.as_bytes()))
}

fn hmac_bytes(secret: &str, message: &[u8]) -> [u8; 32] {
    // HMAC takes keys of any length, so this cannot fail.
    let mut mac = HmacSha256::new_from_slice(secret.as_bytes()).unwrap_or_else(|_| unreachable!());
    mac.update(message);
    mac.finalize().into_bytes().into()
}

/// Constant-time check that `given_hex` is the signature of `message`.
pub fn verify_hex(secret: &str, message: &[u8], given_hex: &str) -> bool {
    hex_matches(&hmac_bytes(secret, message), given_hex)
}

/// Constant-time check that `given_hex` is the lowercase hex of `digest` (at most 32 bytes).
///
/// The hex is written to the stack: a REST request checks two digests, and a `String` each
/// showed in profiles of the trigger path.
fn hex_matches(digest: &[u8], given_hex: &str) -> bool {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let given = given_hex.as_bytes();
    if digest.len() > 32 || given.len() != digest.len() * 2 {
        return false;
    }
    let mut hex = [0u8; 64];
    for (pair, byte) in hex.chunks_exact_mut(2).zip(digest) {
        pair[0] = DIGITS[usize::from(byte >> 4)];
        pair[1] = DIGITS[usize::from(byte & 0x0f)];
    }
    // Every byte is compared whatever the first difference; only the lengths, which are
    // public, end the check early.
    let diff = hex
        .iter()
        .zip(given)
        .fold(0u8, |diff, (a, b)| diff | (a ^ b));
    diff.ct_eq(&0).into()
}

/// The string a channel authorization signs: `socket_id:channel[:channel_data]`.
///
/// `channel_data` is part of it for presence channels, and for a private channel whenever the
/// subscription carries it (PROTOCOL.md §4.1).
pub fn channel_string_to_sign(
    socket_id: &str,
    channel: &str,
    channel_data: Option<&str>,
) -> String {
    match channel_data {
        Some(data) => format!("{socket_id}:{channel}:{data}"),
        None => format!("{socket_id}:{channel}"),
    }
}

/// The string a user sign-in signs: `socket_id::user::user_data`.
pub fn user_string_to_sign(socket_id: &str, user_data: &str) -> String {
    format!("{socket_id}::user::{user_data}")
}

/// The `auth` value for a channel subscription: `key:signature`.
///
/// ```
/// use pusherable_protocol::sign::channel_auth;
/// let auth = channel_auth("278d425bdf160c739803", "7ad3773142a6692b25b8", "1234.1234", "private-foobar", None);
/// assert_eq!(auth, "278d425bdf160c739803:58df8b0c36d6982b82c3ecf6b4662e34fe8c25bba48f5369f135bf843651c3a4");
/// ```
pub fn channel_auth(
    key: &str,
    secret: &str,
    socket_id: &str,
    channel: &str,
    channel_data: Option<&str>,
) -> String {
    let sig = hmac_hex(
        secret,
        &channel_string_to_sign(socket_id, channel, channel_data),
    );
    format!("{key}:{sig}")
}

/// The `auth` value for a user sign-in: `key:signature`.
pub fn user_auth(key: &str, secret: &str, socket_id: &str, user_data: &str) -> String {
    let sig = hmac_hex(secret, &user_string_to_sign(socket_id, user_data));
    format!("{key}:{sig}")
}

/// Why an `auth` value was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    /// No `auth`, or no `:` in it.
    #[error("Missing or malformed auth: expected key:signature")]
    Missing,
    /// The part before the first `:` is not the app key.
    #[error("Invalid key in subscription auth data")]
    WrongKey,
    /// The signature does not match.
    #[error(
        "Invalid signature: Expected HMAC SHA256 hex digest of {string_to_sign}, but got {given}"
    )]
    BadSignature {
        /// What the server signed.
        string_to_sign: String,
        /// What the client sent.
        given: String,
    },
}

/// Checks an `auth` value (`key:signature`) against `string_to_sign`, in constant time.
///
/// The key is everything before the last `:`: a signature is hex and never holds one, while a
/// key may.
///
/// ```
/// use pusherable_protocol::sign::{verify_auth, channel_string_to_sign};
/// let sts = channel_string_to_sign("1234.1234", "private-foobar", None);
/// let auth = "278d425bdf160c739803:58df8b0c36d6982b82c3ecf6b4662e34fe8c25bba48f5369f135bf843651c3a4";
/// assert!(verify_auth("278d425bdf160c739803", "7ad3773142a6692b25b8", auth, &sts).is_ok());
/// ```
pub fn verify_auth(
    key: &str,
    secret: &str,
    auth: &str,
    string_to_sign: &str,
) -> Result<(), AuthError> {
    let (given_key, sig) = auth.rsplit_once(':').ok_or(AuthError::Missing)?;
    if !bool::from(given_key.as_bytes().ct_eq(key.as_bytes())) {
        return Err(AuthError::WrongKey);
    }
    if verify_hex(secret, string_to_sign.as_bytes(), sig) {
        Ok(())
    } else {
        Err(AuthError::BadSignature {
            string_to_sign: string_to_sign.to_owned(),
            given: sig.to_owned(),
        })
    }
}

/// Lowercase hex MD5 of a REST body, as `body_md5` carries it.
///
/// ```
/// assert_eq!(pusherable_protocol::sign::body_md5(b""), "d41d8cd98f00b204e9800998ecf8427e");
/// ```
pub fn body_md5(body: &[u8]) -> String {
    hex::encode(Md5::digest(body))
}

/// The string a REST request signs: `METHOD\nPATH\nQUERY`, where `QUERY` is every parameter but
/// `auth_signature`, keys lower-cased, sorted by key, joined as `k=v&…` with decoded values.
///
/// ```
/// use pusherable_protocol::sign::rest_string_to_sign;
/// let sts = rest_string_to_sign("post", "/some/path", &[("query", "params"), ("go", "here"), ("auth_key", "key")]);
/// assert_eq!(sts, "POST\n/some/path\nauth_key=key&go=here&query=params");
/// ```
pub fn rest_string_to_sign<K: AsRef<str>, V: AsRef<str>>(
    method: &str,
    path: &str,
    params: &[(K, V)],
) -> String {
    let pairs = sorted_pairs(params);
    let mut out = String::with_capacity(64 + path.len() + pairs.len() * 24);
    write_string_to_sign(method, path, &pairs, |piece| out.push_str(piece));
    out
}

/// The parameters a REST signature covers, as `rest_string_to_sign` orders them: without
/// `auth_signature`, keys lower-cased, sorted by key then value.
fn sorted_pairs<K: AsRef<str>, V: AsRef<str>>(params: &[(K, V)]) -> Vec<(Cow<'_, str>, &str)> {
    let mut pairs: Vec<(Cow<'_, str>, &str)> = params
        .iter()
        .filter(|(k, _)| !k.as_ref().eq_ignore_ascii_case("auth_signature"))
        .map(|(k, v)| (lowercase(k.as_ref()), v.as_ref()))
        .collect();
    pairs.sort_unstable();
    pairs
}

fn lowercase(s: &str) -> Cow<'_, str> {
    if s.bytes().any(|b| b.is_ascii_uppercase()) {
        Cow::Owned(s.to_ascii_lowercase())
    } else {
        Cow::Borrowed(s)
    }
}

/// Hands the string to sign to `write` piece by piece, so that the server can feed the HMAC
/// without building it.
fn write_string_to_sign(
    method: &str,
    path: &str,
    pairs: &[(Cow<'_, str>, &str)],
    mut write: impl FnMut(&str),
) {
    if method.bytes().any(|b| b.is_ascii_lowercase()) {
        write(&method.to_ascii_uppercase());
    } else {
        write(method);
    }
    write("\n");
    write(path);
    write("\n");
    for (i, (k, v)) in pairs.iter().enumerate() {
        if i > 0 {
            write("&");
        }
        write(k);
        write("=");
        write(v);
    }
}

/// The query parameters of a signed REST request, `auth_signature` included, in sorted order.
///
/// `extra` are the request's own parameters (such as `info` or `filter_by_prefix`), unescaped.
/// `body_md5` is added when `body` is not empty.
///
/// ```
/// use pusherable_protocol::sign::signed_query;
/// let body = br#"{"name":"foo","channels":["project-3"],"data":"{\"some\":\"data\"}"}"#;
/// let q = signed_query("278d425bdf160c739803", "7ad3773142a6692b25b8", "POST", "/apps/3/events", body, 1353088179, &[]);
/// let sig = q.iter().find(|(k, _)| k == "auth_signature").unwrap();
/// assert_eq!(sig.1, "da454824c97ba181a32ccc17a72625ba02771f50b50e1e7430e47a1f3f457e6c");
/// ```
pub fn signed_query(
    key: &str,
    secret: &str,
    method: &str,
    path: &str,
    body: &[u8],
    timestamp: u64,
    extra: &[(&str, &str)],
) -> Vec<(String, String)> {
    let mut params: Vec<(String, String)> = vec![
        ("auth_key".into(), key.into()),
        ("auth_timestamp".into(), timestamp.to_string()),
        ("auth_version".into(), "1.0".into()),
    ];
    if !body.is_empty() {
        params.push(("body_md5".into(), body_md5(body)));
    }
    params.extend(
        extra
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
    );
    let signature = hmac_hex(secret, &rest_string_to_sign(method, path, &params));
    params.push(("auth_signature".into(), signature));
    params.sort();
    params
}

/// Why a REST request's signature was refused; each is answered with 401.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RestAuthError {
    /// `auth_key` is missing or is not this app's key.
    #[error("Unknown auth_key")]
    UnknownKey,
    /// `auth_timestamp` is missing or not a number.
    #[error("Timestamp required")]
    TimestampRequired,
    /// `auth_timestamp` is 600 s or more away from the server's clock.
    #[error("Timestamp expired: Given timestamp ({given}) not within 600s of server time ({now})")]
    TimestampExpired {
        /// The client's timestamp.
        given: u64,
        /// The server's clock.
        now: u64,
    },
    /// `auth_version` is missing.
    #[error("Version required")]
    VersionRequired,
    /// `auth_version` is not `1.0`.
    #[error("Version not supported")]
    VersionNotSupported,
    /// The body is not empty and `body_md5` is missing.
    #[error("body_md5 required for a request with a body")]
    BodyMd5Required,
    /// `body_md5` does not match the body received.
    #[error("body_md5 does not match the body received")]
    BodyMd5Mismatch,
    /// `auth_signature` is missing.
    #[error("auth_signature required")]
    SignatureRequired,
    /// `auth_signature` does not match.
    #[error("Invalid signature: you should have sent HmacSHA256Hex(\"{string_to_sign}\", your_secret_key), but you sent \"{given}\"")]
    BadSignature {
        /// What the server signed.
        string_to_sign: String,
        /// What the client sent.
        given: String,
    },
}

/// Checks a signed REST request, following PROTOCOL.md §5.1 step by step.
///
/// `params` are the query parameters, already percent-decoded, in any order; `body` is the body
/// exactly as received; `now` is the server's Unix time in seconds. The app key lookup (step 1)
/// is the caller's; this checks that `auth_key` equals `key`.
pub fn verify_rest<K: AsRef<str>, V: AsRef<str>>(
    key: &str,
    secret: &str,
    method: &str,
    path: &str,
    params: &[(K, V)],
    body: &[u8],
    now: u64,
) -> Result<(), RestAuthError> {
    let get = |name: &str| {
        params
            .iter()
            .find(|(k, _)| k.as_ref() == name)
            .map(|(_, v)| v.as_ref())
    };
    if get("auth_key") != Some(key) {
        return Err(RestAuthError::UnknownKey);
    }
    let given = get("auth_timestamp")
        .and_then(|t| t.parse::<u64>().ok())
        .ok_or(RestAuthError::TimestampRequired)?;
    if given.abs_diff(now) >= REST_TIMESTAMP_WINDOW_SECS {
        return Err(RestAuthError::TimestampExpired { given, now });
    }
    match get("auth_version") {
        None => return Err(RestAuthError::VersionRequired),
        Some("1.0") => {}
        Some(_) => return Err(RestAuthError::VersionNotSupported),
    }
    match get("body_md5") {
        // A GET may carry the MD5 of its empty body (the PyPI library always sends it).
        Some(md5) if !hex_matches(&Md5::digest(body), md5) => {
            return Err(RestAuthError::BodyMd5Mismatch);
        }
        Some(_) => {}
        None if !body.is_empty() => return Err(RestAuthError::BodyMd5Required),
        None => {}
    }
    let signature = get("auth_signature").ok_or(RestAuthError::SignatureRequired)?;
    // The string to sign is fed to the HMAC as it is written, and only built to be shown in
    // the refusal.
    let mut mac = HmacSha256::new_from_slice(secret.as_bytes()).unwrap_or_else(|_| unreachable!());
    write_string_to_sign(method, path, &sorted_pairs(params), |piece| {
        mac.update(piece.as_bytes());
    });
    if hex_matches(&mac.finalize().into_bytes(), signature) {
        Ok(())
    } else {
        Err(RestAuthError::BadSignature {
            string_to_sign: rest_string_to_sign(method, path, params),
            given: signature.to_owned(),
        })
    }
}

/// `X-Pusher-Signature` of a webhook: the HMAC of the body bytes exactly as sent.
pub fn webhook_signature(secret: &str, body: &[u8]) -> String {
    hex::encode(hmac_bytes(secret, body))
}

/// Constant-time check of a webhook's `X-Pusher-Signature`.
pub fn verify_webhook_signature(secret: &str, body: &[u8], signature: &str) -> bool {
    verify_hex(secret, body, signature)
}

/// The per-channel key of an end-to-end encrypted channel, as the `shared_secret` of its
/// authorization: `base64(SHA256(channel_name ‖ master_key))`.
///
/// Only app servers hold the master key; the pusherable server never calls this.
///
/// ```
/// use pusherable_protocol::sign::encrypted_shared_secret;
/// assert_eq!(
///     encrypted_shared_secret("private-encrypted-secret", &[7; 32]),
///     "UAtCvJamCEHHG1IgBLMYROcAFJ7gVBOQ00E/rIDypBQ="
/// );
/// ```
pub fn encrypted_shared_secret(channel: &str, master_key: &[u8; 32]) -> String {
    base64::engine::general_purpose::STANDARD.encode(encrypted_channel_key(channel, master_key))
}

/// The per-channel key of an end-to-end encrypted channel as bytes:
/// `SHA256(channel_name ‖ master_key)`. See [`encrypted_shared_secret`].
pub fn encrypted_channel_key(channel: &str, master_key: &[u8; 32]) -> [u8; 32] {
    let mut hasher = Sha256::new();
    sha2::Digest::update(&mut hasher, channel.as_bytes());
    sha2::Digest::update(&mut hasher, master_key);
    hasher.finalize().into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_with_a_colon_verifies() {
        let (key, secret) = ("278d425bdf16:0c739803", "7ad3773142a6692b25b8");
        let sts = channel_string_to_sign("1234.1234", "presence-foobar", Some("{}"));
        let auth = channel_auth(key, secret, "1234.1234", "presence-foobar", Some("{}"));
        assert_eq!(verify_auth(key, secret, &auth, &sts), Ok(()));
        assert_eq!(
            verify_auth("278d425bdf16", secret, &auth, &sts),
            Err(AuthError::WrongKey)
        );
        let sts = user_string_to_sign("1.2", r#"{"id":"1"}"#);
        let auth = user_auth(key, secret, "1.2", r#"{"id":"1"}"#);
        assert_eq!(verify_auth(key, secret, &auth, &sts), Ok(()));
    }

    #[test]
    fn malformed_auth() {
        let sts = channel_string_to_sign("1.2", "private-a", None);
        assert_eq!(verify_auth("k", "s", "", &sts), Err(AuthError::Missing));
        assert_eq!(verify_auth("k", "s", "k", &sts), Err(AuthError::Missing));
        assert_eq!(
            verify_auth("k", "s", "j:00", &sts),
            Err(AuthError::WrongKey)
        );
        assert!(matches!(
            verify_auth("k", "s", "k:", &sts),
            Err(AuthError::BadSignature { .. })
        ));
        assert!(matches!(
            verify_auth("k", "s", "k:ÿ", &sts),
            Err(AuthError::BadSignature { .. })
        ));
    }

    #[test]
    fn hex_matches_only_the_lowercase_hex() {
        let check = |given: &str, expected: bool| {
            assert_eq!(hex_matches(&Md5::digest(b""), given), expected, "{given}");
        };
        check("d41d8cd98f00b204e9800998ecf8427e", true);
        check("D41D8CD98F00B204E9800998ECF8427E", false);
        check("d41d8cd98f00b204e9800998ecf8427", false);
        check("d41d8cd98f00b204e9800998ecf8427e0", false);
        check("", false);
        check("d41d8cd98f00b204e9800998ecf8427g", false);
        check("+41d8cd98f00b204e9800998ecf8427e", false);
    }

    #[test]
    fn string_to_sign_orders_like_the_libraries() {
        let check = |method: &str, params: &[(&str, &str)], expected: &str| {
            assert_eq!(rest_string_to_sign(method, "/p", params), expected);
        };
        check("get", &[], "GET\n/p\n");
        check(
            "Post",
            &[("b", "2"), ("A", "1"), ("AUTH_SIGNATURE", "x"), ("a", "0")],
            "POST\n/p\na=0&a=1&b=2",
        );
    }
}
