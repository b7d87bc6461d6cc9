//! PostgreSQL stopped and started again under a registry that keeps its
//! pool: calls fail fast with a store error while it is down, and succeed
//! again, without a new registry or pool, once it is back.
//!
//! This restarts the shared test server, so it is the only test in this
//! binary: cargo runs test binaries one after another, never two at once.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use clientcreds_registry::{Actor, Error, NewClient};
use clientcreds_store::TenantId;
use sqlx::postgres::PgPoolOptions;

/// How long the pool waits for a connection before a call fails.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(2);
/// The bound on a failing call while the server is down: the acquire
/// timeout plus slack for a loaded machine.
const FAIL_WITHIN: Duration = Duration::from_secs(8);
/// How long the pool may take to reconnect after the server is back.
const RECOVER_WITHIN: Duration = Duration::from_secs(10);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_restart_fails_cleanly_then_recovers() {
    let stop = server_command("CLIENTCREDS_TEST_PG_STOP");
    let start = server_command("CLIENTCREDS_TEST_PG_START");
    let options = PgPoolOptions::new()
        .max_connections(4)
        .acquire_timeout(ACQUIRE_TIMEOUT);
    let store = common::postgres_pool(options).await;
    let registry = common::registry(Arc::new(store));
    let tenant = TenantId::new("tenant-1").unwrap();
    let admin = Actor::tenant_admin(tenant.clone(), "alice");
    let issued = registry
        .create(
            &admin,
            &tenant,
            NewClient::named("svc-before").with_scopes(["read"]),
        )
        .await
        .unwrap();
    let (client_id, secret) = (
        issued.credentials.client_id,
        issued.credentials.client_secret,
    );
    registry.authenticate(&client_id, &secret).await.unwrap();

    // Down. The guard starts the server again even if an assertion below
    // fails, so later test binaries still find it.
    let mut server = Server {
        start: start.clone(),
        down: false,
    };
    run(&stop);
    server.down = true;

    let (took, got) = timed(registry.get(&admin, &tenant, &client_id)).await;
    assert!(
        matches!(got, Err(Error::Store(_))),
        "get while down: {got:?}"
    );
    assert!(took < FAIL_WITHIN, "get while down took {took:?}");
    let (took, created) =
        timed(registry.create(&admin, &tenant, NewClient::named("svc-down"))).await;
    assert!(
        matches!(created, Err(Error::Store(_))),
        "create while down: {created:?}"
    );
    assert!(took < FAIL_WITHIN, "create while down took {took:?}");
    let (took, authenticated) = timed(registry.authenticate(&client_id, &secret)).await;
    assert!(
        matches!(authenticated, Err(Error::Store(_))),
        "authenticate while down: {authenticated:?}"
    );
    assert!(took < FAIL_WITHIN, "authenticate while down took {took:?}");
    // The message says the store failed, and names no secret.
    let message = authenticated.unwrap_err().to_string();
    assert!(message.starts_with("store failed"), "{message}");
    assert!(!message.contains(secret.expose_secret()));

    // Up again: the same registry and pool recover.
    run(&start);
    server.down = false;
    let started = Instant::now();
    let view = loop {
        match registry.get(&admin, &tenant, &client_id).await {
            Ok(view) => break view,
            Err(Error::Store(_)) if started.elapsed() < RECOVER_WITHIN => {
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            Err(e) => panic!("get after restart, {:?} in: {e:?}", started.elapsed()),
        }
    };
    assert_eq!(view.name, "svc-before");
    registry.authenticate(&client_id, &secret).await.unwrap();
    let after = registry
        .create(&admin, &tenant, NewClient::named("svc-after"))
        .await
        .unwrap();
    registry
        .authenticate(
            &after.credentials.client_id,
            &after.credentials.client_secret,
        )
        .await
        .unwrap();
    // Nothing from the failed create landed.
    let listed = registry
        .list(&admin, &tenant, clientcreds_registry::ListQuery::default())
        .await
        .unwrap();
    let names: Vec<&str> = listed.clients.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, ["svc-before", "svc-after"]);
}

/// A shell command the test harness exports (see scripts/with-postgres.sh).
fn server_command(var: &str) -> String {
    common::database_url();
    std::env::var(var).unwrap_or_else(|_| {
        panic!("{var} is not set: run `scripts/with-postgres.sh cargo test -p clientcreds-sqlx`")
    })
}

fn run(command: &str) {
    let status = Command::new("sh")
        .arg("-c")
        .arg(command)
        .status()
        .expect("run sh");
    assert!(status.success(), "`{command}` failed: {status}");
}

async fn timed<T>(call: impl Future<Output = T>) -> (Duration, T) {
    let started = Instant::now();
    // A hang is a failure too, not a stuck test.
    let out = tokio::time::timeout(FAIL_WITHIN * 2, call)
        .await
        .expect("the call hung while the server was down");
    (started.elapsed(), out)
}

/// Starts the server again on drop if the test left it down.
struct Server {
    start: String,
    down: bool,
}

impl Drop for Server {
    fn drop(&mut self) {
        if self.down {
            let _ = Command::new("sh").arg("-c").arg(&self.start).status();
        }
    }
}
