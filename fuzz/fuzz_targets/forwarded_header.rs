//! A forwarding header (`X-Forwarded-For` or `Forwarded`, by the first
//! byte) read by clientcreds-axum's `TrustedProxies`.
//! The body is [`clientcreds_fuzz_entries::forwarded_header`].
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = clientcreds_fuzz_entries::forwarded_header(data);
});
