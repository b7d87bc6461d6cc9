//! The warning runner: due secrets in, one message per stage and recipient out.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::sync::Arc;
use std::time::Instant;

use clientcreds_store::{
    Claim, ClientRecord, ClientStatus, DueMove, DueWarning, SecretRecord, Store, TenantId,
    WarningFinish, WarningKey, WarningLedger, WarningOutcome,
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
    /// The e-mail domains each tenant's warnings may go to (default: any).
    /// An owner is text a tenant admin chose; where the host's directory
    /// turns it into an address, this keeps a tenant's warnings inside the
    /// tenant's own domains.
    pub recipient_domains: RecipientDomains,
    /// At most this many warnings of one tenant go to one recipient per
    /// [`WarningConfig::recipient_window`] (default 50); the rest wait for a
    /// later run. Counted in the ledger, so across runners (each may
    /// overshoot by the warnings it has in flight).
    pub recipient_limit: u64,
    /// The window of [`WarningConfig::recipient_limit`] (default 24 hours).
    pub recipient_window: Duration,
}

/// The e-mail domains expiry warnings may go to: one list for every tenant,
/// and lists of their own for some tenants. Domains match the address's
/// part after its last `@` exactly, ignoring ASCII case (a subdomain is
/// another domain).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct RecipientDomains {
    /// For every tenant without a list of its own; `None`: any domain.
    pub default: Option<Vec<String>>,
    /// Per tenant, replacing [`RecipientDomains::default`].
    pub tenants: BTreeMap<TenantId, Vec<String>>,
}

impl RecipientDomains {
    /// Any domain, for every tenant.
    #[must_use]
    pub fn any() -> Self {
        Self::default()
    }

    /// These domains for every tenant without a list of its own.
    #[must_use]
    pub fn only<I, S>(domains: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Self {
            default: Some(lowercase(domains)),
            tenants: BTreeMap::new(),
        }
    }

    /// Gives `tenant` a list of its own.
    #[must_use]
    pub fn with_tenant<I, S>(mut self, tenant: TenantId, domains: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.tenants.insert(tenant, lowercase(domains));
        self
    }

    /// Whether `tenant`'s warnings may go to `address`.
    #[must_use]
    pub fn allows(&self, tenant: &TenantId, address: &str) -> bool {
        let Some(domains) = self.tenants.get(tenant).or(self.default.as_ref()) else {
            return true;
        };
        let Some((local, domain)) = address.rsplit_once('@') else {
            return false;
        };
        // A display form (`Name <a@b>`) or trailing junk is not an address
        // this check can vouch for.
        let plain = |c: char| !c.is_whitespace() && !matches!(c, '<' | '>' | ',' | ';' | '"');
        !local.is_empty()
            && local.chars().all(plain)
            && domain.chars().all(plain)
            && domains.iter().any(|d| d.eq_ignore_ascii_case(domain))
    }
}

fn lowercase<I, S>(domains: I) -> Vec<String>
where
    I: IntoIterator<Item = S>,
    S: Into<String>,
{
    domains
        .into_iter()
        .map(|d| d.into().trim().to_ascii_lowercase())
        .filter(|d| !d.is_empty())
        .collect()
}

/// What a tenant sees (in the ledger's `detail`) when the notifier or the
/// directory fails: the error's own text may be a mail server's answer
/// about a mailbox, and stays in the platform's logs.
pub const DELIVERY_FAILED: &str = "the mail system did not accept the warning; it is retried \
     later (the platform's logs have the details)";

/// What a tenant sees when a recipient's address is outside the domains
/// its warnings may go to.
pub const DOMAIN_REFUSED: &str = "the recipient's address is not in a domain this tenant's \
     warnings may go to";

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
            recipient_domains: RecipientDomains::any(),
            recipient_limit: 50,
            recipient_window: Duration::days(1),
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

    /// Sets [`WarningConfig::recipient_domains`].
    #[must_use]
    pub fn with_recipient_domains(mut self, domains: RecipientDomains) -> Self {
        self.recipient_domains = domains;
        self
    }

    /// Sets [`WarningConfig::recipient_limit`] (at least 1) and
    /// [`WarningConfig::recipient_window`].
    #[must_use]
    pub fn with_recipient_limit(mut self, limit: u64, window: Duration) -> Self {
        self.recipient_limit = limit.max(1);
        self.recipient_window = window;
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
    /// Warnings held back by the per-recipient rate limit (sent by a later
    /// run).
    pub rate_limited: usize,
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
    /// The due secrets are handled in chunks of [`RUN_CHUNK`]: each chunk
    /// reads its clients, counts its recipients' recent warnings, claims
    /// its warnings, records how they ended and moves the secrets' due
    /// instants on, each step one batch call to the store (a few
    /// statements on a database), so a run costs a few round trips per
    /// chunk instead of several per warning. A claimed warning is sent only
    /// while its lease has at least a tenth left; one whose lease ran short
    /// (a slow notifier) stays claimed, and a later run takes it once the
    /// lease is over, so each warning still goes out once.
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
        for chunk in due.chunks(RUN_CHUNK) {
            self.run_chunk(chunk, &run, &mut report).await?;
        }
        Ok(report)
    }

    async fn run_chunk(
        &self,
        due: &[DueWarning],
        run: &RunClock,
        report: &mut RunReport,
    ) -> Result<(), Error> {
        // What is due is decided at the run's instant; leases and retries
        // below use the instant plus the time the run has taken, so that a
        // slow run never claims with a lease that has already ended.
        let now = run.start;
        let ids: Vec<(TenantId, String)> = due
            .iter()
            .map(|d| (d.tenant.clone(), d.client_id.clone()))
            .collect();
        let records = self.store.clients_by_id(&ids).await.map_err(Error::Store)?;
        report.store_calls += 1;
        let mut moves = Vec::new();
        // The warnings to deliver, with the due secret and its next instant.
        let mut planned: Vec<(&DueWarning, ExpiryWarning, Option<OffsetDateTime>)> = Vec::new();
        for (due, record) in due.iter().zip(&records) {
            match self.plan(due, record.as_ref(), now) {
                Plan::Skip => {}
                Plan::Advance(next) => moves.push(DueMove {
                    due: due.clone(),
                    next,
                }),
                Plan::Deliver(warning, next) => planned.push((due, warning, next)),
            }
        }
        let complete = self.deliver_all(&planned, run, report).await?;
        for ((due, _, next), complete) in planned.iter().zip(complete) {
            if complete {
                moves.push(DueMove {
                    due: (*due).clone(),
                    next: *next,
                });
            }
        }
        if !moves.is_empty() {
            self.ledger
                .set_warnings_due(&moves)
                .await
                .map_err(Error::Store)?;
            report.store_calls += 1;
        }
        Ok(())
    }

    /// What to do with one due secret.
    fn plan(&self, due: &DueWarning, record: Option<&ClientRecord>, now: OffsetDateTime) -> Plan {
        let secret = record.and_then(|r| r.secrets.iter().find(|s| s.secret_id == due.secret_id));
        let (Some(record), Some(secret), Some(expires_at)) =
            (record, secret, secret.and_then(|s| s.expires_at))
        else {
            return Plan::Advance(None);
        };
        if secret.warning_due != Some(due.due_at) {
            return Plan::Skip; // Moved meanwhile (rotated, another runner).
        }
        if record.status != ClientStatus::Active {
            return Plan::Advance(None);
        }
        let next = next_stage_after(expires_at, &self.config.stages, now);
        // The most recent stage that has come, not before this schedule's.
        let stage = self
            .config
            .stages
            .iter()
            .copied()
            .filter(|d| {
                let at = stage_instant(expires_at, *d);
                at >= due.due_at && at <= now
            })
            .min();
        match stage {
            Some(stage) => {
                Plan::Deliver(self.warning(record, secret, expires_at, stage, now), next)
            }
            None => Plan::Advance(next),
        }
    }

    /// Every recipient of every planned warning: rate limit, claim, send,
    /// record. Whether each warning is finished for all its recipients.
    async fn deliver_all(
        &self,
        planned: &[(&DueWarning, ExpiryWarning, Option<OffsetDateTime>)],
        run: &RunClock,
        report: &mut RunReport,
    ) -> Result<Vec<bool>, Error> {
        let mut complete = vec![true; planned.len()];
        let mut pairs: Vec<(TenantId, String)> = planned
            .iter()
            .flat_map(|(_, w, _)| w.recipients.iter().map(|r| (w.tenant.clone(), r.clone())))
            .collect();
        if pairs.is_empty() {
            return Ok(complete);
        }
        pairs.sort();
        pairs.dedup();
        // The rate limit first: a warning held back is not claimed, so it
        // costs no attempt and goes out on a later run. Warnings claimed
        // in this run count towards it too.
        let since = run.now() - self.config.recipient_window;
        let counts = self
            .ledger
            .sent_warnings_to(&pairs, since)
            .await
            .map_err(Error::Store)?;
        report.store_calls += 1;
        let mut sent: HashMap<(TenantId, String), u64> = pairs.into_iter().zip(counts).collect();
        let mut claims: Vec<(usize, WarningKey, Resolved)> = Vec::new();
        for (i, (_, warning, _)) in planned.iter().enumerate() {
            for recipient in &warning.recipients {
                let resolved = self.resolve(warning, recipient).await;
                // Only a message that would go out counts (and is held
                // back); an undeliverable one is recorded at once.
                if matches!(resolved, Resolved::Send(_)) {
                    let count = sent
                        .entry((warning.tenant.clone(), recipient.clone()))
                        .or_default();
                    if *count >= self.config.recipient_limit {
                        tracing::warn!(
                            tenant = %warning.tenant,
                            client_id = %warning.client_id,
                            recipient,
                            sent = *count,
                            "expiry warning held back by the per-recipient rate limit"
                        );
                        report.rate_limited += 1;
                        unfinished(&mut complete, i);
                        continue;
                    }
                    *count += 1;
                }
                claims.push((i, warning.key_for(recipient), resolved));
            }
        }
        if claims.is_empty() {
            return Ok(complete);
        }
        let keys: Vec<WarningKey> = claims.iter().map(|(_, k, _)| k.clone()).collect();
        let claimed_at = run.now();
        let lease_until = claimed_at + self.config.lease;
        let answers = self
            .ledger
            .claim_warnings(&keys, claimed_at, lease_until)
            .await
            .map_err(Error::Store)?;
        report.store_calls += 1;
        let mut finishes = Vec::new();
        for ((i, key, resolved), claim) in claims.into_iter().zip(answers) {
            let attempt = match claim {
                Claim::Claimed { attempt } => attempt,
                Claim::Finished => continue,
                _ => {
                    report.busy += 1;
                    unfinished(&mut complete, i);
                    continue;
                }
            };
            // Sent only while a tenth of the lease is left: past that,
            // another runner may claim it once the lease ends.
            if run.now() + self.config.lease / 10 > lease_until {
                report.busy += 1;
                unfinished(&mut complete, i);
                continue;
            }
            let Some((_, warning, _)) = planned.get(i) else {
                continue;
            };
            let outcome = self
                .outcome(warning, &key.recipient, resolved, attempt, run.now())
                .await;
            match &outcome {
                WarningOutcome::Sent => report.sent += 1,
                WarningOutcome::Undeliverable { .. } => report.undeliverable += 1,
                _ => {
                    report.failed += 1;
                    unfinished(&mut complete, i);
                }
            }
            finishes.push(WarningFinish {
                key,
                attempt,
                outcome,
            });
        }
        if !finishes.is_empty() {
            self.ledger
                .finish_warnings(&finishes, run.now())
                .await
                .map_err(Error::Store)?;
            report.store_calls += 1;
        }
        Ok(complete)
    }

    /// Where a recipient's warning would go, before it is claimed.
    async fn resolve(&self, warning: &ExpiryWarning, recipient: &str) -> Resolved {
        match self.directory.contact(recipient).await {
            Ok(Some(contact))
                if !self
                    .config
                    .recipient_domains
                    .allows(&warning.tenant, &contact.address) =>
            {
                tracing::warn!(
                    tenant = %warning.tenant,
                    client_id = %warning.client_id,
                    recipient,
                    "expiry warning not sent: the address is outside the tenant's recipient domains"
                );
                Resolved::Undeliverable(DOMAIN_REFUSED.to_owned())
            }
            Ok(Some(contact)) => Resolved::Send(contact),
            Ok(None) => {
                Resolved::Undeliverable("the directory has no address for this user".to_owned())
            }
            Err(error) => Resolved::Error(error),
        }
    }

    /// One claimed recipient: render and send, or record why not.
    async fn outcome(
        &self,
        warning: &ExpiryWarning,
        recipient: &str,
        resolved: Resolved,
        attempt: u32,
        now: OffsetDateTime,
    ) -> WarningOutcome {
        let outcome = match resolved {
            Resolved::Send(contact) => self.send(warning, contact, attempt, now).await,
            Resolved::Undeliverable(reason) => WarningOutcome::Undeliverable { reason },
            Resolved::Error(error) => self.failed(warning, recipient, &error, attempt, now),
        };
        match outcome {
            WarningOutcome::Failed { reason, .. } if attempt >= self.config.max_attempts => {
                WarningOutcome::Undeliverable {
                    reason: format!("gave up after {attempt} attempts: {reason}"),
                }
            }
            other => other,
        }
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
            Err(error) => self.failed(warning, &notification.contact.user_id, &error, attempt, now),
        }
    }

    /// A failed attempt: the error's text (a mail server's answer, say,
    /// which tells whether a mailbox exists) goes to the platform's log
    /// only; the ledger, which tenants read, gets [`DELIVERY_FAILED`].
    fn failed(
        &self,
        warning: &ExpiryWarning,
        recipient: &str,
        error: &Error,
        attempt: u32,
        now: OffsetDateTime,
    ) -> WarningOutcome {
        let doublings = attempt.saturating_sub(1).min(20);
        let backoff = self
            .config
            .backoff
            .checked_mul(1 << doublings)
            .unwrap_or(self.config.max_backoff)
            .min(self.config.max_backoff);
        tracing::warn!(
            error = error as &dyn std::error::Error,
            tenant = %warning.tenant,
            client_id = %warning.client_id,
            stage_days = warning.stage_days,
            recipient,
            attempt,
            "expiry warning not delivered; will retry"
        );
        WarningOutcome::Failed {
            reason: DELIVERY_FAILED.to_owned(),
            retry_at: now + backoff,
        }
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

/// Due secrets handled together in one run (see [`WarningRunner::run_due`]).
pub const RUN_CHUNK: usize = 500;

/// Marks planned warning `i` as not finished for every recipient.
fn unfinished(complete: &mut [bool], i: usize) {
    if let Some(flag) = complete.get_mut(i) {
        *flag = false;
    }
}

/// A recipient looked up in the directory.
enum Resolved {
    /// An address the warning may go to.
    Send(Contact),
    /// Recorded as undeliverable, with why.
    Undeliverable(String),
    /// The directory failed: retried later.
    Error(Error),
}

/// What a run does with one due secret.
enum Plan {
    /// Nothing: its schedule moved meanwhile.
    Skip,
    /// No warning now: move its due instant to this (or end it).
    Advance(Option<OffsetDateTime>),
    /// Deliver this warning, then move on to this instant.
    Deliver(ExpiryWarning, Option<OffsetDateTime>),
}

impl ExpiryWarning {
    fn key_for(&self, recipient: &str) -> WarningKey {
        WarningKey {
            tenant: self.tenant.clone(),
            client_id: self.client_id.clone(),
            secret_id: self.secret_id.clone(),
            stage_days: self.stage_days,
            recipient: recipient.to_owned(),
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
