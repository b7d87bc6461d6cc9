//! clientcreds-jwt's parsers: token verification with a fixed key set, and
//! JWKS import.

use std::sync::{Arc, LazyLock};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64URL;
use clientcreds_jwt::{
    Algorithm, Jwks, KeySet, PrivateJwk, PublicJwk, SigningKey, TokenVerifier, Validation,
    VerifyingKey, thumbprint,
};
use time::OffsetDateTime;

use crate::Outcome;

/// The issuer and audience the fixed verifier accepts.
const ISSUER: &str = "https://auth.example.com";
const AUDIENCE: &str = "https://api.example.com";
/// The Ed25519 key of RFC 8037 Appendix A.1: fixed, so that a crash
/// reproduces. Its `kid` is its thumbprint,
/// `kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k`.
const ED25519_JWK: &str = r#"{"kty":"OKP","crv":"Ed25519","d":"nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}"#;
/// A fixed HS256 key, trusted for verification only, under `kid` `hs`.
const HS256_SECRET: &[u8] = b"fuzzing-only-shared-secret-0123456789";

struct Fixture {
    signer: Arc<SigningKey>,
    hs: SigningKey,
    verifier: TokenVerifier,
}

/// Built once; a failure here is a broken fixture, not an input, and
/// panics on first use.
static FIXTURE: LazyLock<Fixture> = LazyLock::new(|| match fixture() {
    Ok(fixture) => fixture,
    Err(e) => panic!("the fixed key set cannot be built: {e}"),
});

fn fixture() -> Result<Fixture, clientcreds_jwt::KeyError> {
    let keys = Arc::new(KeySet::new(SigningKey::from_jwk(&PrivateJwk::from_json(
        ED25519_JWK,
    )?)?));
    let hs = SigningKey::hs256("hs", HS256_SECRET)?;
    keys.add_verifying_key(hs.verifying_key().clone())?;
    let signer = keys
        .signing_key()
        .ok_or(clientcreds_jwt::KeyError::Jwk("no signing key"))?;
    let verifier = TokenVerifier::new(keys, Validation::new(ISSUER, AUDIENCE));
    Ok(Fixture {
        signer,
        hs,
        verifier,
    })
}

/// The instant every verification runs at (2027-01-15), so that a crash
/// reproduces whatever the date.
fn now() -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(1_800_000_000).unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

/// Token verification with a fixed key set (an Ed25519 signing key and an
/// HS256 verify-only key). The first byte picks the mode:
/// - even: the rest is the token text, verified as is: whatever verifies
///   carries exactly the signature one of the fixed keys makes for its
///   first two parts (Ed25519 and HMAC are deterministic), so nothing
///   forged verifies;
/// - odd: the rest is `header JSON \n payload JSON`, encoded and signed
///   with the fixed Ed25519 key, then verified, which takes the fuzzer past
///   the signature into the header and claim checks. Checks: whatever
///   verifies had `alg` `EdDSA`, and its context repeats the payload's
///   `client_id`, `sub` and `jti`.
pub fn jwt_verify(data: &[u8]) -> Outcome {
    let Some((mode, rest)) = data.split_first() else {
        return Outcome::Skipped;
    };
    let fixture = &*FIXTURE;
    if mode % 2 == 0 {
        let Ok(token) = std::str::from_utf8(rest) else {
            return Outcome::Skipped;
        };
        let result = fixture.verifier.verify_at(token, now());
        if result.is_ok() {
            let Some((input, signature)) = token.rsplit_once('.') else {
                panic!("a token without dots verified");
            };
            let signature = B64URL.decode(signature).unwrap_or_default();
            let own = [&*fixture.signer, &fixture.hs]
                .iter()
                .any(|key| key.sign(input.as_bytes()).is_ok_and(|s| s == signature));
            assert!(own, "a signature none of the keys made verified");
        }
        return Outcome::of(&result);
    }
    let Some(split) = rest.iter().position(|b| *b == b'\n') else {
        return Outcome::Skipped;
    };
    let (header, payload) = rest.split_at(split);
    let payload = payload.get(1..).unwrap_or_default();
    let signing_input = format!("{}.{}", B64URL.encode(header), B64URL.encode(payload));
    let Ok(signature) = fixture.signer.sign(signing_input.as_bytes()) else {
        panic!("the fixed key cannot sign");
    };
    let token = format!("{signing_input}.{}", B64URL.encode(signature));
    let Ok(context) = fixture.verifier.verify_at(&token, now()) else {
        return Outcome::Refused;
    };
    let header: serde_json::Value = serde_json::from_slice(header).unwrap_or_default();
    let claims: serde_json::Value = serde_json::from_slice(payload).unwrap_or_default();
    let text = |value: &serde_json::Value, name: &str| {
        value
            .get(name)
            .and_then(serde_json::Value::as_str)
            .map(str::to_owned)
    };
    assert_eq!(text(&header, "alg").as_deref(), Some("EdDSA"), "alg");
    assert_eq!(
        text(&claims, "client_id"),
        Some(context.client_id),
        "client_id"
    );
    assert_eq!(text(&claims, "sub"), Some(context.subject), "sub");
    assert_eq!(text(&claims, "jti"), Some(context.jti), "jti");
    assert_eq!(text(&claims, "iss").as_deref(), Some(ISSUER), "iss");
    Outcome::Accepted
}

/// A JWKS document (or a single JWK), as a resource server fetches it.
/// Checks: every key that imports re-imports from its own published JWK
/// with the same `kid` and algorithm, has a thumbprint, and a key set
/// built from the document holds exactly the keys that import one by one
/// (when their ids are distinct).
pub fn jwks_import(data: &[u8]) -> Outcome {
    let jwks = match serde_json::from_slice::<Jwks>(data) {
        Ok(jwks) => jwks,
        Err(_) => match serde_json::from_slice::<PublicJwk>(data) {
            Ok(one) => Jwks { keys: vec![one] },
            Err(_) => return Outcome::Skipped,
        },
    };
    let mut imported = Vec::new();
    for jwk in &jwks.keys {
        let Ok(key) = VerifyingKey::from_jwk(jwk) else {
            continue;
        };
        let Some(published) = key.public_jwk() else {
            panic!("an imported public key has no JWK");
        };
        assert!(thumbprint(published).is_ok(), "no thumbprint");
        match VerifyingKey::from_jwk(published) {
            Ok(again) => {
                assert_eq!(again.kid(), key.kid(), "kid round trip");
                assert_eq!(again.algorithm(), key.algorithm(), "algorithm round trip");
            }
            Err(e) => panic!("own published JWK refused: {e}"),
        }
        assert_ne!(
            key.algorithm(),
            Algorithm::HS256,
            "a symmetric key from a JWKS"
        );
        imported.push(key.kid().to_owned());
    }
    let distinct = {
        let mut ids = imported.clone();
        ids.sort();
        ids.dedup();
        ids.len() == imported.len()
    };
    match KeySet::from_jwks(&jwks) {
        Ok(set) => {
            assert!(distinct, "duplicate kids loaded");
            for kid in &imported {
                assert!(set.verifying_key(kid).is_some(), "key {kid} lost");
            }
            assert_eq!(set.jwks().keys.len(), imported.len(), "key count");
        }
        Err(_) => assert!(
            !distinct || imported.is_empty(),
            "a usable JWKS was refused"
        ),
    }
    if imported.is_empty() {
        Outcome::Refused
    } else {
        Outcome::Accepted
    }
}
