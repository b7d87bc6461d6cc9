//! The admin API's JSON bodies (`clientcreds-axum`), parsed and then
//! applied to a registry on an in-memory store.

use std::sync::{Arc, LazyLock};

use clientcreds_axum::admin::{CreateClient, RotateClient, UpdateClient};
use clientcreds_registry::{Actor, Error, NewClient, Policy, Registry};
use clientcreds_secret::{PepperKey, SecretHasher};
use clientcreds_store::{MemoryStore, Store, TenantId};

use crate::Outcome;

static RUNTIME: LazyLock<tokio::runtime::Runtime> =
    LazyLock::new(
        || match tokio::runtime::Builder::new_current_thread().build() {
            Ok(runtime) => runtime,
            Err(e) => panic!("a fixed fuzzing fixture cannot be built: {e}"),
        },
    );

fn registry() -> Registry {
    let made = PepperKey::new("k1", &[7; 32])
        .and_then(SecretHasher::hmac_sha256)
        .map_err(Error::from)
        .and_then(|hasher| {
            Registry::new(
                Arc::new(MemoryStore::new()) as Arc<dyn Store>,
                hasher,
                Policy::default(),
            )
        });
    match made {
        Ok(registry) => registry,
        Err(e) => panic!("a fixed fuzzing fixture cannot be built: {e}"),
    }
}

/// The registry's answer to a parsed body: accepted, or refused as
/// invalid input (a 4xx), never with a store or internal error.
fn judged<T>(result: Result<T, Error>, operation: &str) -> Outcome {
    match result {
        Ok(_) => Outcome::Accepted,
        Err(e) => {
            assert!(
                matches!(e, Error::Invalid { .. }),
                "{operation} refused with {e}"
            );
            Outcome::Refused
        }
    }
}

/// A body's conversion to the registry's input: a refusal must be a 4xx.
fn converted<T>(result: Result<T, clientcreds_axum::Error>) -> Result<T, Outcome> {
    result.map_err(|e| {
        assert!(e.status().is_client_error(), "{e}");
        Outcome::Refused
    })
}

/// The client an update or a rotation acts on.
async fn fixed_client(registry: &Registry, tenant: &TenantId) -> String {
    match registry
        .create(&Actor::System, tenant, NewClient::named("svc"))
        .await
    {
        Ok(issued) => issued.credentials.client_id,
        Err(e) => panic!("the fixed client cannot be created: {e}"),
    }
}

/// One admin body: the first byte picks create, update or rotate, the rest
/// is the JSON. Checks: a body that parses converts to the registry's
/// input or to a 4xx error; the registry then accepts it (and a created
/// client reads back with the scopes asked for) or refuses it as invalid
/// input, never with a store or internal error.
pub fn admin_json(data: &[u8]) -> Outcome {
    let Some((&kind, json)) = data.split_first() else {
        return Outcome::Skipped;
    };
    let tenant = match TenantId::new("t") {
        Ok(tenant) => tenant,
        Err(e) => panic!("fixed tenant: {e}"),
    };
    let registry = registry();
    let run = async {
        match kind % 3 {
            0 => {
                let Ok(body) = serde_json::from_slice::<CreateClient>(json) else {
                    return Ok(Outcome::Refused);
                };
                let new = converted(body.into_new_client())?;
                let scopes = new.scopes.clone();
                let created = registry.create(&Actor::System, &tenant, new).await;
                if let Ok(issued) = &created {
                    let read = registry
                        .get(&Actor::System, &tenant, &issued.credentials.client_id)
                        .await;
                    assert!(
                        read.is_ok_and(|view| view.scopes == scopes),
                        "a created client reads back"
                    );
                }
                Ok::<_, Outcome>(judged(created, "create"))
            }
            1 => {
                let Ok(body) = serde_json::from_slice::<UpdateClient>(json) else {
                    return Ok(Outcome::Refused);
                };
                let update = converted(body.into_update(None))?;
                let id = fixed_client(&registry, &tenant).await;
                Ok(judged(
                    registry.update(&Actor::System, &tenant, &id, update).await,
                    "update",
                ))
            }
            _ => {
                let Ok(body) = serde_json::from_slice::<RotateClient>(json) else {
                    return Ok(Outcome::Refused);
                };
                let options = converted(body.into_options())?;
                let id = fixed_client(&registry, &tenant).await;
                Ok(judged(
                    registry.rotate(&Actor::System, &tenant, &id, options).await,
                    "rotate",
                ))
            }
        }
    };
    // A conversion refused as a 4xx ends the input early (`Err`).
    RUNTIME.block_on(run).unwrap_or_else(|refused| refused)
}
