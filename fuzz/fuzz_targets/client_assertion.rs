//! A client assertion (RFC 7523 `private_key_jwt`) at the issuer: raw,
//! signed by the entry, or inside a token request's form body.
//! The body is [`clientcreds_fuzz_entries::client_assertion`].
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = clientcreds_fuzz_entries::client_assertion(data);
});
