//! A client's token activity, the tenant's audit trail, and the expiry
//! warnings due and sent.

use axum::extract::{Path, State};
use axum::http::Uri;
use axum::response::Response;
use clientcreds_registry::ListQuery;
use clientcreds_store::{ActivityKind, AuditActor, AuditOutcome, CountedOutcome, WarningRecord};
use maud::{Markup, html};
use time::OffsetDateTime;

use super::{query, tenant};
use crate::layout::{Nav, date_text, page, when};
use crate::security::Ctx;
use crate::{Console, Error};

/// Entries per page of the logs.
const LOG_PAGE: usize = 100;

fn after(uri: &Uri) -> Result<Option<u64>, Error> {
    query(uri)
        .text("after")
        .map(|a| {
            a.parse()
                .map_err(|_| Error::bad("after", "must be a number"))
        })
        .transpose()
}

fn older_link(here: &str, last: Option<u64>, full: bool) -> Markup {
    html! {
        nav.pages aria-label="Pages" {
            a href=(here) { "First page" }
            @if let (true, Some(last)) = (full, last) {
                " " a rel="next" href={ (here) "?after=" (last) } { "Next page" }
            }
        }
    }
}

/// `GET /t/{tenant}/clients/{client_id}/activity`: which secret minted
/// tokens when (product A: "confirm the cutover").
pub(crate) async fn activity(
    State(console): State<Console>,
    ctx: Ctx,
    Path((tenant_id, client_id)): Path<(String, String)>,
    uri: Uri,
) -> Result<Response, Error> {
    let tenant = tenant(&tenant_id)?;
    let registry = &console.inner.registry;
    // Authorizes (tenancy) and 404s for an unknown client.
    let view = registry.get(&ctx.actor, &tenant, &client_id).await?;
    let records = registry
        .activity(
            &ctx.actor,
            &tenant,
            Some(&client_id),
            after(&uri)?,
            LOG_PAGE,
        )
        .await?;
    // Issuance is counted per secret, source and minute (one row per token
    // would not scale): the newest minutes first.
    let mut counts = registry
        .activity_counts(&ctx.actor, &tenant, Some(&client_id), None, None, LOG_PAGE)
        .await?;
    counts.sort_by_key(|c| std::cmp::Reverse(c.minute));
    let here = format!("{}/t/{tenant}/clients/{client_id}/activity", ctx.base);
    let body = html! {
        p { "Client " a href={ (ctx.base) "/t/" (tenant) "/clients/" (client_id) } { (view.name) } " · " code { (client_id) } }
        h2 { "Which secret is in use" }
        table {
            thead { tr {
                th scope="col" { "Secret" } th scope="col" { "State" } th scope="col" { "Last used" }
            } }
            tbody {
                @for secret in &view.secrets {
                    tr {
                        td { code { (secret.display_prefix) "…" } }
                        td { (crate::layout::secret_badge(secret.state)) }
                        td { (crate::layout::when_or(secret.last_used_at, "never")) }
                    }
                }
            }
        }
        @if let Some(next) = &view.replaced_by {
            p { "Replaced by " a href={ (ctx.base) "/t/" (tenant) "/clients/" (next) "/activity" } { code { (next) } }
                ": its activity shows whether the new credentials are deployed." }
        }
        h2 { "Tokens per minute" }
        @if counts.is_empty() {
            p.empty { "No tokens issued or refused yet." }
        } @else {
            table {
                thead { tr {
                    th scope="col" { "Minute (UTC)" } th scope="col" { "Outcome" }
                    th scope="col" { "Secret" } th scope="col" { "Source" } th scope="col" { "Count" }
                } }
                tbody {
                    @for count in &counts {
                        tr {
                            td { (when(count.minute)) }
                            @match &count.outcome {
                                CountedOutcome::Issued => { td { "token issued" } }
                                CountedOutcome::Denied { reason } => { td { "token denied: " (reason) } }
                            }
                            td { @if let Some(secret) = &count.secret_id { code { (secret) } } @else { "—" } }
                            td { (count.source.as_deref().unwrap_or("—")) }
                            td { (count.count) }
                        }
                    }
                }
            }
        }
        h2 { "Token requests" }
        @if records.is_empty() {
            p.empty { "No token requests recorded." }
        } @else {
            table {
                thead { tr {
                    th scope="col" { "When" } th scope="col" { "Event" }
                    th scope="col" { "Token id (jti) or reason" } th scope="col" { "Scope" }
                } }
                tbody {
                    @for record in &records {
                        tr {
                            td { (when(record.event.at)) }
                            @match &record.event.kind {
                                ActivityKind::TokenIssued { jti, scope } => {
                                    td { "token issued" } td { code { (jti) } } td { (scope) }
                                }
                                ActivityKind::TokenDenied { reason } => {
                                    td { "token denied" } td { (reason) } td {}
                                }
                            }
                        }
                    }
                }
            }
        }
        (older_link(&here, records.last().map(|r| r.seq), records.len() >= LOG_PAGE))
    };
    Ok(page(
        &ctx,
        &console,
        Some(&tenant),
        Nav::Clients,
        "Token activity",
        body,
    ))
}

fn actor_text(actor: &AuditActor) -> String {
    match actor {
        AuditActor::TenantAdmin { user } => format!("{user} (tenant admin)"),
        AuditActor::PlatformAdmin { user } => format!("{user} (platform admin)"),
        AuditActor::System => "system".to_owned(),
    }
}

/// `GET /t/{tenant}/audit`: every lifecycle action, oldest first.
pub(crate) async fn audit(
    State(console): State<Console>,
    ctx: Ctx,
    Path(tenant_id): Path<String>,
    uri: Uri,
) -> Result<Response, Error> {
    let tenant = tenant(&tenant_id)?;
    let records = console
        .inner
        .registry
        .audit(&ctx.actor, &tenant, None, after(&uri)?, LOG_PAGE)
        .await?;
    let here = format!("{}/t/{tenant}/audit", ctx.base);
    let body = html! {
        @if records.is_empty() {
            p.empty { "Nothing recorded yet." }
        } @else {
            table {
                thead { tr {
                    th scope="col" { "When" } th scope="col" { "Who" } th scope="col" { "Action" }
                    th scope="col" { "Client" } th scope="col" { "Outcome" } th scope="col" { "Detail" }
                } }
                tbody {
                    @for record in &records {
                        @let event = &record.event;
                        tr {
                            td { (when(event.at)) }
                            td { (actor_text(&event.actor)) }
                            td { (format!("{:?}", event.action).to_lowercase()) }
                            td { @if let Some(id) = &event.client_id { code { (id) } } }
                            td {
                                @match &event.outcome {
                                    AuditOutcome::Success => { "success" }
                                    AuditOutcome::Refused { reason } => { "refused: " (reason) }
                                }
                            }
                            td { (event.detail.as_deref().unwrap_or_default()) }
                        }
                    }
                }
            }
        }
        (older_link(&here, records.last().map(|r| r.seq), records.len() >= LOG_PAGE))
    };
    Ok(page(
        &ctx,
        &console,
        Some(&tenant),
        Nav::Audit,
        "Audit trail",
        body,
    ))
}

/// The ledger's records of a client's warnings.
pub(crate) fn warning_rows(records: &[WarningRecord]) -> Markup {
    html! {
        @if records.is_empty() {
            p.empty { "No expiry warning recorded yet." }
        } @else {
            table {
                thead { tr {
                    th scope="col" { "Secret" } th scope="col" { "Stage" } th scope="col" { "Recipient" }
                    th scope="col" { "State" } th scope="col" { "Updated" } th scope="col" { "Detail" }
                } }
                tbody {
                    @for record in records {
                        tr {
                            td { code { (record.key.secret_id) } }
                            td { @if record.key.stage_days == 0 { "on expiry" } @else { (record.key.stage_days) " days before" } }
                            td { (record.key.recipient) }
                            td { (record.state.as_str()) }
                            td { (when(record.updated_at)) }
                            td { (record.detail) }
                        }
                    }
                }
            }
        }
    }
}

/// Most clients the warnings page reads (pages of 500).
const WARNINGS_SCAN: usize = 2_000;

/// `GET /t/{tenant}/warnings`: the secrets of the tenant's clients with an
/// expiry warning still due, soonest first, and what was sent.
pub(crate) async fn warnings(
    State(console): State<Console>,
    ctx: Ctx,
    Path(tenant_id): Path<String>,
) -> Result<Response, Error> {
    let tenant = tenant(&tenant_id)?;
    let registry = &console.inner.registry;
    let mut due: Vec<(
        OffsetDateTime,
        String,
        String,
        String,
        Option<OffsetDateTime>,
    )> = Vec::new();
    let mut cursor: Option<String> = None;
    let mut read = 0;
    let mut truncated = false;
    loop {
        let mut list = ListQuery::default().limit(500);
        if let Some(cursor) = cursor.take() {
            list = list.cursor(cursor);
        }
        let page_of = registry.list(&ctx.actor, &tenant, list).await?;
        read += page_of.clients.len();
        for client in &page_of.clients {
            for secret in &client.secrets {
                if let Some(next) = secret.next_warning_at {
                    due.push((
                        next,
                        client.client_id.clone(),
                        client.name.clone(),
                        secret.display_prefix.clone(),
                        secret.expires_at,
                    ));
                }
            }
        }
        match page_of.next_cursor {
            Some(next) if read < WARNINGS_SCAN => cursor = Some(next),
            Some(_) => {
                truncated = true;
                break;
            }
            None => break,
        }
    }
    due.sort();
    let mut sent: Vec<(&str, &str, Vec<WarningRecord>)> = Vec::new();
    if let Some(ledger) = &console.inner.ledger {
        let mut seen: Vec<&str> = Vec::new();
        for (_, client_id, name, _, _) in &due {
            if seen.len() >= 20 || seen.contains(&client_id.as_str()) {
                continue;
            }
            seen.push(client_id);
            let records = ledger
                .warnings(&tenant, client_id)
                .await
                .map_err(clientcreds_registry::Error::from)?;
            if !records.is_empty() {
                sent.push((client_id, name, records));
            }
        }
    }
    let base = &ctx.base;
    let body = html! {
        p { "Warnings go out " (registry.policy().warning_stages.iter().map(|d| if *d == 0 { "on expiry".to_owned() } else { format!("{d} days") }).collect::<Vec<_>>().join(", ")) " before a secret expires, to the client's user and its creator." }
        h2 { "Due" }
        @if due.is_empty() {
            p.empty { "No warning is due for any secret." }
        } @else {
            table {
                thead { tr {
                    th scope="col" { "Next warning" } th scope="col" { "Client" }
                    th scope="col" { "Secret" } th scope="col" { "Expires" }
                } }
                tbody {
                    @for (next, client_id, name, prefix, expires) in &due {
                        tr {
                            td { (when(*next)) }
                            td { a href={ (base) "/t/" (tenant) "/clients/" (client_id) } { (name) } }
                            td { code { (prefix) "…" } }
                            td { @if let Some(e) = expires { (date_text(*e)) } }
                        }
                    }
                }
            }
        }
        @if truncated {
            p.muted { "Only the first " (WARNINGS_SCAN) " clients were read." }
        }
        @if console.inner.ledger.is_some() {
            h2 { "Sent" }
            @if sent.is_empty() { p.empty { "None sent yet for these clients." } }
            @for (client_id, name, records) in &sent {
                h3 { a href={ (base) "/t/" (tenant) "/clients/" (client_id) } { (name) } }
                (warning_rows(records))
            }
        }
    };
    Ok(page(
        &ctx,
        &console,
        Some(&tenant),
        Nav::Warnings,
        "Expiry warnings",
        body,
    ))
}
