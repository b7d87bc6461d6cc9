//! `clientcreds-registry` on the in-memory store: `authenticate` and
//! `create` as the number of stored clients grows, one searched list page,
//! and the resident memory each stored client costs.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::print_stderr
)]

use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration as StdDuration, Instant};

use clientcreds_registry::{Actor, Credentials, ListQuery, NewClient, Policy, Registry};
use clientcreds_secret::{PepperKey, SecretHasher, Verification};
use clientcreds_store::{AuditLog, AuditQuery, ClientStore, MemoryStore, TenantId};
use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use time::Duration;
use tokio::runtime::Runtime;

const PEPPER: [u8; 32] = [0x5a; 32];
/// Clients created between two deletions in the `create` benchmark, so the
/// store stays within this many clients of the size it is measured at.
const CREATE_CHUNK: u64 = 100;
/// The search of the list benchmark: matches `svc-9`, `svc-90`..`svc-99`,
/// `svc-900`.., about one name in nine.
const SEARCH: &str = "svc-9";
/// A search no client matches: the list walks every client of the tenant.
const NO_MATCH: &str = "no-such-client";

/// Stored-client counts measured. `cargo bench` passes `--bench`; the
/// single run of `cargo test --all-targets` (a debug build) does not, and
/// uses one small size so that it finishes in seconds.
fn sizes() -> &'static [usize] {
    if full_run() {
        &[1_000, 100_000, 1_000_000]
    } else {
        &[1_000]
    }
}

/// The size the list page and the memory figure are measured at.
fn list_size() -> usize {
    if full_run() { 100_000 } else { 1_000 }
}

/// Resident memory per stored client, printed to stderr: clients created
/// through the registry into a fresh store (each with its create audit
/// record), then the same number of audit records alone.
fn memory_per_client(_: &mut Criterion) {
    let n = list_size();
    let mut fixture = Fixture::new();
    let before = resident_bytes();
    fixture.grow_to(n);
    let per_client = (resident_bytes() - before) as f64 / n as f64;

    // The audit share: the same event appended n times to another store.
    let event = fixture
        .rt
        .block_on(fixture.store.audit(&AuditQuery {
            tenant: fixture.tenant.clone(),
            client_id: None,
            after_seq: None,
            limit: 1,
        }))
        .unwrap()
        .remove(0)
        .event;
    let audit_only = MemoryStore::new();
    let before_audit = resident_bytes();
    for _ in 0..n {
        fixture
            .rt
            .block_on(audit_only.append_audit(event.clone()))
            .unwrap();
    }
    let per_audit = (resident_bytes() - before_audit) as f64 / n as f64;
    eprintln!(
        "registry memory: {n} clients: {per_client:.0} B resident per client \
         (with its create audit record); {n} audit records alone: {per_audit:.0} B each"
    );
}

/// `authenticate`, the store lookup it starts with, and `create`, at each
/// size; the list page at [`list_size`]. One store grows through the sizes.
fn by_size(c: &mut Criterion) {
    let mut fixture = Fixture::new();
    for &n in sizes() {
        let started = Instant::now();
        fixture.grow_to(n);
        eprintln!(
            "registry: grew the store to {n} clients in {:.1?}",
            started.elapsed()
        );
        authenticate(c, &fixture, n);
        create(c, &mut fixture, n);
        if n == list_size() {
            list(c, &fixture, n);
        }
    }
}

/// The same-run baselines: the raw hash check `authenticate` makes, and
/// the cost of driving a ready future on the runtime.
fn baselines(c: &mut Criterion) {
    let mut fixture = Fixture::new();
    fixture.grow_to(1);
    let creds = fixture.first.as_ref().unwrap();
    let record = fixture
        .rt
        .block_on(fixture.store.authentication_view(&creds.client_id))
        .unwrap()
        .unwrap();
    let stored = record
        .secret(creds.secret_id.as_str())
        .unwrap()
        .hash
        .clone();
    let hasher = hasher();
    assert_eq!(
        hasher.verify(&creds.client_secret, &stored).unwrap(),
        Verification::Valid
    );

    let mut group = c.benchmark_group("registry-baseline");
    group.bench_function("hmac_verify", |b| {
        b.iter(|| {
            hasher
                .verify(black_box(&creds.client_secret), black_box(&stored))
                .unwrap()
        });
    });
    group.bench_function("block_on_ready", |b| {
        b.iter(|| fixture.rt.block_on(std::future::ready(black_box(1_u8))));
    });
    group.finish();
}

fn authenticate(c: &mut Criterion, fixture: &Fixture, n: usize) {
    let creds = fixture.first.as_ref().unwrap();
    let auth = || {
        fixture.rt.block_on(
            fixture
                .registry
                .authenticate(black_box(&creds.client_id), black_box(&creds.client_secret)),
        )
    };
    // The first success writes the last-used time; with a one-day
    // interval no later call in the run writes again (steady state).
    assert_eq!(auth().unwrap().client_id(), creds.client_id);

    let mut group = c.benchmark_group("registry-authenticate");
    group.bench_function(BenchmarkId::from_parameter(n), |b| {
        b.iter(|| auth().unwrap());
    });
    group.finish();

    // What authenticate adds to the hash check: the store's lookup, which
    // returns a shared authentication view.
    let mut group = c.benchmark_group("registry-store-lookup");
    group.bench_function(BenchmarkId::from_parameter(n), |b| {
        b.iter(|| {
            fixture
                .rt
                .block_on(
                    fixture
                        .store
                        .authentication_view(black_box(&creds.client_id)),
                )
                .unwrap()
                .unwrap()
        });
    });
    group.finish();
}

/// Creates are timed in chunks of [`CREATE_CHUNK`]; each chunk is deleted,
/// untimed, before the next, so the store stays at `n` to `n + CREATE_CHUNK`
/// clients. Deletes append audit records, so the audit log still grows.
fn create(c: &mut Criterion, fixture: &mut Fixture, n: usize) {
    let mut group = c.benchmark_group("registry-create");
    // ~3 µs a create: a shorter window keeps the audit log (two records
    // per created and deleted client) to a few million records.
    group.warm_up_time(StdDuration::from_secs(1));
    group.measurement_time(StdDuration::from_secs(3));
    let template = client(0);
    group.bench_function(BenchmarkId::from_parameter(n), |b| {
        b.iter_custom(|iters| {
            let mut spent = StdDuration::ZERO;
            let mut left = iters;
            let mut made = Vec::with_capacity(CREATE_CHUNK as usize);
            while left > 0 {
                let chunk = left.min(CREATE_CHUNK);
                let start = Instant::now();
                for _ in 0..chunk {
                    let issued = fixture.rt.block_on(fixture.registry.create(
                        &fixture.admin,
                        &fixture.tenant,
                        black_box(template.clone()),
                    ));
                    made.push(issued.unwrap().credentials.client_id);
                }
                spent += start.elapsed();
                for client_id in made.drain(..) {
                    fixture
                        .rt
                        .block_on(fixture.registry.delete(
                            &fixture.admin,
                            &fixture.tenant,
                            &client_id,
                        ))
                        .unwrap();
                }
                left -= chunk;
            }
            spent
        });
    });
    group.finish();
    assert_eq!(fixture.store_len(), n);
}

/// One page of 50 for a search matching about one name in nine (the scan
/// stops after `svc-939`, ~940 records), and a search matching none.
fn list(c: &mut Criterion, fixture: &Fixture, n: usize) {
    let query = ListQuery::default().search(SEARCH);
    let page = fixture
        .rt
        .block_on(
            fixture
                .registry
                .list(&fixture.admin, &fixture.tenant, query.clone()),
        )
        .unwrap();
    assert_eq!(page.clients.len(), 50);
    assert!(page.next_cursor.is_some());

    let mut group = c.benchmark_group("registry-list");
    group.bench_function(BenchmarkId::new("search_page_50", n), |b| {
        b.iter(|| {
            fixture
                .rt
                .block_on(fixture.registry.list(
                    &fixture.admin,
                    &fixture.tenant,
                    black_box(query.clone()),
                ))
                .unwrap()
        });
    });

    // A search nothing matches walks the whole tenant to fill no page.
    let none = ListQuery::default().search(NO_MATCH);
    let page = fixture
        .rt
        .block_on(
            fixture
                .registry
                .list(&fixture.admin, &fixture.tenant, none.clone()),
        )
        .unwrap();
    assert!(page.clients.is_empty() && page.next_cursor.is_none());
    group.sample_size(10);
    group.bench_function(BenchmarkId::new("search_no_match", n), |b| {
        b.iter(|| {
            fixture
                .rt
                .block_on(fixture.registry.list(
                    &fixture.admin,
                    &fixture.tenant,
                    black_box(none.clone()),
                ))
                .unwrap()
        });
    });
    group.finish();
}

/// One registry on one in-memory store, one tenant, and the credentials
/// of its first client (`svc-0`), the one every `authenticate` presents.
struct Fixture {
    rt: Runtime,
    store: Arc<MemoryStore>,
    registry: Registry,
    tenant: TenantId,
    admin: Actor,
    first: Option<Credentials>,
}

impl Fixture {
    fn new() -> Self {
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let store = Arc::new(MemoryStore::new());
        let policy = Policy::default()
            .with_prefix("acme_")
            .with_last_used_interval(Duration::days(1));
        let registry = Registry::new(store.clone(), hasher(), policy).unwrap();
        let tenant = TenantId::new("tenant-1").unwrap();
        let admin = Actor::tenant_admin(tenant.clone(), "alice");
        Self {
            rt,
            store,
            registry,
            tenant,
            admin,
            first: None,
        }
    }

    /// Creates `svc-{len}` .. `svc-{n - 1}` through the registry.
    fn grow_to(&mut self, n: usize) {
        for i in self.store_len()..n {
            let issued = self
                .rt
                .block_on(self.registry.create(&self.admin, &self.tenant, client(i)))
                .unwrap();
            if i == 0 {
                self.first = Some(issued.credentials);
            }
        }
    }

    fn store_len(&self) -> usize {
        self.store.len()
    }
}

/// A client as an integration would register it: a name, two scopes, an
/// audience.
fn client(i: usize) -> NewClient {
    NewClient::named(format!("svc-{i}"))
        .with_scopes(["invoices:read", "invoices:write"])
        .with_audiences(["https://api.example.com"])
}

fn hasher() -> SecretHasher {
    SecretHasher::hmac_sha256(PepperKey::new("k1", &PEPPER).unwrap()).unwrap()
}

fn full_run() -> bool {
    std::env::args().any(|a| a == "--bench")
}

/// This process's resident set (`VmRSS` of `/proc/self/status`), in bytes.
fn resident_bytes() -> i64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .expect("VmRSS in /proc/self/status");
    let kib: i64 = line
        .trim_start_matches("VmRSS:")
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .unwrap();
    kib * 1024
}

criterion_group!(benches, memory_per_client, baselines, by_size);
criterion_main!(benches);
