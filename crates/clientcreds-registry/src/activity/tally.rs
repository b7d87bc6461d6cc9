//! The in-memory sums of activity counts between two flushes.

use std::collections::HashMap;

use clientcreds_store::{ActivityCount, CountedOutcome, TenantId};

/// A count's key: tenant, client, secret, source, minute (Unix seconds),
/// outcome.
type Key = (
    TenantId,
    String,
    Option<String>,
    Option<String>,
    i64,
    CountedOutcome,
);

/// Counts added since the last flush, summed by key.
///
/// It never refuses an addition: past `max_keys` distinct keys a new
/// count loses its source (it is summed with the client's other
/// unattributed requests of that minute) rather than being dropped, so
/// the keys that can still appear are bounded by the clients, secrets
/// and outcomes seen in one flush interval, not by the sources.
#[derive(Debug)]
pub(super) struct Tally {
    counts: HashMap<Key, u64>,
    max_keys: usize,
    /// Additions whose source was left out because the tally was full.
    pub(super) unattributed: u64,
}

impl Tally {
    pub(super) fn new(max_keys: usize) -> Self {
        Self {
            counts: HashMap::new(),
            max_keys: max_keys.max(1),
            unattributed: 0,
        }
    }

    pub(super) fn is_empty(&self) -> bool {
        self.counts.is_empty()
    }

    /// Adds `count`.
    pub(super) fn add(&mut self, count: ActivityCount) {
        let minute = ActivityCount::minute_of(count.minute).unix_timestamp();
        let mut key = (
            count.tenant,
            count.client_id,
            count.secret_id,
            count.source,
            minute,
            count.outcome,
        );
        if self.counts.len() >= self.max_keys && key.3.is_some() && !self.counts.contains_key(&key)
        {
            key.3 = None;
            self.unattributed = self.unattributed.saturating_add(count.count);
        }
        let stored = self.counts.entry(key).or_default();
        *stored = stored.saturating_add(count.count);
    }

    /// Everything summed so far, taken out.
    pub(super) fn take(&mut self) -> Vec<ActivityCount> {
        std::mem::take(&mut self.counts)
            .into_iter()
            .filter_map(
                |((tenant, client_id, secret_id, source, minute, outcome), count)| {
                    Some(ActivityCount {
                        tenant,
                        client_id,
                        secret_id,
                        source,
                        minute: time::OffsetDateTime::from_unix_timestamp(minute).ok()?,
                        outcome,
                        count,
                    })
                },
            )
            .collect()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn count(client: &str, source: Option<&str>, secs: i64, n: u64) -> ActivityCount {
        ActivityCount {
            tenant: TenantId::new("t").unwrap(),
            client_id: client.to_owned(),
            secret_id: Some("s".to_owned()),
            source: source.map(str::to_owned),
            minute: time::OffsetDateTime::from_unix_timestamp(secs).unwrap(),
            outcome: CountedOutcome::Issued,
            count: n,
        }
    }

    #[test]
    fn sums_by_key_and_minute() {
        let mut tally = Tally::new(10);
        tally.add(count("a", Some("192.0.2.1"), 60, 1));
        tally.add(count("a", Some("192.0.2.1"), 119, 2));
        tally.add(count("a", Some("192.0.2.1"), 120, 4));
        let mut taken = tally.take();
        taken.sort_by_key(|c| c.minute);
        assert_eq!(
            taken,
            vec![
                count("a", Some("192.0.2.1"), 60, 3),
                count("a", Some("192.0.2.1"), 120, 4)
            ]
        );
        assert!(tally.is_empty());
    }

    #[test]
    fn a_full_tally_drops_the_source_not_the_count() {
        let mut tally = Tally::new(2);
        tally.add(count("a", Some("192.0.2.1"), 0, 1));
        tally.add(count("a", Some("192.0.2.2"), 0, 1));
        tally.add(count("a", Some("192.0.2.3"), 0, 5));
        tally.add(count("a", Some("192.0.2.1"), 0, 1));
        assert_eq!(tally.unattributed, 5);
        let taken = tally.take();
        assert_eq!(taken.iter().map(|c| c.count).sum::<u64>(), 8);
        assert!(taken.contains(&count("a", None, 0, 5)));
        assert!(taken.contains(&count("a", Some("192.0.2.1"), 0, 2)));
    }
}
