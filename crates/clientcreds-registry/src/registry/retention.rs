//! Retention: pruning the activity log (and, when asked, the audit trail)
//! by age.

use time::Duration;

use crate::Error;

use super::Registry;

/// How long activity entries are kept unless the host says otherwise: 30
/// days.
pub const DEFAULT_ACTIVITY_RETENTION: Duration = Duration::days(30);

/// How long activity counts (the aggregate: one row per client, secret,
/// source, minute and outcome) are kept unless the host says otherwise:
/// 90 days, long enough to see that a rotated-out secret is idle.
pub const DEFAULT_COUNT_RETENTION: Duration = Duration::days(90);

impl Registry {
    /// Removes activity entries older than `max_age` (strictly before now −
    /// `max_age`), in every tenant, and returns how many went. Run it on an
    /// interval (the reference server runs it hourly with
    /// [`DEFAULT_ACTIVITY_RETENTION`]); the stores delete through an index
    /// on the entries' instant.
    ///
    /// # Errors
    /// [`Error::Invalid`] for a negative `max_age`; [`Error::Store`].
    pub async fn prune_activity(&self, max_age: Duration) -> Result<u64, Error> {
        let cutoff = self.cutoff(max_age)?;
        Ok(self.store.prune_activity(cutoff).await?)
    }

    /// Removes activity counts whose minute starts more than `max_age`
    /// ago, in every tenant, and returns how many rows went. Run it beside
    /// [`Registry::prune_activity`] (the reference server runs it hourly
    /// with [`DEFAULT_COUNT_RETENTION`]).
    ///
    /// # Errors
    /// [`Error::Invalid`] for a negative `max_age`; [`Error::Store`].
    pub async fn prune_activity_counts(&self, max_age: Duration) -> Result<u64, Error> {
        let cutoff = self.cutoff(max_age)?;
        Ok(self.store.prune_activity_counts(cutoff).await?)
    }

    /// Removes audit records older than `max_age`, in every tenant, and
    /// returns how many went. Off unless called: the audit trail is kept
    /// for good by default.
    ///
    /// # Errors
    /// [`Error::Invalid`] for a negative `max_age`; [`Error::Store`].
    pub async fn prune_audit(&self, max_age: Duration) -> Result<u64, Error> {
        let cutoff = self.cutoff(max_age)?;
        Ok(self.store.prune_audit(cutoff).await?)
    }

    fn cutoff(&self, max_age: Duration) -> Result<time::OffsetDateTime, Error> {
        if max_age.is_negative() {
            return Err(Error::invalid("max_age", "must not be negative"));
        }
        self.now()
            .checked_sub(max_age)
            .ok_or_else(|| Error::invalid("max_age", "reaches before the calendar's start"))
    }
}
