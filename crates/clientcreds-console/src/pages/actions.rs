//! The actions on a client: rotate, "Revoke now", deactivate /
//! reactivate, revoke, delete. Each is a `POST` with the CSRF field; each
//! but rotate ends in a `303` to a page (never carrying a secret).

use axum::extract::{Path, State};
use axum::response::Response;
use clientcreds_registry::{ClientUpdate, ClientView, RotateOptions, RotationMode};
use clientcreds_store::{ClientStatus, EffectiveStatus};
use maud::{Markup, html};

use super::clients::{in_grace, once, secret_lifetime};
use super::{reveal, see_other, tenant};
use crate::form::Posted;
use crate::layout::csrf_field;
use crate::security::Ctx;
use crate::{Console, Error};

/// The action forms of a client's page.
pub(crate) fn forms(
    ctx: &Ctx,
    console: &Console,
    view: &ClientView,
    here: &str,
    form_id: &str,
) -> Markup {
    let policy = console.inner.registry.policy();
    let revoked = matches!(view.status, EffectiveStatus::Revoked);
    let replaced = view.replaced_by.is_some();
    let grace_days = policy.grace.whole_days();
    let new_client_default = policy.rotation == RotationMode::ReplaceClient;
    html! {
        @if !revoked && !replaced {
            section.action aria-labelledby="rotate-heading" {
                h2 #rotate-heading { "Rotate" }
                form.stack method="post" action={ (here) "/rotate" } data-confirm="Rotate this client? The new secret is shown once." {
                    (csrf_field(ctx))
                    input type="hidden" name="form_id" value=(form_id);
                    fieldset {
                        legend { "What to replace" }
                        label.check {
                            input type="radio" name="mode" value="secret" checked[!new_client_default];
                            " The secret only (same client id)"
                        }
                        label.check {
                            input type="radio" name="mode" value="client" checked[new_client_default];
                            " The whole client (new client id and secret)"
                        }
                    }
                    label for="grace_days" { "Grace window, days (the old credential keeps working; 0: it stops now)" }
                    input #grace_days name="grace_days" type="number" min="0" value=(grace_days) inputmode="numeric";
                    label for="rotate_secret_days" { "New secret expires after, days (empty: the policy's)" }
                    input #rotate_secret_days name="secret_days" type="number" min="1" inputmode="numeric";
                    button type="submit" { "Rotate" }
                }
            }
        }
        @if in_grace(view) {
            section.action aria-labelledby="end-grace-heading" {
                h2 #end-grace-heading { "Revoke now" }
                p { "Close the grace window: the rotated-out credential stops minting tokens now." }
                form method="post" action={ (here) "/end-grace" } data-confirm="Stop the old credential now?" {
                    (csrf_field(ctx))
                    button.danger type="submit" { "Revoke now" }
                }
            }
        }
        @if !revoked {
            section.action aria-labelledby="status-heading" {
                h2 #status-heading { "Status" }
                form method="post" action={ (here) "/status" } {
                    (csrf_field(ctx))
                    @if matches!(view.status, EffectiveStatus::Inactive) {
                        input type="hidden" name="to" value="active";
                        button type="submit" { "Reactivate" }
                    } @else {
                        input type="hidden" name="to" value="inactive";
                        button type="submit" { "Deactivate" }
                    }
                }
            }
            section.action aria-labelledby="revoke-heading" {
                h2 #revoke-heading { "Revoke" }
                p { "A revoked client can never mint tokens again and cannot be reactivated." }
                form.stack method="post" action={ (here) "/revoke" } data-confirm="Revoke this client for good?" {
                    (csrf_field(ctx))
                    label.check {
                        input type="checkbox" name="confirm" value="1" required;
                        " I understand that revoking is permanent"
                    }
                    button.danger type="submit" { "Revoke" }
                }
            }
        }
        section.action aria-labelledby="delete-heading" {
            h2 #delete-heading { "Delete" }
            p.warning {
                "Deleting removes the client. Tokens it already minted stop working at every API "
                "that checks clients live; nothing can undo it."
            }
            form.stack method="post" action={ (here) "/delete" } {
                (csrf_field(ctx))
                label for="delete-confirm" { "Type the client's name, " strong { (view.name) } ", to confirm" }
                input #delete-confirm name="confirm" required autocomplete="off";
                button.danger type="submit" { "Delete client" }
            }
        }
    }
}

fn client_page(ctx: &Ctx, tenant: &str, client_id: &str, done: &str) -> Response {
    see_other(&format!(
        "{}/t/{tenant}/clients/{client_id}?done={done}",
        ctx.base
    ))
}

/// `POST …/{client_id}/rotate`: answers with the reveal of the new
/// credentials.
pub(crate) async fn rotate(
    State(console): State<Console>,
    Path((tenant_id, client_id)): Path<(String, String)>,
    Posted { ctx, form }: Posted,
) -> Result<Response, Error> {
    let tenant = tenant(&tenant_id)?;
    let mut options = RotateOptions::default().secret_lifetime(secret_lifetime(&form)?);
    options = match form.get("mode") {
        Some("secret") => options.mode(RotationMode::ReplaceSecret),
        Some("client") => options.mode(RotationMode::ReplaceClient),
        None => options,
        Some(_) => return Err(Error::bad("mode", "must be secret or client")),
    };
    if let Some(days) = form.number("grace_days")? {
        if !(0..=3650).contains(&days) {
            return Err(Error::bad("grace_days", "must be 0 to 3650 days"));
        }
        options = options.grace(time::Duration::days(days));
    }
    let registry = &console.inner.registry;
    let issued = once(
        &console,
        &form,
        registry.rotate(&ctx.actor, &tenant, &client_id, options),
    )
    .await?;
    let old = if issued.client.client_id == client_id {
        Some(issued.client.clone())
    } else {
        registry.get(&ctx.actor, &tenant, &client_id).await.ok()
    };
    Ok(reveal::page(&ctx, &console, &tenant, &issued, old.as_ref()))
}

/// `POST …/{client_id}/end-grace`: product A's "Revoke now".
pub(crate) async fn end_grace(
    State(console): State<Console>,
    Path((tenant_id, client_id)): Path<(String, String)>,
    Posted { ctx, .. }: Posted,
) -> Result<Response, Error> {
    let tenant = tenant(&tenant_id)?;
    console
        .inner
        .registry
        .end_grace(&ctx.actor, &tenant, &client_id)
        .await?;
    Ok(client_page(&ctx, &tenant_id, &client_id, "grace-ended"))
}

/// `POST …/{client_id}/status`: `to=inactive` or `to=active`.
pub(crate) async fn status(
    State(console): State<Console>,
    Path((tenant_id, client_id)): Path<(String, String)>,
    Posted { ctx, form }: Posted,
) -> Result<Response, Error> {
    let tenant = tenant(&tenant_id)?;
    let (to, done) = match form.get("to") {
        Some("active") => (ClientStatus::Active, "reactivated"),
        Some("inactive") => (ClientStatus::Inactive, "deactivated"),
        _ => return Err(Error::bad("to", "must be active or inactive")),
    };
    console
        .inner
        .registry
        .update(
            &ctx.actor,
            &tenant,
            &client_id,
            ClientUpdate::default().status(to),
        )
        .await?;
    Ok(client_page(&ctx, &tenant_id, &client_id, done))
}

/// `POST …/{client_id}/revoke`: terminal; the form must carry `confirm`.
pub(crate) async fn revoke(
    State(console): State<Console>,
    Path((tenant_id, client_id)): Path<(String, String)>,
    Posted { ctx, form }: Posted,
) -> Result<Response, Error> {
    let tenant = tenant(&tenant_id)?;
    if form.text("confirm").is_none() {
        return Err(Error::bad("confirm", "must be ticked to revoke"));
    }
    console
        .inner
        .registry
        .revoke(&ctx.actor, &tenant, &client_id)
        .await?;
    Ok(client_page(&ctx, &tenant_id, &client_id, "revoked"))
}

/// `POST …/{client_id}/delete`: the form's `confirm` must be the client's
/// name (or its id).
pub(crate) async fn delete(
    State(console): State<Console>,
    Path((tenant_id, client_id)): Path<(String, String)>,
    Posted { ctx, form }: Posted,
) -> Result<Response, Error> {
    let tenant = tenant(&tenant_id)?;
    let registry = &console.inner.registry;
    let view = registry.get(&ctx.actor, &tenant, &client_id).await?;
    let typed = form.text("confirm").unwrap_or_default();
    if typed != view.name.trim() && typed != view.client_id {
        return Err(Error::bad(
            "confirm",
            "must be the client's name exactly; nothing was deleted",
        ));
    }
    registry.delete(&ctx.actor, &tenant, &client_id).await?;
    Ok(see_other(&format!(
        "{}/t/{tenant_id}/clients?done=deleted",
        ctx.base
    )))
}
