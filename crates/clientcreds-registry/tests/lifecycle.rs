//! Lifecycle rules through the public API: validation without partial
//! writes, tenancy, audit content, last-used throttling, hash upgrades,
//! advisory writes, pagination.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::sync::Arc;

use async_trait::async_trait;
use clientcreds_registry::{
    Actor, AuthFailure, ClientUpdate, Error, ListQuery, NewClient, Policy, Registry, RotateOptions,
    SecretLifetime,
};
use clientcreds_secret::{PepperKey, Secret, SecretHasher};
use clientcreds_store::{
    ActivityEvent, ActivityLog, ActivityQuery, ActivityRecord, AuditEvent, AuditLog, AuditOutcome,
    AuditQuery, AuditRecord, ClaimValue, ClientPage, ClientQuery, ClientRecord, ClientStore,
    Commit, MemoryStore, SecretUse, Store, StoreError, TenantId,
};
use common::{admin, auth, keep, tenant, world};
use time::Duration;

/// Every claim the token sets itself (clientcreds-jwt's list), the default
/// tenant claim and the registered identity claims are refused as extra
/// claims; an ordinary name is accepted.
#[tokio::test]
async fn reserved_claim_names_are_refused_as_extra_claims() {
    let w = world(Policy::default());
    let t = tenant("t1");
    let a = admin("t1", "alice");
    let names = clientcreds_jwt::RESERVED_CLAIMS.iter().copied().chain([
        "tenant",
        "azp",
        "cnf",
        "act",
        "may_act",
        "auth_time",
        "acr",
        "amr",
        "scp",
        "username",
    ]);
    for name in names {
        let new = NewClient::named("c").with_claim(name, ClaimValue::Text("x".into()));
        match w.registry.create(&a, &t, new).await {
            Err(Error::Invalid { field, .. }) => assert_eq!(field, "extra_claims", "{name}"),
            other => panic!("{name}: expected Invalid, got {other:?}"),
        }
    }
    assert_eq!(w.store.len(), 0, "nothing half-written");
    let new = NewClient::named("c").with_claim("roles", ClaimValue::Text("reader".into()));
    w.registry.create(&a, &t, new).await.unwrap();
}

#[tokio::test]
async fn bad_input_is_a_typed_error_naming_the_field_and_writes_nothing() {
    let w = world(
        Policy::default()
            .with_max_secret_lifetime(Some(Duration::days(365)))
            .with_secret_lifetime(Some(Duration::days(180))),
    );
    let t = tenant("t1");
    let a = admin("t1", "alice");
    let cases: Vec<(NewClient, &str)> = vec![
        (NewClient::named(""), "name"),
        (NewClient::named("   "), "name"),
        (NewClient::named("x".repeat(201)), "name"),
        (NewClient::named("bad\u{0}name"), "name"),
        (
            NewClient::named("ok").with_description("d".repeat(2001)),
            "description",
        ),
        (NewClient::named("ok").with_scopes(["a b"]), "scopes"),
        (
            NewClient::named("ok").with_audiences(["has space"]),
            "audiences",
        ),
        (NewClient::named("ok").with_owner(""), "owner"),
        (
            NewClient::named("ok").with_token_lifetime_secs(10),
            "token_lifetime",
        ),
        (
            NewClient::named("ok").with_secret_lifetime(SecretLifetime::Never),
            "secret_lifetime",
        ),
        (
            NewClient::named("ok").with_secret_lifetime(SecretLifetime::After(Duration::days(400))),
            "secret_lifetime",
        ),
        (
            NewClient::named("ok")
                .with_secret_lifetime(SecretLifetime::After(Duration::seconds(-1))),
            "secret_lifetime",
        ),
    ];
    for (new, field) in cases {
        match w.registry.create(&a, &t, new).await {
            Err(Error::Invalid { field: f, reason }) => {
                assert_eq!(f, field);
                assert!(!reason.is_empty());
            }
            other => panic!("{field}: expected Invalid, got {other:?}"),
        }
    }
    assert_eq!(w.store.len(), 0, "nothing half-written");
    // The exact boundary is accepted.
    w.registry
        .create(&a, &t, NewClient::named("x".repeat(200)))
        .await
        .unwrap();

    // Grace over the policy maximum (30 days by default).
    let issued = w
        .registry
        .create(&a, &t, NewClient::named("rot"))
        .await
        .unwrap();
    let before = w
        .registry
        .get(&a, &t, &issued.credentials.client_id)
        .await
        .unwrap();
    let err = w
        .registry
        .rotate(
            &a,
            &t,
            &issued.credentials.client_id,
            RotateOptions::default().grace(Duration::days(31)),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Invalid { field: "grace", .. }));
    let err = w
        .registry
        .update(
            &a,
            &t,
            &issued.credentials.client_id,
            ClientUpdate::default().name("fine").scopes(["bad scope"]),
        )
        .await
        .unwrap_err();
    assert!(matches!(
        err,
        Error::Invalid {
            field: "scopes",
            ..
        }
    ));
    let after = w
        .registry
        .get(&a, &t, &issued.credentials.client_id)
        .await
        .unwrap();
    assert_eq!(
        before, after,
        "a refused update changes nothing, not even the valid fields"
    );
    assert!(matches!(
        w.registry.list(&a, &t, ListQuery::default().limit(0)).await,
        Err(Error::Invalid { field: "limit", .. })
    ));
    assert!(matches!(
        w.registry
            .list(&a, &t, ListQuery::default().cursor("garbage"))
            .await,
        Err(Error::Invalid {
            field: "cursor",
            ..
        })
    ));
}

#[tokio::test]
async fn bad_policies_are_refused() {
    let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
    for (policy, field) in [
        (Policy::default().with_prefix("Bad"), "prefix"),
        (
            Policy::default().with_rotation(
                clientcreds_registry::RotationMode::ReplaceSecret,
                Duration::days(60),
            ),
            "grace",
        ),
        (
            Policy::default().with_token_lifetime(Duration::seconds(5)),
            "token_lifetime",
        ),
        (
            Policy::default().with_secret_lifetime(Some(Duration::ZERO)),
            "secret_lifetime",
        ),
    ] {
        match Registry::new(store.clone(), common::hasher(), policy) {
            Err(Error::Invalid { field: f, .. }) => assert_eq!(f, field),
            other => panic!("{field}: {other:?}"),
        }
    }
}

#[tokio::test]
async fn another_tenants_admin_sees_nothing_and_changes_nothing() {
    let w = world(Policy::default());
    let acme = tenant("acme");
    let owner = admin("acme", "alice");
    let stranger = admin("globex", "mallory");
    let issued = w
        .registry
        .create(&owner, &acme, NewClient::named("svc"))
        .await
        .unwrap();
    let id = issued.credentials.client_id.clone();
    let before = w.registry.get(&owner, &acme, &id).await.unwrap();

    // Acting on acme's path: same answer as a missing client.
    assert!(matches!(
        w.registry.get(&stranger, &acme, &id).await,
        Err(Error::NotFound)
    ));
    assert!(matches!(
        w.registry
            .get(&stranger, &acme, "cc_client_doesnotexist")
            .await,
        Err(Error::NotFound)
    ));
    assert!(matches!(
        w.registry
            .list(&stranger, &acme, ListQuery::default())
            .await,
        Err(Error::NotFound)
    ));
    assert!(matches!(
        w.registry
            .update(&stranger, &acme, &id, ClientUpdate::default().name("pwned"))
            .await,
        Err(Error::NotFound)
    ));
    assert!(matches!(
        w.registry
            .rotate(&stranger, &acme, &id, RotateOptions::default())
            .await,
        Err(Error::NotFound)
    ));
    assert!(matches!(
        w.registry.end_grace(&stranger, &acme, &id).await,
        Err(Error::NotFound)
    ));
    assert!(matches!(
        w.registry.revoke(&stranger, &acme, &id).await,
        Err(Error::NotFound)
    ));
    assert!(matches!(
        w.registry.delete(&stranger, &acme, &id).await,
        Err(Error::NotFound)
    ));
    assert!(matches!(
        w.registry
            .create(&stranger, &acme, NewClient::named("x"))
            .await,
        Err(Error::NotFound)
    ));
    assert!(matches!(
        w.registry.audit(&stranger, &acme, None, None, 10).await,
        Err(Error::NotFound)
    ));
    // Acting on their own tenant's path with acme's client id: not there either.
    let globex = tenant("globex");
    assert!(matches!(
        w.registry.get(&stranger, &globex, &id).await,
        Err(Error::NotFound)
    ));
    assert!(matches!(
        w.registry.revoke(&stranger, &globex, &id).await,
        Err(Error::NotFound)
    ));

    assert_eq!(w.registry.get(&owner, &acme, &id).await.unwrap(), before);
    assert_eq!(auth(&w.registry, &issued.credentials).await, Ok(()));
    // The attempts are on record as refusals in the stranger's own trail
    // (which it and the platform read), naming the target tenant; the
    // victim's trail holds nothing the stranger wrote.
    let trail = w
        .registry
        .audit(&Actor::System, &acme, Some(&id), None, 100)
        .await
        .unwrap();
    assert_eq!(trail.len(), 1, "{trail:?}");
    assert_eq!(trail[0].event.outcome, AuditOutcome::Success);
    let own = w
        .registry
        .audit(&Actor::System, &globex, Some(&id), None, 100)
        .await
        .unwrap();
    let refused = own
        .iter()
        .filter(|r| {
            matches!(&r.event.outcome, AuditOutcome::Refused { reason } if reason == "not_found")
                && r.event.detail.as_deref() == Some("target_tenant=acme")
        })
        .count();
    // get, update, rotate, end_grace, revoke and delete named this client.
    assert_eq!(refused, 6);
}

#[tokio::test]
async fn a_foreign_admin_cannot_write_into_a_victims_trail_nor_record_junk_ids() {
    let w = world(Policy::default());
    let acme = tenant("acme");
    let globex = tenant("globex");
    let mallory = admin("globex", "mallory");
    // A 60 kB "client id", and one for a tenant that does not exist.
    let junk = "x".repeat(60_000);
    let _ = w.registry.revoke(&mallory, &acme, &junk).await;
    let _ = w.registry.revoke(&mallory, &tenant("nobody"), &junk).await;
    let victims = w
        .registry
        .audit(&Actor::System, &acme, None, None, 100)
        .await
        .unwrap();
    assert!(victims.is_empty(), "{victims:?}");
    let own = w
        .registry
        .audit(&Actor::System, &globex, None, None, 100)
        .await
        .unwrap();
    assert_eq!(own.len(), 2);
    for record in &own {
        // The malformed id never reached the record.
        assert_eq!(record.event.client_id, None);
        assert!(
            record
                .event
                .detail
                .as_deref()
                .unwrap()
                .starts_with("target_tenant=")
        );
    }
}

#[tokio::test]
async fn audit_records_name_actor_and_never_a_secret_or_hash() {
    let w = world(Policy::default());
    let t = tenant("t");
    let a = admin("t", "alice");
    let issued = w
        .registry
        .create(&a, &t, NewClient::named("svc"))
        .await
        .unwrap();
    let (id, secret) = keep(&issued.credentials);
    let rotated = w
        .registry
        .rotate(&a, &t, &id, RotateOptions::default())
        .await
        .unwrap();
    w.registry
        .revoke(&Actor::platform_admin("root"), &t, &id)
        .await
        .unwrap();
    let record = w.store.client(&t, &id).await.unwrap().unwrap();
    let hashes: Vec<String> = record
        .secrets
        .iter()
        .map(|s| s.hash.as_str().rsplit('$').next().unwrap().to_owned())
        .collect();

    let trail = w.registry.audit(&a, &t, None, None, 100).await.unwrap();
    assert_eq!(trail.len(), 3);
    assert!(trail.windows(2).all(|p| p[0].seq < p[1].seq));
    assert_eq!(
        trail[0].event.actor,
        clientcreds_store::AuditActor::TenantAdmin {
            user: "alice".into()
        }
    );
    assert_eq!(
        trail[2].event.actor,
        clientcreds_store::AuditActor::PlatformAdmin {
            user: "root".into()
        }
    );
    assert!(
        trail
            .iter()
            .all(|r| r.event.client_id.as_deref() == Some(id.as_str()) && r.event.tenant == t)
    );
    let printed = format!("{trail:?} {record:?} {:?} {:?}", rotated, w.registry);
    assert!(!printed.contains(&secret[12..]), "a secret leaked");
    assert!(
        !printed.contains(&rotated.credentials.client_secret.expose_secret()[12..]),
        "a secret leaked"
    );
    for hash in hashes {
        assert!(!printed.contains(&hash), "a hash leaked");
    }
}

#[tokio::test]
async fn last_used_is_written_at_most_once_per_interval() {
    let w = world(Policy::default().with_last_used_interval(Duration::minutes(5)));
    let t = tenant("t");
    let a = admin("t", "a");
    let issued = w
        .registry
        .create(&a, &t, NewClient::named("hot"))
        .await
        .unwrap();
    let id = issued.credentials.client_id.clone();
    let start = common::start();
    auth(&w.registry, &issued.credentials).await.unwrap();
    w.clock.advance(Duration::minutes(4));
    auth(&w.registry, &issued.credentials).await.unwrap();
    let view = w.registry.get(&a, &t, &id).await.unwrap();
    assert_eq!(
        view.last_used_at,
        Some(start),
        "second use inside the interval is not written"
    );
    assert_eq!(view.secrets[0].last_used_at, Some(start));
    w.clock.advance(Duration::minutes(1));
    auth(&w.registry, &issued.credentials).await.unwrap();
    let view = w.registry.get(&a, &t, &id).await.unwrap();
    assert_eq!(view.last_used_at, Some(start + Duration::minutes(5)));

    // Per secret: after a rotation the admin sees which secret is in use.
    let rotated = w
        .registry
        .rotate(&a, &t, &id, RotateOptions::default())
        .await
        .unwrap();
    w.clock.advance(Duration::hours(1));
    auth(&w.registry, &rotated.credentials).await.unwrap();
    let view = w.registry.get(&a, &t, &id).await.unwrap();
    assert_eq!(
        view.secrets[0].last_used_at,
        Some(start + Duration::minutes(5)),
        "old secret not used since"
    );
    assert_eq!(view.secrets[1].last_used_at, Some(w.clock_now()));
}

trait ClockNow {
    fn clock_now(&self) -> time::OffsetDateTime;
}
impl ClockNow for common::World {
    fn clock_now(&self) -> time::OffsetDateTime {
        use clientcreds_registry::Clock as _;
        self.clock.now()
    }
}

#[tokio::test]
async fn outdated_hashes_are_upgraded_on_successful_authentication() {
    let w = world(Policy::default());
    let t = tenant("t");
    let a = admin("t", "a");
    let issued = w
        .registry
        .create(&a, &t, NewClient::named("svc"))
        .await
        .unwrap();
    let id = issued.credentials.client_id.clone();
    let hash_of = |record: ClientRecord| record.secrets[0].hash.as_str().to_owned();
    assert!(
        hash_of(w.store.client(&t, &id).await.unwrap().unwrap()).starts_with("hmac-sha256$v1$k1$")
    );

    // The pepper rotates: k2 signs, k1 only verifies.
    let rotated_hasher = SecretHasher::hmac_sha256(PepperKey::new("k2", &[9; 32]).unwrap())
        .unwrap()
        .with_verify_only_pepper(PepperKey::new("k1", &[7; 32]).unwrap())
        .unwrap();
    let registry = Registry::new(w.store.clone(), rotated_hasher, Policy::default()).unwrap();
    registry
        .authenticate(&id, &issued.credentials.client_secret)
        .await
        .unwrap();
    assert!(
        hash_of(w.store.client(&t, &id).await.unwrap().unwrap()).starts_with("hmac-sha256$v1$k2$")
    );

    // With k1 gone, the upgraded hash still verifies.
    let k2_only = SecretHasher::hmac_sha256(PepperKey::new("k2", &[9; 32]).unwrap()).unwrap();
    let registry = Registry::new(w.store.clone(), k2_only, Policy::default()).unwrap();
    registry
        .authenticate(&id, &issued.credentials.client_secret)
        .await
        .unwrap();
}

/// A store whose advisory write always fails.
#[derive(Debug)]
struct FailingUse(MemoryStore);

#[async_trait]
impl ClientStore for FailingUse {
    async fn client(
        &self,
        tenant: &TenantId,
        client_id: &str,
    ) -> Result<Option<ClientRecord>, StoreError> {
        self.0.client(tenant, client_id).await
    }
    async fn client_for_authentication(
        &self,
        client_id: &str,
    ) -> Result<Option<ClientRecord>, StoreError> {
        self.0.client_for_authentication(client_id).await
    }
    async fn list(&self, query: &ClientQuery) -> Result<ClientPage, StoreError> {
        self.0.list(query).await
    }
    async fn commit(&self, commit: Commit) -> Result<(), StoreError> {
        self.0.commit(commit).await
    }
    async fn record_use(&self, _: &SecretUse) -> Result<(), StoreError> {
        Err(StoreError::backend(std::io::Error::other("disk on fire")))
    }
}

#[async_trait]
impl AuditLog for FailingUse {
    async fn append_audit(&self, event: AuditEvent) -> Result<(), StoreError> {
        self.0.append_audit(event).await
    }
    async fn audit(&self, query: &AuditQuery) -> Result<Vec<AuditRecord>, StoreError> {
        self.0.audit(query).await
    }
}

#[async_trait]
impl ActivityLog for FailingUse {
    async fn record_activity(&self, event: ActivityEvent) -> Result<(), StoreError> {
        self.0.record_activity(event).await
    }
    async fn activity(&self, query: &ActivityQuery) -> Result<Vec<ActivityRecord>, StoreError> {
        self.0.activity(query).await
    }
}

#[tokio::test]
async fn a_failing_last_used_write_never_fails_authentication() {
    let registry = Registry::new(
        Arc::new(FailingUse(MemoryStore::new())),
        common::hasher(),
        Policy::default(),
    )
    .unwrap();
    let t = tenant("t");
    let issued = registry
        .create(&Actor::System, &t, NewClient::named("svc"))
        .await
        .unwrap();
    for _ in 0..3 {
        registry
            .authenticate(
                &issued.credentials.client_id,
                &issued.credentials.client_secret,
            )
            .await
            .unwrap();
    }
}

#[tokio::test]
async fn authentication_reasons_for_malformed_and_unknown_credentials() {
    let w = world(Policy::default());
    let t = tenant("t");
    let issued = w
        .registry
        .create(&Actor::System, &t, NewClient::named("svc"))
        .await
        .unwrap();
    let (id, secret) = keep(&issued.credentials);
    let other = w
        .registry
        .create(&Actor::System, &t, NewClient::named("other"))
        .await
        .unwrap();
    let reason = |id: String, secret: String| {
        let registry = &w.registry;
        async move { common::auth_with(registry, &id, &secret).await }
    };
    assert_eq!(reason(id.clone(), secret.clone()).await, Ok(()));
    assert_eq!(
        reason("not-an-id".into(), secret.clone()).await,
        Err(AuthFailure::UnknownClient)
    );
    assert_eq!(
        reason(id.clone(), "not-a-secret".into()).await,
        Err(AuthFailure::BadSecret)
    );
    // Well-formed but unknown client id.
    let unknown = clientcreds_secret::CredentialFormat::new("cc_")
        .unwrap()
        .generate_client_id()
        .unwrap();
    assert_eq!(
        reason(unknown.into_string(), secret.clone()).await,
        Err(AuthFailure::UnknownClient)
    );
    // Another client's (valid) secret: its secret id names no record of this client.
    let foreign = other.credentials.client_secret.expose_secret().to_owned();
    assert_eq!(
        reason(id.clone(), foreign).await,
        Err(AuthFailure::BadSecret)
    );
    // A well-formed secret with the right secret id but other random bits.
    let forged = clientcreds_secret::CredentialFormat::new("cc_")
        .unwrap()
        .generate_secret()
        .unwrap();
    let forged_text = forged.secret().expose_secret().to_owned();
    assert_eq!(
        reason(id.clone(), forged_text).await,
        Err(AuthFailure::BadSecret)
    );
    // The secret of a real client presented with its own id works, and
    // `Secret` input is never echoed back in an error.
    let err = w
        .registry
        .authenticate(&id, &Secret::from("cc_secret_zzz"))
        .await
        .unwrap_err();
    assert!(!err.to_string().contains("zzz"));
}

#[tokio::test]
async fn pages_cover_every_client_once_while_others_are_inserted() {
    let w = world(Policy::default());
    let t = tenant("t");
    let a = admin("t", "a");
    let mut expected = Vec::new();
    for i in 0..23 {
        let issued = w
            .registry
            .create(&a, &t, NewClient::named(format!("svc-{i}")))
            .await
            .unwrap();
        expected.push(issued.credentials.client_id.clone());
        w.clock.advance(Duration::seconds(1));
    }
    let mut seen = Vec::new();
    let mut cursor = None;
    loop {
        let mut query = ListQuery::default().limit(5);
        query.cursor = cursor;
        let page = w.registry.list(&a, &t, query).await.unwrap();
        seen.extend(page.clients.iter().map(|c| c.client_id.clone()));
        // Someone creates a client between page reads.
        w.registry
            .create(&a, &t, NewClient::named("late"))
            .await
            .unwrap();
        match page.next_cursor {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    let early: Vec<_> = seen
        .iter()
        .filter(|id| expected.contains(id))
        .cloned()
        .collect();
    assert_eq!(
        early, expected,
        "each pre-existing client exactly once, in creation order"
    );
}
