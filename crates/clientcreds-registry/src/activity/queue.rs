//! The bounded queue of individual activity entries, shared fairly
//! between tenants.

use std::collections::{BTreeMap, HashMap, VecDeque};

use clientcreds_store::{ActivityEvent, TenantId};
use tokio::sync::oneshot;

/// The queue: entries by arrival number (so batches keep the arrival
/// order), and each tenant's arrival numbers (so a full queue can give up
/// the newest entry of the tenant holding the most).
/// A flush waiter: answered once every entry numbered below `upto` is
/// written and the tally write numbered `round` has finished.
pub(super) struct Flush {
    pub(super) upto: u64,
    pub(super) round: u64,
    pub(super) ack: oneshot::Sender<()>,
}

#[derive(Default)]
pub(super) struct Queue {
    pub(super) entries: BTreeMap<u64, ActivityEvent>,
    by_tenant: HashMap<Option<TenantId>, VecDeque<u64>>,
    pub(super) next: u64,
    /// Flush waiters.
    pub(super) flushes: Vec<Flush>,
    /// Tally writes started, and finished (written or failed).
    pub(super) counts_started: u64,
    pub(super) counts_finished: u64,
    pub(super) closes: Vec<oneshot::Sender<()>>,
    /// No entry is accepted any more.
    pub(super) closed: bool,
    /// The writer has finished.
    pub(super) done: bool,
}

impl Queue {
    /// Queues `event`, or says it was dropped. When full, the newest entry
    /// of the tenant holding the most entries makes room, if that tenant
    /// holds more than the event's: each tenant keeps a fair share.
    pub(super) fn push(&mut self, event: ActivityEvent, capacity: usize) -> Result<(), ()> {
        if self.closed {
            return Err(());
        }
        if self.entries.len() >= capacity {
            let mine = self.by_tenant.get(&event.tenant).map_or(0, VecDeque::len);
            let victim = self
                .by_tenant
                .iter_mut()
                .max_by_key(|(_, queued)| queued.len())
                .filter(|(_, queued)| queued.len() > mine + 1)
                .and_then(|(_, queued)| queued.pop_back());
            let Some(victim) = victim else {
                return Err(());
            };
            self.entries.remove(&victim);
            // Dropped, in the victim's stead; the new entry takes its place.
            self.enqueue(event);
            return Err(());
        }
        self.enqueue(event);
        Ok(())
    }

    fn enqueue(&mut self, event: ActivityEvent) {
        let n = self.next;
        self.next += 1;
        self.by_tenant
            .entry(event.tenant.clone())
            .or_default()
            .push_back(n);
        self.entries.insert(n, event);
    }

    /// The oldest entries, at most `max`, taken out of the queue.
    pub(super) fn take(&mut self, max: usize) -> Vec<ActivityEvent> {
        let mut batch = Vec::with_capacity(max.min(self.entries.len()));
        while batch.len() < max {
            let Some((_, event)) = self.entries.pop_first() else {
                break;
            };
            if let Some(queued) = self.by_tenant.get_mut(&event.tenant) {
                queued.pop_front();
                if queued.is_empty() {
                    self.by_tenant.remove(&event.tenant);
                }
            }
            batch.push(event);
        }
        batch
    }

    /// Whether a flush waits for a tally write not yet started.
    pub(super) fn tally_wanted(&self) -> bool {
        self.flushes.iter().any(|f| f.round > self.counts_started)
    }

    /// Answers the flushes whose entries are all written and whose tally
    /// write has finished.
    pub(super) fn answer_flushes(&mut self) {
        let first_queued = self.entries.first_key_value().map_or(u64::MAX, |(n, _)| *n);
        let finished = self.counts_finished;
        let (done, waiting): (Vec<_>, Vec<_>) = std::mem::take(&mut self.flushes)
            .into_iter()
            .partition(|f| f.upto <= first_queued && f.round <= finished);
        self.flushes = waiting;
        for flush in done {
            let _ = flush.ack.send(());
        }
    }
}
