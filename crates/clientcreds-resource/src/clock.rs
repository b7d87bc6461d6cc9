//! The injected clock.

use std::fmt::Debug;

use time::OffsetDateTime;

/// The time source for token lifetimes, cache lifetimes and cooldowns.
/// Inject a manual one in tests to move time without sleeping.
pub trait Clock: Send + Sync + Debug {
    /// The current instant.
    fn now(&self) -> OffsetDateTime;
}

/// The operating system's clock (the default).
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> OffsetDateTime {
        OffsetDateTime::now_utc()
    }
}
