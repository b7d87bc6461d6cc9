//! How a [`KeyManager`](super::KeyManager) rotates signing keys.

use clientcreds_jwt::{Algorithm, MAX_LEEWAY};
use time::Duration;

use crate::Error;
use crate::validate::MAX_TOKEN_LIFETIME_SECS;

/// How a [`KeyManager`](super::KeyManager) rotates signing keys.
///
/// ```
/// use clientcreds_registry::KeyRotationPolicy;
/// use time::Duration;
///
/// let policy = KeyRotationPolicy::default().with_rotate_every(Duration::days(7));
/// assert!(policy.validate().is_ok());
/// assert!(policy.with_publish_lead(Duration::seconds(1)).validate().is_err());
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct KeyRotationPolicy {
    /// The algorithm of new keys (asymmetric only; default EdDSA).
    pub algorithm: Algorithm,
    /// How long each key signs (default 30 days).
    pub rotate_every: Duration,
    /// How long a new key is published before it signs (default 24 h).
    /// At least [`KeyRotationPolicy::jwks_max_age`] plus
    /// [`KeyRotationPolicy::refresh_every`], so that every verifier that
    /// honours the JWKS cache lifetime holds a key before it signs.
    pub publish_lead: Duration,
    /// How long a key stays published after it stops signing, on top of
    /// [`KeyRotationPolicy::refresh_every`]: the longest token lifetime plus
    /// leeway (default 24 h + 5 min).
    pub keep_after_signing: Duration,
    /// The JWKS cache lifetime the host announces (`Cache-Control:
    /// max-age`; default 15 min).
    pub jwks_max_age: Duration,
    /// How often each replica reloads the keys and performs due steps
    /// (default 60 s).
    pub refresh_every: Duration,
}

impl Default for KeyRotationPolicy {
    fn default() -> Self {
        Self {
            algorithm: Algorithm::EdDSA,
            rotate_every: Duration::days(30),
            publish_lead: Duration::hours(24),
            keep_after_signing: Duration::seconds(i64::from(MAX_TOKEN_LIFETIME_SECS)) + MAX_LEEWAY,
            jwks_max_age: Duration::minutes(15),
            refresh_every: Duration::seconds(60),
        }
    }
}

impl KeyRotationPolicy {
    /// Sets [`KeyRotationPolicy::algorithm`].
    #[must_use]
    pub fn with_algorithm(mut self, algorithm: Algorithm) -> Self {
        self.algorithm = algorithm;
        self
    }

    /// Sets [`KeyRotationPolicy::rotate_every`].
    #[must_use]
    pub fn with_rotate_every(mut self, every: Duration) -> Self {
        self.rotate_every = every;
        self
    }

    /// Sets [`KeyRotationPolicy::publish_lead`].
    #[must_use]
    pub fn with_publish_lead(mut self, lead: Duration) -> Self {
        self.publish_lead = lead;
        self
    }

    /// Sets [`KeyRotationPolicy::keep_after_signing`].
    #[must_use]
    pub fn with_keep_after_signing(mut self, keep: Duration) -> Self {
        self.keep_after_signing = keep;
        self
    }

    /// Sets [`KeyRotationPolicy::jwks_max_age`].
    #[must_use]
    pub fn with_jwks_max_age(mut self, max_age: Duration) -> Self {
        self.jwks_max_age = max_age;
        self
    }

    /// Sets [`KeyRotationPolicy::refresh_every`].
    #[must_use]
    pub fn with_refresh_every(mut self, every: Duration) -> Self {
        self.refresh_every = every;
        self
    }

    /// Checks that the policy never lets a verifier meet a token whose key
    /// it could not yet have, nor drops a key while its tokens live.
    ///
    /// # Errors
    /// [`Error::KeyPolicy`] naming what to change.
    pub fn validate(&self) -> Result<(), Error> {
        let fail = |reason| Err(Error::KeyPolicy { reason });
        let ten_years = Duration::days(3_650);
        if [
            self.rotate_every,
            self.publish_lead,
            self.keep_after_signing,
            self.jwks_max_age,
            self.refresh_every,
        ]
        .iter()
        .any(|d| *d > ten_years)
        {
            return fail("every duration must be at most 10 years");
        }
        if self.algorithm == Algorithm::HS256 {
            return fail("HS256 keys cannot be published; choose EdDSA, ES256 or RS256");
        }
        if !self.refresh_every.is_positive() || !self.jwks_max_age.is_positive() {
            return fail("refresh_every and jwks_max_age must be positive");
        }
        if self.publish_lead < self.jwks_max_age + self.refresh_every {
            return fail("publish_lead must be at least jwks_max_age + refresh_every");
        }
        if self.rotate_every <= self.publish_lead {
            return fail("rotate_every must be longer than publish_lead");
        }
        if self.keep_after_signing < Duration::seconds(60) {
            return fail("keep_after_signing must cover the longest token lifetime plus leeway");
        }
        Ok(())
    }
}
