//! Channel names, user channels and socket ids: `pusherable_fuzz::channel` says what must hold.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| pusherable_fuzz::channel(data));
