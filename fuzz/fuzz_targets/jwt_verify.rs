//! JWT verification with a fixed key set (clientcreds-jwt).
//! The body is [`clientcreds_fuzz_entries::jwt_verify`].
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = clientcreds_fuzz_entries::jwt_verify(data);
});
