//! The warning runner: due secrets in, one message per stage and recipient out.

use std::fmt;
use std::sync::Arc;
use std::time::Instant;

use clientcreds_store::{
    Claim, ClientRecord, ClientStatus, DueWarning, SecretRecord, Store, WarningKey, WarningLedger,
    WarningOutcome,
};
use time::{Duration, OffsetDateTime};

use super::{
    Contact, DefaultRenderer, Directory, ExpiryWarning, Notification, Notifier, Renderer,
    next_stage_after, stage_instant,
};
use crate::Error;

/// How a [`WarningRunner`] works.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct WarningConfig {
    /// The stages, in days before expiry (default: product E's 30, 14, 7,
    /// 1, 0). Use the registry's [`Policy::warning_stages`](crate::Policy::warning_stages).
    pub stages: Vec<u32>,
    /// The action link: `{tenant}` and `{client_id}` are replaced
    /// (default `/oauth-clients/{tenant}/{client_id}`).
    pub action_url_template: String,
    /// How long a claim holds a warning (default 5 minutes): keep the
    /// notifier's own timeout below it.
    pub lease: Duration,
    /// Backoff after the first failure, doubled per attempt (default 1
    /// minute)...
    pub backoff: Duration,
    /// ...up to this (default 6 hours).
    pub max_backoff: Duration,
    /// Most due secrets one run reads (default 1000); the rest wait for
    /// the next run.
    pub batch: usize,
    /// Attempts after which a warning that keeps failing is recorded as
    /// undeliverable (default 10: about 17 hours of backoff), so that a
    /// permanently refused address cannot stay due for ever.
    pub max_attempts: u32,
}

impl Default for WarningConfig {
    fn default() -> Self {
        Self {
            stages: crate::policy::DEFAULT_WARNING_STAGES.to_vec(),
            action_url_template: "/oauth-clients/{tenant}/{client_id}".to_owned(),
            lease: Duration::minutes(5),
            backoff: Duration::minutes(1),
            max_backoff: Duration::hours(6),
            batch: 1_000,
            max_attempts: 10,
        }
    }
}

impl WarningConfig {
    /// Sets [`WarningConfig::stages`].
    #[must_use]
    pub fn with_stages(mut self, stages: &[u32]) -> Self {
        self.stages = stages.to_vec();
        self
    }

    /// Sets [`WarningConfig::action_url_template`].
    #[must_use]
    pub fn with_action_url(mut self, template: impl Into<String>) -> Self {
        self.action_url_template = template.into();
        self
    }

    /// Sets [`WarningConfig::lease`].
    #[must_use]
    pub fn with_lease(mut self, lease: Duration) -> Self {
        self.lease = lease;
        self
    }

    /// Sets [`WarningConfig::backoff`] and [`WarningConfig::max_backoff`].
    #[must_use]
    pub fn with_backoff(mut self, first: Duration, max: Duration) -> Self {
        self.backoff = first;
        self.max_backoff = max;
        self
    }

    /// Sets [`WarningConfig::max_attempts`] (at least 1).
    #[must_use]
    pub fn with_max_attempts(mut self, attempts: u32) -> Self {
        self.max_attempts = attempts.max(1);
        self
    }

    /// Sets [`WarningConfig::batch`].
    #[must_use]
    pub fn with_batch(mut self, batch: usize) -> Self {
        self.batch = batch.max(1);
        self
    }
}

/// What one run did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct RunReport {
    /// Due secrets read from the store's index.
    pub due_read: usize,
    /// Store calls made (reads and writes).
    pub store_calls: usize,
    /// Notifications sent.
    pub sent: usize,
    /// Recipients recorded as undeliverable.
    pub undeliverable: usize,
    /// Notifications that failed (retried later).
    pub failed: usize,
    /// Warnings another runner held, or that were backing off.
    pub busy: usize,
}

/// Sends the expiry warnings that are due. Run [`WarningRunner::run_due`]
/// on an interval on any number of replicas.
///
/// ```
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// use std::sync::Arc;
/// use clientcreds_registry::warnings::{Contact, Directory, TracingNotifier, WarningConfig, WarningRunner};
/// use clientcreds_registry::Error;
/// use clientcreds_store::MemoryStore;
///
/// #[derive(Debug)]
/// struct Users;
/// #[async_trait::async_trait]
/// impl Directory for Users {
///     async fn contact(&self, user_id: &str) -> Result<Option<Contact>, Error> {
///         Ok(Some(Contact::new(user_id, format!("{user_id}@example.com"), user_id, "en")))
///     }
/// }
///
/// let store = Arc::new(MemoryStore::new());
/// let runner = WarningRunner::new(store.clone(), store, Arc::new(Users), Arc::new(TracingNotifier), WarningConfig::default());
/// let report = runner.run_due(time::OffsetDateTime::now_utc()).await?;
/// assert_eq!(report.sent, 0);
/// # Ok::<(), Error>(())
/// # }).unwrap();
/// ```
pub struct WarningRunner {
    store: Arc<dyn Store>,
    ledger: Arc<dyn WarningLedger>,
    directory: Arc<dyn Directory>,
    notifier: Arc<dyn Notifier>,
    renderer: Arc<dyn Renderer>,
    config: WarningConfig,
}

impl fmt::Debug for WarningRunner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WarningRunner")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl WarningRunner {
    /// A runner over a store (clients) and its ledger (usually the same
    /// object), with the host's directory and notifier and the default
    /// renderer.
    #[must_use]
    pub fn new(
        store: Arc<dyn Store>,
        ledger: Arc<dyn WarningLedger>,
        directory: Arc<dyn Directory>,
        notifier: Arc<dyn Notifier>,
        config: WarningConfig,
    ) -> Self {
        Self {
            store,
            ledger,
            directory,
            notifier,
            renderer: Arc::new(DefaultRenderer),
            config,
        }
    }

    /// Replaces the renderer.
    #[must_use]
    pub fn with_renderer(mut self, renderer: Arc<dyn Renderer>) -> Self {
        self.renderer = renderer;
        self
    }

    /// Claims, renders, sends and records every warning due at `now`.
    ///
    /// # Errors
    /// [`Error::Store`] when the store fails; what was recorded before the
    /// failure stays recorded, and the rest is picked up by a later run.
    pub async fn run_due(&self, now: OffsetDateTime) -> Result<RunReport, Error> {
        let mut report = RunReport::default();
        let run = RunClock {
            start: now,
            started: Instant::now(),
        };
        let due = self
            .ledger
            .due_warnings(now, self.config.batch)
            .await
            .map_err(Error::Store)?;
        report.store_calls += 1;
        report.due_read = due.len();
        for item in due {
            self.run_one(&item, &run, &mut report).await?;
        }
        Ok(report)
    }

    async fn run_one(
        &self,
        due: &DueWarning,
        run: &RunClock,
        report: &mut RunReport,
    ) -> Result<(), Error> {
        // What is due is decided at the run's instant; leases and retries
        // below use the instant plus the time the run has taken, so that a
        // slow run never claims with a lease that has already ended.
        let now = run.start;
        let record = self
            .store
            .client(&due.tenant, &due.client_id)
            .await
            .map_err(Error::Store)?;
        report.store_calls += 1;
        let secret = record
            .as_ref()
            .and_then(|r| r.secrets.iter().find(|s| s.secret_id == due.secret_id));
        let (Some(record), Some(secret), Some(expires_at)) =
            (record.as_ref(), secret, secret.and_then(|s| s.expires_at))
        else {
            return self.advance(due, None, report).await;
        };
        if secret.warning_due != Some(due.due_at) {
            return Ok(()); // Moved meanwhile (rotated, another runner).
        }
        if record.status != ClientStatus::Active {
            return self.advance(due, None, report).await;
        }
        // The most recent stage that has come, not before this schedule's.
        let Some(stage) = self
            .config
            .stages
            .iter()
            .copied()
            .filter(|d| {
                let at = stage_instant(expires_at, *d);
                at >= due.due_at && at <= now
            })
            .min()
        else {
            let next = next_stage_after(expires_at, &self.config.stages, now);
            return self.advance(due, next, report).await;
        };
        let warning = self.warning(record, secret, expires_at, stage, now);
        let mut complete = true;
        for recipient in &warning.recipients {
            complete &= self.deliver(&warning, recipient, run.now(), report).await?;
        }
        if complete {
            let next = next_stage_after(expires_at, &self.config.stages, now);
            self.advance(due, next, report).await?;
        }
        Ok(())
    }

    /// One recipient: claim, resolve, render, send, record. Whether the
    /// warning is finished for this recipient.
    async fn deliver(
        &self,
        warning: &ExpiryWarning,
        recipient: &str,
        now: OffsetDateTime,
        report: &mut RunReport,
    ) -> Result<bool, Error> {
        let key = WarningKey {
            tenant: warning.tenant.clone(),
            client_id: warning.client_id.clone(),
            secret_id: warning.secret_id.clone(),
            stage_days: warning.stage_days,
            recipient: recipient.to_owned(),
        };
        let claim = self
            .ledger
            .claim_warning(&key, now, now + self.config.lease)
            .await
            .map_err(Error::Store)?;
        report.store_calls += 1;
        let attempt = match claim {
            Claim::Claimed { attempt } => attempt,
            Claim::Finished => return Ok(true),
            _ => {
                report.busy += 1;
                return Ok(false);
            }
        };
        let outcome = match self.directory.contact(recipient).await {
            Ok(Some(contact)) => self.send(warning, contact, attempt, now).await,
            Ok(None) => WarningOutcome::Undeliverable {
                reason: "the directory has no address for this user".to_owned(),
            },
            Err(error) => self.failed(&error, attempt, now),
        };
        let outcome = match outcome {
            WarningOutcome::Failed { reason, .. } if attempt >= self.config.max_attempts => {
                WarningOutcome::Undeliverable {
                    reason: format!("gave up after {attempt} attempts: {reason}"),
                }
            }
            other => other,
        };
        match &outcome {
            WarningOutcome::Sent => report.sent += 1,
            WarningOutcome::Undeliverable { .. } => report.undeliverable += 1,
            _ => report.failed += 1,
        }
        let finished = !matches!(outcome, WarningOutcome::Failed { .. });
        self.ledger
            .finish_warning(&key, attempt, &outcome, now)
            .await
            .map_err(Error::Store)?;
        report.store_calls += 1;
        Ok(finished)
    }

    async fn send(
        &self,
        warning: &ExpiryWarning,
        contact: Contact,
        attempt: u32,
        now: OffsetDateTime,
    ) -> WarningOutcome {
        let message = self.renderer.render(warning, &contact);
        let notification = Notification {
            warning: warning.clone(),
            contact,
            message,
        };
        match self.notifier.notify(&notification).await {
            Ok(()) => WarningOutcome::Sent,
            Err(error) => self.failed(&error, attempt, now),
        }
    }

    fn failed(&self, error: &Error, attempt: u32, now: OffsetDateTime) -> WarningOutcome {
        let doublings = attempt.saturating_sub(1).min(20);
        let backoff = self
            .config
            .backoff
            .checked_mul(1 << doublings)
            .unwrap_or(self.config.max_backoff)
            .min(self.config.max_backoff);
        tracing::warn!(
            error = error as &dyn std::error::Error,
            attempt,
            "expiry warning not delivered; will retry"
        );
        WarningOutcome::Failed {
            reason: error.to_string(),
            retry_at: now + backoff,
        }
    }

    async fn advance(
        &self,
        due: &DueWarning,
        next: Option<OffsetDateTime>,
        report: &mut RunReport,
    ) -> Result<(), Error> {
        self.ledger
            .set_warning_due(
                &due.tenant,
                &due.client_id,
                &due.secret_id,
                due.due_at,
                next,
            )
            .await
            .map_err(Error::Store)?;
        report.store_calls += 1;
        Ok(())
    }

    fn warning(
        &self,
        record: &ClientRecord,
        secret: &SecretRecord,
        expires_at: OffsetDateTime,
        stage_days: u32,
        now: OffsetDateTime,
    ) -> ExpiryWarning {
        let mut recipients = Vec::with_capacity(2);
        if let Some(owner) = &record.owner {
            recipients.push(owner.clone());
        }
        if !recipients.contains(&record.created_by) {
            recipients.push(record.created_by.clone());
        }
        let left = expires_at - now;
        let days_remaining = if stage_days == 0 || !left.is_positive() {
            0
        } else {
            u32::try_from((left.whole_seconds() + 86_399) / 86_400).unwrap_or(u32::MAX)
        };
        ExpiryWarning {
            tenant: record.tenant.clone(),
            client_id: record.client_id.clone(),
            client_name: record.name.clone(),
            secret_id: secret.secret_id.clone(),
            secret_display_prefix: secret.display_prefix.clone(),
            expires_at,
            stage_days,
            days_remaining,
            recipients,
            action_url: self
                .config
                .action_url_template
                .replace("{tenant}", record.tenant.as_str())
                .replace("{client_id}", &record.client_id),
        }
    }
}

/// A run's instant, moved on by the real time the run has taken.
struct RunClock {
    start: OffsetDateTime,
    started: Instant,
}

impl RunClock {
    fn now(&self) -> OffsetDateTime {
        let elapsed = Duration::try_from(self.started.elapsed()).unwrap_or(Duration::ZERO);
        self.start.checked_add(elapsed).unwrap_or(self.start)
    }
}
