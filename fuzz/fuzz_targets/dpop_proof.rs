//! DPoP proofs at the token endpoint (clientcreds-http, clientcreds-jwt).
//! The body is [`clientcreds_fuzz_entries::dpop_proof`].
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = clientcreds_fuzz_entries::dpop_proof(data);
});
