//! Quotas and size bounds a tenant administrator cannot exceed: secrets
//! per client, clients per tenant, bytes of what a token carries.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::sync::Arc;

use clientcreds_jwt::{Algorithm, DEFAULT_MAX_TOKEN_LEN, KeySet, SigningKey, TokenIssuer};
use clientcreds_registry::{
    Actor, ClientUpdate, Error, ExchangeRequest, Limits, NewClient, Policy, RotateOptions,
    RotationMode, TokenService,
};
use clientcreds_secret::Secret;
use clientcreds_store::{AuditOutcome, ClaimValue};
use common::{admin, auth, tenant, world};
use time::Duration;

fn limits() -> Limits {
    Limits::default()
        .with_max_secrets_per_client(3)
        .with_max_clients_per_tenant(2)
}

fn assert_limit(result: Result<impl std::fmt::Debug, Error>, name: &str, max: u64) {
    match result {
        Err(Error::LimitReached { limit, max: m, .. }) => {
            assert_eq!((limit, m), (name, max));
        }
        other => panic!("expected the {name} limit, got {other:?}"),
    }
}

#[tokio::test]
async fn rotation_stops_at_the_secret_cap_and_only_usable_secrets_count() {
    let policy = Policy::default()
        .with_limits(limits())
        .with_secret_lifetime(Some(Duration::days(2)));
    let w = world(policy);
    let (t, a) = (tenant("acme"), admin("acme", "alice"));
    let issued = w
        .registry
        .create(&a, &t, NewClient::named("svc"))
        .await
        .unwrap();
    let id = issued.credentials.client_id.clone();
    let rotate = || w.registry.rotate(&a, &t, &id, RotateOptions::default());
    rotate().await.unwrap();
    let third = rotate().await.unwrap();
    let before = w.registry.get(&a, &t, &id).await.unwrap();
    assert_eq!(before.secrets.len(), 3);

    // A fourth usable secret is refused, with nothing changed and the
    // refusal audited; the error names the limit.
    let refused = rotate().await;
    let message = refused.as_ref().map(drop).unwrap_err().to_string();
    assert!(
        message.contains("secrets_per_client") && message.contains('3'),
        "{message}"
    );
    assert_limit(refused, "secrets_per_client", 3);
    assert_eq!(w.registry.get(&a, &t, &id).await.unwrap(), before);
    let trail = w
        .registry
        .audit(&a, &t, Some(&id), None, 100)
        .await
        .unwrap();
    assert!(matches!(
        &trail.last().unwrap().event.outcome,
        AuditOutcome::Refused { reason } if reason == "limit_reached:secrets_per_client"
    ));
    // Every secret still works.
    auth(&w.registry, &issued.credentials).await.unwrap();
    auth(&w.registry, &third.credentials).await.unwrap();

    // A zero grace window closes the old ones at once: allowed at the cap.
    let zero = w
        .registry
        .rotate(&a, &t, &id, RotateOptions::default().grace(Duration::ZERO))
        .await
        .unwrap();
    rotate().await.unwrap();
    rotate().await.unwrap();
    assert_limit(rotate().await, "secrets_per_client", 3);
    // Ending the grace window makes room.
    w.registry.end_grace(&a, &t, &id).await.unwrap();
    rotate().await.unwrap();
    rotate().await.unwrap();
    assert_limit(rotate().await, "secrets_per_client", 3);
    // Expired secrets do not count: three days on, all have expired.
    w.clock.advance(Duration::days(3));
    rotate().await.unwrap();
    auth(&w.registry, &zero.credentials).await.unwrap_err();
}

#[tokio::test]
async fn a_tenant_holds_at_most_its_quota_of_clients() {
    let w = Arc::new(world(Policy::default().with_limits(limits())));
    let (t, a) = (tenant("acme"), admin("acme", "alice"));
    let first = w
        .registry
        .create(&a, &t, NewClient::named("one"))
        .await
        .unwrap();
    w.registry
        .create(&a, &t, NewClient::named("two"))
        .await
        .unwrap();
    assert_limit(
        w.registry.create(&a, &t, NewClient::named("three")).await,
        "clients_per_tenant",
        2,
    );
    // A rotation into a new client adds one too.
    let replace = RotateOptions::default().mode(RotationMode::ReplaceClient);
    assert_limit(
        w.registry
            .rotate(&a, &t, &first.credentials.client_id, replace)
            .await,
        "clients_per_tenant",
        2,
    );
    // Another tenant has its own quota.
    let other = tenant("globex");
    w.registry
        .create(&admin("globex", "bob"), &other, NewClient::named("g"))
        .await
        .unwrap();
    // Deleting makes room again.
    w.registry
        .delete(&a, &t, &first.credentials.client_id)
        .await
        .unwrap();
    w.registry
        .create(&a, &t, NewClient::named("three"))
        .await
        .unwrap();

    // Concurrent creates on one registry do not overshoot together.
    let crowd = tenant("crowd");
    let tasks: Vec<_> = (0..12)
        .map(|i| {
            let w = w.clone();
            let crowd = crowd.clone();
            tokio::spawn(async move {
                w.registry
                    .create(&Actor::System, &crowd, NewClient::named(format!("c{i}")))
                    .await
            })
        })
        .collect();
    let mut created = 0;
    for task in tasks {
        match task.await.unwrap() {
            Ok(_) => created += 1,
            Err(e) => assert_limit(Err::<(), _>(e), "clients_per_tenant", 2),
        }
    }
    assert_eq!(created, 2);
}

fn claims_of(bytes: usize) -> ClaimValue {
    ClaimValue::List(
        (0..bytes / 100)
            .map(|i| format!("{i:03}{}", "r".repeat(94)))
            .collect(),
    )
}

#[tokio::test]
async fn what_a_token_carries_is_bounded_in_bytes_and_fits_a_verifiers_limit() {
    let w = world(Policy::default());
    let (t, a) = (tenant("acme"), admin("acme", "alice"));
    // Each field within its own rule, together too large.
    let too_big = NewClient::named("big")
        .with_claim("roles", claims_of(3_000))
        .with_audiences(
            (0..20).map(|i| format!("https://api-{i:02}.example.com/{}", "p".repeat(40))),
        );
    match w.registry.create(&a, &t, too_big).await {
        Err(Error::Invalid { field, reason }) => {
            assert_eq!(field, "grants");
            assert!(reason.contains("4096"), "{reason}");
        }
        other => panic!("expected an invalid grants error, got {other:?}"),
    }
    // Just under the budget: created, and its token (carrying all of it)
    // is one a verifier accepts by default.
    let near = NewClient::named("near")
        .with_scopes((0..20).map(|i| format!("scope:{i:02}")))
        .with_audiences(["https://api.example.com"])
        .with_claim("roles", claims_of(3_700));
    let issued = w.registry.create(&a, &t, near).await.unwrap();
    let keys = Arc::new(KeySet::new(SigningKey::generate(Algorithm::RS256).unwrap()));
    let registry = Arc::new(w.registry);
    let tokens = TokenService::new(
        registry.clone(),
        TokenIssuer::new(keys, "https://issuer.example.com"),
        "https://api.example.com",
    );
    let creds = &issued.credentials;
    let token = tokens
        .exchange(ExchangeRequest::client_credentials(
            creds.client_id.clone(),
            Secret::from(creds.client_secret.expose_secret()),
        ))
        .await
        .unwrap();
    let len = token.access_token.expose().len();
    assert!(len <= DEFAULT_MAX_TOKEN_LEN, "a {len}-byte token");

    // An update that grows it past the budget is refused; one that does
    // not grow it never is.
    let id = &creds.client_id;
    let grow = ClientUpdate::default().scopes((0..90).map(|i| format!("scope:{i:02}")));
    match registry.update(&a, &t, id, grow).await {
        Err(Error::Invalid { field, .. }) => assert_eq!(field, "grants"),
        other => panic!("expected an invalid grants error, got {other:?}"),
    }
    registry
        .update(&a, &t, id, ClientUpdate::default().name("renamed"))
        .await
        .unwrap();
}
