//! Master-key text and sealed values (clientcreds-secret's MasterKeys).
//! The body is [`clientcreds_fuzz_entries::master_keys`].
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = clientcreds_fuzz_entries::master_keys(data);
});
