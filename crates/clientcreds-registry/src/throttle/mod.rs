//! Slowing down failed client authentication, before any hash is checked.

mod bucket;
pub(crate) mod table;

use std::fmt::{self, Debug};
use std::hash::{BuildHasher, Hash, RandomState};
use std::net::{AddrParseError, IpAddr};
use std::str::FromStr;
use std::sync::{Mutex, PoisonError};

use time::{Duration, OffsetDateTime};

use self::bucket::{Bucket, bucket, canonical, host};
use self::table::Table;

/// Where an authentication attempt came from, as the host knows it: the
/// key of the registry's [`AuthThrottle`].
///
/// - [`Source::client`]: the caller's own address: the TCP peer, or the
///   client address a proxy the host trusts vouches for. Failures count
///   per source and per (client id, source).
/// - [`Source::shared`]: an address that stands for many callers the host
///   cannot tell apart (a proxy it was not told to trust, a loopback
///   peer). Counting failures per source there would let anyone lock
///   everyone out, so a throttle does not: it counts per (client id,
///   source) only, and a pair that authenticated recently passes first.
///
/// An IP address converts into a client source; `"203.0.113.9".parse()`
/// gives one too.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Source {
    address: IpAddr,
    shared: bool,
}

impl Source {
    /// The caller's own address.
    #[must_use]
    pub const fn client(address: IpAddr) -> Self {
        Self {
            address,
            shared: false,
        }
    }

    /// An address many callers share and the host cannot see past.
    #[must_use]
    pub const fn shared(address: IpAddr) -> Self {
        Self {
            address,
            shared: true,
        }
    }

    /// The address.
    #[must_use]
    pub const fn address(self) -> IpAddr {
        self.address
    }

    /// Whether many callers share it ([`Source::shared`]).
    #[must_use]
    pub const fn is_shared(self) -> bool {
        self.shared
    }
}

impl From<IpAddr> for Source {
    fn from(address: IpAddr) -> Self {
        Self::client(address)
    }
}

impl FromStr for Source {
    type Err = AddrParseError;

    /// A client source from an IP address's text.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        text.parse().map(Self::client)
    }
}

/// Decides, before the secret is hashed, whether an authentication attempt
/// may go ahead, and learns from each outcome.
///
/// The registry calls [`AuthThrottle::admit`] first, before the format
/// checks, the store lookup and the hash, so a throttled attempt costs
/// none of them (with PBKDF2 configured, this
/// is what keeps a flood of guesses from costing a full PBKDF2 each).
/// [`AuthThrottle::failed`] is called for every attempt refused as an
/// unknown client or a wrong secret, and for a secret that matched but
/// may not authenticate (revoked, expired, rotated out, or of a client
/// that is inactive, suspended or revoked); [`AuthThrottle::succeeded`]
/// only after a secret matched and its client was allowed in.
///
/// `source` is where the attempt came from, as the host knows it (see
/// [`Source`]); `None` when the host did not say. Implementations must
/// never key on the client id alone: whoever fails on a client id from
/// elsewhere must not lock its owner out; and must not count failures per
/// source for a [`Source::shared`] one.
pub trait AuthThrottle: Send + Sync + Debug {
    /// `Err(retry_after)` when this attempt must be refused without a
    /// look-up.
    ///
    /// # Errors
    /// How long the caller should wait before trying again.
    fn admit(
        &self,
        client_id: &str,
        source: Option<Source>,
        now: OffsetDateTime,
    ) -> Result<(), Duration>;

    /// An attempt failed: an unknown client, a wrong secret, or a secret
    /// that matched but may not authenticate.
    fn failed(&self, client_id: &str, source: Option<Source>, now: OffsetDateTime);

    /// An attempt authenticated.
    fn succeeded(&self, client_id: &str, source: Option<Source>, now: OffsetDateTime);
}

/// The limits of a [`MemoryThrottle`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct ThrottleLimits {
    /// Failures allowed for one client id from one source per window
    /// (default 10): brute force against one client.
    pub per_client_and_source: u32,
    /// Failures allowed from one source (an IPv4 address, an IPv6 /64),
    /// whatever the ids, per window (default 100): a source spraying many
    /// ids.
    pub per_source: u32,
    /// Failures allowed from one IPv6 /48 per window (default 1,000): a
    /// sprayer hopping over the 65,536 /64s of its site.
    pub per_ipv6_48: u32,
    /// Failures allowed from one IPv6 /32 per window (default 10,000): a
    /// sprayer hopping over the sites of a whole allocation.
    pub per_ipv6_32: u32,
    /// The window (default 15 minutes); a source over a limit waits for
    /// the rest of its window.
    pub window: Duration,
    /// How long a (client id, source) pair stays known-good after it
    /// authenticated (default 24 hours, the longest token lifetime a
    /// client may have, `MAX_TOKEN_LIFETIME_SECS`): an owner that fetches
    /// a token once per lifetime is still known when it comes back. Keep
    /// it at least the longest token lifetime in use.
    pub known_good: Duration,
    /// Most keys remembered per table (default 100,000; under 100 bytes
    /// each): memory stays bounded under a flood.
    pub max_entries: usize,
}

impl Default for ThrottleLimits {
    fn default() -> Self {
        Self {
            per_client_and_source: 10,
            per_source: 100,
            per_ipv6_48: 1_000,
            per_ipv6_32: 10_000,
            window: Duration::minutes(15),
            known_good: Duration::seconds(i64::from(crate::MAX_TOKEN_LIFETIME_SECS)),
            max_entries: 100_000,
        }
    }
}

/// The in-memory [`AuthThrottle`], the registry's default: fixed windows
/// per (client id, source) and per source, in bounded tables.
///
/// - A (client id, source) pair that authenticated within
///   [`ThrottleLimits::known_good`] is never stopped: it already holds a
///   secret, so its failures are its owner's (a rotation still rolling
///   out, a typo), never a guesser's gain. This is checked first, so
///   nobody sharing the owner's address (a NAT, an egress gateway, an
///   unconfigured proxy) can lock the owner out.
/// - Brute force against one client id from one source is refused after
///   [`ThrottleLimits::per_client_and_source`] failures in a window.
/// - A source spraying many ids is refused after
///   [`ThrottleLimits::per_source`] failures in a window; an IPv6 sprayer
///   hopping over /64s is refused by its /48
///   ([`ThrottleLimits::per_ipv6_48`]) and its /32
///   ([`ThrottleLimits::per_ipv6_32`]).
/// - A [`Source::shared`] source is not counted per source at all (its
///   limit would lock out everyone behind it): only its pairs are.
/// - Nothing is keyed on the client id alone, so failures from one source
///   never slow the client's owner calling from another.
/// - IPv6 sources count per /64 (one host usually holds a whole /64), and
///   per /48 and /32; IPv4 addresses mapped into IPv6 (`::ffff:a.b.c.d`,
///   as a dual-stack listener reports them) and behind the well-known
///   NAT64 prefix (`64:ff9b::a.b.c.d`) count as the IPv4 address.
/// - Each table is bounded in constant time: two generations of at most
///   half of [`ThrottleLimits::max_entries`]; when the young one fills,
///   the old one is forgotten whole.
/// - Without a source, nothing is throttled: pass the peer address.
///
/// Each replica throttles on its own; a host that wants one budget across
/// replicas implements [`AuthThrottle`] over a shared store.
///
/// ```
/// use clientcreds_registry::{AuthThrottle, MemoryThrottle, Source, ThrottleLimits};
/// use time::{Duration, OffsetDateTime};
///
/// let mut limits = ThrottleLimits::default();
/// limits.per_client_and_source = 2;
/// let throttle = MemoryThrottle::new(limits);
/// let (attacker, owner): (Source, Source) = ("198.51.100.7".parse()?, "203.0.113.9".parse()?);
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
    sources: Mutex<Table<Bucket, Window>>,
    /// Pairs that authenticated within [`ThrottleLimits::known_good`].
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

    fn pair_key(&self, client_id: &str, address: IpAddr) -> u64 {
        self.hasher.hash_one((client_id, host(address)))
    }

    /// The source's counters and their limits: the address (IPv4) or its
    /// /64, /48 and /32 (IPv6).
    fn buckets(&self, address: IpAddr) -> impl Iterator<Item = (Bucket, u32)> {
        let limits = &self.limits;
        let coarser = match address {
            IpAddr::V4(_) => None,
            IpAddr::V6(_) => Some([
                (bucket(address, 48), limits.per_ipv6_48),
                (bucket(address, 32), limits.per_ipv6_32),
            ]),
        };
        std::iter::once((host(address), limits.per_source)).chain(coarser.into_iter().flatten())
    }

    fn over(&self, window: Option<Window>, limit: u32, now: OffsetDateTime) -> Option<Duration> {
        let window = window?;
        let ends = window.start + self.limits.window;
        (window.failures >= limit && ends > now).then(|| ends - now)
    }

    fn known_good(&self, pair: u64, now: OffsetDateTime) -> bool {
        self.good
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&pair)
            .is_some_and(|at| at + self.limits.known_good > now)
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

impl AuthThrottle for MemoryThrottle {
    fn admit(
        &self,
        client_id: &str,
        source: Option<Source>,
        now: OffsetDateTime,
    ) -> Result<(), Duration> {
        let Some(source) = source else {
            return Ok(());
        };
        let address = canonical(source.address);
        let pair = self.pair_key(client_id, address);
        // First: a pair that authenticated recently holds a secret; nobody
        // failing beside it (same address, same id) may lock it out.
        if self.known_good(pair, now) {
            return Ok(());
        }
        let by_pair = {
            let pairs = self.pairs.lock().unwrap_or_else(PoisonError::into_inner);
            self.over(pairs.get(&pair), self.limits.per_client_and_source, now)
        };
        if let Some(wait) = by_pair {
            return Err(wait);
        }
        if source.shared {
            return Ok(());
        }
        let sources = self.sources.lock().unwrap_or_else(PoisonError::into_inner);
        for (key, limit) in self.buckets(address) {
            if let Some(wait) = self.over(sources.get(&key), limit, now) {
                return Err(wait);
            }
        }
        Ok(())
    }

    fn failed(&self, client_id: &str, source: Option<Source>, now: OffsetDateTime) {
        let Some(source) = source else {
            return;
        };
        let address = canonical(source.address);
        if !source.shared {
            for (key, _) in self.buckets(address) {
                self.count(&self.sources, key, now);
            }
        }
        self.count(&self.pairs, self.pair_key(client_id, address), now);
    }

    fn succeeded(&self, client_id: &str, source: Option<Source>, now: OffsetDateTime) {
        let Some(source) = source else {
            return;
        };
        // The pair's failures were its owner's typos; the source's count
        // stays (one known secret must not reset a spraying source).
        let pair = self.pair_key(client_id, canonical(source.address));
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
