//! Load run (not criterion: it reports a distribution): how long a
//! revocation on one replica takes to stop the client on another, through
//! PostgreSQL's `NOTIFY` and the second replica's invalidation listener;
//! the same with notifications lost (only the cache's TTL helps); and the
//! resident memory one cached client costs.
//!
//! `scripts/with-postgres.sh cargo bench -p clientcreds-benches --bench
//! propagation` (500 revocations); the test mode (`cargo test
//! --all-targets`) does 10.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::print_stderr,
    clippy::print_stdout,
    clippy::cast_precision_loss
)]

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use clientcreds_jwt::{Algorithm, KeySet, SigningKey, TokenIssuer};
use clientcreds_registry::{Actor, ExchangeRequest, NewClient, Policy, Registry, TokenService};
use clientcreds_secret::{CredentialFormat, PepperKey, Secret, SecretHasher};
use clientcreds_sqlx::PgStore;
use clientcreds_store::{
    AuditAction, AuditActor, AuditEvent, AuditOutcome, AuthCache, CachedStore, ClientRecord,
    ClientStatus, ClientStore, Commit, MemoryStore, SecretRecord, Store, TenantId, Write,
};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use time::OffsetDateTime;

const TTL_BLOCKED: Duration = Duration::from_secs(1);

fn main() {
    let full = std::env::args().any(|a| a == "--bench");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let samples = if full { 500 } else { 10 };
        let delays = propagation(samples, false).await;
        report("revocation seen by the second replica (NOTIFY)", &delays);
        let blocked = propagation(if full { 20 } else { 2 }, true).await;
        report(
            &format!("revocation seen with notifications lost (TTL {TTL_BLOCKED:?})"),
            &blocked,
        );
        assert!(
            blocked
                .iter()
                .all(|d| *d <= TTL_BLOCKED + Duration::from_millis(50))
        );
        let clients = if full { 100_000 } else { 1_000 };
        let per_client = memory_per_cached_client(clients).await;
        println!(
            "cache resident memory: {per_client:.0} bytes per cached client ({clients} clients)"
        );
    });
}

fn report(what: &str, delays: &[Duration]) {
    let mut sorted = delays.to_vec();
    sorted.sort();
    let at = |q: f64| sorted[((sorted.len() - 1) as f64 * q).round() as usize];
    println!(
        "{what}: n={} p50={:.2?} p90={:.2?} p99={:.2?} max={:.2?}",
        sorted.len(),
        at(0.5),
        at(0.9),
        at(0.99),
        sorted[sorted.len() - 1]
    );
}

/// Revokes `samples` clients on replica A, each just authenticated (and
/// so cached) on replica B, and times from A's revocation returning to
/// B's first refusal. With `blocked`, B listens on another channel.
async fn propagation(samples: usize, blocked: bool) -> Vec<Duration> {
    let url = std::env::var("DATABASE_URL")
        .expect("DATABASE_URL is not set: run under scripts/with-postgres.sh");
    let schema = format!("cc_prop_{}_{}", std::process::id(), u8::from(blocked));
    let admin = PgPoolOptions::new()
        .max_connections(1)
        .connect(&url)
        .await
        .unwrap();
    sqlx::query("CREATE EXTENSION IF NOT EXISTS pg_trgm WITH SCHEMA public")
        .execute(&admin)
        .await
        .unwrap();
    sqlx::query(&format!("CREATE SCHEMA {schema}"))
        .execute(&admin)
        .await
        .unwrap();
    let options: PgConnectOptions = url.parse().unwrap();
    let options = options.options([("search_path", schema.as_str())]);
    let pool = || {
        PgPoolOptions::new()
            .max_connections(8)
            .test_before_acquire(false)
            .connect_with(options.clone())
    };
    let a = PgStore::from_pool(pool().await.unwrap()).with_notify_channel(&schema);
    a.migrate().await.unwrap();
    let mut b = PgStore::from_pool(pool().await.unwrap()).with_notify_channel(&schema);
    if blocked {
        b = b.with_notify_channel(format!("{schema}_elsewhere"));
    }
    let ttl = if blocked {
        TTL_BLOCKED
    } else {
        Duration::from_secs(60)
    };
    let cache = Arc::new(AuthCache::new(ttl));
    let listener = b.spawn_invalidation_listener(cache.clone());
    while listener.connections() == 0 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let registry_a = Registry::new(Arc::new(a), hasher(), Policy::default()).unwrap();
    let store_b: Arc<dyn Store> = Arc::new(CachedStore::new(b, cache.clone()));
    let registry_b = Arc::new(Registry::new(store_b, hasher(), Policy::default()).unwrap());
    let keys = Arc::new(KeySet::new(SigningKey::generate(Algorithm::EdDSA).unwrap()));
    let tokens_b = TokenService::new(
        registry_b,
        TokenIssuer::new(keys, "https://issuer.bench"),
        "https://api.bench",
    );
    let tenant = TenantId::new("propagation").unwrap();
    let exchange = |id: &str, secret: &str| {
        tokens_b.exchange(ExchangeRequest::client_credentials(
            id,
            Secret::from(secret),
        ))
    };
    let mut delays = Vec::with_capacity(samples);
    for _ in 0..samples {
        let creds = registry_a
            .create(&Actor::System, &tenant, NewClient::named("svc"))
            .await
            .unwrap()
            .credentials;
        let secret = creds.client_secret.expose_secret().to_owned();
        // Authenticate on B until B answers from its cache.
        loop {
            let hits = cache.stats().hits;
            exchange(&creds.client_id, &secret).await.unwrap();
            if cache.stats().hits > hits {
                break;
            }
        }
        registry_a
            .revoke(&Actor::System, &tenant, &creds.client_id)
            .await
            .unwrap();
        let revoked = Instant::now();
        while exchange(&creds.client_id, &secret).await.is_ok() {
            tokio::time::sleep(Duration::from_micros(200)).await;
        }
        delays.push(revoked.elapsed());
    }
    drop(listener);
    sqlx::query(&format!("DROP SCHEMA {schema} CASCADE"))
        .execute(&admin)
        .await
        .unwrap();
    delays
}

/// Resident memory (from /proc/self/statm) the cache adds per client once
/// `clients` realistic records (two scopes, one audience, one secret) are
/// cached: the records are already in a `MemoryStore`, so the difference
/// is the cache's own copies, keys and map.
async fn memory_per_cached_client(clients: usize) -> f64 {
    let store = MemoryStore::new();
    let tenant = TenantId::new("memory").unwrap();
    let format = CredentialFormat::new("acme_").unwrap();
    let hasher = hasher();
    let at = OffsetDateTime::from_unix_timestamp(1_800_000_000).unwrap();
    let mut ids = Vec::with_capacity(clients);
    let mut commit = Commit::new(AuditEvent {
        at,
        actor: AuditActor::System,
        tenant: tenant.clone(),
        client_id: None,
        action: AuditAction::Create,
        outcome: AuditOutcome::Success,
        detail: None,
    });
    for i in 0..clients {
        let issued = format.generate_secret().unwrap();
        let id = format.generate_client_id().unwrap().into_string();
        ids.push(id.clone());
        commit = commit.with(Write::Insert(ClientRecord {
            tenant: tenant.clone(),
            client_id: id,
            name: format!("svc-{i}"),
            description: String::new(),
            owner: None,
            created_by: "alice".to_owned(),
            scopes: vec!["invoices:read".to_owned(), "invoices:write".to_owned()],
            audiences: vec!["https://api.example.com".to_owned()],
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
            secrets: vec![SecretRecord {
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
            }],
        }));
    }
    store.commit(commit).await.unwrap();
    let cache = Arc::new(AuthCache::new(Duration::from_secs(3_600)));
    let cached = CachedStore::new(store, cache.clone());
    let before = resident_bytes();
    for id in &ids {
        cached.authentication_view(id).await.unwrap();
    }
    let after = resident_bytes();
    assert_eq!(cache.stats().entries, clients);
    (after.saturating_sub(before)) as f64 / clients as f64
}

fn resident_bytes() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: u64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .unwrap_or(0);
    pages * 4096
}

fn hasher() -> SecretHasher {
    SecretHasher::hmac_sha256(PepperKey::new("k1", &[0x5a; 32]).unwrap()).unwrap()
}
