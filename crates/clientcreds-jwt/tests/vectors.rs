//! Known-answer tests: the published JOSE vectors of RFC 8037, RFC 7638 and RFC 7515.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use clientcreds_jwt::{
    Algorithm, KeyError, PrivateJwk, PublicJwk, SigningKey, VerifyingKey, thumbprint,
};

use common::unb64;

// RFC 8037 Appendix A.1: the Ed25519 private key.
const RFC8037_PRIVATE_JWK: &str = r#"{"kty":"OKP","crv":"Ed25519",
    "d":"nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A",
    "x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}"#;
// RFC 8037 Appendix A.2: its public key.
const RFC8037_PUBLIC_JWK: &str = r#"{"kty":"OKP","crv":"Ed25519",
    "x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}"#;
const RFC8037_X: &str = "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo";
// RFC 8037 Appendix A.3: the JWK thumbprint of A.2.
const RFC8037_THUMBPRINT: &str = "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k";
// RFC 8037 Appendix A.4: `{"alg":"EdDSA"}` over "Example of Ed25519 signing".
const RFC8037_SIGNING_INPUT: &str = "eyJhbGciOiJFZERTQSJ9.RXhhbXBsZSBvZiBFZDI1NTE5IHNpZ25pbmc";
const RFC8037_SIGNATURE: &str =
    "hgyY0il_MGCjP0JzlnLWG1PPOt7-09PGcvMg3AIbQR6dWbhijcNR4ki4iylGjg5BhVsPt9g7sVvpAr_MuM0KAg";

// RFC 7638 §3.1: the example RSA public key and its thumbprint.
const RFC7638_JWK: &str = r#"{"kty":"RSA",
    "n":"0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw",
    "e":"AQAB","alg":"RS256","kid":"2011-04-29"}"#;
const RFC7638_THUMBPRINT: &str = "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs";

// RFC 7515 Appendices A.1-A.3 share one payload; each has its own header.
const RFC7515_PAYLOAD: &str = "eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ";

// RFC 7515 Appendix A.1: HS256.
const RFC7515_A1_HEADER: &str = "eyJ0eXAiOiJKV1QiLA0KICJhbGciOiJIUzI1NiJ9";
const RFC7515_A1_KEY: &str =
    "AyM1SysPpbyDfgZld3umj1qzKObwVMkoqQ-EstJQLr_T-1qS0gZH75aKtMN3Yj0iPS4hcgUuTwjAzZr1Z9CAow";
const RFC7515_A1_SIGNATURE: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";

// RFC 7515 Appendix A.2: RS256 (RSASSA-PKCS1-v1_5 is deterministic).
const RFC7515_A2_HEADER: &str = "eyJhbGciOiJSUzI1NiJ9";
const RFC7515_A2_JWK: &str = r#"{"kty":"RSA",
    "n":"ofgWCuLjybRlzo0tZWJjNiuSfb4p4fAkd_wWJcyQoTbji9k0l8W26mPddxHmfHQp-Vaw-4qPCJrcS2mJPMEzP1Pt0Bm4d4QlL-yRT-SFd2lZS-pCgNMsD1W_YpRPEwOWvG6b32690r2jZ47soMZo9wGzjb_7OMg0LOL-bSf63kpaSHSXndS5z5rexMdbBYUsLA9e-KXBdQOS-UTo7WTBEMa2R2CapHg665xsmtdVMTBQY4uDZlxvb3qCo5ZwKh9kG4LT6_I5IhlJH7aGhyxXFvUK-DWNmoudF8NAco9_h9iaGNj8q2ethFkMLs91kzk2PAcDTW9gb54h4FRWyuXpoQ",
    "e":"AQAB",
    "d":"Eq5xpGnNCivDflJsRQBXHx1hdR1k6Ulwe2JZD50LpXyWPEAeP88vLNO97IjlA7_GQ5sLKMgvfTeXZx9SE-7YwVol2NXOoAJe46sui395IW_GO-pWJ1O0BkTGoVEn2bKVRUCgu-GjBVaYLU6f3l9kJfFNS3E0QbVdxzubSu3Mkqzjkn439X0M_V51gfpRLI9JYanrC4D4qAdGcopV_0ZHHzQlBjudU2QvXt4ehNYTCBr6XCLQUShb1juUO1ZdiYoFaFQT5Tw8bGUl_x_jTj3ccPDVZFD9pIuhLhBOneufuBiB4cS98l2SR_RQyGWSeWjnczT0QU91p1DhOVRuOopznQ",
    "p":"4BzEEOtIpmVdVEZNCqS7baC4crd0pqnRH_5IB3jw3bcxGn6QLvnEtfdUdiYrqBdss1l58BQ3KhooKeQTa9AB0Hw_Py5PJdTJNPY8cQn7ouZ2KKDcmnPGBY5t7yLc1QlQ5xHdwW1VhvKn-nXqhJTBgIPgtldC-KDV5z-y2XDwGUc",
    "q":"uQPEfgmVtjL0Uyyx88GZFF1fOunH3-7cepKmtH4pxhtCoHqpWmT8YAmZxaewHgHAjLYsp1ZSe7zFYHj7C6ul7TjeLQeZD_YwD66t62wDmpe_HlB-TnBA-njbglfIsRLtXlnDzQkv5dTltRJ11BKBBypeeF6689rjcJIDEz9RWdc",
    "dp":"BwKfV3Akq5_MFZDFZCnW-wzl-CCo83WoZvnLQwCTeDv8uzluRSnm71I3QCLdhrqE2e9YkxvuxdBfpT_PI7Yz-FOKnu1R6HsJeDCjn12Sk3vmAktV2zb34MCdy7cpdTh_YVr7tss2u6vneTwrA86rZtu5Mbr1C1XsmvkxHQAdYo0",
    "dq":"h_96-mK1R_7glhsum81dZxjTnYynPbZpHziZjeeHcXYsXaaMwkOlODsWa7I9xXDoRwbKgB719rrmI2oKr6N3Do9U0ajaHF-NKJnwgjMd2w9cjz3_-kyNlxAr2v4IKhGNpmM5iIgOS1VZnOZ68m6_pbLBSp3nssTdlqvd0tIiTHU",
    "qi":"IYd7DHOhrWvxkwPQsRM2tOgrjbcrfvtQJipd-DlcxyVuuM9sQLdgjVk2oy26F0EmpScGLq2MowX7fhd_QJQ3ydy5cY7YIBi87w93IKLEdfnbJtoOPLUW0ITrJReOgo1cq9SbsxYawBgfp_gh6A5603k2-ZQwVK0JKSHuLFkuQ3U"}"#;
const RFC7515_A2_SIGNATURE: &str = "cC4hiUPoj9Eetdgtv3hF80EGrhuB__dzERat0XF9g2VtQgr9PJbu3XOiZj5RZmh7AAuHIm4Bh-0Qc_lF5YKt_O8W2Fp5jujGbds9uJdbF9CUAr7t1dnZcAcQjbKBYNX4BAynRFdiuB--f_nZLgrnbyTyWzO75vRK5h6xBArLIARNPvkSjtQBMHlb1L07Qe7K0GarZRmB_eSN9383LcOLn6_dO--xi12jzDwusC-eOkHWEsqtFZESc6BfI7noOPqvhJ1phCnvWh6IeYI2w9QOYEUipUTI8np6LbgGY9Fs98rqVt5AXLIhWkWywlVmtVrBp0igcN_IoypGlUPQGe77Rw";

// RFC 7515 Appendix A.3: ES256 (randomized, so only the RFC's signature is checked).
const RFC7515_A3_HEADER: &str = "eyJhbGciOiJFUzI1NiJ9";
const RFC7515_A3_JWK: &str = r#"{"kty":"EC","crv":"P-256",
    "x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU",
    "y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0",
    "d":"jpsQnnGQmL-YBIffH1136cspYG6-0iY7X1fCE9-E9LI"}"#;
const RFC7515_A3_SIGNATURE: &str =
    "DtEhU3ljbEg8L38VWAfUAqOyKAM6-Xx-F4GawxaepmXFCgfTjDxw5djxLa8ISlSApmWQxfKTUJqPP3-Kg6NU1Q";

fn public_jwk(text: &str) -> PublicJwk {
    serde_json::from_str(text).unwrap()
}

/// Copies of `bytes`, each with one bit of a different byte flipped.
fn flipped(bytes: &[u8]) -> impl Iterator<Item = Vec<u8>> + '_ {
    (0..bytes.len()).map(move |i| {
        let mut copy = bytes.to_vec();
        copy[i] ^= 1 << (i % 8);
        copy
    })
}

#[test]
fn rfc8037_a1_private_jwk_signs_exactly_the_a4_signature() {
    let key = SigningKey::from_jwk(&PrivateJwk::from_json(RFC8037_PRIVATE_JWK).unwrap()).unwrap();
    assert_eq!(key.algorithm(), Algorithm::EdDSA);
    let signature = key.sign(RFC8037_SIGNING_INPUT.as_bytes()).unwrap();
    assert_eq!(signature, unb64(RFC8037_SIGNATURE));
    // Deterministic: a second signature is the same bytes.
    assert_eq!(
        key.sign(RFC8037_SIGNING_INPUT.as_bytes()).unwrap(),
        signature
    );
}

#[test]
fn rfc8037_a1_key_exports_the_a2_public_key_and_a3_kid() {
    let key = SigningKey::from_jwk(&PrivateJwk::from_json(RFC8037_PRIVATE_JWK).unwrap()).unwrap();
    assert_eq!(key.kid(), RFC8037_THUMBPRINT);
    let jwk = key.verifying_key().public_jwk().unwrap();
    assert_eq!(jwk.kty, "OKP");
    assert_eq!(jwk.crv.as_deref(), Some("Ed25519"));
    assert_eq!(jwk.x.as_deref(), Some(RFC8037_X));
    assert_eq!(jwk.kid.as_deref(), Some(RFC8037_THUMBPRINT));
    assert_eq!(jwk.alg.as_deref(), Some("EdDSA"));
    assert_eq!(jwk.use_.as_deref(), Some("sig"));
}

#[test]
fn rfc8037_a3_thumbprint() {
    assert_eq!(
        thumbprint(&public_jwk(RFC8037_PUBLIC_JWK)).unwrap(),
        RFC8037_THUMBPRINT
    );
}

#[test]
fn rfc8037_a5_public_jwk_verifies_the_rfc_signature_and_nothing_else() {
    let key = VerifyingKey::from_jwk(&public_jwk(RFC8037_PUBLIC_JWK)).unwrap();
    assert_eq!(key.algorithm(), Algorithm::EdDSA);
    // No `kid` in the JWK: the key id is its thumbprint.
    assert_eq!(key.kid(), RFC8037_THUMBPRINT);
    let message = RFC8037_SIGNING_INPUT.as_bytes();
    let signature = unb64(RFC8037_SIGNATURE);
    assert!(key.verify(message, &signature));
    for bad in flipped(&signature) {
        assert!(!key.verify(message, &bad));
    }
    for bad in flipped(message) {
        assert!(!key.verify(&bad, &signature));
    }
    assert!(!key.verify(message, &signature[..63]));
    assert!(!key.verify(message, &[]));
}

#[test]
fn rfc7638_3_1_rsa_thumbprint() {
    let jwk = public_jwk(RFC7638_JWK);
    assert_eq!(thumbprint(&jwk).unwrap(), RFC7638_THUMBPRINT);
    // Only the required members count: dropping `kid`/`alg` changes nothing.
    let bare = PublicJwk {
        kid: None,
        alg: None,
        ..jwk.clone()
    };
    assert_eq!(thumbprint(&bare).unwrap(), RFC7638_THUMBPRINT);
    // The JWK's own `kid` wins over the thumbprint when it has one.
    let key = VerifyingKey::from_jwk(&jwk).unwrap();
    assert_eq!(key.kid(), "2011-04-29");
    assert_eq!(
        VerifyingKey::from_jwk(&bare).unwrap().kid(),
        RFC7638_THUMBPRINT
    );
}

#[test]
fn rfc7515_a1_hs256_oct_jwk_signs_and_verifies_the_rfc_signature() {
    let text = format!(r#"{{"kty":"oct","kid":"rfc7515-a1","k":"{RFC7515_A1_KEY}"}}"#);
    let key = SigningKey::from_jwk(&PrivateJwk::from_json(&text).unwrap()).unwrap();
    assert_eq!(key.algorithm(), Algorithm::HS256);
    assert_eq!(key.kid(), "rfc7515-a1");
    let input = format!("{RFC7515_A1_HEADER}.{RFC7515_PAYLOAD}");
    let signature = unb64(RFC7515_A1_SIGNATURE);
    assert_eq!(key.sign(input.as_bytes()).unwrap(), signature);

    let verifying = key.verifying_key();
    assert!(verifying.verify(input.as_bytes(), &signature));
    for bad in flipped(&signature) {
        assert!(!verifying.verify(input.as_bytes(), &bad));
    }
    // A symmetric key has nothing to publish.
    assert!(verifying.public_jwk().is_none());

    // The same secret given directly is the same key.
    let direct = SigningKey::hs256("rfc7515-a1", &unb64(RFC7515_A1_KEY)).unwrap();
    assert_eq!(direct.sign(input.as_bytes()).unwrap(), signature);
}

#[test]
fn rfc7515_a1_oct_jwk_without_kid_is_refused() {
    let text = format!(r#"{{"kty":"oct","k":"{RFC7515_A1_KEY}"}}"#);
    let err = SigningKey::from_jwk(&PrivateJwk::from_json(&text).unwrap()).unwrap_err();
    assert_eq!(err, KeyError::Jwk("kid"));
}

#[test]
fn rfc7515_a2_rsa_jwk_signs_exactly_the_rfc_signature() {
    let key = SigningKey::from_jwk(&PrivateJwk::from_json(RFC7515_A2_JWK).unwrap()).unwrap();
    assert_eq!(key.algorithm(), Algorithm::RS256);
    let input = format!("{RFC7515_A2_HEADER}.{RFC7515_PAYLOAD}");
    let signature = unb64(RFC7515_A2_SIGNATURE);
    assert_eq!(key.sign(input.as_bytes()).unwrap(), signature);
    let verifying = key.verifying_key();
    assert!(verifying.verify(input.as_bytes(), &signature));
    for bad in flipped(&signature).step_by(17) {
        assert!(!verifying.verify(input.as_bytes(), &bad));
    }
    // kid = RFC 7638 thumbprint of the exported public JWK.
    let jwk = verifying.public_jwk().unwrap();
    assert_eq!(jwk.e.as_deref(), Some("AQAB"));
    assert_eq!(key.kid(), thumbprint(jwk).unwrap());
}

#[test]
fn rfc7515_a3_ec_jwk_verifies_the_rfc_signature() {
    let key = SigningKey::from_jwk(&PrivateJwk::from_json(RFC7515_A3_JWK).unwrap()).unwrap();
    assert_eq!(key.algorithm(), Algorithm::ES256);
    let input = format!("{RFC7515_A3_HEADER}.{RFC7515_PAYLOAD}");
    let signature = unb64(RFC7515_A3_SIGNATURE);
    assert!(key.verifying_key().verify(input.as_bytes(), &signature));
    for bad in flipped(&signature) {
        assert!(!key.verifying_key().verify(input.as_bytes(), &bad));
    }
    // Our own (randomized) signature verifies too, under the public JWK alone.
    let ours = key.sign(input.as_bytes()).unwrap();
    assert_eq!(ours.len(), 64);
    let public = VerifyingKey::from_jwk(key.verifying_key().public_jwk().unwrap()).unwrap();
    assert!(public.verify(input.as_bytes(), &ours));
    assert!(public.verify(input.as_bytes(), &signature));
    assert_eq!(public.kid(), key.kid());
}
