//! Weak public keys (issue 13, item 7): small-order Ed25519 keys and RSA
//! exponents that are even or below 65537 are refused on import, with a
//! typed error, on both crypto backends (scripts/test.sh runs this file
//! with the default aws-lc-rs backend and again with ring).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64URL;
use clientcreds_jwt::{CRYPTO_BACKEND, Jwks, KeyError, KeySet, PublicJwk, VerifyingKey};
use serde_json::json;

/// The 14 small-order Ed25519 encodings: the 8 points of order dividing 8
/// (canonical) and 6 non-canonical encodings of them. This is the list of
/// Chalkias et al., *Taming the many `EdDSAs`* (2020), and of the
/// C2SP/CCTV vectors flagged `low_order_A`; libsodium's
/// `ge25519_has_small_order` blocklist is the same list with bit 255
/// masked off.
const SMALL_ORDER: [(&str, &str); 14] = [
    (
        "identity (order 1)",
        "0100000000000000000000000000000000000000000000000000000000000000",
    ),
    (
        "order 2, y = -1",
        "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
    ),
    (
        "order 4, y = 0, x > 0",
        "0000000000000000000000000000000000000000000000000000000000000000",
    ),
    (
        "order 4, y = 0, x < 0",
        "0000000000000000000000000000000000000000000000000000000000000080",
    ),
    (
        "order 8 (1)",
        "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05",
    ),
    (
        "order 8 (2)",
        "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc85",
    ),
    (
        "order 8 (3)",
        "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a",
    ),
    (
        "order 8 (4)",
        "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac03fa",
    ),
    // Non-canonical: the sign bit set where x = 0 ...
    (
        "identity, x = -0",
        "0100000000000000000000000000000000000000000000000000000000000080",
    ),
    (
        "order 2, x = -0",
        "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",
    ),
    // ... and y >= p: y = p (that is 0) and y = p + 1 (that is 1).
    (
        "y = p",
        "edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
    ),
    (
        "y = p, x = -0",
        "edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",
    ),
    (
        "y = p + 1",
        "eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
    ),
    (
        "y = p + 1, x = -0",
        "eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",
    ),
];

/// RFC 8037 Appendix A.2: a real Ed25519 public key.
const RFC8037_X: &str = "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo";
/// RFC 7517 Appendix A.1: a real 2048-bit RSA modulus.
const RFC7517_N: &str = "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw";

fn hex(text: &str) -> Vec<u8> {
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).unwrap())
        .collect()
}

fn okp(x: &str) -> PublicJwk {
    serde_json::from_value(json!({"kty": "OKP", "crv": "Ed25519", "x": x})).unwrap()
}

fn rsa(e: &[u8]) -> PublicJwk {
    serde_json::from_value(json!({"kty": "RSA", "n": RFC7517_N, "e": B64URL.encode(e)})).unwrap()
}

#[test]
fn every_small_order_ed25519_key_is_refused() {
    for (name, encoding) in SMALL_ORDER {
        let jwk = okp(&B64URL.encode(hex(encoding)));
        assert_eq!(
            VerifyingKey::from_jwk(&jwk).map(|k| k.kid().to_owned()),
            Err(KeyError::SmallOrderEd25519),
            "{name} accepted on {CRYPTO_BACKEND}"
        );
    }
    // The control: a real key still loads.
    assert!(VerifyingKey::from_jwk(&okp(RFC8037_X)).is_ok());
}

#[test]
fn the_error_names_what_is_wrong() {
    let message = KeyError::SmallOrderEd25519.to_string();
    assert!(
        message.contains("Ed25519") && message.contains("small-order"),
        "{message}"
    );
    let message = VerifyingKey::from_jwk(&rsa(&[3])).unwrap_err().to_string();
    assert!(
        message.contains("RSA public exponent is below 65537"),
        "{message}"
    );
}

/// Why the list matters: with the identity as public key, the constant
/// signature `R = identity, S = 0` verifies any message at all in the
/// backends' raw Ed25519 (ring shown; aws-lc-rs is the same equation).
/// clientcreds-jwt must therefore never let such a key in.
#[test]
fn the_identity_key_really_forges_without_the_check() {
    use ring::signature::{ED25519, UnparsedPublicKey};
    let identity = hex(SMALL_ORDER[0].1);
    let mut forged = identity.clone();
    forged.extend_from_slice(&[0; 32]);
    let key = UnparsedPublicKey::new(&ED25519, &identity);
    for message in [
        &b"any token"[..],
        b"eyJhbGciOiJFZERTQSJ9.eyJzdWIiOiJhZG1pbiJ9",
        b"",
    ] {
        assert!(key.verify(message, &forged).is_ok());
    }
}

#[test]
fn a_jwks_with_a_small_order_key_loads_only_its_good_keys() {
    let weak = okp(&B64URL.encode(hex(SMALL_ORDER[0].1)));
    let only_weak = Jwks {
        keys: vec![weak.clone()],
    };
    assert_eq!(
        KeySet::from_jwks(&only_weak).map(|s| s.jwks().keys.len()),
        Err(KeyError::Jwk("no usable signature key"))
    );
    let good = VerifyingKey::from_jwk(&okp(RFC8037_X)).unwrap();
    let mixed = Jwks {
        keys: vec![weak, okp(RFC8037_X)],
    };
    let set = KeySet::from_jwks(&mixed).unwrap();
    assert_eq!(set.jwks().keys.len(), 1);
    assert!(set.verifying_key(good.kid()).is_some());
}

#[test]
fn rsa_exponents_below_65537_or_even_are_refused() {
    let small = KeyError::WeakRsaExponent("below 65537");
    let even = KeyError::WeakRsaExponent("even");
    let cases: [(&[u8], Option<KeyError>); 7] = [
        (&[1, 0, 1], None),          // 65537 (F4)
        (&[3], Some(small.clone())), // the classic weak exponent
        (&[1], Some(small.clone())),
        (&[0xff, 0xff], Some(small.clone())), // 65535
        (&[1, 0, 0], Some(even.clone())),     // 65536
        (&[1, 0, 2], Some(even.clone())),     // 65538: large enough, but even
        (&[], Some(even)),                    // 0
    ];
    for (e, expected) in cases {
        let got = VerifyingKey::from_jwk(&rsa(e)).map(|k| k.kid().to_owned());
        match expected {
            None => assert!(
                got.is_ok(),
                "e = {e:?} refused on {CRYPTO_BACKEND}: {got:?}"
            ),
            Some(error) => assert_eq!(got, Err(error), "e = {e:?} on {CRYPTO_BACKEND}"),
        }
    }
}
