//! The in-memory store's activity counts.

use time::OffsetDateTime;

use super::Inner;
use crate::{ActivityCount, ActivityCountQuery, CountedOutcome, TenantId};

/// An activity count's key: minute (Unix seconds) first, so the oldest
/// go first when the map is full, then the query's order.
pub(super) type CountKey = (
    i64,
    TenantId,
    String,
    Option<String>,
    Option<String>,
    CountedOutcome,
);

impl Inner {
    pub(super) fn add_counts(&mut self, counts: Vec<ActivityCount>) {
        for count in counts {
            let key = (
                ActivityCount::minute_of(count.minute).unix_timestamp(),
                count.tenant,
                count.client_id,
                count.secret_id,
                count.source,
                count.outcome,
            );
            let stored = self.activity_counts.entry(key).or_default();
            *stored = stored.saturating_add(count.count);
        }
        while self.activity_counts.len() > self.count_capacity {
            self.activity_counts.pop_first();
        }
    }

    pub(super) fn read_counts(&self, query: &ActivityCountQuery) -> Vec<ActivityCount> {
        let since = query.since.map_or(i64::MIN, OffsetDateTime::unix_timestamp);
        let until = query.until.map_or(i64::MAX, OffsetDateTime::unix_timestamp);
        self.activity_counts
            .iter()
            .filter(|((minute, tenant, client_id, ..), _)| {
                *minute >= since
                    && *minute < until
                    && *tenant == query.tenant
                    && query.client_id.as_ref().is_none_or(|c| c == client_id)
            })
            .take(query.limit)
            .filter_map(
                |((minute, tenant, client_id, secret_id, source, outcome), count)| {
                    Some(ActivityCount {
                        tenant: tenant.clone(),
                        client_id: client_id.clone(),
                        secret_id: secret_id.clone(),
                        source: source.clone(),
                        minute: OffsetDateTime::from_unix_timestamp(*minute).ok()?,
                        outcome: outcome.clone(),
                        count: *count,
                    })
                },
            )
            .collect()
    }

    pub(super) fn prune_counts(&mut self, before: OffsetDateTime) -> u64 {
        let before = before.unix_timestamp();
        let held = self.activity_counts.len();
        self.activity_counts
            .retain(|(minute, ..), _| *minute >= before);
        u64::try_from(held - self.activity_counts.len()).unwrap_or(u64::MAX)
    }
}
