//! Channel, user and webhook signatures: `pusherable_fuzz::signature` says what must hold.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| pusherable_fuzz::signature(data));
