//! Arbitrary stored-hash strings through verification: an error or a
//! verdict, never a panic, and never a pass for a hash nobody made.
#![no_main]

use std::sync::LazyLock;

use clientcreds_secret::{PepperKey, Secret, SecretHash, SecretHasher, Verification};
use libfuzzer_sys::fuzz_target;

static HASHER: LazyLock<SecretHasher> =
    LazyLock::new(|| SecretHasher::hmac_sha256(PepperKey::new("k1", &[7; 32]).unwrap()).unwrap());

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    // Cap PBKDF2 work so the fuzzer explores parsing, not hashing.
    let rounds = text.strip_prefix("pbkdf2-sha256$i=").and_then(|r| r.split('$').next());
    if rounds.is_some_and(|n| n.parse::<u32>().map_or(false, |n| n > 1_000)) {
        return;
    }
    let verdict = HASHER.verify(&Secret::from("acme_secret_fuzz"), &SecretHash::from_stored(text));
    assert!(!verdict.is_ok_and(Verification::is_valid), "a random hash verified");
});
