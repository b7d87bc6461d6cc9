//! Reads of a tenant's token activity by someone outside the tenant are
//! audited in the tenant's trail (issue 20); ids no registry issues name no
//! client.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use clientcreds_registry::{Actor, Error, NewClient, Policy, Registry};
use clientcreds_secret::Secret;
use clientcreds_store::AuditRecord;
use clientcreds_store::{AuditAction, AuditActor, AuditOutcome};
use common::{admin, keep, tenant, world};

async fn trail(registry: &Registry) -> Vec<AuditRecord> {
    registry
        .audit(&Actor::System, &tenant("acme"), None, None, 100)
        .await
        .unwrap()
}

#[tokio::test]
async fn a_platform_admins_read_of_a_tenants_activity_is_audited_there() {
    let w = world(Policy::default());
    let alice = admin("acme", "alice");
    let issued = w
        .registry
        .create(&alice, &tenant("acme"), NewClient::named("svc"))
        .await
        .unwrap();
    let (id, _) = keep(&issued.credentials);
    // Something to read: a refused token request is an activity row.
    let _ = w
        .registry
        .authenticate(&id, &Secret::from("acme_wrong"))
        .await;

    let before = trail(&w.registry).await.len();

    // The tenant's own admin reads: nothing recorded.
    w.registry
        .activity(&alice, &tenant("acme"), Some(&id), None, 10)
        .await
        .unwrap();
    assert_eq!(trail(&w.registry).await.len(), before);

    // A platform admin reads the client's, then the tenant's activity:
    // each read is in the tenant's trail, with who and which client.
    let ops = Actor::platform_admin("ops");
    w.registry
        .activity(&ops, &tenant("acme"), Some(&id), None, 10)
        .await
        .unwrap();
    w.registry
        .activity(&ops, &tenant("acme"), None, None, 10)
        .await
        .unwrap();
    let records = trail(&w.registry).await;
    let reads: Vec<_> = records[before..]
        .iter()
        .map(|r| {
            (
                r.event.action,
                r.event.actor.clone(),
                r.event.client_id.clone(),
                r.event.outcome.clone(),
                r.event.detail.clone(),
            )
        })
        .collect();
    let by_ops = AuditActor::PlatformAdmin { user: "ops".into() };
    assert_eq!(
        reads,
        vec![
            (
                AuditAction::Read,
                by_ops.clone(),
                Some(id.clone()),
                AuditOutcome::Success,
                Some("activity".to_owned())
            ),
            (
                AuditAction::Read,
                by_ops,
                None,
                AuditOutcome::Success,
                Some("activity".to_owned())
            ),
        ]
    );

    // Another tenant's admin: not found, as ever.
    assert!(matches!(
        w.registry
            .activity(&admin("globex", "eve"), &tenant("acme"), None, None, 10)
            .await,
        Err(Error::NotFound)
    ));
}
