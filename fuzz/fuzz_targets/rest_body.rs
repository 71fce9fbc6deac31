//! REST bodies and replies: `pusherable_fuzz::rest_body` says what must hold.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| pusherable_fuzz::rest_body(data));
