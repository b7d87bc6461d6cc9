//! Counters of refusals that are not stored one by one.

use std::collections::BTreeMap;
use std::sync::{Mutex, PoisonError};

/// Token requests refused before any client was authenticated (no or
/// malformed credentials, unknown client, wrong secret, bad grant type),
/// counted by reason code instead of stored one row each: they name no
/// tenant, so no activity query could return them, and a flood of them
/// would otherwise be a flood of inserts.
#[derive(Debug, Default)]
pub struct RefusalCounts {
    counts: Mutex<BTreeMap<&'static str, u64>>,
}

impl RefusalCounts {
    /// Counts one refusal for `reason`.
    pub(crate) fn count(&self, reason: &'static str) {
        *self
            .counts
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entry(reason)
            .or_default() += 1;
    }

    /// The counts so far, by reason code (`unknown_client`, `bad_secret`,
    /// `no_credentials`, `unsupported_grant_type`, ...).
    #[must_use]
    pub fn by_reason(&self) -> BTreeMap<&'static str, u64> {
        self.counts
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// All refusals counted so far.
    #[must_use]
    pub fn total(&self) -> u64 {
        self.by_reason().values().sum()
    }
}
