//! Durable key material, with real server processes: restarts after
//! `kill -9`, two replicas on one PostgreSQL, a master key rotation, and
//! the refusals at start-up. Tokens are checked with an independent
//! verifier (`jsonwebtoken`) against the JWKS a process serves.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::process::Command;
use std::time::{Duration, Instant};

use common::process::{
    AUDIENCE, ISSUER, K1, K1_IMPOSTOR, K2, fresh_postgres, fresh_sqlite, refused, start,
};

use serde_json::Value;
use sqlx::Row as _;

/// Verifies `token` with jsonwebtoken against `jwks`.
fn independent_verify(token: &str, jwks: &jsonwebtoken::jwk::JwkSet) -> Result<Value, String> {
    let header = jsonwebtoken::decode_header(token).map_err(|e| e.to_string())?;
    let kid = header.kid.ok_or("no kid")?;
    let jwk = jwks
        .find(&kid)
        .ok_or_else(|| format!("kid {kid} not in the JWKS"))?;
    let key = jsonwebtoken::DecodingKey::from_jwk(jwk).map_err(|e| e.to_string())?;
    let mut validation = jsonwebtoken::Validation::new(header.alg);
    validation.set_issuer(&[ISSUER]);
    validation.set_audience(&[AUDIENCE]);
    jsonwebtoken::decode::<Value>(token, &key, &validation)
        .map(|data| data.claims)
        .map_err(|e| e.to_string())
}

async fn restart_keeps_everything(database_url: &str) {
    let first = start(Some(database_url), Some(K1), &[]).await;
    let (id, secret) = first.create_client("survivor").await;
    let before = first.token(&id, &secret).await.unwrap();
    first.kill();

    let second = start(Some(database_url), Some(K1), &[]).await;
    let after = second.token(&id, &secret).await.unwrap();
    let (jwks, _) = second.jwks().await;
    let claims = independent_verify(&before, &jwks).unwrap();
    assert_eq!(claims["client_id"], id.as_str());
    independent_verify(&after, &jwks).unwrap();
    // Same signing key before and after.
    assert_eq!(
        jsonwebtoken::decode_header(&before).unwrap().kid,
        jsonwebtoken::decode_header(&after).unwrap().kid
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_after_kill_keeps_clients_and_tokens_on_postgres() {
    restart_keeps_everything(&fresh_postgres().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_after_kill_keeps_clients_and_tokens_on_sqlite() {
    let (url, dir) = fresh_sqlite();
    restart_keeps_everything(&url).await;
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicas_share_keys_rotate_once_and_see_revocations() {
    let url = fresh_postgres().await;
    // A key signs for 6 s and is published 3 s before it signs; replicas
    // refresh every 500 ms; the JWKS may be cached for 2 s.
    let rotation = [
        ("CLIENTCREDS_KEY_ROTATE_EVERY", "6s"),
        ("CLIENTCREDS_KEY_PUBLISH_LEAD", "3s"),
        ("CLIENTCREDS_KEY_REFRESH", "500ms"),
        ("CLIENTCREDS_JWKS_MAX_AGE", "2s"),
    ];
    // Both start at once, racing for the first key.
    let (a, b) = tokio::join!(
        start(Some(&url), Some(K1), &rotation),
        start(Some(&url), Some(K1), &rotation)
    );
    let started = Instant::now();
    let (id, secret) = a.create_client("shared").await;
    let token = a.token(&id, &secret).await.unwrap();
    let (jwks_b, cache) = b.jwks().await;
    assert_eq!(cache, "public, max-age=2");
    assert_eq!(jwks_b.keys.len(), 1, "one first key, not two");
    independent_verify(&token, &jwks_b).unwrap();
    let token_b = b.token(&id, &secret).await.unwrap();
    independent_verify(&token_b, &a.jwks().await.0).unwrap();

    // The next key falls due 3 s after the first was made: both replicas
    // find it due within 500 ms of each other; one writes it.
    let pool = sqlx::PgPool::connect(&url).await.unwrap();
    let count = || async {
        sqlx::query("SELECT count(*) AS n FROM clientcreds_signing_keys")
            .fetch_one(&pool)
            .await
            .unwrap()
            .get::<i64, _>("n")
    };
    let deadline = started + Duration::from_secs(5);
    loop {
        if a.jwks().await.0.keys.len() == 2 && b.jwks().await.0.keys.len() == 2 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the next key was not published in time"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Let every replica run a few more refreshes before counting.
    tokio::time::sleep(Duration::from_millis(1_200)).await;
    assert!(
        started.elapsed() < Duration::from_secs(8),
        "too slow to judge"
    );
    assert_eq!(count().await, 2, "one rotation, not two");
    let kids = |set: &jsonwebtoken::jwk::JwkSet| {
        let mut kids: Vec<_> = set.keys.iter().map(|k| k.common.key_id.clone()).collect();
        kids.sort();
        kids
    };
    assert_eq!(kids(&a.jwks().await.0), kids(&b.jwks().await.0));

    // A client revoked through one replica is refused by the other.
    assert_eq!(
        a.admin_post(&format!("/admin/v1/tenants/acme/clients/{id}/revoke"))
            .await,
        200
    );
    // The other replica learns of it by NOTIFY, within milliseconds (its
    // p99 is in docs/PERFORMANCE.md); should a notification be lost (a
    // listener still connecting on a loaded machine), the cache's TTL
    // (5 s) bounds it. Allow that bound and a second.
    let deadline = Instant::now() + Duration::from_secs(6);
    let (status, body) = loop {
        match b.token(&id, &secret).await {
            Err(refusal) => break refusal,
            Ok(_) if Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            Ok(_) => panic!("the other replica still issues tokens 6 s after the revocation"),
        }
    };
    assert_eq!(status, 401);
    assert_eq!(body["error"], "invalid_client");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_master_rotation_keeps_clients_and_upgrades_their_hashes() {
    let url = fresh_postgres().await;
    let old = start(Some(&url), Some(K1), &[]).await;
    let (id1, secret1) = old.create_client("one").await;
    let (id2, secret2) = old.create_client("two").await;
    let token = old.token(&id1, &secret1).await.unwrap();
    old.kill();

    let pool = sqlx::PgPool::connect(&url).await.unwrap();
    let hash_of = |id: String| {
        let pool = pool.clone();
        async move {
            sqlx::query("SELECT hash FROM clientcreds_secrets WHERE client_id = $1")
                .bind(id)
                .fetch_one(&pool)
                .await
                .unwrap()
                .get::<String, _>("hash")
        }
    };
    assert!(hash_of(id1.clone()).await.starts_with("hmac-sha256$v1$k1$"));

    let rotated = start(Some(&url), Some(&format!("{K2},{K1}")), &[]).await;
    // The signing keys were re-sealed under k2 and still verify old tokens.
    let sealed: Vec<String> =
        sqlx::query("SELECT sealed_private_key FROM clientcreds_signing_keys")
            .fetch_all(&pool)
            .await
            .unwrap()
            .iter()
            .map(|r| r.get("sealed_private_key"))
            .collect();
    assert!(!sealed.is_empty());
    assert!(
        sealed.iter().all(|s| s.starts_with("aes256gcm$v1$k2$")),
        "{sealed:?}"
    );
    independent_verify(&token, &rotated.jwks().await.0).unwrap();

    // Each client still works, and its hash is upgraded on that use.
    rotated.token(&id1, &secret1).await.unwrap();
    assert!(hash_of(id1.clone()).await.starts_with("hmac-sha256$v1$k2$"));
    assert!(hash_of(id2.clone()).await.starts_with("hmac-sha256$v1$k1$"));
    rotated.token(&id2, &secret2).await.unwrap();
    assert!(hash_of(id2.clone()).await.starts_with("hmac-sha256$v1$k2$"));
    rotated.kill();

    // Every hash and key upgraded: k1 can now be retired.
    let retired = start(Some(&url), Some(K2), &[]).await;
    retired.token(&id1, &secret1).await.unwrap();
    retired.token(&id2, &secret2).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_master_keys_refuse_to_start_and_write_nothing() {
    let url = fresh_postgres().await;
    let pool = sqlx::PgPool::connect(&url).await.unwrap();
    let tables = || async {
        sqlx::query("SELECT count(*) AS n FROM pg_tables WHERE tablename LIKE 'clientcreds_%'")
            .fetch_one(&pool)
            .await
            .unwrap()
            .get::<i64, _>("n")
    };

    let missing = refused(Some(&url), None);
    assert!(
        missing.contains("CLIENTCREDS_MASTER_KEYS is not set"),
        "{missing}"
    );
    assert!(missing.contains("generate-master-key"), "{missing}");
    for (text, needle) in [
        (
            "k1",
            "master key entry 1 is malformed: expected `id:base64url`",
        ),
        (
            "k1:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHg",
            "is 31 bytes; at least 32",
        ),
        (&format!("{K1},{K1}"), "`k1` is used twice"),
        (" , ", "no master key given"),
        (
            &format!("{K1},bad id:{}", &K2[3..]),
            "master key entry 2 is malformed",
        ),
    ] {
        let output = refused(Some(&url), Some(text));
        assert!(output.contains(needle), "{text:?}: {output}");
        assert!(output.contains("CLIENTCREDS_MASTER_KEYS"), "{output}");
        assert!(
            !output.contains(&K1[3..]) && !output.contains(&K2[3..]),
            "{output}"
        );
    }
    assert_eq!(tables().await, 0, "a refused start wrote nothing");

    // A database made under k1, started with another k1 or without k1.
    start(Some(&url), Some(K1), &[]).await.kill();
    let keys_before: Vec<String> =
        sqlx::query("SELECT sealed_private_key FROM clientcreds_signing_keys")
            .fetch_all(&pool)
            .await
            .unwrap()
            .iter()
            .map(|r| r.get("sealed_private_key"))
            .collect();
    let impostor = refused(Some(&url), Some(K1_IMPOSTOR));
    assert!(impostor.contains("cannot be decrypted"), "{impostor}");
    assert!(impostor.contains("master key `k1`"), "{impostor}");
    let other = refused(Some(&url), Some(K2));
    assert!(other.contains("sealed under master key `k1`"), "{other}");
    let keys_after: Vec<String> =
        sqlx::query("SELECT sealed_private_key FROM clientcreds_signing_keys")
            .fetch_all(&pool)
            .await
            .unwrap()
            .iter()
            .map(|r| r.get("sealed_private_key"))
            .collect();
    assert_eq!(keys_before, keys_after);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_memory_without_master_keys_warns_and_generate_prints_an_entry() {
    let server = start(None, None, &[]).await;
    assert!(
        server.output().contains("ephemeral master key"),
        "{}",
        server.output()
    );
    drop(server);

    let output = Command::new(env!("CARGO_BIN_EXE_clientcreds-server"))
        .args(["generate-master-key", "2027-01"])
        .output()
        .unwrap();
    assert!(output.status.success());
    let entry = String::from_utf8(output.stdout).unwrap();
    let keys = clientcreds_secret::MasterKeys::parse(entry.trim()).unwrap();
    assert_eq!(keys.current_id(), "2027-01");
}

/// SIGTERM (what container runtimes send) stops the server gracefully:
/// it exits with success, and the issuance counts still queued in memory
/// are in the database afterwards.
#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_stops_gracefully_and_writes_the_queued_counts() {
    let url = fresh_postgres().await;
    let mut server = start(Some(&url), Some(K1), &[]).await;
    let (id, secret) = server.create_client("sigterm").await;
    for _ in 0..3 {
        server.token(&id, &secret).await.unwrap();
    }
    let status = Command::new("kill")
        .args(["-TERM", &server.child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let deadline = Instant::now() + Duration::from_secs(20);
    let exit = loop {
        if let Some(exit) = server.child.try_wait().unwrap() {
            break exit;
        }
        assert!(
            Instant::now() < deadline,
            "no exit after SIGTERM: {}",
            server.output()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(exit.success(), "{exit}: {}", server.output());
    assert!(server.output().contains("stopping"), "{}", server.output());
    let pool = sqlx::PgPool::connect(&url).await.unwrap();
    let issued: i64 = sqlx::query_scalar(
        "SELECT COALESCE(SUM(count), 0)::BIGINT FROM clientcreds_activity_counts \
         WHERE client_id = $1 AND reason = ''",
    )
    .bind(&id)
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(issued, 3);
}
