//! A token request (headers and body) through clientcreds-http's parser.
//! The body is [`clientcreds_fuzz_entries::token_request`].
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = clientcreds_fuzz_entries::token_request(data);
});
