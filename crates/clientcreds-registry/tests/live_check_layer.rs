//! `LiveClientCheck` behind clientcreds-resource's tower layer (feature
//! `resource`): deleting or deactivating a client kills its live tokens
//! (product D), within the check's cache lifetime.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::convert::Infallible;
use std::sync::Arc;

use clientcreds_jwt::{Algorithm, KeySet, SigningKey, TokenIssuer, TokenVerifier, Validation};
use clientcreds_registry::{
    Actor, ClientUpdate, Clock, ExchangeRequest, LiveClientCheck, ManualClock, NewClient, Policy,
    Registry, TokenService,
};
use clientcreds_resource::BearerAuthLayer;
use clientcreds_secret::Secret;
use clientcreds_store::{ClientStatus, Store};
use common::{keep, tenant};
use http::{Request, Response};
use time::{Duration, OffsetDateTime};
use tower::{Layer, ServiceExt, service_fn};

const ISSUER: &str = "https://auth.example.com";
const API: &str = "https://api.example.com";

/// The registry's manual clock as the layer's clock, so that `exp` is
/// checked at the same instant the live check caches by.
#[derive(Debug)]
struct SameClock(Arc<ManualClock>);

impl clientcreds_resource::Clock for SameClock {
    fn now(&self) -> OffsetDateTime {
        self.0.now()
    }
}

struct Setup {
    world: common::World,
    tokens: TokenService,
    verifier: Arc<TokenVerifier>,
}

fn setup() -> Setup {
    let world = common::world(Policy::default());
    let registry = Arc::new(
        Registry::new(
            world.store.clone() as Arc<dyn Store>,
            common::hasher(),
            Policy::default(),
        )
        .unwrap()
        .with_clock(world.clock.clone()),
    );
    let keys = Arc::new(KeySet::new(SigningKey::generate(Algorithm::EdDSA).unwrap()));
    let tokens = TokenService::new(registry, TokenIssuer::new(keys.clone(), ISSUER), API);
    let verifier = Arc::new(TokenVerifier::new(keys, Validation::new(ISSUER, API)));
    Setup {
        world,
        tokens,
        verifier,
    }
}

impl Setup {
    /// A client of tenant `acme` and a token of it.
    async fn client(&self) -> (String, String) {
        let issued = self
            .tokens
            .registry()
            .create(&Actor::System, &tenant("acme"), NewClient::named("svc"))
            .await
            .unwrap();
        let (id, secret) = keep(&issued.credentials);
        let token = self
            .tokens
            .exchange(ExchangeRequest::client_credentials(
                id.clone(),
                Secret::from(secret),
            ))
            .await
            .unwrap()
            .access_token
            .expose()
            .to_owned();
        (id, token)
    }

    fn layer(&self, ttl: Duration) -> BearerAuthLayer {
        let check = Arc::new(LiveClientCheck::new(
            self.world.store.clone() as Arc<dyn Store>,
            self.world.clock.clone() as Arc<dyn Clock>,
            ttl,
        ));
        BearerAuthLayer::new(self.verifier.clone())
            .with_live_check(check)
            .with_clock(Arc::new(SameClock(self.world.clock.clone())))
    }
}

/// The status and `WWW-Authenticate` of one request through `layer`.
async fn send(layer: &BearerAuthLayer, token: &str) -> (u16, Option<String>) {
    let service = layer.layer(service_fn(|_: Request<String>| async {
        Ok::<_, Infallible>(Response::new("inner".to_owned()))
    }));
    let mut request = Request::new(String::new());
    request.headers_mut().insert(
        http::header::AUTHORIZATION,
        format!("Bearer {token}").parse().unwrap(),
    );
    let response = service.oneshot(request).await.unwrap();
    let www = response
        .headers()
        .get("www-authenticate")
        .map(|v| v.to_str().unwrap().to_owned());
    (response.status().as_u16(), www)
}

const INACTIVE: &str = "Bearer realm=\"api\", error=\"invalid_token\", error_description=\"token's client is no longer active\"";

#[tokio::test]
async fn the_live_check_refuses_a_deleted_client_once_the_cache_expires() {
    let s = setup();
    let (id, token) = s.client().await;
    let (_, kept) = s.client().await;
    let ttl = Duration::seconds(60);
    let layer = s.layer(ttl);

    assert_eq!(send(&layer, &token).await, (200, None));
    s.tokens
        .registry()
        .delete(&Actor::System, &tenant("acme"), &id)
        .await
        .unwrap();

    // Within the TTL the cached answer stands.
    assert_eq!(send(&layer, &token).await, (200, None));
    s.world.clock.advance(ttl - Duration::seconds(1));
    assert_eq!(send(&layer, &token).await, (200, None));

    // Once it passes, the deletion bites.
    s.world.clock.advance(Duration::seconds(1));
    assert_eq!(send(&layer, &token).await, (401, Some(INACTIVE.to_owned())));

    // Another client of the tenant is unaffected.
    assert_eq!(send(&layer, &kept).await, (200, None));
}

#[tokio::test]
async fn the_live_check_refuses_an_inactive_client_not_yet_cached() {
    let s = setup();
    let (id, token) = s.client().await;
    s.tokens
        .registry()
        .update(
            &Actor::System,
            &tenant("acme"),
            &id,
            ClientUpdate::default().status(ClientStatus::Inactive),
        )
        .await
        .unwrap();
    let layer = s.layer(Duration::seconds(60));
    assert_eq!(send(&layer, &token).await, (401, Some(INACTIVE.to_owned())));
}

#[tokio::test]
async fn the_layer_and_the_check_share_the_registry_clock() {
    let s = setup();
    let (_, token) = s.client().await;
    let layer = s.layer(Duration::seconds(60));
    assert_eq!(send(&layer, &token).await, (200, None));
    s.world.clock.advance(Duration::hours(2));
    assert_eq!(
        send(&layer, &token).await,
        (
            401,
            Some(
                "Bearer realm=\"api\", error=\"invalid_token\", error_description=\"token has expired\""
                    .to_owned()
            )
        )
    );
}
