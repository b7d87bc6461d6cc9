//! The activity log's denial rows, at most one per client and reason per
//! interval: a holder of a dead secret cannot turn a flood of requests
//! into a flood of rows.

use std::hash::{BuildHasher, RandomState};
use std::sync::{Arc, Mutex, PoisonError};

use time::{Duration, OffsetDateTime};

use crate::RefusalCounts;
use crate::throttle::table::Table;

/// At most one `token_denied` activity row per client id and reason in
/// this interval (1 minute); the others are counted
/// ([`TokenService::suppressed_denials`](crate::TokenService::suppressed_denials)).
pub const DENIAL_ROW_INTERVAL: Duration = Duration::minutes(1);
/// (client id, reason) pairs remembered; past this the oldest are
/// forgotten (and may write one more row each).
const MAX_KEYS: usize = 100_000;

/// When the last row of each (client id, reason) was written.
#[derive(Debug)]
pub(crate) struct DenialRows {
    last: Mutex<Table<u64, OffsetDateTime>>,
    hasher: RandomState,
    suppressed: Arc<RefusalCounts>,
}

impl Default for DenialRows {
    fn default() -> Self {
        Self {
            last: Mutex::new(Table::new(MAX_KEYS)),
            hasher: RandomState::new(),
            suppressed: Arc::default(),
        }
    }
}

impl DenialRows {
    /// Whether a denial of `client_id` for `reason` at `now` gets its row;
    /// if not, it is counted as suppressed.
    pub(crate) fn admit(&self, client_id: &str, reason: &'static str, now: OffsetDateTime) -> bool {
        let key = self.hasher.hash_one((client_id, reason));
        let mut last = self.last.lock().unwrap_or_else(PoisonError::into_inner);
        if last
            .get(&key)
            .is_some_and(|at| (at..at + DENIAL_ROW_INTERVAL).contains(&now))
        {
            drop(last);
            self.suppressed.count(reason);
            return false;
        }
        last.put(key, now);
        true
    }

    /// Denials not written, by reason.
    pub(crate) fn suppressed(&self) -> &Arc<RefusalCounts> {
        &self.suppressed
    }
}
