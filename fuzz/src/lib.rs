//! What must hold for any input to `pusherable-protocol` and to the server's reader of
//! messages from other cluster nodes, one function per fuzz target.
//!
//! Each function takes the raw bytes libFuzzer hands over and panics when a property breaks:
//! the protocol crate promises never to panic on hostile input, to read back what it writes,
//! and to accept a signature it made while refusing one that was changed. The binaries in
//! `fuzz_targets/` call these; `tests/seeds.rs` runs every committed seed through them on a
//! stable toolchain, without libFuzzer.
//!
//! Targets that need several strings read them as lines: the first lines are fields, the rest
//! of the input is the last field, so seeds stay readable text files.

mod authorize;
mod frames;
mod names;
mod rest;
mod signatures;

pub use authorize::authorize;
pub use frames::{frame, outbound};
pub use names::channel;
pub use pusherable_server::fuzzing::cluster_message;
pub use rest::{rest_body, rest_request};
pub use signatures::signature;

/// What one target checks of one input; it panics when a property breaks.
pub type Check = fn(&[u8]);

/// Every target, by the name of its binary in `fuzz_targets/` and its folder in `seeds/`.
pub const TARGETS: [(&str, Check); 8] = [
    ("frame", frame),
    ("outbound", outbound),
    ("channel", channel),
    ("rest_body", rest_body),
    ("rest_request", rest_request),
    ("signature", signature),
    ("authorize", authorize),
    ("cluster_message", cluster_message),
];

/// Splits `data` into `N` fields: the first `N - 1` lines, and everything after them. Missing
/// fields are empty.
fn fields<const N: usize>(data: &[u8]) -> [&[u8]; N] {
    let mut out = [&data[..0]; N];
    let mut rest = data;
    for field in out.iter_mut().take(N - 1) {
        match rest.iter().position(|&b| b == b'\n') {
            Some(i) => {
                *field = &rest[..i];
                rest = &rest[i + 1..];
            }
            None => {
                *field = rest;
                rest = &rest[rest.len()..];
            }
        }
    }
    out[N - 1] = rest;
    out
}

/// A field as text; bytes that are not UTF-8 become U+FFFD, so every input still checks
/// something.
fn text(field: &[u8]) -> String {
    String::from_utf8_lossy(field).into_owned()
}

/// A position in `0..len` drawn from the input itself, so that a mutation the fuzzer keeps is
/// tried at the same place again. `len` must be above 0.
fn position(data: &[u8], len: usize) -> usize {
    let mix = data.iter().fold(0usize, |h, &b| {
        h.wrapping_mul(31).wrapping_add(usize::from(b))
    });
    mix % len
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_split_on_the_first_lines() {
        assert_eq!(fields::<3>(b"a\nb\nc\nd"), [&b"a"[..], b"b", b"c\nd"]);
        assert_eq!(fields::<3>(b"a"), [&b"a"[..], b"", b""]);
        assert_eq!(fields::<2>(b""), [&b""[..], b""]);
        assert_eq!(fields::<1>(b"x\ny"), [&b"x\ny"[..]]);
    }
}
