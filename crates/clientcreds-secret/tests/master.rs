//! Master keys through the public API: the text form and its errors,
//! pepper rotation, sealing.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use clientcreds_secret::{Error, MasterKeys, Secret, Verification};

const K32: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8"; // 0..=31
const K32B: &str = "ICEiIyQlJicoKSorLC0uLzAxMjM0NTY3ODk6Ozw9Pj8"; // 32..=63

#[test]
fn parses_entries_first_is_current() {
    let keys = MasterKeys::parse(&format!(" k2:{K32B} , k1:{K32}")).unwrap();
    assert_eq!(keys.current_id(), "k2");
    assert_eq!(keys.ids(), ["k2", "k1"]);
    // Padding is optional.
    let padded = MasterKeys::parse(&format!("k1:{K32}=")).unwrap();
    assert_eq!(padded.ids(), ["k1"]);
}

#[test]
fn bad_text_is_a_typed_error_naming_the_entry_never_the_key() {
    let cases: Vec<(String, Error)> = vec![
        (String::new(), Error::NoMasterKeys),
        (" , ".into(), Error::NoMasterKeys),
        (
            K32.into(),
            Error::MalformedMasterKey {
                position: 1,
                reason: "expected `id:base64url`",
            },
        ),
        (
            format!("k1:{K32},bad id:{K32B}"),
            Error::MalformedMasterKey {
                position: 2,
                reason: "the id must be 1 to 64 characters of [A-Za-z0-9._-]",
            },
        ),
        (
            format!("k1:{K32}+/"),
            Error::MalformedMasterKey {
                position: 1,
                reason: "the key is not URL-safe base64",
            },
        ),
        (
            "k1:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHg".into(),
            Error::WeakMasterKey {
                position: 1,
                id: "k1".into(),
                len: 31,
            },
        ),
        (
            format!("k1:{K32},k1:{K32B}"),
            Error::DuplicateKeyId {
                key_id: "k1".into(),
            },
        ),
        (
            format!(":{K32}"),
            Error::MalformedMasterKey {
                position: 1,
                reason: "the id must be 1 to 64 characters of [A-Za-z0-9._-]",
            },
        ),
    ];
    for (text, expected) in cases {
        let error = MasterKeys::parse(&text).unwrap_err();
        assert_eq!(error, expected, "{text:?}");
        let message = error.to_string();
        assert!(!message.contains(K32) && !message.contains(K32B));
        assert!(!message.contains("AAECAwQF"), "{message}");
    }
    let many = (0..17)
        .map(|i| format!("k{i}:{K32}"))
        .collect::<Vec<_>>()
        .join(",");
    assert!(matches!(
        MasterKeys::parse(&many),
        Err(Error::TooManyMasterKeys { count: 17, max: 16 })
    ));
}

#[test]
fn generated_entries_parse_and_differ() {
    let a = MasterKeys::generate_entry("2026-11").unwrap();
    let b = MasterKeys::generate_entry("2026-11").unwrap();
    assert_ne!(*a, *b);
    assert!(a.starts_with("2026-11:"));
    assert_eq!(MasterKeys::parse(&a).unwrap().current_id(), "2026-11");
    assert_eq!(
        MasterKeys::generate_entry("no spaces").unwrap_err(),
        Error::InvalidKeyId
    );
}

#[test]
fn debug_shows_ids_only() {
    let keys = MasterKeys::parse(&format!("k1:{K32}")).unwrap();
    let debug = format!("{keys:?}");
    assert_eq!(
        debug,
        r#"MasterKeys { current: "k1", ids: ["k1"], keys: [redacted] }"#
    );
}

#[test]
fn pepper_follows_the_master_and_old_hashes_ask_for_a_rehash() {
    let secret = Secret::from("acme_secret_anything");
    let old = MasterKeys::parse(&format!("k1:{K32}")).unwrap();
    let hash = old.secret_hasher().unwrap().hash(&secret).unwrap();
    assert!(hash.as_str().starts_with("hmac-sha256$v1$k1$"));
    // Derivation is deterministic: the same master verifies after a restart.
    let again = MasterKeys::parse(&format!("k1:{K32}")).unwrap();
    assert_eq!(
        again
            .secret_hasher()
            .unwrap()
            .verify(&secret, &hash)
            .unwrap(),
        Verification::Valid
    );
    let rotated = MasterKeys::parse(&format!("k2:{K32B},k1:{K32}")).unwrap();
    let hasher = rotated.secret_hasher().unwrap();
    assert_eq!(
        hasher.verify(&secret, &hash).unwrap(),
        Verification::ValidNeedsRehash
    );
    let upgraded = hasher.hash(&secret).unwrap();
    assert!(upgraded.as_str().starts_with("hmac-sha256$v1$k2$"));
    assert_eq!(
        hasher.verify(&secret, &upgraded).unwrap(),
        Verification::Valid
    );
    // A set without k1 cannot check k1's hashes, and says so.
    let only_new = MasterKeys::parse(&format!("k2:{K32B}")).unwrap();
    assert_eq!(
        only_new
            .secret_hasher()
            .unwrap()
            .verify(&secret, &hash)
            .unwrap_err(),
        Error::UnknownKeyId {
            key_id: "k1".into()
        }
    );
    // The pepper is not the master key itself: an HMAC under the raw key
    // differs from the stored hash.
    let raw = ring::hmac::sign(
        &ring::hmac::Key::new(ring::hmac::HMAC_SHA256, &(0u8..32).collect::<Vec<_>>()),
        secret.expose_secret().as_bytes(),
    );
    use base64::Engine as _;
    let raw = base64::engine::general_purpose::STANDARD_NO_PAD.encode(raw.as_ref());
    assert!(!hash.as_str().ends_with(&raw));
}

#[test]
fn sealing_round_trips_across_rotation_and_binds_its_context() {
    let old = MasterKeys::parse(&format!("k1:{K32}")).unwrap();
    let sealed = old.seal(b"kid|EdDSA", b"pkcs8 bytes").unwrap();
    assert!(sealed.starts_with("aes256gcm$v1$k1$"));
    assert_eq!(MasterKeys::sealed_key_id(&sealed), Some("k1"));
    assert!(!sealed.contains("pkcs8"));
    // Random nonce: the same input seals differently each time.
    assert_ne!(sealed, old.seal(b"kid|EdDSA", b"pkcs8 bytes").unwrap());

    let rotated = MasterKeys::parse(&format!("k2:{K32B},k1:{K32}")).unwrap();
    assert_eq!(
        &*rotated.open(b"kid|EdDSA", &sealed).unwrap(),
        b"pkcs8 bytes"
    );
    let resealed = rotated.seal(b"kid|EdDSA", b"pkcs8 bytes").unwrap();
    assert_eq!(MasterKeys::sealed_key_id(&resealed), Some("k2"));

    // Other associated data (another kid or algorithm): refused.
    assert_eq!(
        rotated.open(b"kid|ES256", &sealed).unwrap_err(),
        Error::SealedDataRejected {
            key_id: "k1".into()
        }
    );
    // The right id with the wrong bytes: refused, not garbage.
    let impostor = MasterKeys::parse(&format!("k1:{K32B}")).unwrap();
    assert_eq!(
        impostor.open(b"kid|EdDSA", &sealed).unwrap_err(),
        Error::SealedDataRejected {
            key_id: "k1".into()
        }
    );
    // A key the set lacks.
    let other = MasterKeys::parse(&format!("k9:{K32}")).unwrap();
    assert_eq!(
        other.open(b"kid|EdDSA", &sealed).unwrap_err(),
        Error::UnknownMasterKey {
            key_id: "k1".into()
        }
    );
    // Altered or malformed text.
    let mut altered = sealed.clone().into_bytes();
    let last = altered.len() - 1;
    altered[last] = if altered[last] == b'A' { b'B' } else { b'A' };
    let altered = String::from_utf8(altered).unwrap();
    assert!(matches!(
        old.open(b"kid|EdDSA", &altered),
        Err(Error::SealedDataRejected { .. } | Error::MalformedSealed)
    ));
    for bad in [
        "",
        "aes256gcm$v1$k1$",
        "aes256gcm$v2$k1$AAAA",
        "aes256gcm$v1$k1$AAAA",
        "aes256gcm$v1$k 1$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        "aes256gcm$v1$k1$!!!!",
    ] {
        assert_eq!(
            old.open(b"", bad).unwrap_err(),
            Error::MalformedSealed,
            "{bad:?}"
        );
    }
}

#[test]
fn ephemeral_sets_are_random() {
    let a = MasterKeys::ephemeral().unwrap();
    let b = MasterKeys::ephemeral().unwrap();
    let sealed = a.seal(b"", b"x").unwrap();
    assert!(b.open(b"", &sealed).is_err());
}
