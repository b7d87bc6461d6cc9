//! Behaviour through the public API: formats, errors, rehash rules, redaction.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use clientcreds_secret::{
    CredentialFormat, Error, Kind, PepperKey, SECRET_REGEX, Secret, SecretHash, SecretHasher,
    SecretId, Verification,
};
use regex::Regex;

fn pepper(id: &str, byte: u8) -> PepperKey {
    PepperKey::new(id, &[byte; 32]).unwrap()
}

#[test]
fn lengths_and_alphabet() {
    let format = CredentialFormat::new("acme_").unwrap();
    let id = format.generate_client_id().unwrap();
    assert_eq!(id.as_str().len(), "acme_client_".len() + 20 + 6);
    let issued = format.generate_secret().unwrap();
    let text = issued.secret().expose_secret();
    assert_eq!(text.len(), "acme_secret_".len() + 8 + 43 + 6);
    assert!(
        text["acme_secret_".len()..]
            .bytes()
            .all(|b| b.is_ascii_alphanumeric())
    );
    assert_eq!(
        issued.display_prefix(),
        format!("acme_secret_{}", issued.secret_id())
    );
    // Generated values differ.
    assert_ne!(format.generate_client_id().unwrap(), id);
    assert_ne!(
        format.generate_secret().unwrap().secret().expose_secret(),
        text
    );
}

#[test]
fn each_parse_error_is_typed() {
    let format = CredentialFormat::new("acme_").unwrap();
    let good = format.generate_secret().unwrap().into_secret();
    let text = good.expose_secret();
    let body = &text["acme_secret_".len()..];

    let case = |t: &str| format.parse_secret(&Secret::from(t)).unwrap_err();
    assert_eq!(
        case(&text.replacen("acme_", "acne_", 1)),
        Error::WrongPrefix {
            expected: "acme_".into()
        }
    );
    assert_eq!(
        case(&format!("acme_client_{body}")),
        Error::WrongKind {
            expected: Kind::Secret,
            found: Some(Kind::ClientId)
        }
    );
    assert_eq!(
        case(&format!("acme_token_{body}")),
        Error::WrongKind {
            expected: Kind::Secret,
            found: None
        }
    );
    assert_eq!(
        case(&text[..text.len() - 1]),
        Error::WrongLength {
            expected: 69,
            found: 68
        }
    );
    assert_eq!(
        case(&format!("{text}0")),
        Error::WrongLength {
            expected: 69,
            found: 70
        }
    );
    let mut bad = text.to_owned();
    bad.replace_range(20..21, "-");
    assert_eq!(case(&bad), Error::BadAlphabet { position: 20 });
    let mut bad = text.to_owned();
    let swapped = if &text[30..31] == "a" { "b" } else { "a" };
    bad.replace_range(30..31, swapped);
    assert_eq!(case(&bad), Error::BadChecksum);
    // A non-ASCII character counts as one character, not several bytes.
    let mut bad = text.to_owned();
    bad.replace_range(40..41, "é");
    assert_eq!(case(&bad), Error::BadAlphabet { position: 40 });
    // None of the messages contain the secret or its body.
    for err in [case(&bad), case(&text[..60])] {
        assert!(!err.to_string().contains(body) && !format!("{err:?}").contains(&body[8..20]));
    }
}

#[test]
fn secret_id_parsing() {
    assert!(SecretId::parse("Ab3dE9fK").is_ok());
    for bad in ["", "Ab3dE9f", "Ab3dE9fK0", "Ab3dE9f-", "Ab3dE9fé"] {
        assert_eq!(SecretId::parse(bad), Err(Error::InvalidSecretId), "{bad}");
    }
}

#[test]
fn regex_finds_secrets_in_text_and_nothing_else() {
    let format = CredentialFormat::new("acme_").unwrap();
    let secret = format.generate_secret().unwrap().into_secret();
    let text = secret.expose_secret();
    let any = Regex::new(SECRET_REGEX).unwrap();
    let own = Regex::new(&format.secret_regex()).unwrap();
    let log = format!("POST /token client_secret={text}&grant_type=client_credentials");
    assert_eq!(any.find(&log).unwrap().as_str(), text);
    assert_eq!(own.find(&log).unwrap().as_str(), text);
    assert!(!any.is_match(&format!("{text}X")), "extended");
    assert!(!any.is_match(&text[..text.len() - 1]), "truncated");
    assert!(!any.is_match(format.generate_client_id().unwrap().as_str()));
    let other = CredentialFormat::new("globex_")
        .unwrap()
        .generate_secret()
        .unwrap()
        .into_secret();
    assert!(any.is_match(other.expose_secret()));
    assert!(!own.is_match(other.expose_secret()));
}

#[test]
fn hmac_rehash_rules_and_errors() {
    let secret = Secret::from("acme_secret_example");
    let old = SecretHasher::hmac_sha256(pepper("k1", 1)).unwrap();
    let stored = old.hash(&secret).unwrap();
    assert_eq!(stored.algorithm(), Some("hmac-sha256"));
    // The owned text is the stored text.
    assert_eq!(stored.clone().into_string(), stored.as_str());
    // Only the two known algorithms are named.
    let pbkdf2 = SecretHash::from_stored("pbkdf2-sha256$i=10000$c2FsdA$AAAA");
    assert_eq!(pbkdf2.algorithm(), Some("pbkdf2-sha256"));
    for unknown in ["bcrypt$v1$k1$AAAA", "hmac-sha256", "", "$v1$k1$AAAA"] {
        assert_eq!(
            SecretHash::from_stored(unknown).algorithm(),
            None,
            "{unknown}"
        );
    }
    // A match, fresh or to be rehashed, is valid; a mismatch is not.
    assert!(Verification::Valid.is_valid());
    assert!(Verification::ValidNeedsRehash.is_valid());
    assert!(!Verification::Invalid.is_valid());

    // New pepper, old one kept for verification.
    let new = SecretHasher::hmac_sha256(pepper("k2", 2))
        .unwrap()
        .with_verify_only_pepper(pepper("k1", 1))
        .unwrap();
    assert_eq!(
        new.verify(&secret, &stored).unwrap(),
        Verification::ValidNeedsRehash
    );
    let rehashed = new.hash(&secret).unwrap();
    assert!(rehashed.as_str().starts_with("hmac-sha256$v1$k2$"));
    assert_eq!(new.verify(&secret, &rehashed).unwrap(), Verification::Valid);
    assert_eq!(
        new.verify(&Secret::from("nope"), &stored).unwrap(),
        Verification::Invalid
    );

    // A hasher without the old pepper says so instead of failing silently.
    let forgetful = SecretHasher::hmac_sha256(pepper("k2", 2)).unwrap();
    assert_eq!(
        forgetful.verify(&secret, &stored).unwrap_err(),
        Error::UnknownKeyId {
            key_id: "k1".into()
        }
    );
    assert!(matches!(
        SecretHasher::hmac_sha256(pepper("k2", 2))
            .unwrap()
            .with_verify_only_pepper(pepper("k2", 3)),
        Err(Error::DuplicateKeyId { .. })
    ));

    // The same key id with other key material does not verify.
    let impostor = SecretHasher::hmac_sha256(pepper("k1", 9)).unwrap();
    assert_eq!(
        impostor.verify(&secret, &stored).unwrap(),
        Verification::Invalid
    );

    for (text, err) in [
        ("", Error::MalformedHash),
        ("hmac-sha256$v1$k1", Error::MalformedHash),
        (
            "hmac-sha256$v2$k1$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
            Error::MalformedHash,
        ),
        ("hmac-sha256$v1$k1$AAAA", Error::MalformedHash),
        (
            "hmac-sha256$v1$k 1$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
            Error::MalformedHash,
        ),
        (
            "bcrypt$v1$k1$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
            Error::UnknownAlgorithm,
        ),
        (
            "pbkdf2-sha256$i=0$c2FsdA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
            Error::MalformedHash,
        ),
        (
            "pbkdf2-sha256$i=99999999$c2FsdA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
            Error::MalformedHash,
        ),
        (
            "pbkdf2-sha256$i=1$$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
            Error::MalformedHash,
        ),
    ] {
        assert_eq!(
            old.verify(&secret, &SecretHash::from_stored(text))
                .unwrap_err(),
            err,
            "{text}"
        );
    }
}

#[test]
fn scheme_changes_ask_for_rehash() {
    let secret = Secret::from("acme_secret_example");
    let slow = SecretHasher::pbkdf2_sha256(10_000).unwrap();
    let slower = SecretHasher::pbkdf2_sha256(20_000).unwrap();
    let fast = SecretHasher::hmac_sha256(pepper("k1", 1)).unwrap();

    let pbkdf2 = slow.hash(&secret).unwrap();
    assert!(pbkdf2.as_str().starts_with("pbkdf2-sha256$i=10000$"));
    assert_eq!(slow.verify(&secret, &pbkdf2).unwrap(), Verification::Valid);
    assert_eq!(
        slower.verify(&secret, &pbkdf2).unwrap(),
        Verification::ValidNeedsRehash
    );
    // Moving from PBKDF2 to HMAC: old hashes still verify, and upgrade.
    assert_eq!(
        fast.verify(&secret, &pbkdf2).unwrap(),
        Verification::ValidNeedsRehash
    );
    // And back: a PBKDF2 hasher given the pepper verifies HMAC hashes.
    let hmac = fast.hash(&secret).unwrap();
    let slow_with_pepper = SecretHasher::pbkdf2_sha256(10_000)
        .unwrap()
        .with_verify_only_pepper(pepper("k1", 1))
        .unwrap();
    assert_eq!(
        slow_with_pepper.verify(&secret, &hmac).unwrap(),
        Verification::ValidNeedsRehash
    );
    // Two hashes of one secret differ by salt.
    assert_ne!(slow.hash(&secret).unwrap(), pbkdf2);

    assert!(matches!(
        SecretHasher::pbkdf2_sha256(9_999),
        Err(Error::IterationsOutOfRange { .. })
    ));
    assert!(matches!(
        SecretHasher::pbkdf2_sha256(10_000_001),
        Err(Error::IterationsOutOfRange { .. })
    ));
}

#[test]
fn pepper_rules() {
    assert_eq!(
        PepperKey::new("k1", &[0; 31]).unwrap_err(),
        Error::WeakPepper { len: 31 }
    );
    for bad in ["", "k 1", "k$1", &"k".repeat(65)] {
        assert_eq!(
            PepperKey::new(bad, &[0; 32]).unwrap_err(),
            Error::InvalidKeyId,
            "{bad:?}"
        );
    }
    assert!(PepperKey::new("2026-11_a.b", &[0; 32]).is_ok());
}

#[test]
fn dummy_verification_always_fails() {
    let hasher = SecretHasher::hmac_sha256(pepper("k1", 1)).unwrap();
    let format = CredentialFormat::new("acme_").unwrap();
    for _ in 0..100 {
        let secret = format.generate_secret().unwrap().into_secret();
        assert_eq!(hasher.verify_dummy(&secret), Verification::Invalid);
    }
    assert_eq!(
        hasher.verify_dummy(&Secret::from("")),
        Verification::Invalid
    );
}

#[test]
fn nothing_prints_a_secret_or_a_hash() {
    let format = CredentialFormat::new("acme_").unwrap();
    let issued = format.generate_secret().unwrap();
    let text = issued.secret().expose_secret().to_owned();
    let random_part = &text[text.len() - 49..];
    let hasher = SecretHasher::hmac_sha256(pepper("k1", 1)).unwrap();
    let stored = hasher.hash(issued.secret()).unwrap();
    let hash_part = stored.as_str().rsplit('$').next().unwrap().to_owned();

    let printed = [
        format!("{:?}", issued),
        format!("{:?} {}", issued.secret(), issued.secret()),
        format!("{stored:?}"),
        format!("{hasher:?}"),
        format!("{format:?}"),
        format!("{:?}", pepper("k1", 0x41)),
    ];
    for p in &printed {
        assert!(!p.contains(random_part), "secret leaked: {p}");
        assert!(!p.contains(&hash_part), "hash leaked: {p}");
        assert!(
            !p.contains("AAAAAAAA") && !p.contains("65, 65"),
            "pepper leaked: {p}"
        );
    }
    assert!(printed[0].contains("[redacted]"));
    // The hasher's Debug names its scheme and pepper ids (not nothing).
    assert!(
        printed[3].starts_with("SecretHasher")
            && printed[3].contains("hmac-sha256")
            && printed[3].contains("k1"),
        "{}",
        printed[3]
    );
    assert_eq!(printed[1], "Secret([redacted]) [redacted]");
}
