//! The token exchange and the live client check, through the public API.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::sync::Arc;

use clientcreds_jwt::{
    Algorithm, KeySet, SigningKey, TokenIssuer, TokenVerifier, Validation, VerifyError,
};
use clientcreds_registry::{
    Actor, ClientUpdate, Clock, DefaultScope, ExchangeRequest, Issued, NewClient, Policy, Registry,
    TokenErrorCode, TokenService,
};
use clientcreds_secret::Secret;
use clientcreds_store::{
    ActivityCountQuery, ActivityKind, ActivityLog, ActivityQuery, ClaimValue, ClientStatus,
    CountedOutcome, MemoryStore, Store,
};
use common::{keep, tenant};
use time::Duration;

const ISSUER: &str = "https://auth.example.com";
const API: &str = "https://api.example.com";

struct Setup {
    tokens: TokenService,
    verifier: TokenVerifier,
    world: common::World,
}

fn setup(policy: Policy) -> Setup {
    let world = common::world(policy);
    let registry = Arc::new(
        Registry::new(
            world.store.clone() as Arc<dyn Store>,
            common::hasher(),
            world.registry.policy().clone(),
        )
        .unwrap()
        .with_clock(world.clock.clone()),
    );
    let keys = Arc::new(KeySet::new(SigningKey::generate(Algorithm::EdDSA).unwrap()));
    let tokens = TokenService::new(registry, TokenIssuer::new(keys.clone(), ISSUER), API);
    let verifier = TokenVerifier::new(
        keys,
        Validation::new(ISSUER, API).with_audience("https://reports.example.com"),
    );
    Setup {
        tokens,
        verifier,
        world,
    }
}

async fn client(s: &Setup, new: NewClient) -> Issued {
    s.tokens
        .registry()
        .create(&Actor::System, &tenant("acme"), new)
        .await
        .unwrap()
}

fn request(issued: &Issued) -> ExchangeRequest {
    let (id, secret) = keep(&issued.credentials);
    ExchangeRequest::client_credentials(id, Secret::from(secret))
}

#[tokio::test]
async fn a_token_carries_the_clients_facts_and_verifies() {
    let s = setup(Policy::default().with_token_lifetime(Duration::minutes(30)));
    assert_eq!(s.tokens.default_audience(), API);
    let issued = client(
        &s,
        NewClient::named("svc")
            .with_scopes(["read", "write"])
            .with_claim("roles", ClaimValue::List(vec!["admin".into()])),
    )
    .await;
    // The presented credentials' Debug names the id and redacts the secret.
    let presented = request(&issued);
    let shown = format!("{:?}", presented.credentials.as_ref().unwrap());
    assert!(
        shown.starts_with("ClientCredentials") && shown.contains(&issued.credentials.client_id),
        "{shown}"
    );
    assert!(!shown.contains(issued.credentials.client_secret.expose_secret()));
    let response = s
        .tokens
        .exchange(request(&issued).with_scope("read"))
        .await
        .unwrap();
    assert_eq!(response.token_type, "Bearer");
    assert_eq!(response.expires_in, 1800);
    assert_eq!(response.scope, "read");
    let json: serde_json::Value = serde_json::from_str(&response.to_json()).unwrap();
    assert_eq!(json["token_type"], "Bearer");
    assert_eq!(json["expires_in"], 1800);
    assert!(json.get("refresh_token").is_none(), "never a refresh token");
    assert!(
        !format!("{response:?}").contains(response.access_token.expose()),
        "Debug redacts the token"
    );

    let now = s.world.clock.now();
    let context = s
        .verifier
        .verify_at(response.access_token.expose(), now)
        .unwrap();
    assert_eq!(context.tenant.as_deref(), Some("acme"));
    assert_eq!(context.client_id, issued.credentials.client_id);
    assert_eq!(context.subject, issued.credentials.client_id);
    assert_eq!(context.scopes, ["read"]);
    assert_eq!(context.audience, [API]);
    assert_eq!(context.jti, response.jti);
    assert_eq!(context.extra["roles"], serde_json::json!(["admin"]));
    assert_eq!(
        context.expires_at - context.issued_at,
        Duration::minutes(30)
    );
    assert!(context.require_scope("write").is_err());
}

#[tokio::test]
async fn grant_type_credentials_scope_and_audience_errors_use_rfc_codes() {
    let s = setup(Policy::default());
    let issued = client(
        &s,
        NewClient::named("svc")
            .with_scopes(["read"])
            .with_audiences([API, "https://reports.example.com"]),
    )
    .await;
    let code = |r: Result<_, clientcreds_registry::TokenError>| r.unwrap_err().code;

    let mut no_grant = request(&issued);
    no_grant.grant_type = None;
    assert_eq!(
        code(s.tokens.exchange(no_grant).await),
        TokenErrorCode::InvalidRequest
    );
    let mut password = request(&issued);
    password.grant_type = Some("password".into());
    assert_eq!(
        code(s.tokens.exchange(password).await),
        TokenErrorCode::UnsupportedGrantType
    );
    let mut anonymous = request(&issued);
    anonymous.credentials = None;
    assert_eq!(
        code(s.tokens.exchange(anonymous).await),
        TokenErrorCode::InvalidClient
    );

    // Unknown client and wrong secret: one indistinguishable answer.
    let wrong_secret = ExchangeRequest::client_credentials(
        issued.credentials.client_id.clone(),
        Secret::from("cc_secret_nope"),
    );
    let unknown = ExchangeRequest::client_credentials(
        "cc_client_unknown",
        Secret::from(issued.credentials.client_secret.expose_secret()),
    );
    let a = s.tokens.exchange(wrong_secret).await.unwrap_err();
    let b = s.tokens.exchange(unknown).await.unwrap_err();
    assert_eq!(a, b);
    assert_eq!(a.code, TokenErrorCode::InvalidClient);
    assert_eq!(
        a.to_json(),
        r#"{"error":"invalid_client","error_description":"client authentication failed"}"#
    );

    assert_eq!(
        code(
            s.tokens
                .exchange(request(&issued).with_scope("read admin"))
                .await
        ),
        TokenErrorCode::InvalidScope
    );
    assert_eq!(
        code(
            s.tokens
                .exchange(request(&issued).with_audience("https://evil.example.com"))
                .await
        ),
        TokenErrorCode::InvalidTarget
    );
    let mut resource = request(&issued);
    resource.resources = vec!["https://evil.example.com".into()];
    assert_eq!(
        code(s.tokens.exchange(resource).await),
        TokenErrorCode::InvalidTarget
    );

    // An allowed audience narrows the token to it.
    let narrowed = s
        .tokens
        .exchange(request(&issued).with_audience("https://reports.example.com"))
        .await
        .unwrap();
    let context = s
        .verifier
        .verify_at(narrowed.access_token.expose(), s.world.clock.now())
        .unwrap();
    assert_eq!(context.audience, ["https://reports.example.com"]);
    // Without one, the token names every allowed audience.
    let all = s.tokens.exchange(request(&issued)).await.unwrap();
    let context = s
        .verifier
        .verify_at(all.access_token.expose(), s.world.clock.now())
        .unwrap();
    assert_eq!(context.audience, [API, "https://reports.example.com"]);
}

#[tokio::test]
async fn absent_scope_means_the_policy_default() {
    for (default, expected) in [
        (DefaultScope::AllAllowed, "a b"),
        (DefaultScope::Empty, ""),
        (DefaultScope::Fixed(vec!["b".into(), "c".into()]), "b"),
    ] {
        let s = setup(Policy::default().with_default_scope(default.clone()));
        let issued = client(&s, NewClient::named("svc").with_scopes(["a", "b"])).await;
        let response = s.tokens.exchange(request(&issued)).await.unwrap();
        assert_eq!(response.scope, expected, "{default:?}");
        // A client with no audience gets the service's default audience.
        let context = s
            .verifier
            .verify_at(response.access_token.expose(), s.world.clock.now())
            .unwrap();
        assert_eq!(context.audience, [API]);
    }
}

#[tokio::test]
async fn every_issuance_is_counted_and_every_denial_logged_without_the_token() {
    let s = setup(Policy::default());
    let issued = client(&s, NewClient::named("svc").with_scopes(["read"])).await;
    let ok = s.tokens.exchange(request(&issued)).await.unwrap();
    s.tokens
        .exchange(request(&issued).with_scope("admin"))
        .await
        .unwrap_err();
    s.tokens
        .registry()
        .update(
            &Actor::System,
            &tenant("acme"),
            &issued.credentials.client_id,
            ClientUpdate::default().status(ClientStatus::Inactive),
        )
        .await
        .unwrap();
    s.tokens.exchange(request(&issued)).await.unwrap_err();
    let log = s
        .world
        .store
        .activity(&ActivityQuery {
            tenant: tenant("acme"),
            client_id: None,
            after_seq: None,
            limit: 10,
        })
        .await
        .unwrap();
    let kinds: Vec<_> = log.iter().map(|r| r.event.kind.clone()).collect();
    // Issuance is counted, not logged one row per token.
    assert_eq!(
        kinds,
        [
            ActivityKind::TokenDenied {
                reason: "invalid_scope".into()
            },
            ActivityKind::TokenDenied {
                reason: "inactive".into()
            },
        ]
    );
    assert!(
        log.iter()
            .all(|r| r.event.client_id == issued.credentials.client_id)
    );
    let counts = s
        .world
        .store
        .activity_counts(&ActivityCountQuery {
            tenant: tenant("acme"),
            client_id: None,
            since: None,
            until: None,
            limit: 10,
        })
        .await
        .unwrap();
    let counted: Vec<_> = counts
        .iter()
        .map(|c| (c.secret_id.clone(), c.outcome.clone(), c.count))
        .collect();
    let denied = |reason: &str| CountedOutcome::Denied {
        reason: reason.into(),
    };
    assert_eq!(
        counted,
        [
            (None, denied("inactive"), 1),
            (None, denied("invalid_scope"), 1),
            (
                Some(issued.credentials.secret_id.as_str().to_owned()),
                CountedOutcome::Issued,
                1
            ),
        ]
    );
    assert!(
        counts
            .iter()
            .all(|c| c.client_id == issued.credentials.client_id)
    );
    for text in [format!("{log:?}"), format!("{counts:?}")] {
        assert!(!text.contains(ok.access_token.expose()));
        assert!(!text.contains(&ok.jti));
        assert!(!text.contains(&issued.credentials.client_secret.expose_secret()[12..]));
    }
}

/// Product A: without the live check, a revoked client's minted tokens
/// live until they expire. Product D: with it, delete (and revoke) kill
/// them within the cache's time.
#[tokio::test]
async fn live_check_kills_tokens_of_deleted_and_revoked_clients() {
    let s = setup(Policy::default());
    let registry = s.tokens.registry().clone();
    let acme = tenant("acme");
    let check = s.tokens.live_check(Duration::seconds(5));
    let a = client(&s, NewClient::named("a")).await;
    let b = client(&s, NewClient::named("b")).await;
    let token_a = s.tokens.exchange(request(&a)).await.unwrap().access_token;
    let token_b = s.tokens.exchange(request(&b)).await.unwrap().access_token;
    check.verify(&s.verifier, token_a.expose()).await.unwrap();
    check.verify(&s.verifier, token_b.expose()).await.unwrap();

    registry
        .delete(&Actor::System, &acme, &a.credentials.client_id)
        .await
        .unwrap();
    registry
        .revoke(&Actor::System, &acme, &b.credentials.client_id)
        .await
        .unwrap();
    // Without the check (product A) both still verify until expiry.
    let now = s.world.clock.now();
    s.verifier.verify_at(token_a.expose(), now).unwrap();
    s.verifier.verify_at(token_b.expose(), now).unwrap();
    // `check_fresh` (introspection's) never answers from the cache: the
    // change bites at once.
    let context_b = s.verifier.verify_at(token_b.expose(), now).unwrap();
    assert_eq!(
        check.check_fresh(&context_b).await.unwrap_err(),
        VerifyError::ClientInactive
    );
    // With it: cached answers last at most the TTL...
    check.verify(&s.verifier, token_a.expose()).await.unwrap();
    s.world.clock.advance(Duration::seconds(5));
    // ...then the change bites.
    assert_eq!(
        check
            .verify(&s.verifier, token_a.expose())
            .await
            .unwrap_err(),
        VerifyError::ClientInactive
    );
    assert_eq!(
        check
            .verify(&s.verifier, token_b.expose())
            .await
            .unwrap_err(),
        VerifyError::ClientInactive
    );
}

#[tokio::test]
async fn live_check_fails_closed_when_the_store_is_unreachable() {
    #[derive(Debug)]
    struct Down;
    #[async_trait::async_trait]
    impl clientcreds_store::ClientStore for Down {
        async fn client(
            &self,
            _: &clientcreds_store::TenantId,
            _: &str,
        ) -> Result<Option<clientcreds_store::ClientRecord>, clientcreds_store::StoreError>
        {
            Err(clientcreds_store::StoreError::backend(
                std::io::Error::other("down"),
            ))
        }
        async fn client_for_authentication(
            &self,
            _: &str,
        ) -> Result<Option<clientcreds_store::ClientRecord>, clientcreds_store::StoreError>
        {
            Err(clientcreds_store::StoreError::backend(
                std::io::Error::other("down"),
            ))
        }
        async fn list(
            &self,
            _: &clientcreds_store::ClientQuery,
        ) -> Result<clientcreds_store::ClientPage, clientcreds_store::StoreError> {
            Err(clientcreds_store::StoreError::backend(
                std::io::Error::other("down"),
            ))
        }
        async fn commit(
            &self,
            _: clientcreds_store::Commit,
        ) -> Result<(), clientcreds_store::StoreError> {
            Err(clientcreds_store::StoreError::backend(
                std::io::Error::other("down"),
            ))
        }
        async fn record_use(
            &self,
            _: &clientcreds_store::SecretUse,
        ) -> Result<(), clientcreds_store::StoreError> {
            Ok(())
        }
    }
    #[async_trait::async_trait]
    impl clientcreds_store::AuditLog for Down {
        async fn append_audit(
            &self,
            _: clientcreds_store::AuditEvent,
        ) -> Result<(), clientcreds_store::StoreError> {
            Ok(())
        }
        async fn audit(
            &self,
            _: &clientcreds_store::AuditQuery,
        ) -> Result<Vec<clientcreds_store::AuditRecord>, clientcreds_store::StoreError> {
            Ok(Vec::new())
        }
    }
    #[async_trait::async_trait]
    impl ActivityLog for Down {
        async fn record_activity(
            &self,
            _: clientcreds_store::ActivityEvent,
        ) -> Result<(), clientcreds_store::StoreError> {
            Ok(())
        }
        async fn activity(
            &self,
            _: &ActivityQuery,
        ) -> Result<Vec<clientcreds_store::ActivityRecord>, clientcreds_store::StoreError> {
            Ok(Vec::new())
        }
    }

    let s = setup(Policy::default());
    let issued = client(&s, NewClient::named("svc")).await;
    let token = s
        .tokens
        .exchange(request(&issued))
        .await
        .unwrap()
        .access_token;
    let check = clientcreds_registry::LiveClientCheck::new(
        Arc::new(Down),
        s.world.clock.clone(),
        Duration::seconds(5),
    );
    assert_eq!(
        check.verify(&s.verifier, token.expose()).await.unwrap_err(),
        VerifyError::CheckUnavailable
    );
    // The exchange itself reports a store outage as server_error.
    let down =
        Arc::new(Registry::new(Arc::new(Down), common::hasher(), Policy::default()).unwrap());
    let keys = Arc::new(KeySet::new(SigningKey::generate(Algorithm::EdDSA).unwrap()));
    let tokens = TokenService::new(down, TokenIssuer::new(keys, ISSUER), API);
    let err = tokens.exchange(request(&issued)).await.unwrap_err();
    assert_eq!(err.code, TokenErrorCode::ServerError);
    let _ = MemoryStore::new();
}

#[tokio::test]
async fn a_client_without_audiences_may_name_the_default_audience() {
    let s = setup(Policy::default());
    let issued = client(&s, NewClient::named("svc")).await;
    // By name, as `audience` or as an RFC 8707 `resource`: the default.
    let named = s
        .tokens
        .exchange(request(&issued).with_audience(API))
        .await
        .unwrap();
    let context = s
        .verifier
        .verify_at(named.access_token.expose(), s.world.clock.now())
        .unwrap();
    assert_eq!(context.audience, [API]);
    let mut resource = request(&issued);
    resource.resources = vec![API.into()];
    assert!(s.tokens.exchange(resource).await.is_ok());
    // Any other audience is still refused.
    let other = s
        .tokens
        .exchange(request(&issued).with_audience("https://reports.example.com"))
        .await
        .unwrap_err();
    assert_eq!(other.code, TokenErrorCode::InvalidTarget);
}
