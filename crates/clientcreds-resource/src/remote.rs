//! One issuer's keys, fetched from the issuer and kept fresh.
//!
//! The verified snapshot (a [`KeySet`] from the JWKS, and the
//! [`TokenVerifier`] over it) sits behind an `RwLock<Arc<_>>`: a
//! verification clones the `Arc` under a read lock held for a few
//! nanoseconds, then verifies with no lock at all. A fetch runs in a task
//! of its own with no lock held; when it ends, one write swaps the
//! snapshot. Requests that need a fetch (the first load, an unknown `kid`)
//! wait on a `watch` channel for that one fetch's outcome, never on a lock.

use std::fmt;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex, PoisonError, RwLock};

use clientcreds_jwt::{
    AccessContext, Algorithm, IntoDuration, Jwks, KeySet, SignedJws, TokenVerifier, Validation,
    VerifyError,
};
use time::{Duration, OffsetDateTime};
use tokio::sync::watch;

use crate::fetch::{discover, get_document, max_age, origin, parse_url};
use crate::issuers::peek_issuer;
use crate::{BoxFuture, Clock, Error, SystemClock, Transport, VerifyAccess};

/// The algorithms a remote key set accepts: asymmetric only, since a
/// published key can never be a shared secret (never `none`, never HMAC).
/// [`Validation::with_algorithms`] narrows the list further.
pub const ASYMMETRIC_ALGORITHMS: [Algorithm; 5] = [
    Algorithm::EdDSA,
    Algorithm::ES256,
    Algorithm::ES384,
    Algorithm::RS256,
    Algorithm::PS256,
];

/// Cache lifetimes and limits of a [`RemoteKeySet`]. Every default is
/// the one documented on its field. The setters take a
/// `std::time::Duration` (the caller crate's type) or a `time::Duration`.
///
/// ```
/// use clientcreds_resource::RemoteConfig;
/// let config = RemoteConfig::default()
///     .with_unknown_kid_cooldown(std::time::Duration::from_secs(10))
///     .with_max_stale(time::Duration::minutes(30));
/// assert_eq!(config.unknown_kid_cooldown, time::Duration::seconds(10));
/// assert_eq!(config.max_stale, time::Duration::minutes(30));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct RemoteConfig {
    /// Shortest time a JWKS is cached, whatever `Cache-Control` says
    /// (default 60 s; `no-store` and `max-age=0` get this).
    pub min_ttl: Duration,
    /// Longest time a JWKS is cached (default 24 h).
    pub max_ttl: Duration,
    /// Lifetime when the response has no `max-age` (default 5 min).
    pub default_ttl: Duration,
    /// After an unknown `kid` (or a known `kid` whose signature failed)
    /// caused a fetch, the next such fetch waits at least this long
    /// (default 30 s). Concurrent misses share one fetch.
    ///
    /// The cooldown is shared by every token: forged tokens with made-up
    /// `kid`s can therefore delay the pick-up of a key the issuer starts
    /// signing with unannounced (an emergency rotation without
    /// publish-before-sign) by at most this long. A host told of such a
    /// rotation calls [`RemoteKeySet::refresh`], which ignores the cooldown.
    pub unknown_kid_cooldown: Duration,
    /// How long past its lifetime the last good JWKS is still used while
    /// refreshes fail (default 1 h); after that, tokens are refused.
    pub max_stale: Duration,
    /// After a failed fetch, the next attempt waits at least this long
    /// (default 10 s), so an issuer outage is not met with a request storm.
    pub retry_after_failure: Duration,
}

impl Default for RemoteConfig {
    fn default() -> Self {
        Self {
            min_ttl: Duration::seconds(60),
            max_ttl: Duration::hours(24),
            default_ttl: Duration::minutes(5),
            unknown_kid_cooldown: Duration::seconds(30),
            max_stale: Duration::hours(1),
            retry_after_failure: Duration::seconds(10),
        }
    }
}

impl RemoteConfig {
    /// Sets the bounds `Cache-Control: max-age` is clamped to.
    #[must_use]
    pub fn with_ttl_bounds(mut self, min: impl IntoDuration, max: impl IntoDuration) -> Self {
        self.min_ttl = min.into_duration();
        self.max_ttl = max.into_duration();
        self
    }

    /// Sets the lifetime used without `max-age`.
    #[must_use]
    pub fn with_default_ttl(mut self, ttl: impl IntoDuration) -> Self {
        self.default_ttl = ttl.into_duration();
        self
    }

    /// Sets the unknown-`kid` refetch cooldown.
    #[must_use]
    pub fn with_unknown_kid_cooldown(mut self, cooldown: impl IntoDuration) -> Self {
        self.unknown_kid_cooldown = cooldown.into_duration();
        self
    }

    /// Sets how long a stale JWKS may serve while refreshes fail.
    #[must_use]
    pub fn with_max_stale(mut self, max_stale: impl IntoDuration) -> Self {
        self.max_stale = max_stale.into_duration();
        self
    }

    /// Sets the wait after a failed fetch.
    #[must_use]
    pub fn with_retry_after_failure(mut self, wait: impl IntoDuration) -> Self {
        self.retry_after_failure = wait.into_duration();
        self
    }

    /// The cache lifetime for a response's `max-age`, clamped.
    fn ttl(&self, max_age: Option<Duration>) -> Duration {
        let min = self.min_ttl.max(Duration::ZERO);
        max_age
            .unwrap_or(self.default_ttl)
            .clamp(min, self.max_ttl.max(min))
    }
}

/// Builds a [`RemoteKeySet`]; see [`RemoteKeySet::builder`].
#[derive(Debug)]
pub struct RemoteKeySetBuilder {
    validation: Validation,
    jwks_url: Option<String>,
    jwks_origins: Vec<String>,
    config: RemoteConfig,
    clock: Arc<dyn Clock>,
}

impl RemoteKeySetBuilder {
    /// Fetches the JWKS from `url` directly, without discovery.
    #[must_use]
    pub fn jwks_url(mut self, url: impl Into<String>) -> Self {
        self.jwks_url = Some(url.into());
        self
    }

    /// Accepts a discovered `jwks_uri` on `origin` (`https://host[:port]`)
    /// besides the issuer's own origin. By default discovery refuses a
    /// JWKS on another origin, so that a metadata document cannot send the
    /// resource server to an internal or loopback address; some issuers
    /// (Google's, for one) do serve their keys from another host.
    #[must_use]
    pub fn allow_jwks_origin(mut self, origin: impl Into<String>) -> Self {
        self.jwks_origins.push(origin.into());
        self
    }

    /// Sets cache lifetimes and limits.
    #[must_use]
    pub fn config(mut self, config: RemoteConfig) -> Self {
        self.config = config;
        self
    }

    /// Sets the clock for cache lifetimes and cooldowns, and the `now` of
    /// [`RemoteKeySet::verify`]. Default: the system's. (Through
    /// [`VerifyAccess`], e.g. the tower layer, `now` is the caller's.)
    #[must_use]
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// The key set, fetching through `transport`. Nothing is fetched yet:
    /// the first verification (or [`RemoteKeySet::refresh`]) does.
    ///
    /// # Errors
    /// [`Error::InvalidUrl`] for an issuer, JWKS URL or allowed JWKS
    /// origin that is not `https` (or loopback `http`).
    pub fn build(self, transport: impl Transport) -> Result<RemoteKeySet, Error> {
        parse_url(&self.validation.issuer)?;
        if let Some(url) = &self.jwks_url {
            parse_url(url)?;
        }
        let jwks_origins = self
            .jwks_origins
            .iter()
            .map(|o| parse_url(o).map(|uri| origin(&uri)))
            .collect::<Result<Vec<_>, _>>()?;
        let mut validation = self.validation;
        let algorithms: Vec<Algorithm> = validation
            .algorithms
            .take()
            .unwrap_or_else(|| ASYMMETRIC_ALGORITHMS.to_vec())
            .into_iter()
            .filter(|a| !a.is_symmetric())
            .collect();
        validation = validation.with_algorithms(algorithms);
        Ok(RemoteKeySet {
            inner: Arc::new(Inner {
                validation,
                discover: self.jwks_url.is_none(),
                jwks_origins,
                config: self.config,
                transport: Arc::new(transport),
                clock: self.clock,
                current: RwLock::new(None),
                next_refresh_ms: AtomicI64::new(i64::MIN),
                control: Mutex::new(Control {
                    in_flight: None,
                    last_kid_fetch: None,
                    last_failure: None,
                    jwks_uri: self.jwks_url,
                }),
            }),
        })
    }
}

/// The keys of one issuer, fetched from it (RFC 8414 metadata, falling back
/// to `OpenID` discovery, or a JWKS URL given directly) and kept fresh, with
/// the [`Validation`] its tokens must pass.
///
/// - The JWKS is cached for its `Cache-Control: max-age`, clamped to
///   [`RemoteConfig::min_ttl`]..[`RemoteConfig::max_ttl`], and refreshed in
///   the background once four fifths of that have passed: the request that
///   notices does not wait.
/// - A token whose `kid` is unknown causes one refetch per
///   [`RemoteConfig::unknown_kid_cooldown`]; concurrent misses share it.
///   A `kid` flood therefore costs the issuer one request per cooldown.
/// - No lock is held across a fetch. A request waits on the network only
///   for the first load (or when the last good set is past its bound) and
///   for an unknown-`kid` refetch.
/// - When refreshes fail, the last good set serves until
///   [`RemoteConfig::max_stale`] past its lifetime; then, as without any
///   set, tokens are refused with [`Error::KeysUnavailable`] (fail closed).
/// - Only URLs from the configuration and the issuer's metadata are
///   fetched: a token's `jku` or `x5u` is never followed. Only asymmetric
///   algorithms are accepted.
///
/// Verification is [`TokenVerifier::verify_at`] itself, over a
/// [`KeySet::from_jwks`] of the fetched JWKS: the same checks in the same
/// order as a local verifier.
///
/// ```no_run
/// # async fn run(transport: impl clientcreds_resource::Transport, token: &str) -> Result<(), clientcreds_resource::Error> {
/// use clientcreds_jwt::Validation;
/// use clientcreds_resource::RemoteKeySet;
///
/// // `transport`: e.g. `ReqwestTransport::new()` (feature `reqwest`).
/// let keys = RemoteKeySet::builder(Validation::new("https://auth.example.com", "https://api.example.com"))
///     .build(transport)?;
/// keys.refresh().await?; // optional: fail fast at start-up
/// let context = keys.verify(token).await?;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct RemoteKeySet {
    inner: Arc<Inner>,
}

struct Inner {
    validation: Validation,
    discover: bool,
    /// Origins a discovered `jwks_uri` may have besides the issuer's.
    jwks_origins: Vec<String>,
    config: RemoteConfig,
    transport: Arc<dyn Transport>,
    clock: Arc<dyn Clock>,
    current: RwLock<Option<Arc<Snapshot>>>,
    /// When a background refresh may next start (unix ms), read without a
    /// lock on every request that finds the set due.
    next_refresh_ms: AtomicI64,
    control: Mutex<Control>,
}

/// A fetched JWKS ready to verify with, and its lifetimes.
#[derive(Debug)]
struct Snapshot {
    keys: Arc<KeySet>,
    verifier: TokenVerifier,
    refresh_at: OffsetDateTime,
    usable_until: OffsetDateTime,
}

type Outcome = Option<Result<Arc<Snapshot>, Error>>;

/// Fetch bookkeeping; locked only briefly, never across a fetch.
struct Control {
    in_flight: Option<watch::Receiver<Outcome>>,
    last_kid_fetch: Option<OffsetDateTime>,
    last_failure: Option<(OffsetDateTime, Error)>,
    jwks_uri: Option<String>,
}

impl fmt::Debug for RemoteKeySet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RemoteKeySet")
            .field("issuer", &self.inner.validation.issuer)
            .field("config", &self.inner.config)
            .finish_non_exhaustive()
    }
}

impl RemoteKeySet {
    /// A builder for the issuer `validation.issuer`, whose tokens must pass
    /// `validation` (its algorithms are narrowed to the asymmetric ones).
    #[must_use]
    pub fn builder(validation: Validation) -> RemoteKeySetBuilder {
        RemoteKeySetBuilder {
            validation,
            jwks_url: None,
            jwks_origins: Vec::new(),
            config: RemoteConfig::default(),
            clock: Arc::new(SystemClock),
        }
    }

    /// The issuer whose keys these are.
    #[must_use]
    pub fn issuer(&self) -> &str {
        &self.inner.validation.issuer
    }

    /// The validation tokens must pass.
    #[must_use]
    pub fn validation(&self) -> &Validation {
        &self.inner.validation
    }

    /// The keys now in use, if any were fetched (a copy of the JWKS's
    /// usable keys; for inspection and tests).
    #[must_use]
    pub fn jwks(&self) -> Option<Jwks> {
        self.inner.current().map(|s| s.keys.jwks())
    }

    /// Fetches the JWKS now (sharing a fetch already running) and waits
    /// for it: to fail fast at start-up, or after learning of a rotation.
    ///
    /// # Errors
    /// The fetch's [`Error`]; the last good set stays in use.
    pub async fn refresh(&self) -> Result<(), Error> {
        let receiver = self.inner.start(false);
        Inner::wait(receiver).await.map(drop)
    }

    /// Verifies `token` at the clock's now.
    ///
    /// # Errors
    /// [`Error::Token`] naming the failed check (exactly as
    /// [`TokenVerifier::verify_at`]), or [`Error::KeysUnavailable`].
    pub async fn verify(&self, token: &str) -> Result<AccessContext, Error> {
        self.verify_at(token, self.inner.clock.now()).await
    }

    /// Verifies `token` as of `now` (cache lifetimes still follow the clock).
    ///
    /// # Errors
    /// As [`RemoteKeySet::verify`].
    pub async fn verify_at(
        &self,
        token: &str,
        now: OffsetDateTime,
    ) -> Result<AccessContext, Error> {
        self.with_keys(Some(token), |snapshot| {
            snapshot.verifier.verify_at(token, now)
        })
        .await
    }

    /// Checks the signature of a JWS someone else signed (a client
    /// assertion, say) with these keys: the key its `kid` names or, without
    /// a `kid`, any key of its algorithm. The claims are the caller's to
    /// check. The same cache, background refresh and unknown-`kid` refetch
    /// (one per cooldown) as [`RemoteKeySet::verify`].
    ///
    /// # Errors
    /// [`Error::Token`] with [`VerifyError::UnknownKid`],
    /// [`VerifyError::AlgorithmMismatch`] or [`VerifyError::BadSignature`];
    /// [`Error::KeysUnavailable`].
    pub async fn verify_signature(&self, jws: &SignedJws<'_>) -> Result<(), Error> {
        if !self
            .inner
            .validation
            .algorithms
            .as_ref()
            .is_none_or(|allowed| allowed.contains(&jws.header().alg))
        {
            return Err(Error::Token(VerifyError::AlgorithmNotAllowed));
        }
        self.with_keys(None, |snapshot| {
            let keys = &snapshot.keys;
            match jws.header().kid.as_deref() {
                Some(kid) => keys
                    .with_verifying_key(kid, |key| jws.verify(key.ok_or(VerifyError::UnknownKid)?)),
                None => {
                    let jwks = keys.jwks();
                    let mut outcome = Err(VerifyError::UnknownKid);
                    for jwk in &jwks.keys {
                        let Some(kid) = jwk.kid.as_deref() else {
                            continue;
                        };
                        let verdict = keys.with_verifying_key(kid, |key| match key {
                            Some(key) if key.algorithm() == jws.header().alg => jws.verify(key),
                            _ => Err(VerifyError::UnknownKid),
                        });
                        match verdict {
                            Ok(()) => return Ok(()),
                            Err(VerifyError::UnknownKid) => {}
                            Err(other) => outcome = Err(other),
                        }
                    }
                    outcome
                }
            }
        })
        .await
    }

    /// Runs `check` against the current keys (loading them first if there
    /// are none; `token`, when given, is peeked for its issuer so a foreign
    /// token fetches nothing), and once more against a refetched set when
    /// it fails with an unknown `kid` or a bad signature.
    async fn with_keys<T>(
        &self,
        token: Option<&str>,
        check: impl Fn(&Snapshot) -> Result<T, VerifyError>,
    ) -> Result<T, Error> {
        let snapshot = match self.inner.hit() {
            Some(snapshot) => snapshot,
            None => self.inner.load(token).await?,
        };
        match check(&snapshot) {
            // A key the set lacks, or a signature that fails under the key
            // of that `kid`: the issuer may have rotated (even re-using
            // the `kid`). One refetch per cooldown finds out.
            Err(error @ (VerifyError::UnknownKid | VerifyError::BadSignature)) => {
                self.inner.refetch(&snapshot, error, &check).await
            }
            other => other.map_err(Error::Token),
        }
    }
}

impl VerifyAccess for RemoteKeySet {
    fn verify_at<'a>(
        &'a self,
        token: &'a str,
        now: OffsetDateTime,
    ) -> BoxFuture<'a, Result<AccessContext, Error>> {
        Box::pin(RemoteKeySet::verify_at(self, token, now))
    }
}

fn unix_ms(at: OffsetDateTime) -> i64 {
    i64::try_from(at.unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX)
}

impl Inner {
    fn lock(&self) -> std::sync::MutexGuard<'_, Control> {
        self.control.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn current(&self) -> Option<Arc<Snapshot>> {
        self.current
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// The hit path: the current snapshot if it may serve, starting a
    /// background refresh when it is due. Never waits.
    fn hit(self: &Arc<Self>) -> Option<Arc<Snapshot>> {
        let snapshot = self.current()?;
        let now = self.clock.now();
        if now < snapshot.refresh_at {
            return Some(snapshot);
        }
        if unix_ms(now) >= self.next_refresh_ms.load(Ordering::Relaxed) {
            tracing::debug!(issuer = %self.validation.issuer, "refreshing the issuer's keys in the background");
            drop(self.start(true));
        }
        (now < snapshot.usable_until).then_some(snapshot)
    }

    /// No usable snapshot: wait for a fetch (unless one just failed),
    /// after checking the token's issuer so a foreign token fetches nothing.
    async fn load(self: &Arc<Self>, token: Option<&str>) -> Result<Arc<Snapshot>, Error> {
        if let Some(token) = token
            && token.len() <= self.validation.max_token_len
            && let Ok(iss) = peek_issuer(token)
        {
            self.validation.check_issuer(&iss)?;
        }
        let now = self.clock.now();
        let receiver = {
            let control = self.lock();
            match (&control.in_flight, &control.last_failure) {
                (None, Some((at, error))) if now - *at < self.config.retry_after_failure => {
                    return Err(self.unavailable(error));
                }
                _ => {
                    drop(control);
                    self.start(false)
                }
            }
        };
        match Inner::wait(receiver).await {
            Ok(snapshot) if self.clock.now() < snapshot.usable_until => Ok(snapshot),
            Ok(_) => Err(Error::KeysUnavailable {
                issuer: self.validation.issuer.clone(),
                reason: "the key set expired".to_owned(),
            }),
            Err(error) => Err(self.unavailable(&error)),
        }
    }

    fn unavailable(&self, error: &Error) -> Error {
        match error {
            Error::KeysUnavailable { .. } => error.clone(),
            other => Error::KeysUnavailable {
                issuer: self.validation.issuer.clone(),
                reason: other.to_string(),
            },
        }
    }

    /// The token's `kid` is not in `seen`, or its signature failed under
    /// that `kid`'s key (`error` says which): verify against a newer set if
    /// there is one, else refetch at most once per cooldown.
    async fn refetch<T>(
        self: &Arc<Self>,
        seen: &Arc<Snapshot>,
        error: VerifyError,
        check: &impl Fn(&Snapshot) -> Result<T, VerifyError>,
    ) -> Result<T, Error> {
        // A token of another issuer never gets here: the verifier refused
        // it as such before the key lookup, so it never causes a fetch.
        let unknown = Err(Error::Token(error));
        if let Some(newer) = self.current().filter(|s| !Arc::ptr_eq(s, seen)) {
            return check(&newer).map_err(Error::Token);
        }
        let receiver = {
            let mut control = self.lock();
            if control.in_flight.is_none() {
                let at = self.clock.now();
                if control
                    .last_kid_fetch
                    .is_some_and(|last| at - last < self.config.unknown_kid_cooldown)
                {
                    return unknown;
                }
                control.last_kid_fetch = Some(at);
            }
            drop(control);
            self.start(false)
        };
        match Inner::wait(receiver).await {
            Ok(fresh) => check(&fresh).map_err(Error::Token),
            Err(_) => unknown,
        }
    }

    /// Joins the fetch in flight or starts one in a task of its own (so a
    /// waiter that gives up does not cancel it). `background`: a refresh
    /// nobody waits for, not to be retried before the retry wait.
    fn start(self: &Arc<Self>, background: bool) -> watch::Receiver<Outcome> {
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            let refused = Error::Fetch {
                url: self.validation.issuer.clone(),
                reason: "a remote key set fetches on a tokio runtime; none is running".to_owned(),
            };
            return watch::channel(Some(Err(refused))).1;
        };
        let mut control = self.lock();
        if let Some(receiver) = &control.in_flight {
            return receiver.clone();
        }
        let now = self.clock.now();
        if background {
            // Background refresh: not again before the retry wait.
            self.next_refresh_ms.store(
                unix_ms(now + self.config.retry_after_failure),
                Ordering::Relaxed,
            );
        }
        let (sender, receiver) = watch::channel(None);
        control.in_flight = Some(receiver.clone());
        let jwks_uri = control.jwks_uri.clone();
        drop(control);
        drop(runtime.spawn(Arc::clone(self).run(sender, jwks_uri)));
        receiver
    }

    /// One fetch: discovery if needed, the JWKS, the swap, the outcome.
    async fn run(self: Arc<Self>, sender: watch::Sender<Outcome>, jwks_uri: Option<String>) {
        let guard = InFlight(&self);
        let outcome = self.fetch(jwks_uri).await;
        let now = self.clock.now();
        {
            let mut control = self.lock();
            control.in_flight = None;
            match &outcome {
                Ok((snapshot, uri)) => {
                    tracing::debug!(
                        issuer = %self.validation.issuer,
                        jwks_uri = %uri,
                        keys = snapshot.keys.jwks().keys.len(),
                        "fetched the issuer's keys"
                    );
                    control.jwks_uri = Some(uri.clone());
                    control.last_failure = None;
                    self.next_refresh_ms
                        .store(unix_ms(snapshot.refresh_at), Ordering::Relaxed);
                    *self.current.write().unwrap_or_else(PoisonError::into_inner) =
                        Some(snapshot.clone());
                }
                Err(error) => {
                    // Tokens keep verifying with the last good set until
                    // `max_stale`; after that they are refused with 503.
                    tracing::warn!(
                        issuer = %self.validation.issuer,
                        %error,
                        serving_stale = self.current().is_some_and(|s| now < s.usable_until),
                        "fetching the issuer's keys failed"
                    );
                    if self.discover {
                        // Rediscover next time: the JWKS may have moved.
                        control.jwks_uri = None;
                    }
                    control.last_failure = Some((now, error.clone()));
                    self.next_refresh_ms.store(
                        unix_ms(now + self.config.retry_after_failure),
                        Ordering::Relaxed,
                    );
                }
            }
        }
        std::mem::forget(guard);
        // Nobody may be waiting: that is fine.
        let _ = sender.send(Some(outcome.map(|(snapshot, _)| snapshot)));
    }

    async fn fetch(&self, jwks_uri: Option<String>) -> Result<(Arc<Snapshot>, String), Error> {
        let transport = self.transport.as_ref();
        let uri = match jwks_uri {
            Some(uri) => uri,
            None => discover(transport, &self.validation.issuer, &self.jwks_origins).await?,
        };
        let response = get_document(transport, &uri).await?;
        let invalid = |reason: String| Error::Fetch {
            url: uri.clone(),
            reason,
        };
        let jwks: Jwks = serde_json::from_slice(response.body())
            .map_err(|e| invalid(format!("JWKS is not valid: {e}")))?;
        let keys = KeySet::from_jwks(&jwks).map_err(|e| invalid(format!("JWKS: {e}")))?;
        if keys.algorithms().is_empty() {
            return Err(invalid("JWKS has no usable signature key".to_owned()));
        }
        let now = self.clock.now();
        let ttl = self.config.ttl(max_age(&response));
        let keys = Arc::new(keys);
        let snapshot = Snapshot {
            verifier: TokenVerifier::new(keys.clone(), self.validation.clone()),
            keys,
            refresh_at: now + ttl * 4 / 5,
            usable_until: now + ttl + self.config.max_stale.max(Duration::ZERO),
        };
        Ok((Arc::new(snapshot), uri))
    }

    async fn wait(mut receiver: watch::Receiver<Outcome>) -> Result<Arc<Snapshot>, Error> {
        let outcome = receiver
            .wait_for(Option::is_some)
            .await
            .map(|outcome| outcome.clone());
        match outcome {
            Ok(Some(result)) => result,
            _ => Err(Error::Fetch {
                url: String::new(),
                reason: "the fetch was abandoned (runtime shut down)".to_owned(),
            }),
        }
    }
}

/// Clears the in-flight marker if a fetch task is dropped before it ends
/// (runtime shut down), so later requests can start a new one.
struct InFlight<'a>(&'a Inner);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.lock().in_flight = None;
    }
}
