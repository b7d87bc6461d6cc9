//! Real `clientcreds-server` processes for tests: start, stop, talk to
//! them as a client and as the platform administrator.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

pub(crate) const ROOT: &str = "durable-root-token-0123456789abcdef";
pub(crate) const ISSUER: &str = "https://issuer.durable.test";
pub(crate) const AUDIENCE: &str = "https://issuer.durable.test/api/v1";
pub(crate) const K1: &str = "k1:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8";
pub(crate) const K2: &str = "k2:ICEiIyQlJicoKSorLC0uLzAxMjM0NTY3ODk6Ozw9Pj8";
pub(crate) const K1_IMPOSTOR: &str = "k1:ICEiIyQlJicoKSorLC0uLzAxMjM0NTY3ODk6Ozw9Pj8";

static COUNTER: AtomicUsize = AtomicUsize::new(0);

pub(crate) fn unique(prefix: &str) -> String {
    format!(
        "{prefix}_{}_{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

/// A fresh PostgreSQL database on the test server; its URL.
pub(crate) async fn fresh_postgres() -> String {
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

pub(crate) fn fresh_sqlite() -> (String, PathBuf) {
    let dir = std::env::temp_dir().join(unique("cc_durable_sqlite"));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("clientcreds.db");
    (format!("sqlite://{}", path.display()), dir)
}

pub(crate) fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A running `clientcreds-server` process.
pub(crate) struct Proc {
    pub(crate) child: Child,
    pub(crate) base: String,
    pub(crate) log: PathBuf,
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub(crate) fn command(
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
    let base = format!("http://127.0.0.1:{port}");
    // `{base}` in a value stands for the server's own URL (an issuer that
    // is the address it listens on, for callers that discover it).
    for (name, value) in extra {
        command.env(name, value.replace("{base}", &base));
    }
    (command, log, base)
}

/// Starts a server and waits until it answers.
pub(crate) async fn start(
    database_url: Option<&str>,
    master: Option<&str>,
    extra: &[(&str, &str)],
) -> Proc {
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
pub(crate) fn refused(database_url: Option<&str>, master: Option<&str>) -> String {
    let (mut command, log, _) = command(database_url, master, &[]);
    let status = command.status().unwrap();
    assert!(!status.success(), "the server should have refused to start");
    read_logs(&log)
}

pub(crate) fn read_logs(log: &std::path::Path) -> String {
    format!(
        "{}{}",
        std::fs::read_to_string(log).unwrap_or_default(),
        std::fs::read_to_string(log.with_extension("err")).unwrap_or_default()
    )
}

impl Proc {
    pub(crate) fn output(&self) -> String {
        read_logs(&self.log)
    }

    /// `kill -9`.
    pub(crate) fn kill(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }

    pub(crate) async fn create_client(&self, name: &str) -> (String, String) {
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

    pub(crate) async fn token(&self, id: &str, secret: &str) -> Result<String, (u16, Value)> {
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

    pub(crate) async fn jwks(&self) -> (jsonwebtoken::jwk::JwkSet, String) {
        let response = reqwest::get(format!("{}/.well-known/jwks.json", self.base))
            .await
            .unwrap();
        let cache = response.headers()["cache-control"]
            .to_str()
            .unwrap()
            .to_owned();
        (response.json().await.unwrap(), cache)
    }

    pub(crate) async fn admin_post(&self, path: &str) -> u16 {
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
