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

/// Is this refusal one the admin API answers with a 4xx?
fn refused_for_input(error: &Error) -> bool {
    matches!(error, Error::Invalid { .. })
}

/// One admin body: the first byte picks create, update or rotate, the rest
/// is the JSON. Checks: a body that parses converts to the registry's
/// input or to a 4xx error; the registry then accepts it (and the client
/// reads back with the scopes asked for) or refuses it as invalid input,
/// never with a store or internal error.
pub fn admin_json(data: &[u8]) -> Outcome {
    let Some((&kind, json)) = data.split_first() else {
        return Outcome::Skipped;
    };
    let tenant = match TenantId::new("t") {
        Ok(tenant) => tenant,
        Err(e) => panic!("fixed tenant: {e}"),
    };
    let registry = registry();
    RUNTIME.block_on(async {
        match kind % 3 {
            0 => {
                let Ok(body) = serde_json::from_slice::<CreateClient>(json) else {
                    return Outcome::Refused;
                };
                let new = match body.into_new_client() {
                    Ok(new) => new,
                    Err(e) => {
                        assert!(e.status().is_client_error(), "{e}");
                        return Outcome::Refused;
                    }
                };
                let scopes = new.scopes.clone();
                match registry.create(&Actor::System, &tenant, new).await {
                    Ok(issued) => {
                        let read = registry
                            .get(&Actor::System, &tenant, &issued.credentials.client_id)
                            .await;
                        assert!(
                            read.is_ok_and(|view| view.scopes == scopes),
                            "a created client reads back"
                        );
                        Outcome::Accepted
                    }
                    Err(e) => {
                        assert!(refused_for_input(&e), "create refused with {e}");
                        Outcome::Refused
                    }
                }
            }
            1 => {
                let Ok(body) = serde_json::from_slice::<UpdateClient>(json) else {
                    return Outcome::Refused;
                };
                let update = match body.into_update(None) {
                    Ok(update) => update,
                    Err(e) => {
                        assert!(e.status().is_client_error(), "{e}");
                        return Outcome::Refused;
                    }
                };
                let Ok(issued) = registry
                    .create(&Actor::System, &tenant, NewClient::named("svc"))
                    .await
                else {
                    panic!("the fixed client cannot be created");
                };
                let id = issued.credentials.client_id;
                match registry.update(&Actor::System, &tenant, &id, update).await {
                    Ok(_) => Outcome::Accepted,
                    Err(e) => {
                        assert!(refused_for_input(&e), "update refused with {e}");
                        Outcome::Refused
                    }
                }
            }
            _ => {
                let Ok(body) = serde_json::from_slice::<RotateClient>(json) else {
                    return Outcome::Refused;
                };
                let options = match body.into_options() {
                    Ok(options) => options,
                    Err(e) => {
                        assert!(e.status().is_client_error(), "{e}");
                        return Outcome::Refused;
                    }
                };
                let Ok(issued) = registry
                    .create(&Actor::System, &tenant, NewClient::named("svc"))
                    .await
                else {
                    panic!("the fixed client cannot be created");
                };
                let id = issued.credentials.client_id;
                match registry.rotate(&Actor::System, &tenant, &id, options).await {
                    Ok(_) => Outcome::Accepted,
                    Err(e) => {
                        assert!(refused_for_input(&e), "rotate refused with {e}");
                        Outcome::Refused
                    }
                }
            }
        }
    })
}
