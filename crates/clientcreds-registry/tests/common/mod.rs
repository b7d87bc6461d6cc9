//! Shared set-up for the registry's integration tests.

#![allow(dead_code, unreachable_pub)]

use std::sync::Arc;

use clientcreds_registry::{Actor, AuthFailure, Credentials, Error, ManualClock, Policy, Registry};
use clientcreds_secret::{PepperKey, Secret, SecretHasher};
use clientcreds_store::{MemoryStore, Store, TenantId};
use time::OffsetDateTime;

pub struct World {
    pub registry: Registry,
    pub clock: Arc<ManualClock>,
    pub store: Arc<MemoryStore>,
}

pub fn start() -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(1_790_000_000).unwrap()
}

pub fn hasher() -> SecretHasher {
    SecretHasher::hmac_sha256(PepperKey::new("k1", &[7; 32]).unwrap()).unwrap()
}

pub fn world(policy: Policy) -> World {
    let store = Arc::new(MemoryStore::new());
    let clock = Arc::new(ManualClock::new(start()));
    let registry = Registry::new(store.clone() as Arc<dyn Store>, hasher(), policy)
        .unwrap()
        .with_clock(clock.clone());
    World {
        registry,
        clock,
        store,
    }
}

pub fn tenant(id: &str) -> TenantId {
    TenantId::new(id).unwrap()
}

pub fn admin(tenant_id: &str, user: &str) -> Actor {
    Actor::tenant_admin(tenant(tenant_id), user)
}

/// Authenticates with credentials shown once; `Ok(())` or the failure reason.
pub async fn auth(registry: &Registry, creds: &Credentials) -> Result<(), AuthFailure> {
    auth_with(
        registry,
        &creds.client_id,
        creds.client_secret.expose_secret(),
    )
    .await
}

pub async fn auth_with(
    registry: &Registry,
    client_id: &str,
    secret: &str,
) -> Result<(), AuthFailure> {
    match registry
        .authenticate(client_id, &Secret::from(secret))
        .await
    {
        Ok(_) => Ok(()),
        Err(Error::Authentication(reason)) => Err(reason),
        Err(other) => panic!("authentication errored instead of deciding: {other}"),
    }
}

/// Keeps a copy of one-time credentials for a test to present later.
pub fn keep(creds: &Credentials) -> (String, String) {
    (
        creds.client_id.clone(),
        creds.client_secret.expose_secret().to_owned(),
    )
}
