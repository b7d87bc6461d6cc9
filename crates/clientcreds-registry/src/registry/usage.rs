//! The activity log's aggregate: tokens issued and refusals counted per
//! client, secret, source and minute.

use clientcreds_store::{ActivityCount, ActivityCountQuery, TenantId};
use time::OffsetDateTime;

use crate::{Actor, Error};

use super::Registry;

impl Registry {
    /// A tenant's activity counts (or one client's): tokens issued and
    /// refusals of its clients, per client, secret, source and minute, for
    /// minutes starting in `[since, until)`, ordered by minute, client,
    /// secret, source, then outcome (issued first). This is the answer to
    /// "is the old secret still in use, and from where": issuance is kept
    /// only this way, and refusals also keep (bounded) individual entries
    /// in [`Registry::activity`].
    ///
    /// Counts reach the store every flush interval of the
    /// [`BatchedActivity`](crate::BatchedActivity) writer (1 s by default);
    /// read through the writer, a read waits for what was counted before it.
    ///
    /// A read by someone outside the tenant (a platform administrator) is
    /// recorded in the tenant's audit trail first (action
    /// [`AuditAction::Read`](clientcreds_store::AuditAction::Read), detail `activity_counts`).
    ///
    /// # Errors
    /// [`Error::NotFound`] if the actor may not see the tenant;
    /// [`Error::Invalid`] for a bad `limit` or a `since` after `until`;
    /// [`Error::Store`].
    pub async fn activity_counts(
        &self,
        actor: &Actor,
        tenant: &TenantId,
        client_id: Option<&str>,
        since: Option<OffsetDateTime>,
        until: Option<OffsetDateTime>,
        limit: usize,
    ) -> Result<Vec<ActivityCount>, Error> {
        if !self
            .authorize_log_read(actor, tenant, client_id, limit)
            .await?
        {
            return Ok(Vec::new());
        }
        if let (Some(since), Some(until)) = (since, until)
            && since > until
        {
            return Err(Error::invalid("since", "must not be after until"));
        }
        self.audit_platform_read(actor, tenant, client_id, "activity_counts")
            .await?;
        let query = ActivityCountQuery {
            tenant: tenant.clone(),
            client_id: client_id.map(str::to_owned),
            since,
            until,
            limit,
        };
        Ok(self.store.activity_counts(&query).await?)
    }
}
