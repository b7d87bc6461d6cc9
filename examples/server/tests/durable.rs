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

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use sqlx::Row as _;

const ROOT: &str = "durable-root-token-0123456789abcdef";
const ISSUER: &str = "https://issuer.durable.test";
const AUDIENCE: &str = "https://issuer.durable.test/api/v1";
const K1: &str = "k1:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8";
const K2: &str = "k2:ICEiIyQlJicoKSorLC0uLzAxMjM0NTY3ODk6Ozw9Pj8";
const K1_IMPOSTOR: &str = "k1:ICEiIyQlJicoKSorLC0uLzAxMjM0NTY3ODk6Ozw9Pj8";

static COUNTER: AtomicUsize = AtomicUsize::new(0);

fn unique(prefix: &str) -> String {
    format!(
        "{prefix}_{}_{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

/// A fresh PostgreSQL database on the test server; its URL.
async fn fresh_postgres() -> String {
    let url = std::env::var("DATABASE_URL")
        .expect("DATABASE_URL is not set: run through scripts/test.sh or scripts/with-postgres.sh");
    let name = unique("cc_durable");
    let admin = sqlx::PgPool::connect(&url).await.unwrap();
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&admin)
        .await
        .unwrap();
    admin.close().await;
    let (base, _) = url.rsplit_once('/').unwrap();
    format!("{base}/{name}")
}

fn fresh_sqlite() -> (String, PathBuf) {
    let dir = std::env::temp_dir().join(unique("cc_durable_sqlite"));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("clientcreds.db");
    (format!("sqlite://{}", path.display()), dir)
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A running `clientcreds-server` process.
struct Proc {
    child: Child,
    base: String,
    log: PathBuf,
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn command(
    database_url: Option<&str>,
    master: Option<&str>,
    extra: &[(&str, &str)],
) -> (Command, PathBuf, String) {
    let port = free_port();
    let log = std::env::temp_dir().join(format!("{}.log", unique("cc_durable_server")));
    let mut command = Command::new(env!("CARGO_BIN_EXE_clientcreds-server"));
    for (name, _) in std::env::vars() {
        if name.starts_with("CLIENTCREDS_") || name == "DATABASE_URL" {
            command.env_remove(name);
        }
    }
    command
        .env("CLIENTCREDS_ADDR", format!("127.0.0.1:{port}"))
        .env("CLIENTCREDS_ISSUER", ISSUER)
        .env("CLIENTCREDS_ROOT_TOKEN", ROOT)
        .env("RUST_LOG", "info")
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&log).unwrap())
        .stderr(std::fs::File::create(log.with_extension("err")).unwrap());
    if let Some(url) = database_url {
        command.env("DATABASE_URL", url);
    }
    if let Some(master) = master {
        command.env("CLIENTCREDS_MASTER_KEYS", master);
    }
    for (name, value) in extra {
        command.env(name, value);
    }
    (command, log, format!("http://127.0.0.1:{port}"))
}

/// Starts a server and waits until it answers.
async fn start(database_url: Option<&str>, master: Option<&str>, extra: &[(&str, &str)]) -> Proc {
    let (mut command, log, base) = command(database_url, master, extra);
    let child = command.spawn().unwrap();
    let mut proc = Proc { child, base, log };
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(status) = proc.child.try_wait().unwrap() {
            panic!("the server exited with {status}: {}", proc.output());
        }
        if reqwest::get(format!("{}/.well-known/jwks.json", proc.base))
            .await
            .is_ok_and(|r| r.status().is_success())
        {
            return proc;
        }
        assert!(
            Instant::now() < deadline,
            "the server did not start: {}",
            proc.output()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Runs a server that must refuse to start; its exit code and output.
fn refused(database_url: Option<&str>, master: Option<&str>) -> String {
    let (mut command, log, _) = command(database_url, master, &[]);
    let status = command.status().unwrap();
    assert!(!status.success(), "the server should have refused to start");
    read_logs(&log)
}

fn read_logs(log: &std::path::Path) -> String {
    format!(
        "{}{}",
        std::fs::read_to_string(log).unwrap_or_default(),
        std::fs::read_to_string(log.with_extension("err")).unwrap_or_default()
    )
}

impl Proc {
    fn output(&self) -> String {
        read_logs(&self.log)
    }

    /// `kill -9`.
    fn kill(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }

    async fn create_client(&self, name: &str) -> (String, String) {
        let response = reqwest::Client::new()
            .post(format!("{}/admin/v1/tenants/acme/clients", self.base))
            .bearer_auth(ROOT)
            .json(&json!({ "name": name }))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 201);
        assert_eq!(response.headers()["cache-control"], "no-store");
        let body: Value = response.json().await.unwrap();
        (
            body["client_id"].as_str().unwrap().to_owned(),
            body["client_secret"].as_str().unwrap().to_owned(),
        )
    }

    async fn token(&self, id: &str, secret: &str) -> Result<String, (u16, Value)> {
        let response = reqwest::Client::new()
            .post(format!("{}/oauth/token", self.base))
            .basic_auth(id, Some(secret))
            .form(&[("grant_type", "client_credentials")])
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        let body: Value = response.json().await.unwrap();
        if status == 200 {
            Ok(body["access_token"].as_str().unwrap().to_owned())
        } else {
            Err((status, body))
        }
    }

    async fn jwks(&self) -> (jsonwebtoken::jwk::JwkSet, String) {
        let response = reqwest::get(format!("{}/.well-known/jwks.json", self.base))
            .await
            .unwrap();
        let cache = response.headers()["cache-control"]
            .to_str()
            .unwrap()
            .to_owned();
        (response.json().await.unwrap(), cache)
    }

    async fn admin_post(&self, path: &str) -> u16 {
        reqwest::Client::new()
            .post(format!("{}{path}", self.base))
            .bearer_auth(ROOT)
            .send()
            .await
            .unwrap()
            .status()
            .as_u16()
    }
}

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

    // A client revoked through one replica is refused by the other, once
    // the notification has reached it: B authenticated the client from
    // its cache just before, so on a loaded machine its next request can
    // beat the notification by a few milliseconds (PERFORMANCE.md: p99
    // 14.5 ms). Polled for up to 2 s, well inside the cache's 5 s TTL.
    assert_eq!(
        a.admin_post(&format!("/admin/v1/tenants/acme/clients/{id}/revoke"))
            .await,
        200
    );
    let revoked = Instant::now();
    let (status, body) = loop {
        match b.token(&id, &secret).await {
            Err(refused) => break refused,
            Ok(_) => {
                assert!(
                    revoked.elapsed() < Duration::from_secs(2),
                    "replica B still issues 2 s after the revocation"
                );
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
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
