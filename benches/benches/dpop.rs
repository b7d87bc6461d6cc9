//! DPoP at the token endpoint (issue 24): the whole `TokenService::exchange`
//! with a DPoP proof (checked, its `jti` recorded in the in-memory replay
//! store, the token bound with `cnf.jkt`) against the same exchange
//! without one, same run, interleaved (`clientcreds_benches::paired`).
//! Proofs are made outside the timing: making them is the caller's cost.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::hint::black_box;

use base64::Engine as _;
use std::sync::Arc;
use std::time::Instant;

use clientcreds_benches::paired;
use clientcreds_jwt::dpop::{ProofRequest, make_proof};
use clientcreds_jwt::{Algorithm, KeySet, SigningKey, TokenIssuer};
use clientcreds_registry::{
    Actor, DpopConfig, DpopProof, ExchangeRequest, NewClient, Policy, Registry, TokenService,
};
use clientcreds_secret::{PepperKey, Secret, SecretHasher};
use clientcreds_store::{MemoryReplayStore, MemoryStore, TenantId};
use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use time::{Duration, OffsetDateTime};

const ISSUER: &str = "https://auth.example.com";
const ENDPOINT: &str = "https://auth.example.com/oauth/token";
const API: &str = "https://api.example.com";

fn dpop(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let policy = Policy::default().with_last_used_interval(Duration::days(1));
    let hasher = SecretHasher::hmac_sha256(PepperKey::new("k1", &[0x5a; 32]).unwrap()).unwrap();
    let registry = Arc::new(Registry::new(Arc::new(MemoryStore::new()), hasher, policy).unwrap());
    let keys = Arc::new(KeySet::new(SigningKey::generate(Algorithm::EdDSA).unwrap()));
    let config = DpopConfig::new(ENDPOINT, Arc::new(MemoryReplayStore::default())).unwrap();
    let service =
        TokenService::new(registry.clone(), TokenIssuer::new(keys, ISSUER), API).with_dpop(config);
    let issued = rt
        .block_on(registry.create(
            &Actor::System,
            &TenantId::new("acme").unwrap(),
            NewClient::named("svc").with_scopes(["read"]),
        ))
        .unwrap();
    let id = issued.credentials.client_id.clone();
    let secret = issued.credentials.client_secret.expose_secret().to_owned();
    let request = || ExchangeRequest::client_credentials(id.clone(), Secret::from(secret.clone()));
    for algorithm in [Algorithm::EdDSA, Algorithm::ES256] {
        let key = SigningKey::generate(algorithm).unwrap();
        let mut counter = 0u64;
        let mut with_proof = || {
            counter += 1;
            let jti = format!("{algorithm}-{counter}");
            let proof = make_proof(
                &key,
                &ProofRequest {
                    method: "POST",
                    url: ENDPOINT,
                    access_token: None,
                    nonce: None,
                    now: OffsetDateTime::now_utc(),
                    jti: &jti,
                },
            )
            .unwrap();
            let mut r = request();
            r.dpop_proof = Some(DpopProof::new(proof));
            r
        };
        let first = rt.block_on(service.exchange(with_proof())).unwrap();
        assert_eq!(first.token_type, "DPoP");
        let mut group = c.benchmark_group(format!("dpop-exchange-{algorithm}-proof"));
        group.bench_function("with_proof", |b| {
            b.iter_batched(
                &mut with_proof,
                |r| rt.block_on(service.exchange(black_box(r))).unwrap(),
                BatchSize::SmallInput,
            );
        });
        group.bench_function("without_proof", |b| {
            b.iter_batched(
                request,
                |r| rt.block_on(service.exchange(black_box(r))).unwrap(),
                BatchSize::SmallInput,
            );
        });
        group.finish();
        let timed = |requests: Vec<ExchangeRequest>| {
            let start = Instant::now();
            for r in requests {
                black_box(rt.block_on(service.exchange(r)).unwrap());
            }
            start.elapsed()
        };
        let mut proofs = |n| (0..n).map(|_| with_proof()).collect::<Vec<_>>();
        let ratio = paired(
            &format!("exchange with an {algorithm} DPoP proof / without"),
            |n| {
                let batch = proofs(n);
                timed(batch)
            },
            |n| timed((0..n).map(|_| request()).collect()),
        );
        black_box(ratio);
        // The floor: the exchange without a proof plus the one signature
        // check a proof needs beyond it (the proof's key, parsed before).
        let sample = make_proof(
            &key,
            &ProofRequest {
                method: "POST",
                url: ENDPOINT,
                access_token: None,
                nonce: None,
                now: OffsetDateTime::now_utc(),
                jti: "floor",
            },
        )
        .unwrap();
        let (signed, signature) = sample.rsplit_once('.').unwrap();
        let signature = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(signature)
            .unwrap();
        let verifying = key.verifying_key().clone();
        let ratio = paired(
            &format!("exchange with an {algorithm} DPoP proof / (without + raw verify)"),
            |n| {
                let batch = proofs(n);
                timed(batch)
            },
            |n| {
                let requests: Vec<ExchangeRequest> = (0..n).map(|_| request()).collect();
                let start = Instant::now();
                for r in requests {
                    black_box(rt.block_on(service.exchange(r)).unwrap());
                    assert!(verifying.verify(black_box(signed.as_bytes()), black_box(&signature)));
                }
                start.elapsed()
            },
        );
        black_box(ratio);
    }
}

criterion_group!(benches, dpop);
criterion_main!(benches);
