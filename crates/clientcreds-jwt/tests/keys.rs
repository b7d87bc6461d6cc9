//! Keys and key sets: generation, loading (PKCS#8 DER/PEM, JWK), key ids, redaction, JWKS, rotation.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::sync::Arc;

use clientcreds_jwt::{
    Algorithm, Jwks, KeyError, KeySet, PrivateJwk, PublicJwk, SigningKey, VerifyError,
    VerifyingKey, thumbprint,
};
use serde_json::{Value, json};
use time::Duration;

use common::{
    ALL, ASYMMETRIC, HS_KID, HS_SECRET, b64, der, fixture_key, fixture_key_from_jwk, jwk_json,
    mint, now, parts, pem, public_der, unb64, verifier,
};

/// The RFC 7638 thumbprint computed here, independently of the crate:
/// SHA-256 over the required members in lexicographic order, no spaces.
fn independent_thumbprint(jwk: &PublicJwk) -> String {
    let canonical = match jwk.kty.as_str() {
        "OKP" => format!(
            r#"{{"crv":"{}","kty":"OKP","x":"{}"}}"#,
            jwk.crv.as_ref().unwrap(),
            jwk.x.as_ref().unwrap()
        ),
        "EC" => format!(
            r#"{{"crv":"{}","kty":"EC","x":"{}","y":"{}"}}"#,
            jwk.crv.as_ref().unwrap(),
            jwk.x.as_ref().unwrap(),
            jwk.y.as_ref().unwrap()
        ),
        "RSA" => format!(
            r#"{{"e":"{}","kty":"RSA","n":"{}"}}"#,
            jwk.e.as_ref().unwrap(),
            jwk.n.as_ref().unwrap()
        ),
        other => panic!("unexpected kty {other}"),
    };
    b64(ring::digest::digest(
        &ring::digest::SHA256,
        canonical.as_bytes(),
    ))
}

fn assert_signs_and_verifies(key: &SigningKey) {
    let message = b"header.payload";
    let signature = key.sign(message).unwrap();
    assert!(key.verifying_key().verify(message, &signature));
    assert!(!key.verifying_key().verify(b"header.payloaD", &signature));
}

/// The private member values of a fixture JWK.
fn private_values(algorithm: Algorithm) -> Vec<String> {
    let jwk: Value = serde_json::from_str(&jwk_json(algorithm)).unwrap();
    ["d", "p", "q", "dp", "dq", "qi"]
        .iter()
        .filter_map(|name| jwk.get(*name).and_then(Value::as_str).map(str::to_owned))
        .collect()
}

fn private_jwk(value: &Value) -> PrivateJwk {
    PrivateJwk::from_json(&value.to_string()).unwrap()
}

fn jwk_with(algorithm: Algorithm, name: &str, value: Option<&str>) -> Value {
    let mut jwk: Value = serde_json::from_str(&jwk_json(algorithm)).unwrap();
    let object = jwk.as_object_mut().unwrap();
    match value {
        Some(value) => object.insert(name.to_owned(), json!(value)),
        None => object.remove(name),
    };
    jwk
}

// ---------------------------------------------------------------- generation

#[test]
fn generates_eddsa_and_es256_keys_with_thumbprint_kids() {
    for algorithm in [Algorithm::EdDSA, Algorithm::ES256] {
        let a = SigningKey::generate(algorithm).unwrap();
        let b = SigningKey::generate(algorithm).unwrap();
        assert_eq!(a.algorithm(), algorithm);
        assert_eq!(a.verifying_key().algorithm(), algorithm);
        assert_ne!(a.kid(), b.kid(), "two generated keys are distinct");
        let jwk = a.verifying_key().public_jwk().unwrap();
        assert_eq!(a.kid(), independent_thumbprint(jwk));
        assert_eq!(a.kid().len(), 43);
        assert_signs_and_verifies(&a);
        let signature = a.sign(b"m").unwrap();
        assert!(!b.verifying_key().verify(b"m", &signature));
    }
}

#[test]
fn generates_hs256_keys_with_random_kids() {
    let a = SigningKey::generate(Algorithm::HS256).unwrap();
    let b = SigningKey::generate(Algorithm::HS256).unwrap();
    assert_eq!(a.algorithm(), Algorithm::HS256);
    assert!(a.kid().starts_with("hs-"), "{}", a.kid());
    assert_ne!(a.kid(), b.kid());
    assert!(a.verifying_key().public_jwk().is_none());
    assert_eq!(a.sign(b"m").unwrap().len(), 32);
    assert_ne!(a.sign(b"m").unwrap(), b.sign(b"m").unwrap());
    assert_signs_and_verifies(&a);
}

#[cfg(not(feature = "aws-lc-rs"))]
#[test]
fn rs256_generation_is_unsupported_with_ring() {
    assert_eq!(clientcreds_jwt::CRYPTO_BACKEND, "ring");
    assert_eq!(
        SigningKey::generate(Algorithm::RS256).unwrap_err(),
        KeyError::GenerationUnsupported("RS256")
    );
    assert_eq!(
        SigningKey::generate_pkcs8(Algorithm::RS256).unwrap_err(),
        KeyError::GenerationUnsupported("RS256")
    );
}

#[cfg(feature = "aws-lc-rs")]
#[test]
fn generates_rs256_keys_with_aws_lc() {
    assert_eq!(clientcreds_jwt::CRYPTO_BACKEND, "aws-lc-rs");
    let document = SigningKey::generate_pkcs8(Algorithm::RS256).unwrap();
    let key = SigningKey::from_pkcs8_der(Algorithm::RS256, &document).unwrap();
    let jwk = key.verifying_key().public_jwk().unwrap();
    // 256 bytes (a 2048-bit modulus) are 342 base64url characters.
    assert_eq!(jwk.n.as_deref().unwrap().len(), 342);
    assert_eq!(jwk.e.as_deref(), Some("AQAB"));
    assert_eq!(key.sign(b"m").unwrap().len(), 256);
    assert_signs_and_verifies(&key);
    let other = SigningKey::generate(Algorithm::RS256).unwrap();
    assert_ne!(other.kid(), key.kid());
    assert_signs_and_verifies(&other);
}

#[test]
fn hs256_has_no_pkcs8_form() {
    assert!(matches!(
        SigningKey::generate_pkcs8(Algorithm::HS256),
        Err(KeyError::GenerationUnsupported(_))
    ));
}

#[test]
fn generated_pkcs8_reloads_to_the_same_key() {
    for algorithm in [Algorithm::EdDSA, Algorithm::ES256] {
        let document = SigningKey::generate_pkcs8(algorithm).unwrap();
        let a = SigningKey::from_pkcs8_der(algorithm, &document).unwrap();
        let b = SigningKey::from_pkcs8_der(algorithm, &document).unwrap();
        assert_eq!(a.kid(), b.kid());
        let signature = a.sign(b"m").unwrap();
        assert!(b.verifying_key().verify(b"m", &signature));
    }
}

// ------------------------------------------------------------------- loading

#[test]
fn loads_openssl_pkcs8_der_pem_and_jwk_as_one_key() {
    for algorithm in ASYMMETRIC {
        let from_der = SigningKey::from_pkcs8_der(algorithm, &der(algorithm)).unwrap();
        let from_pem = SigningKey::from_pkcs8_pem(algorithm, &pem(algorithm)).unwrap();
        let from_jwk = fixture_key_from_jwk(algorithm);
        for key in [&from_der, &from_pem, &from_jwk] {
            assert_eq!(key.algorithm(), algorithm);
            assert_eq!(key.kid(), from_der.kid(), "{algorithm}");
            assert_eq!(
                key.verifying_key().public_jwk(),
                from_der.verifying_key().public_jwk()
            );
            assert_signs_and_verifies(key);
        }
        // Each verifies the others' signatures.
        let signature = from_jwk.sign(b"m").unwrap();
        assert!(from_der.verifying_key().verify(b"m", &signature));
        assert!(from_pem.verifying_key().verify(b"m", &signature));
    }
}

#[test]
fn kid_is_the_rfc7638_thumbprint_of_the_exported_public_jwk() {
    for algorithm in ASYMMETRIC {
        let key = fixture_key(algorithm);
        let jwk = key.verifying_key().public_jwk().unwrap();
        assert_eq!(key.kid(), independent_thumbprint(jwk), "{algorithm}");
        assert_eq!(key.kid(), thumbprint(jwk).unwrap());
        assert_eq!(jwk.kid.as_deref(), Some(key.kid()));
        assert_eq!(jwk.alg.as_deref(), Some(algorithm.name()));
        assert_eq!(jwk.use_.as_deref(), Some("sig"));
        // Re-importing the published JWK gives the same key id and algorithm.
        let reimported = VerifyingKey::from_jwk(jwk).unwrap();
        assert_eq!(reimported.kid(), key.kid());
        assert_eq!(reimported.algorithm(), algorithm);
    }
}

#[test]
fn exported_public_jwk_matches_the_openssl_public_key() {
    // Ed25519 SPKI: a 12-byte prefix, then the 32-byte key.
    let key = fixture_key(Algorithm::EdDSA);
    let jwk = key.verifying_key().public_jwk().unwrap();
    let spki = public_der(Algorithm::EdDSA);
    assert_eq!(unb64(jwk.x.as_ref().unwrap()), spki[spki.len() - 32..]);
    assert!(jwk.y.is_none() && jwk.n.is_none() && jwk.e.is_none());

    // P-256 SPKI ends with the uncompressed point 04 || x || y.
    let key = fixture_key(Algorithm::ES256);
    let jwk = key.verifying_key().public_jwk().unwrap();
    let spki = public_der(Algorithm::ES256);
    let point = &spki[spki.len() - 65..];
    assert_eq!(point[0], 4);
    assert_eq!(unb64(jwk.x.as_ref().unwrap()), point[1..33]);
    assert_eq!(unb64(jwk.y.as_ref().unwrap()), point[33..]);
    assert_eq!(jwk.crv.as_deref(), Some("P-256"));

    // RSA: the modulus (no leading zero) appears in the SPKI; e = 65537.
    let key = fixture_key(Algorithm::RS256);
    let jwk = key.verifying_key().public_jwk().unwrap();
    let n = unb64(jwk.n.as_ref().unwrap());
    assert_eq!(n.len(), 256);
    assert_ne!(n[0], 0);
    let spki = public_der(Algorithm::RS256);
    assert!(spki.windows(n.len()).any(|w| w == n.as_slice()));
    assert_eq!(jwk.e.as_deref(), Some("AQAB"));
}

#[test]
fn wrong_algorithm_pkcs8_loads_are_rejected() {
    for key_algorithm in ASYMMETRIC {
        for asked in ASYMMETRIC {
            if asked == key_algorithm {
                continue;
            }
            let err = SigningKey::from_pkcs8_der(asked, &der(key_algorithm)).unwrap_err();
            assert!(
                matches!(err, KeyError::Rejected(_)),
                "{key_algorithm} loaded as {asked}: {err:?}"
            );
            let err = SigningKey::from_pkcs8_pem(asked, &pem(key_algorithm)).unwrap_err();
            assert!(matches!(err, KeyError::Rejected(_)), "{err:?}");
        }
        let err = SigningKey::from_pkcs8_der(Algorithm::HS256, &der(key_algorithm)).unwrap_err();
        assert!(matches!(err, KeyError::Rejected(_)), "{err:?}");
    }
}

#[test]
fn legacy_pkcs1_and_sec1_der_are_rejected() {
    for (algorithm, file) in [
        (Algorithm::RS256, "test-only-rsa2048.pkcs1.der"),
        (Algorithm::ES256, "test-only-p256.sec1.der"),
    ] {
        let err = SigningKey::from_pkcs8_der(algorithm, &common::data(file)).unwrap_err();
        assert!(matches!(err, KeyError::Rejected(_)), "{file}: {err:?}");
    }
}

#[test]
fn malformed_pkcs8_der_is_rejected() {
    for algorithm in ASYMMETRIC {
        let der = der(algorithm);
        for bad in [
            &[][..],
            &der[..der.len() / 2],
            &der[..der.len() - 1],
            b"not der",
        ] {
            let err = SigningKey::from_pkcs8_der(algorithm, bad).unwrap_err();
            assert!(matches!(err, KeyError::Rejected(_)), "{err:?}");
        }
    }
}

#[test]
fn pem_with_another_label_is_a_pem_error() {
    let cases = [
        (Algorithm::RS256, "test-only-rsa2048.pkcs1.pem"),
        (Algorithm::ES256, "test-only-p256.sec1.pem"),
        (Algorithm::EdDSA, "test-only-ed25519.pub.pem"),
        (Algorithm::ES256, "test-only-p256.pub.pem"),
        (Algorithm::RS256, "test-only-rsa2048.pub.pem"),
    ];
    for (algorithm, file) in cases {
        let text = common::data_str(file);
        assert_eq!(
            SigningKey::from_pkcs8_pem(algorithm, &text).unwrap_err(),
            KeyError::Pem,
            "{file}"
        );
    }
    let good = pem(Algorithm::EdDSA);
    let relabelled = good.replace("PRIVATE KEY", "ENCRYPTED PRIVATE KEY");
    for bad in [
        String::new(),
        "not a pem".to_owned(),
        relabelled,
        good.replace("-----END PRIVATE KEY-----", ""),
        good.replace("-----BEGIN PRIVATE KEY-----", ""),
        // Not base64 inside.
        "-----BEGIN PRIVATE KEY-----\n!!!!\n-----END PRIVATE KEY-----\n".to_owned(),
        // Two blocks in one text.
        format!("{good}{good}"),
    ] {
        assert_eq!(
            SigningKey::from_pkcs8_pem(Algorithm::EdDSA, &bad).unwrap_err(),
            KeyError::Pem
        );
    }
}

#[test]
fn pem_tolerates_crlf_and_surrounding_whitespace_but_not_bad_der() {
    let good = pem(Algorithm::ES256);
    let kid = fixture_key(Algorithm::ES256).kid().to_owned();
    let crlf = good.replace('\n', "\r\n");
    let padded = format!("\n\n  {good}  \n");
    for text in [crlf, padded] {
        assert_eq!(
            SigningKey::from_pkcs8_pem(Algorithm::ES256, &text)
                .unwrap()
                .kid(),
            kid
        );
    }
    // Correct label, valid base64, not a key.
    let junk = "-----BEGIN PRIVATE KEY-----\nAAAAAAAA\n-----END PRIVATE KEY-----";
    assert!(matches!(
        SigningKey::from_pkcs8_pem(Algorithm::ES256, junk),
        Err(KeyError::Rejected(_))
    ));
}

#[test]
fn loads_private_jwks_of_every_type() {
    for algorithm in ASYMMETRIC {
        let key = fixture_key_from_jwk(algorithm);
        assert_eq!(key.algorithm(), algorithm);
        assert_eq!(key.kid(), fixture_key(algorithm).kid());
    }
    let oct = json!({ "kty": "oct", "kid": HS_KID, "k": b64(HS_SECRET) });
    let key = SigningKey::from_jwk(&private_jwk(&oct)).unwrap();
    assert_eq!(key.algorithm(), Algorithm::HS256);
    assert_eq!(key.kid(), HS_KID);
    assert_eq!(
        key.sign(b"m").unwrap(),
        fixture_key(Algorithm::HS256).sign(b"m").unwrap()
    );
}

#[test]
fn private_jwk_errors_name_the_member() {
    assert_eq!(
        PrivateJwk::from_json("not json").unwrap_err(),
        KeyError::Jwk("not a JWK object")
    );
    assert_eq!(
        PrivateJwk::from_json(r#"{"crv":"Ed25519"}"#).unwrap_err(),
        KeyError::Jwk("not a JWK object")
    );
    let load = |value: &Value| SigningKey::from_jwk(&private_jwk(value)).unwrap_err();
    let cases: Vec<(Value, KeyError)> = vec![
        (json!({"kty": "foo"}), KeyError::Jwk("kty")),
        (
            json!({"kty": "OKP", "crv": "X25519", "x": "AA", "d": "AA"}),
            KeyError::Jwk("crv"),
        ),
        (
            json!({"kty": "OKP", "x": "AA", "d": "AA"}),
            KeyError::Jwk("crv"),
        ),
        (
            json!({"kty": "EC", "crv": "P-521", "x": "AA", "y": "AA", "d": "AA"}),
            KeyError::Jwk("crv"),
        ),
        (jwk_with(Algorithm::EdDSA, "d", None), KeyError::Jwk("d")),
        (jwk_with(Algorithm::EdDSA, "x", None), KeyError::Jwk("x")),
        (
            jwk_with(Algorithm::EdDSA, "x", Some("a+b/")),
            KeyError::Jwk("x"),
        ),
        (jwk_with(Algorithm::ES256, "y", None), KeyError::Jwk("y")),
        (
            jwk_with(Algorithm::ES256, "d", Some("AA==")),
            KeyError::Jwk("d"),
        ),
        (jwk_with(Algorithm::RS256, "qi", None), KeyError::Jwk("qi")),
        (jwk_with(Algorithm::RS256, "dp", None), KeyError::Jwk("dp")),
        (jwk_with(Algorithm::RS256, "e", None), KeyError::Jwk("e")),
        (
            json!({"kty": "oct", "k": b64(HS_SECRET)}),
            KeyError::Jwk("kid"),
        ),
        (json!({"kty": "oct", "kid": "k1"}), KeyError::Jwk("k")),
        (
            json!({"kty": "oct", "kid": "k1", "k": b64([7u8; 16])}),
            KeyError::WeakSecret(16),
        ),
        (
            json!({"kty": "oct", "kid": "bad\u{7}bell", "k": b64(HS_SECRET)}),
            KeyError::InvalidKid,
        ),
    ];
    for (value, expected) in cases {
        assert_eq!(load(&value), expected, "{value}");
    }
}

#[test]
fn private_jwk_with_mismatched_public_part_is_rejected() {
    let other_x = fixture_key(Algorithm::EdDSA).kid().to_owned(); // 32 bytes, but not the key
    let cases = [
        jwk_with(Algorithm::EdDSA, "x", Some(&other_x)),
        jwk_with(Algorithm::ES256, "x", Some(&other_x)),
        {
            let mut n = serde_json::from_str::<Value>(&jwk_json(Algorithm::RS256)).unwrap()["n"]
                .as_str()
                .unwrap()
                .to_owned();
            n.replace_range(10..11, if &n[10..11] == "A" { "B" } else { "A" });
            jwk_with(Algorithm::RS256, "n", Some(&n))
        },
    ];
    for value in cases {
        let err = SigningKey::from_jwk(&private_jwk(&value)).unwrap_err();
        assert!(matches!(err, KeyError::Rejected(_)), "{err:?}");
    }
}

#[test]
fn hs256_secrets_and_kids_are_checked() {
    assert_eq!(
        SigningKey::hs256("k", &[1; 31]).unwrap_err(),
        KeyError::WeakSecret(31)
    );
    assert!(SigningKey::hs256("k", &[1; 32]).is_ok());
    for kid in [
        String::new(),
        "k".repeat(257),
        "\n".to_owned(),
        "tab\there".to_owned(),
    ] {
        assert_eq!(
            SigningKey::hs256(&kid, HS_SECRET).unwrap_err(),
            KeyError::InvalidKid
        );
    }
    // RFC 7517 lets a kid be any string: spaces and non-ASCII are fine.
    for kid in ["k".repeat(256), "a b".to_owned(), "é".to_owned()] {
        assert!(SigningKey::hs256(&kid, HS_SECRET).is_ok(), "{kid}");
    }
}

#[test]
fn public_jwk_import_refuses_bad_keys() {
    let eddsa = fixture_key(Algorithm::EdDSA)
        .verifying_key()
        .public_jwk()
        .unwrap()
        .clone();
    let rsa = fixture_key(Algorithm::RS256)
        .verifying_key()
        .public_jwk()
        .unwrap()
        .clone();
    let cases = [
        (
            PublicJwk {
                alg: Some("HS256".into()),
                ..eddsa.clone()
            },
            KeyError::Jwk("alg"),
        ),
        (
            PublicJwk {
                alg: Some("ES256".into()),
                ..eddsa.clone()
            },
            KeyError::Jwk("alg"),
        ),
        (
            PublicJwk {
                x: Some(b64([1u8; 31])),
                ..eddsa.clone()
            },
            KeyError::Jwk("x"),
        ),
        (
            PublicJwk {
                x: None,
                ..eddsa.clone()
            },
            KeyError::Jwk("x"),
        ),
        (
            PublicJwk {
                kty: "oct".into(),
                ..eddsa.clone()
            },
            KeyError::Jwk("kty"),
        ),
        (
            PublicJwk {
                crv: Some("Ed448".into()),
                ..eddsa.clone()
            },
            KeyError::Jwk("crv"),
        ),
        (
            PublicJwk {
                kid: Some(String::new()),
                ..eddsa
            },
            KeyError::InvalidKid,
        ),
        // A 1024-bit modulus.
        (
            PublicJwk {
                n: Some(b64([0xC5u8; 128])),
                ..rsa
            },
            KeyError::Jwk("n"),
        ),
    ];
    for (jwk, expected) in cases {
        assert_eq!(
            VerifyingKey::from_jwk(&jwk).unwrap_err(),
            expected,
            "{jwk:?}"
        );
    }
}

// ----------------------------------------------------------------- redaction

#[test]
fn debug_never_shows_private_material() {
    for algorithm in ALL {
        let key = fixture_key(algorithm);
        let mut forbidden: Vec<String> = vec![b64(HS_SECRET), "test-only hs256".to_owned()];
        if algorithm != Algorithm::HS256 {
            forbidden.extend(private_values(algorithm));
        }
        let expected = format!(
            "SigningKey {{ algorithm: {algorithm:?}, kid: {:?}, .. }}",
            key.kid()
        );
        assert_eq!(format!("{key:?}"), expected);
        let set = KeySet::new(fixture_key(algorithm));
        let texts = [
            format!("{key:?}"),
            format!("{key:#?}"),
            format!("{:?}", key.verifying_key()),
            format!("{set:#?}"),
        ];
        for text in &texts {
            for secret in &forbidden {
                assert!(!text.contains(secret.as_str()), "{algorithm}: {text}");
            }
            // The raw secret bytes, as `Debug` of a byte slice would print them.
            assert!(!text.contains("116, 101, 115, 116"), "{text}");
        }
    }
}

#[test]
fn private_jwk_debug_shows_only_kty_and_kid() {
    for algorithm in ASYMMETRIC {
        let jwk = PrivateJwk::from_json(&jwk_json(algorithm)).unwrap();
        let text = format!("{jwk:?}");
        let kty = serde_json::from_str::<Value>(&jwk_json(algorithm)).unwrap()["kty"]
            .as_str()
            .unwrap()
            .to_owned();
        assert_eq!(
            text,
            format!("PrivateJwk {{ kty: {kty:?}, kid: None, .. }}")
        );
        for secret in private_values(algorithm) {
            assert!(!format!("{jwk:#?}").contains(&secret));
        }
    }
    let oct =
        PrivateJwk::from_json(&json!({"kty": "oct", "kid": "k1", "k": b64(HS_SECRET)}).to_string())
            .unwrap();
    assert_eq!(
        format!("{oct:?}"),
        r#"PrivateJwk { kty: "oct", kid: Some("k1"), .. }"#
    );
}

// ---------------------------------------------------------------------- JWKS

const PRIVATE_MEMBERS: [&str; 7] = ["d", "p", "q", "dp", "dq", "qi", "k"];
const PUBLIC_MEMBERS: [&str; 9] = ["kty", "kid", "alg", "use", "crv", "x", "y", "n", "e"];

/// Asserts the serialized JWKS has only public members and no symmetric key.
fn assert_public_only(set: &KeySet) -> Value {
    let text = serde_json::to_string(&set.jwks()).unwrap();
    let document: Value = serde_json::from_str(&text).unwrap();
    let keys = document["keys"].as_array().unwrap();
    for key in keys {
        let object = key.as_object().unwrap();
        for name in PRIVATE_MEMBERS {
            assert!(!object.contains_key(name), "`{name}` published: {key}");
        }
        for name in object.keys() {
            assert!(
                PUBLIC_MEMBERS.contains(&name.as_str()),
                "`{name}` published"
            );
        }
        assert_ne!(object["kty"], "oct");
        assert_ne!(object.get("alg"), Some(&json!("HS256")));
        assert_ne!(object.get("kid"), Some(&json!(HS_KID)));
    }
    for algorithm in ASYMMETRIC {
        for secret in private_values(algorithm) {
            assert!(
                !text.contains(&secret),
                "{algorithm} private value published"
            );
        }
    }
    assert!(!text.contains(&b64(HS_SECRET)));
    document
}

#[test]
fn jwks_never_contains_private_material_for_any_algorithm() {
    for algorithm in ALL {
        let set = KeySet::new(fixture_key(algorithm));
        let document = assert_public_only(&set);
        let published = document["keys"].as_array().unwrap().len();
        assert_eq!(
            published,
            usize::from(algorithm != Algorithm::HS256),
            "{algorithm}"
        );
    }
}

#[test]
fn jwks_of_a_mixed_rotating_set_is_public_only() {
    let set = KeySet::new(fixture_key(Algorithm::EdDSA));
    set.publish_next(fixture_key(Algorithm::ES256)).unwrap();
    set.add_verifying_key(fixture_key(Algorithm::RS256).verifying_key().clone())
        .unwrap();
    set.add_verifying_key(fixture_key(Algorithm::HS256).verifying_key().clone())
        .unwrap();
    let document = assert_public_only(&set);
    assert_eq!(document["keys"].as_array().unwrap().len(), 3);

    // Retire the Ed25519 signer; publish an HS256 next key.
    set.promote_next(now(), Duration::hours(1)).unwrap();
    set.publish_next(SigningKey::hs256("hs-next", &[9; 32]).unwrap())
        .unwrap();
    let document = assert_public_only(&set);
    let kids: Vec<&str> = document["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap())
        .collect();
    assert_eq!(kids.len(), 3);
    for algorithm in ASYMMETRIC {
        assert!(kids.contains(&fixture_key(algorithm).kid()));
    }
    assert_eq!(
        set.algorithms(),
        vec![
            Algorithm::ES256,
            Algorithm::EdDSA,
            Algorithm::HS256,
            Algorithm::RS256
        ]
    );
}

#[test]
fn private_members_fed_to_a_verifying_set_are_dropped() {
    // A private JWK passed where a public one belongs: only public members survive.
    let mut keys = Vec::new();
    for algorithm in ASYMMETRIC {
        keys.push(serde_json::from_str::<Value>(&jwk_json(algorithm)).unwrap());
    }
    let jwks: Jwks = serde_json::from_value(json!({ "keys": keys })).unwrap();
    let set = KeySet::from_jwks(&jwks).unwrap();
    assert!(set.signing_key().is_none());
    let document = assert_public_only(&set);
    assert_eq!(document["keys"].as_array().unwrap().len(), 3);
    // An `oct` key cannot enter through a JWKS at all: it is skipped, and a
    // JWKS with nothing usable is refused.
    let oct: Jwks =
        serde_json::from_value(json!({"keys": [{"kty": "oct", "kid": "x", "k": b64(HS_SECRET)}]}))
            .unwrap();
    assert_eq!(
        KeySet::from_jwks(&oct).unwrap_err(),
        KeyError::Jwk("no usable signature key")
    );
    // Foreign keys beside usable ones (RFC 7517 §5: ignore what you cannot use).
    let mut mixed = jwks.clone();
    mixed.keys.extend(oct.keys.clone());
    let encryption: Jwks = serde_json::from_value(json!({"keys": [
        {"kty": "OKP", "crv": "Ed25519", "use": "enc", "x": jwks.keys[0].x.clone().unwrap(), "kid": "enc-key"},
        {"kty": "EC", "crv": "P-384", "x": "AA", "y": "AA", "kid": "p384"}
    ]}))
    .unwrap();
    mixed.keys.extend(encryption.keys);
    let set = KeySet::from_jwks(&mixed).unwrap();
    assert_eq!(set.jwks().keys.len(), 3);
    assert!(set.verifying_key("enc-key").is_none());
}

// ------------------------------------------------------------------ rotation

#[test]
fn rotation_publishes_before_signing_and_keeps_the_old_key_until_pruned() {
    let old = SigningKey::generate(Algorithm::EdDSA).unwrap();
    let new = SigningKey::generate(Algorithm::EdDSA).unwrap();
    let (old_kid, new_kid) = (old.kid().to_owned(), new.kid().to_owned());
    let keys = Arc::new(KeySet::new(old));
    let verify = verifier(&keys);
    let t0 = now();

    let before = mint(&keys, t0);
    assert_eq!(token_kid(&before), old_kid);

    // Publish: in the JWKS and verifying, but not signing yet.
    keys.publish_next(new).unwrap();
    let published: Vec<String> = keys
        .jwks()
        .keys
        .iter()
        .map(|k| k.kid.clone().unwrap())
        .collect();
    assert_eq!(published, vec![old_kid.clone(), new_kid.clone()]);
    assert_eq!(keys.signing_key().unwrap().kid(), old_kid);
    assert_eq!(token_kid(&mint(&keys, t0)), old_kid);
    assert!(keys.verifying_key(&new_kid).is_some());

    // A resource server that fetched the JWKS now trusts both keys.
    let remote = Arc::new(KeySet::from_jwks(&keys.jwks()).unwrap());

    // Promote: the new key signs, the old one still verifies.
    let keep = Duration::hours(1);
    keys.promote_next(t0, keep).unwrap();
    assert_eq!(keys.signing_key().unwrap().kid(), new_kid);
    let after = mint(&keys, t0 + Duration::minutes(1));
    assert_eq!(token_kid(&after), new_kid);
    let at = t0 + Duration::minutes(2);
    assert!(verify.verify_at(&before, at).is_ok());
    assert!(verify.verify_at(&after, at).is_ok());
    assert!(verifier(&remote).verify_at(&after, at).is_ok());
    assert!(verifier(&remote).verify_at(&before, at).is_ok());
    assert_eq!(keys.jwks().keys.len(), 2);

    // Not yet time: pruning keeps the old key.
    keys.prune(t0 + keep - Duration::seconds(1));
    assert!(keys.verifying_key(&old_kid).is_some());
    assert!(
        verify
            .verify_at(&before, t0 + Duration::minutes(50))
            .is_ok()
    );

    // The keep window ends: pruning drops it from verification and the JWKS.
    keys.prune(t0 + keep);
    assert!(keys.verifying_key(&old_kid).is_none());
    assert_eq!(
        verify.verify_at(&before, t0 + Duration::minutes(50)),
        Err(VerifyError::UnknownKid)
    );
    let published: Vec<String> = keys
        .jwks()
        .keys
        .iter()
        .map(|k| k.kid.clone().unwrap())
        .collect();
    assert_eq!(published, vec![new_kid.clone()]);
    assert!(verify.verify_at(&after, t0 + Duration::minutes(50)).is_ok());
}

#[test]
fn promote_without_a_published_key_fails_and_changes_nothing() {
    let key = fixture_key(Algorithm::ES256);
    let kid = key.kid().to_owned();
    let set = KeySet::new(key);
    assert_eq!(
        set.promote_next(now(), Duration::hours(1)).unwrap_err(),
        KeyError::UnknownKid(String::new())
    );
    assert_eq!(set.signing_key().unwrap().kid(), kid);
    assert_eq!(set.jwks().keys.len(), 1);
}

#[test]
fn a_keep_window_past_the_end_of_the_calendar_keeps_the_old_key() {
    // `now + keep` overflows the date range: the old key must stay, not go
    // at the next prune (it went at once before the fix).
    for keep in [Duration::MAX, Duration::days(365 * 20_000)] {
        let set = KeySet::new(SigningKey::generate(Algorithm::EdDSA).unwrap());
        let old = set.signing_key().unwrap().kid().to_owned();
        set.publish_next(SigningKey::generate(Algorithm::EdDSA).unwrap())
            .unwrap();
        set.promote_next(now(), keep).unwrap();
        set.prune(now() + Duration::days(365 * 100));
        assert!(set.verifying_key(&old).is_some(), "{keep}");
        assert_eq!(set.jwks().keys.len(), 2);
        // It can still be removed by hand.
        set.remove(&old).unwrap();
        assert!(set.verifying_key(&old).is_none());
    }
    // A negative window retires the key at once.
    let set = KeySet::new(SigningKey::generate(Algorithm::EdDSA).unwrap());
    let old = set.signing_key().unwrap().kid().to_owned();
    set.publish_next(SigningKey::generate(Algorithm::EdDSA).unwrap())
        .unwrap();
    set.promote_next(now(), Duration::MIN).unwrap();
    set.prune(now());
    assert!(set.verifying_key(&old).is_none());
}

#[test]
fn publishing_again_replaces_the_next_key() {
    let set = KeySet::new(fixture_key(Algorithm::EdDSA));
    let first = SigningKey::generate(Algorithm::EdDSA).unwrap();
    let first_kid = first.kid().to_owned();
    set.publish_next(first).unwrap();
    let second = SigningKey::generate(Algorithm::ES256).unwrap();
    let second_kid = second.kid().to_owned();
    set.publish_next(second).unwrap();
    assert!(set.verifying_key(&first_kid).is_none());
    assert!(set.verifying_key(&second_kid).is_some());
    assert_eq!(set.jwks().keys.len(), 2);
    set.promote_next(now(), Duration::hours(1)).unwrap();
    assert_eq!(set.signing_key().unwrap().kid(), second_kid);
}

#[test]
fn duplicate_kids_are_refused() {
    let set = KeySet::new(fixture_key(Algorithm::RS256));
    let kid = fixture_key(Algorithm::RS256).kid().to_owned();
    let duplicate = KeyError::DuplicateKid(kid.clone());
    // The same key, loaded another way.
    assert_eq!(
        set.publish_next(fixture_key_from_jwk(Algorithm::RS256))
            .unwrap_err(),
        duplicate
    );
    assert_eq!(
        set.add_verifying_key(fixture_key(Algorithm::RS256).verifying_key().clone())
            .unwrap_err(),
        duplicate
    );
    // An HS256 key cannot take an asymmetric key's id.
    let hs = SigningKey::hs256(&kid, HS_SECRET).unwrap();
    assert_eq!(set.publish_next(hs).unwrap_err(), duplicate);
    let hs = SigningKey::hs256(&kid, HS_SECRET).unwrap();
    assert_eq!(
        set.add_verifying_key(hs.verifying_key().clone())
            .unwrap_err(),
        duplicate
    );
    // Nothing was added.
    assert_eq!(set.jwks().keys.len(), 1);
    assert_eq!(set.algorithms(), vec![Algorithm::RS256]);

    // A retired key's id stays taken until it is pruned.
    set.publish_next(fixture_key(Algorithm::EdDSA)).unwrap();
    set.promote_next(now(), Duration::hours(1)).unwrap();
    assert_eq!(
        set.publish_next(fixture_key(Algorithm::RS256)).unwrap_err(),
        duplicate
    );
    set.prune(now() + Duration::hours(1));
    set.publish_next(fixture_key(Algorithm::RS256)).unwrap();

    // A JWKS listing one key twice.
    let jwk = fixture_key(Algorithm::ES256)
        .verifying_key()
        .public_jwk()
        .unwrap()
        .clone();
    let twice = Jwks {
        keys: vec![jwk.clone(), jwk],
    };
    assert_eq!(
        KeySet::from_jwks(&twice).unwrap_err(),
        KeyError::DuplicateKid(fixture_key(Algorithm::ES256).kid().to_owned())
    );
}

#[test]
fn remove_takes_only_verification_only_keys() {
    let set = KeySet::new(fixture_key(Algorithm::EdDSA));
    let peer = fixture_key(Algorithm::ES256);
    set.add_verifying_key(peer.verifying_key().clone()).unwrap();
    let signer = fixture_key(Algorithm::EdDSA).kid().to_owned();
    assert_eq!(
        set.remove(&signer).unwrap_err(),
        KeyError::UnknownKid(signer.clone())
    );
    set.remove(peer.kid()).unwrap();
    assert!(set.verifying_key(peer.kid()).is_none());
    assert_eq!(
        set.remove(peer.kid()).unwrap_err(),
        KeyError::UnknownKid(peer.kid().to_owned())
    );
    // Verification-only keys never expire by pruning.
    set.add_verifying_key(peer.verifying_key().clone()).unwrap();
    set.prune(now() + Duration::days(10_000));
    assert!(set.verifying_key(peer.kid()).is_some());
}

fn token_kid(token: &str) -> String {
    let (header, _, _) = parts(token);
    let header: Value = serde_json::from_slice(&unb64(&header)).unwrap();
    header["kid"].as_str().unwrap().to_owned()
}

/// aws-lc-rs parses a public key when it is loaded and refuses a point off
/// the curve there; ring checks it on each verification. Either way, such
/// a key never verifies anything.
#[test]
fn an_off_curve_p256_jwk_never_verifies() {
    use base64::Engine as _;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64URL;
    let key = SigningKey::generate(Algorithm::ES256).unwrap();
    let signature = key.sign(b"header.payload").unwrap();
    let mut jwk = key.verifying_key().public_jwk().unwrap().clone();
    let mut y = B64URL.decode(jwk.y.as_deref().unwrap()).unwrap();
    y[31] ^= 1; // (x, y') is on the curve with negligible probability
    jwk.y = Some(B64URL.encode(&y));
    match VerifyingKey::from_jwk(&jwk) {
        Err(error) => {
            assert_eq!(clientcreds_jwt::CRYPTO_BACKEND, "aws-lc-rs");
            assert!(matches!(error, KeyError::Rejected(_)), "{error:?}");
        }
        Ok(bad) => {
            assert_eq!(clientcreds_jwt::CRYPTO_BACKEND, "ring");
            assert!(!bad.verify(b"header.payload", &signature));
        }
    }
}

/// `pkcs8_pem` writes exactly what `openssl pkcs8` wrote for the fixtures.
#[test]
fn pkcs8_pem_matches_openssl_byte_for_byte() {
    for algorithm in ASYMMETRIC {
        assert_eq!(
            clientcreds_jwt::pkcs8_pem(&der(algorithm)).as_str(),
            pem(algorithm),
            "{algorithm:?}"
        );
    }
}
