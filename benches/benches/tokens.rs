//! `clientcreds-jwt` minting and verification and the whole token exchange,
//! for every algorithm, beside the raw primitives of its backend
//! (aws-lc-rs, with keys parsed beforehand) on the same bytes and
//! `jsonwebtoken` (aws-lc-rs backend) encoding and decoding the same claims
//! with the same key. The secret check of the exchange's floor is ring's
//! HMAC, which `clientcreds-secret` uses.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::print_stderr
)]

use std::collections::BTreeMap;
use std::hint::black_box;
use std::sync::Arc;
use std::time::Instant;

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{
    self, EcdsaKeyPair, Ed25519KeyPair, KeyPair as _, ParsedPublicKey, RsaKeyPair,
};
use base64::Engine as _;
use clientcreds_benches::paired;
use clientcreds_jwt::{
    Algorithm, KeySet, SigningKey, TokenClaims, TokenIssuer, TokenVerifier, Validation,
};
use clientcreds_registry::{Actor, ExchangeRequest, NewClient, Policy, Registry, TokenService};
use clientcreds_secret::{PepperKey, Secret, SecretHasher};
use clientcreds_store::{ClaimValue, MemoryStore, TenantId};
use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use ring::hmac;
use serde::{Deserialize, Serialize};
use time::{Duration, OffsetDateTime};

const ISSUER: &str = "https://auth.example.com";
const API: &str = "https://api.example.com";
const SCOPES: [&str; 2] = ["invoices:read", "invoices:write"];
const ROLES: [&str; 2] = ["reader", "auditor"];
const TENANT: &str = "acme";
/// The client id of the `mint` benchmark (the exchange uses a generated one).
const CLIENT_ID: &str = "cc_3kTQm9vXcP2rWb7n";
/// The secret pepper of the registry's HMAC hasher.
const PEPPER: [u8; 32] = [0x5a; 32];
/// The HS256 signing secret.
const HS256_SECRET: [u8; 32] = [0x42; 32];
/// A 2048-bit RSA key made once for these benchmarks only, with `openssl
/// genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -outform DER` (which
/// OpenSSL 3.0 writes as PKCS#1) then `openssl pkcs8 -topk8 -nocrypt -inform
/// DER -outform DER`. It signs nothing real: never use it anywhere else.
const TEST_ONLY_RSA_PKCS8: &[u8] = include_bytes!("../data/test-only-rsa2048.pkcs8.der");

/// Every algorithm, one after the other in the same process, so that the
/// ratios compare figures of the same run.
fn tokens(c: &mut Criterion) {
    for algorithm in [
        Algorithm::EdDSA,
        Algorithm::ES256,
        Algorithm::RS256,
        Algorithm::HS256,
    ] {
        let keys = BenchKeys::new(algorithm);
        mint_and_verify(c, &keys);
        exchange(c, &keys);
    }
}

/// `mint`, `verify`, the raw sign and verify of the same signing input,
/// and jsonwebtoken's `encode` and `decode` of the same claims.
fn mint_and_verify(c: &mut Criterion, keys: &BenchKeys) {
    let key_set = Arc::new(KeySet::new(keys.signing_key()));
    let issuer = TokenIssuer::new(key_set.clone(), ISSUER);
    let verifier = TokenVerifier::new(key_set.clone(), Validation::new(ISSUER, API));
    let audience = [API.to_owned()];
    let scopes = SCOPES.map(str::to_owned);
    let extra = BTreeMap::from([("roles".to_owned(), ROLES.map(str::to_owned).to_vec())]);
    let now = OffsetDateTime::now_utc();
    let claims = TokenClaims {
        client_id: CLIENT_ID,
        tenant: TENANT,
        audience: &audience,
        scopes: &scopes,
        extra: &extra,
        lifetime: Duration::hours(1),
        now,
        secret_id: None,
    };
    let minted = issuer.mint(&claims).unwrap();
    let token = minted.access_token.expose().to_owned();
    let context = verifier.verify_at(&token, now).unwrap();
    assert_eq!(context.extra["roles"], serde_json::json!(ROLES));

    // The raw primitives on the very bytes of that token.
    let (signing_input, signature_b64) = token.rsplit_once('.').unwrap();
    let signature = b64url(signature_b64);
    assert!(keys.raw_verify(signing_input.as_bytes(), &signature));
    let mut out = [0u8; 512];
    let len = keys.raw_sign(signing_input.as_bytes(), &mut out);
    assert!(keys.raw_verify(signing_input.as_bytes(), &out[..len]));

    // jsonwebtoken: the same claims (the same jti, times and header
    // members), the same key, and a validation with the same demands.
    let jwt_claims = JwtClaims {
        iss: ISSUER.to_owned(),
        sub: context.subject.clone(),
        aud: API.to_owned(),
        exp: context.expires_at.unix_timestamp(),
        iat: context.issued_at.unix_timestamp(),
        nbf: context.issued_at.unix_timestamp(),
        jti: context.jti.clone(),
        client_id: context.client_id.clone(),
        scope: SCOPES.join(" "),
        tenant: context.tenant.clone().unwrap_or_default(),
        roles: ROLES.map(str::to_owned).to_vec(),
    };
    let mut header = jsonwebtoken::Header::new(keys.jwt_algorithm());
    header.typ = Some("at+jwt".to_owned());
    header.kid = Some(key_set.signing_key().unwrap().kid().to_owned());
    let (encoding_key, decoding_key) = keys.jsonwebtoken_keys(&key_set);
    let mut validation = jsonwebtoken::Validation::new(keys.jwt_algorithm());
    validation.set_issuer(&[ISSUER]);
    validation.set_audience(&[API]);
    validation.set_required_spec_claims(&["exp", "nbf", "iss", "aud", "sub"]);
    validation.validate_nbf = true;
    validation.leeway = 60;
    let decoded = jsonwebtoken::decode::<JwtClaims>(&token, &decoding_key, &validation).unwrap();
    assert_eq!(decoded.claims, jwt_claims);
    let encoded = jsonwebtoken::encode(&header, &jwt_claims, &encoding_key).unwrap();
    assert_eq!(encoded.len(), token.len());
    assert_eq!(verifier.verify_at(&encoded, now).unwrap(), context);

    // aws-lc-rs through jsonwebtoken's provider, called directly (nothing
    // is installed): a signer and a verifier made once, as parsed keys.
    // Its RSA signer keeps the DER and parses it on every signature.
    let provider = &jsonwebtoken::crypto::aws_lc::DEFAULT_PROVIDER;
    let aws_signer = (provider.signer_factory)(&keys.jwt_algorithm(), &encoding_key).unwrap();
    let aws_verifier = (provider.verifier_factory)(&keys.jwt_algorithm(), &decoding_key).unwrap();
    let aws_signature = aws_signer.try_sign(signing_input.as_bytes()).unwrap();
    aws_verifier
        .verify(signing_input.as_bytes(), &aws_signature)
        .unwrap();
    aws_verifier
        .verify(signing_input.as_bytes(), &signature)
        .unwrap();

    let mut group = c.benchmark_group(format!("tokens-{}", keys.algorithm));
    group.bench_function("mint", |b| {
        b.iter(|| issuer.mint(black_box(&claims)).unwrap());
    });
    group.bench_function("verify", |b| {
        b.iter(|| verifier.verify_at(black_box(&token), now).unwrap());
    });
    group.bench_function("raw_sign", |b| {
        b.iter(|| keys.raw_sign(black_box(signing_input.as_bytes()), &mut out));
    });
    group.bench_function("raw_verify", |b| {
        b.iter(|| {
            assert!(keys.raw_verify(black_box(signing_input.as_bytes()), black_box(&signature)));
        });
    });
    group.bench_function("jsonwebtoken_encode", |b| {
        b.iter(|| {
            jsonwebtoken::encode(black_box(&header), black_box(&jwt_claims), &encoding_key).unwrap()
        });
    });
    group.bench_function("jsonwebtoken_decode", |b| {
        b.iter(|| {
            jsonwebtoken::decode::<JwtClaims>(black_box(&token), &decoding_key, &validation)
                .unwrap()
        });
    });
    group.bench_function("aws_lc_sign_parsed", |b| {
        b.iter(|| {
            aws_signer
                .try_sign(black_box(signing_input.as_bytes()))
                .unwrap()
        });
    });
    group.bench_function("aws_lc_verify", |b| {
        b.iter(|| {
            aws_verifier
                .verify(black_box(signing_input.as_bytes()), black_box(&signature))
                .unwrap();
        });
    });
    // Into a JSON map, as `verify` parses the payload (every claim kept).
    group.bench_function("jsonwebtoken_decode_map", |b| {
        b.iter(|| {
            jsonwebtoken::decode::<serde_json::Map<String, serde_json::Value>>(
                black_box(&token),
                &decoding_key,
                &validation,
            )
            .unwrap()
        });
    });
    group.finish();

    paired(
        &format!("{} verify / jsonwebtoken_decode", keys.algorithm),
        |n| {
            let start = Instant::now();
            for _ in 0..n {
                black_box(verifier.verify_at(black_box(&token), now).unwrap());
            }
            start.elapsed()
        },
        |n| {
            let start = Instant::now();
            for _ in 0..n {
                black_box(
                    jsonwebtoken::decode::<JwtClaims>(
                        black_box(&token),
                        &decoding_key,
                        &validation,
                    )
                    .unwrap(),
                );
            }
            start.elapsed()
        },
    );
}

/// The whole `TokenService::exchange` on the in-memory store, and its floor:
/// the raw HMAC check of the secret plus the raw signature of a token.
fn exchange(c: &mut Criterion, keys: &BenchKeys) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let store = Arc::new(MemoryStore::new());
    // A one-day last-used interval: the first exchange writes the last-used
    // time, and no measured call makes that advisory write.
    let policy = Policy::default().with_last_used_interval(Duration::days(1));
    let hasher = SecretHasher::hmac_sha256(PepperKey::new("k1", &PEPPER).unwrap()).unwrap();
    let registry = Arc::new(Registry::new(store.clone(), hasher, policy).unwrap());
    let key_set = Arc::new(KeySet::new(keys.signing_key()));
    let service = TokenService::new(
        registry.clone(),
        TokenIssuer::new(key_set.clone(), ISSUER),
        API,
    );
    let issued = rt
        .block_on(
            registry.create(
                &Actor::System,
                &TenantId::new(TENANT).unwrap(),
                NewClient::named("svc-0")
                    .with_scopes(SCOPES)
                    .with_audiences([API])
                    .with_claim("roles", ClaimValue::List(ROLES.map(str::to_owned).to_vec())),
            ),
        )
        .unwrap();
    let client_id = issued.credentials.client_id.clone();
    let secret_text = issued.credentials.client_secret.expose_secret().to_owned();
    let request = || {
        ExchangeRequest::client_credentials(client_id.clone(), Secret::from(secret_text.clone()))
            .with_scope(SCOPES.join(" "))
    };
    let run = |request| rt.block_on(service.exchange(request));

    let first = run(request()).unwrap();
    let verifier = TokenVerifier::new(key_set, Validation::new(ISSUER, API));
    let context = verifier.verify(first.access_token.expose()).unwrap();
    assert_eq!(context.scopes, SCOPES);
    assert_eq!(context.extra["roles"], serde_json::json!(ROLES));

    // The floor, on the same kind of bytes: the HMAC of this secret with
    // the pepper against its tag, and a signature of a token's signing
    // input, each with a key parsed beforehand.
    let pepper = hmac::Key::new(hmac::HMAC_SHA256, &PEPPER);
    let tag = hmac::sign(&pepper, secret_text.as_bytes());
    let second = run(request()).unwrap();
    let (signing_input, _) = second.access_token.expose().rsplit_once('.').unwrap();
    let signing_input = signing_input.as_bytes().to_vec();
    let mut out = [0u8; 512];

    let mut group = c.benchmark_group(format!("exchange-{}", keys.algorithm));
    group.bench_function("exchange", |b| {
        b.iter_batched(
            request,
            |request| run(black_box(request)).unwrap(),
            BatchSize::SmallInput,
        );
    });
    group.bench_function("floor_hmac_verify_plus_sign", |b| {
        b.iter(|| {
            hmac::verify(
                &pepper,
                black_box(secret_text.as_bytes()),
                black_box(tag.as_ref()),
            )
            .unwrap();
            keys.raw_sign(black_box(&signing_input), &mut out)
        });
    });
    group.finish();

    // `n` exchanges, requests built outside the timing.
    let exchanges = |n| {
        let requests: Vec<ExchangeRequest> = (0..n).map(|_| request()).collect();
        let mut responses = Vec::with_capacity(requests.len());
        let start = Instant::now();
        for request in requests {
            responses.push(run(black_box(request)).unwrap());
        }
        start.elapsed()
    };
    paired(
        &format!("{} exchange / floor", keys.algorithm),
        exchanges,
        |n| {
            let start = Instant::now();
            for _ in 0..n {
                hmac::verify(
                    &pepper,
                    black_box(secret_text.as_bytes()),
                    black_box(tag.as_ref()),
                )
                .unwrap();
                black_box(keys.raw_sign(black_box(&signing_input), &mut out));
            }
            start.elapsed()
        },
    );
    // What the failure throttle costs a successful exchange that names its
    // source (admit, then the pair's reset), against one that does not.
    if keys.algorithm == Algorithm::EdDSA {
        let source: std::net::IpAddr = "203.0.113.9".parse().unwrap();
        paired(
            "EdDSA exchange with source (throttle) / without",
            |n| {
                let requests: Vec<ExchangeRequest> =
                    (0..n).map(|_| request().with_source(source)).collect();
                let start = Instant::now();
                for request in requests {
                    black_box(run(black_box(request)).unwrap());
                }
                start.elapsed()
            },
            exchanges,
        );
    }
    // What the exchange adds to the registry's own secret check: scope and
    // audience checks, the claims, JSON, base64, the `jti`, the activity
    // entry.
    let secret = Secret::from(secret_text.clone());
    paired(
        &format!("{} exchange / (authenticate + raw sign)", keys.algorithm),
        exchanges,
        |n| {
            let start = Instant::now();
            for _ in 0..n {
                black_box(
                    rt.block_on(registry.authenticate(black_box(&client_id), black_box(&secret)))
                        .unwrap(),
                );
                black_box(keys.raw_sign(black_box(&signing_input), &mut out));
            }
            start.elapsed()
        },
    );
}

/// One algorithm's key material, loaded once: the bytes, our signing key's
/// source, and the raw aws-lc-rs keys (private and public) parsed from the
/// same bytes.
struct BenchKeys {
    algorithm: Algorithm,
    /// PKCS#8 DER for the asymmetric algorithms; the secret for HS256.
    bytes: Vec<u8>,
    raw: RawKey,
    rng: SystemRandom,
}

// The HMAC key stays inline (aws-lc-rs's holds its whole context), as a
// caller of the raw primitive would hold it.
#[allow(clippy::large_enum_variant)]
enum RawKey {
    Ed25519(Ed25519KeyPair, ParsedPublicKey),
    Es256(EcdsaKeyPair, ParsedPublicKey),
    Rs256(RsaKeyPair, ParsedPublicKey),
    Hs256(aws_lc_rs::hmac::Key),
}

impl BenchKeys {
    fn new(algorithm: Algorithm) -> Self {
        let rng = SystemRandom::new();
        let bytes = match algorithm {
            Algorithm::EdDSA | Algorithm::ES256 => {
                SigningKey::generate_pkcs8(algorithm).unwrap().to_vec()
            }
            // A fixed key, so that runs compare the same modulus.
            Algorithm::RS256 => TEST_ONLY_RSA_PKCS8.to_vec(),
            Algorithm::HS256 => HS256_SECRET.to_vec(),
            other => panic!("no benchmark key for {other}"),
        };
        let raw = match algorithm {
            Algorithm::EdDSA => {
                let pair = Ed25519KeyPair::from_pkcs8_maybe_unchecked(&bytes).unwrap();
                let public = ParsedPublicKey::new(&signature::ED25519, pair.public_key()).unwrap();
                RawKey::Ed25519(pair, public)
            }
            Algorithm::ES256 => {
                let pair =
                    EcdsaKeyPair::from_pkcs8(&signature::ECDSA_P256_SHA256_FIXED_SIGNING, &bytes)
                        .unwrap();
                let public =
                    ParsedPublicKey::new(&signature::ECDSA_P256_SHA256_FIXED, pair.public_key())
                        .unwrap();
                RawKey::Es256(pair, public)
            }
            Algorithm::RS256 => {
                let pair = RsaKeyPair::from_pkcs8(&bytes).unwrap();
                let components: signature::RsaPublicKeyComponents<Vec<u8>> =
                    pair.public_key().into();
                let public = components
                    .to_parsed_public_key(&signature::RSA_PKCS1_2048_8192_SHA256)
                    .unwrap();
                RawKey::Rs256(pair, public)
            }
            Algorithm::HS256 => RawKey::Hs256(aws_lc_rs::hmac::Key::new(
                aws_lc_rs::hmac::HMAC_SHA256,
                &bytes,
            )),
            other => panic!("no benchmark key for {other}"),
        };
        Self {
            algorithm,
            bytes,
            raw,
            rng,
        }
    }

    /// Our signing key, from the same bytes.
    fn signing_key(&self) -> SigningKey {
        match self.algorithm {
            Algorithm::HS256 => SigningKey::hs256("hs-bench", &self.bytes).unwrap(),
            algorithm => SigningKey::from_pkcs8_der(algorithm, &self.bytes).unwrap(),
        }
    }

    /// Signs `message` with the parsed key into `out`; the length.
    fn raw_sign(&self, message: &[u8], out: &mut [u8; 512]) -> usize {
        match &self.raw {
            RawKey::Ed25519(pair, _) => copy(pair.sign(message).as_ref(), out),
            RawKey::Es256(pair, _) => copy(pair.sign(&self.rng, message).unwrap().as_ref(), out),
            RawKey::Rs256(pair, _) => {
                let len = pair.public_modulus_len();
                pair.sign(
                    &signature::RSA_PKCS1_SHA256,
                    &self.rng,
                    message,
                    &mut out[..len],
                )
                .unwrap();
                len
            }
            RawKey::Hs256(key) => copy(aws_lc_rs::hmac::sign(key, message).as_ref(), out),
        }
    }

    /// Verifies with the parsed public key (or `hmac::verify`).
    fn raw_verify(&self, message: &[u8], sig: &[u8]) -> bool {
        match &self.raw {
            RawKey::Ed25519(_, public) | RawKey::Es256(_, public) | RawKey::Rs256(_, public) => {
                public.verify_sig(message, sig).is_ok()
            }
            RawKey::Hs256(key) => aws_lc_rs::hmac::verify(key, message, sig).is_ok(),
        }
    }

    fn jwt_algorithm(&self) -> jsonwebtoken::Algorithm {
        match self.algorithm {
            Algorithm::EdDSA => jsonwebtoken::Algorithm::EdDSA,
            Algorithm::ES256 => jsonwebtoken::Algorithm::ES256,
            Algorithm::RS256 => jsonwebtoken::Algorithm::RS256,
            Algorithm::HS256 => jsonwebtoken::Algorithm::HS256,
            other => panic!("no benchmark key for {other}"),
        }
    }

    /// jsonwebtoken's keys from the same material: the same PKCS#8 (as PEM
    /// for RSA, whose `from_rsa_der` wants PKCS#1) or secret, and our
    /// exported public JWK for verifying.
    fn jsonwebtoken_keys(
        &self,
        key_set: &KeySet,
    ) -> (jsonwebtoken::EncodingKey, jsonwebtoken::DecodingKey) {
        use jsonwebtoken::{DecodingKey, EncodingKey};
        let encoding = match self.algorithm {
            Algorithm::EdDSA => EncodingKey::from_ed_der(&self.bytes),
            Algorithm::ES256 => EncodingKey::from_ec_der(&self.bytes),
            Algorithm::RS256 => {
                EncodingKey::from_rsa_pem(clientcreds_jwt::pkcs8_pem(&self.bytes).as_bytes())
                    .unwrap()
            }
            Algorithm::HS256 => EncodingKey::from_secret(&self.bytes),
            other => panic!("no benchmark key for {other}"),
        };
        let decoding = if self.algorithm == Algorithm::HS256 {
            DecodingKey::from_secret(&self.bytes)
        } else {
            let ours = key_set.jwks().keys.remove(0);
            let jwk: jsonwebtoken::jwk::Jwk =
                serde_json::from_value(serde_json::to_value(ours).unwrap()).unwrap();
            DecodingKey::from_jwk(&jwk).unwrap()
        };
        (encoding, decoding)
    }
}

/// The claims of our token as a jsonwebtoken user would type them.
#[derive(Debug, PartialEq, Eq, Serialize, Deserialize)]
struct JwtClaims {
    iss: String,
    sub: String,
    aud: String,
    exp: i64,
    iat: i64,
    nbf: i64,
    jti: String,
    client_id: String,
    scope: String,
    tenant: String,
    roles: Vec<String>,
}

fn copy(signature: &[u8], out: &mut [u8; 512]) -> usize {
    out[..signature.len()].copy_from_slice(signature);
    signature.len()
}

fn b64url(text: &str) -> Vec<u8> {
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(text)
        .unwrap()
}

criterion_group!(benches, tokens);
criterion_main!(benches);
