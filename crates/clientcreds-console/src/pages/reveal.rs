//! The one-time reveal of a new client's (or a rotation's) credentials.
//!
//! It is only ever the body of the answer to the `POST` that made the
//! secret: never a redirect target, never cached (`no-store`), never in a
//! URL. Dismissing it navigates to the client's page; the secret exists
//! nowhere after that.

use axum::response::Response;
use clientcreds_registry::{ClientView, Issued};
use clientcreds_store::TenantId;
use maud::html;

use crate::Console;
use crate::layout::{self, Nav, when};
use crate::security::Ctx;

/// The reveal page for `issued`; `old` is the client a client-replacing
/// rotation moved away from (now in its grace window).
pub(crate) fn page(
    ctx: &Ctx,
    console: &Console,
    tenant: &TenantId,
    issued: &Issued,
    old: Option<&ClientView>,
) -> Response {
    let client = &issued.client;
    let credentials = &issued.credentials;
    let title = if old.is_some() {
        "Client rotated: copy the new credentials"
    } else {
        "Copy the credentials now"
    };
    let body = html! {
        section.reveal aria-labelledby="reveal-heading" {
            h2 #reveal-heading { "One-time reveal" }
            p.warning role="alert" {
                strong { "The client secret is shown only once." }
                " After you dismiss this page it cannot be recovered: only a short prefix is stored. "
                "If you lose it, rotate the client to get a new one."
            }
            @if let Some(old) = old {
                @if old.client_id != client.client_id {
                    p {
                        "The old client " code { (old.client_id) } " keeps issuing tokens "
                        @if let Some(until) = old.grace_until { "until " (when(until)) }
                        ". Deploy the new credentials, then let it expire or revoke it now from its page."
                    }
                } @else {
                    p { "The client keeps its id. Its previous secret works until the end of its grace window, if any." }
                }
            }
            div.field {
                label for="reveal-client-id" { "client_id" }
                input #reveal-client-id.secret readonly value=(credentials.client_id) spellcheck="false" autocomplete="off";
                button.copy type="button" data-copy="reveal-client-id" hidden { "Copy client_id" }
            }
            div.field {
                label for="reveal-client-secret" { "client_secret" }
                input #reveal-client-secret.secret readonly value=(credentials.client_secret.expose_secret()) spellcheck="false" autocomplete="off";
                button.copy type="button" data-copy="reveal-client-secret" hidden { "Copy client_secret" }
            }
            @if let Some(expires) = client.secrets.iter().find(|s| s.secret_id == credentials.secret_id.to_string()).and_then(|s| s.expires_at) {
                p { "This secret expires " (when(expires)) "." }
            }
            form.dismiss method="get" action={ (ctx.base) "/t/" (tenant) "/clients/" (client.client_id) } {
                label.check {
                    input #saved type="checkbox" name="saved" value="1" required;
                    " I have saved this secret securely"
                }
                button #dismiss type="submit" { "Dismiss" }
            }
        }
    };
    layout::page(ctx, console, Some(tenant), Nav::Clients, title, body)
}
