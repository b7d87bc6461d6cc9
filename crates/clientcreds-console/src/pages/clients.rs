//! The clients table, the create form, and a client's page.

use axum::extract::{Path, State};
use axum::http::Uri;
use axum::response::Response;
use clientcreds_registry::{ClientView, Grants, ListQuery, NewClient, SecretLifetime};
use clientcreds_store::{ClaimValue, EffectiveStatus, SecretState, StatusFilter, TenantId};
use maud::{Markup, html};

use super::{encode, query, reveal, tenant};
use crate::form::{Form, Posted, words};
use crate::layout::{Nav, csrf_field, notice, page, secret_badge, status_badge, when, when_or};
use crate::security::Ctx;
use crate::{Console, Error};

/// Clients per page of the table.
pub(crate) const PAGE_SIZE: usize = 50;

const STATUSES: [(&str, &str); 6] = [
    ("", "All"),
    ("active", "Active"),
    ("inactive", "Inactive"),
    ("expiring", "Expiring"),
    ("expired", "Expired"),
    ("revoked", "Revoked"),
];

fn status_filter(text: &str) -> Result<Option<StatusFilter>, Error> {
    Ok(Some(match text {
        "" => return Ok(None),
        "active" => StatusFilter::Active,
        "inactive" => StatusFilter::Inactive,
        "revoked" => StatusFilter::Revoked,
        "expiring" => StatusFilter::Expiring,
        "expired" => StatusFilter::Expired,
        _ => {
            return Err(Error::bad(
                "status",
                "must be active, inactive, revoked, expiring or expired",
            ));
        }
    }))
}

/// `GET /t/{tenant}/clients`: search, status filter, pages of 50.
pub(crate) async fn list(
    State(console): State<Console>,
    ctx: Ctx,
    Path(tenant_id): Path<String>,
    uri: Uri,
) -> Result<Response, Error> {
    let tenant = tenant(&tenant_id)?;
    let params = query(&uri);
    let search = params.text("q").unwrap_or_default().to_owned();
    let status = params.text("status").unwrap_or_default().to_owned();
    let mut list_query = ListQuery::default().limit(PAGE_SIZE);
    if let Some(filter) = status_filter(&status)? {
        list_query = list_query.status(filter);
    }
    if !search.is_empty() {
        list_query = list_query.search(search.clone());
    }
    let first_page = params.text("cursor").is_none();
    if let Some(cursor) = params.text("cursor") {
        list_query = list_query.cursor(cursor);
    }
    let page_of = console
        .inner
        .registry
        .list(&ctx.actor, &tenant, list_query)
        .await?;
    let base = &ctx.base;
    let here = format!("{base}/t/{tenant}/clients");
    let filters = format!("q={}&status={}", encode(&search), encode(&status));
    let body = html! {
        (notice(params.get("done")))
        form.filters method="get" action=(here) role="search" {
            label for="q" { "Search by name or client id" }
            input #q type="search" name="q" value=(search);
            label for="status" { "Status" }
            select #status name="status" {
                @for (value, label) in STATUSES {
                    option value=(value) selected[value == status] { (label) }
                }
            }
            button type="submit" { "Filter" }
        }
        p { a.button href={ (base) "/t/" (tenant) "/clients/new" } { "Create client" } }
        @if page_of.clients.is_empty() {
            p.empty { "No clients match." }
        } @else {
            (clients_table(base, &tenant, &page_of.clients))
        }
        nav.pages aria-label="Pages" {
            @if !first_page {
                a href={ (here) "?" (filters) } { "First page" }
            }
            @if let Some(next) = &page_of.next_cursor {
                " " a rel="next" href={ (here) "?" (filters) "&cursor=" (encode(next)) } { "Next page" }
            }
        }
    };
    Ok(page(
        &ctx,
        &console,
        Some(&tenant),
        Nav::Clients,
        "OAuth clients",
        body,
    ))
}

/// The table of clients: name, id, status, secrets, scopes, created.
pub(crate) fn clients_table(base: &str, tenant: &TenantId, clients: &[ClientView]) -> Markup {
    html! {
        table.clients {
            caption.visually-hidden { "OAuth clients of tenant " (tenant) }
            thead { tr {
                th scope="col" { "Name" }
                th scope="col" { "Client ID" }
                th scope="col" { "Status" }
                th scope="col" { "Secrets" }
                th scope="col" { "Scopes" }
                th scope="col" { "Created" }
            } }
            tbody {
                @for client in clients {
                    tr {
                        td { a href={ (base) "/t/" (tenant) "/clients/" (client.client_id) } { (client.name) } }
                        td { code { (client.client_id) } }
                        td { (status_badge(client.status)) }
                        td { (secrets_summary(client)) }
                        td { (client.scopes.join(" ")) }
                        td { (when(client.created_at)) }
                    }
                }
            }
        }
    }
}

fn secrets_summary(client: &ClientView) -> Markup {
    html! {
        ul.secrets {
            @for secret in client.secrets.iter().filter(|s| !matches!(s.state, SecretState::Revoked)) {
                li {
                    code { (secret.display_prefix) "…" }
                    " " (secret_badge(secret.state))
                    @if let Some(expires) = secret.expires_at {
                        " · expires " (when(expires))
                    }
                    " · last used " (when_or(secret.last_used_at, "never"))
                }
            }
        }
    }
}

/// `GET /t/{tenant}/clients/new`.
pub(crate) async fn new_form(
    State(console): State<Console>,
    ctx: Ctx,
    Path(tenant_id): Path<String>,
) -> Result<Response, Error> {
    let tenant = tenant(&tenant_id)?;
    if !ctx.actor.may_access(&tenant) {
        return Err(Error::NotFound);
    }
    let form_id = console.inner.csrf.random_value()?;
    let policy = console.inner.registry.policy();
    let grants = policy.grants_for(&tenant);
    let default_days = policy.secret_lifetime.map(time::Duration::whole_days);
    let body = html! {
        form.stack method="post" action={ (ctx.base) "/t/" (tenant) "/clients" } {
            (csrf_field(&ctx))
            input type="hidden" name="form_id" value=(form_id);
            label for="name" { "Name" }
            input #name name="name" required maxlength="200" aria-describedby="name-help";
            p #name-help.help { "A descriptive name, e.g. copilot-studio. It appears in audit logs." }
            label for="description" { "Description (optional)" }
            textarea #description name="description" rows="2" {}
            (choices("scopes", "Scopes", grants.scopes.as_deref()))
            (choices("audiences", "Audiences", grants.audiences.as_deref()))
            @if grants.allows_claim("roles") {
                label for="roles" { "Roles (optional, comma-separated; sent as the roles claim)" }
                input #roles name="roles";
            }
            label for="owner" { "Acts for user (optional; receives expiry warnings)" }
            input #owner name="owner";
            label for="token_minutes" { "Token lifetime, minutes (optional; default "
                (policy.token_lifetime.whole_minutes()) ")" }
            input #token_minutes name="token_minutes" type="number" min="1" inputmode="numeric";
            label for="secret_days" { "Secret expires after, days (empty: "
                @if let Some(days) = default_days { (days) " days" } @else { "never" } ")" }
            input #secret_days name="secret_days" type="number" min="1" inputmode="numeric";
            @if policy.max_secret_lifetime.is_none() {
                label.check { input type="checkbox" name="secret_never" value="1"; " The secret never expires" }
            }
            button type="submit" { "Create client" }
        }
    };
    Ok(page(
        &ctx,
        &console,
        Some(&tenant),
        Nav::NewClient,
        "Create client",
        body,
    ))
}

/// Checkboxes of what the policy allows, or a free text field when it
/// allows anything.
fn choices(name: &str, label: &str, allowed: Option<&[String]>) -> Markup {
    match allowed {
        Some(values) => html! {
            fieldset {
                legend { (label) }
                @if values.is_empty() { p.muted { "None may be granted in this tenant." } }
                @for (i, value) in values.iter().enumerate() {
                    label.check for={ (name) "-" (i) } {
                        input id={ (name) "-" (i) } type="checkbox" name=(name) value=(value);
                        " " (value)
                    }
                }
            }
        },
        None => html! {
            label for=(name) { (label) " (space-separated)" }
            input id=(name) name=(name);
        },
    }
}

/// The registry's input from the create form.
fn new_client(form: &Form, grants: &Grants) -> Result<NewClient, Error> {
    let name = form.text("name").ok_or(Error::bad("name", "is required"))?;
    let pick = |field: &str, allowed: Option<&Vec<String>>| match allowed {
        Some(_) => form.all(field),
        None => words(form.get(field)),
    };
    let mut new = NewClient::named(name)
        .with_description(form.text("description").unwrap_or_default())
        .with_scopes(pick("scopes", grants.scopes.as_ref()))
        .with_audiences(pick("audiences", grants.audiences.as_ref()));
    let roles = words(form.get("roles"));
    if !roles.is_empty() {
        new = new.with_claim("roles", ClaimValue::List(roles));
    }
    if let Some(owner) = form.text("owner") {
        new = new.with_owner(owner);
    }
    if let Some(minutes) = form.number("token_minutes")? {
        let secs = minutes
            .checked_mul(60)
            .and_then(|s| u32::try_from(s).ok())
            .filter(|s| *s > 0)
            .ok_or(Error::bad(
                "token_minutes",
                "must be a positive number of minutes",
            ))?;
        new = new.with_token_lifetime_secs(secs);
    }
    Ok(new.with_secret_lifetime(secret_lifetime(form)?))
}

/// `secret_days` / `secret_never` of a create or rotate form.
pub(crate) fn secret_lifetime(form: &Form) -> Result<SecretLifetime, Error> {
    if form.text("secret_never").is_some() {
        return Ok(SecretLifetime::Never);
    }
    match form.number("secret_days")? {
        None => Ok(SecretLifetime::PolicyDefault),
        Some(days) if (1..=36_500).contains(&days) => {
            Ok(SecretLifetime::After(time::Duration::days(days)))
        }
        Some(_) => Err(Error::bad("secret_days", "must be 1 to 36500 days")),
    }
}

/// Runs `action` once per single-use form id: a second submission makes
/// nothing. When the registry refuses the action (nothing was made), the
/// id is released so that the corrected form can be sent again.
pub(crate) async fn once<T, F>(console: &Console, form: &Form, action: F) -> Result<T, Error>
where
    F: std::future::Future<Output = Result<T, clientcreds_registry::Error>>,
{
    claim_form(console, form)?;
    let id = form.get(crate::csrf::FORM_ID).unwrap_or_default();
    match action.await {
        Ok(done) => Ok(done),
        Err(error) => {
            if !matches!(error, clientcreds_registry::Error::Store(_)) {
                console.inner.forms.release(id);
            }
            Err(error.into())
        }
    }
}

/// Claims a single-use form id: a second submission makes nothing.
fn claim_form(console: &Console, form: &Form) -> Result<(), Error> {
    let id = form.get(crate::csrf::FORM_ID).unwrap_or_default();
    if !crate::csrf::is_form_id(id) {
        return Err(Error::bad("form_id", "is missing; reload the form"));
    }
    if console
        .inner
        .forms
        .claim(id, console.inner.registry.clock().now())
    {
        Ok(())
    } else {
        Err(Error::FormReused)
    }
}

/// `POST /t/{tenant}/clients`: creates the client and answers with the
/// one-time reveal of its credentials.
pub(crate) async fn create(
    State(console): State<Console>,
    Path(tenant_id): Path<String>,
    Posted { ctx, form }: Posted,
) -> Result<Response, Error> {
    let tenant = tenant(&tenant_id)?;
    let new = new_client(&form, console.inner.registry.policy().grants_for(&tenant))?;
    let registry = &console.inner.registry;
    let issued = once(&console, &form, registry.create(&ctx.actor, &tenant, new)).await?;
    Ok(reveal::page(&ctx, &console, &tenant, &issued, None))
}

/// `GET /t/{tenant}/clients/{client_id}`: everything about one client,
/// and every action on it.
pub(crate) async fn detail(
    State(console): State<Console>,
    ctx: Ctx,
    Path((tenant_id, client_id)): Path<(String, String)>,
    uri: Uri,
) -> Result<Response, Error> {
    let tenant = tenant(&tenant_id)?;
    let view = console
        .inner
        .registry
        .get(&ctx.actor, &tenant, &client_id)
        .await?;
    let warnings = match &console.inner.ledger {
        Some(ledger) => Some(
            ledger
                .warnings(&tenant, &client_id)
                .await
                .map_err(clientcreds_registry::Error::from)?,
        ),
        None => None,
    };
    let form_id = console.inner.csrf.random_value()?;
    let base = &ctx.base;
    let here = format!("{base}/t/{tenant}/clients/{}", view.client_id);
    let body = html! {
        (notice(query(&uri).get("done")))
        dl.facts {
            dt { "Client ID" } dd { code #client-id { (view.client_id) } }
            dt { "Status" } dd { (status_badge(view.status)) }
            @if let Some(next) = &view.replaced_by {
                dt { "Replaced by" } dd { a href={ (base) "/t/" (tenant) "/clients/" (next) } { code { (next) } } }
            }
            dt { "Description" } dd { (view.description) }
            dt { "Scopes" } dd { (view.scopes.join(" ")) }
            dt { "Audiences" } dd { (view.audiences.join(" ")) }
            @for (name, value) in &view.extra_claims {
                dt { "Claim " code { (name) } } dd { (claim_text(value)) }
            }
            dt { "Token lifetime" } dd {
                @match view.token_lifetime_secs {
                    Some(secs) => { (secs / 60) " minutes" }
                    None => { "the policy's (" (console.inner.registry.policy().token_lifetime.whole_minutes()) " minutes)" }
                }
            }
            dt { "Authentication" } dd { code { (view.token_endpoint_auth_method.as_str()) } }
            dt { "DPoP-bound tokens" } dd { @if view.dpop_bound_access_tokens { "required" } @else { "not required" } }
            @if let Some(uri) = &view.jwks_uri {
                dt { "Key set URL" } dd { code { (uri) } }
            }
            dt { "Acts for" } dd { (view.owner.as_deref().unwrap_or("—")) }
            dt { "Created" } dd { (when(view.created_at)) " by " (view.created_by) }
            dt { "Last used" } dd { (when_or(view.last_used_at, "never")) }
        }
        h2 { "Secrets" }
        table {
            thead { tr {
                th scope="col" { "Prefix" } th scope="col" { "Label" } th scope="col" { "State" }
                th scope="col" { "Created" } th scope="col" { "Expires" } th scope="col" { "Last used" }
                th scope="col" { "Next warning" }
            } }
            tbody {
                @for secret in &view.secrets {
                    tr {
                        td { code { (secret.display_prefix) "…" } }
                        td { (secret.label) }
                        td { (secret_badge(secret.state)) }
                        td { (when(secret.created_at)) }
                        td { (when_or(secret.expires_at, "never")) }
                        td { (when_or(secret.last_used_at, "never")) }
                        td { (when_or(secret.next_warning_at, "none due")) }
                    }
                }
            }
        }
        @if !view.keys.is_empty() {
            h2 { "Keys (private_key_jwt)" }
            table {
                thead { tr {
                    th scope="col" { "Key id" } th scope="col" { "Label" } th scope="col" { "State" }
                    th scope="col" { "Registered" } th scope="col" { "Expires" } th scope="col" { "Last used" }
                } }
                tbody {
                    @for key in &view.keys {
                        tr {
                            td { code { (key.kid) } }
                            td { (key.label) }
                            td { (secret_badge(key.state)) }
                            td { (when(key.created_at)) }
                            td { (when_or(key.expires_at, "never")) }
                            td { (when_or(key.last_used_at, "never")) }
                        }
                    }
                }
            }
        }
        @if !view.federated_credentials.is_empty() {
            h2 { "Federated credentials" }
            table {
                thead { tr {
                    th scope="col" { "Issuer" } th scope="col" { "Subject" }
                    th scope="col" { "Audience" } th scope="col" { "Added" }
                } }
                tbody {
                    @for credential in &view.federated_credentials {
                        tr {
                            td { code { (credential.issuer) } }
                            td { code { (credential.subject) } }
                            td { code { (credential.audience) } }
                            td { (when(credential.created_at)) }
                        }
                    }
                }
            }
        }
        @if let Some(records) = &warnings {
            h2 { "Expiry warnings sent" }
            (super::logs::warning_rows(records))
        }
        p { a href={ (here) "/activity" } { "Token activity of this client" } }
        (super::actions::forms(&ctx, &console, &view, &here, &form_id))
    };
    Ok(page(
        &ctx,
        &console,
        Some(&tenant),
        Nav::Clients,
        &view.name,
        body,
    ))
}

/// A claim's value as text.
pub(crate) fn claim_text(value: &ClaimValue) -> String {
    match value {
        ClaimValue::Text(text) => text.clone(),
        ClaimValue::List(items) => items.join(", "),
        ClaimValue::Bool(b) => b.to_string(),
        ClaimValue::Integer(i) => i.to_string(),
    }
}

/// Whether a client has something a "Revoke now" would end.
pub(crate) fn in_grace(view: &ClientView) -> bool {
    matches!(view.status, EffectiveStatus::Expiring { .. })
        || view
            .secrets
            .iter()
            .any(|s| matches!(s.state, SecretState::Expiring { .. }))
}
