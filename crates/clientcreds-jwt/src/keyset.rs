//! A set of keys with publish-before-sign rotation.

use std::sync::{Arc, PoisonError, RwLock};

use time::{Duration, OffsetDateTime};

use crate::{Algorithm, Jwks, KeyError, SigningKey, VerifyingKey};

/// The keys an issuer signs with and a verifier trusts.
///
/// Rotation is publish-before-sign: [`KeySet::publish_next`] puts the next
/// key in the JWKS (and makes it verify) while the current key still
/// signs; once every verifier has fetched the JWKS,
/// [`KeySet::promote_next`] makes it the signer and keeps the old public
/// key published for as long as tokens it signed may live. Reads take a
/// snapshot, so a rotation never blocks minting or verification for long.
///
/// ```
/// use clientcreds_jwt::{Algorithm, KeySet, SigningKey};
/// use time::{Duration, OffsetDateTime};
///
/// let keys = KeySet::new(SigningKey::generate(Algorithm::EdDSA)?);
/// let first = keys.signing_key().unwrap().kid().to_owned();
/// keys.publish_next(SigningKey::generate(Algorithm::EdDSA)?)?;
/// assert_eq!(keys.jwks().keys.len(), 2); // published before it signs
/// let now = OffsetDateTime::now_utc();
/// keys.promote_next(now, Duration::hours(1))?;
/// assert_ne!(keys.signing_key().unwrap().kid(), first);
/// assert!(keys.verifying_key(&first).is_some()); // old tokens still verify
/// keys.prune(now + Duration::hours(1));
/// assert!(keys.verifying_key(&first).is_none());
/// # Ok::<(), clientcreds_jwt::KeyError>(())
/// ```
#[derive(Debug)]
pub struct KeySet {
    state: RwLock<Arc<State>>,
}

#[derive(Debug, Clone, Default)]
struct State {
    signing: Option<Arc<SigningKey>>,
    next: Option<Arc<SigningKey>>,
    /// Keys that verify but do not sign: retired signers (until an instant)
    /// and keys added for verification only (no end).
    verify_only: Vec<(Arc<VerifyingKey>, Option<OffsetDateTime>)>,
}

impl State {
    fn all_verifying(&self) -> impl Iterator<Item = &VerifyingKey> {
        self.signing
            .iter()
            .chain(self.next.iter())
            .map(|k| k.verifying_key())
            .chain(self.verify_only.iter().map(|(k, _)| k.as_ref()))
    }

    fn check_new(&self, kid: &str) -> Result<(), KeyError> {
        if self.all_verifying().any(|k| k.kid() == kid) {
            Err(KeyError::DuplicateKid(kid.to_owned()))
        } else {
            Ok(())
        }
    }
}

impl KeySet {
    /// A key set that signs with `key`.
    #[must_use]
    pub fn new(key: SigningKey) -> Self {
        let state = State {
            signing: Some(Arc::new(key)),
            ..State::default()
        };
        Self {
            state: RwLock::new(Arc::new(state)),
        }
    }

    /// A key set that only verifies, with the keys of a published JWKS
    /// (for a resource server). Keys this crate cannot use for signatures
    /// (other curves, `oct`, `use: "enc"`) are skipped, as RFC 7517 §5
    /// asks, so a foreign JWKS with extra keys still loads.
    ///
    /// # Errors
    /// [`KeyError::Jwk`] when no key is usable; [`KeyError::DuplicateKid`].
    pub fn from_jwks(jwks: &Jwks) -> Result<Self, KeyError> {
        let set = Self::empty();
        let mut usable = 0;
        for key in jwks
            .keys
            .iter()
            .filter_map(|jwk| VerifyingKey::from_jwk(jwk).ok())
        {
            set.add_verifying_key(key)?;
            usable += 1;
        }
        if usable == 0 && !jwks.keys.is_empty() {
            return Err(KeyError::Jwk("no usable signature key"));
        }
        Ok(set)
    }

    /// A set with no key at all: it neither signs nor verifies until keys
    /// are added (a key manager fills it with [`KeySet::replace_all`]).
    #[must_use]
    pub fn empty() -> Self {
        Self {
            state: RwLock::new(Arc::new(State::default())),
        }
    }

    /// Replaces every key at once, atomically for readers: `signing` signs
    /// (and verifies), each of `published` verifies and is in the JWKS
    /// until its instant (`None`: no end). This is how a key manager
    /// applies what its store says.
    ///
    /// # Errors
    /// [`KeyError::DuplicateKid`] when a kid appears twice; the set is
    /// then left as it was.
    pub fn replace_all(
        &self,
        signing: Option<Arc<SigningKey>>,
        published: Vec<(Arc<VerifyingKey>, Option<OffsetDateTime>)>,
    ) -> Result<(), KeyError> {
        let mut next = State {
            signing,
            next: None,
            verify_only: Vec::with_capacity(published.len()),
        };
        for (key, until) in published {
            next.check_new(key.kid())?;
            next.verify_only.push((key, until));
        }
        *self.state.write().unwrap_or_else(PoisonError::into_inner) = Arc::new(next);
        Ok(())
    }

    /// The current signing key, if this set signs.
    #[must_use]
    pub fn signing_key(&self) -> Option<Arc<SigningKey>> {
        self.snapshot().signing.clone()
    }

    /// The verifying key with this `kid`.
    #[must_use]
    pub fn verifying_key(&self, kid: &str) -> Option<VerifyingKey> {
        self.snapshot()
            .all_verifying()
            .find(|k| k.kid() == kid)
            .cloned()
    }

    /// Calls `f` with the verifying key for `kid`, without cloning it.
    pub fn with_verifying_key<R>(
        &self,
        kid: &str,
        f: impl FnOnce(Option<&VerifyingKey>) -> R,
    ) -> R {
        let state = self.snapshot();
        f(state.all_verifying().find(|k| k.kid() == kid))
    }

    /// The algorithms of every key that verifies: the verifier's allow-list.
    #[must_use]
    pub fn algorithms(&self) -> Vec<Algorithm> {
        let mut algorithms: Vec<Algorithm> = self
            .snapshot()
            .all_verifying()
            .map(VerifyingKey::algorithm)
            .collect();
        algorithms.sort_by_key(|a| a.name());
        algorithms.dedup();
        algorithms
    }

    /// Publishes `key` as the next signer: in the JWKS and verifying now,
    /// signing after [`KeySet::promote_next`]. Replaces an earlier next key.
    ///
    /// # Errors
    /// [`KeyError::DuplicateKid`].
    pub fn publish_next(&self, key: SigningKey) -> Result<(), KeyError> {
        self.update(|state| {
            state.next = None;
            state.check_new(key.kid())?;
            state.next = Some(Arc::new(key));
            Ok(())
        })
    }

    /// Makes the published next key the signer. The old signer's public key
    /// stays published and verifying until `now + keep_old_for`: pass at
    /// least the longest token lifetime.
    ///
    /// # Errors
    /// [`KeyError::UnknownKid`] (with an empty id) when no next key was published.
    pub fn promote_next(
        &self,
        now: OffsetDateTime,
        keep_old_for: Duration,
    ) -> Result<(), KeyError> {
        self.update(|state| {
            let next = state
                .next
                .take()
                .ok_or_else(|| KeyError::UnknownKid(String::new()))?;
            if let Some(old) = state.signing.replace(next) {
                let until = match now.checked_add(keep_old_for) {
                    Some(until) => Some(until),
                    // Past the end of the calendar: keep it with no end,
                    // rather than drop it at the next prune.
                    None if keep_old_for.is_positive() => None,
                    None => Some(now),
                };
                state
                    .verify_only
                    .push((Arc::new(old.verifying_key().clone()), until));
            }
            Ok(())
        })
    }

    /// Adds a key that verifies but never signs (a peer's, or an old one).
    ///
    /// # Errors
    /// [`KeyError::DuplicateKid`].
    pub fn add_verifying_key(&self, key: VerifyingKey) -> Result<(), KeyError> {
        self.update(|state| {
            state.check_new(key.kid())?;
            state.verify_only.push((Arc::new(key), None));
            Ok(())
        })
    }

    /// Removes a verification-only or retired key now.
    ///
    /// # Errors
    /// [`KeyError::UnknownKid`] if no such key is verification-only.
    pub fn remove(&self, kid: &str) -> Result<(), KeyError> {
        self.update(|state| {
            let before = state.verify_only.len();
            state.verify_only.retain(|(k, _)| k.kid() != kid);
            if state.verify_only.len() == before {
                Err(KeyError::UnknownKid(kid.to_owned()))
            } else {
                Ok(())
            }
        })
    }

    /// Drops retired keys whose time is up.
    pub fn prune(&self, now: OffsetDateTime) {
        let _ = self.update(|state| {
            state
                .verify_only
                .retain(|(_, until)| until.is_none_or(|u| u > now));
            Ok(())
        });
    }

    /// The JWKS (RFC 7517) to publish: every asymmetric key that verifies,
    /// current, next and retired. Symmetric keys and private members are
    /// never in it.
    #[must_use]
    pub fn jwks(&self) -> Jwks {
        Jwks {
            keys: self
                .snapshot()
                .all_verifying()
                .filter_map(|k| k.public_jwk().cloned())
                .collect(),
        }
    }

    fn snapshot(&self) -> Arc<State> {
        self.state
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    fn update(&self, f: impl FnOnce(&mut State) -> Result<(), KeyError>) -> Result<(), KeyError> {
        let mut guard = self.state.write().unwrap_or_else(PoisonError::into_inner);
        let mut next = State::clone(&guard);
        f(&mut next)?;
        *guard = Arc::new(next);
        Ok(())
    }
}
