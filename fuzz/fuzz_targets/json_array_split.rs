//! Thin target: the body and its properties are `apify_fuzz::json_array_split`.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| apify_fuzz::json_array_split(data));
