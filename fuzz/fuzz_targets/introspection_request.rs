//! An RFC 7662 introspection request through clientcreds-http.
//! The body is [`clientcreds_fuzz_entries::introspection_request`].
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = clientcreds_fuzz_entries::introspection_request(data);
});
