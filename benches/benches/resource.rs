//! `clientcreds-resource`: verification through a `RemoteKeySet` (its
//! cached snapshot, the hit path) against the local `TokenVerifier`, on
//! the same token and keys, in the same run; once on one thread and once
//! with 32 tasks on a two-worker runtime (lock contention on the hit path
//! would show as a ratio above the single-thread one).
//!
//! The remote key set is primed through an in-memory transport: the hit
//! path never touches the transport, so what is timed is exactly what a
//! request pays once the keys are cached.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::print_stderr
)]

use std::collections::BTreeMap;
use std::error::Error as StdError;
use std::future::Future;
use std::hint::black_box;
use std::pin::pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::{Duration as StdDuration, Instant};

use clientcreds_jwt::{
    Algorithm, KeySet, SigningKey, TokenClaims, TokenIssuer, TokenVerifier, Validation,
};
use clientcreds_resource::{BoxFuture, RemoteConfig, RemoteKeySet, Transport, VerifyAccess};
use criterion::{Criterion, criterion_group, criterion_main};
use time::{Duration, OffsetDateTime};

const ISSUER: &str = "https://auth.example.com";
const API: &str = "https://api.example.com";
const TASKS: usize = 32;

/// Serves one JWKS document from memory.
#[derive(Debug)]
struct Published(Vec<u8>);

impl Transport for Published {
    fn get(
        &self,
        _: http::Uri,
    ) -> BoxFuture<'static, Result<http::Response<Vec<u8>>, Box<dyn StdError + Send + Sync>>> {
        let body = self.0.clone();
        Box::pin(async move { Ok(http::Response::new(body)) })
    }
}

struct Fixture {
    token: String,
    local: Arc<TokenVerifier>,
    remote: RemoteKeySet,
    now: OffsetDateTime,
}

fn fixture(rt: &tokio::runtime::Runtime) -> Fixture {
    let keys = Arc::new(KeySet::new(SigningKey::generate(Algorithm::EdDSA).unwrap()));
    let now = OffsetDateTime::now_utc();
    let token = TokenIssuer::new(keys.clone(), ISSUER)
        .mint(&TokenClaims {
            client_id: "cc_3kTQm9vXcP2rWb7n",
            tenant: "acme",
            audience: &[API.to_owned()],
            scopes: &["invoices:read".to_owned(), "invoices:write".to_owned()],
            extra: &BTreeMap::from([("roles".to_owned(), vec!["reader".to_owned()])]),
            lifetime: Duration::hours(1),
            now,
            secret_id: None,
        })
        .unwrap()
        .access_token
        .expose()
        .to_owned();
    let jwks = serde_json::to_vec(&keys.jwks()).unwrap();
    // A day's lifetime: no refresh falls due during the run.
    let remote = RemoteKeySet::builder(Validation::new(ISSUER, API))
        .jwks_url(format!("{ISSUER}/jwks"))
        .config(RemoteConfig::default().with_default_ttl(Duration::hours(24)))
        .build(Published(jwks))
        .unwrap();
    rt.block_on(remote.refresh()).unwrap();
    // The same rules on both sides: the remote's validation as built.
    let local = Arc::new(TokenVerifier::new(keys, remote.validation().clone()));
    Fixture {
        token,
        local,
        remote,
        now,
    }
}

/// Polls a future that must be ready at once (the hit path never waits).
fn ready<T>(future: impl Future<Output = T>) -> T {
    match pin!(future).poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(value) => value,
        Poll::Pending => panic!("the hit path waited"),
    }
}

fn single_thread(c: &mut Criterion, rt: &tokio::runtime::Runtime, f: &Fixture) {
    let _entered = rt.enter();
    let mut group = c.benchmark_group("resource-verify");
    group.bench_function("local TokenVerifier", |b| {
        b.iter(|| f.local.verify_at(black_box(&f.token), f.now).unwrap());
    });
    group.bench_function("RemoteKeySet", |b| {
        b.iter(|| ready(f.remote.verify_at(black_box(&f.token), f.now)).unwrap());
    });
    let as_dyn: Arc<dyn VerifyAccess> = Arc::new(f.remote.clone());
    group.bench_function("RemoteKeySet as dyn VerifyAccess", |b| {
        b.iter(|| ready(as_dyn.verify_at(black_box(&f.token), f.now)).unwrap());
    });
    group.finish();
}

/// `TASKS` tasks each verifying `iters` times; the time per round of one
/// verification per task.
async fn concurrently(f: &Fixture, remote: bool, iters: u64) -> StdDuration {
    let start = Instant::now();
    let mut tasks = Vec::with_capacity(TASKS);
    for _ in 0..TASKS {
        let (local, keys, token, now) = (f.local.clone(), f.remote.clone(), f.token.clone(), f.now);
        tasks.push(tokio::spawn(async move {
            for _ in 0..iters {
                if remote {
                    keys.verify_at(black_box(&token), now).await.unwrap();
                } else {
                    local.verify_at(black_box(&token), now).unwrap();
                }
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    start.elapsed()
}

fn contended(c: &mut Criterion, f: &Fixture) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .unwrap();
    let mut group = c.benchmark_group("resource-verify-32-tasks");
    group.sample_size(20);
    for (name, remote) in [("local TokenVerifier", false), ("RemoteKeySet", true)] {
        group.bench_function(name, |b| {
            b.iter_custom(|iters| rt.block_on(concurrently(f, remote, iters)));
        });
    }
    group.finish();
}

/// The same-run ratio, measured interleaved (local, remote, local, ...)
/// so drift on a shared machine falls on both alike.
fn paired_ratio(rt: &tokio::runtime::Runtime, f: &Fixture) {
    let _entered = rt.enter();
    const BLOCK: u32 = 2_000;
    let (mut local, mut remote) = (Vec::new(), Vec::new());
    for _ in 0..30 {
        let start = Instant::now();
        for _ in 0..BLOCK {
            f.local.verify_at(black_box(&f.token), f.now).unwrap();
        }
        local.push(start.elapsed() / BLOCK);
        let start = Instant::now();
        for _ in 0..BLOCK {
            ready(f.remote.verify_at(black_box(&f.token), f.now)).unwrap();
        }
        remote.push(start.elapsed() / BLOCK);
    }
    local.sort();
    remote.sort();
    let (l, r) = (local[local.len() / 2], remote[remote.len() / 2]);
    eprintln!(
        "resource: paired medians: local {l:.2?}, remote {r:.2?}, ratio {:.3}",
        r.as_secs_f64() / l.as_secs_f64()
    );
}

/// The 32-task ratio, interleaved the same way: rounds of `ROUND`
/// verifications per task, local then remote, 15 times.
fn paired_contended_ratio(f: &Fixture) {
    const ROUND: u64 = 100;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .unwrap();
    let (mut local, mut remote) = (Vec::new(), Vec::new());
    for _ in 0..15 {
        local.push(rt.block_on(concurrently(f, false, ROUND)));
        remote.push(rt.block_on(concurrently(f, true, ROUND)));
    }
    local.sort();
    remote.sort();
    let per = |d: StdDuration| d / (ROUND as u32 * TASKS as u32);
    let (l, r) = (local[local.len() / 2], remote[remote.len() / 2]);
    eprintln!(
        "resource: {TASKS} tasks on 2 workers, paired medians per verification: local {:.2?}, remote {:.2?}, ratio {:.3}",
        per(l),
        per(r),
        r.as_secs_f64() / l.as_secs_f64()
    );
}

fn resource(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let f = fixture(&rt);
    // The interleaved ratios take a while: benchmark runs only (the test
    // mode of `cargo test --benches` runs each criterion bench once).
    if full_run() {
        paired_ratio(&rt, &f);
        paired_contended_ratio(&f);
    }
    single_thread(c, &rt, &f);
    contended(c, &f);
}

/// Whether this is a benchmark run (`cargo bench`), not the test mode.
fn full_run() -> bool {
    std::env::args().any(|a| a == "--bench")
}

criterion_group!(benches, resource);
criterion_main!(benches);
