//! Hostile tokens: each attack, built by hand, is refused with its own `VerifyError`.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::collections::BTreeMap;
use std::sync::Arc;

use clientcreds_jwt::{
    AccessContext, Algorithm, DEFAULT_MAX_TOKEN_LEN, KeySet, MintError, SECRET_ID_CLAIM,
    SigningKey, TokenClaims, TokenIssuer, TokenVerifier, VerifyError,
};
use proptest::prelude::*;
use serde_json::{Value, json};
use time::Duration;

use common::{
    AUDIENCE, b64, claims_at, claims_with, fixture_key, forge, forge_hmac, forge_raw, header_for,
    now, parts, public_der, public_pem, unb64, validation,
};

/// A verifier's key set: an RS256 signer plus ES256, two EdDSA and one HS256
/// key that verify. The signing halves are kept to forge tokens with.
struct World {
    keys: Arc<KeySet>,
    rsa: SigningKey,
    ec: SigningKey,
    ed: SigningKey,
    ed2: SigningKey,
    hs: SigningKey,
}

fn world() -> World {
    let keys = KeySet::new(fixture_key(Algorithm::RS256));
    let ec = fixture_key(Algorithm::ES256);
    let ed = fixture_key(Algorithm::EdDSA);
    let ed2 = SigningKey::generate(Algorithm::EdDSA).unwrap();
    let hs = fixture_key(Algorithm::HS256);
    for key in [&ec, &ed, &ed2, &hs] {
        keys.add_verifying_key(key.verifying_key().clone()).unwrap();
    }
    World {
        keys: Arc::new(keys),
        rsa: fixture_key(Algorithm::RS256),
        ec,
        ed,
        ed2,
        hs,
    }
}

impl World {
    fn verifier(&self) -> TokenVerifier {
        TokenVerifier::new(self.keys.clone(), validation())
    }

    fn verify(&self, token: &str) -> Result<AccessContext, VerifyError> {
        self.verifier().verify_at(token, now())
    }

    fn signers(&self) -> [&SigningKey; 5] {
        [&self.rsa, &self.ec, &self.ed, &self.ed2, &self.hs]
    }

    /// A valid token from `key` with these claims.
    fn token(&self, key: &SigningKey, claims: &Value) -> String {
        forge(&header_for(key), claims, key)
    }
}

fn with_member(value: &Value, name: &str, member: Option<Value>) -> Value {
    let mut value = value.clone();
    let object = value.as_object_mut().unwrap();
    match member {
        Some(member) => object.insert(name.to_owned(), member),
        None => object.remove(name),
    };
    value
}

#[test]
fn sanity_every_key_in_the_world_verifies_an_honest_token() {
    let w = world();
    for key in w.signers() {
        let context = w.verify(&w.token(key, &claims_at(now()))).unwrap();
        assert_eq!(context.tenant.as_deref(), Some("acme"));
        assert_eq!(context.scopes, vec!["read", "write"]);
    }
}

// -------------------------------------------------------------- algorithm

#[test]
fn alg_none_unsigned_is_not_allowed() {
    let w = world();
    for alg in ["none", "None", "NONE", "nOnE", ""] {
        let header = json!({ "alg": alg, "typ": "at+jwt", "kid": w.rsa.kid() });
        let input = common::signing_input(
            header.to_string().as_bytes(),
            claims_at(now()).to_string().as_bytes(),
        );
        // Unsigned: empty signature after the last dot.
        assert_eq!(
            w.verify(&format!("{input}.")),
            Err(VerifyError::AlgorithmNotAllowed),
            "{alg}"
        );
        // Or with a signature that would be valid for the named key.
        let signature = b64(w.rsa.sign(input.as_bytes()).unwrap());
        assert_eq!(
            w.verify(&format!("{input}.{signature}")),
            Err(VerifyError::AlgorithmNotAllowed)
        );
    }
}

#[test]
fn alg_none_without_the_third_part_is_malformed() {
    let w = world();
    let header = json!({ "alg": "none", "typ": "at+jwt", "kid": w.rsa.kid() });
    let input = common::signing_input(
        header.to_string().as_bytes(),
        claims_at(now()).to_string().as_bytes(),
    );
    assert_eq!(w.verify(&input), Err(VerifyError::Malformed));
}

#[test]
fn unknown_algorithms_are_not_allowed() {
    let w = world();
    for alg in [
        "HS384", "HS512", "RS512", "PS384", "ES512", "ES256K", "Ed448", "rs256", "RS256 ",
    ] {
        let header = json!({ "alg": alg, "typ": "at+jwt", "kid": w.rsa.kid() });
        let token = forge(&header, &claims_at(now()), &w.rsa);
        assert_eq!(
            w.verify(&token),
            Err(VerifyError::AlgorithmNotAllowed),
            "{alg}"
        );
    }
}

#[test]
fn an_algorithm_outside_the_validation_allow_list_is_not_allowed() {
    let w = world();
    let verifier = TokenVerifier::new(
        w.keys.clone(),
        validation().with_algorithms([Algorithm::EdDSA]),
    );
    let token = w.token(&w.rsa, &claims_at(now()));
    assert_eq!(
        verifier.verify_at(&token, now()),
        Err(VerifyError::AlgorithmNotAllowed)
    );
    let token = w.token(&w.ed, &claims_at(now()));
    assert!(verifier.verify_at(&token, now()).is_ok());
}

#[test]
fn alg_of_the_wrong_json_type_or_missing_is_an_invalid_header() {
    let w = world();
    for header in [
        json!({ "alg": 256, "typ": "at+jwt", "kid": w.rsa.kid() }),
        json!({ "alg": null, "typ": "at+jwt", "kid": w.rsa.kid() }),
        json!({ "alg": ["RS256"], "typ": "at+jwt", "kid": w.rsa.kid() }),
        json!({ "typ": "at+jwt", "kid": w.rsa.kid() }),
    ] {
        let token = forge(&header, &claims_at(now()), &w.rsa);
        assert_eq!(
            w.verify(&token),
            Err(VerifyError::InvalidHeader),
            "{header}"
        );
    }
}

/// The public forms of `key` an attacker might feed to HMAC as the secret.
fn public_forms(algorithm: Algorithm, key: &SigningKey) -> Vec<Vec<u8>> {
    let jwk = key.verifying_key().public_jwk().unwrap();
    let pem = public_pem(algorithm);
    let mut forms = vec![
        pem.clone(),
        String::from_utf8(pem)
            .unwrap()
            .trim_end()
            .as_bytes()
            .to_vec(),
        public_der(algorithm),
        serde_json::to_vec(jwk).unwrap(),
        serde_json::to_vec(&json!({ "keys": [jwk] })).unwrap(),
    ];
    for member in [&jwk.n, &jwk.x].into_iter().flatten() {
        forms.push(unb64(member));
        forms.push(member.as_bytes().to_vec());
    }
    forms
}

#[test]
fn algorithm_confusion_hs256_with_an_rsa_public_key_as_secret() {
    let w = world();
    let permissive = TokenVerifier::new(
        w.keys.clone(),
        validation().with_algorithms([Algorithm::HS256, Algorithm::RS256]),
    );
    for secret in public_forms(Algorithm::RS256, &w.rsa) {
        let header = json!({ "alg": "HS256", "typ": "at+jwt", "kid": w.rsa.kid() });
        let token = forge_hmac(&header, &claims_at(now()), &secret);
        // The forgery is a genuine HMAC under the public key bytes...
        let (h, p, s) = parts(&token);
        if secret.len() >= 32 {
            let hmac = SigningKey::hs256("attacker", &secret).unwrap();
            assert!(
                hmac.verifying_key()
                    .verify(format!("{h}.{p}").as_bytes(), &unb64(&s))
            );
        }
        // ...and the verifier never uses an RSA key as an HMAC secret.
        assert_eq!(w.verify(&token), Err(VerifyError::AlgorithmMismatch));
        assert_eq!(
            permissive.verify_at(&token, now()),
            Err(VerifyError::AlgorithmMismatch)
        );
    }
}

#[test]
fn algorithm_confusion_hs256_with_ec_and_ed25519_public_keys_as_secret() {
    let w = world();
    for (algorithm, key) in [(Algorithm::ES256, &w.ec), (Algorithm::EdDSA, &w.ed)] {
        for secret in public_forms(algorithm, key) {
            let header = json!({ "alg": "HS256", "typ": "at+jwt", "kid": key.kid() });
            let token = forge_hmac(&header, &claims_at(now()), &secret);
            assert_eq!(
                w.verify(&token),
                Err(VerifyError::AlgorithmMismatch),
                "{algorithm}"
            );
        }
    }
}

#[test]
fn a_header_alg_that_does_not_match_the_kid_key_is_a_mismatch() {
    let w = world();
    // Each key's own signature, under every other algorithm name.
    for key in w.signers() {
        for alg in ["EdDSA", "ES256", "RS256", "HS256"] {
            if alg == key.algorithm().name() {
                continue;
            }
            let header = json!({ "alg": alg, "typ": "at+jwt", "kid": key.kid() });
            let token = forge(&header, &claims_at(now()), key);
            assert_eq!(
                w.verify(&token),
                Err(VerifyError::AlgorithmMismatch),
                "{alg}"
            );
        }
    }
    // The HS256 key's id under an asymmetric algorithm.
    let header = json!({ "alg": "RS256", "typ": "at+jwt", "kid": w.hs.kid() });
    let token = forge(&header, &claims_at(now()), &w.rsa);
    assert_eq!(w.verify(&token), Err(VerifyError::AlgorithmMismatch));
}

// -------------------------------------------------------------------- kid

#[test]
fn unknown_kid() {
    let w = world();
    let stranger = SigningKey::generate(Algorithm::EdDSA).unwrap();
    // A correctly signed token from a key the set does not hold.
    assert_eq!(
        w.verify(&forge(&header_for(&stranger), &claims_at(now()), &stranger)),
        Err(VerifyError::UnknownKid)
    );
    for kid in ["", "nope", "../../etc/passwd", &"k".repeat(10_000)[..4000]] {
        let header = json!({ "alg": "EdDSA", "typ": "at+jwt", "kid": kid });
        let token = forge(&header, &claims_at(now()), &w.ed);
        assert_eq!(w.verify(&token), Err(VerifyError::UnknownKid));
    }
    // A key id differing only in case.
    let header = json!({ "alg": "EdDSA", "typ": "at+jwt", "kid": w.ed.kid().to_uppercase() });
    assert_eq!(
        w.verify(&forge(&header, &claims_at(now()), &w.ed)),
        Err(VerifyError::UnknownKid)
    );
}

#[test]
fn missing_kid() {
    let w = world();
    for header in [
        json!({ "alg": "EdDSA", "typ": "at+jwt" }),
        json!({ "alg": "EdDSA", "typ": "at+jwt", "kid": null }),
    ] {
        let token = forge(&header, &claims_at(now()), &w.ed);
        assert_eq!(w.verify(&token), Err(VerifyError::MissingKid));
    }
    let header = json!({ "alg": "EdDSA", "typ": "at+jwt", "kid": 7 });
    assert_eq!(
        w.verify(&forge(&header, &claims_at(now()), &w.ed)),
        Err(VerifyError::InvalidHeader)
    );
}

// -------------------------------------------------------------- tampering

#[test]
fn tampered_payload_keeps_no_signature() {
    let w = world();
    let changes = [
        ("tenant", json!("globex")),
        ("scope", json!("read write admin")),
        ("exp", json!(now().unix_timestamp() + 86_400)),
        ("client_id", json!("someone_else")),
        ("aud", json!([AUDIENCE, "https://other.example.com"])),
        ("roles", json!(["admin"])),
    ];
    for key in w.signers() {
        let token = w.token(key, &claims_at(now()));
        assert!(w.verify(&token).is_ok());
        let (header, _, signature) = parts(&token);
        for (name, value) in &changes {
            let claims = with_member(&claims_at(now()), name, Some(value.clone()));
            let forged = format!("{header}.{}.{signature}", b64(claims.to_string()));
            assert_eq!(w.verify(&forged), Err(VerifyError::BadSignature), "{name}");
        }
        // The same claims, serialized differently (whitespace), are other bytes.
        let pretty = serde_json::to_string_pretty(&claims_at(now())).unwrap();
        let forged = format!("{header}.{}.{signature}", b64(pretty));
        assert_eq!(w.verify(&forged), Err(VerifyError::BadSignature));
    }
}

#[test]
fn tampered_header_kid_or_typ() {
    let w = world();
    let token = w.token(&w.ed, &claims_at(now()));
    let (_, payload, signature) = parts(&token);
    let with_header = |header: Value| format!("{}.{payload}.{signature}", b64(header.to_string()));

    // kid of another valid key of the same algorithm.
    let header = json!({ "alg": "EdDSA", "typ": "at+jwt", "kid": w.ed2.kid() });
    assert_eq!(
        w.verify(&with_header(header)),
        Err(VerifyError::BadSignature)
    );
    // kid of a valid key of another algorithm.
    let header = json!({ "alg": "EdDSA", "typ": "at+jwt", "kid": w.ec.kid() });
    assert_eq!(
        w.verify(&with_header(header)),
        Err(VerifyError::AlgorithmMismatch)
    );
    // alg and kid both switched to the other key's.
    let header = json!({ "alg": "ES256", "typ": "at+jwt", "kid": w.ec.kid() });
    assert_eq!(
        w.verify(&with_header(header)),
        Err(VerifyError::BadSignature)
    );
    // typ changed to another type.
    let header = json!({ "alg": "EdDSA", "typ": "JWT", "kid": w.ed.kid() });
    assert_eq!(w.verify(&with_header(header)), Err(VerifyError::WrongType));
    // typ removed.
    let header = json!({ "alg": "EdDSA", "kid": w.ed.kid() });
    assert_eq!(
        w.verify(&with_header(header)),
        Err(VerifyError::MissingType)
    );
    // typ spelled another accepted way: still other signed bytes.
    let header = json!({ "alg": "EdDSA", "typ": "AT+JWT", "kid": w.ed.kid() });
    assert_eq!(
        w.verify(&with_header(header)),
        Err(VerifyError::BadSignature)
    );
    // An extra, harmless header member.
    let header =
        json!({ "alg": "EdDSA", "typ": "at+jwt", "kid": w.ed.kid(), "x5u": "https://evil" });
    assert_eq!(
        w.verify(&with_header(header)),
        Err(VerifyError::BadSignature)
    );
    // A critical extension added.
    let header = json!({ "alg": "EdDSA", "typ": "at+jwt", "kid": w.ed.kid(), "crit": ["exp"] });
    assert_eq!(
        w.verify(&with_header(header)),
        Err(VerifyError::UnsupportedCritical)
    );
}

#[test]
fn tampered_signature() {
    let w = world();
    for key in w.signers() {
        let token = w.token(key, &claims_at(now()));
        let (header, payload, signature) = parts(&token);
        let bytes = unb64(&signature);
        let input = format!("{header}.{payload}");
        let with_sig = |sig: &[u8]| format!("{input}.{}", b64(sig));
        for i in [0, bytes.len() / 2, bytes.len() - 1] {
            let mut bad = bytes.clone();
            bad[i] ^= 0x01;
            assert_eq!(w.verify(&with_sig(&bad)), Err(VerifyError::BadSignature));
        }
        assert_eq!(w.verify(&with_sig(&[])), Err(VerifyError::BadSignature));
        assert_eq!(
            w.verify(&with_sig(&bytes[1..])),
            Err(VerifyError::BadSignature)
        );
        let mut longer = bytes.clone();
        longer.push(0);
        assert_eq!(w.verify(&with_sig(&longer)), Err(VerifyError::BadSignature));
        assert_eq!(
            w.verify(&with_sig(&vec![0; bytes.len()])),
            Err(VerifyError::BadSignature)
        );
        // Another token's valid signature.
        let other = w.token(
            key,
            &with_member(&claims_at(now()), "jti", Some(json!("x"))),
        );
        let (_, _, other_sig) = parts(&other);
        assert_eq!(
            w.verify(&format!("{input}.{other_sig}")),
            Err(VerifyError::BadSignature)
        );
    }
}

#[test]
fn signature_encodings_other_than_unpadded_base64url_are_malformed() {
    let w = world();
    for key in w.signers() {
        let token = w.token(key, &claims_at(now()));
        let (header, payload, signature) = parts(&token);
        let input = format!("{header}.{payload}");
        let bytes = unb64(&signature);
        // Padding.
        let padded = base64::Engine::encode(&base64::engine::general_purpose::URL_SAFE, &bytes);
        if padded != signature {
            assert_eq!(
                w.verify(&format!("{input}.{padded}")),
                Err(VerifyError::Malformed)
            );
        }
        // Standard alphabet.
        let standard =
            base64::Engine::encode(&base64::engine::general_purpose::STANDARD_NO_PAD, &bytes);
        if standard != signature {
            assert_eq!(
                w.verify(&format!("{input}.{standard}")),
                Err(VerifyError::Malformed)
            );
        }
        // Non-canonical trailing bits: the same bytes under another spelling
        // (every signature here leaves 2 or 4 unused bits in its last character).
        const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        assert_ne!(bytes.len() % 3, 0);
        let last = *signature.as_bytes().last().unwrap();
        let index = ALPHABET.iter().position(|c| *c == last).unwrap();
        let twin = format!(
            "{input}.{}{}",
            &signature[..signature.len() - 1],
            ALPHABET[index ^ 1] as char
        );
        assert_eq!(w.verify(&twin), Err(VerifyError::Malformed));
        // Whitespace inside.
        let spaced = format!("{input}.{} {}", &signature[..10], &signature[10..]);
        assert_eq!(w.verify(&spaced), Err(VerifyError::Malformed));
    }
}

// ------------------------------------------------------------------- time

#[test]
fn expired_beyond_the_leeway_and_accepted_within_it() {
    let w = world();
    let t = now().unix_timestamp();
    let token = |exp: i64| w.token(&w.ed, &claims_with("exp", Some(json!(exp))));
    // Default leeway: 60 s. Valid while now < exp + leeway.
    assert_eq!(w.verify(&token(t - 61)), Err(VerifyError::Expired));
    assert_eq!(w.verify(&token(t - 60)), Err(VerifyError::Expired));
    assert!(w.verify(&token(t - 59)).is_ok());
    assert!(w.verify(&token(t - 1)).is_ok());
    assert_eq!(w.verify(&token(0)), Err(VerifyError::Expired));
    assert_eq!(w.verify(&token(-1_000_000)), Err(VerifyError::Expired));

    // No leeway: exp itself is already too late.
    let strict = TokenVerifier::new(w.keys.clone(), validation().with_leeway(Duration::ZERO));
    assert_eq!(
        strict.verify_at(&token(t), now()),
        Err(VerifyError::Expired)
    );
    assert!(strict.verify_at(&token(t + 1), now()).is_ok());

    // A leeway above the maximum is capped at five minutes; below zero, zero.
    let lax = TokenVerifier::new(w.keys.clone(), validation().with_leeway(Duration::hours(2)));
    assert_eq!(lax.validation().leeway, Duration::minutes(5));
    assert!(lax.verify_at(&token(t - 299), now()).is_ok());
    assert_eq!(
        lax.verify_at(&token(t - 300), now()),
        Err(VerifyError::Expired)
    );
    let negative = validation().with_leeway(Duration::seconds(-30));
    assert_eq!(negative.leeway, Duration::ZERO);
    // A `std::time::Duration` sets the same leeway; one too long for
    // `time` saturates, then is capped.
    let from_std = TokenVerifier::new(
        w.keys.clone(),
        validation().with_leeway(std::time::Duration::from_secs(120)),
    );
    assert_eq!(from_std.validation().leeway, Duration::minutes(2));
    assert!(from_std.verify_at(&token(t - 119), now()).is_ok());
    assert_eq!(
        from_std.verify_at(&token(t - 120), now()),
        Err(VerifyError::Expired)
    );
    let huge = validation().with_leeway(std::time::Duration::MAX);
    assert_eq!(huge.leeway, Duration::minutes(5));

    // The field is public: a leeway assigned directly is capped all the same.
    let mut direct = validation();
    direct.leeway = Duration::days(1);
    let direct = TokenVerifier::new(w.keys.clone(), direct);
    assert_eq!(
        direct.verify_at(&token(t - 43_200), now()),
        Err(VerifyError::Expired)
    );
    assert_eq!(
        direct.verify_at(&token(t - 300), now()),
        Err(VerifyError::Expired)
    );
    assert!(direct.verify_at(&token(t - 299), now()).is_ok());
    let nbf = w.token(&w.ed, &claims_with("nbf", Some(json!(t + 3600))));
    assert_eq!(direct.verify_at(&nbf, now()), Err(VerifyError::NotYetValid));
    let mut negative = validation();
    negative.leeway = Duration::seconds(-600);
    let negative = TokenVerifier::new(w.keys.clone(), negative);
    assert!(negative.verify_at(&token(t + 1), now()).is_ok());
}

#[test]
fn a_minted_token_expires_at_its_lifetime() {
    let keys = Arc::new(KeySet::new(fixture_key(Algorithm::ES256)));
    let token = common::mint(&keys, now());
    let verifier = common::verifier(&keys);
    let strict = TokenVerifier::new(keys.clone(), validation().with_leeway(Duration::ZERO));
    assert!(verifier.verify_at(&token, now()).is_ok());
    assert!(
        strict
            .verify_at(&token, now() + Duration::seconds(3599))
            .is_ok()
    );
    assert_eq!(
        strict.verify_at(&token, now() + Duration::seconds(3600)),
        Err(VerifyError::Expired)
    );
    assert!(
        verifier
            .verify_at(&token, now() + Duration::seconds(3659))
            .is_ok()
    );
    assert_eq!(
        verifier.verify_at(&token, now() + Duration::seconds(3660)),
        Err(VerifyError::Expired)
    );
    // Used before it was issued (clock skew beyond the leeway).
    assert_eq!(
        verifier.verify_at(&token, now() - Duration::seconds(61)),
        Err(VerifyError::NotYetValid)
    );
    assert!(
        verifier
            .verify_at(&token, now() - Duration::seconds(60))
            .is_ok()
    );
}

#[test]
fn not_yet_valid_nbf_or_iat() {
    let w = world();
    let t = now().unix_timestamp();
    let nbf = |nbf: i64| w.token(&w.ed, &claims_with("nbf", Some(json!(nbf))));
    assert_eq!(w.verify(&nbf(t + 61)), Err(VerifyError::NotYetValid));
    assert_eq!(w.verify(&nbf(t + 86_400)), Err(VerifyError::NotYetValid));
    assert!(w.verify(&nbf(t + 60)).is_ok());
    assert!(w.verify(&nbf(t - 1000)).is_ok());
    // No nbf: iat stands in for it.
    let claims = with_member(&claims_at(now()), "nbf", None);
    assert!(w.verify(&w.token(&w.ed, &claims)).is_ok());
    let claims = with_member(&claims, "iat", Some(json!(t + 61)));
    assert_eq!(
        w.verify(&w.token(&w.ed, &claims)),
        Err(VerifyError::NotYetValid)
    );
    // An iat in the future with an nbf in the past is still refused.
    let claims = with_member(&claims_at(now()), "iat", Some(json!(t + 3000)));
    assert_eq!(
        w.verify(&w.token(&w.ed, &claims)),
        Err(VerifyError::NotYetValid)
    );
}

// ------------------------------------------------------- issuer, audience

#[test]
fn wrong_issuer() {
    let w = world();
    for iss in [
        "https://evil.example.com",
        "HTTPS://AUTH.EXAMPLE.COM",
        "https://auth.example.com.evil.com",
        "",
    ] {
        let token = w.token(&w.ed, &claims_with("iss", Some(json!(iss))));
        assert_eq!(w.verify(&token), Err(VerifyError::WrongIssuer), "{iss}");
    }
    // Exact comparison (RFC 8414 §3.3); a trailing slash is named as such.
    let token = w.token(
        &w.ed,
        &claims_with("iss", Some(json!("https://auth.example.com/"))),
    );
    assert_eq!(w.verify(&token), Err(VerifyError::IssuerTrailingSlash));
    let token = w.token(
        &w.ed,
        &claims_with("iss", Some(json!(["https://auth.example.com"]))),
    );
    assert_eq!(w.verify(&token), Err(VerifyError::InvalidClaim("iss")));
    let token = w.token(&w.ed, &claims_with("iss", None));
    assert_eq!(w.verify(&token), Err(VerifyError::MissingClaim("iss")));
}

#[test]
fn wrong_audience() {
    let w = world();
    for aud in [
        json!("https://evil.example.com"),
        json!("https://api.example.com/"),
        json!("https://api.example.com.evil.com"),
        json!(["https://evil.example.com", "https://other.example.com"]),
        json!([]),
        json!(""),
    ] {
        let token = w.token(&w.ed, &claims_with("aud", Some(aud.clone())));
        assert_eq!(w.verify(&token), Err(VerifyError::WrongAudience), "{aud}");
    }
    // One accepted audience among others is enough.
    let token = w.token(
        &w.ed,
        &claims_with("aud", Some(json!(["https://x.example.com", AUDIENCE]))),
    );
    assert_eq!(
        w.verify(&token).unwrap().audience,
        vec!["https://x.example.com", AUDIENCE]
    );
}

// ------------------------------------------------------------ header type

#[test]
fn missing_typ() {
    let w = world();
    let header = json!({ "alg": "EdDSA", "kid": w.ed.kid() });
    assert_eq!(
        w.verify(&forge(&header, &claims_at(now()), &w.ed)),
        Err(VerifyError::MissingType)
    );
    let header = json!({ "alg": "EdDSA", "kid": w.ed.kid(), "typ": null });
    assert_eq!(
        w.verify(&forge(&header, &claims_at(now()), &w.ed)),
        Err(VerifyError::MissingType)
    );
}

#[test]
fn wrong_typ() {
    let w = world();
    for typ in [
        "JWT",
        "jwt",
        "at+jwt ",
        "at-jwt",
        "application/jwt",
        "dpop+jwt",
        "secevent+jwt",
        "",
    ] {
        let header = json!({ "alg": "EdDSA", "typ": typ, "kid": w.ed.kid() });
        assert_eq!(
            w.verify(&forge(&header, &claims_at(now()), &w.ed)),
            Err(VerifyError::WrongType),
            "{typ:?}"
        );
    }
    let header = json!({ "alg": "EdDSA", "typ": 1, "kid": w.ed.kid() });
    assert_eq!(
        w.verify(&forge(&header, &claims_at(now()), &w.ed)),
        Err(VerifyError::InvalidHeader)
    );
    // RFC 7515 §4.1.9: media types compare case-insensitively, `application/` optional.
    for typ in [
        "at+jwt",
        "AT+JWT",
        "application/at+jwt",
        "Application/AT+JWT",
    ] {
        let header = json!({ "alg": "EdDSA", "typ": typ, "kid": w.ed.kid() });
        assert!(
            w.verify(&forge(&header, &claims_at(now()), &w.ed)).is_ok(),
            "{typ}"
        );
    }
}

#[test]
fn crit_header_is_unsupported() {
    let w = world();
    for crit in [
        json!(["exp"]),
        json!(["b64"]),
        json!([]),
        json!("exp"),
        json!({}),
        // Present but null: serde reads it as absent unless told otherwise
        // (found with the client_assertion fuzz entry's oracle, in `SignedJws`).
        json!(null),
    ] {
        let header = json!({ "alg": "EdDSA", "typ": "at+jwt", "kid": w.ed.kid(), "crit": crit });
        assert_eq!(
            w.verify(&forge(&header, &claims_at(now()), &w.ed)),
            Err(VerifyError::UnsupportedCritical),
            "{crit}"
        );
    }
}

#[test]
fn duplicate_header_members_are_an_invalid_header() {
    let w = world();
    let kid = w.ed.kid();
    for header in [
        format!(r#"{{"alg":"EdDSA","alg":"none","typ":"at+jwt","kid":"{kid}"}}"#),
        format!(
            r#"{{"alg":"EdDSA","typ":"at+jwt","kid":"{kid}","kid":"{}"}}"#,
            w.ed2.kid()
        ),
        format!(r#"{{"alg":"EdDSA","typ":"JWT","typ":"at+jwt","kid":"{kid}"}}"#),
    ] {
        let token = forge_raw(
            header.as_bytes(),
            claims_at(now()).to_string().as_bytes(),
            &w.ed,
        );
        assert_eq!(
            w.verify(&token),
            Err(VerifyError::InvalidHeader),
            "{header}"
        );
    }
}

// ----------------------------------------------------------------- shape

#[test]
fn oversized_token_is_too_long() {
    let w = world();
    let huge = "a".repeat(DEFAULT_MAX_TOKEN_LEN + 1);
    assert_eq!(
        w.verify(&huge),
        Err(VerifyError::TooLong {
            max: DEFAULT_MAX_TOKEN_LEN
        })
    );
    // A validly signed token carrying a large claim.
    let claims = with_member(&claims_at(now()), "padding", Some(json!("x".repeat(8000))));
    let token = w.token(&w.ed, &claims);
    assert!(token.len() > DEFAULT_MAX_TOKEN_LEN);
    assert_eq!(
        w.verify(&token),
        Err(VerifyError::TooLong {
            max: DEFAULT_MAX_TOKEN_LEN
        })
    );
    // The limit is inclusive.
    let token = w.token(&w.rsa, &claims_at(now()));
    let exact = TokenVerifier::new(w.keys.clone(), validation().with_max_token_len(token.len()));
    assert!(exact.verify_at(&token, now()).is_ok());
    let short = TokenVerifier::new(
        w.keys.clone(),
        validation().with_max_token_len(token.len() - 1),
    );
    assert_eq!(
        short.verify_at(&token, now()),
        Err(VerifyError::TooLong {
            max: token.len() - 1
        })
    );
}

#[test]
fn truncated_tokens_are_errors_never_panics() {
    let w = world();
    for key in w.signers() {
        let token = w.token(key, &claims_at(now()));
        for end in 0..token.len() {
            let result = w.verify(&token[..end]);
            assert!(result.is_err(), "prefix of {end} bytes verified");
        }
        // Cut from the front too.
        for start in 1..token.len() {
            assert!(w.verify(&token[start..]).is_err());
        }
        // A cut at the second dot leaves two parts.
        let second_dot = token.rfind('.').unwrap();
        assert_eq!(w.verify(&token[..second_dot]), Err(VerifyError::Malformed));
    }
}

#[test]
fn structurally_malformed_tokens() {
    let w = world();
    let token = w.token(&w.ed, &claims_at(now()));
    for bad in [
        String::new(),
        ".".to_owned(),
        "...".to_owned(),
        "a.b".to_owned(),
        format!("{token}."),
        format!("{token}.{}", parts(&token).2),
        format!(".{token}"),
        token.replacen('.', "..", 1),
        "!!!.e30.AA".to_owned(),
        format!("{token}\n"),
        format!(" {token}"),
    ] {
        assert_eq!(w.verify(&bad), Err(VerifyError::Malformed), "{bad:?}");
    }
    // Three empty parts: an empty header is not JSON.
    assert_eq!(w.verify(".."), Err(VerifyError::InvalidHeader));
}

#[test]
fn headers_that_are_not_json_objects_are_invalid() {
    let w = world();
    for header in [
        &b"[]"[..],
        b"null",
        b"\"at+jwt\"",
        b"{",
        b"",
        b"\xff\xfe",
        b"{\"alg\":\"EdDSA\"} x",
    ] {
        let token = forge_raw(header, claims_at(now()).to_string().as_bytes(), &w.ed);
        assert_eq!(
            w.verify(&token),
            Err(VerifyError::InvalidHeader),
            "{header:?}"
        );
    }
}

#[test]
fn signed_payloads_that_are_not_json_objects_are_invalid() {
    let w = world();
    for payload in [&b"[]"[..], b"null", b"1", b"\"claims\"", b"{", b"", b"\xff"] {
        let token = forge_raw(header_for(&w.ed).to_string().as_bytes(), payload, &w.ed);
        assert_eq!(
            w.verify(&token),
            Err(VerifyError::InvalidPayload),
            "{payload:?}"
        );
    }
    // A payload part that is not base64url, but correctly signed as text.
    let input = format!("{}.!!!", b64(header_for(&w.ed).to_string()));
    let token = format!("{input}.{}", b64(w.ed.sign(input.as_bytes()).unwrap()));
    assert_eq!(w.verify(&token), Err(VerifyError::Malformed));
}

// ----------------------------------------------------------------- claims

#[test]
fn missing_or_ill_typed_claims_name_the_claim() {
    let w = world();
    let t = now().unix_timestamp();
    let cases: Vec<(&str, Option<Value>, VerifyError)> = vec![
        (
            "exp",
            Some(json!((t + 3600).to_string())),
            VerifyError::InvalidClaim("exp"),
        ),
        ("exp", Some(json!(true)), VerifyError::InvalidClaim("exp")),
        ("exp", Some(json!(null)), VerifyError::InvalidClaim("exp")),
        ("exp", Some(json!(1e300)), VerifyError::InvalidClaim("exp")),
        (
            "exp",
            Some(json!(u64::MAX)),
            VerifyError::InvalidClaim("exp"),
        ),
        (
            "exp",
            Some(json!(i64::MAX)),
            VerifyError::InvalidClaim("exp"),
        ),
        ("exp", None, VerifyError::MissingClaim("exp")),
        ("aud", Some(json!(42)), VerifyError::InvalidClaim("aud")),
        (
            "aud",
            Some(json!([AUDIENCE, 42])),
            VerifyError::InvalidClaim("aud"),
        ),
        (
            "aud",
            Some(json!({ "aud": AUDIENCE })),
            VerifyError::InvalidClaim("aud"),
        ),
        ("aud", None, VerifyError::MissingClaim("aud")),
        ("iat", Some(json!("now")), VerifyError::InvalidClaim("iat")),
        ("iat", None, VerifyError::MissingClaim("iat")),
        ("nbf", Some(json!("now")), VerifyError::InvalidClaim("nbf")),
        // A fractional NumericDate must be below 1e15 in magnitude (beyond
        // it, an f64 no longer holds whole seconds exactly).
        ("nbf", Some(json!(1e15)), VerifyError::InvalidClaim("nbf")),
        ("nbf", Some(json!(2.5e15)), VerifyError::InvalidClaim("nbf")),
        ("nbf", Some(json!(-1e15)), VerifyError::InvalidClaim("nbf")),
        ("sub", Some(json!(7)), VerifyError::InvalidClaim("sub")),
        ("sub", None, VerifyError::MissingClaim("sub")),
        ("jti", None, VerifyError::MissingClaim("jti")),
        (
            "client_id",
            Some(json!(["acme"])),
            VerifyError::InvalidClaim("client_id"),
        ),
        ("client_id", None, VerifyError::MissingClaim("client_id")),
        (
            "scope",
            Some(json!(["read", "write"])),
            VerifyError::InvalidClaim("scope"),
        ),
        // The minting secret's id, when present, is a non-empty string.
        (
            SECRET_ID_CLAIM,
            Some(json!("")),
            VerifyError::InvalidClaim(SECRET_ID_CLAIM),
        ),
        (
            SECRET_ID_CLAIM,
            Some(json!(7)),
            VerifyError::InvalidClaim(SECRET_ID_CLAIM),
        ),
        ("tenant", None, missing_tenant("tenant")),
        ("tenant", Some(json!("")), invalid_tenant("tenant")),
        ("tenant", Some(json!(5)), invalid_tenant("tenant")),
        ("tenant", Some(json!(null)), invalid_tenant("tenant")),
    ];
    for (name, value, expected) in cases {
        let token = w.token(&w.rsa, &claims_with(name, value.clone()));
        assert_eq!(w.verify(&token), Err(expected), "{name} = {value:?}");
    }
}

#[test]
fn optional_claims_and_numeric_forms_that_are_accepted() {
    let w = world();
    let t = now().unix_timestamp();
    // No scope: no scopes.
    let context = w
        .verify(&w.token(&w.ed, &claims_with("scope", None)))
        .unwrap();
    assert!(context.scopes.is_empty());
    assert!(context.require_scope("read").is_err());
    // Fractional NumericDate (RFC 7519 §2) is floored.
    let exp = (t + 100) as f64 + 0.75;
    let context = w
        .verify(&w.token(&w.ed, &claims_with("exp", Some(json!(exp)))))
        .unwrap();
    assert_eq!(context.expires_at.unix_timestamp(), t + 100);
    // Unknown claims pass through as extras; registered ones do not.
    let claims = with_member(&claims_at(now()), "roles", Some(json!(["a"])));
    let context = w.verify(&w.token(&w.ed, &claims)).unwrap();
    assert_eq!(context.extra.len(), 1);
    assert_eq!(context.extra["roles"], json!(["a"]));
}

#[test]
fn a_custom_tenant_claim_is_required_under_its_own_name() {
    let w = world();
    let verifier = TokenVerifier::new(w.keys.clone(), validation().with_tenant_claim("org"));
    let claims = with_member(&claims_at(now()), "org", Some(json!("initech")));
    let context = verifier.verify_at(&w.token(&w.ed, &claims), now()).unwrap();
    assert_eq!(context.tenant.as_deref(), Some("initech"));
    // The default `tenant` claim is then just an extra.
    assert_eq!(context.extra["tenant"], json!("acme"));
    let missing = verifier.verify_at(&w.token(&w.ed, &claims_at(now())), now());
    assert_eq!(missing, Err(missing_tenant("org")));
}

#[test]
fn the_issuer_never_mints_duplicate_claim_names() {
    // A tenant claim named like a registered claim would appear twice in the
    // payload (RFC 7519 §4: claim names MUST be unique): minting refuses.
    let keys = Arc::new(KeySet::new(fixture_key(Algorithm::EdDSA)));
    for name in clientcreds_jwt::RESERVED_CLAIMS {
        let issuer = TokenIssuer::new(keys.clone(), common::ISSUER).with_tenant_claim(*name);
        let result = issuer.mint(&TokenClaims {
            client_id: common::CLIENT_ID,
            tenant: "t1",
            audience: &[AUDIENCE.to_owned()],
            scopes: &["read".to_owned()],
            extra: &BTreeMap::<String, String>::new(),
            lifetime: Duration::hours(1),
            now: now(),
            secret_id: None,
        });
        assert!(
            matches!(result, Err(MintError::Invalid(_))),
            "{name}: {result:?}"
        );
    }
    // An extra claim may not shadow a registered claim or the tenant claim.
    let issuer = TokenIssuer::new(keys.clone(), common::ISSUER).with_tenant_claim("org");
    for name in ["iss", "exp", "org"] {
        let mut extra = BTreeMap::new();
        extra.insert(name.to_owned(), "x".to_owned());
        let result = issuer.mint(&TokenClaims {
            client_id: common::CLIENT_ID,
            tenant: "t1",
            audience: &[AUDIENCE.to_owned()],
            scopes: &[],
            extra: &extra,
            lifetime: Duration::hours(1),
            now: now(),
            secret_id: None,
        });
        assert!(matches!(result, Err(MintError::Invalid(_))), "{name}");
    }
}

#[test]
fn errors_never_repeat_the_token() {
    let w = world();
    let token = w.token(&w.ed, &claims_with("tenant", None));
    let err = w.verify(&token).unwrap_err();
    let (header, payload, signature) = parts(&token);
    for text in [err.to_string(), format!("{err:?}")] {
        for part in [&header, &payload, &signature] {
            assert!(!text.contains(part.as_str()));
        }
    }
}

// --------------------------------------------------------------- proptest

fn any_world() -> &'static World {
    static WORLD: std::sync::OnceLock<World> = std::sync::OnceLock::new();
    WORLD.get_or_init(world)
}

fn base64url(max: usize) -> impl Strategy<Value = String> {
    prop::collection::vec(any::<u8>(), 0..max).prop_map(b64)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn arbitrary_strings_never_panic(token in any::<String>()) {
        prop_assert!(any_world().verifier().verify_at(&token, now()).is_err());
    }

    #[test]
    fn arbitrary_token_alphabet_strings_never_panic(token in "[A-Za-z0-9_.=+/-]{0,300}") {
        prop_assert!(any_world().verifier().verify_at(&token, now()).is_err());
    }

    #[test]
    fn arbitrary_three_part_base64url_never_panics(
        header in base64url(200),
        payload in base64url(400),
        signature in base64url(300),
    ) {
        let token = format!("{header}.{payload}.{signature}");
        prop_assert!(any_world().verifier().verify_at(&token, now()).is_err());
    }

    #[test]
    fn plausible_headers_with_arbitrary_parts_never_panic(
        alg in prop::sample::select(vec!["none", "EdDSA", "ES256", "RS256", "HS256", "PS256"]),
        typ in prop::option::of(prop::sample::select(vec!["at+jwt", "JWT", "application/at+jwt"])),
        kid_index in 0usize..6,
        payload in prop::collection::vec(any::<u8>(), 0..300),
        signature in prop::collection::vec(any::<u8>(), 0..300),
    ) {
        let w = any_world();
        let kid = w.signers().get(kid_index).map_or("unknown", |k| k.kid());
        let mut header = json!({ "alg": alg, "kid": kid });
        if let Some(typ) = typ {
            header["typ"] = json!(typ);
        }
        let token = format!("{}.{}.{}", b64(header.to_string()), b64(&payload), b64(&signature));
        prop_assert!(w.verifier().verify_at(&token, now()).is_err());
    }

    #[test]
    fn any_single_character_change_to_a_valid_token_is_refused(
        key_index in 0usize..5,
        position in any::<prop::sample::Index>(),
        replacement in prop::sample::select(
            b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.=+/ ".to_vec()
        ),
    ) {
        let w = any_world();
        let token = w.token(w.signers()[key_index], &claims_at(now()));
        prop_assert!(w.verify(&token).is_ok());
        let mut bytes = token.into_bytes();
        let i = position.index(bytes.len());
        prop_assume!(bytes[i] != replacement);
        bytes[i] = replacement;
        let mutated = String::from_utf8(bytes).unwrap();
        prop_assert!(w.verify(&mutated).is_err());
    }
}

fn missing_tenant(claim: &str) -> VerifyError {
    VerifyError::MissingTenantClaim {
        claim: claim.to_owned(),
    }
}

fn invalid_tenant(claim: &str) -> VerifyError {
    VerifyError::InvalidTenantClaim {
        claim: claim.to_owned(),
    }
}
