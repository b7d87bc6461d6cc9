//! Arbitrary text through both credential parsers: never a panic, and
//! whatever parses as a secret must re-derive the same secret id.
#![no_main]

use std::sync::LazyLock;

use clientcreds_secret::{CredentialFormat, Secret};
use libfuzzer_sys::fuzz_target;

static FORMAT: LazyLock<CredentialFormat> = LazyLock::new(|| CredentialFormat::new("acme_").unwrap());

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let _ = FORMAT.parse_client_id(text);
    let secret = Secret::from(text);
    if let Ok(id) = FORMAT.parse_secret(&secret) {
        assert!(text.starts_with(&FORMAT.display_prefix(id)));
    }
});
