//! One scenario per reference product (../shared/reference), for the parts
//! of its lifecycle the registry owns, driven by a manual clock.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use clientcreds_registry::{
    Actor, AuthFailure, ClientUpdate, Clock, Error, ListQuery, NewClient, Policy, RotateOptions,
    RotationMode, SecretLifetime,
};
use clientcreds_store::{
    AuditAction, AuditOutcome, ClaimValue, ClientStatus, EffectiveStatus, SecretState, StatusFilter,
};
use common::{admin, auth, auth_with, keep, tenant, world};
use time::Duration;

/// Product A: org admins manage their own tenant, root staff pick a
/// tenant; rotation issues a new client id + secret and the old client
/// keeps minting for 7 days; "Revoke now" closes the window early.
#[tokio::test]
async fn product_a_rotation_with_new_client_and_grace() {
    let w = world(
        Policy::default()
            .with_prefix("velgent_")
            .with_rotation(RotationMode::ReplaceClient, Duration::days(7)),
    );
    let acme = tenant("acme");
    let org_admin = admin("acme", "olivia");
    let root = Actor::platform_admin("root");

    let created = w
        .registry
        .create(&org_admin, &acme, NewClient::named("copilot-studio"))
        .await
        .unwrap();
    let old = keep(&created.credentials);
    assert!(old.0.starts_with("velgent_client_") && old.1.starts_with("velgent_secret_"));
    // Only a short prefix is stored and shown; the client id stays visible.
    let view = w.registry.get(&root, &acme, &old.0).await.unwrap();
    assert_eq!(view.secrets.len(), 1);
    assert!(old.1.starts_with(&view.secrets[0].display_prefix));
    assert!(view.secrets[0].display_prefix.len() < 30);
    assert_eq!(auth(&w.registry, &created.credentials).await, Ok(()));

    // Rotate: a new client id + secret, shown once.
    let rotated = w
        .registry
        .rotate(&org_admin, &acme, &old.0, RotateOptions::default())
        .await
        .unwrap();
    let new = keep(&rotated.credentials);
    assert_ne!(new.0, old.0);
    let old_view = w.registry.get(&org_admin, &acme, &old.0).await.unwrap();
    let until = w.clock.now() + Duration::days(7);
    assert_eq!(old_view.status, EffectiveStatus::Expiring { until });
    assert_eq!(old_view.replaced_by.as_deref(), Some(new.0.as_str()));
    let expiring = w
        .registry
        .list(
            &org_admin,
            &acme,
            ListQuery::default().status(StatusFilter::Expiring),
        )
        .await
        .unwrap();
    assert_eq!(
        expiring
            .clients
            .iter()
            .map(|c| c.client_id.as_str())
            .collect::<Vec<_>>(),
        [old.0.as_str()]
    );

    // Both work for 7 days minus a second...
    w.clock.advance(Duration::days(7) - Duration::seconds(1));
    assert_eq!(auth_with(&w.registry, &old.0, &old.1).await, Ok(()));
    assert_eq!(auth_with(&w.registry, &new.0, &new.1).await, Ok(()));
    // ...and at 7 days the old client can no longer mint.
    w.clock.advance(Duration::seconds(1));
    assert_eq!(
        auth_with(&w.registry, &old.0, &old.1).await,
        Err(AuthFailure::GraceEnded)
    );
    assert_eq!(auth_with(&w.registry, &new.0, &new.1).await, Ok(()));
    assert_eq!(
        w.registry
            .get(&org_admin, &acme, &old.0)
            .await
            .unwrap()
            .status,
        EffectiveStatus::Expired
    );

    // Second rotation, closed early with "revoke now".
    let third = w
        .registry
        .rotate(&root, &acme, &new.0, RotateOptions::default())
        .await
        .unwrap();
    assert_eq!(auth_with(&w.registry, &new.0, &new.1).await, Ok(()));
    w.registry
        .end_grace(&org_admin, &acme, &new.0)
        .await
        .unwrap();
    assert_eq!(
        auth_with(&w.registry, &new.0, &new.1).await,
        Err(AuthFailure::GraceEnded)
    );
    assert_eq!(auth(&w.registry, &third.credentials).await, Ok(()));

    // A replaced client cannot be rotated again; its successor can.
    assert!(matches!(
        w.registry
            .rotate(&org_admin, &acme, &new.0, RotateOptions::default())
            .await,
        Err(Error::AlreadyReplaced { .. })
    ));

    // Revoke: no new tokens from that moment.
    w.registry
        .revoke(&org_admin, &acme, &third.credentials.client_id)
        .await
        .unwrap();
    assert_eq!(
        auth(&w.registry, &third.credentials).await,
        Err(AuthFailure::Revoked)
    );

    // Another tenant's org admin sees nothing.
    let stranger = admin("globex", "gary");
    assert!(matches!(
        w.registry.get(&stranger, &acme, &old.0).await,
        Err(Error::NotFound)
    ));

    // Create, rotate and revoke are in the audit trail, one record each.
    let trail = w
        .registry
        .audit(&root, &acme, None, None, 100)
        .await
        .unwrap();
    let successes: Vec<_> = trail
        .iter()
        .filter(|r| r.event.outcome == AuditOutcome::Success)
        .map(|r| r.event.action)
        .collect();
    assert_eq!(
        successes,
        [
            AuditAction::Create,
            AuditAction::Rotate,
            AuditAction::Rotate,
            AuditAction::EndGrace,
            AuditAction::Revoke
        ]
    );
}

/// Product B: a tenant-specific scope, rotation by delete + create.
#[tokio::test]
async fn product_b_scoped_client_replaced_by_delete_and_create() {
    let w = world(Policy::default().with_prefix("oleria_"));
    let t = tenant("devx");
    let actor = admin("devx", "dana");
    let scope = "ClientCredentialsResourceServer/client_credentials_base_scope";
    let first = w
        .registry
        .create(
            &actor,
            &t,
            NewClient::named("BI nightly export")
                .with_scopes([scope])
                .with_audiences(["https://api.oleria.example"]),
        )
        .await
        .unwrap();
    let client = w
        .registry
        .authenticate(
            &first.credentials.client_id,
            &first.credentials.client_secret,
        )
        .await
        .unwrap();
    assert_eq!(client.scopes(), [scope]);
    assert_eq!(client.audiences(), ["https://api.oleria.example"]);
    assert_eq!(client.token_lifetime(), Duration::hours(1));

    // "Roll out the new credentials before deleting the old key."
    let second = w
        .registry
        .create(
            &actor,
            &t,
            NewClient::named("BI nightly export").with_scopes([scope]),
        )
        .await
        .unwrap();
    assert_eq!(auth(&w.registry, &first.credentials).await, Ok(()));
    assert_eq!(auth(&w.registry, &second.credentials).await, Ok(()));
    w.registry
        .delete(&actor, &t, &first.credentials.client_id)
        .await
        .unwrap();
    assert_eq!(
        auth(&w.registry, &first.credentials).await,
        Err(AuthFailure::UnknownClient)
    );
    assert_eq!(auth(&w.registry, &second.credentials).await, Ok(()));
}

/// Product C: roles chosen at creation and edited later; 30-minute tokens.
#[tokio::test]
async fn product_c_roles_and_30_minute_tokens() {
    let w = world(
        Policy::default()
            .with_prefix("vectara_")
            .with_token_lifetime(Duration::minutes(30)),
    );
    let t = tenant("customer-1");
    let actor = admin("customer-1", "carla");
    let roles = |r: &[&str]| ClaimValue::List(r.iter().map(|s| (*s).to_owned()).collect());
    let issued = w
        .registry
        .create(
            &actor,
            &t,
            NewClient::named("indexer")
                .with_description("nightly indexing")
                .with_claim("roles", roles(&["corpus_reader"])),
        )
        .await
        .unwrap();
    let client = w
        .registry
        .authenticate(
            &issued.credentials.client_id,
            &issued.credentials.client_secret,
        )
        .await
        .unwrap();
    assert_eq!(client.token_lifetime(), Duration::minutes(30));
    assert_eq!(client.extra_claims()["roles"], roles(&["corpus_reader"]));

    // "Role mismatch: edit roles in Console."
    let mut claims = std::collections::BTreeMap::new();
    claims.insert(
        "roles".to_owned(),
        roles(&["corpus_reader", "corpus_writer"]),
    );
    w.registry
        .update(
            &actor,
            &t,
            &issued.credentials.client_id,
            ClientUpdate::default().extra_claims(claims),
        )
        .await
        .unwrap();
    let client = w
        .registry
        .authenticate(
            &issued.credentials.client_id,
            &issued.credentials.client_secret,
        )
        .await
        .unwrap();
    assert_eq!(
        client.extra_claims()["roles"],
        roles(&["corpus_reader", "corpus_writer"])
    );

    // A client cannot smuggle the token's own claims in.
    let err = w
        .registry
        .create(
            &actor,
            &t,
            NewClient::named("x").with_claim("sub", ClaimValue::Text("root".into())),
        )
        .await
        .unwrap_err();
    assert!(matches!(
        err,
        Error::Invalid {
            field: "extra_claims",
            ..
        }
    ));
}

/// Product D: name, description, least-privilege scopes; list shows scopes
/// and creation dates; delete cuts the client off and cannot be undone.
#[tokio::test]
async fn product_d_scopes_and_delete() {
    let w = world(Policy::default().with_prefix("spice_"));
    let t = tenant("org-42");
    let actor = admin("org-42", "sam");
    let issued = w
        .registry
        .create(
            &actor,
            &t,
            NewClient::named("CI Pipeline")
                .with_description("deploys")
                .with_scopes(["sql:read", "datasets:write"]),
        )
        .await
        .unwrap();
    let listed = w
        .registry
        .list(&actor, &t, ListQuery::default())
        .await
        .unwrap();
    assert_eq!(listed.clients.len(), 1);
    assert_eq!(listed.clients[0].scopes, ["sql:read", "datasets:write"]);
    assert_eq!(listed.clients[0].created_at, common::start());
    // Scope syntax is RFC 6749's: no spaces, quotes or backslashes.
    for bad in ["has space", "quo\"te", "back\\slash", ""] {
        let err = w
            .registry
            .create(&actor, &t, NewClient::named("bad").with_scopes([bad]))
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
            "{bad:?}"
        );
    }
    w.registry
        .delete(&actor, &t, &issued.credentials.client_id)
        .await
        .unwrap();
    assert_eq!(
        auth(&w.registry, &issued.credentials).await,
        Err(AuthFailure::UnknownClient)
    );
    assert!(matches!(
        w.registry
            .get(&actor, &t, &issued.credentials.client_id)
            .await,
        Err(Error::NotFound)
    ));
    assert!(matches!(
        w.registry
            .delete(&actor, &t, &issued.credentials.client_id)
            .await,
        Err(Error::NotFound)
    ));
}

/// Product E: super admins create clients for a user; secrets expire after
/// 180 days; rotation keeps the id and kills the old secret at once;
/// revoked clients are never reactivated; search and status filters.
#[tokio::test]
async fn product_e_secret_expiry_rotation_and_revocation() {
    let w = world(
        Policy::default()
            .with_prefix("breeze_")
            .with_secret_lifetime(Some(Duration::days(180)))
            .with_rotation(RotationMode::ReplaceSecret, Duration::ZERO),
    );
    let t = tenant("tenant-7");
    let super_admin = Actor::platform_admin("super");
    let issued = w
        .registry
        .create(
            &super_admin,
            &t,
            NewClient::named("ERP sync")
                .with_description("nightly")
                .with_owner("user-17"),
        )
        .await
        .unwrap();
    let first = keep(&issued.credentials);
    let view = &issued.client;
    assert_eq!(view.status, EffectiveStatus::Active);
    assert_eq!(view.owner.as_deref(), Some("user-17"));
    assert_eq!(view.created_by, "super");
    assert_eq!(view.last_used_at, None, "Never used");
    assert_eq!(
        view.secrets[0].expires_at,
        Some(common::start() + Duration::days(180))
    );

    // Last used appears after authentication.
    assert_eq!(auth_with(&w.registry, &first.0, &first.1).await, Ok(()));
    assert_eq!(
        w.registry
            .get(&super_admin, &t, &first.0)
            .await
            .unwrap()
            .last_used_at,
        Some(common::start())
    );

    // Search by name or client id, case-insensitive; filter by status.
    let other = w
        .registry
        .create(
            &super_admin,
            &t,
            NewClient::named("Billing export").with_owner("user-17"),
        )
        .await
        .unwrap();
    let by_name = w
        .registry
        .list(&super_admin, &t, ListQuery::default().search("erp SY"))
        .await
        .unwrap();
    assert_eq!(by_name.clients.len(), 1);
    let tail = &other.credentials.client_id[15..25];
    let by_id = w
        .registry
        .list(
            &super_admin,
            &t,
            ListQuery::default().search(tail.to_uppercase()),
        )
        .await
        .unwrap();
    assert_eq!(by_id.clients[0].client_id, other.credentials.client_id);

    // Edit; Active ⇄ Inactive.
    let edited = w
        .registry
        .update(
            &super_admin,
            &t,
            &first.0,
            ClientUpdate::default()
                .name("ERP sync v2")
                .description("hourly")
                .scopes(["erp:read"])
                .status(ClientStatus::Inactive),
        )
        .await
        .unwrap();
    assert_eq!(
        (edited.name.as_str(), edited.status),
        ("ERP sync v2", EffectiveStatus::Inactive)
    );
    assert_eq!(
        auth_with(&w.registry, &first.0, &first.1).await,
        Err(AuthFailure::Inactive)
    );
    let inactive = w
        .registry
        .list(
            &super_admin,
            &t,
            ListQuery::default().status(StatusFilter::Inactive),
        )
        .await
        .unwrap();
    assert_eq!(inactive.clients.len(), 1);
    w.registry
        .update(
            &super_admin,
            &t,
            &first.0,
            ClientUpdate::default().status(ClientStatus::Active),
        )
        .await
        .unwrap();
    assert_eq!(auth_with(&w.registry, &first.0, &first.1).await, Ok(()));

    // Expiry at 180 days: expired secrets never authenticate...
    w.clock.advance(Duration::days(180) - Duration::seconds(1));
    assert_eq!(auth_with(&w.registry, &first.0, &first.1).await, Ok(()));
    w.clock.advance(Duration::seconds(1));
    assert_eq!(
        auth_with(&w.registry, &first.0, &first.1).await,
        Err(AuthFailure::Expired)
    );
    let expired = w
        .registry
        .list(
            &super_admin,
            &t,
            ListQuery::default().status(StatusFilter::Expired),
        )
        .await
        .unwrap();
    assert_eq!(expired.clients.len(), 2);
    // ...and rotation restores access, with a fresh 180 days, same client id.
    let rotated = w
        .registry
        .rotate(&super_admin, &t, &first.0, RotateOptions::default())
        .await
        .unwrap();
    assert_eq!(rotated.credentials.client_id, first.0);
    assert_eq!(auth(&w.registry, &rotated.credentials).await, Ok(()));
    assert_eq!(
        rotated.client.secrets.last().unwrap().expires_at,
        Some(w.clock.now() + Duration::days(180))
    );

    // Rotating again: the old secret is invalidated immediately.
    let second = keep(&rotated.credentials);
    let third = w
        .registry
        .rotate(&super_admin, &t, &first.0, RotateOptions::default())
        .await
        .unwrap();
    assert_eq!(
        auth_with(&w.registry, &second.0, &second.1).await,
        Err(AuthFailure::GraceEnded)
    );
    assert_eq!(auth(&w.registry, &third.credentials).await, Ok(()));
    assert!(
        third
            .client
            .secrets
            .iter()
            .all(|s| s.state != SecretState::Active
                || s.secret_id == third.credentials.secret_id.as_str())
    );

    // A longer lifetime than the default may be asked for at rotation.
    let longer = w
        .registry
        .rotate(
            &super_admin,
            &t,
            &first.0,
            RotateOptions::default().secret_lifetime(SecretLifetime::After(Duration::days(365))),
        )
        .await
        .unwrap();
    assert_eq!(
        longer.client.secrets.last().unwrap().expires_at,
        Some(w.clock.now() + Duration::days(365))
    );

    // Revoke: terminal.
    w.registry.revoke(&super_admin, &t, &first.0).await.unwrap();
    assert_eq!(
        auth(&w.registry, &longer.credentials).await,
        Err(AuthFailure::Revoked)
    );
    assert!(matches!(
        w.registry
            .update(
                &super_admin,
                &t,
                &first.0,
                ClientUpdate::default().status(ClientStatus::Active)
            )
            .await,
        Err(Error::Revoked)
    ));
    assert!(matches!(
        w.registry
            .rotate(&super_admin, &t, &first.0, RotateOptions::default())
            .await,
        Err(Error::Revoked)
    ));
    assert!(matches!(
        w.registry.revoke(&super_admin, &t, &first.0).await,
        Err(Error::Revoked)
    ));
    let revoked = w
        .registry
        .list(
            &super_admin,
            &t,
            ListQuery::default().status(StatusFilter::Revoked),
        )
        .await
        .unwrap();
    assert_eq!(
        revoked.clients[0].client_id, first.0,
        "revoked clients stay visible"
    );
}
