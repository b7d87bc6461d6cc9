//! The admin console's clients page, server-side: a page of 50 clients
//! rendered through the router (`oneshot`: authentication, the registry's
//! list, maud, the security layer, the body collected) with 10,000
//! clients in the tenant, on the in-memory store. Beside it, the same page
//! from the JSON admin API, so the HTML's cost reads as a ratio; and a
//! search that matches one client (the store scans all 10,000).
//!
//! The target: under 50 ms per page. In test mode (`cargo test`)
//! 500 clients are used.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use clientcreds_axum::{ActorExtension, AdminApi};
use clientcreds_console::Console;
use clientcreds_registry::{Actor, NewClient, Policy, Registry};
use clientcreds_secret::{PepperKey, SecretHasher};
use clientcreds_store::{MemoryStore, TenantId};
use criterion::{Criterion, criterion_group, criterion_main};
use http_body_util::BodyExt;
use tokio::runtime::Runtime;
use tower::ServiceExt;

fn clients() -> usize {
    if std::env::args().any(|a| a == "--bench") {
        10_000
    } else {
        500
    }
}

fn request(path: &str, actor: &Actor) -> Request<Body> {
    let mut request = Request::get(path)
        .header(
            "cookie",
            "clientcreds_console_csrf=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        )
        .body(Body::empty())
        .unwrap();
    request.extensions_mut().insert(actor.clone());
    request
}

async fn fetch(router: &Router, path: &str, actor: &Actor) -> usize {
    let response = router.clone().oneshot(request(path, actor)).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK, "{path}");
    response
        .into_body()
        .collect()
        .await
        .unwrap()
        .to_bytes()
        .len()
}

fn console(c: &mut Criterion) {
    let runtime = Runtime::new().unwrap();
    let hasher = SecretHasher::hmac_sha256(PepperKey::new("k1", &[7; 32]).unwrap()).unwrap();
    let registry =
        Arc::new(Registry::new(Arc::new(MemoryStore::new()), hasher, Policy::default()).unwrap());
    let tenant = TenantId::new("acme").unwrap();
    let actor = Actor::tenant_admin(tenant.clone(), "admin@acme");
    let count = clients();
    runtime.block_on(async {
        for i in 0..count {
            let new = NewClient::named(format!("service-{i:05}"))
                .with_description("a client of the benchmark")
                .with_scopes(["read", "write"]);
            registry.create(&actor, &tenant, new).await.unwrap();
        }
    });
    let router = Router::new()
        .nest(
            "/console",
            Console::new(registry.clone(), ActorExtension)
                .unwrap()
                .router(),
        )
        .nest(
            "/admin/v1",
            AdminApi::new(registry, ActorExtension).router(),
        );
    let page = runtime.block_on(fetch(&router, "/console/t/acme/clients", &actor));
    assert!(page > 10_000, "a page of 50 rows");

    let mut group = c.benchmark_group(format!("console/{count} clients"));
    group.sample_size(30);
    group.bench_function("clients page of 50 (HTML)", |b| {
        b.iter(|| runtime.block_on(fetch(&router, "/console/t/acme/clients", &actor)));
    });
    group.bench_function("clients page of 50 (admin API JSON)", |b| {
        b.iter(|| {
            runtime.block_on(fetch(
                &router,
                "/admin/v1/tenants/acme/clients?limit=50",
                &actor,
            ))
        });
    });
    group.bench_function("search matching one (HTML)", |b| {
        b.iter(|| {
            runtime.block_on(fetch(
                &router,
                "/console/t/acme/clients?q=service-00042",
                &actor,
            ))
        });
    });
    group.finish();
}

criterion_group!(benches, console);
criterion_main!(benches);
