//! The start page, the platform admin's tenant picker, and the signing
//! keys.

use axum::extract::{Path, State};
use axum::http::Uri;
use axum::response::Response;
use clientcreds_registry::{Actor, KeyManager};
use maud::html;

use super::{query, see_other};
use crate::form::Posted;
use crate::layout::{Nav, csrf_field, notice, page, when, when_or};
use crate::security::Ctx;
use crate::{Console, Error};

/// `GET /`: a tenant admin's own clients; the tenant picker for a
/// platform admin.
pub(crate) async fn home(ctx: Ctx) -> Response {
    match &ctx.actor {
        Actor::TenantAdmin { tenant, .. } => see_other(&format!("{}/t/{tenant}/clients", ctx.base)),
        _ => see_other(&format!("{}/tenants", ctx.base)),
    }
}

fn platform_only(ctx: &Ctx) -> Result<(), Error> {
    if ctx.platform() {
        Ok(())
    } else {
        Err(Error::Forbidden {
            reason: "only platform administrators may do this".into(),
        })
    }
}

/// `GET /tenants`: pick a tenant (`?tenant=` goes there).
pub(crate) async fn tenants(
    State(console): State<Console>,
    ctx: Ctx,
    uri: Uri,
) -> Result<Response, Error> {
    platform_only(&ctx)?;
    let params = query(&uri);
    if let Some(chosen) = params.text("tenant") {
        let tenant = super::tenant(chosen).map_err(|_| {
            Error::bad(
                "tenant",
                "is not a tenant id (letters, digits, '-', '_', '.')",
            )
        })?;
        return Ok(see_other(&format!("{}/t/{tenant}/clients", ctx.base)));
    }
    let base = &ctx.base;
    let body = html! {
        @if !console.inner.tenants.is_empty() {
            ul.tenants {
                @for tenant in &console.inner.tenants {
                    li { a href={ (base) "/t/" (tenant) "/clients" } { (tenant) } }
                }
            }
        }
        form.filters method="get" action={ (base) "/tenants" } {
            label for="tenant" { "Tenant id" }
            input #tenant name="tenant" required;
            button type="submit" { "Open" }
        }
    };
    Ok(page(&ctx, &console, None, Nav::Tenants, "Tenants", body))
}

fn manager(console: &Console, ctx: &Ctx) -> Result<std::sync::Arc<KeyManager>, Error> {
    platform_only(ctx)?;
    console.inner.key_manager.clone().ok_or(Error::NotFound)
}

/// `GET /keys`: the signing keys' schedule (no key material).
pub(crate) async fn keys(
    State(console): State<Console>,
    ctx: Ctx,
    uri: Uri,
) -> Result<Response, Error> {
    let keys = manager(&console, &ctx)?.keys().await?;
    let base = &ctx.base;
    let body = html! {
        (notice(query(&uri).get("done")))
        table {
            thead { tr {
                th scope="col" { "Key id" } th scope="col" { "Algorithm" } th scope="col" { "State" }
                th scope="col" { "Published from" } th scope="col" { "Signs from" }
                th scope="col" { "Signs until" } th scope="col" { "Unpublished after" } th scope="col" { "Withdraw" }
            } }
            tbody {
                @for key in &keys {
                    tr {
                        td { code { (key.kid) } }
                        td { (key.algorithm.name()) }
                        td {
                            @if key.signing { span.badge.active { "signing" } }
                            @else if key.published { span.badge.inactive { "published" } }
                            @else { span.badge.expired { "not published" } }
                        }
                        td { (when(key.publish_from)) }
                        td { (when(key.sign_from)) }
                        td { (when_or(key.sign_until, "—")) }
                        td { (when_or(key.unpublish_after, "—")) }
                        td {
                            @if key.published {
                                form method="post" action={ (base) "/keys/" (key.kid) "/withdraw" } data-confirm="Withdraw this key? Its tokens stop verifying at once." {
                                    (csrf_field(&ctx))
                                    button.danger type="submit" aria-label={ "Withdraw key " (key.kid) } { "Withdraw" }
                                }
                            }
                        }
                    }
                }
            }
        }
        form method="post" action={ (base) "/keys/rotate" } {
            (csrf_field(&ctx))
            button type="submit" { "Rotate now (publish the next key)" }
        }
    };
    Ok(page(&ctx, &console, None, Nav::Keys, "Signing keys", body))
}

/// `POST /keys/rotate`.
pub(crate) async fn rotate_key(
    State(console): State<Console>,
    Posted { ctx, .. }: Posted,
) -> Result<Response, Error> {
    let kid = manager(&console, &ctx)?.rotate_now(&ctx.actor).await?;
    tracing::info!(admin = ctx.actor.user_id(), %kid, "signing key rotation requested from the console");
    Ok(see_other(&format!("{}/keys?done=key-rotated", ctx.base)))
}

/// `POST /keys/{kid}/withdraw`.
pub(crate) async fn withdraw_key(
    State(console): State<Console>,
    Path(kid): Path<String>,
    Posted { ctx, .. }: Posted,
) -> Result<Response, Error> {
    manager(&console, &ctx)?.withdraw(&ctx.actor, &kid).await?;
    tracing::warn!(admin = ctx.actor.user_id(), %kid, "signing key withdrawn from the console");
    Ok(see_other(&format!("{}/keys?done=key-withdrawn", ctx.base)))
}
