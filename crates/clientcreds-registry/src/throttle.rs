//! Slowing down failed client authentication, before any hash is checked.

use std::collections::HashMap;
use std::fmt::Debug;
use std::hash::{BuildHasher, RandomState};
use std::net::IpAddr;
use std::sync::{Mutex, PoisonError};

use time::{Duration, OffsetDateTime};

/// Decides, before the secret is hashed, whether an authentication attempt
/// may go ahead, and learns from each outcome.
///
/// The registry calls [`AuthThrottle::admit`] after the presented id and
/// secret passed their format checks and before the store lookup and the
/// hash, so a throttled attempt costs neither (with PBKDF2 configured, this
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
/// - IPv6 sources count per /64 (one host usually holds a whole /64).
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
#[derive(Debug)]
pub struct MemoryThrottle {
    limits: ThrottleLimits,
    /// Keyed by a keyed hash of (client id, source): no allocation per
    /// look-up, and a fixed size per entry whatever the id's length.
    pairs: Mutex<HashMap<u64, Window>>,
    sources: Mutex<HashMap<IpAddr, Window>>,
    hasher: RandomState,
}

/// Failures counted since `start`.
#[derive(Debug, Clone, Copy)]
struct Window {
    start: OffsetDateTime,
    failures: u32,
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
            pairs: Mutex::new(HashMap::new()),
            sources: Mutex::new(HashMap::new()),
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

    fn over(&self, window: Option<&Window>, limit: u32, now: OffsetDateTime) -> Option<Duration> {
        let window = window?;
        let ends = window.start + self.limits.window;
        (window.failures >= limit && ends > now).then(|| ends - now)
    }
}

/// The source as counted: IPv6 addresses by their /64.
fn source_key(source: IpAddr) -> IpAddr {
    match source {
        IpAddr::V4(_) => source,
        IpAddr::V6(v6) => {
            let mut segments = v6.segments();
            for segment in segments.iter_mut().skip(4) {
                *segment = 0;
            }
            IpAddr::V6(segments.into())
        }
    }
}

/// Counts one failure under `key`, keeping the table within `max`.
fn count<K: std::hash::Hash + Eq + Clone>(
    table: &mut HashMap<K, Window>,
    key: K,
    window: Duration,
    max: usize,
    now: OffsetDateTime,
) {
    if table.len() >= max && !table.contains_key(&key) {
        table.retain(|_, w| w.start + window > now);
        if table.len() >= max {
            // Still full of live windows: forget one to make room.
            if let Some(victim) = table.keys().next().cloned() {
                table.remove(&victim);
            }
        }
    }
    let entry = table.entry(key).or_insert(Window {
        start: now,
        failures: 0,
    });
    if entry.start + window <= now {
        *entry = Window {
            start: now,
            failures: 0,
        };
    }
    entry.failures = entry.failures.saturating_add(1);
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
        let by_source = {
            let sources = self.sources.lock().unwrap_or_else(PoisonError::into_inner);
            self.over(
                sources.get(&source_key(source)),
                self.limits.per_source,
                now,
            )
        };
        if let Some(wait) = by_source {
            return Err(wait);
        }
        let pairs = self.pairs.lock().unwrap_or_else(PoisonError::into_inner);
        match self.over(
            pairs.get(&self.pair_key(client_id, source)),
            self.limits.per_client_and_source,
            now,
        ) {
            Some(wait) => Err(wait),
            None => Ok(()),
        }
    }

    fn failed(&self, client_id: &str, source: Option<IpAddr>, now: OffsetDateTime) {
        let Some(source) = source else {
            return;
        };
        let (window, max) = (self.limits.window, self.limits.max_entries);
        count(
            &mut self.sources.lock().unwrap_or_else(PoisonError::into_inner),
            source_key(source),
            window,
            max,
            now,
        );
        count(
            &mut self.pairs.lock().unwrap_or_else(PoisonError::into_inner),
            self.pair_key(client_id, source),
            window,
            max,
            now,
        );
    }

    fn succeeded(&self, client_id: &str, source: Option<IpAddr>, _now: OffsetDateTime) {
        // The pair's failures were its owner's typos; the source's count
        // stays (one known secret must not reset a spraying source).
        if let Some(source) = source {
            self.pairs
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .remove(&self.pair_key(client_id, source));
        }
    }
}
