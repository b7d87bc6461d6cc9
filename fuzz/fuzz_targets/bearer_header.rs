//! The resource server's `Authorization: Bearer` extraction (clientcreds-resource).
//! The body is [`clientcreds_fuzz_entries::bearer_header`].
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = clientcreds_fuzz_entries::bearer_header(data);
});
