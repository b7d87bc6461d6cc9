//! HTTP Basic client authentication (RFC 6749 §2.3.1) through clientcreds-http.
//! The body is [`clientcreds_fuzz_entries::basic_credentials`].
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = clientcreds_fuzz_entries::basic_credentials(data);
});
