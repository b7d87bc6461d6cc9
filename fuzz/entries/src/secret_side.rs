//! clientcreds-secret's parsers: credential text, stored hash strings,
//! master-key text and sealed values.

use std::sync::LazyLock;

use clientcreds_secret::{
    CredentialFormat, MasterKeys, PepperKey, Secret, SecretHash, SecretHasher, SecretId,
    Verification,
};

use crate::Outcome;

/// The fixed configuration the entries run under (a fuzzer only needs it
/// to be the same every time).
/// A failure here is a broken fixture, not an input: it panics on first use.
static FORMAT: LazyLock<CredentialFormat> = LazyLock::new(|| fixed(CredentialFormat::new("acme_")));
static HASHER: LazyLock<SecretHasher> =
    LazyLock::new(|| fixed(PepperKey::new("k1", &[7; 32]).and_then(SecretHasher::hmac_sha256)));
static MASTER: LazyLock<MasterKeys> = LazyLock::new(|| {
    fixed(MasterKeys::parse(
        "m1:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8",
    ))
});

fn fixed<T>(made: Result<T, clientcreds_secret::Error>) -> T {
    match made {
        Ok(value) => value,
        Err(e) => panic!("a fixed fuzzing fixture cannot be built: {e}"),
    }
}

/// The largest PBKDF2 work a stored-hash input may ask for: the fuzzer
/// should explore parsing, not hashing.
const MAX_FUZZ_ITERATIONS: u32 = 1_000;

/// A presented client id or secret (`acme_…`). Checks: an accepted client
/// id is the text unchanged; an accepted secret names a secret id whose
/// display prefix the text starts with, and that id re-parses to itself.
pub fn secret_text(data: &[u8]) -> Outcome {
    let Ok(text) = std::str::from_utf8(data) else {
        return Outcome::Skipped;
    };
    let format = &*FORMAT;
    let client_id = format.parse_client_id(text);
    if let Ok(id) = &client_id {
        assert_eq!(id.as_str(), text, "client id changed by parsing");
    }
    let secret = Secret::from(text);
    let secret_id = format.parse_secret(&secret);
    if let Ok(id) = secret_id {
        assert!(
            text.starts_with(&format.display_prefix(id)),
            "secret id not at the front"
        );
        assert_eq!(SecretId::parse(id.as_str()), Ok(id), "secret id round trip");
    }
    Outcome::of(&client_id).or(Outcome::of(&secret_id))
}

/// A stored hash string (as read back from a database), verified against a
/// fixed secret. Checks: an error or a verdict, never a pass for a hash
/// nobody made; the hasher's own hash of the input text verifies it.
pub fn stored_hash(data: &[u8]) -> Outcome {
    let Ok(text) = std::str::from_utf8(data) else {
        return Outcome::Skipped;
    };
    let hasher = &*HASHER;
    let rounds = text
        .strip_prefix("pbkdf2-sha256$i=")
        .and_then(|r| r.split('$').next());
    if rounds.is_some_and(|n| n.parse::<u32>().is_ok_and(|n| n > MAX_FUZZ_ITERATIONS)) {
        return Outcome::Skipped;
    }
    let verdict = hasher.verify(
        &Secret::from("acme_secret_fuzz"),
        &SecretHash::from_stored(text),
    );
    // Accepted: the stored string was well-formed enough for a verdict.
    let outcome = Outcome::of(&verdict);
    assert!(
        !verdict.is_ok_and(Verification::is_valid),
        "a hash nobody made verified"
    );
    let secret = Secret::from(text);
    if let Ok(hash) = hasher.hash(&secret) {
        assert_eq!(
            hasher.verify(&secret, &hash),
            Ok(Verification::Valid),
            "own hash does not verify"
        );
    }
    outcome
}

/// Master-key text (`id:base64url,…`, from a secret manager), then the
/// same bytes as a sealed value opened under a fixed key. Checks: parsed
/// keys seal and open a value, the current id is among the ids, and a
/// sealed value nobody sealed never opens.
pub fn master_keys(data: &[u8]) -> Outcome {
    let Ok(text) = std::str::from_utf8(data) else {
        return Outcome::Skipped;
    };
    let parsed = MasterKeys::parse(text);
    if let Ok(keys) = &parsed {
        assert!(
            keys.ids().contains(&keys.current_id()),
            "current id missing"
        );
        let sealed = keys
            .seal(b"aad", b"plaintext")
            .unwrap_or_else(|e| panic!("parsed keys cannot seal: {e}"));
        assert_eq!(
            MasterKeys::sealed_key_id(&sealed),
            Some(keys.current_id()),
            "sealed under another key"
        );
        let opened = keys
            .open(b"aad", &sealed)
            .unwrap_or_else(|e| panic!("own sealed value does not open: {e}"));
        assert_eq!(opened.as_slice(), b"plaintext", "seal round trip");
        assert!(keys.open(b"other", &sealed).is_err(), "aad not bound");
    }
    assert!(
        MASTER.open(b"aad", text).is_err(),
        "a value nobody sealed opened"
    );
    Outcome::of(&parsed)
}
