//! The issuer's signing keys (platform admins only).

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use clientcreds_registry::{Actor, KeyInfo, KeyManager};
use serde_json::{Value, json};

use super::logs::rfc3339;
use super::{Admin, AdminApi};
use crate::Error;

/// The key manager, for a platform admin: 403 for a tenant admin.
fn platform(api: &AdminApi, actor: &Actor) -> Result<std::sync::Arc<KeyManager>, Error> {
    if !matches!(actor, Actor::PlatformAdmin { .. }) {
        return Err(Error::Forbidden {
            reason: "signing keys are managed by platform admins".into(),
        });
    }
    api.inner.key_manager.clone().ok_or(Error::NotFound)
}

fn key_json(key: &KeyInfo) -> Value {
    json!({
        "kid": key.kid,
        "algorithm": key.algorithm.name(),
        "created_at": rfc3339(key.created_at),
        "publish_from": rfc3339(key.publish_from),
        "sign_from": rfc3339(key.sign_from),
        "sign_until": key.sign_until.map(rfc3339),
        "unpublish_after": key.unpublish_after.map(rfc3339),
        "signing": key.signing,
        "published": key.published,
    })
}

/// `GET /signing-keys`: every stored key's schedule (no key material).
pub(super) async fn list(
    State(api): State<AdminApi>,
    Admin(actor): Admin,
) -> Result<Json<Value>, Error> {
    let keys = platform(&api, &actor)?.keys().await?;
    Ok(Json(
        json!({ "keys": keys.iter().map(key_json).collect::<Vec<_>>() }),
    ))
}

/// `POST /signing-keys/rotate`: publish the next key now; it signs after
/// the publish lead.
pub(super) async fn rotate(
    State(api): State<AdminApi>,
    Admin(actor): Admin,
) -> Result<Json<Value>, Error> {
    let kid = platform(&api, &actor)?.rotate_now(&actor).await?;
    tracing::info!(admin = actor.user_id(), %kid, "signing key rotation requested");
    Ok(Json(json!({ "next_kid": kid })))
}

/// `POST /signing-keys/{kid}/withdraw`: a compromised key leaves the JWKS
/// at once; its tokens stop verifying.
pub(super) async fn withdraw(
    State(api): State<AdminApi>,
    Admin(actor): Admin,
    Path(kid): Path<String>,
) -> Result<StatusCode, Error> {
    platform(&api, &actor)?.withdraw(&actor, &kid).await?;
    tracing::warn!(admin = actor.user_id(), %kid, "signing key withdrawn");
    Ok(StatusCode::NO_CONTENT)
}
