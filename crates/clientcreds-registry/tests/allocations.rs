//! Heap allocations of the token exchange (`TokenService::exchange`) on
//! the in-memory store, counted, with ceilings: without the authentication
//! cache, with it in front, and with it in front for a request that names
//! its source (the throttle's path of the reference server). A change that
//! makes the exchange allocate more fails here (a count is deterministic,
//! unlike a time). The figures: docs/PERFORMANCE.md, "Allocations on the
//! hot paths".

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::print_stderr,
    clippy::indexing_slicing
)]

use std::hint::black_box;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;
use std::time::Duration as StdDuration;

use clientcreds_alloc_count::{Counting, Counts, installed, measure};
use clientcreds_jwt::{Algorithm, KeySet, SigningKey, TokenIssuer, TokenVerifier, Validation};
use clientcreds_registry::{
    Actor, ExchangeRequest, ManualClock, NewClient, Policy, Registry, RotateOptions, Source,
    TokenService,
};
use clientcreds_secret::{PepperKey, Secret, SecretHasher};
use clientcreds_store::{
    AuthCache, CachedStore, ClaimValue, ClientStore, MemoryStore, Store, TenantId,
};
use time::{Duration, OffsetDateTime};
use tokio::runtime::Runtime;

#[global_allocator]
static ALLOC: Counting = Counting;

const ISSUER: &str = "https://auth.example.com";
const API: &str = "https://api.example.com";
/// Measured exchanges, after [`WARM_UP`] unmeasured ones.
const N: u64 = 200;
const WARM_UP: usize = 10;

/// A ceiling per exchange: allocations and the bytes they ask for.
struct Ceiling {
    allocations: u64,
    bytes: u64,
}

// Measured on 2026-12-06 for a client with two scopes, one audience and a
// two-value `roles` claim, EdDSA tokens, 200 exchanges after a warm-up
// (per exchange: the total over 200, rounded up). Ceiling: the measured
// figure plus 10 % or 2, whichever is larger (bytes: plus 10 %).

/// In-memory store alone: 4,204 allocations (22 per exchange, of which
/// about 5 are the kept activity row), 630,600 bytes (3,153).
const WITHOUT_CACHE: Ceiling = Ceiling {
    allocations: 25,
    bytes: 3_469,
};
/// The authentication cache in front: 4,604 allocations (24), 702,600
/// bytes (3,513).
const WITH_CACHE: Ceiling = Ceiling {
    allocations: 27,
    bytes: 3_865,
};
/// The cache in front, the request naming its source (the throttle's
/// admit and reset run): 4,601 allocations (24), 706,440 bytes (3,533).
const WITH_CACHE_AND_SOURCE: Ceiling = Ceiling {
    allocations: 27,
    bytes: 3_887,
};

/// Allocations of one hit of the authentication cache: see
/// [`a_cache_hit_allocates_the_same_whatever_the_records_size`].
const CACHE_HIT_CEILING: u64 = 4;

/// The fixed instant of the registry's clock.
fn start() -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(1_780_000_000).unwrap()
}

struct Fixture {
    rt: Runtime,
    service: TokenService,
    verifier: TokenVerifier,
    client_id: String,
    secret: String,
}

fn fixture(cached: bool) -> Fixture {
    // One thread: everything the exchange does runs on the measuring thread.
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let memory = Arc::new(MemoryStore::new());
    let store: Arc<dyn Store> = if cached {
        let cache = Arc::new(AuthCache::new(StdDuration::from_secs(3_600)));
        Arc::new(CachedStore::new(memory, cache))
    } else {
        memory
    };
    // A fixed clock (the same digits in every token) and a one-day
    // last-used interval: only the first exchange writes the last-used time.
    let clock = Arc::new(ManualClock::new(start()));
    let policy = Policy::default().with_last_used_interval(Duration::days(1));
    let hasher = SecretHasher::hmac_sha256(PepperKey::new("k1", &[7; 32]).unwrap()).unwrap();
    let registry = Arc::new(
        Registry::new(store, hasher, policy)
            .unwrap()
            .with_clock(clock),
    );
    let keys = Arc::new(KeySet::new(SigningKey::generate(Algorithm::EdDSA).unwrap()));
    let service = TokenService::new(
        registry.clone(),
        TokenIssuer::new(keys.clone(), ISSUER),
        API,
    );
    let issued = rt
        .block_on(
            registry.create(
                &Actor::System,
                &TenantId::new("acme").unwrap(),
                NewClient::named("svc")
                    .with_scopes(["invoices:read", "invoices:write"])
                    .with_audiences([API])
                    .with_claim(
                        "roles",
                        ClaimValue::List(vec!["reader".to_owned(), "auditor".to_owned()]),
                    ),
            ),
        )
        .unwrap();
    Fixture {
        rt,
        service,
        verifier: TokenVerifier::new(keys, Validation::new(ISSUER, API)),
        client_id: issued.credentials.client_id.clone(),
        secret: issued.credentials.client_secret.expose_secret().to_owned(),
    }
}

/// Warms up, then counts `N` exchanges; the requests are built before and
/// the responses dropped after the measurement.
fn count_exchanges(f: &Fixture, source: Option<Source>) -> Counts {
    let request = || {
        let request = ExchangeRequest::client_credentials(
            f.client_id.clone(),
            Secret::from(f.secret.clone()),
        )
        .with_scope("invoices:read invoices:write");
        match source {
            Some(source) => request.with_source(source),
            None => request,
        }
    };
    let first = f.rt.block_on(f.service.exchange(request())).unwrap();
    let context = f
        .verifier
        .verify_at(first.access_token.expose(), start())
        .unwrap();
    assert_eq!(context.scopes, ["invoices:read", "invoices:write"]);
    for _ in 0..WARM_UP {
        f.rt.block_on(f.service.exchange(request())).unwrap();
    }
    let requests: Vec<ExchangeRequest> = (0..N).map(|_| request()).collect();
    let mut responses = Vec::with_capacity(requests.len());
    let ((), counts) = measure(|| {
        for request in requests {
            responses.push(f.rt.block_on(f.service.exchange(black_box(request))));
        }
    });
    assert!(responses.iter().all(Result::is_ok));
    counts
}

fn check(what: &str, counts: Counts, ceiling: &Ceiling) {
    let per_op = counts.allocations_per(N);
    let bytes = counts.bytes_per(N);
    eprintln!(
        "exchange, {what}: {} allocations, {} bytes, {} frees over {N} exchanges: \
         {per_op} allocations and {bytes} bytes per exchange",
        counts.allocations, counts.bytes, counts.frees,
    );
    assert!(
        per_op <= ceiling.allocations,
        "the exchange ({what}) allocates {per_op} times per call, over the ceiling of {} \
         (docs/PERFORMANCE.md, \"Allocations on the hot paths\")",
        ceiling.allocations
    );
    assert!(
        bytes <= ceiling.bytes,
        "the exchange ({what}) asks for {bytes} bytes per call, over the ceiling of {}",
        ceiling.bytes
    );
}

#[test]
fn exchange_allocations_stay_under_the_ceilings() {
    assert!(installed(), "the counting allocator is not installed");
    let source = Source::client(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 10)));

    let plain = fixture(false);
    check(
        "in-memory store",
        count_exchanges(&plain, None),
        &WITHOUT_CACHE,
    );

    let cached = fixture(true);
    check(
        "authentication cache in front",
        count_exchanges(&cached, None),
        &WITH_CACHE,
    );
    check(
        "authentication cache in front, with a source",
        count_exchanges(&cached, Some(source)),
        &WITH_CACHE_AND_SOURCE,
    );
}

/// A hit of the authentication cache allocates the same for a small client
/// and for a large one (ten usable secrets, twenty scopes, four audiences,
/// thirty 103-byte roles): the cache hands out its shared view, never a
/// copy. Measured on 2026-12-06: 2 allocations and 152 bytes per hit for
/// both (the boxed futures of the `async_trait` methods; 400 and 30,400
/// over 200 hits), ceiling 4.
#[test]
fn a_cache_hit_allocates_the_same_whatever_the_records_size() {
    assert!(installed(), "the counting allocator is not installed");
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let cache = Arc::new(AuthCache::new(StdDuration::from_secs(3_600)));
    let store = Arc::new(CachedStore::new(Arc::new(MemoryStore::new()), cache));
    let hasher = SecretHasher::hmac_sha256(PepperKey::new("k1", &[7; 32]).unwrap()).unwrap();
    let registry = Registry::new(store.clone() as Arc<dyn Store>, hasher, Policy::default())
        .unwrap()
        .with_clock(Arc::new(ManualClock::new(start())));
    let tenant = TenantId::new("acme").unwrap();
    let (small, large) = rt.block_on(async {
        let small = registry
            .create(&Actor::System, &tenant, NewClient::named("small"))
            .await
            .unwrap()
            .credentials
            .client_id;
        let roles: Vec<String> = (0..30)
            .map(|i| format!("{i:03}{}", "r".repeat(100)))
            .collect();
        let large = NewClient::named("l".repeat(200))
            .with_scopes((0..20).map(|i| format!("scope:{i:02}")))
            .with_audiences((0..4).map(|i| format!("https://api-{i}.example.com")))
            .with_claim("roles", ClaimValue::List(roles));
        let id = registry
            .create(&Actor::System, &tenant, large)
            .await
            .unwrap()
            .credentials
            .client_id;
        for _ in 0..9 {
            registry
                .rotate(&Actor::System, &tenant, &id, RotateOptions::default())
                .await
                .unwrap();
        }
        (small, id)
    });
    let large_view = rt
        .block_on(store.authentication_view(&large))
        .unwrap()
        .unwrap();
    assert_eq!(large_view.secrets.len(), 10);
    let mut per_hit = Vec::new();
    for id in [&small, &large] {
        for _ in 0..WARM_UP {
            rt.block_on(store.authentication_view(id)).unwrap().unwrap();
        }
        let ((), counts) = measure(|| {
            for _ in 0..N {
                black_box(
                    rt.block_on(store.authentication_view(black_box(id)))
                        .unwrap(),
                );
            }
        });
        eprintln!(
            "cache hit: {} allocations, {} bytes over {N} hits",
            counts.allocations, counts.bytes
        );
        per_hit.push(counts.allocations_per(N));
    }
    assert_eq!(
        per_hit[0], per_hit[1],
        "a hit of a large client allocates more than one of a small client: \
         the cache copies the view"
    );
    assert!(
        per_hit[1] <= CACHE_HIT_CEILING,
        "a cache hit allocates {} times, over the ceiling of {CACHE_HIT_CEILING}",
        per_hit[1]
    );
}
