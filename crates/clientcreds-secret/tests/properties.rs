//! Property tests: round trips, single-character corruption, and arbitrary input.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::sync::LazyLock;

use clientcreds_secret::{
    CredentialFormat, Error, Kind, PepperKey, SECRET_REGEX, Secret, SecretHash, SecretHasher,
    Verification,
};
use proptest::prelude::*;
use regex::Regex;

static HMAC: LazyLock<SecretHasher> = LazyLock::new(|| {
    SecretHasher::hmac_sha256(PepperKey::new("k1", &[0x11; 32]).unwrap()).unwrap()
});
static ACME: LazyLock<CredentialFormat> = LazyLock::new(|| CredentialFormat::new("acme_").unwrap());
static ANY_SECRET: LazyLock<Regex> = LazyLock::new(|| Regex::new(SECRET_REGEX).unwrap());
static ACME_SECRET: LazyLock<Regex> = LazyLock::new(|| Regex::new(&ACME.secret_regex()).unwrap());

fn prefix() -> impl Strategy<Value = String> {
    "[a-z][a-z0-9]{0,14}_"
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn generate_format_parse_round_trip(prefix in prefix()) {
        let format = CredentialFormat::new(&prefix).unwrap();
        let client_id = format.generate_client_id().unwrap();
        prop_assert_eq!(format.parse_client_id(client_id.as_str()).unwrap(), client_id.clone());
        prop_assert!(!ANY_SECRET.is_match(client_id.as_str()));

        let issued = format.generate_secret().unwrap();
        let text = issued.secret().expose_secret();
        prop_assert_eq!(format.parse_secret(issued.secret()).unwrap(), issued.secret_id());
        prop_assert!(text.starts_with(issued.display_prefix()));
        prop_assert_eq!(issued.display_prefix().len(), prefix.len() + "secret_".len() + 8);
        prop_assert!(ANY_SECRET.is_match(text));
        prop_assert!(Regex::new(&format.secret_regex()).unwrap().is_match(text));
        // Each kind is refused where the other is expected.
        prop_assert_eq!(
            format.parse_client_id(text).unwrap_err(),
            Error::WrongKind { expected: Kind::ClientId, found: Some(Kind::Secret) }
        );
    }

    #[test]
    fn hash_then_verify(secret in ".{0,200}") {
        let secret = Secret::from(secret);
        let stored = HMAC.hash(&secret).unwrap();
        prop_assert_eq!(HMAC.verify(&secret, &stored).unwrap(), Verification::Valid);
        prop_assert_eq!(HMAC.verify_dummy(&secret), Verification::Invalid);
    }

    #[test]
    fn flipping_any_character_is_rejected(index in any::<prop::sample::Index>(), replacement in any::<char>()) {
        let issued = ACME.generate_secret().unwrap();
        let stored = HMAC.hash(issued.secret()).unwrap();
        let chars: Vec<char> = issued.secret().expose_secret().chars().collect();
        let at = index.index(chars.len());
        prop_assume!(chars[at] != replacement);
        let mut flipped = chars.clone();
        flipped[at] = replacement;
        let flipped = Secret::from(flipped.into_iter().collect::<String>());
        let err = ACME.parse_secret(&flipped).unwrap_err();
        prop_assert!(err.is_malformed_credential(), "{err}");
        prop_assert_eq!(HMAC.verify(&flipped, &stored).unwrap(), Verification::Invalid);
    }

    #[test]
    fn dropping_any_character_is_rejected(index in any::<prop::sample::Index>()) {
        let issued = ACME.generate_secret().unwrap();
        let stored = HMAC.hash(issued.secret()).unwrap();
        let mut text = issued.secret().expose_secret().to_owned();
        text.remove(index.index(text.len()));
        let dropped = Secret::from(text.as_str());
        let err = ACME.parse_secret(&dropped).unwrap_err();
        prop_assert!(err.is_malformed_credential(), "{err}");
        prop_assert_eq!(HMAC.verify(&dropped, &stored).unwrap(), Verification::Invalid);
        // The generic pattern may still match (dropping the prefix's first
        // letter leaves another valid prefix); this format's own cannot.
        prop_assert!(!ACME_SECRET.is_match(&text));
    }

    #[test]
    fn arbitrary_input_never_panics(text in ".{0,120}", tail in "[0-9A-Za-z]{50,60}") {
        for candidate in [text.clone(), format!("acme_secret_{text}"), format!("acme_client_{text}"), format!("acme_secret_{tail}")] {
            let secret = Secret::from(candidate.as_str());
            if let Err(err) = ACME.parse_secret(&secret) {
                prop_assert!(err.is_malformed_credential());
                // No error message repeats the presented text.
                prop_assert!(candidate.len() < 12 || !err.to_string().contains(candidate.as_str()));
            }
            let _ = ACME.parse_client_id(&candidate);
            let _ = HMAC.verify(&secret, &SecretHash::from_stored(candidate.clone()));
        }
    }

    #[test]
    fn arbitrary_stored_hashes_never_panic(alg in "(hmac-sha256|pbkdf2-sha256|x)", params in "(v1|i=[0-9]{1,12}|.{0,5})", third in ".{0,30}", hash in ".{0,50}") {
        let stored = SecretHash::from_stored(format!("{alg}${params}${third}${hash}"));
        let _ = format!("{stored:?}");
        match HMAC.verify(&Secret::from("x"), &stored) {
            Ok(v) => prop_assert_eq!(v, Verification::Invalid),
            Err(e) => prop_assert!(!e.is_malformed_credential()),
        }
    }
}

proptest! {
    // PBKDF2 is slow by design: fewer cases.
    #![proptest_config(ProptestConfig::with_cases(8))]

    #[test]
    fn pbkdf2_hash_then_verify(secret in ".{0,64}") {
        let hasher = SecretHasher::pbkdf2_sha256(10_000).unwrap();
        let secret = Secret::from(secret);
        let stored = hasher.hash(&secret).unwrap();
        prop_assert_eq!(hasher.verify(&secret, &stored).unwrap(), Verification::Valid);
        let other = Secret::from(format!("{}x", secret.expose_secret()));
        prop_assert_eq!(hasher.verify(&other, &stored).unwrap(), Verification::Invalid);
    }
}
