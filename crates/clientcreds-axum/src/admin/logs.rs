//! The audit trail, token activity, and expiry warnings.

use axum::Json;
use axum::extract::{Path, State};
use clientcreds_registry::{Actor, Error as RegistryError, MAX_PAGE_SIZE};
use clientcreds_store::TenantId;
use serde_json::{Value, json};

use super::{
    ActivityCountJson, ActivityJson, Admin, AdminApi, AuditJson, CountParams, CountsJson,
    DEFAULT_LOG_PAGE, Page, PageParams, Params, tenant,
};
use crate::Error;

fn page_size(limit: Option<usize>) -> Result<usize, Error> {
    let limit = limit.unwrap_or(DEFAULT_LOG_PAGE);
    if (1..=MAX_PAGE_SIZE).contains(&limit) {
        Ok(limit)
    } else {
        Err(Error::bad_request(
            "limit",
            format!("must be 1 to {MAX_PAGE_SIZE}"),
        ))
    }
}

/// `GET /tenants/{tenant}/audit`: lifecycle records, oldest first.
pub(super) async fn audit(
    State(api): State<AdminApi>,
    Admin(actor): Admin,
    Path(tenant_id): Path<String>,
    Params(params): Params<PageParams>,
) -> Result<Json<Page<AuditJson>>, Error> {
    let tenant = tenant(&tenant_id)?;
    let limit = page_size(params.limit)?;
    let records = api
        .registry()
        .audit(
            &actor,
            &tenant,
            params.client_id.as_deref(),
            params.after,
            limit,
        )
        .await?;
    let records = records.iter().map(AuditJson::from).collect();
    Ok(Json(Page::of(records, limit, |r: &AuditJson| r.seq)))
}

/// `GET /tenants/{tenant}/activity`: token-endpoint events of the tenant's
/// clients (or of `client_id`), oldest first.
pub(super) async fn tenant_activity(
    State(api): State<AdminApi>,
    Admin(actor): Admin,
    Path(tenant_id): Path<String>,
    Params(params): Params<PageParams>,
) -> Result<Json<Page<ActivityJson>>, Error> {
    let tenant = tenant(&tenant_id)?;
    let client_id = params.client_id.clone();
    activity(&api, &actor, tenant, client_id, params).await
}

/// `GET /tenants/{tenant}/clients/{client_id}/activity`: one client's
/// token-endpoint events (product A: "confirm the cutover in Activity
/// logs").
pub(super) async fn client_activity(
    State(api): State<AdminApi>,
    Admin(actor): Admin,
    Path((tenant_id, client_id)): Path<(String, String)>,
    Params(params): Params<PageParams>,
) -> Result<Json<Page<ActivityJson>>, Error> {
    let tenant = tenant(&tenant_id)?;
    // Authorizes (tenancy) and 404s for an unknown client; the log of a
    // deleted client is read through the tenant's log.
    api.registry().get(&actor, &tenant, &client_id).await?;
    activity(&api, &actor, tenant, Some(client_id), params).await
}

async fn activity(
    api: &AdminApi,
    actor: &Actor,
    tenant: TenantId,
    client_id: Option<String>,
    params: PageParams,
) -> Result<Json<Page<ActivityJson>>, Error> {
    let limit = page_size(params.limit)?;
    // Authorizes, and records a platform admin's read in the tenant's trail.
    let records = api
        .registry()
        .activity(actor, &tenant, client_id.as_deref(), params.after, limit)
        .await?;
    let records = records.iter().map(ActivityJson::from).collect();
    Ok(Json(Page::of(records, limit, |r: &ActivityJson| r.seq)))
}

/// `GET /tenants/{tenant}/activity/counts`: tokens issued and refused per
/// client, secret, source and minute.
pub(super) async fn tenant_counts(
    State(api): State<AdminApi>,
    Admin(actor): Admin,
    Path(tenant_id): Path<String>,
    Params(params): Params<CountParams>,
) -> Result<Json<CountsJson>, Error> {
    let tenant = tenant(&tenant_id)?;
    let client_id = params.client_id.clone();
    counts(&api, &actor, tenant, client_id, params).await
}

/// `GET /tenants/{tenant}/clients/{client_id}/activity/counts`: one
/// client's counts (product A: "is the old secret still in use, and from
/// where").
pub(super) async fn client_counts(
    State(api): State<AdminApi>,
    Admin(actor): Admin,
    Path((tenant_id, client_id)): Path<(String, String)>,
    Params(params): Params<CountParams>,
) -> Result<Json<CountsJson>, Error> {
    let tenant = tenant(&tenant_id)?;
    api.registry().get(&actor, &tenant, &client_id).await?;
    counts(&api, &actor, tenant, Some(client_id), params).await
}

async fn counts(
    api: &AdminApi,
    actor: &Actor,
    tenant: TenantId,
    client_id: Option<String>,
    params: CountParams,
) -> Result<Json<CountsJson>, Error> {
    let limit = page_size(params.limit)?;
    let counts = api
        .registry()
        .activity_counts(
            actor,
            &tenant,
            client_id.as_deref(),
            params.since,
            params.until,
            limit,
        )
        .await?;
    Ok(Json(CountsJson {
        truncated: counts.len() >= limit,
        counts: counts.iter().map(ActivityCountJson::from).collect(),
    }))
}

/// `GET /tenants/{tenant}/clients/{client_id}/warnings`: the expiry
/// warnings recorded for a client (sent, pending, undeliverable) and when
/// each secret's next one is due.
pub(super) async fn warnings(
    State(api): State<AdminApi>,
    Admin(actor): Admin,
    Path((tenant_id, client_id)): Path<(String, String)>,
) -> Result<Json<Value>, Error> {
    let tenant = tenant(&tenant_id)?;
    let Some(ledger) = api.inner.ledger.as_ref() else {
        return Err(Error::NotFound);
    };
    // Authorizes (tenancy) and 404s for an unknown client.
    let view = api.registry().get(&actor, &tenant, &client_id).await?;
    let records = ledger
        .warnings(&tenant, &client_id)
        .await
        .map_err(RegistryError::from)?;
    let warnings: Vec<Value> = records
        .iter()
        .map(|r| {
            json!({
                "secret_id": r.key.secret_id,
                "stage_days": r.key.stage_days,
                "recipient": r.key.recipient,
                "state": r.state.as_str(),
                "attempts": r.attempts,
                "detail": r.detail,
                "updated_at": rfc3339(r.updated_at),
            })
        })
        .collect();
    let next: Vec<Value> = view
        .secrets
        .iter()
        .filter_map(|s| {
            s.next_warning_at
                .map(|t| json!({ "secret_id": s.secret_id, "next_warning_at": rfc3339(t) }))
        })
        .collect();
    Ok(Json(json!({ "warnings": warnings, "next": next })))
}

/// An instant as RFC 3339 text (empty for the unrepresentable).
pub(super) fn rfc3339(at: time::OffsetDateTime) -> String {
    at.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}
