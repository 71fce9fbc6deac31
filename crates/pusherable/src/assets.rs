//! pusherable.js, compiled into the binary and served by [`Realtime::routes`](crate::Realtime::routes).

use std::sync::LazyLock;

use axum::{
    extract::RawQuery,
    http::{header, HeaderMap, StatusCode},
    response::{IntoResponse, Response},
};

/// The browser script: a protocol-7 client, the default notice, presence lists.
pub(crate) const SCRIPT: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../js/pusherable.js"
));

/// A short hash of the script: its `?v=` in the script tag, and its ETag. A new build with a
/// changed script gets a new URL, so browsers may cache each version for good.
pub(crate) static VERSION: LazyLock<String> = LazyLock::new(|| {
    // FNV-1a: stable across builds and platforms, unlike std's hasher.
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in SCRIPT.bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    format!("{:012x}", hash >> 16)
});

/// `GET {path}/pusherable.js`.
pub(crate) async fn script(RawQuery(query): RawQuery, headers: HeaderMap) -> Response {
    let etag = format!("\"{}\"", VERSION.as_str());
    let versioned = query.as_deref() == Some(&format!("v={}", VERSION.as_str()));
    let cache = if versioned {
        "public, max-age=31536000, immutable"
    } else {
        "no-cache"
    };
    let fresh = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag));
    if fresh {
        return (
            StatusCode::NOT_MODIFIED,
            [
                (header::ETAG, etag),
                (header::CACHE_CONTROL, cache.to_owned()),
            ],
        )
            .into_response();
    }
    (
        [
            (
                header::CONTENT_TYPE,
                "text/javascript; charset=utf-8".to_owned(),
            ),
            (header::ETAG, etag),
            (header::CACHE_CONTROL, cache.to_owned()),
        ],
        SCRIPT,
    )
        .into_response()
}
