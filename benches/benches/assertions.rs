//! Client assertions (issue 23): a token exchange authenticated by an
//! EdDSA `private_key_jwt` assertion against the same exchange
//! authenticated by a secret, in one process on one registry; and the
//! in-memory replay check from one thread and from two, beside a store
//! behind one global lock (the shape the replay store must not have).
//!
//! The PostgreSQL replay check (one round trip) is measured when
//! `DATABASE_URL` is set (`scripts/with-postgres.sh cargo bench -p
//! clientcreds-benches --bench assertions`): the check against `SELECT 1`
//! and against a two-statement check on the same pool.
//!
//! `CLIENTCREDS_BENCH_ASSERTIONS=exchange,replay,postgres` picks parts.

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

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64URL;
use clientcreds_benches::{full_run, paired_batches};
use clientcreds_jwt::{
    Algorithm, KeySet, PublicJwk, SigningKey, TokenIssuer, TokenVerifier, Validation, VerifyingKey,
    sign_jws,
};
use clientcreds_registry::{
    Actor, AssertionPolicy, ClientAssertion, ClientAssertions, Clock as _, ExchangeRequest,
    ManualClock, NewClient, NewClientAuth, NewClientKey, Policy, Registry, TokenService,
};
use clientcreds_secret::{PepperKey, Secret, SecretHasher};
use clientcreds_store::{MemoryReplayStore, MemoryStore, ReplayCheck, ReplayStore, TenantId};
use criterion::{BatchSize, BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use serde_json::json;
use time::{Duration, OffsetDateTime};
use tokio::runtime::Runtime;

const ISSUER: &str = "https://auth.example.com";
const API: &str = "https://api.example.com";
const SCOPES: [&str; 2] = ["invoices:read", "invoices:write"];
const PEPPER: [u8; 32] = [0x5a; 32];
/// How far the registry's clock moves per assertion signed: a replay
/// entry lives for the assertion's 60 s plus 30 s of leeway, so the
/// replay store holds about 9,000 live entries however long the run is
/// (at the real clock and ~20k exchanges/s it would hold ~2M and refuse
/// past its 1M bound; see docs/PERFORMANCE.md).
const CLOCK_STEP: Duration = Duration::milliseconds(10);

/// One registry, one token issuer (EdDSA access tokens), two clients with
/// the same scopes and audience: one with a secret, one with an inline
/// Ed25519 key.
struct Exchange {
    rt: Runtime,
    service: TokenService,
    clock: Arc<ManualClock>,
    secret_client: (String, String),
    keyed_client: String,
    key: SigningKey,
    verifier: TokenVerifier,
    /// The client's stored public JWK, as the registry keeps it (text).
    stored_jwk: String,
}

impl Exchange {
    fn new() -> Self {
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let store = Arc::new(MemoryStore::new());
        let clock = Arc::new(ManualClock::new(OffsetDateTime::now_utc()));
        // A one-day last-used interval: no measured call makes the
        // advisory last-used write, on either side.
        let policy = Policy::default().with_last_used_interval(Duration::days(1));
        let hasher = SecretHasher::hmac_sha256(PepperKey::new("k1", &PEPPER).unwrap()).unwrap();
        let assertions = ClientAssertions::new(
            AssertionPolicy::default(),
            Arc::new(MemoryReplayStore::default()),
        )
        .unwrap();
        let registry = Arc::new(
            Registry::new(store, hasher, policy)
                .unwrap()
                .with_clock(clock.clone())
                .with_client_assertions(assertions),
        );
        let keys = Arc::new(KeySet::new(SigningKey::generate(Algorithm::EdDSA).unwrap()));
        let service = TokenService::new(
            registry.clone(),
            TokenIssuer::new(keys.clone(), ISSUER),
            API,
        );
        let tenant = TenantId::new("acme").unwrap();
        let client = |name: &str| {
            NewClient::named(name)
                .with_scopes(SCOPES)
                .with_audiences([API])
        };
        let issued = rt
            .block_on(registry.create(&Actor::System, &tenant, client("secret")))
            .unwrap();
        let key = SigningKey::generate(Algorithm::EdDSA).unwrap();
        let public: PublicJwk = key.verifying_key().public_jwk().unwrap().clone();
        let stored_jwk = serde_json::to_string(&public).unwrap();
        let keyed = rt
            .block_on(registry.create_with_keys(
                &Actor::System,
                &tenant,
                client("keyed"),
                NewClientAuth::private_key_jwt([NewClientKey::new(public)]),
            ))
            .unwrap();
        Self {
            rt,
            service,
            clock,
            secret_client: (
                issued.credentials.client_id.clone(),
                issued.credentials.client_secret.expose_secret().to_owned(),
            ),
            keyed_client: keyed.client_id,
            key,
            verifier: TokenVerifier::new(keys, Validation::new(ISSUER, API)),
            stored_jwk,
        }
    }

    fn secret_request(&self) -> ExchangeRequest {
        let (id, secret) = &self.secret_client;
        ExchangeRequest::client_credentials(id.clone(), Secret::from(secret.clone()))
            .with_scope(SCOPES.join(" "))
    }

    /// A fresh assertion (its own `jti`, valid 60 s from the registry's
    /// clock, which then moves on by [`CLOCK_STEP`]), as a caller sends it:
    /// with `client_id`, `typ` `client-authentication+jwt` and the key's
    /// `kid`. Signed here, outside any timing: signing is the caller's work.
    fn assertion_request(&self) -> ExchangeRequest {
        let now = self.clock.now().unix_timestamp();
        self.clock.advance(CLOCK_STEP);
        let id = &self.keyed_client;
        let jti = B64URL.encode(rand_bytes());
        let claims = json!({
            "iss": id, "sub": id, "aud": ISSUER,
            "iat": now, "exp": now + 60, "jti": jti,
        });
        let text = sign_jws(&self.key, "client-authentication+jwt", false, &claims).unwrap();
        ExchangeRequest::with_assertion(ClientAssertion::new(Some(id.clone()), text))
            .with_scope(SCOPES.join(" "))
    }

    fn run(&self, request: ExchangeRequest) {
        black_box(self.rt.block_on(self.service.exchange(request)).unwrap());
    }

    /// `n` exchanges of requests built beforehand, timed.
    fn timed(&self, requests: Vec<ExchangeRequest>) -> StdDuration {
        let start = Instant::now();
        for request in requests {
            self.run(black_box(request));
        }
        start.elapsed()
    }
}

/// 16 random bytes for a `jti` (the operating system's generator through
/// a throwaway Ed25519 key would be slow; a counter mixed by SHA-256 is
/// unique, which is all a `jti` must be).
fn rand_bytes() -> [u8; 16] {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let digest = clientcreds_jwt::sha256(&n.to_le_bytes());
    let mut out = [0u8; 16];
    out.copy_from_slice(&digest[..16]);
    out
}

/// (a) The exchange with an EdDSA assertion against the exchange with a
/// secret, and the pieces of the difference: the raw Ed25519 check of
/// the assertion's signature, and reading the stored JWK into a key.
fn exchange(c: &mut Criterion) {
    if !part("exchange") {
        return;
    }
    let x = Exchange::new();
    // Both work, and their tokens verify.
    for request in [x.secret_request(), x.assertion_request()] {
        let response = x.rt.block_on(x.service.exchange(request)).unwrap();
        let context = x.verifier.verify(response.access_token.expose()).unwrap();
        assert_eq!(context.scopes, SCOPES);
    }

    let mut group = c.benchmark_group("assertion-exchange");
    group.bench_function("secret", |b| {
        b.iter_batched(
            || x.secret_request(),
            |request| x.run(request),
            BatchSize::SmallInput,
        );
    });
    group.bench_function("private_key_jwt_eddsa", |b| {
        b.iter_batched(
            || x.assertion_request(),
            |request| x.run(request),
            BatchSize::SmallInput,
        );
    });
    // What the assertion adds, piece by piece: the signature check on a
    // parsed key, and the stored JWK read into a key (JSON, then the key).
    let sample = x.assertion_request();
    let text = sample.assertion.as_ref().unwrap().expose().to_owned();
    let (input, signature) = text.rsplit_once('.').unwrap();
    let signature = B64URL.decode(signature).unwrap();
    let verifying = x.key.verifying_key().clone();
    group.bench_function("raw_ed25519_verify", |b| {
        b.iter(|| assert!(verifying.verify(black_box(input.as_bytes()), black_box(&signature))));
    });
    group.bench_function("stored_jwk_to_key", |b| {
        b.iter(|| {
            let jwk: PublicJwk = serde_json::from_str(black_box(&x.stored_jwk)).unwrap();
            VerifyingKey::from_jwk(&jwk).unwrap()
        });
    });
    group.finish();

    let secrets = |n: u64| x.timed((0..n).map(|_| x.secret_request()).collect());
    let assertions = |n: u64| x.timed((0..n).map(|_| x.assertion_request()).collect());
    paired_batches(
        "exchange private_key_jwt EdDSA / secret",
        8,
        200,
        assertions,
        secrets,
    );
    // The floor of the assertion's exchange: the secret's exchange plus
    // the one Ed25519 verification that an assertion needs beyond it.
    paired_batches(
        "exchange private_key_jwt EdDSA / (secret exchange + raw Ed25519 verify)",
        8,
        200,
        assertions,
        |n| {
            let requests: Vec<ExchangeRequest> = (0..n).map(|_| x.secret_request()).collect();
            let start = Instant::now();
            for request in requests {
                x.run(black_box(request));
                assert!(verifying.verify(black_box(input.as_bytes()), black_box(&signature)));
            }
            start.elapsed()
        },
    );
}

/// (b) The replay check from one thread and from two, on the sharded
/// memory store and on a store behind one global `Mutex` (the control:
/// what a global lock looks like in the same measurement).
fn replay(c: &mut Criterion) {
    if !part("replay") {
        return;
    }
    let now = OffsetDateTime::now_utc();
    let until = now + Duration::minutes(5);
    let later = now + Duration::hours(1);
    // Room for criterion's largest warm-up call (emptied after each).
    let sharded: Arc<dyn ReplayStore> = Arc::new(MemoryReplayStore::with_capacity(16_000_000));
    let global: Arc<dyn ReplayStore> = Arc::new(GlobalLockReplay::default());
    let mut group = c.benchmark_group("assertion-replay");
    // Short windows: every call makes its keys first (untimed).
    group.warm_up_time(StdDuration::from_secs(1));
    group.measurement_time(StdDuration::from_secs(3));
    group.sample_size(30);
    for (name, store) in [("memory", &sharded), ("global_mutex", &global)] {
        for threads in [1_usize, 2] {
            group.throughput(Throughput::Elements(1));
            group.bench_function(BenchmarkId::new(name, format!("{threads}_threads")), |b| {
                b.iter_custom(|iters| {
                    let spent = checks(store.as_ref(), threads, iters, until, now);
                    // Untimed: empty the store for the next sample.
                    ready(store.prune_replays(later)).unwrap();
                    spent
                });
            });
        }
    }
    group.finish();
    for (name, store) in [("memory", &sharded), ("global_mutex", &global)] {
        paired_batches(
            &format!("replay {name}: wall time per check, 2 threads / 1 thread"),
            if full_run() { 50_000 } else { 8 },
            200,
            |n| {
                let t = checks(store.as_ref(), 2, n, until, now);
                ready(store.prune_replays(later)).unwrap();
                t
            },
            |n| {
                let t = checks(store.as_ref(), 1, n, until, now);
                ready(store.prune_replays(later)).unwrap();
                t
            },
        );
    }
}

/// `total` first-use checks of distinct keys, split over `threads`
/// threads that start together; the wall time from the start to the last
/// one done. Keys are made before the start.
fn checks(
    store: &dyn ReplayStore,
    threads: usize,
    total: u64,
    until: OffsetDateTime,
    now: OffsetDateTime,
) -> StdDuration {
    let per_thread = total.div_ceil(threads as u64);
    let keys: Vec<Vec<String>> = (0..threads)
        .map(|_| {
            (0..per_thread)
                .map(|_| B64URL.encode(rand_bytes()))
                .collect()
        })
        .collect();
    let barrier = Barrier::new(threads + 1);
    std::thread::scope(|scope| {
        for keys in &keys {
            let barrier = &barrier;
            scope.spawn(move || {
                barrier.wait();
                for key in keys {
                    let answer = ready(store.check_and_record(black_box(key), until, now));
                    assert_eq!(answer.unwrap(), ReplayCheck::First);
                }
                barrier.wait();
            });
        }
        barrier.wait();
        let start = Instant::now();
        barrier.wait();
        start.elapsed()
    })
}

/// Polls a future that must be ready at once (the memory stores never
/// wait), without an executor.
fn ready<T>(future: impl Future<Output = T>) -> T {
    let mut future = pin!(future);
    match future
        .as_mut()
        .poll(&mut Context::from_waker(Waker::noop()))
    {
        Poll::Ready(value) => value,
        Poll::Pending => panic!("an in-memory replay check waited"),
    }
}

/// The control: the same check behind one process-wide lock.
#[derive(Debug, Default)]
struct GlobalLockReplay {
    keys: Mutex<HashMap<Box<str>, OffsetDateTime>>,
}

#[async_trait::async_trait]
impl ReplayStore for GlobalLockReplay {
    async fn check_and_record(
        &self,
        key: &str,
        expires_at: OffsetDateTime,
        now: OffsetDateTime,
    ) -> Result<ReplayCheck, clientcreds_store::StoreError> {
        let mut keys = self.keys.lock().unwrap();
        match keys.get_mut(key) {
            Some(until) if *until > now => Ok(ReplayCheck::Replayed),
            Some(until) => {
                *until = expires_at;
                Ok(ReplayCheck::First)
            }
            None => {
                keys.insert(key.into(), expires_at);
                Ok(ReplayCheck::First)
            }
        }
    }

    async fn prune_replays(
        &self,
        now: OffsetDateTime,
    ) -> Result<u64, clientcreds_store::StoreError> {
        let mut keys = self.keys.lock().unwrap();
        let before = keys.len();
        keys.retain(|_, until| *until > now);
        Ok((before - keys.len()) as u64)
    }
}

/// (c) The PostgreSQL replay check, when `DATABASE_URL` is set: one
/// statement, one round trip, so it costs about what `SELECT 1` costs on
/// the same pool, and clearly less than a check made of two statements.
fn postgres(c: &mut Criterion) {
    if !part("postgres") {
        return;
    }
    let Ok(url) = std::env::var("DATABASE_URL") else {
        eprintln!("assertion-replay-postgres: DATABASE_URL is not set, skipped");
        return;
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    // One connection: every call is one client-server exchange on it.
    let pool = rt
        .block_on(
            sqlx::postgres::PgPoolOptions::new()
                .max_connections(1)
                .connect(&url),
        )
        .unwrap();
    let store = clientcreds_sqlx::PgStore::from_pool(pool.clone());
    rt.block_on(store.migrate()).unwrap();
    let now = OffsetDateTime::now_utc();
    let until = now + Duration::minutes(5);
    let check = |key: &str| {
        let answer = rt
            .block_on(store.check_and_record(key, until, now))
            .unwrap();
        assert_eq!(answer, ReplayCheck::First);
    };
    let select_one = || {
        rt.block_on(sqlx::query("SELECT 1").fetch_one(&pool))
            .unwrap();
    };
    // The control: a check made of two statements (look, then insert),
    // as a store without an atomic upsert would make it.
    let two_statements = |key: &str| {
        rt.block_on(async {
            let seen = sqlx::query("SELECT 1 FROM clientcreds_replay WHERE key = $1")
                .bind(key)
                .fetch_optional(&pool)
                .await
                .unwrap();
            assert!(seen.is_none());
            sqlx::query("INSERT INTO clientcreds_replay (key, expires_at) VALUES ($1, $2)")
                .bind(format!("{key}-2"))
                .bind((until - OffsetDateTime::UNIX_EPOCH).whole_microseconds() as i64)
                .execute(&pool)
                .await
                .unwrap();
        });
    };
    // Prefixed, so that the clean-up below removes only this run's rows.
    let keys = |n: u64| -> Vec<String> {
        (0..n)
            .map(|_| format!("bench-{}", B64URL.encode(rand_bytes())))
            .collect()
    };
    let mut group = c.benchmark_group("assertion-replay-postgres");
    group.bench_function("check_and_record", |b| {
        b.iter_batched(
            || keys(1).remove(0),
            |key| check(&key),
            BatchSize::SmallInput,
        );
    });
    group.bench_function("select_1", |b| b.iter(select_one));
    group.bench_function("two_statements_control", |b| {
        b.iter_batched(
            || keys(1).remove(0),
            |key| two_statements(&key),
            BatchSize::SmallInput,
        );
    });
    group.finish();
    let timed = |f: &dyn Fn(&str), n: u64| {
        let keys = keys(n);
        let start = Instant::now();
        for key in &keys {
            f(key);
        }
        start.elapsed()
    };
    paired_batches(
        "postgres replay check / SELECT 1",
        8,
        200,
        |n| timed(&check, n),
        |n| timed(&|_| select_one(), n),
    );
    paired_batches(
        "postgres two-statement control / SELECT 1",
        8,
        200,
        |n| timed(&two_statements, n),
        |n| timed(&|_| select_one(), n),
    );
    rt.block_on(
        sqlx::query("DELETE FROM clientcreds_replay WHERE key LIKE 'bench-%'").execute(&pool),
    )
    .unwrap();
}

/// Whether to run `name` (`exchange`, `replay`, `postgres`): all of them,
/// unless `CLIENTCREDS_BENCH_ASSERTIONS` lists some (comma-separated; the
/// paired ratios run outside criterion's filter).
fn part(name: &str) -> bool {
    std::env::var("CLIENTCREDS_BENCH_ASSERTIONS")
        .map_or(true, |parts| parts.split(',').any(|p| p == name))
}

criterion_group!(benches, exchange, replay, postgres);
criterion_main!(benches);
