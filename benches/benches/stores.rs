//! The three stores under the same registry, in one process: PostgreSQL
//! (`DATABASE_URL`), SQLite (a file) and the in-memory store; and
//! PostgreSQL as the reference server runs it (`postgres-cached`: the
//! authentication cache with its invalidation listener, and the batched
//! activity writer). Token
//! exchanges per second at 1, 8 and 32 concurrent tasks, creates per second
//! at 1 and 8 tasks, and one searched list page of 50 (plus a search that
//! matches nothing) at 100k clients.
//!
//! Run it under `scripts/with-postgres.sh`, which starts a throwaway
//! PostgreSQL and sets `DATABASE_URL`; without it this file panics, in
//! bench and test mode alike (`scripts/test.sh` runs the test mode under
//! that script).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::print_stderr
)]

use std::collections::BTreeMap;
use std::hint::black_box;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration as StdDuration, Instant};

use clientcreds_jwt::{Algorithm, KeySet, SigningKey, TokenIssuer};
use clientcreds_registry::{
    ActivityWriterOptions, Actor, BatchedActivity, ExchangeRequest, ListQuery, NewClient, Policy,
    Registry, TokenService,
};
use clientcreds_secret::{CredentialFormat, PepperKey, Secret, SecretHasher};
use clientcreds_sqlx::{PgStore, SqliteStore};
use clientcreds_store::{
    AuditAction, AuditActor, AuditEvent, AuditOutcome, AuthCache, CachedStore, ClientRecord,
    ClientStatus, Commit, MemoryStore, SecretRecord, Store, TenantId, Write,
};
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use time::{Duration, OffsetDateTime};
use tokio::runtime::Runtime;

const ISSUER: &str = "https://auth.example.com";
const API: &str = "https://api.example.com";
const SCOPES: [&str; 2] = ["invoices:read", "invoices:write"];
const PEPPER: [u8; 32] = [0x5a; 32];
const PREFIX: &str = "acme_";
/// Concurrent tasks of the exchange benchmark; each presents its own client.
const EXCHANGE_TASKS: [usize; 3] = [1, 8, 32];
/// Concurrent tasks of the create benchmark.
const CREATE_TASKS: [usize; 2] = [1, 8];
/// Clients per bulk-load commit (one transaction on the SQL stores).
const BULK: usize = 1_000;
/// The list search: `svc-9`, `svc-90`..`svc-99`, `svc-900`..: about one
/// name in nine; a page of 50 walks the first ~940 clients.
const SEARCH: &str = "svc-9";
/// A search nothing matches: the list walks every client of the tenant.
const NO_MATCH: &str = "no-such-client";
/// The PostgreSQL pool: the size `PgStore::connect` uses.
const PG_CONNECTIONS: u32 = 16;

/// Clients loaded into each store before anything is measured.
/// `cargo bench` passes `--bench`; the single pass of `cargo test
/// --all-targets` (a debug build) does not, and loads a few hundred so
/// that it finishes in seconds.
/// `CLIENTCREDS_BENCH_POPULATION` overrides it (the exchange does not
/// depend on it; a smaller load makes a quick exchange-only run quicker).
fn population() -> usize {
    let set = std::env::var("CLIENTCREDS_BENCH_POPULATION")
        .ok()
        .and_then(|n| n.parse().ok());
    set.unwrap_or(if full_run() { 100_000 } else { 300 })
}

fn stores(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let url = database_url();
    let schema = format!("cc_bench_{}", std::process::id());
    let sqlite_path = std::env::temp_dir().join(format!("{schema}.db"));

    let memory: Arc<dyn Store> = Arc::new(MemoryStore::new());
    let sqlite: Arc<dyn Store> = Arc::new(rt.block_on(sqlite_store(&sqlite_path)));
    let postgres: Arc<dyn Store> = Arc::new(rt.block_on(postgres_store(&url, &schema)));
    let cached_schema = format!("{schema}_cached");
    let (postgres_cached, writer, _listener) = rt.block_on(async {
        let store = postgres_store(&url, &cached_schema).await;
        let cache = Arc::new(AuthCache::default());
        let listener = store.spawn_invalidation_listener(cache.clone());
        while !cache.is_available() {
            tokio::time::sleep(StdDuration::from_millis(5)).await;
        }
        let cached: Arc<dyn Store> = Arc::new(CachedStore::new(store, cache));
        let writer = BatchedActivity::spawn(cached, ActivityWriterOptions::default());
        (writer.clone() as Arc<dyn Store>, writer, listener)
    });
    let only = std::env::var("CLIENTCREDS_BENCH_STORES").ok();
    for (name, store) in [
        ("memory", memory),
        ("sqlite", sqlite),
        ("postgres", postgres),
        ("postgres-cached", postgres_cached),
    ] {
        if only
            .as_deref()
            .is_some_and(|only| !only.split(',').any(|o| o == name))
        {
            continue;
        }
        let fixture = Fixture::new(&rt, name, store);
        exchange(c, &rt, &fixture);
        create(c, &rt, &fixture);
        list(c, &rt, &fixture);
    }

    rt.block_on(async {
        writer.close().await;
        let stats = writer.stats();
        eprintln!("stores: postgres-cached activity writer: {stats:?}");
        let admin = PgPoolOptions::new()
            .max_connections(1)
            .connect(&url)
            .await
            .unwrap();
        for schema in [&schema, &cached_schema] {
            sqlx::query(&format!("DROP SCHEMA {schema} CASCADE"))
                .execute(&admin)
                .await
                .unwrap();
        }
    });
    for suffix in ["", "-wal", "-shm"] {
        let mut path = sqlite_path.clone().into_os_string();
        path.push(suffix);
        let _ = std::fs::remove_file(path);
    }
}

/// Token exchanges (authenticate, scope and audience checks, an EdDSA
/// signature, the activity-log append) with `tasks` tasks at once, each
/// presenting its own client. One iteration is one exchange per task, so
/// criterion's throughput is exchanges per second.
fn exchange(c: &mut Criterion, rt: &Runtime, fixture: &Fixture) {
    let mut group = c.benchmark_group("stores-exchange");
    for tasks in EXCHANGE_TASKS {
        group.throughput(Throughput::Elements(tasks as u64));
        group.bench_function(BenchmarkId::new(fixture.name, tasks), |b| {
            b.iter_custom(|iters| rt.block_on(exchanges(fixture, tasks, iters)));
        });
    }
    group.finish();
}

async fn exchanges(fixture: &Fixture, tasks: usize, iters: u64) -> StdDuration {
    let started = Instant::now();
    let handles: Vec<_> = (0..tasks)
        .map(|task| {
            let service = fixture.service.clone();
            let (client_id, secret) = fixture.exchange_clients[task].clone();
            tokio::spawn(async move {
                for _ in 0..iters {
                    let request = ExchangeRequest::client_credentials(
                        client_id.clone(),
                        Secret::from(secret.as_str()),
                    );
                    black_box(service.exchange(request).await.unwrap());
                }
            })
        })
        .collect();
    for handle in handles {
        handle.await.unwrap();
    }
    started.elapsed()
}

/// `Registry::create` with `tasks` tasks at once; one iteration is one
/// create per task. The clients made in a sample are deleted, untimed,
/// before the next, so the store stays at its size.
fn create(c: &mut Criterion, rt: &Runtime, fixture: &Fixture) {
    let mut group = c.benchmark_group("stores-create");
    for tasks in CREATE_TASKS {
        group.throughput(Throughput::Elements(tasks as u64));
        group.bench_function(BenchmarkId::new(fixture.name, tasks), |b| {
            b.iter_custom(|iters| rt.block_on(creates(fixture, tasks, iters)));
        });
    }
    group.finish();
}

async fn creates(fixture: &Fixture, tasks: usize, iters: u64) -> StdDuration {
    let started = Instant::now();
    let handles: Vec<_> = (0..tasks)
        .map(|_| {
            let registry = fixture.registry.clone();
            let (admin, tenant) = (fixture.admin.clone(), fixture.tenant.clone());
            tokio::spawn(async move {
                let mut made = Vec::with_capacity(iters as usize);
                for _ in 0..iters {
                    let new = NewClient::named("created")
                        .with_scopes(SCOPES)
                        .with_audiences([API]);
                    let issued = registry.create(&admin, &tenant, new).await.unwrap();
                    made.push(issued.credentials.client_id);
                }
                made
            })
        })
        .collect();
    let mut made = Vec::new();
    for handle in handles {
        made.push(handle.await.unwrap());
    }
    let spent = started.elapsed();
    // Untimed: delete them again, as many tasks at once.
    let deletions: Vec<_> = made
        .into_iter()
        .map(|ids| {
            let registry = fixture.registry.clone();
            let (admin, tenant) = (fixture.admin.clone(), fixture.tenant.clone());
            tokio::spawn(async move {
                for id in ids {
                    registry.delete(&admin, &tenant, &id).await.unwrap();
                }
            })
        })
        .collect();
    for deletion in deletions {
        deletion.await.unwrap();
    }
    spent
}

/// One page of 50 for [`SEARCH`], and a search matching nothing.
fn list(c: &mut Criterion, rt: &Runtime, fixture: &Fixture) {
    let n = population();
    let query = ListQuery::default().search(SEARCH);
    let run = |query: ListQuery| {
        rt.block_on(
            fixture
                .registry
                .list(&fixture.admin, &fixture.tenant, query),
        )
        .unwrap()
    };
    let matching = (0..n)
        .filter(|i| format!("svc-{i}").contains(SEARCH))
        .count();
    let page = run(query.clone());
    assert_eq!(page.clients.len(), matching.min(50));
    assert_eq!(page.next_cursor.is_some(), matching > 50);
    assert!(page.clients.iter().all(|v| v.name.contains(SEARCH)));
    let none = ListQuery::default().search(NO_MATCH);
    assert!(run(none.clone()).clients.is_empty());

    let mut group = c.benchmark_group("stores-list");
    group.bench_function(
        BenchmarkId::new(format!("search_page_50-{}", fixture.name), n),
        |b| b.iter(|| run(black_box(query.clone()))),
    );
    group.sample_size(10);
    group.bench_function(
        BenchmarkId::new(format!("search_no_match-{}", fixture.name), n),
        |b| b.iter(|| run(black_box(none.clone()))),
    );
    group.finish();
}

/// One store with [`population`] clients, a registry and a token service
/// on it, and the credentials of the clients the exchange tasks present.
struct Fixture {
    name: &'static str,
    registry: Arc<Registry>,
    service: Arc<TokenService>,
    tenant: TenantId,
    admin: Actor,
    /// One (client id, secret text) per exchange task.
    exchange_clients: Vec<(String, String)>,
}

impl Fixture {
    fn new(rt: &Runtime, name: &'static str, store: Arc<dyn Store>) -> Self {
        let tenant = TenantId::new("tenant-1").unwrap();
        let admin = Actor::tenant_admin(tenant.clone(), "alice");
        // A one-day last-used interval: each client's first exchange writes
        // its last-used time, and no measured exchange does (steady state).
        let policy = Policy::default()
            .with_prefix(PREFIX)
            .with_last_used_interval(Duration::days(1));
        let registry = Arc::new(Registry::new(store.clone(), hasher(), policy).unwrap());
        let keys = Arc::new(KeySet::new(SigningKey::generate(Algorithm::EdDSA).unwrap()));
        let service = Arc::new(TokenService::new(
            registry.clone(),
            TokenIssuer::new(keys, ISSUER),
            API,
        ));

        let n = population();
        let started = Instant::now();
        rt.block_on(bulk_load(store.as_ref(), &tenant, n));
        eprintln!(
            "stores: loaded {n} clients into {name} in {:.1?} ({BULK} per commit)",
            started.elapsed()
        );

        let max_tasks = EXCHANGE_TASKS.into_iter().max().unwrap();
        let exchange_clients = rt.block_on(async {
            let mut clients = Vec::new();
            for task in 0..max_tasks {
                let new = NewClient::named(format!("exchange-{task}"))
                    .with_scopes(SCOPES)
                    .with_audiences([API]);
                let issued = registry.create(&admin, &tenant, new).await.unwrap();
                let credentials = issued.credentials;
                let secret = credentials.client_secret.expose_secret().to_owned();
                // The first exchange writes the last-used time.
                let request = ExchangeRequest::client_credentials(
                    credentials.client_id.clone(),
                    Secret::from(secret.as_str()),
                );
                let response = service.exchange(request).await.unwrap();
                assert_eq!(response.scope, SCOPES.join(" "));
                clients.push((credentials.client_id, secret));
            }
            clients
        });
        Self {
            name,
            registry,
            service,
            tenant,
            admin,
            exchange_clients,
        }
    }
}

/// Inserts `svc-0` .. `svc-{n-1}` through the store's `commit`, [`BULK`]
/// prebuilt records per commit with one audit record each: far faster
/// than one registry create (one transaction) per client. Each record is
/// what `Registry::create` builds: a generated id, two scopes, one
/// audience, one HMAC-hashed secret; creation times one microsecond
/// apart, so the creation order is `svc-0`, `svc-1`, ...
async fn bulk_load(store: &dyn Store, tenant: &TenantId, n: usize) {
    let format = CredentialFormat::new(PREFIX).unwrap();
    let hasher = hasher();
    let base = OffsetDateTime::now_utc() - Duration::days(1);
    let base = base.replace_nanosecond(0).unwrap();
    let mut next = 0;
    while next < n {
        let end = (next + BULK).min(n);
        let event = AuditEvent {
            at: base,
            actor: AuditActor::System,
            tenant: tenant.clone(),
            client_id: None,
            action: AuditAction::Create,
            outcome: AuditOutcome::Success,
            detail: Some(format!("bulk load svc-{next}..svc-{}", end - 1)),
        };
        let mut commit = Commit::new(event);
        for i in next..end {
            let at = base + Duration::microseconds(i as i64);
            let issued = format.generate_secret().unwrap();
            let secret = SecretRecord {
                secret_id: issued.secret_id().as_str().to_owned(),
                hash: hasher.hash(issued.secret()).unwrap(),
                display_prefix: issued.display_prefix().to_owned(),
                label: "initial".to_owned(),
                created_at: at,
                expires_at: None,
                grace_until: None,
                revoked_at: None,
                last_used_at: None,
                warning_due: None,
                public_jwk: None,
            };
            commit = commit.with(Write::Insert(ClientRecord {
                tenant: tenant.clone(),
                client_id: format.generate_client_id().unwrap().into_string(),
                name: format!("svc-{i}"),
                description: String::new(),
                owner: None,
                created_by: "alice".to_owned(),
                scopes: SCOPES.map(str::to_owned).to_vec(),
                audiences: vec![API.to_owned()],
                extra_claims: BTreeMap::new(),
                token_lifetime_secs: None,
                status: ClientStatus::Active,
                grace_until: None,
                replaced_by: None,
                created_at: at,
                updated_at: at,
                last_used_at: None,
                version: 1,
                auth: Default::default(),
                secrets: vec![secret],
            }));
        }
        store.commit(commit).await.unwrap();
        next = end;
    }
}

/// A migrated store in a fresh schema of its own, on a pool of
/// [`PG_CONNECTIONS`] (what `PgStore::connect` opens).
async fn postgres_store(url: &str, schema: &str) -> PgStore {
    let admin = PgPoolOptions::new()
        .max_connections(1)
        .connect(url)
        .await
        .expect("connect to DATABASE_URL");
    sqlx::query(&format!("CREATE SCHEMA {schema}"))
        .execute(&admin)
        .await
        .unwrap();
    admin.close().await;
    let options: PgConnectOptions = url.parse().expect("DATABASE_URL");
    let options = options.options([("search_path", schema)]);
    let pool = PgPoolOptions::new()
        .max_connections(PG_CONNECTIONS)
        .test_before_acquire(false)
        .connect_with(options)
        .await
        .unwrap();
    let store = PgStore::from_pool(pool);
    store.migrate().await.unwrap();
    store
}

/// A migrated store in a new file (WAL, `SqliteStore::connect`'s settings).
async fn sqlite_store(path: &Path) -> SqliteStore {
    let store = SqliteStore::connect(&format!("sqlite://{}", path.display()))
        .await
        .unwrap();
    store.migrate().await.unwrap();
    store
}

fn database_url() -> String {
    std::env::var("DATABASE_URL").unwrap_or_else(|_| {
        panic!(
            "DATABASE_URL is not set: run `scripts/with-postgres.sh cargo bench -p \
             clientcreds-benches --bench stores` (scripts/test.sh runs the test mode \
             under that script)"
        )
    })
}

fn hasher() -> SecretHasher {
    SecretHasher::hmac_sha256(PepperKey::new("k1", &PEPPER).unwrap()).unwrap()
}

fn full_run() -> bool {
    std::env::args().any(|a| a == "--bench")
}

criterion_group!(benches, stores);
criterion_main!(benches);
