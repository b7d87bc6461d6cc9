//! JWKS and JWK import (clientcreds-jwt).
//! The body is [`clientcreds_fuzz_entries::jwks_import`].
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = clientcreds_fuzz_entries::jwks_import(data);
});
