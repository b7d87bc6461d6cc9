//! Two replicas (registries on separate pools) over one PostgreSQL schema:
//! a change made on one stops the client on the other as soon as the
//! notification arrives; with the listener's connection killed the other
//! flushes and reconnects; with notifications lost, the cache's
//! time-to-live bounds how long the other keeps a stale answer.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use clientcreds_jwt::{Algorithm, KeySet, SigningKey, TokenIssuer};
use clientcreds_registry::{
    Actor, ClientUpdate, Credentials, ExchangeRequest, NewClient, Registry, RotateOptions,
    TokenErrorCode, TokenService,
};
use clientcreds_sqlx::{InvalidationListener, PgStore};
use clientcreds_store::{AuthCache, CachedStore, ClientStatus, TenantId};

struct Replica {
    registry: Arc<Registry>,
    tokens: TokenService,
    cache: Arc<AuthCache>,
}

fn replica(store: Arc<dyn clientcreds_store::Store>, cache: Arc<AuthCache>) -> Replica {
    let registry = Arc::new(common::registry(store));
    let keys = Arc::new(KeySet::new(SigningKey::generate(Algorithm::EdDSA).unwrap()));
    let tokens = TokenService::new(
        registry.clone(),
        TokenIssuer::new(keys, "https://issuer.test"),
        "https://api.test",
    );
    Replica {
        registry,
        tokens,
        cache,
    }
}

/// Replica A (plain store, announcing its commits) and replica B (cached,
/// listening); B's listener is listening when this returns.
async fn pair(ttl: Duration) -> (Replica, Replica, PgStore, InvalidationListener) {
    let (a, b) = common::postgres_replicas().await;
    let cache_a = Arc::new(AuthCache::new(ttl));
    let replica_a = replica(Arc::new(a), cache_a);
    let cache_b = Arc::new(AuthCache::new(ttl));
    let listener = b.spawn_invalidation_listener(cache_b.clone());
    wait_for("B's listener to listen", || listener.connections() >= 1).await;
    let replica_b = replica(
        Arc::new(CachedStore::new(b.clone(), cache_b.clone())),
        cache_b,
    );
    (replica_a, replica_b, b, listener)
}

async fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    let start = Instant::now();
    while !done() {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

async fn exchange(replica: &Replica, creds: &Credentials) -> Result<(), TokenErrorCode> {
    replica
        .tokens
        .exchange(ExchangeRequest::client_credentials(
            creds.client_id.clone(),
            clientcreds_secret::Secret::from(creds.client_secret.expose_secret()),
        ))
        .await
        .map(|_| ())
        .map_err(|e| e.code)
}

fn tenant() -> TenantId {
    TenantId::new("replicas").unwrap()
}

/// A client created on A that B has just authenticated (so B caches it).
async fn cached_client(a: &Replica, b: &Replica) -> Credentials {
    let issued = a
        .registry
        .create(&Actor::System, &tenant(), NewClient::named("svc"))
        .await
        .unwrap();
    let creds = issued.credentials;
    // The create's own notification may arrive while B's first lookup is
    // in flight, and then that lookup does not fill: try a few times.
    for _ in 0..20 {
        let hits = b.cache.stats().hits;
        exchange(b, &creds).await.unwrap();
        if b.cache.stats().hits > hits {
            return creds;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("B never answered from its cache");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_stopping_change_on_one_replica_stops_the_client_on_the_other() {
    // A TTL far longer than the test: only the notification can stop B.
    let (a, b, _store_b, _listener) = pair(Duration::from_secs(600)).await;
    let admin = Actor::System;
    let t = tenant();

    for name in ["revoke", "deactivate", "end grace", "delete"] {
        let creds = cached_client(&a, &b).await;
        if name == "end grace" {
            // Rotate first: the old secret lives on in its grace window.
            a.registry
                .rotate(&admin, &t, &creds.client_id, RotateOptions::default())
                .await
                .unwrap();
            exchange(&b, &creds).await.unwrap();
        }
        let invalidations = b.cache.stats().invalidations;
        let id = creds.client_id.as_str();
        match name {
            "revoke" => drop(a.registry.revoke(&admin, &t, id).await.unwrap()),
            "deactivate" => {
                let update = ClientUpdate::default().status(ClientStatus::Inactive);
                drop(a.registry.update(&admin, &t, id, update).await.unwrap());
            }
            "end grace" => drop(a.registry.end_grace(&admin, &t, id).await.unwrap()),
            _ => a.registry.delete(&admin, &t, id).await.unwrap(),
        }
        wait_for("the notification", || {
            b.cache.stats().invalidations > invalidations
        })
        .await;
        assert_eq!(
            exchange(&b, &creds).await,
            Err(TokenErrorCode::InvalidClient),
            "B refuses after {name} on A"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_listener_connection_flushes_the_cache_and_comes_back() {
    let (a, b, store_b, listener) = pair(Duration::from_secs(600)).await;
    let creds = cached_client(&a, &b).await;
    let flushes = b.cache.stats().flushes;
    let killed = sqlx::query_scalar::<_, bool>(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
         WHERE pid <> pg_backend_pid() AND query LIKE '%' || $1 || '%' AND query LIKE 'LISTEN%'",
    )
    .bind(store_b.notify_channel())
    .fetch_all(store_b.pool())
    .await
    .unwrap();
    assert_eq!(killed, [true], "one listener connection terminated");
    wait_for("the listener to reconnect", || listener.connections() >= 2).await;
    let stats = b.cache.stats();
    assert!(
        stats.flushes >= flushes + 2,
        "flushed when lost and when back: {stats:?}"
    );
    assert_eq!(stats.entries, 0, "nothing cached from before the loss");
    assert!(stats.available);

    // Listening again: a revocation on A still reaches B.
    exchange(&b, &creds).await.unwrap();
    exchange(&b, &creds).await.unwrap();
    let invalidations = b.cache.stats().invalidations;
    a.registry
        .revoke(&Actor::System, &tenant(), &creds.client_id)
        .await
        .unwrap();
    wait_for("the notification", || {
        b.cache.stats().invalidations > invalidations
    })
    .await;
    assert_eq!(
        exchange(&b, &creds).await,
        Err(TokenErrorCode::InvalidClient)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn while_the_listener_is_down_the_cache_is_bypassed() {
    let (a, b, _store_b, listener) = pair(Duration::from_secs(600)).await;
    let creds = cached_client(&a, &b).await;
    // Dropping the listener is the listener gone for good.
    drop(listener);
    assert!(!b.cache.stats().available);
    a.registry
        .revoke(&Actor::System, &tenant(), &creds.client_id)
        .await
        .unwrap();
    // No notification can arrive, and the TTL is long: only the bypass
    // makes B read the store.
    assert_eq!(
        exchange(&b, &creds).await,
        Err(TokenErrorCode::InvalidClient)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_notifications_lost_the_ttl_bounds_staleness() {
    let ttl = Duration::from_secs(2);
    let (a, b) = common::postgres_replicas().await;
    // B listens on another channel: its listener is healthy, but hears
    // nothing of A's commits.
    let b = b.with_notify_channel(common::unique_name("cc_elsewhere"));
    let cache_b = Arc::new(AuthCache::new(ttl));
    let listener = b.spawn_invalidation_listener(cache_b.clone());
    wait_for("B's listener to listen", || listener.connections() >= 1).await;
    let a = replica(Arc::new(a), Arc::new(AuthCache::default()));
    let b = replica(Arc::new(CachedStore::new(b, cache_b.clone())), cache_b);

    let creds = cached_client(&a, &b).await;
    a.registry
        .revoke(&Actor::System, &tenant(), &creds.client_id)
        .await
        .unwrap();
    let revoked = Instant::now();
    let mut stale = 0;
    while exchange(&b, &creds).await.is_ok() {
        stale += 1;
        assert!(
            revoked.elapsed() <= ttl,
            "B still accepts {:?} after the revocation",
            revoked.elapsed()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(stale > 0, "B answered from its cache after the revocation");
    assert!(revoked.elapsed() <= ttl + Duration::from_millis(100));
}
