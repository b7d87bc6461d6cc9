//! Fresh stores for each test: a new PostgreSQL schema, or a new SQLite file.

#![allow(dead_code, unreachable_pub)]

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use clientcreds_registry::{Policy, Registry};
use clientcreds_secret::{PepperKey, SecretHasher};
use clientcreds_sqlx::{PgStore, SqliteStore};
use clientcreds_store::Store;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};

static COUNTER: AtomicUsize = AtomicUsize::new(0);

/// The test database's URL. Its absence is a failure, never a skip: run
/// the tests through `scripts/test.sh` (or `scripts/with-postgres.sh`).
pub fn database_url() -> String {
    std::env::var("DATABASE_URL").unwrap_or_else(|_| {
        panic!("DATABASE_URL is not set: run `scripts/with-postgres.sh cargo test -p clientcreds-sqlx` or `scripts/test.sh`")
    })
}

fn unique(prefix: &str) -> String {
    format!(
        "{prefix}_{}_{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

/// A migrated store in a schema of its own.
pub async fn postgres() -> PgStore {
    postgres_with(8).await
}

pub async fn postgres_with(max_connections: u32) -> PgStore {
    postgres_pool(PgPoolOptions::new().max_connections(max_connections)).await
}

/// A migrated store in a schema of its own, on a pool built from `pool`
/// (sizes, timeouts) through [`PgStore::from_pool`].
pub async fn postgres_pool(pool: PgPoolOptions) -> PgStore {
    let options = new_schema().await;
    let pool = pool.connect_with(options).await.expect("connect");
    let store = PgStore::from_pool(pool);
    store.migrate().await.expect("migrate");
    store
}

/// Two migrated stores on separate pools to one new schema (two replicas),
/// announcing on a channel of their own.
pub async fn postgres_replicas() -> (PgStore, PgStore) {
    let options = new_schema().await;
    let channel = unique("cc_channel");
    let pool = || {
        PgPoolOptions::new()
            .max_connections(4)
            .connect_with(options.clone())
    };
    let a = PgStore::from_pool(pool().await.expect("connect")).with_notify_channel(&channel);
    a.migrate().await.expect("migrate");
    let b = PgStore::from_pool(pool().await.expect("connect")).with_notify_channel(&channel);
    (a, b)
}

/// A new empty schema, and the connect options that use it.
pub async fn new_schema() -> PgConnectOptions {
    let url = database_url();
    let schema = unique("cc_test");
    let admin = PgPoolOptions::new()
        .max_connections(1)
        .connect(&url)
        .await
        .expect("connect to PostgreSQL");
    // Migration 0004 creates pg_trgm in `public` if missing; tests running
    // in parallel would race to create it, so it is created here first
    // (a lost race is an error the next attempt does not repeat).
    for _ in 0..3 {
        let created = sqlx::query("CREATE EXTENSION IF NOT EXISTS pg_trgm WITH SCHEMA public")
            .execute(&admin)
            .await;
        if created.is_ok() {
            break;
        }
    }
    sqlx::query(&format!("CREATE SCHEMA {schema}"))
        .execute(&admin)
        .await
        .expect("create schema");
    admin.close().await;
    let options: PgConnectOptions = url.parse().expect("DATABASE_URL");
    options.options([("search_path", schema.as_str())])
}

/// A name no other test of this process uses.
pub fn unique_name(prefix: &str) -> String {
    unique(prefix)
}

/// A migrated store in a new SQLite file under the system temp folder.
pub async fn sqlite_file() -> SqliteStore {
    let path = std::env::temp_dir().join(format!("{}.db", unique("clientcreds_test")));
    let store = SqliteStore::connect(&format!("sqlite://{}", path.display()))
        .await
        .expect("open SQLite");
    store.migrate().await.expect("migrate");
    store
}

/// A migrated private in-memory SQLite store.
pub async fn sqlite_memory() -> SqliteStore {
    let store = SqliteStore::connect("sqlite::memory:")
        .await
        .expect("open SQLite");
    store.migrate().await.expect("migrate");
    store
}

/// The HMAC hasher every registry of these tests uses.
pub fn hasher() -> SecretHasher {
    SecretHasher::hmac_sha256(PepperKey::new("k1", &[0x5a; 32]).expect("pepper")).expect("hasher")
}

/// A registry on `store` (prefix `acme_`, the system clock).
pub fn registry(store: Arc<dyn Store>) -> Registry {
    Registry::new(store, hasher(), Policy::default().with_prefix("acme_")).expect("registry")
}
