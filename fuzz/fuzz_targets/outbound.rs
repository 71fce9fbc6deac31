//! Server frames from arbitrary strings: `pusherable_fuzz::outbound` says what must hold.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| pusherable_fuzz::outbound(data));
