//! A presented client id or secret through clientcreds-secret's format.
//! The body is [`clientcreds_fuzz_entries::secret_text`].
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = clientcreds_fuzz_entries::secret_text(data);
});
