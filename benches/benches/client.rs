//! `clientcreds-client`: a cached `token()` call on one task and across 32
//! tasks (the hit path: no lock, no I/O), beside the cost of one real token
//! request to the reference server over loopback HTTP.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::future::Future as _;
use std::hint::black_box;
use std::pin::pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant, SystemTime};

use clientcreds_client::{
    ClientSecret, TokenClient, TokenRequest, TokenSource, Transport, TransportError,
};
use clientcreds_registry::{Actor, NewClient};
use clientcreds_server::{Config, Server};
use clientcreds_store::TenantId;
use criterion::{Criterion, criterion_group, criterion_main};

/// Answers every token request at once with a one-hour token: only the
/// first call of a benchmark reaches it.
#[derive(Debug)]
struct Canned;

#[async_trait::async_trait]
impl Transport for Canned {
    async fn send(
        &self,
        _request: http::Request<Vec<u8>>,
    ) -> Result<http::Response<Vec<u8>>, TransportError> {
        let body = br#"{"access_token":"eyJhbGciOiJFZERTQSJ9.e30.c2ln","token_type":"Bearer","expires_in":3600}"#;
        Ok(http::Response::new(body.to_vec()))
    }
}

fn warm_source(runtime: &tokio::runtime::Runtime) -> TokenSource {
    let tokens = TokenClient::builder("client-1", ClientSecret::new("secret"))
        .token_endpoint("https://as.example/oauth/token")
        .transport(Arc::new(Canned))
        .build()
        .unwrap();
    let source = tokens
        .source(
            TokenRequest::new()
                .scope("echo")
                .audience("https://api.example"),
        )
        .unwrap();
    runtime.block_on(source.token()).unwrap();
    source
}

fn cached(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let source = warm_source(&runtime);
    let mut group = c.benchmark_group("client/cached_token");

    // The hit path completes on its first poll: poll it directly, so that
    // no executor's cost is measured.
    group.bench_function("one_task", |b| {
        let mut cx = Context::from_waker(Waker::noop());
        b.iter(|| {
            let future = pin!(source.token());
            match future.poll(&mut cx) {
                Poll::Ready(token) => black_box(token.unwrap()),
                Poll::Pending => panic!("a cached token must not wait"),
            }
        });
    });

    // 32 tasks on the 2-thread runtime, each taking iters/32 tokens; the
    // figure is wall time per call over all tasks.
    group.bench_function("32_tasks", |b| {
        b.iter_custom(|iters| {
            let per_task = iters.div_ceil(32);
            runtime.block_on(async {
                let started = Instant::now();
                let tasks: Vec<_> = (0..32)
                    .map(|_| {
                        let source = source.clone();
                        tokio::spawn(async move {
                            for _ in 0..per_task {
                                black_box(source.token().await.unwrap());
                            }
                        })
                    })
                    .collect();
                for task in tasks {
                    task.await.unwrap();
                }
                started
                    .elapsed()
                    .mul_f64(iters as f64 / (per_task * 32) as f64)
            })
        });
    });

    // Baseline for the same 32-task loop: a hand-written cache with the
    // token behind one global std mutex, reading the clock and checking the
    // refresh time as the crate does. Not the crate's code.
    let token = runtime.block_on(source.token()).unwrap();
    let refresh_at = token.expires_at() - Duration::from_secs(60);
    let locked = Arc::new(std::sync::Mutex::new(Some(token)));
    group.bench_function("32_tasks_baseline_global_mutex", |b| {
        b.iter_custom(|iters| {
            let per_task = iters.div_ceil(32);
            runtime.block_on(async {
                let started = Instant::now();
                let tasks: Vec<_> = (0..32)
                    .map(|_| {
                        let locked = locked.clone();
                        tokio::spawn(async move {
                            for _ in 0..per_task {
                                let now = SystemTime::now();
                                let token = locked.lock().unwrap().clone();
                                black_box(token.filter(|_| now < refresh_at).unwrap());
                            }
                        })
                    })
                    .collect();
                for task in tasks {
                    task.await.unwrap();
                }
                started
                    .elapsed()
                    .mul_f64(iters as f64 / (per_task * 32) as f64)
            })
        });
    });
    group.finish();
}

/// One token request through the cache to the reference server on
/// loopback: HTTP, client authentication (HMAC), EdDSA signing, parsing.
fn real_request(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let source = runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = Server::new(Config::for_addr(addr)).await.unwrap();
        let router = server.router();
        tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
        let issued = server
            .registry()
            .create(
                &Actor::System,
                &TenantId::new("bench").unwrap(),
                NewClient::named("bench").with_scopes(["echo"]),
            )
            .await
            .unwrap();
        TokenClient::builder(
            issued.credentials.client_id.clone(),
            ClientSecret::new(issued.credentials.client_secret.expose_secret()),
        )
        .token_endpoint(format!("http://{addr}/oauth/token"))
        .build()
        .unwrap()
        .source(TokenRequest::new().scope("echo"))
        .unwrap()
    });
    let mut group = c.benchmark_group("client/token_request");
    group.measurement_time(Duration::from_secs(5));
    group.bench_function("reference_server_loopback", |b| {
        b.iter(|| {
            runtime.block_on(async {
                let token = source.token().await.unwrap();
                // Drop it, so that the next call asks the server again.
                source.invalidate(&token).await;
                black_box(token)
            })
        });
    });
    group.finish();
}

criterion_group!(benches, cached, real_request);
criterion_main!(benches);
