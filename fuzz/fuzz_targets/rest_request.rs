//! Signed REST requests: `pusherable_fuzz::rest_request` says what must hold.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| pusherable_fuzz::rest_request(data));
