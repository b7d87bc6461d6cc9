//! Client ids no registry issues, NUL bytes included, are "not found" on
//! PostgreSQL (which refuses a NUL byte in text), never a store failure
//! (issue 20: the admin API answered 503 for `%00` in a path).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::sync::Arc;

use clientcreds_registry::{Actor, ClientUpdate, Error, NewClient};
use clientcreds_store::{ActivityLog, ActivityQuery, ClientStore, Store, TenantId};

fn acme() -> TenantId {
    TenantId::new("acme").unwrap()
}

#[tokio::test]
async fn a_nul_byte_in_a_client_id_is_not_found_on_postgres() {
    let store = Arc::new(common::postgres().await);
    let registry = common::registry(store.clone() as Arc<dyn Store>);
    let admin = Actor::tenant_admin(acme(), "alice");
    let issued = registry
        .create(&admin, &acme(), NewClient::named("svc"))
        .await
        .unwrap();
    let real = issued.credentials.client_id.clone();
    let odd = [
        format!("{real}\0"),
        "\0".to_owned(),
        "acme_client_\0\0".to_owned(),
        "not-an-id".to_owned(),
    ];
    for id in &odd {
        assert!(
            matches!(
                registry.get(&admin, &acme(), id).await,
                Err(Error::NotFound)
            ),
            "get {id:?}"
        );
        assert!(
            matches!(
                registry
                    .update(&admin, &acme(), id, ClientUpdate::default().name("x"))
                    .await,
                Err(Error::NotFound)
            ),
            "update {id:?}"
        );
        assert!(
            matches!(
                registry.revoke(&admin, &acme(), id).await,
                Err(Error::NotFound)
            ),
            "revoke {id:?}"
        );
        assert!(
            registry
                .activity(&admin, &acme(), Some(id), None, 10)
                .await
                .unwrap()
                .is_empty()
        );
        assert!(
            registry
                .audit(&admin, &acme(), Some(id), None, 10)
                .await
                .unwrap()
                .is_empty()
        );
    }
    // The store itself, for a host that calls it directly.
    assert_eq!(store.client(&acme(), "a\0b").await.unwrap(), None);
    assert_eq!(store.client_for_authentication("a\0b").await.unwrap(), None);
    let query = ActivityQuery {
        tenant: acme(),
        client_id: Some("a\0b".into()),
        after_seq: None,
        limit: 10,
    };
    assert!(store.activity(&query).await.unwrap().is_empty());
    // The real client is untouched and still found.
    assert_eq!(
        registry
            .get(&admin, &acme(), &real)
            .await
            .unwrap()
            .client_id,
        real
    );
}
