//! Heap allocations of bearer verification, counted, with a ceiling: a
//! change that makes `TokenVerifier::verify_at` allocate more fails here
//! (a count is deterministic, unlike a time). The figures and how to
//! update them: docs/PERFORMANCE.md, "Allocations on the hot paths".

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stderr)]

use std::collections::BTreeMap;
use std::hint::black_box;
use std::sync::Arc;

use clientcreds_alloc_count::{Counting, installed, measure};
use clientcreds_jwt::{
    Algorithm, KeySet, SigningKey, TokenClaims, TokenIssuer, TokenVerifier, Validation,
};
use time::{Duration, OffsetDateTime};

#[global_allocator]
static ALLOC: Counting = Counting;

const ISSUER: &str = "https://auth.example.com";
const API: &str = "https://api.example.com";
/// Measured calls, after [`WARM_UP`] unmeasured ones.
const N: u64 = 200;
const WARM_UP: usize = 10;

/// Allocations of one `verify_at` of an EdDSA token with a tenant, two
/// scopes, one audience, a secret id and a two-value `roles` claim: 37
/// measured on 2026-12-06 (the decoded header and payload, the parsed
/// claims map and its strings, the returned context), plus 10 %.
const VERIFY_CEILING: u64 = 41;
/// Bytes those allocations ask for per call: 3,031 measured, plus 10 %.
const VERIFY_BYTES_CEILING: u64 = 3_334;

#[test]
fn bearer_verification_allocations_stay_under_the_ceiling() {
    assert!(installed(), "the counting allocator is not installed");
    let keys = Arc::new(KeySet::new(SigningKey::generate(Algorithm::EdDSA).unwrap()));
    let issuer = TokenIssuer::new(keys.clone(), ISSUER);
    let verifier = TokenVerifier::new(keys, Validation::new(ISSUER, API).require_tenant());
    let now = OffsetDateTime::now_utc();
    let audience = [API.to_owned()];
    let scopes = ["invoices:read".to_owned(), "invoices:write".to_owned()];
    let extra = BTreeMap::from([(
        "roles".to_owned(),
        vec!["reader".to_owned(), "auditor".to_owned()],
    )]);
    let token = issuer
        .mint(&TokenClaims {
            client_id: "cc_3kTQm9vXcP2rWb7n",
            tenant: "acme",
            audience: &audience,
            scopes: &scopes,
            extra: &extra,
            lifetime: Duration::hours(1),
            now,
            secret_id: Some("k7Qd9vXcP2rW"),
        })
        .unwrap();
    let token = token.access_token.expose().to_owned();
    let context = verifier.verify_at(&token, now).unwrap();
    assert_eq!(context.scopes, scopes);
    assert_eq!(context.tenant.as_deref(), Some("acme"));

    for _ in 0..WARM_UP {
        black_box(verifier.verify_at(black_box(&token), now).unwrap());
    }
    let ((), counts) = measure(|| {
        for _ in 0..N {
            // Dropped inside the measurement: its frees are counted too.
            black_box(verifier.verify_at(black_box(&token), now).unwrap());
        }
    });
    let per_op = counts.allocations_per(N);
    eprintln!(
        "verify_at (EdDSA): {} allocations, {} bytes, {} frees over {N} calls: \
         {per_op} allocations and {} bytes per call",
        counts.allocations,
        counts.bytes,
        counts.frees,
        counts.bytes_per(N),
    );
    // Every allocation is freed again: nothing is kept per call.
    assert_eq!(counts.allocations, counts.frees);
    assert!(
        per_op <= VERIFY_CEILING,
        "verify_at allocates {per_op} times per call, over the ceiling of \
         {VERIFY_CEILING} (docs/PERFORMANCE.md, \"Allocations on the hot paths\")"
    );
    let bytes = counts.bytes_per(N);
    assert!(
        bytes <= VERIFY_BYTES_CEILING,
        "verify_at asks for {bytes} bytes per call, over the ceiling of {VERIFY_BYTES_CEILING}"
    );
}
