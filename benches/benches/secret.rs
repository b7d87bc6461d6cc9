//! `clientcreds-secret`: generation, hashing and verification, beside the
//! raw ring primitive on the same bytes.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::hint::black_box;

use clientcreds_secret::{
    CredentialFormat, PepperKey, Secret, SecretHash, SecretHasher, Verification,
};
use criterion::measurement::WallTime;
use criterion::{BenchmarkGroup, Criterion, criterion_group, criterion_main};
use ring::hmac;

const PEPPER: [u8; 32] = [0x5a; 32];

fn generate(c: &mut Criterion) {
    let format = CredentialFormat::new("acme_").unwrap();
    let mut group = c.benchmark_group("generate");
    group.bench_function("client_id", |b| {
        b.iter(|| format.generate_client_id().unwrap());
    });
    group.bench_function("secret", |b| b.iter(|| format.generate_secret().unwrap()));
    let issued = format.generate_secret().unwrap();
    group.bench_function("parse_secret", |b| {
        b.iter(|| format.parse_secret(black_box(issued.secret())).unwrap());
    });
    group.finish();
}

fn hmac_sha256(c: &mut Criterion) {
    let format = CredentialFormat::new("acme_").unwrap();
    let secret = format.generate_secret().unwrap().into_secret();
    let hasher = SecretHasher::hmac_sha256(PepperKey::new("k1", &PEPPER).unwrap()).unwrap();
    let stored = hasher.hash(&secret).unwrap();
    assert_eq!(
        hasher.verify(&secret, &stored).unwrap(),
        Verification::Valid
    );

    // The raw primitive on the same bytes: a prepared key, the secret's
    // text, and the tag our hash string holds.
    let key = hmac::Key::new(hmac::HMAC_SHA256, &PEPPER);
    let tag = hmac::sign(&key, secret.expose_secret().as_bytes());
    assert!(stored.as_str().ends_with(&base64_of(tag.as_ref())));

    let mut group = c.benchmark_group("hmac-sha256");
    hash_verify_dummy(&mut group, &hasher, &secret, &stored);
    group.bench_function("ring_hmac_verify_raw", |b| {
        b.iter(|| {
            hmac::verify(
                black_box(&key),
                black_box(secret.expose_secret().as_bytes()),
                black_box(tag.as_ref()),
            )
            .is_ok()
        });
    });
    group.finish();
}

fn pbkdf2_sha256(c: &mut Criterion) {
    let format = CredentialFormat::new("acme_").unwrap();
    let secret = format.generate_secret().unwrap().into_secret();
    let hasher =
        SecretHasher::pbkdf2_sha256(clientcreds_secret::DEFAULT_PBKDF2_ITERATIONS).unwrap();
    let stored = hasher.hash(&secret).unwrap();
    let mut group = c.benchmark_group("pbkdf2-sha256-600k");
    group.sample_size(10);
    hash_verify_dummy(&mut group, &hasher, &secret, &stored);
    group.finish();
}

/// The three operations every scheme is measured on.
fn hash_verify_dummy(
    group: &mut BenchmarkGroup<'_, WallTime>,
    hasher: &SecretHasher,
    secret: &Secret,
    stored: &SecretHash,
) {
    group.bench_function("hash", |b| {
        b.iter(|| hasher.hash(black_box(secret)).unwrap());
    });
    group.bench_function("verify", |b| {
        b.iter(|| hasher.verify(black_box(secret), black_box(stored)).unwrap());
    });
    group.bench_function("verify_dummy", |b| {
        b.iter(|| hasher.verify_dummy(black_box(secret)));
    });
}

fn base64_of(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD_NO_PAD.encode(bytes)
}

criterion_group!(benches, generate, hmac_sha256, pbkdf2_sha256);
criterion_main!(benches);
