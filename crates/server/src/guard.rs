//! Bearer credentials, for the routes that are not the Pusher API: `/metrics` (its token) and
//! the debug console (an app's secret or console token).

use axum::http::{header, HeaderMap};
use sha2::{Digest as _, Sha256};
use subtle::ConstantTimeEq as _;

/// The credentials of `Authorization: Bearer …` (the scheme is case-insensitive).
pub(crate) fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, credentials) = value.split_once(' ')?;
    let credentials = credentials.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !credentials.is_empty()).then_some(credentials)
}

/// Whether `given` is `expected`, compared in constant time and as digests, so that neither
/// their bytes nor their lengths show in the timing.
pub(crate) fn same(given: &str, expected: &str) -> subtle::Choice {
    Sha256::digest(given.as_bytes()).ct_eq(&Sha256::digest(expected.as_bytes()))
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    fn of(value: &str) -> Option<String> {
        let mut headers = HeaderMap::new();
        headers.insert(header::AUTHORIZATION, HeaderValue::from_str(value).unwrap());
        bearer(&headers).map(str::to_owned)
    }

    #[test]
    fn bearer_credentials() {
        assert_eq!(of("Bearer abc").as_deref(), Some("abc"));
        assert_eq!(of("bearer  abc ").as_deref(), Some("abc"));
        assert_eq!(of("Basic abc"), None);
        assert_eq!(of("Bearer "), None);
        assert_eq!(of("Bearer"), None);
        assert!(bool::from(same("token", "token")));
        assert!(!bool::from(same("token", "tokens")));
    }
}
