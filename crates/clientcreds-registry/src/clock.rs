//! Time, injected.

use std::fmt::Debug;
use std::sync::{Mutex, PoisonError};

use time::{Duration, OffsetDateTime};

/// A source of the current time. The registry reads every instant from
/// one, so every time rule can be tested by moving a [`ManualClock`].
pub trait Clock: Send + Sync + Debug {
    /// The current instant.
    fn now(&self) -> OffsetDateTime;
}

/// The operating system's clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> OffsetDateTime {
        OffsetDateTime::now_utc()
    }
}

/// A clock that moves only when told to: for tests and simulations.
///
/// ```
/// use clientcreds_registry::{Clock, ManualClock};
/// use time::{Duration, OffsetDateTime};
///
/// let clock = ManualClock::new(OffsetDateTime::UNIX_EPOCH);
/// clock.advance(Duration::days(7));
/// assert_eq!(clock.now(), OffsetDateTime::UNIX_EPOCH + Duration::days(7));
/// ```
#[derive(Debug)]
pub struct ManualClock {
    now: Mutex<OffsetDateTime>,
}

impl ManualClock {
    /// A clock stopped at `start`.
    #[must_use]
    pub fn new(start: OffsetDateTime) -> Self {
        Self {
            now: Mutex::new(start),
        }
    }

    /// Moves the clock by `by` (which may be negative).
    pub fn advance(&self, by: Duration) {
        let mut now = self.now.lock().unwrap_or_else(PoisonError::into_inner);
        *now += by;
    }

    /// Sets the clock to `to`.
    pub fn set(&self, to: OffsetDateTime) {
        *self.now.lock().unwrap_or_else(PoisonError::into_inner) = to;
    }
}

impl Clock for ManualClock {
    fn now(&self) -> OffsetDateTime {
        *self.now.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// `clock`'s instant truncated to the microsecond: the precision every
/// store keeps (see `clientcreds_store`), so what is written reads back equal.
pub(crate) fn now_micros(clock: &dyn Clock) -> OffsetDateTime {
    let now = clock.now();
    now.replace_nanosecond(now.nanosecond() / 1_000 * 1_000)
        .unwrap_or(now)
}

impl<T: Clock + ?Sized> Clock for std::sync::Arc<T> {
    fn now(&self) -> OffsetDateTime {
        (**self).now()
    }
}
