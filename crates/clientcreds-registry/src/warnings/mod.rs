//! Secret expiry warnings (product E), delivered once per stage and
//! recipient, by any number of runners.
//!
//! - **Schedule.** When a secret is issued, the registry sets its
//!   `warning_due` to the first of the policy's
//!   [`warning_stages`](crate::Policy::warning_stages) still ahead (a secret
//!   expiring in 3 days gets the 1-day and on-expiry warnings). Deactivate,
//!   revoke, a rotation (for the rotated-out secret or client) and end of
//!   grace clear it; a rotation's new secret gets a fresh schedule;
//!   reactivation resumes the stages still ahead.
//! - **Delivery.** [`WarningRunner::run_due`] reads the due secrets through
//!   the store's index, picks each one's most recent overdue stage (a run
//!   after three days down sends one warning, not a burst), resolves the
//!   client's owner and creator (deduplicated) through the host's
//!   [`Directory`], renders with a [`Renderer`] (default:
//!   [`DefaultRenderer`], six languages) and hands each message to the
//!   host's [`Notifier`]. Each (secret, stage, recipient) is claimed in the
//!   store's [`WarningLedger`](clientcreds_store::WarningLedger) with a
//!   lease before it is sent and marked sent after, so several runners send
//!   it once; a notifier failure is retried on a later run with backoff; a
//!   recipient the directory does not know is recorded as undeliverable.
//!
//! - **Abuse.** A warning carries text a tenant admin chose (the client's
//!   name) to the owner the admin named. [`WarningConfig::recipient_domains`]
//!   keeps each tenant's warnings inside its own e-mail domains (an
//!   address outside is recorded undeliverable), and
//!   [`WarningConfig::recipient_limit`] caps what one tenant sends one
//!   recipient per window (the rest wait for a later run). What tenants
//!   read in the ledger is generic ([`DELIVERY_FAILED`]): a mail server's
//!   answer (which may say whether a mailbox exists) goes to the
//!   platform's log only.
//!
//! Delivery is at least once in one case only: a runner that dies after
//! the notifier accepted a message and before it recorded the send lets
//! another runner send it again once the lease ends. Keep the notifier's
//! own timeout below [`WarningConfig::lease`].

mod message;
mod render;
mod runner;
#[cfg(feature = "smtp")]
mod smtp;

pub use message::{
    Contact, Directory, ExpiryWarning, Message, Notification, Notifier, Renderer, TracingNotifier,
};
pub use render::DefaultRenderer;
pub use runner::{
    DELIVERY_FAILED, DOMAIN_REFUSED, RUN_CHUNK, RecipientDomains, RunReport, WarningConfig,
    WarningRunner,
};
#[cfg(feature = "smtp")]
pub use smtp::SmtpNotifier;

use clientcreds_store::{ClientRecord, ClientStatus};
use time::{Duration, OffsetDateTime};

/// The instant of a stage: `days` before `expires_at`.
pub(crate) fn stage_instant(expires_at: OffsetDateTime, days: u32) -> OffsetDateTime {
    expires_at - Duration::days(i64::from(days))
}

/// The earliest stage instant strictly after `after`, if any.
pub(crate) fn next_stage_after(
    expires_at: OffsetDateTime,
    stages: &[u32],
    after: OffsetDateTime,
) -> Option<OffsetDateTime> {
    stages
        .iter()
        .map(|d| stage_instant(expires_at, *d))
        .filter(|at| *at > after)
        .min()
}

/// Sets each secret's `warning_due` in a record about to be written.
///
/// A secret has a schedule only while its client is active and not
/// rotated out, and it is the client's current secret (not in a grace
/// window, not revoked) with an expiry. A secret that had a schedule in
/// `previous` (the record the change was planned from, when the client was
/// active then) keeps it, since a runner advances it; any other gets the
/// first stage still ahead of `now`.
pub(crate) fn schedule_warnings(
    record: &mut ClientRecord,
    previous: Option<&ClientRecord>,
    stages: &[u32],
    now: OffsetDateTime,
) {
    let active = record.status == ClientStatus::Active
        && record.replaced_by.is_none()
        && record.grace_until.is_none();
    let previous = previous.filter(|p| p.status == ClientStatus::Active && p.replaced_by.is_none());
    for secret in &mut record.secrets {
        let current = active && secret.grace_until.is_none() && secret.revoked_at.is_none();
        secret.warning_due = match (current, secret.expires_at) {
            (true, Some(expires_at)) => {
                match previous
                    .and_then(|p| p.secrets.iter().find(|s| s.secret_id == secret.secret_id))
                {
                    Some(before) => before.warning_due,
                    None => next_stage_after(expires_at, stages, now),
                }
            }
            _ => None,
        };
    }
}
