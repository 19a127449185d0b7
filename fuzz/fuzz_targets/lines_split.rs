//! Thin target: the body and its properties are `apify_fuzz::lines_split`.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| apify_fuzz::lines_split(data));
