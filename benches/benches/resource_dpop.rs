//! `clientcreds-resource` with DPoP (RFC 9449 §7): a request through
//! `BearerAuthLayer::authorize` as `DPoP` (token and proof verified, the
//! binding checked, the proof recorded) against the same request as
//! `Bearer`, in the same run; the tokens differ only in `cnf`. And the
//! replay cache: the same number of checks from one thread and split
//! over two, against one `Mutex<HashMap>` (what a global lock costs).
//!
//! Every DPoP request carries a fresh proof, signed outside the timing
//! (a proof is single use: a repeated one would be refused as a replay).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::print_stderr
)]

use std::collections::HashMap;
use std::future::Future;
use std::hint::black_box;
use std::pin::pin;
use std::sync::{Arc, Barrier, Mutex};
use std::task::{Context, Poll, Waker};
use std::time::{Duration as StdDuration, Instant};

use clientcreds_jwt::dpop::{ProofRequest, key_thumbprint, make_proof};
use clientcreds_jwt::{Algorithm, KeySet, SigningKey, TokenVerifier, Validation, sign_jws};
use clientcreds_resource::{BearerAuthLayer, ReplayCache};
use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use http::Request;
use serde_json::json;
use time::OffsetDateTime;

const ISSUER: &str = "https://auth.example.com";
const API: &str = "https://api.example.com";
const URL: &str = "https://api.example.com/invoices";

struct Fixture {
    layer: BearerAuthLayer,
    caller: SigningKey,
    bound: String,
    unbound: String,
}

fn fixture() -> Fixture {
    let der = SigningKey::generate_pkcs8(Algorithm::EdDSA).unwrap();
    let signer = SigningKey::from_pkcs8_der(Algorithm::EdDSA, &der).unwrap();
    let keys = Arc::new(KeySet::new(
        SigningKey::from_pkcs8_der(Algorithm::EdDSA, &der).unwrap(),
    ));
    let caller = SigningKey::generate(Algorithm::EdDSA).unwrap();
    let now = OffsetDateTime::now_utc().unix_timestamp();
    let token = |cnf: Option<serde_json::Value>| {
        let mut claims = json!({
            "iss": ISSUER, "sub": "cc_3kTQm9vXcP2rWb7n", "aud": API, "iat": now, "nbf": now,
            "exp": now + 3600, "jti": "0b9c7a0e-4f7c-4a53-9d3c-2f1d6c1f8e21",
            "client_id": "cc_3kTQm9vXcP2rWb7n", "scope": "invoices:read invoices:write",
            "tenant": "acme", "roles": ["reader"],
        });
        if let Some(cnf) = cnf {
            claims["cnf"] = cnf;
        }
        sign_jws(&signer, "at+jwt", false, &claims).unwrap()
    };
    let bound = token(Some(json!({ "jkt": key_thumbprint(&caller).unwrap() })));
    let unbound = token(None);
    let verifier = Arc::new(TokenVerifier::new(keys, Validation::new(ISSUER, API)));
    Fixture {
        layer: BearerAuthLayer::new(verifier).require_scope("invoices:read"),
        caller,
        bound,
        unbound,
    }
}

impl Fixture {
    fn bearer(&self) -> Request<()> {
        Request::get("/invoices")
            .header("host", "api.example.com")
            .header("authorization", format!("Bearer {}", self.unbound))
            .body(())
            .unwrap()
    }

    /// A DPoP request with a fresh proof (jti `n`).
    fn dpop(&self, n: u64) -> Request<()> {
        let proof = make_proof(
            &self.caller,
            &ProofRequest {
                method: "GET",
                url: URL,
                access_token: Some(&self.bound),
                nonce: None,
                now: OffsetDateTime::now_utc(),
                jti: &format!("{n:016x}-bench"),
            },
        )
        .unwrap();
        Request::get("/invoices")
            .header("host", "api.example.com")
            .header("authorization", format!("DPoP {}", self.bound))
            .header("dpop", proof)
            .body(())
            .unwrap()
    }

    fn authorize(&self, mut request: Request<()>) {
        ready(self.layer.authorize(&mut request)).unwrap();
    }
}

/// Polls a future that must be ready at once (local keys, memory cache).
fn ready<T>(future: impl Future<Output = T>) -> T {
    match pin!(future).poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(value) => value,
        Poll::Pending => panic!("the layer waited"),
    }
}

fn schemes(c: &mut Criterion, f: &Fixture) {
    let mut group = c.benchmark_group("resource-dpop");
    group.bench_function("Bearer", |b| {
        b.iter_batched(
            || f.bearer(),
            |r| f.authorize(black_box(r)),
            BatchSize::SmallInput,
        );
    });
    let mut n = 0u64;
    group.bench_function("DPoP", |b| {
        b.iter_batched(
            || {
                n += 1;
                f.dpop(n)
            },
            |r| f.authorize(black_box(r)),
            BatchSize::SmallInput,
        );
    });
    group.finish();
}

/// The same-run ratio, interleaved (Bearer block, DPoP block, ...) so
/// that drift on a shared machine falls on both alike; requests are
/// built (and proofs signed) before each block's timing.
fn paired_ratio(f: &Fixture) {
    const BLOCK: usize = 500;
    let (mut bearer, mut dpop) = (Vec::new(), Vec::new());
    let mut n = 1u64 << 40;
    for _ in 0..25 {
        let requests: Vec<_> = (0..BLOCK).map(|_| f.bearer()).collect();
        let start = Instant::now();
        for r in requests {
            f.authorize(black_box(r));
        }
        bearer.push(start.elapsed() / BLOCK as u32);
        let requests: Vec<_> = (0..BLOCK)
            .map(|_| {
                n += 1;
                f.dpop(n)
            })
            .collect();
        let start = Instant::now();
        for r in requests {
            f.authorize(black_box(r));
        }
        dpop.push(start.elapsed() / BLOCK as u32);
    }
    bearer.sort();
    dpop.sort();
    let (b, d) = (bearer[bearer.len() / 2], dpop[dpop.len() / 2]);
    eprintln!(
        "resource-dpop: paired medians: Bearer {b:.2?}, DPoP {d:.2?}, ratio {:.3}",
        d.as_secs_f64() / b.as_secs_f64()
    );
}

/// `keys` checks split over `threads` threads, started together; with
/// `global`, one `Mutex<HashMap>` instead of the sharded cache. Every key
/// is recorded before the timing and has expired by then, so each timed
/// check is a first use that finds and renews its entry: the steady
/// state (hash, lock, lookup, write) without the maps' growth, which is
/// what a second thread could contend on.
fn record_all(keys: &Arc<Vec<String>>, threads: usize, global: bool) -> StdDuration {
    let cache = Arc::new(ReplayCache::with_capacity(keys.len() * 2));
    let map = Arc::new(Mutex::new(HashMap::<Box<str>, OffsetDateTime>::new()));
    let before = OffsetDateTime::now_utc() - time::Duration::minutes(5);
    for key in keys.iter() {
        if global {
            map.lock()
                .unwrap()
                .insert(key.as_str().into(), before + time::Duration::minutes(1));
        } else {
            assert!(
                cache
                    .record(key, before + time::Duration::minutes(1), before)
                    .unwrap()
            );
        }
    }
    let now = OffsetDateTime::now_utc();
    let until = now + time::Duration::minutes(1);
    let barrier = Arc::new(Barrier::new(threads + 1));
    let per = keys.len() / threads;
    let handles: Vec<_> = (0..threads)
        .map(|t| {
            let (keys, cache, map, barrier) =
                (keys.clone(), cache.clone(), map.clone(), barrier.clone());
            std::thread::spawn(move || {
                barrier.wait();
                for key in &keys[t * per..(t + 1) * per] {
                    if global {
                        let mut map = map.lock().unwrap();
                        let entry = map.get_mut(key.as_str()).unwrap();
                        assert!(*entry <= now);
                        *entry = until;
                    } else {
                        assert!(cache.record(key, until, now).unwrap());
                    }
                }
            })
        })
        .collect();
    barrier.wait();
    let start = Instant::now();
    for handle in handles {
        handle.join().unwrap();
    }
    start.elapsed()
}

fn replay_cache(c: &mut Criterion) {
    const KEYS: usize = 200_000;
    let keys: Arc<Vec<String>> = Arc::new(
        (0..KEYS)
            .map(|i| format!("dpop-rs:{:043}", i * 7919))
            .collect(),
    );
    let mut group = c.benchmark_group("replay-cache-200k-checks");
    group.sample_size(15);
    for (name, threads, global) in [
        ("ReplayCache, 1 thread", 1, false),
        ("ReplayCache, 2 threads", 2, false),
        ("one Mutex<HashMap>, 1 thread", 1, true),
        ("one Mutex<HashMap>, 2 threads", 2, true),
    ] {
        group.bench_function(name, |b| {
            b.iter_custom(|iters| (0..iters).map(|_| record_all(&keys, threads, global)).sum());
        });
    }
    group.finish();
    if full_run() {
        // Interleaved medians of the same work from 1 and from 2 threads.
        let mut runs: [Vec<StdDuration>; 4] = Default::default();
        for _ in 0..15 {
            for (i, (threads, global)) in [(1, false), (2, false), (1, true), (2, true)]
                .into_iter()
                .enumerate()
            {
                runs[i].push(record_all(&keys, threads, global));
            }
        }
        let median = |v: &mut Vec<StdDuration>| {
            v.sort();
            v[v.len() / 2]
        };
        let m: Vec<StdDuration> = runs.iter_mut().map(median).collect();
        eprintln!(
            "replay cache, {KEYS} checks: sharded 1 thread {:.2?}, 2 threads {:.2?} (ratio {:.3}); one Mutex<HashMap> 1 thread {:.2?}, 2 threads {:.2?} (ratio {:.3})",
            m[0],
            m[1],
            m[1].as_secs_f64() / m[0].as_secs_f64(),
            m[2],
            m[3],
            m[3].as_secs_f64() / m[2].as_secs_f64()
        );
    }
}

fn dpop(c: &mut Criterion) {
    let f = fixture();
    if full_run() {
        paired_ratio(&f);
    }
    schemes(c, &f);
    replay_cache(c);
}

/// Whether this is a benchmark run (`cargo bench`), not the test mode.
fn full_run() -> bool {
    std::env::args().any(|a| a == "--bench")
}

criterion_group!(benches, dpop);
criterion_main!(benches);
