//! Messages from other nodes of a cluster: `pusherable_server::fuzzing::cluster_message` says
//! what must hold.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| pusherable_fuzz::cluster_message(data));
