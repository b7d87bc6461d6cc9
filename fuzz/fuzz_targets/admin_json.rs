//! An admin API body (create, update or rotate, by the first byte) through
//! clientcreds-axum's types and the registry.
//! The body is [`clientcreds_fuzz_entries::admin_json`].
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = clientcreds_fuzz_entries::admin_json(data);
});
