//! Channel authorization and user sign-in: `pusherable_fuzz::authorize` says what must hold.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| pusherable_fuzz::authorize(data));
