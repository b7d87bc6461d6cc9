//! Fault and concurrency tests of the SQL stores under a real `Registry`:
//! many tasks changing the same clients at once, a transaction that fails
//! midway, and time values across all three stores.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::collections::BTreeMap;
use std::sync::Arc;

use clientcreds_registry::{
    Actor, AuthFailure, ClientUpdate, Error, Limits, ManualClock, NewClient, Policy, Registry,
    RotateOptions, SecretLifetime,
};
use clientcreds_secret::Secret;
use clientcreds_store::{
    AuditAction, AuditOutcome, AuditRecord, ClientRecord, MemoryStore, Store, TenantId,
};
use time::{Duration, OffsetDateTime, UtcOffset};

/// Tasks changing and authenticating the same clients at once.
const TASKS: usize = 32;
/// Operations each task makes.
const OPS_PER_TASK: usize = 24;
/// Clients the tasks share.
const CLIENTS: usize = 4;

// ---------------------------------------------------------------- 1. races

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_concurrent_changes_lose_nothing() {
    // 32 tasks over a pool of 16 connections.
    let store = common::postgres_with(16).await;
    concurrent_changes(Arc::new(store)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_concurrent_changes_lose_nothing() {
    // 32 tasks over the file store's 8 connections (WAL, one writer at a time).
    let store = common::sqlite_file().await;
    concurrent_changes(Arc::new(store)).await;
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Rotate,
    Update,
    Revoke,
    Authenticate,
}

/// What one operation returned, reduced to what the checks need.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Outcome {
    Ok,
    Conflict,
    Revoked,
    AuthRevoked,
}

/// The client and operation of task `task` at step `step`. Two thirds of
/// the way through, half the tasks try to revoke (four per client, at
/// once); otherwise a fixed pseudo-random mix spreads rotations (1/4),
/// updates (1/4) and authentications (1/2) over every client.
fn plan(task: usize, step: usize) -> (usize, Op) {
    if step == OPS_PER_TASK * 2 / 3 && task.is_multiple_of(2) {
        return ((task / 2) % CLIENTS, Op::Revoke);
    }
    // splitmix64's finalizer over (task, step): deterministic, well mixed.
    let mut z = (task as u64) << 32 | step as u64;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^= z >> 31;
    let op = match (z >> 8) % 4 {
        0 => Op::Rotate,
        1 => Op::Update,
        _ => Op::Authenticate,
    };
    ((z % CLIENTS as u64) as usize, op)
}

async fn concurrent_changes(store: Arc<dyn Store>) {
    // Every rotation keeps its predecessors in their grace window: room
    // for all of them.
    let policy = Policy::default()
        .with_prefix("acme_")
        .with_limits(Limits::default().with_max_secrets_per_client(TASKS * OPS_PER_TASK + 1));
    let registry = Arc::new(Registry::new(store.clone(), common::hasher(), policy).unwrap());
    let tenant = TenantId::new("tenant-1").unwrap();
    let admin = Actor::tenant_admin(tenant.clone(), "alice");
    let mut clients: Vec<(String, Secret)> = Vec::new();
    for c in 0..CLIENTS {
        let issued = registry
            .create(
                &admin,
                &tenant,
                NewClient::named(format!("svc-{c}")).with_scopes(["read"]),
            )
            .await
            .unwrap();
        clients.push((
            issued.credentials.client_id,
            issued.credentials.client_secret,
        ));
    }
    let clients = Arc::new(clients);

    let mut tasks = Vec::new();
    for task in 0..TASKS {
        let (registry, clients, tenant, admin) = (
            registry.clone(),
            clients.clone(),
            tenant.clone(),
            admin.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let mut results = Vec::with_capacity(OPS_PER_TASK);
            for step in 0..OPS_PER_TASK {
                let (c, op) = plan(task, step);
                let (client_id, secret) = &clients[c];
                let name = format!("svc-{c}-t{task}-s{step}");
                let result = match op {
                    Op::Rotate => registry
                        .rotate(&admin, &tenant, client_id, RotateOptions::default())
                        .await
                        .map(drop),
                    Op::Update => registry
                        .update(
                            &admin,
                            &tenant,
                            client_id,
                            ClientUpdate::default().name(&name),
                        )
                        .await
                        .map(drop),
                    Op::Revoke => registry.revoke(&admin, &tenant, client_id).await.map(drop),
                    Op::Authenticate => registry.authenticate(client_id, secret).await.map(drop),
                };
                let outcome = match (op, result) {
                    (_, Ok(())) => Outcome::Ok,
                    (Op::Rotate | Op::Update | Op::Revoke, Err(Error::Conflict)) => {
                        Outcome::Conflict
                    }
                    (Op::Rotate | Op::Update | Op::Revoke, Err(Error::Revoked)) => Outcome::Revoked,
                    (Op::Authenticate, Err(Error::Authentication(AuthFailure::Revoked))) => {
                        Outcome::AuthRevoked
                    }
                    (op, Err(e)) => panic!("task {task} step {step}: {op:?} failed: {e:?}"),
                };
                results.push((c, op, name, outcome));
            }
            results
        }));
    }
    let mut results = Vec::new();
    for task in tasks {
        results.extend(task.await.unwrap());
    }

    let ok = |c: usize, op: Op| {
        results
            .iter()
            .filter(|(rc, rop, _, out)| *rc == c && *rop == op && *out == Outcome::Ok)
            .count()
    };
    let conflicts = results.iter().filter(|r| r.3 == Outcome::Conflict).count();
    // Retries exhausted under this much contention should stay rare.
    assert!(
        conflicts * 10 < results.len(),
        "{conflicts} of {} operations gave up",
        results.len()
    );

    for (c, (client_id, _)) in clients.iter().enumerate() {
        let (rotated, updated, revoked) = (ok(c, Op::Rotate), ok(c, Op::Update), ok(c, Op::Revoke));
        assert!(
            ok(c, Op::Authenticate) > 0,
            "svc-{c}: no authentication succeeded"
        );
        let record = store.client(&tenant, client_id).await.unwrap().unwrap();

        // No lost update: every successful change bumped the version once.
        let changes = rotated + updated + revoked;
        assert_eq!(
            record.version,
            1 + changes as u64,
            "svc-{c}: version after {changes} changes"
        );
        // No lost secret: each rotation added one, none is pruned within
        // the 7-day grace window.
        assert_eq!(
            record.secrets.len(),
            1 + rotated,
            "svc-{c}: secrets after {rotated} rotations"
        );
        assert!(revoked <= 1, "svc-{c}: {revoked} revocations succeeded");
        assert_eq!(
            record.status == clientcreds_store::ClientStatus::Revoked,
            revoked == 1,
            "svc-{c}: status {:?} after {revoked} successful revocations",
            record.status
        );
        if revoked == 1 {
            assert!(
                record.secrets.iter().all(|s| s.revoked_at.is_some()),
                "svc-{c}: a secret escaped revocation"
            );
        }
        // The name is the one of some successful update.
        let names: Vec<&String> = results
            .iter()
            .filter(|(rc, op, _, out)| *rc == c && *op == Op::Update && *out == Outcome::Ok)
            .map(|r| &r.2)
            .collect();
        assert!(
            names.contains(&&record.name) || (updated == 0 && record.name == format!("svc-{c}")),
            "svc-{c}: name {:?} is no successful update's",
            record.name
        );

        // Exactly one audit record per change: a success for each Ok, a
        // refusal (with its reason) for each Conflict or Revoked answer.
        let audit = all_audit(&registry, &admin, &tenant, client_id).await;
        let mut recorded: BTreeMap<String, usize> = BTreeMap::new();
        for record in &audit {
            let outcome = match &record.event.outcome {
                AuditOutcome::Success => "success".to_owned(),
                AuditOutcome::Refused { reason } => format!("refused:{reason}"),
            };
            *recorded
                .entry(format!("{:?} {outcome}", record.event.action))
                .or_default() += 1;
        }
        let mut expected: BTreeMap<String, usize> =
            BTreeMap::from([("Create success".to_owned(), 1)]);
        for (rc, op, _, outcome) in &results {
            let action = match op {
                _ if *rc != c => continue,
                Op::Authenticate => continue,
                Op::Rotate => AuditAction::Rotate,
                Op::Update => AuditAction::Update,
                Op::Revoke => AuditAction::Revoke,
            };
            let outcome = match outcome {
                Outcome::Ok => "success",
                Outcome::Conflict => "refused:conflict",
                Outcome::Revoked => "refused:revoked",
                Outcome::AuthRevoked => unreachable!(),
            };
            *expected.entry(format!("{action:?} {outcome}")).or_default() += 1;
        }
        assert_eq!(recorded, expected, "svc-{c}: audit records against results");
    }
}

async fn all_audit(
    registry: &Registry,
    admin: &Actor,
    tenant: &TenantId,
    client_id: &str,
) -> Vec<AuditRecord> {
    let mut all: Vec<AuditRecord> = Vec::new();
    loop {
        let after = all.last().map(|r| r.seq);
        let page = registry
            .audit(admin, tenant, Some(client_id), after, 500)
            .await
            .unwrap();
        let done = page.len() < 500;
        all.extend(page);
        if done {
            return all;
        }
    }
}

// ---------------------------------------------- 2. a failure midway leaves nothing

const PG_FAIL_AUDIT: &str = "CREATE FUNCTION clientcreds_forced_failure() RETURNS trigger \
     LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'forced'; END $$";
const PG_FAIL_TRIGGER: &str = "CREATE TRIGGER clientcreds_forced_failure BEFORE INSERT ON \
     clientcreds_audit FOR EACH ROW EXECUTE FUNCTION clientcreds_forced_failure()";
const SQLITE_FAIL_TRIGGER: &str = "CREATE TRIGGER clientcreds_forced_failure BEFORE INSERT ON \
     clientcreds_audit BEGIN SELECT RAISE(ABORT, 'forced'); END";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_failed_transaction_leaves_nothing() {
    let store = common::postgres().await;
    let pool = store.pool().clone();
    let count = |table: &'static str| {
        let pool = pool.clone();
        async move {
            let n: i64 = sqlx::query_scalar(&format!("SELECT count(*) FROM {table}"))
                .fetch_one(&pool)
                .await
                .unwrap();
            n
        }
    };
    let install = || async {
        // The pool's search_path is this test's schema: the function and
        // trigger live there and touch no other test.
        sqlx::query(PG_FAIL_AUDIT)
            .execute(store.pool())
            .await
            .unwrap();
        sqlx::query(PG_FAIL_TRIGGER)
            .execute(store.pool())
            .await
            .unwrap();
    };
    failed_transaction(Arc::new(store.clone()), install, count).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_file_failed_transaction_leaves_nothing() {
    let store = common::sqlite_file().await;
    sqlite_failed_transaction(store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_memory_failed_transaction_leaves_nothing() {
    let store = common::sqlite_memory().await;
    sqlite_failed_transaction(store).await;
}

async fn sqlite_failed_transaction(store: clientcreds_sqlx::SqliteStore) {
    let pool = store.pool().clone();
    let count = |table: &'static str| {
        let pool = pool.clone();
        async move {
            let n: i64 = sqlx::query_scalar(&format!("SELECT count(*) FROM {table}"))
                .fetch_one(&pool)
                .await
                .unwrap();
            n
        }
    };
    let install = || async {
        sqlx::query(SQLITE_FAIL_TRIGGER)
            .execute(store.pool())
            .await
            .unwrap();
    };
    failed_transaction(Arc::new(store.clone()), install, count).await;
}

/// With a trigger that makes every audit insert fail (the last statement
/// of each commit), every change fails as a store error after its client
/// and secret writes ran, and none of those writes remains.
async fn failed_transaction<I, IF, C, CF>(store: Arc<dyn Store>, install: I, count: C)
where
    I: FnOnce() -> IF,
    IF: Future<Output = ()>,
    C: Fn(&'static str) -> CF,
    CF: Future<Output = i64>,
{
    let registry = common::registry(store.clone());
    let tenant = TenantId::new("tenant-1").unwrap();
    let admin = Actor::tenant_admin(tenant.clone(), "alice");
    let issued = registry
        .create(
            &admin,
            &tenant,
            NewClient::named("svc-kept").with_scopes(["read"]),
        )
        .await
        .unwrap();
    let kept = issued.credentials.client_id.clone();
    let before = store.client(&tenant, &kept).await.unwrap().unwrap();
    let tables = [
        "clientcreds_clients",
        "clientcreds_secrets",
        "clientcreds_audit",
    ];
    let mut counts = Vec::new();
    for table in tables {
        counts.push(count(table).await);
    }
    assert_eq!(counts, [1, 1, 1]);

    install().await;

    // Each call fails as a store error at its audit insert, after its own
    // writes ran; after each, every table and the kept client are as before.
    let unchanged = async |what: &str| {
        let mut now = Vec::new();
        for table in tables {
            now.push(count(table).await);
        }
        assert_eq!(now, counts, "{what}: rows of {tables:?}");
        let record = store.client(&tenant, &kept).await.unwrap();
        assert_eq!(record.as_ref(), Some(&before), "{what}: the kept client");
    };
    // create: the client and secret inserts ran.
    let created = registry
        .create(
            &admin,
            &tenant,
            NewClient::named("svc-lost").with_scopes(["read"]),
        )
        .await;
    assert!(
        matches!(created, Err(Error::Store(_))),
        "create: {created:?}"
    );
    unchanged("create").await;
    // update: the conditional UPDATE, the secrets' DELETE and re-INSERT ran.
    let update = ClientUpdate::default().name("renamed").scopes(["write"]);
    let updated = registry.update(&admin, &tenant, &kept, update).await;
    assert!(
        matches!(updated, Err(Error::Store(_))),
        "update: {updated:?}"
    );
    unchanged("update").await;
    // rotate: a second secret inserted, the first given a grace window.
    let rotated = registry
        .rotate(&admin, &tenant, &kept, RotateOptions::default())
        .await;
    assert!(
        matches!(rotated, Err(Error::Store(_))),
        "rotate: {rotated:?}"
    );
    unchanged("rotate").await;
    let revoked = registry.revoke(&admin, &tenant, &kept).await;
    assert!(
        matches!(revoked, Err(Error::Store(_))),
        "revoke: {revoked:?}"
    );
    unchanged("revoke").await;
    // delete: the client row and, by cascade, its secrets were deleted.
    let deleted = registry.delete(&admin, &tenant, &kept).await;
    assert!(
        matches!(deleted, Err(Error::Store(_))),
        "delete: {deleted:?}"
    );
    unchanged("delete").await;

    // And it still authenticates with its secret.
    registry
        .authenticate(&kept, &issued.credentials.client_secret)
        .await
        .unwrap();
}

// ------------------------------------------------- 4. time values round-trip

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn time_values_round_trip_across_stores() {
    let instants = [
        // A microsecond-precision instant in UTC.
        OffsetDateTime::from_unix_timestamp_nanos(1_781_234_567_891_234_000).unwrap(),
        // The same kind of instant given with an offset: stored as an
        // instant, compared as one.
        OffsetDateTime::from_unix_timestamp_nanos(1_700_000_000_000_001_000)
            .unwrap()
            .to_offset(UtcOffset::from_hms(5, 30, 0).unwrap()),
        // Before the epoch: negative microseconds.
        OffsetDateTime::from_unix_timestamp_nanos(-14_182_940_999_999_000).unwrap(),
    ];
    for start in instants {
        let pg = store_times(Arc::new(common::postgres().await), start).await;
        let sqlite = store_times(Arc::new(common::sqlite_file().await), start).await;
        let memory = store_times(Arc::new(MemoryStore::new()), start).await;
        assert_eq!(pg, memory, "PostgreSQL against memory, from {start}");
        assert_eq!(sqlite, memory, "SQLite against memory, from {start}");
        assert_eq!(
            memory,
            expected_times(start),
            "memory against the clock, from {start}"
        );
    }
}

/// Every time value of a client, its two secrets and its two audit records.
type Times = Vec<(&'static str, Option<OffsetDateTime>)>;

/// The clock steps of [`store_times`].
fn steps(start: OffsetDateTime) -> (OffsetDateTime, OffsetDateTime) {
    let rotated = start + Duration::hours(1) + Duration::microseconds(1);
    let used = rotated + Duration::minutes(3) + Duration::microseconds(999_999);
    (rotated, used)
}

const LIFETIME: Duration = Duration::new(90 * 86_400, 7_000);
const GRACE: Duration = Duration::new(2 * 3_600, 999_000);

/// Creates a client at `start` with an expiring secret, rotates it an hour
/// later (a second secret, a grace window for the first), and
/// authenticates with the first secret (last-used times); then reads every
/// instant back from the store.
async fn store_times(store: Arc<dyn Store>, start: OffsetDateTime) -> Times {
    let clock = Arc::new(ManualClock::new(start));
    let registry = Registry::new(
        store.clone(),
        common::hasher(),
        Policy::default().with_prefix("acme_"),
    )
    .unwrap()
    .with_clock(clock.clone());
    let tenant = TenantId::new("tenant-1").unwrap();
    let admin = Actor::tenant_admin(tenant.clone(), "alice");
    let new = NewClient::named("svc").with_secret_lifetime(SecretLifetime::After(LIFETIME));
    let issued = registry.create(&admin, &tenant, new).await.unwrap();
    assert_eq!(issued.client.created_at, start);
    let creds = issued.credentials;
    let (rotated, used) = steps(start);
    clock.set(rotated);
    let options = RotateOptions::default()
        .grace(GRACE)
        .secret_lifetime(SecretLifetime::After(LIFETIME));
    registry
        .rotate(&admin, &tenant, &creds.client_id, options)
        .await
        .unwrap();
    clock.set(used);
    registry
        .authenticate(&creds.client_id, &creds.client_secret)
        .await
        .unwrap();

    let record: ClientRecord = store
        .client(&tenant, &creds.client_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(record.secrets.len(), 2);
    let (first, second) = (&record.secrets[0], &record.secrets[1]);
    let audit = all_audit(&registry, &admin, &tenant, &creds.client_id).await;
    assert_eq!(audit.len(), 2);
    vec![
        ("client.created_at", Some(record.created_at)),
        ("client.updated_at", Some(record.updated_at)),
        ("client.last_used_at", record.last_used_at),
        ("client.grace_until", record.grace_until),
        ("first.created_at", Some(first.created_at)),
        ("first.expires_at", first.expires_at),
        ("first.grace_until", first.grace_until),
        ("first.last_used_at", first.last_used_at),
        ("first.revoked_at", first.revoked_at),
        ("second.created_at", Some(second.created_at)),
        ("second.expires_at", second.expires_at),
        ("second.last_used_at", second.last_used_at),
        ("audit.create", Some(audit[0].event.at)),
        ("audit.rotate", Some(audit[1].event.at)),
    ]
}

fn expected_times(start: OffsetDateTime) -> Times {
    let (rotated, used) = steps(start);
    vec![
        ("client.created_at", Some(start)),
        ("client.updated_at", Some(rotated)),
        ("client.last_used_at", Some(used)),
        ("client.grace_until", None),
        ("first.created_at", Some(start)),
        ("first.expires_at", Some(start + LIFETIME)),
        ("first.grace_until", Some(rotated + GRACE)),
        ("first.last_used_at", Some(used)),
        ("first.revoked_at", None),
        ("second.created_at", Some(rotated)),
        ("second.expires_at", Some(rotated + LIFETIME)),
        ("second.last_used_at", None),
        ("audit.create", Some(start)),
        ("audit.rotate", Some(rotated)),
    ]
}

// ----------------------------- the in-memory SQLite store keeps its database

/// An in-memory SQLite database lives exactly as long as its one
/// connection. sqlx pools close idle connections after 10 minutes and
/// every connection after 30 by default; the next call then opened a
/// fresh, empty database (`no such table: clientcreds_clients`), losing
/// every client. The store's pool must never close that connection.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_memory_pool_never_closes_its_connection() {
    let store = common::sqlite_memory().await;
    let options = store.pool().options();
    assert_eq!(options.get_max_connections(), 1);
    assert_eq!(options.get_idle_timeout(), None);
    assert_eq!(options.get_max_lifetime(), None);
    // A file database is not affected and keeps sqlx's defaults.
    let file = common::sqlite_file().await;
    assert!(file.pool().options().get_idle_timeout().is_some());
}
