//! Client frames: `pusherable_fuzz::frame` says what must hold.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| pusherable_fuzz::frame(data));
