//! A stored hash string through clientcreds-secret's verification.
//! The body is [`clientcreds_fuzz_entries::stored_hash`].
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = clientcreds_fuzz_entries::stored_hash(data);
});
