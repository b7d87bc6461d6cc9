//! The resource server's DPoP: `Authorization` (either scheme) and `DPoP`
//! proof headers through the layer (clientcreds-resource).
//! The body is [`clientcreds_fuzz_entries::dpop_resource`].
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = clientcreds_fuzz_entries::dpop_resource(data);
});
