//! The injected clock: every time rule (refresh margin, expiry, backoff,
//! negative cache) reads it, so tests move time instead of waiting.

use std::fmt;
use std::time::SystemTime;

/// Where the token cache reads the time.
///
/// Wall-clock time, because token expiry (`exp`) is wall-clock time.
/// Object safe: pass `Arc<dyn Clock>` to
/// [`TokenClientBuilder::clock`](crate::TokenClientBuilder::clock).
pub trait Clock: Send + Sync + fmt::Debug {
    /// The current time.
    fn now(&self) -> SystemTime;
}

/// The system's clock (the default).
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> SystemTime {
        SystemTime::now()
    }
}

impl<C: Clock + ?Sized> Clock for std::sync::Arc<C> {
    fn now(&self) -> SystemTime {
        (**self).now()
    }
}
