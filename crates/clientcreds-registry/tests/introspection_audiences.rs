//! Introspection answers for every audience the issuer mints for (issue
//! 20): a token a client was granted for another API than the server's
//! default audience is active, while issuer, signature, expiry and the
//! live state are still checked.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::sync::Arc;

use clientcreds_jwt::{Algorithm, KeySet, SigningKey, TokenIssuer, TokenVerifier, Validation};
use clientcreds_registry::{
    Actor, ClientCredentials, ExchangeRequest, Introspection, ManualClock, NewClient, Policy,
    Registry, TokenErrorCode, TokenService,
};
use clientcreds_secret::Secret;
use clientcreds_store::{MemoryStore, Store};
use common::{hasher, keep, start, tenant};
use time::Duration;

const ISSUER: &str = "https://auth.example.com";
const API: &str = "https://api.example.com";
const BILLING: &str = "https://billing.example.com";

struct Setup {
    tokens: TokenService,
    verifier: TokenVerifier,
    clock: Arc<ManualClock>,
}

fn setup() -> Setup {
    let store = Arc::new(MemoryStore::new());
    let clock = Arc::new(ManualClock::new(start()));
    let registry = Arc::new(
        Registry::new(store as Arc<dyn Store>, hasher(), Policy::default())
            .unwrap()
            .with_clock(clock.clone()),
    );
    let keys = Arc::new(KeySet::new(SigningKey::generate(Algorithm::EdDSA).unwrap()));
    let tokens = TokenService::new(registry, TokenIssuer::new(keys.clone(), ISSUER), API);
    // The server's verifier: its own audience only, as before.
    let verifier = TokenVerifier::new(keys, Validation::new(ISSUER, API));
    Setup {
        tokens,
        verifier,
        clock,
    }
}

async fn client(s: &Setup, audiences: &[&str]) -> ClientCredentials {
    let issued = s
        .tokens
        .registry()
        .create(
            &Actor::System,
            &tenant("acme"),
            NewClient::named("svc").with_audiences(audiences.iter().copied()),
        )
        .await
        .unwrap();
    let (client_id, secret) = keep(&issued.credentials);
    ClientCredentials {
        client_id,
        client_secret: Secret::from(secret),
    }
}

async fn token(s: &Setup, c: &ClientCredentials, audience: &str) -> String {
    s.tokens
        .exchange(
            ExchangeRequest::client_credentials(
                c.client_id.clone(),
                Secret::from(c.client_secret.expose_secret()),
            )
            .with_audience(audience),
        )
        .await
        .unwrap()
        .access_token
        .expose()
        .to_owned()
}

async fn introspect(
    s: &Setup,
    asking: &ClientCredentials,
    token: &str,
) -> Result<Option<Vec<String>>, TokenErrorCode> {
    s.tokens
        .introspect(
            Introspection {
                credentials: Some(asking),
                source: None,
                token,
            },
            &s.verifier,
        )
        .await
        .map(|context| context.map(|c| c.audience))
        .map_err(|e| e.code)
}

#[tokio::test]
async fn a_token_for_any_audience_the_issuer_mints_for_is_active() {
    let s = setup();
    let billing = client(&s, &[API, BILLING]).await;
    let asking = client(&s, &[]).await;
    let for_billing = token(&s, &billing, BILLING).await;
    // The server's own verifier refuses it (wrong audience)...
    assert!(s.verifier.verify_at(&for_billing, start()).is_err());
    // ...but introspection answers for it, naming its audience so the
    // resource server that asked can check it is its own.
    assert_eq!(
        introspect(&s, &asking, &for_billing).await,
        Ok(Some(vec![BILLING.to_owned()]))
    );
    let for_api = token(&s, &billing, API).await;
    assert_eq!(
        introspect(&s, &asking, &for_api).await,
        Ok(Some(vec![API.to_owned()]))
    );
}

#[tokio::test]
async fn any_audience_still_checks_issuer_signature_expiry_and_liveness() {
    let s = setup();
    let billing = client(&s, &[BILLING]).await;
    let asking = client(&s, &[]).await;

    // Another issuer's key, same claims: inactive.
    let stranger = Arc::new(KeySet::new(SigningKey::generate(Algorithm::EdDSA).unwrap()));
    let forged_service = TokenService::new(
        s.tokens.registry().clone(),
        TokenIssuer::new(stranger, ISSUER),
        API,
    );
    let forged = forged_service
        .exchange(
            ExchangeRequest::client_credentials(
                billing.client_id.clone(),
                Secret::from(billing.client_secret.expose_secret()),
            )
            .with_audience(BILLING),
        )
        .await
        .unwrap();
    assert_eq!(
        introspect(&s, &asking, forged.access_token.expose()).await,
        Ok(None)
    );

    // This issuer's key, another `iss`: inactive.
    let other_iss = TokenService::new(
        s.tokens.registry().clone(),
        TokenIssuer::new(s.tokens.issuer().keys().clone(), "https://evil.example.com"),
        API,
    );
    let wrong_iss = other_iss
        .exchange(
            ExchangeRequest::client_credentials(
                billing.client_id.clone(),
                Secret::from(billing.client_secret.expose_secret()),
            )
            .with_audience(BILLING),
        )
        .await
        .unwrap();
    assert_eq!(
        introspect(&s, &asking, wrong_iss.access_token.expose()).await,
        Ok(None)
    );

    // Revoked: inactive.
    let t = token(&s, &billing, BILLING).await;
    assert!(introspect(&s, &asking, &t).await.unwrap().is_some());
    s.tokens
        .registry()
        .revoke(&Actor::System, &tenant("acme"), &billing.client_id)
        .await
        .unwrap();
    assert_eq!(introspect(&s, &asking, &t).await, Ok(None));

    // Expired: inactive.
    let live = client(&s, &[BILLING]).await;
    let t = token(&s, &live, BILLING).await;
    assert!(introspect(&s, &asking, &t).await.unwrap().is_some());
    s.clock.advance(Duration::days(2));
    assert_eq!(introspect(&s, &asking, &t).await, Ok(None));
}
