//! Every error keeps its cause in one place: a message never repeats the
//! text of its `source()` (the Rust API guidelines), so a reporter that
//! prints the chain prints each cause once. One representative error per
//! crate, the ones with a source made by real failures.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::error::Error as StdError;
use std::sync::Arc;

use clientcreds::registry::{Error as RegistryError, KeyManager, KeyRotationPolicy, SystemClock};
use clientcreds::secret::{MASTER_KEYS_VAR, MasterKeys};
use clientcreds::sqlx::SqliteStore;
use clientcreds::store::{MemoryStore, StoreError};

/// Asserts that no message in `error`'s chain contains its source's, and
/// returns the chain's length.
fn check_chain(error: &(dyn StdError + 'static)) -> usize {
    let mut length = 1;
    let mut current = error;
    while let Some(source) = current.source() {
        let (outer, inner) = (current.to_string(), source.to_string());
        assert!(
            !outer.contains(&inner),
            "`{outer}` repeats its source `{inner}`"
        );
        current = source;
        length += 1;
    }
    length
}

/// The chain as a reporter prints it, each cause once.
fn report(error: &(dyn StdError + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

fn unopenable_path() -> String {
    let dir = std::env::temp_dir().join(format!("clientcreds-no-such-dir-{}", std::process::id()));
    format!(
        "sqlite://{}",
        dir.join("nested").join("db.sqlite").display()
    )
}

#[tokio::test]
async fn store_and_registry_errors_name_their_cause_once() {
    // clientcreds-sqlx / clientcreds-store: a database that cannot open.
    let store_error = SqliteStore::connect(&unopenable_path()).await.unwrap_err();
    assert!(
        matches!(store_error, StoreError::Backend(_)),
        "{store_error:?}"
    );
    assert_eq!(check_chain(&store_error), 2, "{}", report(&store_error));
    let cause = store_error.source().unwrap().to_string();
    // clientcreds-registry: the same failure one level up.
    let registry_error = RegistryError::Store(store_error);
    assert_eq!(check_chain(&registry_error), 3);
    let printed = report(&registry_error);
    assert_eq!(printed.matches(&cause).count(), 1, "{printed}");
}

#[tokio::test]
async fn a_sealed_key_under_another_master_key_names_the_cause_once() {
    let store = Arc::new(MemoryStore::new());
    let policy = KeyRotationPolicy::default();
    let first = MasterKeys::parse("k1:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8").unwrap();
    let impostor = MasterKeys::parse("k1:ICEiIyQlJicoKSorLC0uLzAxMjM0NTY3ODk6Ozw9Pj8").unwrap();
    let clock = Arc::new(SystemClock);
    drop(
        KeyManager::start_manual(
            store.clone(),
            Arc::new(first),
            policy.clone(),
            clock.clone(),
        )
        .await
        .unwrap(),
    );
    let error = KeyManager::start_manual(store, Arc::new(impostor), policy, clock)
        .await
        .unwrap_err();
    assert!(
        matches!(error, RegistryError::SealedSigningKey { .. }),
        "{error:?}"
    );
    assert_eq!(check_chain(&error), 2, "{}", report(&error));
}

#[test]
fn secret_errors_name_their_cause_once() {
    let error =
        MasterKeys::from_vars(|name| (name == MASTER_KEYS_VAR).then(|| "k1:c2hvcnQ".into()))
            .unwrap_err();
    assert_eq!(check_chain(&error), 2, "{}", report(&error));
}

#[test]
fn jwt_resource_client_and_axum_errors_have_no_repeated_cause() {
    use clientcreds::jwt::{Algorithm, KeySet, SigningKey, TokenVerifier, Validation};

    // clientcreds-jwt: a token that is not one.
    let keys = Arc::new(KeySet::new(SigningKey::generate(Algorithm::EdDSA).unwrap()));
    let verifier = TokenVerifier::new(keys, Validation::new("https://a.test", "https://b.test"));
    let verify_error = verifier.verify("not-a-token").unwrap_err();
    check_chain(&verify_error);
    // clientcreds-resource: the same, as the resource side reports it.
    let resource_error = clientcreds::resource::Error::from(verify_error);
    check_chain(&resource_error);
    // clientcreds-client: a refresh held back, with the reason it failed.
    let network = clientcreds::client::Error::Network("connection refused".into());
    check_chain(&network);
    // clientcreds-axum: what an admin request answers when the store fails.
    let admin = clientcreds::axum::Error::from(RegistryError::Store(StoreError::backend(
        std::io::Error::other("disk full"),
    )));
    check_chain(&admin);
}
