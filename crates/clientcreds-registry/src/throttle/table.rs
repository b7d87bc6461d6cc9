//! A map bounded in constant time, shared by the throttle and the denial
//! rows' limiter.

use std::collections::HashMap;
use std::hash::Hash;

/// Two generations of at most `half` entries each; when the young one
/// fills, the old one is dropped whole. A look-up reads both; an update
/// moves the entry into the young one. Memory stays bounded under a
/// flood of new keys, and no operation ever scans.
#[derive(Debug)]
pub(crate) struct Table<K, V> {
    young: HashMap<K, V>,
    old: HashMap<K, V>,
    half: usize,
}

impl<K: Hash + Eq, V: Copy> Table<K, V> {
    /// A table of at most `max_entries` keys (at least 2).
    pub(crate) fn new(max_entries: usize) -> Self {
        Self {
            young: HashMap::new(),
            old: HashMap::new(),
            half: (max_entries / 2).max(1),
        }
    }

    pub(crate) fn get(&self, key: &K) -> Option<V> {
        self.young.get(key).or_else(|| self.old.get(key)).copied()
    }

    pub(crate) fn put(&mut self, key: K, value: V) {
        self.old.remove(&key);
        if self.young.len() >= self.half && !self.young.contains_key(&key) {
            self.old = std::mem::take(&mut self.young);
        }
        self.young.insert(key, value);
    }

    pub(crate) fn remove(&mut self, key: &K) {
        self.young.remove(key);
        self.old.remove(key);
    }

    pub(crate) fn len(&self) -> usize {
        self.young.len() + self.old.len()
    }
}

#[cfg(test)]
mod tests {
    use super::Table;

    #[test]
    fn never_holds_more_than_its_bound() {
        let mut table = Table::new(10);
        for i in 0..1_000u32 {
            table.put(i, i);
            assert!(table.len() <= 10);
        }
        // The newest keys survive.
        assert_eq!(table.get(&999), Some(999));
        assert_eq!(table.get(&0), None);
    }
}
