//! A hit of the authentication cache costs the same for a small client and
//! for the largest the registry accepts (ten usable secrets, 4 KiB of
//! scopes, audiences and claims, the longest name and description): the
//! cache hands out its shared view, never a copy.
//!
//! Two measurements per client: the cached store's lookup alone
//! (`cache-hit`), and `Registry::authenticate` through it (`cache-auth`:
//! the lookup, one HMAC check, the status checks).
//! Figures: docs/PERFORMANCE.md, "The authentication cache".

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::print_stderr
)]

use std::hint::black_box;
use std::sync::Arc;
use std::time::Duration as StdDuration;

use clientcreds_registry::{Actor, Credentials, NewClient, Policy, Registry, RotateOptions};
use clientcreds_secret::{PepperKey, SecretHasher};
use clientcreds_store::{
    AuthCache, CachedStore, ClaimValue, ClientStore, MemoryStore, Store, TenantId,
};
use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use time::Duration;
use tokio::runtime::Runtime;

struct Fixture {
    rt: Runtime,
    store: Arc<CachedStore<Arc<MemoryStore>>>,
    registry: Registry,
    small: Credentials,
    large: Credentials,
}

fn fixture() -> Fixture {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let cache = Arc::new(AuthCache::new(StdDuration::from_secs(3_600)));
    let store = Arc::new(CachedStore::new(Arc::new(MemoryStore::new()), cache));
    let hasher = SecretHasher::hmac_sha256(PepperKey::new("k1", &[3; 32]).unwrap()).unwrap();
    let policy = Policy::default().with_last_used_interval(Duration::days(1));
    let registry = Registry::new(store.clone() as Arc<dyn Store>, hasher, policy).unwrap();
    let tenant = TenantId::new("bench").unwrap();
    let (small, large) = rt.block_on(async {
        let small = registry
            .create(
                &Actor::System,
                &tenant,
                NewClient::named("small").with_scopes(["read"]),
            )
            .await
            .unwrap()
            .credentials;
        let roles: Vec<String> = (0..30)
            .map(|i| format!("{i:03}{}", "r".repeat(100)))
            .collect();
        let large = NewClient::named("l".repeat(200))
            .with_description("d".repeat(2000))
            .with_owner("o".repeat(200))
            .with_scopes((0..20).map(|i| format!("scope:{i:02}")))
            .with_audiences((0..4).map(|i| format!("https://api-{i}.example.com")))
            .with_claim("roles", ClaimValue::List(roles));
        let mut issued = registry
            .create(&Actor::System, &tenant, large)
            .await
            .unwrap();
        for _ in 0..9 {
            let id = issued.credentials.client_id.clone();
            issued = registry
                .rotate(&Actor::System, &tenant, &id, RotateOptions::default())
                .await
                .unwrap();
        }
        (small, issued.credentials)
    });
    Fixture {
        rt,
        store,
        registry,
        small,
        large,
    }
}

fn cache(c: &mut Criterion) {
    let f = fixture();
    let large_view =
        f.rt.block_on(f.store.authentication_view(&f.large.client_id))
            .unwrap()
            .unwrap();
    assert_eq!(large_view.secrets.len(), 10);
    eprintln!(
        "view bytes: small {}, large {}",
        f.rt.block_on(f.store.authentication_view(&f.small.client_id))
            .unwrap()
            .unwrap()
            .memory_bytes(),
        large_view.memory_bytes()
    );
    let mut group = c.benchmark_group("cache-hit");
    for (name, creds) in [("small", &f.small), ("large", &f.large)] {
        group.bench_function(BenchmarkId::from_parameter(name), |b| {
            b.iter(|| {
                f.rt.block_on(f.store.authentication_view(black_box(&creds.client_id)))
                    .unwrap()
                    .unwrap()
            });
        });
    }
    group.finish();
    let mut group = c.benchmark_group("cache-auth");
    for (name, creds) in [("small", &f.small), ("large", &f.large)] {
        group.bench_function(BenchmarkId::from_parameter(name), |b| {
            b.iter(|| {
                f.rt.block_on(
                    f.registry
                        .authenticate(black_box(&creds.client_id), &creds.client_secret),
                )
                .unwrap()
            });
        });
    }
    group.finish();
    let stats = f.store.cache().stats();
    assert!(stats.hits > stats.misses, "{stats:?}");
}

criterion_group!(benches, cache);
criterion_main!(benches);
