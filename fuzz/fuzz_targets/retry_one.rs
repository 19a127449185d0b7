//! Thin target: the body and its properties are `apify_core::fuzzing::retry_one`.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| apify_core::fuzzing::retry_one(data));
