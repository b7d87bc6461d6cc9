//! Keys and federated credentials: clients without a secret (issue 23).

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::{AddClientKey, AddFederatedCredential, SetJwksUri};
use super::{Admin, AdminApi, ClientJson, client_response, parse_json, tenant, with_etag};
use crate::Error;

/// The client with one more field (`kid` or `id`) next to its fields.
fn with_field(view: &clientcreds_registry::ClientView, name: &str, value: String) -> Response {
    let client = ClientJson::from(view);
    let mut body = serde_json::to_value(&client).unwrap_or(Value::Null);
    if let Some(map) = body.as_object_mut() {
        map.insert(name.into(), value.into());
    }
    with_etag(
        (StatusCode::CREATED, Json(body)).into_response(),
        client.version,
    )
}

/// `POST .../clients/{client_id}/keys`.
pub(super) async fn add_key(
    State(api): State<AdminApi>,
    Admin(actor): Admin,
    Path((tenant_id, client_id)): Path<(String, String)>,
    body: Bytes,
) -> Result<Response, Error> {
    let tenant = tenant(&tenant_id)?;
    let body: AddClientKey = parse_json(&body)?;
    let (view, kid) = api
        .registry()
        .add_client_key(&actor, &tenant, &client_id, body.into_key()?)
        .await?;
    Ok(with_field(&view, "kid", kid))
}

/// `DELETE .../clients/{client_id}/keys/{kid}`.
pub(super) async fn remove_key(
    State(api): State<AdminApi>,
    Admin(actor): Admin,
    Path((tenant_id, client_id, kid)): Path<(String, String, String)>,
) -> Result<Response, Error> {
    let tenant = tenant(&tenant_id)?;
    let view = api
        .registry()
        .remove_client_key(&actor, &tenant, &client_id, &kid)
        .await?;
    Ok(client_response(StatusCode::OK, &ClientJson::from(&view)))
}

/// `POST .../clients/{client_id}/federated-credentials`.
pub(super) async fn add_federated(
    State(api): State<AdminApi>,
    Admin(actor): Admin,
    Path((tenant_id, client_id)): Path<(String, String)>,
    body: Bytes,
) -> Result<Response, Error> {
    let tenant = tenant(&tenant_id)?;
    let body: AddFederatedCredential = parse_json(&body)?;
    if body.issuer.is_empty() {
        return Err(Error::bad_request("issuer", "is required"));
    }
    let (view, id) = api
        .registry()
        .add_federated_credential(&actor, &tenant, &client_id, body.into_credential())
        .await?;
    Ok(with_field(&view, "id", id))
}

/// `DELETE .../clients/{client_id}/federated-credentials/{id}`.
pub(super) async fn remove_federated(
    State(api): State<AdminApi>,
    Admin(actor): Admin,
    Path((tenant_id, client_id, id)): Path<(String, String, String)>,
) -> Result<Response, Error> {
    let tenant = tenant(&tenant_id)?;
    let view = api
        .registry()
        .remove_federated_credential(&actor, &tenant, &client_id, &id)
        .await?;
    Ok(client_response(StatusCode::OK, &ClientJson::from(&view)))
}

/// `PUT .../clients/{client_id}/jwks-uri`.
pub(super) async fn set_jwks_uri(
    State(api): State<AdminApi>,
    Admin(actor): Admin,
    Path((tenant_id, client_id)): Path<(String, String)>,
    body: Bytes,
) -> Result<Json<Value>, Error> {
    let tenant = tenant(&tenant_id)?;
    let body: SetJwksUri = parse_json(&body)?;
    let view = api
        .registry()
        .set_jwks_uri(&actor, &tenant, &client_id, body.jwks_uri)
        .await?;
    Ok(Json(json!(ClientJson::from(&view))))
}
