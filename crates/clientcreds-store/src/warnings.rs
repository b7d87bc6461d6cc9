//! The expiry-warning ledger: which warnings are due, and which went out.
//!
//! Each secret carries the instant its next warning is due
//! ([`SecretRecord::warning_due`](crate::SecretRecord::warning_due)),
//! indexed, so a run reads the due secrets and never every client. Each
//! warning a runner sends, one per (secret, stage, recipient), is first
//! *claimed* with a lease and then *finished*: sent, undeliverable, or
//! failed with a time to retry. A claim succeeds for one runner at a time,
//! and never for a finished warning, so several runners (several host
//! replicas) send each warning once. A runner that dies after its claim
//! leaves a lease that expires, and another runner then claims the warning.

use std::fmt::{self, Debug};
use std::sync::Arc;

use async_trait::async_trait;
use time::OffsetDateTime;

use crate::{StoreError, TenantId};

/// A secret whose next warning is due.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DueWarning {
    /// The client's tenant.
    pub tenant: TenantId,
    /// The client.
    pub client_id: String,
    /// The secret.
    pub secret_id: String,
    /// When its next warning fell due.
    pub due_at: OffsetDateTime,
}

/// One warning: a stage of a secret's schedule, for one recipient.
///
/// Every field is part of the ledger's key: a secret id is unique within
/// its client only (48 random bits), so two clients' secrets may share one,
/// and their warnings are still two warnings.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct WarningKey {
    /// The client's tenant.
    pub tenant: TenantId,
    /// The client.
    pub client_id: String,
    /// The secret.
    pub secret_id: String,
    /// The stage: days before expiry (0 = on expiry).
    pub stage_days: u32,
    /// The recipient's user id.
    pub recipient: String,
}

/// Where a warning stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum WarningState {
    /// Claimed at least once, not delivered yet (leased or waiting to retry).
    Pending,
    /// Handed to the notifier.
    Sent,
    /// The recipient could not be resolved to an address; not retried.
    Undeliverable,
}

impl WarningState {
    /// `pending`, `sent`, `undeliverable`.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Sent => "sent",
            Self::Undeliverable => "undeliverable",
        }
    }

    /// The state named by [`WarningState::as_str`].
    #[must_use]
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "pending" => Some(Self::Pending),
            "sent" => Some(Self::Sent),
            "undeliverable" => Some(Self::Undeliverable),
            _ => None,
        }
    }
}

impl fmt::Display for WarningState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A warning as the ledger records it (for the admin view).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WarningRecord {
    /// Which warning.
    pub key: WarningKey,
    /// Its state.
    pub state: WarningState,
    /// How many times it was claimed.
    pub attempts: u32,
    /// Not claimable before this instant (backoff after a failure).
    pub next_attempt_at: OffsetDateTime,
    /// Why the last attempt failed or why it is undeliverable; empty once
    /// sent. Never a secret.
    pub detail: String,
    /// Last change.
    pub updated_at: OffsetDateTime,
}

/// What a claim found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Claim {
    /// This runner holds the warning until its lease ends; `attempt`
    /// identifies the claim to [`WarningLedger::finish_warning`].
    Claimed {
        /// 1 for the first claim, then counting.
        attempt: u32,
    },
    /// Already sent or undeliverable: nothing to do.
    Finished,
    /// Another runner holds it, or it is backing off, until this instant.
    Busy {
        /// When it may be claimable.
        until: OffsetDateTime,
    },
}

/// How a claimed warning ended.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum WarningOutcome {
    /// Delivered to the notifier.
    Sent,
    /// The recipient cannot be reached (not in the directory, no address).
    Undeliverable {
        /// Why (no secret, no address).
        reason: String,
    },
    /// The notifier failed: retry from `retry_at`.
    Failed {
        /// Why (no secret).
        reason: String,
        /// When a runner may claim it again.
        retry_at: OffsetDateTime,
    },
}

/// The expiry-warning ledger. Object safe, `Send + Sync + Debug`, with
/// forwarding impls for `&T`, `Box<T>` and `Arc<T>`; the conformance kit
/// (`conformance::run_warning_ledger`) checks an implementation.
#[async_trait]
pub trait WarningLedger: Send + Sync + Debug {
    /// Secrets whose `warning_due` is at or before `now`, earliest first,
    /// at most `limit`. Reads only those rows (through an index).
    async fn due_warnings(
        &self,
        now: OffsetDateTime,
        limit: usize,
    ) -> Result<Vec<DueWarning>, StoreError>;

    /// Moves a secret's `warning_due` from `expected` to `next`, if it is
    /// still `expected` (an advisory write: the client's version does not
    /// change). Returns whether it moved.
    async fn set_warning_due(
        &self,
        tenant: &TenantId,
        client_id: &str,
        secret_id: &str,
        expected: OffsetDateTime,
        next: Option<OffsetDateTime>,
    ) -> Result<bool, StoreError>;

    /// Claims a warning until `lease_until`: see [`Claim`]. A warning is
    /// claimable when it was never claimed, or is pending with its lease
    /// over and its backoff passed.
    async fn claim_warning(
        &self,
        key: &WarningKey,
        now: OffsetDateTime,
        lease_until: OffsetDateTime,
    ) -> Result<Claim, StoreError>;

    /// Records how the claim `attempt` ended. Returns `false` (and writes
    /// nothing) when that claim is no longer the current one (its lease
    /// ran out and another runner claimed it) or the warning is finished.
    async fn finish_warning(
        &self,
        key: &WarningKey,
        attempt: u32,
        outcome: &WarningOutcome,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError>;

    /// The warnings recorded for a client, by secret, stage (largest
    /// first) and recipient.
    async fn warnings(
        &self,
        tenant: &TenantId,
        client_id: &str,
    ) -> Result<Vec<WarningRecord>, StoreError>;

    /// How many warnings of `tenant`'s clients were sent to `recipient`
    /// (state sent, finished at or after `since`): what a runner's
    /// per-recipient rate limit counts. Reads through an index.
    async fn sent_warnings(
        &self,
        tenant: &TenantId,
        recipient: &str,
        since: OffsetDateTime,
    ) -> Result<u64, StoreError>;

    /// [`WarningLedger::claim_warning`] for each key, in one go: one
    /// [`Claim`] per key, in the keys' order, each with the same rules. A
    /// database store claims them in a few statements (a runner's batch is
    /// then a few round trips, not one per warning); the default claims
    /// them one by one. Keys must be distinct.
    async fn claim_warnings(
        &self,
        keys: &[WarningKey],
        now: OffsetDateTime,
        lease_until: OffsetDateTime,
    ) -> Result<Vec<Claim>, StoreError> {
        let mut claims = Vec::with_capacity(keys.len());
        for key in keys {
            claims.push(self.claim_warning(key, now, lease_until).await?);
        }
        Ok(claims)
    }

    /// [`WarningLedger::finish_warning`] for each item, in one go: one
    /// answer per item, in order. The default finishes them one by one.
    async fn finish_warnings(
        &self,
        finishes: &[WarningFinish],
        now: OffsetDateTime,
    ) -> Result<Vec<bool>, StoreError> {
        let mut done = Vec::with_capacity(finishes.len());
        for f in finishes {
            done.push(
                self.finish_warning(&f.key, f.attempt, &f.outcome, now)
                    .await?,
            );
        }
        Ok(done)
    }

    /// [`WarningLedger::set_warning_due`] for each move, in one go: one
    /// answer per move, in order. The default moves them one by one.
    async fn set_warnings_due(&self, moves: &[DueMove]) -> Result<Vec<bool>, StoreError> {
        let mut moved = Vec::with_capacity(moves.len());
        for m in moves {
            let d = &m.due;
            moved.push(
                self.set_warning_due(&d.tenant, &d.client_id, &d.secret_id, d.due_at, m.next)
                    .await?,
            );
        }
        Ok(moved)
    }

    /// [`WarningLedger::sent_warnings`] for each (tenant, recipient), in
    /// one go: one count per pair, in order. The default counts them one by
    /// one.
    async fn sent_warnings_to(
        &self,
        recipients: &[(TenantId, String)],
        since: OffsetDateTime,
    ) -> Result<Vec<u64>, StoreError> {
        let mut counts = Vec::with_capacity(recipients.len());
        for (tenant, recipient) in recipients {
            counts.push(self.sent_warnings(tenant, recipient, since).await?);
        }
        Ok(counts)
    }
}

/// One claim's outcome to record ([`WarningLedger::finish_warnings`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WarningFinish {
    /// Which warning.
    pub key: WarningKey,
    /// The claim ([`Claim::Claimed`]'s attempt).
    pub attempt: u32,
    /// How it ended.
    pub outcome: WarningOutcome,
}

/// One move of a secret's `warning_due` ([`WarningLedger::set_warnings_due`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DueMove {
    /// The secret and the instant it is expected to be due at.
    pub due: DueWarning,
    /// Its next due instant (`None`: no more warnings).
    pub next: Option<OffsetDateTime>,
}

/// Sorts records in the order [`WarningLedger::warnings`] promises.
pub fn sort_warnings(records: &mut [WarningRecord]) {
    records.sort_by(|a, b| {
        a.key
            .secret_id
            .cmp(&b.key.secret_id)
            .then(b.key.stage_days.cmp(&a.key.stage_days))
            .then_with(|| a.key.recipient.cmp(&b.key.recipient))
    });
}

macro_rules! forward_warnings {
    ($($wrapper:ty),*) => {$(
        #[async_trait]
        impl<T: WarningLedger + ?Sized> WarningLedger for $wrapper {
            async fn due_warnings(&self, now: OffsetDateTime, limit: usize) -> Result<Vec<DueWarning>, StoreError> {
                (**self).due_warnings(now, limit).await
            }
            async fn set_warning_due(&self, tenant: &TenantId, client_id: &str, secret_id: &str, expected: OffsetDateTime, next: Option<OffsetDateTime>) -> Result<bool, StoreError> {
                (**self).set_warning_due(tenant, client_id, secret_id, expected, next).await
            }
            async fn claim_warning(&self, key: &WarningKey, now: OffsetDateTime, lease_until: OffsetDateTime) -> Result<Claim, StoreError> {
                (**self).claim_warning(key, now, lease_until).await
            }
            async fn finish_warning(&self, key: &WarningKey, attempt: u32, outcome: &WarningOutcome, now: OffsetDateTime) -> Result<bool, StoreError> {
                (**self).finish_warning(key, attempt, outcome, now).await
            }
            async fn warnings(&self, tenant: &TenantId, client_id: &str) -> Result<Vec<WarningRecord>, StoreError> {
                (**self).warnings(tenant, client_id).await
            }
            async fn sent_warnings(&self, tenant: &TenantId, recipient: &str, since: OffsetDateTime) -> Result<u64, StoreError> {
                (**self).sent_warnings(tenant, recipient, since).await
            }
            async fn claim_warnings(&self, keys: &[WarningKey], now: OffsetDateTime, lease_until: OffsetDateTime) -> Result<Vec<Claim>, StoreError> {
                (**self).claim_warnings(keys, now, lease_until).await
            }
            async fn finish_warnings(&self, finishes: &[WarningFinish], now: OffsetDateTime) -> Result<Vec<bool>, StoreError> {
                (**self).finish_warnings(finishes, now).await
            }
            async fn set_warnings_due(&self, moves: &[DueMove]) -> Result<Vec<bool>, StoreError> {
                (**self).set_warnings_due(moves).await
            }
            async fn sent_warnings_to(&self, recipients: &[(TenantId, String)], since: OffsetDateTime) -> Result<Vec<u64>, StoreError> {
                (**self).sent_warnings_to(recipients, since).await
            }
        }
    )*};
}

forward_warnings!(&T, Box<T>, Arc<T>);
