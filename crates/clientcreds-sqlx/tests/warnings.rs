//! Expiry warnings on PostgreSQL: four runners on separate pools, racing
//! over the same due warnings, send each exactly once.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use clientcreds_registry::warnings::{
    Contact, Directory, Notification, Notifier, WarningConfig, WarningRunner,
};
use clientcreds_registry::{
    Actor, Error, ManualClock, NewClient, Policy, Registry, SecretLifetime,
};
use clientcreds_sqlx::PgStore;
use clientcreds_store::{Store, TenantId, WarningLedger};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use time::{Duration, OffsetDateTime};

#[derive(Debug)]
struct Users;

#[async_trait]
impl Directory for Users {
    async fn contact(&self, user_id: &str) -> Result<Option<Contact>, Error> {
        Ok(Some(Contact::new(
            user_id,
            format!("{user_id}@example.com"),
            user_id,
            "en",
        )))
    }
}

/// Counts sends per (secret, stage, recipient), slowly, so that runners overlap.
#[derive(Debug, Default)]
struct Counting(Mutex<HashMap<(String, u32, String), usize>>);

#[async_trait]
impl Notifier for Counting {
    async fn notify(&self, n: &Notification) -> Result<(), Error> {
        tokio::time::sleep(std::time::Duration::from_millis(2)).await;
        *self
            .0
            .lock()
            .unwrap()
            .entry((
                n.warning.secret_id.clone(),
                n.warning.stage_days,
                n.contact.user_id.clone(),
            ))
            .or_default() += 1;
        Ok(())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn four_runners_on_postgres_send_each_warning_once() {
    let first = common::postgres().await;
    // The same schema on three more pools: four "replicas".
    let schema: String = sqlx::query_scalar("SELECT current_schema()")
        .fetch_one(first.pool())
        .await
        .unwrap();
    let mut stores = vec![Arc::new(first)];
    for _ in 0..3 {
        let options: PgConnectOptions = common::database_url().parse().unwrap();
        let pool = PgPoolOptions::new()
            .max_connections(4)
            .connect_with(options.options([("search_path", schema.as_str())]))
            .await
            .unwrap();
        stores.push(Arc::new(PgStore::from_pool(pool)));
    }
    let start = OffsetDateTime::from_unix_timestamp(1_790_000_000).unwrap();
    let clock = Arc::new(ManualClock::new(start));
    let hasher = clientcreds_secret::SecretHasher::hmac_sha256(
        clientcreds_secret::PepperKey::new("k1", &[7; 32]).unwrap(),
    )
    .unwrap();
    let registry = Registry::new(
        stores[0].clone() as Arc<dyn Store>,
        hasher,
        Policy::default(),
    )
    .unwrap()
    .with_clock(clock.clone());
    let tenant = TenantId::new("acme").unwrap();
    let admin = Actor::tenant_admin(tenant.clone(), "creator");
    for i in 0..40 {
        let mut new = NewClient::named(format!("c{i}"))
            .with_secret_lifetime(SecretLifetime::After(Duration::days(10)));
        if i % 2 == 0 {
            new = new.with_owner(format!("owner-{i}"));
        }
        registry.create(&admin, &tenant, new).await.unwrap();
    }
    let notifier = Arc::new(Counting::default());
    let runners: Vec<Arc<WarningRunner>> = stores
        .iter()
        .map(|store| {
            Arc::new(WarningRunner::new(
                store.clone(),
                store.clone(),
                Arc::new(Users),
                notifier.clone(),
                WarningConfig::default(),
            ))
        })
        .collect();
    // Day 3: the 7-day stage is due for all 40 (60 recipients).
    let now = start + Duration::days(3) + Duration::minutes(1);
    let tasks: Vec<_> = runners
        .iter()
        .map(|runner| {
            let runner = runner.clone();
            tokio::spawn(async move { runner.run_due(now).await.unwrap() })
        })
        .collect();
    let mut sent = 0;
    for task in tasks {
        sent += task.await.unwrap().sent;
    }
    // Racing runners can each see the other's claim as busy and leave the
    // secret due; the next run (a minute later) finds every claim finished
    // and moves it on, sending nothing again.
    let later = now + Duration::minutes(1);
    let tasks: Vec<_> = runners
        .iter()
        .map(|runner| {
            let runner = runner.clone();
            tokio::spawn(async move { runner.run_due(later).await.unwrap() })
        })
        .collect();
    for task in tasks {
        sent += task.await.unwrap().sent;
    }
    let counts = notifier.0.lock().unwrap().clone();
    assert_eq!(counts.len(), 60, "every warning went out");
    assert!(counts.values().all(|n| *n == 1), "none twice: {counts:?}");
    assert_eq!(sent, 60);
    // Nothing is due any more until the next stage.
    assert!(stores[1].due_warnings(later, 100).await.unwrap().is_empty());
    assert_eq!(
        stores[2]
            .due_warnings(start + Duration::days(9) + Duration::minutes(1), 100)
            .await
            .unwrap()
            .len(),
        40
    );
}

/// A database from before the warnings migration: its active clients'
/// current, unexpired secrets get a schedule; others do not.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_warnings_migration_schedules_existing_secrets() {
    let path = std::env::temp_dir().join(format!("cc_backfill_{}.db", std::process::id()));
    let _ = std::fs::remove_file(&path);
    let store = clientcreds_sqlx::SqliteStore::connect(&format!("sqlite://{}", path.display()))
        .await
        .unwrap();
    let mut before = sqlx::migrate!("migrations/sqlite");
    before.migrations = std::borrow::Cow::Owned(before.migrations[..2].to_vec());
    before.run(store.pool()).await.unwrap();
    let now_us = OffsetDateTime::now_utc().unix_timestamp() * 1_000_000;
    let day = 86_400_000_000_i64;
    for (client, status, secret, expires, grace) in [
        ("c_active", "active", "s_current", now_us + 60 * day, None),
        (
            "c_active",
            "active",
            "s_rotated",
            now_us + 60 * day,
            Some(now_us + day),
        ),
        ("c_expired", "active", "s_expired", now_us - day, None),
        (
            "c_inactive",
            "inactive",
            "s_paused",
            now_us + 60 * day,
            None,
        ),
    ] {
        sqlx::query(
            "INSERT OR IGNORE INTO clientcreds_clients (client_id, tenant, name, description, created_by, \
             scopes, audiences, extra_claims, status, created_at, updated_at, version) \
             VALUES ($1, 'acme', 'n', '', 'admin', '[]', '[]', '{}', $2, 0, 0, 1)",
        )
        .bind(client)
        .bind(status)
        .execute(store.pool())
        .await
        .unwrap();
        sqlx::query(
            "INSERT INTO clientcreds_secrets (client_id, position, secret_id, hash, display_prefix, label, \
             created_at, expires_at, grace_until) VALUES ($1, 0, $2, 'h', 'p', 'l', 0, $3, $4)",
        )
        .bind(client)
        .bind(secret)
        .bind(expires)
        .bind(grace)
        .execute(store.pool())
        .await
        .unwrap();
    }
    store.migrate().await.unwrap();
    let scheduled: Vec<(String, Option<i64>)> =
        sqlx::query_as("SELECT secret_id, warning_due FROM clientcreds_secrets ORDER BY secret_id")
            .fetch_all(store.pool())
            .await
            .unwrap();
    assert_eq!(
        scheduled,
        vec![
            ("s_current".to_owned(), Some(now_us + 30 * day)),
            ("s_expired".to_owned(), None),
            ("s_paused".to_owned(), None),
            ("s_rotated".to_owned(), None),
        ]
    );
    let _ = std::fs::remove_file(&path);
}
