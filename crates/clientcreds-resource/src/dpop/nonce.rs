//! Resource-side DPoP nonces (RFC 9449 §9): stateless, so every replica
//! that shares the secret accepts every other replica's nonce.

use std::fmt::{self, Debug};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64URL;
use clientcreds_jwt::{KeyError, SigningKey};
use time::{Duration, OffsetDateTime};

/// The bytes of a nonce's MAC (128 bits).
const MAC_LEN: usize = 16;

/// Issues and checks `DPoP-Nonce` values: `base64url(step || HMAC-SHA256(
/// secret, "clientcreds dpop-nonce" || step)[..16])`, where `step` is the
/// current time step. A nonce of the current or the previous step is
/// accepted, so one lives between one and two steps; nothing is stored.
///
/// Give every replica the same secret (derive it from the master keys,
/// for example with `clientcreds_secret`'s HKDF under a label of its own)
/// and a nonce from any replica works on all of them.
///
/// ```
/// use clientcreds_resource::DpopNonces;
/// use time::{Duration, OffsetDateTime};
///
/// let nonces = DpopNonces::new(&[7u8; 32], Duration::minutes(5))?;
/// let now = OffsetDateTime::now_utc();
/// let nonce = nonces.current(now);
/// assert!(nonces.accepts(&nonce, now));
/// assert!(nonces.accepts(&nonce, now + Duration::minutes(5)));
/// assert!(!nonces.accepts(&nonce, now + Duration::minutes(11)));
/// assert!(!nonces.accepts("forged", now));
/// # Ok::<(), clientcreds_jwt::KeyError>(())
/// ```
#[derive(Clone)]
pub struct DpopNonces {
    key: std::sync::Arc<SigningKey>,
    step: i64,
}

impl Debug for DpopNonces {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DpopNonces")
            .field("step_seconds", &self.step)
            .finish_non_exhaustive()
    }
}

impl DpopNonces {
    /// Nonces keyed by `secret` (at least 32 bytes), changing every `step`
    /// (at least one second).
    ///
    /// # Errors
    /// [`KeyError::WeakSecret`] for a secret under 32 bytes.
    pub fn new(secret: &[u8], step: Duration) -> Result<Self, KeyError> {
        Ok(Self {
            key: std::sync::Arc::new(SigningKey::hs256("dpop-nonce", secret)?),
            step: step.whole_seconds().max(1),
        })
    }

    /// The nonce to hand out at `now`.
    #[must_use]
    pub fn current(&self, now: OffsetDateTime) -> String {
        let step = self.step_of(now);
        let mut bytes = step.to_be_bytes().to_vec();
        bytes.extend_from_slice(&self.mac(step));
        B64URL.encode(bytes)
    }

    /// Whether `nonce` was issued at the current or the previous step.
    #[must_use]
    pub fn accepts(&self, nonce: &str, now: OffsetDateTime) -> bool {
        self.step_of_nonce(nonce).is_some_and(|step| {
            let current = self.step_of(now);
            step == current || step == current.saturating_sub(1)
        })
    }

    /// Whether `nonce` is valid but of the previous step (time to hand out
    /// a fresh one).
    #[must_use]
    pub fn is_aging(&self, nonce: &str, now: OffsetDateTime) -> bool {
        self.step_of_nonce(nonce)
            .is_some_and(|step| step != self.step_of(now))
    }

    /// The step a genuine nonce names; `None` for anything else.
    fn step_of_nonce(&self, nonce: &str) -> Option<i64> {
        if nonce.len() > 64 {
            return None;
        }
        let bytes = B64URL.decode(nonce).ok()?;
        let (step, mac) = bytes.split_first_chunk::<8>()?;
        let step = i64::from_be_bytes(*step);
        // The MAC compares in constant time (HMAC verification).
        let expected = self.full_mac(step)?;
        let truncated = expected.get(..MAC_LEN)?;
        (mac.len() == MAC_LEN && constant_time_eq(mac, truncated)).then_some(step)
    }

    fn step_of(&self, now: OffsetDateTime) -> i64 {
        now.unix_timestamp().div_euclid(self.step)
    }

    fn full_mac(&self, step: i64) -> Option<Vec<u8>> {
        let mut message = b"clientcreds dpop-nonce".to_vec();
        message.extend_from_slice(&step.to_be_bytes());
        self.key.sign(&message).ok()
    }

    fn mac(&self, step: i64) -> Vec<u8> {
        let mut mac = self.full_mac(step).unwrap_or_default();
        mac.truncate(MAC_LEN);
        mac
    }
}

/// Equality of two byte strings in time that depends on their length only.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}
