//! The reference server on PostgreSQL uses the database path at memory
//! speed: the authentication cache (kept right by local commits), the
//! batched activity writer (flushed at shutdown), and counters for
//! requests that authenticated no client.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::sync::Arc;

use clientcreds_registry::{Actor, NewClient};
use clientcreds_secret::MasterKeys;
use clientcreds_server::{Config, Server};
use clientcreds_store::{ActivityCountQuery, ActivityQuery, CountedOutcome, TenantId};

const K1: &str = "k1:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8";

/// A fresh PostgreSQL database on the test server (one per test); its URL.
async fn fresh_postgres(test: &str) -> String {
    let url = std::env::var("DATABASE_URL")
        .expect("DATABASE_URL is not set: run through scripts/test.sh or scripts/with-postgres.sh");
    let name = format!("cc_dbpath_{test}_{}", std::process::id());
    let admin = sqlx::PgPool::connect(&url).await.unwrap();
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&admin)
        .await
        .unwrap();
    admin.close().await;
    let (base, _) = url.rsplit_once('/').unwrap();
    format!("{base}/{name}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_on_postgres_go_through_the_cache_and_the_batched_writer() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let mut config = Config::for_addr(addr);
    config.database_url = Some(fresh_postgres("cache").await);
    config.master_keys = Some(Arc::new(MasterKeys::parse(K1).unwrap()));
    config.auth_cache_ttl = time::Duration::minutes(10);
    let server = Server::new(config).await.unwrap();
    let app = server.router();
    tokio::spawn(async move { axum::serve(listener, app).await });

    let tenant = TenantId::new("dbpath").unwrap();
    let creds = server
        .registry()
        .create(&Actor::System, &tenant, NewClient::named("svc"))
        .await
        .unwrap()
        .credentials;
    let (id, secret) = (
        creds.client_id.clone(),
        creds.client_secret.expose_secret().to_owned(),
    );
    let http = reqwest::Client::new();
    let token_url = format!("http://{addr}/oauth/token");
    let token = |id: String, secret: String| {
        let request = http
            .post(&token_url)
            .basic_auth(id, Some(secret))
            .form(&[("grant_type", "client_credentials")]);
        async move { request.send().await.unwrap().status().as_u16() }
    };
    // The listener may still be connecting (cache off meanwhile): wait.
    for _ in 0..200 {
        if server.auth_cache_stats().unwrap().available {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    let hits = server.auth_cache_stats().unwrap().hits;
    for _ in 0..5 {
        assert_eq!(token(id.clone(), secret.clone()).await, 200);
    }
    assert!(
        server.auth_cache_stats().unwrap().hits > hits,
        "tokens were authenticated from the cache"
    );
    let unknown = format!("{}x", &id[..id.len() - 1]);
    assert_eq!(token(unknown, secret.clone()).await, 401);
    assert_eq!(
        server.unauthenticated_refusals().get("unknown_client"),
        Some(&1)
    );

    // A revocation through this server stops the client at once, whatever the TTL.
    server
        .registry()
        .revoke(&Actor::System, &tenant, &id)
        .await
        .unwrap();
    assert_eq!(token(id.clone(), secret.clone()).await, 401);

    server.shutdown().await;
    let stats = server.activity_stats().unwrap();
    // Five tokens and the refusal after the revocation are counted; the
    // refusal also has its row.
    assert_eq!(
        (
            stats.counted,
            stats.written,
            stats.dropped,
            stats.counts_lost
        ),
        (6, 1, 0, 0),
        "{stats:?}"
    );
    let query = ActivityQuery {
        tenant: tenant.clone(),
        client_id: Some(id.clone()),
        after_seq: None,
        limit: 100,
    };
    let entries = server.registry().store().activity(&query).await.unwrap();
    assert_eq!(entries.len(), 1, "the refusal after the revocation");
    let counts = server
        .registry()
        .store()
        .activity_counts(&ActivityCountQuery {
            tenant: tenant.clone(),
            client_id: Some(id.clone()),
            since: None,
            until: None,
            limit: 100,
        })
        .await
        .unwrap();
    let issued: u64 = counts
        .iter()
        .filter(|c| c.outcome == CountedOutcome::Issued)
        .map(|c| c.count)
        .sum();
    assert_eq!(issued, 5, "{counts:?}");
}

/// `Server::serve`: several serving threads (each its own runtime) take
/// connections from one listener; at shutdown the requests in progress
/// finish and the counts queued on those threads' database connections
/// are written before it returns.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serving_threads_answer_every_connection_and_shutdown_writes_the_counts() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let mut config = Config::for_addr(addr);
    let url = fresh_postgres("threads").await;
    config.database_url = Some(url.clone());
    config.master_keys = Some(Arc::new(MasterKeys::parse(K1).unwrap()));
    let server = Server::new(config).await.unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let serving = {
        let server = server.clone();
        tokio::spawn(async move {
            server
                .serve(listener, 3, async {
                    let _ = stopped.await;
                })
                .await
        })
    };

    let tenant = TenantId::new("threads").unwrap();
    let creds = server
        .registry()
        .create(&Actor::System, &tenant, NewClient::named("svc"))
        .await
        .unwrap()
        .credentials;
    let (id, secret) = (
        creds.client_id.clone(),
        creds.client_secret.expose_secret().to_owned(),
    );
    // Twelve callers, each on its own connection: the threads share them.
    let callers = (0..12).map(|_| {
        let (id, secret) = (id.clone(), secret.clone());
        tokio::spawn(async move {
            let http = reqwest::Client::new();
            let mut answers = Vec::new();
            for _ in 0..10 {
                let response = http
                    .post(format!("http://{addr}/oauth/token"))
                    .basic_auth(&id, Some(&secret))
                    .form(&[("grant_type", "client_credentials")])
                    .send()
                    .await
                    .unwrap();
                answers.push(response.status().as_u16());
            }
            answers
        })
    });
    for caller in callers {
        assert_eq!(caller.await.unwrap(), [200; 10]);
    }
    stop.send(()).unwrap();
    serving.await.unwrap().unwrap();
    assert!(
        tokio::net::TcpStream::connect(addr).await.is_err(),
        "the listener is closed once serve returns"
    );
    // Read with a pool of this test's own: the server's pool may hold
    // connections opened on the serving threads' runtimes, which are gone.
    let pool = sqlx::PgPool::connect(&url).await.unwrap();
    let issued: i64 = sqlx::query_scalar(
        "SELECT COALESCE(SUM(count), 0)::BIGINT FROM clientcreds_activity_counts \
         WHERE tenant = $1 AND client_id = $2 AND reason = ''",
    )
    .bind(tenant.as_str())
    .bind(&id)
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(issued, 120);
}
