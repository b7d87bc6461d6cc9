//! Rotate, end a grace window, revoke.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;

use super::clients::issued_response;
use super::{Admin, AdminApi, ClientJson, RotateClient, client_response, parse_json, tenant};
use crate::Error;

/// `POST /tenants/{tenant}/clients/{client_id}/rotate`: the new
/// credentials, once (after `"mode": "client"`, a new client).
pub(super) async fn rotate(
    State(api): State<AdminApi>,
    Admin(actor): Admin,
    Path((tenant_id, client_id)): Path<(String, String)>,
    body: Bytes,
) -> Result<Response, Error> {
    let tenant = tenant(&tenant_id)?;
    let body: RotateClient = parse_json(&body)?;
    let issued = api
        .registry()
        .rotate(&actor, &tenant, &client_id, body.into_options()?)
        .await?;
    Ok(issued_response(StatusCode::OK, &issued))
}

/// `POST /tenants/{tenant}/clients/{client_id}/end-grace`: the old
/// credential stops now (product A's "Revoke now").
pub(super) async fn end_grace(
    State(api): State<AdminApi>,
    Admin(actor): Admin,
    Path((tenant_id, client_id)): Path<(String, String)>,
) -> Result<Response, Error> {
    let tenant = tenant(&tenant_id)?;
    let view = api
        .registry()
        .end_grace(&actor, &tenant, &client_id)
        .await?;
    Ok(client_response(StatusCode::OK, &ClientJson::from(&view)))
}

/// `POST /tenants/{tenant}/clients/{client_id}/revoke`: terminal.
pub(super) async fn revoke(
    State(api): State<AdminApi>,
    Admin(actor): Admin,
    Path((tenant_id, client_id)): Path<(String, String)>,
) -> Result<Response, Error> {
    let tenant = tenant(&tenant_id)?;
    let view = api.registry().revoke(&actor, &tenant, &client_id).await?;
    Ok(client_response(StatusCode::OK, &ClientJson::from(&view)))
}
