//! Known-answer tests: published vectors through the public API.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD_NO_PAD as B64;
use clientcreds_secret::{PepperKey, Secret, SecretHash, SecretHasher, Verification};

fn hex(text: &str) -> Vec<u8> {
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).unwrap())
        .collect()
}

/// RFC 4231 §4.7 and §4.8: the vectors whose key (131 bytes) and data
/// (ASCII) fit the public API's rules. The others run in the crate's unit
/// tests through the same verification path.
#[test]
fn rfc4231_long_key_vectors() {
    let hasher =
        SecretHasher::hmac_sha256(PepperKey::new("rfc4231", &[0xaa; 131]).unwrap()).unwrap();
    let cases = [
        (
            "Test Using Larger Than Block-Size Key - Hash Key First",
            "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54",
        ),
        (
            "This is a test using a larger than block-size key and a larger than block-size data. The key needs to be hashed before being used by the HMAC algorithm.",
            "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2",
        ),
    ];
    for (data, tag) in cases {
        let expected = format!("hmac-sha256$v1$rfc4231${}", B64.encode(hex(tag)));
        // Our hash of the data is exactly the published tag...
        assert_eq!(hasher.hash(&Secret::from(data)).unwrap().as_str(), expected);
        // ...and the published tag verifies.
        let stored = SecretHash::from_stored(expected);
        assert_eq!(
            hasher.verify(&Secret::from(data), &stored).unwrap(),
            Verification::Valid
        );
    }
}

/// PBKDF2-HMAC-SHA256 vectors from RFC 7914 §11 (the first 32 bytes of the
/// 64-byte outputs: PBKDF2's first block does not depend on the length) and
/// the widely published `password`/`salt` vectors.
#[test]
fn pbkdf2_hmac_sha256_vectors() {
    let hasher = SecretHasher::pbkdf2_sha256(10_000).unwrap();
    let cases: [(&str, &[u8], u32, &str); 4] = [
        (
            "passwd",
            b"salt",
            1,
            "55ac046e56e3089fec1691c22544b605f94185216dde0465e68b9d57c20dacbc",
        ),
        (
            "Password",
            b"NaCl",
            80_000,
            "4ddcd8f60b98be21830cee5ef22701f9641a4418d04c0414aeff08876b34ab56",
        ),
        (
            "password",
            b"salt",
            4096,
            "c5e478d59288c841aa530db6845c4c8d962893a001ce4e11a4963873aa98134a",
        ),
        (
            "passwordPASSWORDpassword",
            b"saltSALTsaltSALTsaltSALTsaltSALTsalt",
            4096,
            "348c89dbcbd32b2f32d814b8116e84cf2b17347ebc1800181c4e2a1fb8dd53e1",
        ),
    ];
    for (password, salt, iterations, dk) in cases {
        let stored = SecretHash::from_stored(format!(
            "pbkdf2-sha256$i={iterations}${}${}",
            B64.encode(salt),
            B64.encode(hex(dk))
        ));
        let verdict = hasher.verify(&Secret::from(password), &stored).unwrap();
        // Valid, and below this hasher's parameters, so it asks for a rehash.
        assert_eq!(
            verdict,
            Verification::ValidNeedsRehash,
            "{password} c={iterations}"
        );
        let wrong = format!("{password}!");
        assert_eq!(
            hasher
                .verify(&Secret::from(wrong.as_str()), &stored)
                .unwrap(),
            Verification::Invalid
        );
    }
}

/// A stored PBKDF2 salt may be 1 to 64 bytes (hashes from other systems);
/// an empty or longer one is malformed.
#[test]
fn pbkdf2_stored_salt_lengths() {
    let hasher = SecretHasher::pbkdf2_sha256(10_000).unwrap();
    let secret = Secret::from("acme_secret_example");
    let stored = |salt: &[u8]| {
        let mut out = [0u8; 32];
        ring::pbkdf2::derive(
            ring::pbkdf2::PBKDF2_HMAC_SHA256,
            std::num::NonZeroU32::new(1).unwrap(),
            salt,
            b"acme_secret_example",
            &mut out,
        );
        SecretHash::from_stored(format!(
            "pbkdf2-sha256$i=1${}${}",
            B64.encode(salt),
            B64.encode(out)
        ))
    };
    for len in [1, 16, 63, 64] {
        let salt: Vec<u8> = (0..len).map(|i| i as u8).collect();
        assert_eq!(
            hasher.verify(&secret, &stored(&salt)).unwrap(),
            Verification::ValidNeedsRehash,
            "salt of {len} bytes"
        );
    }
    for len in [65, 66, 80] {
        let salt: Vec<u8> = (0..len).map(|i| i as u8).collect();
        assert_eq!(
            hasher.verify(&secret, &stored(&salt)).unwrap_err(),
            clientcreds_secret::Error::MalformedHash,
            "salt of {len} bytes"
        );
    }
}
