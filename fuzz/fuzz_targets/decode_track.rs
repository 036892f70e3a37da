//! Arbitrary bytes -> a sequence of frames on a chosen link type -> decode and the
//! whole flow engine (see harness.rs for the input format). Run with
//!   cargo +nightly fuzz run decode_track
//! Seed corpus idea: `fuzz/corpus/decode_track/` from real fixture frames; the
//! plain-`cargo test` counterpart is tests/fuzz_smoke.rs.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "harness.rs"]
mod harness;

fuzz_target!(|data: &[u8]| {
    harness::run_input(data);
});
