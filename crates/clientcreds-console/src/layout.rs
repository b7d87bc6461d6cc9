//! The page shell (sidebar, header) and the small pieces every page uses:
//! dates, status badges, hidden form fields.

use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use clientcreds_store::{EffectiveStatus, SecretState, TenantId};
use maud::{DOCTYPE, Markup, html};
use time::OffsetDateTime;

use crate::Error;
use crate::csrf::FIELD;
use crate::security::Ctx;

/// Which sidebar entry a page belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Nav {
    Clients,
    NewClient,
    Audit,
    Warnings,
    Tenants,
    Keys,
}

/// A full page for `ctx`, in `tenant` when it has one.
pub(crate) fn page(
    ctx: &Ctx,
    console: &crate::Console,
    tenant: Option<&TenantId>,
    nav: Nav,
    title: &str,
    body: Markup,
) -> Response {
    let base = &ctx.base;
    let item = |entry: Nav, href: String, label: &str| {
        html! {
            li {
                @if entry == nav {
                    a href=(href) aria-current="page" { (label) }
                } @else {
                    a href=(href) { (label) }
                }
            }
        }
    };
    let shell = html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                meta name="referrer" content="same-origin";
                title { (title) " · clientcreds console" }
                link rel="stylesheet" href={ (base) "/assets/console.css" };
                script src={ (base) "/assets/console.js" } defer {}
            }
            body {
                a.skip href="#main" { "Skip to content" }
                nav.sidebar aria-label="Console" {
                    p.brand { "clientcreds" }
                    p.who {
                        "Signed in as " strong { (ctx.actor.user_id()) }
                        @if ctx.platform() { " (platform admin)" }
                    }
                    @if let Some(tenant) = tenant {
                        p.tenant { "Tenant " strong { (tenant) } }
                        ul {
                            (item(Nav::Clients, format!("{base}/t/{tenant}/clients"), "OAuth clients"))
                            (item(Nav::NewClient, format!("{base}/t/{tenant}/clients/new"), "Create client"))
                            (item(Nav::Audit, format!("{base}/t/{tenant}/audit"), "Audit trail"))
                            (item(Nav::Warnings, format!("{base}/t/{tenant}/warnings"), "Expiry warnings"))
                        }
                    }
                    @if ctx.platform() {
                        ul {
                            (item(Nav::Tenants, format!("{base}/tenants"), "Tenants"))
                            @if console.inner.key_manager.is_some() {
                                (item(Nav::Keys, format!("{base}/keys"), "Signing keys"))
                            }
                        }
                    }
                    @if let Some(sign_out) = &console.inner.sign_out {
                        form method="post" action=(sign_out) {
                            (csrf_field(ctx))
                            button type="submit" { "Sign out" }
                        }
                    }
                }
                main #main {
                    h1 { (title) }
                    (body)
                }
            }
        }
    };
    Html(shell.into_string()).into_response()
}

/// The hidden CSRF field of every form.
pub(crate) fn csrf_field(ctx: &Ctx) -> Markup {
    html! { input type="hidden" name=(FIELD) value=(ctx.csrf); }
}

/// An instant as `2026-12-06 02:36 UTC`, in a `<time>` element.
pub(crate) fn when(at: OffsetDateTime) -> Markup {
    let at = at.to_offset(time::UtcOffset::UTC);
    let machine = at
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default();
    html! { time datetime=(machine) { (date_text(at)) } }
}

/// `2026-12-06 02:36 UTC`.
pub(crate) fn date_text(at: OffsetDateTime) -> String {
    let at = at.to_offset(time::UtcOffset::UTC);
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02} UTC",
        at.year(),
        u8::from(at.month()),
        at.day(),
        at.hour(),
        at.minute()
    )
}

/// An optional instant, or `text` when absent.
pub(crate) fn when_or(at: Option<OffsetDateTime>, text: &str) -> Markup {
    match at {
        Some(at) => when(at),
        None => html! { span.muted { (text) } },
    }
}

/// A client's status as a badge whose text says it (not only its colour).
pub(crate) fn status_badge(status: EffectiveStatus) -> Markup {
    match status {
        EffectiveStatus::Active => html! { span.badge.active { "active" } },
        EffectiveStatus::Inactive => html! { span.badge.inactive { "inactive" } },
        EffectiveStatus::Revoked => html! { span.badge.revoked { "revoked" } },
        EffectiveStatus::Expired => html! { span.badge.expired { "expired" } },
        EffectiveStatus::Expiring { until } => html! {
            span.badge.expiring { "expiring" }
            " " span.until { "Expires " (when(until)) }
        },
    }
}

/// A secret's state as a badge.
pub(crate) fn secret_badge(state: SecretState) -> Markup {
    match state {
        SecretState::Active => html! { span.badge.active { "active" } },
        SecretState::Expiring { until } => html! {
            span.badge.expiring { "expiring" } " until " (when(until))
        },
        SecretState::GraceEnded => html! { span.badge.expired { "grace ended" } },
        SecretState::Expired => html! { span.badge.expired { "expired" } },
        SecretState::Revoked => html! { span.badge.revoked { "revoked" } },
    }
}

/// A notice after a completed action (`?done=...`).
pub(crate) fn notice(done: Option<&str>) -> Markup {
    let text = match done {
        Some("created") => "Client created.",
        Some("rotated") => "Client rotated.",
        Some("grace-ended") => "The old credential was revoked: it can no longer mint tokens.",
        Some("deactivated") => "Client deactivated: it can no longer mint tokens.",
        Some("reactivated") => "Client reactivated.",
        Some("revoked") => "Client revoked: it can no longer mint tokens, ever.",
        Some("deleted") => "Client deleted: its tokens no longer work.",
        Some("key-rotated") => "The next signing key is published; it signs after the lead time.",
        Some("key-withdrawn") => "The signing key was withdrawn: its tokens no longer verify.",
        _ => return html! {},
    };
    html! { p.notice role="status" { (text) } }
}

/// The body of an error answer before the shell wraps it.
pub(crate) fn error_body(error: &Error) -> String {
    error.to_string()
}

/// An error page (no sidebar: the administrator may be unknown).
pub(crate) fn error_page(base: &str, status: StatusCode, message: &str) -> Html<String> {
    let title = match status {
        StatusCode::UNAUTHORIZED => "Sign in required",
        StatusCode::FORBIDDEN => "Refused",
        StatusCode::NOT_FOUND => "Not found",
        StatusCode::CONFLICT => "Cannot do that now",
        StatusCode::UNPROCESSABLE_ENTITY | StatusCode::BAD_REQUEST => "Check the form",
        _ => "Something went wrong",
    };
    let home = if base.is_empty() { "/" } else { base };
    Html(
        html! {
            (DOCTYPE)
            html lang="en" {
                head {
                    meta charset="utf-8";
                    meta name="viewport" content="width=device-width, initial-scale=1";
                    title { (title) " · clientcreds console" }
                    link rel="stylesheet" href={ (base) "/assets/console.css" };
                }
                body {
                    main #main.error {
                        h1 { (title) }
                        p role="alert" { (message) }
                        p { a href=(home) { "Back to the console" } }
                    }
                }
            }
        }
        .into_string(),
    )
}
