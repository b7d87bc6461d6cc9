//! Slowing down failed client authentication, before any hash is checked.

use std::collections::HashMap;
use std::fmt::{self, Debug};
use std::hash::{BuildHasher, Hash, RandomState};
use std::net::IpAddr;
use std::sync::{Mutex, PoisonError};

use time::{Duration, OffsetDateTime};

/// Decides, before the secret is hashed, whether an authentication attempt
/// may go ahead, and learns from each outcome.
///
/// The registry calls [`AuthThrottle::admit`] first, before the format
/// checks, the store lookup and the hash, so a throttled attempt costs
/// none of them (with PBKDF2 configured, this
/// is what keeps a flood of guesses from costing a full PBKDF2 each).
/// [`AuthThrottle::failed`] is called for every attempt refused as an
/// unknown client or a wrong secret, [`AuthThrottle::succeeded`] after a
/// secret matched.
///
/// `source` is where the attempt came from, as the host knows it (the
/// peer address, or the client address its proxy vouches for); `None`
/// when the host did not say. Implementations must never key on the
/// client id alone: whoever fails on a client id from elsewhere must not
/// lock its owner out.
pub trait AuthThrottle: Send + Sync + Debug {
    /// `Err(retry_after)` when this attempt must be refused without a
    /// look-up.
    ///
    /// # Errors
    /// How long the caller should wait before trying again.
    fn admit(
        &self,
        client_id: &str,
        source: Option<IpAddr>,
        now: OffsetDateTime,
    ) -> Result<(), Duration>;

    /// An attempt failed as an unknown client or a wrong secret.
    fn failed(&self, client_id: &str, source: Option<IpAddr>, now: OffsetDateTime);

    /// An attempt's secret matched.
    fn succeeded(&self, client_id: &str, source: Option<IpAddr>, now: OffsetDateTime);
}

/// The limits of a [`MemoryThrottle`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct ThrottleLimits {
    /// Failures allowed for one client id from one source per window
    /// (default 10): brute force against one client.
    pub per_client_and_source: u32,
    /// Failures allowed from one source, whatever the ids, per window
    /// (default 100): a source spraying many ids.
    pub per_source: u32,
    /// The window (default 15 minutes); a source over a limit waits for
    /// the rest of its window.
    pub window: Duration,
    /// Most keys remembered per table (default 100,000; under 100 bytes
    /// each): memory stays bounded under a flood.
    pub max_entries: usize,
}

impl Default for ThrottleLimits {
    fn default() -> Self {
        Self {
            per_client_and_source: 10,
            per_source: 100,
            window: Duration::minutes(15),
            max_entries: 100_000,
        }
    }
}

/// The in-memory [`AuthThrottle`], the registry's default: fixed windows
/// per (client id, source) and per source, in two bounded tables.
///
/// - Brute force against one client id from one source is refused after
///   [`ThrottleLimits::per_client_and_source`] failures in a window.
/// - A source spraying many ids is refused after
///   [`ThrottleLimits::per_source`] failures in a window.
/// - Nothing is keyed on the client id alone, so failures from one source
///   never slow the client's owner calling from another.
/// - A (client id, source) pair whose secret matched within the window is
///   not stopped by its source's limit, so an owner behind an address
///   shared with a sprayer (a NAT, an egress gateway) keeps working. A
///   guesser at the same address and on the same client id shares the
///   owner's pair, though, and can slow it: that much a shared address
///   cannot tell apart.
/// - IPv6 sources count per /64 (one host usually holds a whole /64);
///   IPv4 addresses mapped into IPv6 (`::ffff:a.b.c.d`, as a dual-stack
///   listener reports them) count as the IPv4 address.
/// - Each table is bounded in constant time: two generations of at most
///   half of [`ThrottleLimits::max_entries`]; when the young one fills,
///   the old one is forgotten whole.
/// - Without a source, nothing is throttled: pass the peer address.
///
/// Each replica throttles on its own; a host that wants one budget across
/// replicas implements [`AuthThrottle`] over a shared store.
///
/// ```
/// use std::net::IpAddr;
/// use clientcreds_registry::{AuthThrottle, MemoryThrottle, ThrottleLimits};
/// use time::{Duration, OffsetDateTime};
///
/// let mut limits = ThrottleLimits::default();
/// limits.per_client_and_source = 2;
/// let throttle = MemoryThrottle::new(limits);
/// let (attacker, owner): (IpAddr, IpAddr) = ("198.51.100.7".parse()?, "203.0.113.9".parse()?);
/// let now = OffsetDateTime::now_utc();
/// for _ in 0..2 {
///     throttle.failed("cc_victim", Some(attacker), now);
/// }
/// assert!(throttle.admit("cc_victim", Some(attacker), now).is_err());
/// // The owner, elsewhere, is not locked out.
/// assert!(throttle.admit("cc_victim", Some(owner), now).is_ok());
/// // The window passes.
/// assert!(throttle.admit("cc_victim", Some(attacker), now + Duration::minutes(16)).is_ok());
/// # Ok::<(), std::net::AddrParseError>(())
/// ```
pub struct MemoryThrottle {
    limits: ThrottleLimits,
    /// Keyed by a keyed hash of (client id, source): no allocation per
    /// look-up, and a fixed size per entry whatever the id's length.
    pairs: Mutex<Table<u64, Window>>,
    sources: Mutex<Table<IpAddr, Window>>,
    /// Pairs whose secret matched within the window: the source's limit
    /// does not stop them (an owner behind a NAT shared with a sprayer).
    good: Mutex<Table<u64, OffsetDateTime>>,
    hasher: RandomState,
}

impl fmt::Debug for MemoryThrottle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never the callers' addresses.
        f.debug_struct("MemoryThrottle")
            .field("limits", &self.limits)
            .finish_non_exhaustive()
    }
}

/// Failures counted since `start`.
#[derive(Debug, Clone, Copy)]
struct Window {
    start: OffsetDateTime,
    failures: u32,
}

/// A map bounded in constant time: two generations of at most `half`
/// entries each; when the young one fills, the old one is dropped whole.
/// A look-up reads both; an update moves the entry into the young one.
#[derive(Debug)]
struct Table<K, V> {
    young: HashMap<K, V>,
    old: HashMap<K, V>,
    half: usize,
}

impl<K: Hash + Eq, V: Copy> Table<K, V> {
    fn new(max_entries: usize) -> Self {
        Self {
            young: HashMap::new(),
            old: HashMap::new(),
            half: (max_entries / 2).max(1),
        }
    }

    fn get(&self, key: &K) -> Option<V> {
        self.young.get(key).or_else(|| self.old.get(key)).copied()
    }

    fn put(&mut self, key: K, value: V) {
        self.old.remove(&key);
        if self.young.len() >= self.half && !self.young.contains_key(&key) {
            self.old = std::mem::take(&mut self.young);
        }
        self.young.insert(key, value);
    }

    fn remove(&mut self, key: &K) {
        self.young.remove(key);
        self.old.remove(key);
    }

    fn len(&self) -> usize {
        self.young.len() + self.old.len()
    }
}

impl Default for MemoryThrottle {
    fn default() -> Self {
        Self::new(ThrottleLimits::default())
    }
}

impl MemoryThrottle {
    /// A throttle with these limits.
    #[must_use]
    pub fn new(limits: ThrottleLimits) -> Self {
        Self {
            limits,
            pairs: Mutex::new(Table::new(limits.max_entries)),
            sources: Mutex::new(Table::new(limits.max_entries)),
            good: Mutex::new(Table::new(limits.max_entries)),
            hasher: RandomState::new(),
        }
    }

    /// The limits in force.
    #[must_use]
    pub fn limits(&self) -> &ThrottleLimits {
        &self.limits
    }

    /// Keys currently remembered (pairs, sources).
    #[must_use]
    pub fn len(&self) -> (usize, usize) {
        (
            self.pairs
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .len(),
            self.sources
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .len(),
        )
    }

    /// Whether nothing is remembered.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == (0, 0)
    }

    fn pair_key(&self, client_id: &str, source: IpAddr) -> u64 {
        self.hasher.hash_one((client_id, source_key(source)))
    }

    fn over(&self, window: Option<Window>, limit: u32, now: OffsetDateTime) -> Option<Duration> {
        let window = window?;
        let ends = window.start + self.limits.window;
        (window.failures >= limit && ends > now).then(|| ends - now)
    }

    /// Counts one failure under `key`.
    fn count<K: Hash + Eq>(&self, table: &Mutex<Table<K, Window>>, key: K, now: OffsetDateTime) {
        let mut table = table.lock().unwrap_or_else(PoisonError::into_inner);
        let window = match table.get(&key) {
            Some(w) if w.start + self.limits.window > now => Window {
                start: w.start,
                failures: w.failures.saturating_add(1),
            },
            _ => Window {
                start: now,
                failures: 1,
            },
        };
        table.put(key, window);
    }
}

/// The source as counted: IPv4 (also when mapped into IPv6, as a
/// dual-stack listener reports it) by address, IPv6 by its /64.
fn source_key(source: IpAddr) -> IpAddr {
    match source {
        IpAddr::V4(_) => source,
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return IpAddr::V4(v4);
            }
            let mut segments = v6.segments();
            for segment in segments.iter_mut().skip(4) {
                *segment = 0;
            }
            IpAddr::V6(segments.into())
        }
    }
}

impl AuthThrottle for MemoryThrottle {
    fn admit(
        &self,
        client_id: &str,
        source: Option<IpAddr>,
        now: OffsetDateTime,
    ) -> Result<(), Duration> {
        let Some(source) = source else {
            return Ok(());
        };
        let pair = self.pair_key(client_id, source);
        let by_pair = {
            let pairs = self.pairs.lock().unwrap_or_else(PoisonError::into_inner);
            self.over(pairs.get(&pair), self.limits.per_client_and_source, now)
        };
        if let Some(wait) = by_pair {
            return Err(wait);
        }
        let by_source = {
            let sources = self.sources.lock().unwrap_or_else(PoisonError::into_inner);
            self.over(
                sources.get(&source_key(source)),
                self.limits.per_source,
                now,
            )
        };
        let Some(wait) = by_source else {
            return Ok(());
        };
        // A pair that authenticated within the window passes a source's
        // limit: its owner shares the address with whoever sprays.
        let known_good = self
            .good
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&pair)
            .is_some_and(|at| at + self.limits.window > now);
        if known_good { Ok(()) } else { Err(wait) }
    }

    fn failed(&self, client_id: &str, source: Option<IpAddr>, now: OffsetDateTime) {
        let Some(source) = source else {
            return;
        };
        self.count(&self.sources, source_key(source), now);
        self.count(&self.pairs, self.pair_key(client_id, source), now);
    }

    fn succeeded(&self, client_id: &str, source: Option<IpAddr>, now: OffsetDateTime) {
        let Some(source) = source else {
            return;
        };
        // The pair's failures were its owner's typos; the source's count
        // stays (one known secret must not reset a spraying source).
        let pair = self.pair_key(client_id, source);
        self.pairs
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&pair);
        let mut good = self.good.lock().unwrap_or_else(PoisonError::into_inner);
        // Refreshed at most once a minute per pair: the hot path stays a read.
        if good
            .get(&pair)
            .is_none_or(|at| now - at >= Duration::minutes(1))
        {
            good.put(pair, now);
        }
    }
}
