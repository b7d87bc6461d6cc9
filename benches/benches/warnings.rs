//! `WarningRunner::run_due` over 100,000 clients with 1% due, on the
//! in-memory store and on PostgreSQL (`DATABASE_URL`; run under
//! `scripts/with-postgres.sh`): time per run, and the rows read and store
//! calls per run, which must track the due warnings, not the clients.
//!
//! Each measured run starts from the same state: 1,000 secrets due, one
//! recipient each, nothing in the ledger. Resetting (untimed) re-creates
//! the in-memory store and, on PostgreSQL, puts the due instants back and
//! empties the ledger. In test mode (`cargo test`) 2,000 clients are used.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::print_stderr
)]

use std::sync::Arc;
use std::time::{Duration as StdDuration, Instant};

use async_trait::async_trait;
use clientcreds_registry::Error;
use clientcreds_registry::warnings::{
    Contact, Directory, Notification, Notifier, RunReport, WarningConfig, WarningRunner,
};
use clientcreds_secret::SecretHash;
use clientcreds_sqlx::PgStore;
use clientcreds_store::{
    AuditAction, AuditActor, AuditEvent, AuditOutcome, ClientRecord, ClientStatus, Commit,
    MemoryStore, SecretRecord, Store, TenantId, WarningLedger, Write,
};
use criterion::{Criterion, SamplingMode, criterion_group, criterion_main};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use time::{Duration, OffsetDateTime};
use tokio::runtime::Runtime;

const DUE_EVERY: usize = 100;

#[derive(Debug)]
struct Users;

#[async_trait]
impl Directory for Users {
    async fn contact(&self, user_id: &str) -> Result<Option<Contact>, Error> {
        Ok(Some(Contact::new(
            user_id,
            "ops@example.com",
            user_id,
            "en",
        )))
    }
}

/// Accepts every message (the notifier's own cost is the host's).
#[derive(Debug)]
struct Accept;

#[async_trait]
impl Notifier for Accept {
    async fn notify(&self, _: &Notification) -> Result<(), Error> {
        Ok(())
    }
}

fn clients() -> usize {
    if std::env::args().any(|a| a == "--bench") {
        100_000
    } else {
        2_000
    }
}

fn now() -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(1_800_000_000).unwrap()
}

fn record(tenant: &TenantId, i: usize) -> ClientRecord {
    let created = now() - Duration::days(20);
    let expires = now() + Duration::days(7) - Duration::hours(1);
    // One in a hundred is due (its 7-day stage passed an hour ago); the
    // others' next warning is six days away.
    let due = if i.is_multiple_of(DUE_EVERY) {
        stage_7(expires)
    } else {
        now() + Duration::days(6)
    };
    ClientRecord {
        tenant: tenant.clone(),
        client_id: format!("cc_bench_{i:07}"),
        name: format!("svc-{i}"),
        description: String::new(),
        owner: None,
        // One recipient per client: the per-recipient limit (50 a day)
        // would otherwise hold back all but 50.
        created_by: format!("ops-{i}"),
        scopes: Vec::new(),
        audiences: Vec::new(),
        extra_claims: Default::default(),
        token_lifetime_secs: None,
        status: ClientStatus::Active,
        grace_until: None,
        replaced_by: None,
        created_at: created,
        updated_at: created,
        last_used_at: None,
        version: 1,
        auth: Default::default(),
        secrets: vec![SecretRecord {
            secret_id: format!("S{i:07}"),
            hash: SecretHash::from_stored("hmac-sha256$v1$k1$AAAA"),
            display_prefix: format!("cc_secret_S{i:07}"),
            label: "initial".to_owned(),
            created_at: created,
            expires_at: Some(expires),
            grace_until: None,
            revoked_at: None,
            last_used_at: None,
            warning_due: Some(due),
            public_jwk: None,
        }],
    }
}

fn stage_7(expires: OffsetDateTime) -> OffsetDateTime {
    expires - Duration::days(7)
}

async fn load(store: &dyn Store, count: usize) {
    let tenant = TenantId::new("bench").unwrap();
    for chunk in (0..count).collect::<Vec<_>>().chunks(1_000) {
        let event = AuditEvent {
            at: now(),
            tenant: tenant.clone(),
            actor: AuditActor::System,
            client_id: None,
            action: AuditAction::Create,
            outcome: AuditOutcome::Success,
            detail: None,
        };
        let commit = chunk.iter().fold(Commit::new(event), |c, i| {
            c.with(Write::Insert(record(&tenant, *i)))
        });
        store.commit(commit).await.unwrap();
    }
}

fn runner(store: Arc<dyn Store>, ledger: Arc<dyn WarningLedger>) -> WarningRunner {
    WarningRunner::new(
        store,
        ledger,
        Arc::new(Users),
        Arc::new(Accept),
        WarningConfig::default().with_batch(10_000),
    )
}

fn check(report: &RunReport, count: usize) {
    assert_eq!(report.due_read, count / DUE_EVERY);
    assert_eq!(report.sent, count / DUE_EVERY);
}

fn warnings(c: &mut Criterion) {
    let rt = Runtime::new().unwrap();
    let count = clients();
    let mut group = c.benchmark_group("warnings/run_due");
    // Each measured run needs a fresh 100,000-client state, which takes far
    // longer than the run: one run per sample, ten samples.
    group.sampling_mode(SamplingMode::Flat);
    group.sample_size(10);
    group.warm_up_time(StdDuration::from_millis(1));
    group.measurement_time(StdDuration::from_millis(10));

    group.bench_function(format!("memory/{count}_clients"), |b| {
        b.iter_custom(|iters| {
            let mut total = StdDuration::ZERO;
            for _ in 0..iters {
                let store = Arc::new(MemoryStore::new());
                rt.block_on(load(store.as_ref(), count));
                let runner = runner(store.clone(), store);
                let started = Instant::now();
                let report = rt.block_on(runner.run_due(now())).unwrap();
                total += started.elapsed();
                check(&report, count);
            }
            total
        });
    });
    let report = {
        let store = Arc::new(MemoryStore::new());
        rt.block_on(load(store.as_ref(), count));
        rt.block_on(runner(store.clone(), store).run_due(now()))
            .unwrap()
    };
    eprintln!(
        "memory: {count} clients, rows read per run {}, store calls per run {}",
        report.due_read, report.store_calls
    );

    let url = std::env::var("DATABASE_URL")
        .unwrap_or_else(|_| panic!("DATABASE_URL is not set: run under scripts/with-postgres.sh"));
    let pg = rt.block_on(async {
        let schema = format!("cc_bench_warnings_{}", std::process::id());
        let admin = PgPoolOptions::new()
            .max_connections(1)
            .connect(&url)
            .await
            .unwrap();
        sqlx::query(&format!("CREATE SCHEMA {schema}"))
            .execute(&admin)
            .await
            .unwrap();
        let options: PgConnectOptions = url.parse().unwrap();
        let pool = PgPoolOptions::new()
            .max_connections(16)
            .connect_with(options.options([("search_path", schema.as_str())]))
            .await
            .unwrap();
        let store = PgStore::from_pool(pool);
        store.migrate().await.unwrap();
        load(&store, count).await;
        sqlx::query("ANALYZE").execute(store.pool()).await.unwrap();
        Arc::new(store)
    });
    let reset = |store: &PgStore| {
        rt.block_on(async {
            sqlx::query("DELETE FROM clientcreds_warnings")
                .execute(store.pool())
                .await
                .unwrap();
            sqlx::query(
                "UPDATE clientcreds_secrets SET warning_due = expires_at - $1 \
                 WHERE (CAST(SUBSTR(secret_id, 2) AS INTEGER) % $2) = 0",
            )
            .bind(7_i64 * 86_400 * 1_000_000)
            .bind(i32::try_from(DUE_EVERY).unwrap())
            .execute(store.pool())
            .await
            .unwrap();
        });
    };
    group.bench_function(format!("postgres/{count}_clients"), |b| {
        b.iter_custom(|iters| {
            let mut total = StdDuration::ZERO;
            for _ in 0..iters {
                reset(&pg);
                let runner = runner(pg.clone(), pg.clone());
                let started = Instant::now();
                let report = rt.block_on(runner.run_due(now())).unwrap();
                total += started.elapsed();
                check(&report, count);
            }
            total
        });
    });
    reset(&pg);
    let report = rt
        .block_on(runner(pg.clone(), pg.clone()).run_due(now()))
        .unwrap();
    let plan: Vec<String> = rt.block_on(async {
        sqlx::query_scalar(
            "EXPLAIN SELECT s.secret_id FROM clientcreds_secrets s \
             WHERE s.warning_due IS NOT NULL AND s.warning_due <= 0 ORDER BY s.warning_due LIMIT 10",
        )
        .fetch_all(pg.pool())
        .await
        .unwrap()
    });
    eprintln!(
        "postgres: {count} clients, rows read per run {}, store calls per run {}, due query plan: {}",
        report.due_read,
        report.store_calls,
        plan.join(" / ")
    );
    group.finish();
}

criterion_group!(benches, warnings);
criterion_main!(benches);
