//! The fixes of the attacker's review (issue 13), each through the public
//! API: introspection by tenant with a fresh answer, tokens that die with
//! their secret, a bounded stale fallback, the failure throttle (before
//! the lookup and the hash, and no lock-out from elsewhere), platform
//! suspension, per-tenant grants and a required scope.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use async_trait::async_trait;
use clientcreds_jwt::{
    Algorithm, KeySet, SigningKey, TokenIssuer, TokenVerifier, Validation, VerifyError,
};
use clientcreds_registry::{
    Actor, AuthFailure, ClientCredentials, ClientUpdate, Error, ExchangeRequest, Grants,
    Introspection, Issued, LiveClientCheck, ManualClock, MemoryThrottle, NewClient, Policy,
    Registry, RotateOptions, RotationMode, ThrottleLimits, TokenErrorCode, TokenService,
};
use clientcreds_secret::Secret;
use clientcreds_store::{
    ActivityEvent, ActivityLog, ActivityQuery, ActivityRecord, AuditEvent, AuditLog, AuditQuery,
    AuditRecord, ClientPage, ClientQuery, ClientRecord, ClientStatus, ClientStore, Commit,
    EffectiveStatus, MemoryStore, SecretUse, Store, StoreError, TenantId,
};
use common::{hasher, keep, start, tenant};
use time::Duration;

const ISSUER: &str = "https://auth.example.com";
const API: &str = "https://api.example.com";

/// A memory store that can be switched off, and counts authentication
/// look-ups.
#[derive(Debug, Default)]
struct Switch {
    inner: MemoryStore,
    down: AtomicBool,
    lookups: AtomicUsize,
}

impl Switch {
    fn check(&self) -> Result<(), StoreError> {
        if self.down.load(Ordering::SeqCst) {
            Err(StoreError::backend(std::io::Error::other("down")))
        } else {
            Ok(())
        }
    }
}

#[async_trait]
impl ClientStore for Switch {
    async fn client(
        &self,
        tenant: &TenantId,
        client_id: &str,
    ) -> Result<Option<ClientRecord>, StoreError> {
        self.check()?;
        self.inner.client(tenant, client_id).await
    }
    async fn client_for_authentication(
        &self,
        client_id: &str,
    ) -> Result<Option<ClientRecord>, StoreError> {
        self.lookups.fetch_add(1, Ordering::SeqCst);
        self.check()?;
        self.inner.client_for_authentication(client_id).await
    }
    async fn list(&self, query: &ClientQuery) -> Result<ClientPage, StoreError> {
        self.check()?;
        self.inner.list(query).await
    }
    async fn commit(&self, commit: Commit) -> Result<(), StoreError> {
        self.check()?;
        self.inner.commit(commit).await
    }
    async fn record_use(&self, usage: &SecretUse) -> Result<(), StoreError> {
        self.check()?;
        self.inner.record_use(usage).await
    }
}

#[async_trait]
impl AuditLog for Switch {
    async fn append_audit(&self, event: AuditEvent) -> Result<(), StoreError> {
        self.inner.append_audit(event).await
    }
    async fn audit(&self, query: &AuditQuery) -> Result<Vec<AuditRecord>, StoreError> {
        self.inner.audit(query).await
    }
}

#[async_trait]
impl ActivityLog for Switch {
    async fn record_activity(&self, event: ActivityEvent) -> Result<(), StoreError> {
        self.inner.record_activity(event).await
    }
    async fn activity(&self, query: &ActivityQuery) -> Result<Vec<ActivityRecord>, StoreError> {
        self.inner.activity(query).await
    }
}

struct Setup {
    tokens: TokenService,
    verifier: TokenVerifier,
    store: Arc<Switch>,
    clock: Arc<ManualClock>,
}

fn setup(policy: Policy) -> Setup {
    setup_with(policy, ThrottleLimits::default())
}

fn setup_with(policy: Policy, limits: ThrottleLimits) -> Setup {
    let store = Arc::new(Switch::default());
    let clock = Arc::new(ManualClock::new(start()));
    let registry = Arc::new(
        Registry::new(store.clone() as Arc<dyn Store>, hasher(), policy)
            .unwrap()
            .with_clock(clock.clone())
            .with_throttle(Arc::new(MemoryThrottle::new(limits))),
    );
    let keys = Arc::new(KeySet::new(SigningKey::generate(Algorithm::EdDSA).unwrap()));
    let tokens = TokenService::new(registry, TokenIssuer::new(keys.clone(), ISSUER), API);
    let verifier = TokenVerifier::new(keys, Validation::new(ISSUER, API));
    Setup {
        tokens,
        verifier,
        store,
        clock,
    }
}

async fn client(s: &Setup, tenant_id: &str) -> Issued {
    s.tokens
        .registry()
        .create(&Actor::System, &tenant(tenant_id), NewClient::named("svc"))
        .await
        .unwrap()
}

fn creds(issued: &Issued) -> ClientCredentials {
    let (client_id, secret) = keep(&issued.credentials);
    ClientCredentials {
        client_id,
        client_secret: Secret::from(secret),
    }
}

async fn token(s: &Setup, issued: &Issued) -> String {
    let c = creds(issued);
    s.tokens
        .exchange(ExchangeRequest::client_credentials(
            c.client_id,
            c.client_secret,
        ))
        .await
        .unwrap()
        .access_token
        .expose()
        .to_owned()
}

async fn introspect(
    s: &Setup,
    asking: Option<&ClientCredentials>,
    token: &str,
) -> Result<Option<String>, TokenErrorCode> {
    s.tokens
        .introspect(
            Introspection {
                credentials: asking,
                source: None,
                token,
            },
            &s.verifier,
        )
        .await
        .map(|context| context.map(|c| c.client_id))
        .map_err(|e| e.code)
}

#[tokio::test]
async fn introspection_needs_a_client_of_the_tokens_tenant_and_reads_the_store_fresh() {
    let s = setup(Policy::default());
    let acme = client(&s, "acme").await;
    let acme_peer = creds(&client(&s, "acme").await);
    let globex = creds(&client(&s, "globex").await);
    let t = token(&s, &acme).await;
    let id = acme.credentials.client_id.clone();

    // Without client authentication, or with a wrong secret: invalid_client.
    assert_eq!(
        introspect(&s, None, &t).await,
        Err(TokenErrorCode::InvalidClient)
    );
    let wrong = ClientCredentials {
        client_id: acme_peer.client_id.clone(),
        client_secret: Secret::from("cc_wrong"),
    };
    assert_eq!(
        introspect(&s, Some(&wrong), &t).await,
        Err(TokenErrorCode::InvalidClient)
    );
    // A client of the token's tenant sees it; one of another tenant does not.
    assert_eq!(
        introspect(&s, Some(&acme_peer), &t).await,
        Ok(Some(id.clone()))
    );
    assert_eq!(introspect(&s, Some(&globex), &t).await, Ok(None));
    // Garbage is simply inactive.
    assert_eq!(introspect(&s, Some(&acme_peer), "a.b.c").await, Ok(None));

    // Revoked: inactive at once (no cache in between).
    s.tokens
        .registry()
        .revoke(&Actor::System, &tenant("acme"), &id)
        .await
        .unwrap();
    assert_eq!(introspect(&s, Some(&acme_peer), &t).await, Ok(None));

    // A store outage is a server error, never a guess.
    let other = client(&s, "acme").await;
    let t2 = token(&s, &other).await;
    s.store.down.store(true, Ordering::SeqCst);
    // (The asking client cannot even authenticate while the store is down.)
    assert_eq!(
        introspect(&s, Some(&acme_peer), &t2).await,
        Err(TokenErrorCode::ServerError)
    );
}

#[tokio::test]
async fn a_cross_tenant_introspector_is_named_by_the_host_only() {
    let probe = Policy::default();
    let s = setup(probe);
    let globex = client(&s, "globex").await;
    // The same store, a policy naming globex's client as an introspector.
    let registry = Arc::new(
        Registry::new(
            s.store.clone() as Arc<dyn Store>,
            hasher(),
            Policy::default().with_cross_tenant_introspector(&globex.credentials.client_id),
        )
        .unwrap()
        .with_clock(s.clock.clone()),
    );
    let tokens = TokenService::new(registry, s.tokens.issuer().clone(), API);
    let acme = client(&s, "acme").await;
    let t = token(&s, &acme).await;
    let asked = tokens
        .introspect(
            Introspection {
                credentials: Some(&creds(&globex)),
                source: None,
                token: &t,
            },
            &s.verifier,
        )
        .await
        .unwrap();
    assert_eq!(asked.unwrap().client_id, acme.credentials.client_id);
}

#[tokio::test]
async fn rotating_a_leaked_secret_kills_the_tokens_it_minted() {
    let s = setup(Policy::default());
    let issued = client(&s, "acme").await;
    let leaked = token(&s, &issued).await;
    let check = s.tokens.live_check(Duration::seconds(5));
    let context = check.verify(&s.verifier, &leaked).await.unwrap();
    assert_eq!(
        context.secret_id.as_deref(),
        Some(issued.credentials.secret_id.as_str())
    );

    // Rotated with a grace window: the old secret's tokens live on until
    // the window ends.
    let registry = s.tokens.registry();
    let id = issued.credentials.client_id.clone();
    registry
        .rotate(
            &Actor::System,
            &tenant("acme"),
            &id,
            RotateOptions::default().grace(Duration::hours(1)),
        )
        .await
        .unwrap();
    s.clock.advance(Duration::seconds(6));
    assert!(check.verify(&s.verifier, &leaked).await.is_ok());
    // Ending the grace window (or rotating without one) kills them, while
    // the client and its new secret's tokens stay live.
    registry
        .end_grace(&Actor::System, &tenant("acme"), &id)
        .await
        .unwrap();
    s.clock.advance(Duration::seconds(6));
    assert_eq!(
        check.verify(&s.verifier, &leaked).await.unwrap_err(),
        VerifyError::SecretInactive
    );
    // The client itself is live: its new secret mints tokens that pass.
    let client = s
        .tokens
        .registry()
        .get(&Actor::System, &tenant("acme"), &id)
        .await
        .unwrap();
    assert!(matches!(client.status, EffectiveStatus::Active));
}

#[tokio::test]
async fn the_stale_fallback_has_a_bounded_age_then_fails_closed() {
    let s = setup(Policy::default());
    let issued = client(&s, "acme").await;
    let t = token(&s, &issued).await;
    let check = LiveClientCheck::new(
        s.store.clone() as Arc<dyn Store>,
        s.clock.clone(),
        Duration::seconds(5),
    )
    .with_max_stale(Duration::minutes(2));
    assert!(check.verify(&s.verifier, &t).await.is_ok());
    s.store.down.store(true, Ordering::SeqCst);
    // Past the TTL, within max-stale: the earlier answer stands in.
    s.clock.advance(Duration::seconds(30));
    assert!(check.verify(&s.verifier, &t).await.is_ok());
    // Past max-stale: refused.
    s.clock.advance(Duration::minutes(2));
    assert_eq!(
        check.verify(&s.verifier, &t).await.unwrap_err(),
        VerifyError::CheckUnavailable
    );
    // Back up: live again.
    s.store.down.store(false, Ordering::SeqCst);
    assert!(check.verify(&s.verifier, &t).await.is_ok());
}

fn tight() -> ThrottleLimits {
    let mut limits = ThrottleLimits::default();
    limits.per_client_and_source = 3;
    limits.per_source = 5;
    limits
}

fn from(c: &ClientCredentials, secret: &str, source: &str) -> ExchangeRequest {
    ExchangeRequest::client_credentials(c.client_id.clone(), Secret::from(secret))
        .with_source(source.parse::<IpAddr>().unwrap())
}

#[tokio::test]
async fn brute_force_is_throttled_before_the_lookup_but_cannot_lock_the_owner_out() {
    let s = setup_with(Policy::default(), tight());
    let victim = creds(&client(&s, "acme").await);
    let good = victim.client_secret.expose_secret().to_owned();
    let attacker = "198.51.100.7";
    for _ in 0..3 {
        let err = s
            .tokens
            .exchange(from(&victim, "cc_guess", attacker))
            .await
            .unwrap_err();
        assert_eq!(err.code, TokenErrorCode::InvalidClient);
    }
    let lookups = s.store.lookups.load(Ordering::SeqCst);
    // Throttled now, even with the right secret; and the throttled attempt
    // reaches neither the store nor the hash.
    let err = s
        .tokens
        .exchange(from(&victim, &good, attacker))
        .await
        .unwrap_err();
    assert!(
        matches!(err.code, TokenErrorCode::SlowDown { retry_after_secs } if retry_after_secs > 0 && retry_after_secs <= 900),
        "{err:?}"
    );
    assert_eq!(s.store.lookups.load(Ordering::SeqCst), lookups);
    let direct = s
        .tokens
        .registry()
        .authenticate_from(
            &victim.client_id,
            &Secret::from(good.as_str()),
            Some(attacker.parse().unwrap()),
        )
        .await;
    assert!(matches!(
        direct,
        Err(Error::Authentication(AuthFailure::Throttled { .. }))
    ));

    // The owner, calling from its own address, is not locked out.
    assert!(
        s.tokens
            .exchange(from(&victim, &good, "203.0.113.9"))
            .await
            .is_ok()
    );
    // And once the window passes, the attacker's source may try again.
    s.clock.advance(Duration::minutes(16));
    assert!(
        s.tokens
            .exchange(from(&victim, &good, attacker))
            .await
            .is_ok()
    );
}

#[tokio::test]
async fn a_source_spraying_many_ids_is_throttled() {
    let s = setup_with(Policy::default(), tight());
    let mut victims = Vec::new();
    for _ in 0..6 {
        victims.push(creds(&client(&s, "acme").await));
    }
    let sprayer = "2001:db8:1:2::7";
    // One guess per id: no pair reaches its limit, the source does.
    for victim in &victims[..5] {
        let err = s
            .tokens
            .exchange(from(victim, "cc_guess", sprayer))
            .await
            .unwrap_err();
        assert_eq!(err.code, TokenErrorCode::InvalidClient);
    }
    let err = s
        .tokens
        .exchange(from(&victims[5], "cc_guess", sprayer))
        .await
        .unwrap_err();
    assert!(matches!(err.code, TokenErrorCode::SlowDown { .. }));
    // The rest of its /64 is the same source.
    let err = s
        .tokens
        .exchange(from(&victims[5], "cc_guess", "2001:db8:1:2::8"))
        .await
        .unwrap_err();
    assert!(matches!(err.code, TokenErrorCode::SlowDown { .. }));
    // Another network is not.
    let good = victims[5].client_secret.expose_secret().to_owned();
    assert!(
        s.tokens
            .exchange(from(&victims[5], &good, "2001:db8:9::1"))
            .await
            .is_ok()
    );
}

#[tokio::test]
async fn the_throttles_memory_is_bounded() {
    let mut limits = tight();
    limits.max_entries = 50;
    let throttle = MemoryThrottle::new(limits);
    let now = start();
    use clientcreds_registry::AuthThrottle as _;
    for i in 0..1_000u32 {
        let source = IpAddr::from(i.to_be_bytes());
        throttle.failed(&format!("cc_{i}"), Some(source.into()), now);
    }
    let (pairs, sources) = throttle.len();
    assert!(pairs <= 50 && sources <= 50, "{pairs} {sources}");
    // And the newest half is kept (a count that said 0 would pass above).
    assert!(pairs >= 25 && sources >= 25, "{pairs} {sources}");
}

#[tokio::test]
async fn a_platform_suspension_is_lifted_only_by_the_platform() {
    let s = setup(Policy::default());
    let registry = s.tokens.registry();
    let t = tenant("acme");
    let issued = client(&s, "acme").await;
    let id = issued.credentials.client_id.clone();
    let admin = Actor::tenant_admin(t.clone(), "alice");
    let platform = Actor::platform_admin("ops");

    // A tenant admin's own deactivation is its own to lift.
    registry
        .update(
            &admin,
            &t,
            &id,
            ClientUpdate::default().status(ClientStatus::Inactive),
        )
        .await
        .unwrap();
    registry
        .update(
            &admin,
            &t,
            &id,
            ClientUpdate::default().status(ClientStatus::Active),
        )
        .await
        .unwrap();

    // The platform's is a suspension.
    registry
        .update(
            &platform,
            &t,
            &id,
            ClientUpdate::default().status(ClientStatus::Inactive),
        )
        .await
        .unwrap();
    let err = registry
        .update(
            &admin,
            &t,
            &id,
            ClientUpdate::default().status(ClientStatus::Active),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Suspended), "{err:?}");
    // Nor can the tenant admin turn it into a plain deactivation.
    registry
        .update(
            &admin,
            &t,
            &id,
            ClientUpdate::default().status(ClientStatus::Inactive),
        )
        .await
        .unwrap();
    assert!(matches!(
        registry
            .update(
                &admin,
                &t,
                &id,
                ClientUpdate::default().status(ClientStatus::Active)
            )
            .await,
        Err(Error::Suspended)
    ));
    let c = creds(&issued);
    assert!(matches!(
        registry.authenticate(&c.client_id, &c.client_secret).await,
        Err(Error::Authentication(AuthFailure::Inactive))
    ));
    registry
        .update(
            &platform,
            &t,
            &id,
            ClientUpdate::default().status(ClientStatus::Active),
        )
        .await
        .unwrap();
    assert!(
        registry
            .authenticate(&c.client_id, &c.client_secret)
            .await
            .is_ok()
    );
}

#[tokio::test]
async fn tenants_grant_only_what_the_policy_lets_them() {
    let acme = tenant("acme");
    let policy = Policy::default().with_tenant_grants(
        acme.clone(),
        Grants::any()
            .with_audiences([API])
            .with_scopes(["read", "write"]),
    );
    let s = setup(policy);
    let registry = s.tokens.registry();
    let admin = Actor::tenant_admin(acme.clone(), "alice");
    let err = registry
        .create(
            &admin,
            &acme,
            NewClient::named("x").with_audiences(["https://payments.example.com"]),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            Error::Invalid {
                field: "audiences",
                ..
            }
        ),
        "{err:?}"
    );
    let err = registry
        .create(&admin, &acme, NewClient::named("x").with_scopes(["admin"]))
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            Error::Invalid {
                field: "scopes",
                ..
            }
        ),
        "{err:?}"
    );
    let ok = registry
        .create(
            &admin,
            &acme,
            NewClient::named("x")
                .with_scopes(["read"])
                .with_audiences([API]),
        )
        .await
        .unwrap();
    let err = registry
        .update(
            &admin,
            &acme,
            &ok.credentials.client_id,
            ClientUpdate::default().scopes(["admin"]),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            Error::Invalid {
                field: "scopes",
                ..
            }
        ),
        "{err:?}"
    );
    assert!(
        s.tokens
            .exchange({
                let c = creds(&ok);
                ExchangeRequest::client_credentials(c.client_id, c.client_secret)
            })
            .await
            .is_ok()
    );

    // A tenant not listed gets the default grants (anything, here).
    let globex = tenant("globex");
    registry
        .create(
            &Actor::tenant_admin(globex.clone(), "bob"),
            &globex,
            NewClient::named("x").with_audiences(["https://payments.example.com"]),
        )
        .await
        .unwrap();
}

#[tokio::test]
async fn a_policy_tightened_later_binds_existing_clients_at_the_token() {
    let s = setup(Policy::default());
    let issued = s
        .tokens
        .registry()
        .create(
            &Actor::System,
            &tenant("acme"),
            NewClient::named("x").with_audiences(["https://payments.example.com"]),
        )
        .await
        .unwrap();
    let registry = Arc::new(
        Registry::new(
            s.store.clone() as Arc<dyn Store>,
            hasher(),
            Policy::default()
                .with_tenant_grants(tenant("acme"), Grants::any().with_audiences([API])),
        )
        .unwrap(),
    );
    let tokens = TokenService::new(registry, s.tokens.issuer().clone(), API);
    let c = creds(&issued);
    let err = tokens
        .exchange(ExchangeRequest::client_credentials(
            c.client_id,
            c.client_secret,
        ))
        .await
        .unwrap_err();
    assert_eq!(err.code, TokenErrorCode::InvalidTarget);
}

#[tokio::test]
async fn a_required_scope_refuses_requests_without_one() {
    let s = setup(Policy::default().with_required_scope(true));
    let issued = s
        .tokens
        .registry()
        .create(
            &Actor::System,
            &tenant("acme"),
            NewClient::named("x").with_scopes(["read"]),
        )
        .await
        .unwrap();
    let c = creds(&issued);
    let err = s
        .tokens
        .exchange(ExchangeRequest::client_credentials(
            c.client_id.clone(),
            Secret::from(c.client_secret.expose_secret()),
        ))
        .await
        .unwrap_err();
    assert_eq!(
        (err.code, err.description),
        (TokenErrorCode::InvalidRequest, "scope is required")
    );
    assert!(
        s.tokens
            .exchange(
                ExchangeRequest::client_credentials(c.client_id, c.client_secret)
                    .with_scope("read")
            )
            .await
            .is_ok()
    );
}

#[tokio::test]
async fn rotation_mode_is_unaffected_by_grants() {
    // ReplaceClient copies a client's grants: still within the policy.
    let acme = tenant("acme");
    let s = setup(
        Policy::default()
            .with_tenant_grants(acme.clone(), Grants::any().with_scopes(["read"]))
            .with_rotation(RotationMode::ReplaceClient, Duration::hours(1)),
    );
    let issued = s
        .tokens
        .registry()
        .create(
            &Actor::System,
            &acme,
            NewClient::named("x").with_scopes(["read"]),
        )
        .await
        .unwrap();
    s.tokens
        .registry()
        .rotate(
            &Actor::System,
            &acme,
            &issued.credentials.client_id,
            RotateOptions::default(),
        )
        .await
        .unwrap();
}

#[tokio::test]
async fn ipv4_callers_of_a_dual_stack_listener_are_told_apart() {
    use clientcreds_registry::AuthThrottle as _;
    let throttle = MemoryThrottle::new(tight());
    let now = start();
    // A dual-stack listener reports IPv4 peers as ::ffff:a.b.c.d.
    let attacker: IpAddr = "::ffff:198.51.100.7".parse().unwrap();
    let owner: IpAddr = "::ffff:203.0.113.9".parse().unwrap();
    for i in 0..10 {
        throttle.failed(&format!("cc_{i}"), Some(attacker.into()), now);
    }
    assert!(throttle.admit("cc_x", Some(attacker.into()), now).is_err());
    assert!(throttle.admit("cc_x", Some(owner.into()), now).is_ok());
    // The same address unmapped is the same source.
    let plain: IpAddr = "198.51.100.7".parse().unwrap();
    assert!(throttle.admit("cc_x", Some(plain.into()), now).is_err());
}

#[tokio::test]
async fn an_owner_behind_a_shared_address_outlasts_a_sprayer_there() {
    let s = setup_with(Policy::default(), tight());
    let owner = creds(&client(&s, "acme").await);
    let good = owner.client_secret.expose_secret().to_owned();
    let nat = "192.0.2.1";
    // The owner authenticates, then a sprayer at the same address fails on
    // other ids until the address is over its limit.
    assert!(s.tokens.exchange(from(&owner, &good, nat)).await.is_ok());
    let mut others = Vec::new();
    for _ in 0..6 {
        others.push(creds(&client(&s, "acme").await));
    }
    for other in &others {
        let _ = s.tokens.exchange(from(other, "cc_guess", nat)).await;
    }
    let err = s
        .tokens
        .exchange(from(
            &others[0],
            others[0].client_secret.expose_secret(),
            nat,
        ))
        .await
        .unwrap_err();
    assert!(matches!(err.code, TokenErrorCode::SlowDown { .. }));
    // The owner's pair authenticated within the window: it goes on.
    assert!(s.tokens.exchange(from(&owner, &good, nat)).await.is_ok());
}

#[tokio::test]
async fn extra_claims_are_granted_by_name_only() {
    use clientcreds_store::ClaimValue;
    let acme = tenant("acme");
    let s = setup(
        Policy::default()
            .with_tenant_grants(acme.clone(), Grants::any().with_claims(["department"])),
    );
    let registry = s.tokens.registry();
    let admin = Actor::tenant_admin(acme.clone(), "alice");
    let roles = ClaimValue::List(vec!["admin".to_owned()]);
    let err = registry
        .create(
            &admin,
            &acme,
            NewClient::named("x").with_claim("roles", roles.clone()),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            Error::Invalid {
                field: "extra_claims",
                ..
            }
        ),
        "{err:?}"
    );
    let ok = registry
        .create(
            &admin,
            &acme,
            NewClient::named("x").with_claim("department", ClaimValue::Text("ops".into())),
        )
        .await
        .unwrap();
    let err = registry
        .update(
            &admin,
            &acme,
            &ok.credentials.client_id,
            ClientUpdate::default().extra_claims([("roles".to_owned(), roles)].into()),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            Error::Invalid {
                field: "extra_claims",
                ..
            }
        ),
        "{err:?}"
    );
}

#[tokio::test]
async fn an_empty_scope_does_not_satisfy_a_required_one() {
    let s = setup(Policy::default().with_required_scope(true));
    let issued = client(&s, "acme").await;
    let c = creds(&issued);
    let err = s
        .tokens
        .exchange(
            ExchangeRequest::client_credentials(c.client_id, c.client_secret).with_scope("  "),
        )
        .await
        .unwrap_err();
    assert_eq!(err.code, TokenErrorCode::InvalidRequest);
}

#[test]
fn introspection_debug_leaves_the_token_out() {
    let text = format!(
        "{:?}",
        Introspection {
            credentials: None,
            source: None,
            token: "eyJhbGciOiJFZERTQSJ9.secret-payload.sig",
        }
    );
    assert!(!text.contains("secret-payload"), "{text}");
    let throttle = format!("{:?}", MemoryThrottle::default());
    assert!(throttle.contains("limits"), "{throttle}");
}

#[tokio::test]
async fn the_trail_tells_a_suspension_apart() {
    let s = setup(Policy::default());
    let registry = s.tokens.registry();
    let t = tenant("acme");
    let issued = client(&s, "acme").await;
    let id = issued.credentials.client_id.clone();
    registry
        .update(
            &Actor::platform_admin("ops"),
            &t,
            &id,
            ClientUpdate::default().status(ClientStatus::Inactive),
        )
        .await
        .unwrap();
    let trail = registry
        .audit(&Actor::System, &t, Some(&id), None, 10)
        .await
        .unwrap();
    assert_eq!(
        trail.last().unwrap().event.detail.as_deref(),
        Some("status=suspended")
    );
}
