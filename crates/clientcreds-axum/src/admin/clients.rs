//! Create, list, read, change and delete clients.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use clientcreds_registry::Issued;
use serde_json::{Value, json};

use super::{
    Admin, AdminApi, ClientJson, CreateClient, ListParams, Params, UpdateClient, client_response,
    if_match, parse_json, tenant, with_etag,
};
use crate::Error;

/// The client and, this once, its credentials: `client_secret` and the
/// new secret's `secret_id` next to the client's fields.
pub(super) fn issued_response(status: StatusCode, issued: &Issued) -> Response {
    let client = ClientJson::from(&issued.client);
    let mut body = serde_json::to_value(&client).unwrap_or(Value::Null);
    if let Some(map) = body.as_object_mut() {
        map.insert(
            "client_secret".into(),
            issued.credentials.client_secret.expose_secret().into(),
        );
        map.insert(
            "secret_id".into(),
            issued.credentials.secret_id.to_string().into(),
        );
    }
    with_etag((status, Json(body)).into_response(), client.version)
}

/// `POST /tenants/{tenant}/clients`.
pub(super) async fn create(
    State(api): State<AdminApi>,
    Admin(actor): Admin,
    Path(tenant_id): Path<String>,
    body: Bytes,
) -> Result<Response, Error> {
    let tenant = tenant(&tenant_id)?;
    let body: CreateClient = parse_json(&body)?;
    // Keys or a federated credential instead of a secret: no secret to show.
    if let Some(auth) = body.auth()? {
        let view = api
            .registry()
            .create_with_keys(&actor, &tenant, body.into_new_client()?, auth)
            .await?;
        return Ok(client_response(
            StatusCode::CREATED,
            &ClientJson::from(&view),
        ));
    }
    let issued = api
        .registry()
        .create(&actor, &tenant, body.into_new_client()?)
        .await?;
    Ok(issued_response(StatusCode::CREATED, &issued))
}

/// `GET /tenants/{tenant}/clients`.
pub(super) async fn list(
    State(api): State<AdminApi>,
    Admin(actor): Admin,
    Path(tenant_id): Path<String>,
    Params(params): Params<ListParams>,
) -> Result<Json<Value>, Error> {
    let tenant = tenant(&tenant_id)?;
    let page = api
        .registry()
        .list(&actor, &tenant, params.into_query()?)
        .await?;
    let clients: Vec<ClientJson> = page.clients.iter().map(ClientJson::from).collect();
    Ok(Json(
        json!({ "clients": clients, "next_cursor": page.next_cursor }),
    ))
}

/// `GET /tenants/{tenant}/clients/{client_id}`.
pub(super) async fn get(
    State(api): State<AdminApi>,
    Admin(actor): Admin,
    Path((tenant_id, client_id)): Path<(String, String)>,
) -> Result<Response, Error> {
    let tenant = tenant(&tenant_id)?;
    let view = api.registry().get(&actor, &tenant, &client_id).await?;
    Ok(client_response(StatusCode::OK, &ClientJson::from(&view)))
}

/// `PATCH /tenants/{tenant}/clients/{client_id}`, conditional with
/// `If-Match`.
pub(super) async fn update(
    State(api): State<AdminApi>,
    Admin(actor): Admin,
    Path((tenant_id, client_id)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, Error> {
    let tenant = tenant(&tenant_id)?;
    let expected = if_match(&headers)?;
    let body: UpdateClient = parse_json(&body)?;
    let update = body.into_update(expected)?;
    let view = api
        .registry()
        .update(&actor, &tenant, &client_id, update)
        .await
        .map_err(|error| match (error, expected) {
            (clientcreds_registry::Error::Conflict, Some(_)) => Error::PreconditionFailed,
            (error, _) => Error::from(error),
        })?;
    Ok(client_response(StatusCode::OK, &ClientJson::from(&view)))
}

/// `DELETE /tenants/{tenant}/clients/{client_id}`.
pub(super) async fn delete(
    State(api): State<AdminApi>,
    Admin(actor): Admin,
    Path((tenant_id, client_id)): Path<(String, String)>,
) -> Result<StatusCode, Error> {
    let tenant = tenant(&tenant_id)?;
    api.registry().delete(&actor, &tenant, &client_id).await?;
    Ok(StatusCode::NO_CONTENT)
}
