//! [`TokenSource`]: one cache entry (endpoint, client, scopes, audience),
//! its lock-free hit path, its single-flight refresh and its backoff.
//!
//! State per entry:
//! - `current`: the token (replicated per core, so that threads do not
//!   share one reference count) and the moment to refresh it, swapped
//!   atomically (`arc-swap`); the hit path only loads it;
//! - `flight`: an async mutex held for the whole of one refresh; whoever
//!   needs a token and has none valid waits on it, then re-checks;
//! - `refreshing`: set while a background early refresh is scheduled, so a
//!   thousand callers inside the margin start one;
//! - `retry_at_ms`: when the next attempt is allowed after a failure, read
//!   without the lock so the hit path does not schedule refreshes that the
//!   backoff would refuse.

use std::fmt;
use std::hash::BuildHasher as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use arc_swap::ArcSwapOption;
use tracing::Instrument as _;
use zeroize::Zeroize as _;

use crate::assertion::{Credential, Proof};
use crate::client::ClientInner;
use crate::{AccessToken, CacheKey, Error, TokenRequest, protocol};

/// A token for one scope set and audience of one [`TokenClient`](crate::TokenClient).
///
/// Cheap to clone; clones share the entry. [`TokenSource::token`] is the
/// call to make before every request.
#[derive(Clone)]
pub struct TokenSource {
    pub(crate) client: Arc<ClientInner>,
    slot: Arc<Slot>,
}

pub(crate) struct Slot {
    key: CacheKey,
    request: TokenRequest,
    current: ArcSwapOption<Entry>,
    refreshing: AtomicBool,
    retry_at_ms: AtomicU64,
    flight: tokio::sync::Mutex<Failures>,
}

struct Entry {
    token: AccessToken,
    /// Replicas of `token` for threads other than shard 0.
    replicas: Box<[AccessToken]>,
    refresh_at: SystemTime,
}

impl Entry {
    fn new(token: AccessToken, refresh_at: SystemTime) -> Self {
        let replicas = (1..shard_count()).map(|_| token.replicate()).collect();
        Self {
            token,
            replicas,
            refresh_at,
        }
    }

    /// This thread's replica of the token.
    fn local(&self) -> &AccessToken {
        match shard().checked_sub(1) {
            Some(i) => self.replicas.get(i).unwrap_or(&self.token),
            None => &self.token,
        }
    }
}

/// One replica per core, up to 16.
fn shard_count() -> usize {
    static COUNT: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    *COUNT.get_or_init(|| {
        std::thread::available_parallelism()
            .map_or(4, std::num::NonZeroUsize::get)
            .clamp(1, 16)
    })
}

/// This thread's replica index, assigned round-robin at its first call.
fn shard() -> usize {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    thread_local! {
        static SHARD: u64 = NEXT.fetch_add(1, Ordering::Relaxed);
    }
    let index = SHARD.with(|shard| *shard) % shard_count() as u64;
    usize::try_from(index).unwrap_or(0)
}

#[derive(Default)]
struct Failures {
    consecutive: u32,
    last: Option<(Error, SystemTime)>,
}

#[derive(Debug, Clone, Copy)]
enum Reason {
    Empty,
    Expired,
    Early,
}

impl Reason {
    fn as_str(self) -> &'static str {
        match self {
            Self::Empty => "empty",
            Self::Expired => "expired",
            Self::Early => "early",
        }
    }
}

impl Slot {
    pub(crate) fn new(key: CacheKey, request: TokenRequest) -> Self {
        Self {
            key,
            request,
            current: ArcSwapOption::empty(),
            refreshing: AtomicBool::new(false),
            retry_at_ms: AtomicU64::new(0),
            flight: tokio::sync::Mutex::new(Failures::default()),
        }
    }
}

impl TokenSource {
    pub(crate) fn new(client: Arc<ClientInner>, slot: Arc<Slot>) -> Self {
        Self { client, slot }
    }

    /// The access token to send now.
    ///
    /// - A cached token with more than the refresh margin left is returned
    ///   at once (no lock, no I/O).
    /// - Inside the margin, the cached token is still returned at once, and
    ///   one background refresh starts (on the current tokio runtime; without
    ///   one, this call refreshes and waits).
    /// - With no valid token, the call waits for the one refresh in flight,
    ///   or starts it.
    ///
    /// # Errors
    ///
    /// Only when no valid token is cached: [`Error::Network`],
    /// [`Error::Status`], [`Error::OAuth`] or [`Error::InvalidResponse`] from
    /// this call's refresh, or [`Error::BackingOff`] (carrying that cause)
    /// while the backoff or the negative cache holds the next attempt.
    pub async fn token(&self) -> Result<AccessToken, Error> {
        let now = self.client.clock.now();
        let state = match &*self.slot.current.load() {
            Some(entry) if now < entry.refresh_at => return Ok(entry.local().clone()),
            Some(entry) if now < entry.token.expires_at() => Ok(entry.local().clone()),
            Some(_) => Err(Reason::Expired),
            None => Err(Reason::Empty),
        };
        match state {
            Ok(still_valid) => {
                self.refresh_in_background(now).await;
                Ok(still_valid)
            }
            Err(reason) => self.refresh_and_wait(reason).await,
        }
    }

    /// Drops `rejected` (an API answered 401 `invalid_token` to it) from
    /// this source and the shared cache, so that the next
    /// [`TokenSource::token`] fetches a new one. A newer token is left
    /// alone: a burst of 401s for one token causes one refresh.
    pub async fn invalidate(&self, rejected: &AccessToken) {
        {
            let current = self.slot.current.load();
            if current
                .as_ref()
                .is_some_and(|entry| entry.token.same_token(rejected))
            {
                let _previous = self.slot.current.compare_and_swap(&*current, None);
                tracing::debug!(client_id = %self.client.client_id, "token invalidated");
            }
        }
        if let Err(error) = self.client.cache.remove(&self.slot.key, rejected).await {
            tracing::warn!(%error, "shared token cache: remove failed");
        }
    }

    /// The cache key of this source.
    #[must_use]
    pub fn key(&self) -> &CacheKey {
        &self.slot.key
    }

    /// The scopes and audience this source asks for.
    #[must_use]
    pub fn request(&self) -> &TokenRequest {
        &self.slot.request
    }

    async fn refresh_in_background(&self, now: SystemTime) {
        // Plain loads first: callers inside the margin while a refresh runs
        // do not write to the shared flag.
        if millis(now) < self.slot.retry_at_ms.load(Ordering::Acquire)
            || self.slot.refreshing.load(Ordering::Acquire)
            || self
                .slot
                .refreshing
                .compare_exchange(false, true, Ordering::AcqRel, Ordering::Acquire)
                .is_err()
        {
            return;
        }
        let this = self.clone();
        let task = async move {
            let _reset = ResetOnDrop(&this.slot.refreshing);
            this.refresh_early().await;
        };
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => drop(runtime.spawn(task)),
            Err(_) => task.await,
        }
    }

    async fn refresh_early(&self) {
        let mut failures = self.slot.flight.lock().await;
        let now = self.client.clock.now();
        if self
            .slot
            .current
            .load()
            .as_ref()
            .is_some_and(|entry| now < entry.refresh_at)
        {
            return;
        }
        if failures.last.as_ref().is_some_and(|(_, at)| now < *at) {
            return;
        }
        // A failure is recorded and logged; callers keep the valid token.
        let _ignored = self.refresh_locked(&mut failures, Reason::Early).await;
    }

    async fn refresh_and_wait(&self, reason: Reason) -> Result<AccessToken, Error> {
        let mut failures = self.slot.flight.lock().await;
        let now = self.client.clock.now();
        if let Some(entry) = &*self.slot.current.load()
            && now < entry.token.expires_at()
        {
            // Someone refreshed while we waited.
            return Ok(entry.token.clone());
        }
        if let Some((cause, at)) = &failures.last
            && now < *at
        {
            return Err(Error::BackingOff {
                cause: Box::new(cause.clone()),
                retry_in: at.duration_since(now).unwrap_or_default(),
            });
        }
        self.refresh_locked(&mut failures, reason).await
    }

    /// One refresh, with the flight lock held: the shared cache first, then
    /// the token endpoint.
    async fn refresh_locked(
        &self,
        failures: &mut Failures,
        reason: Reason,
    ) -> Result<AccessToken, Error> {
        let client = &*self.client;
        let span = tracing::info_span!(
            "token_refresh",
            token_endpoint = %client.endpoint_text,
            client_id = %client.client_id,
            auth = client.credential.method_name(client.auth),
            dpop_jkt = client.dpop_thumbprint().unwrap_or(""),
            scope = self.slot.request.scope_param().as_deref().unwrap_or(""),
            audience = self.slot.request.audience_param().unwrap_or(""),
            reason = reason.as_str(),
        );
        async move {
            let current = self.slot.current.load_full();
            match client.cache.get(&self.slot.key).await {
                Ok(Some(shared))
                    if !current
                        .as_ref()
                        .is_some_and(|entry| entry.token.same_token(&shared)) =>
                {
                    let now = client.clock.now();
                    let refresh_at = self.refresh_at(&shared, now);
                    if now < refresh_at {
                        tracing::debug!("token taken from the shared cache");
                        self.install(failures, shared.clone(), refresh_at);
                        return Ok(shared);
                    }
                }
                Ok(_) => {}
                Err(error) => tracing::warn!(%error, "shared token cache: get failed"),
            }
            match self.fetch().await {
                Ok(token) => {
                    let now = client.clock.now();
                    let refresh_at = self.refresh_at(&token, now);
                    tracing::debug!(
                        expires_in_secs = token
                            .expires_at()
                            .duration_since(now)
                            .unwrap_or_default()
                            .as_secs(),
                        "token refreshed"
                    );
                    self.install(failures, token.clone(), refresh_at);
                    if let Err(error) = client.cache.put(&self.slot.key, &token).await {
                        tracing::warn!(%error, "shared token cache: put failed");
                    }
                    Ok(token)
                }
                Err(error) => {
                    failures.consecutive = failures.consecutive.saturating_add(1);
                    let delay = if error.is_credentials_rejected() {
                        client.policy.negative_ttl
                    } else {
                        let base = client.policy.backoff_initial.saturating_mul(
                            1u32.checked_shl(failures.consecutive.saturating_sub(1).min(20))
                                .unwrap_or(u32::MAX),
                        );
                        let capped = base.min(client.policy.backoff_max);
                        // Equal jitter: between half and all of the delay.
                        capped / 2 + capped.mul_f64(random_fraction() / 2.0)
                    };
                    let retry_at = client.clock.now() + delay;
                    tracing::warn!(
                        %error,
                        consecutive_failures = failures.consecutive,
                        retry_in_ms = delay.as_millis() as u64,
                        "token refresh failed"
                    );
                    failures.last = Some((error.clone(), retry_at));
                    self.slot
                        .retry_at_ms
                        .store(millis(retry_at), Ordering::Release);
                    Err(error)
                }
            }
        }
        .instrument(span)
        .await
    }

    async fn fetch(&self) -> Result<AccessToken, Error> {
        // RFC 9449 §8: an authorization server that wants a nonce answers
        // 400 `use_dpop_nonce` with a `DPoP-Nonce` header; the request is
        // made again, once, with a new client credential and a new proof
        // carrying that nonce. Never twice.
        let mut nonce_sent = false;
        match self.send_token_request(&mut nonce_sent).await {
            Err(error)
                if nonce_sent
                    && error.oauth_code() == Some(&crate::OAuthErrorCode::UseDpopNonce) =>
            {
                tracing::debug!("use_dpop_nonce; retrying once with the server's nonce");
                self.send_token_request(&mut nonce_sent).await
            }
            other => other,
        }
    }

    /// One token request. `nonce_sent` is set when the response carried a
    /// `DPoP-Nonce` (now remembered for the endpoint's origin).
    async fn send_token_request(&self, nonce_sent: &mut bool) -> Result<AccessToken, Error> {
        let client = &*self.client;
        let proof = match &client.credential {
            Credential::Secret(secret) => Proof::Secret(secret, client.auth),
            #[cfg(feature = "private-key-jwt")]
            Credential::Key(key) => Proof::Assertion(key.sign(
                &client.client_id,
                &client.assertion_audience,
                client.clock.now(),
            )?),
            Credential::Assertion(source) => Proof::Assertion(source.assertion().await?),
        };
        #[allow(unused_mut)]
        let mut request = protocol::token_request(
            &client.endpoint,
            &client.client_id,
            &proof,
            &self.slot.request,
        )?;
        drop(proof);
        #[cfg(feature = "dpop")]
        if let Some(dpop) = &client.dpop {
            let value = dpop.proof_for("POST", &client.endpoint_text, None, client.clock.now())?;
            request.headers_mut().insert(crate::dpop::DPOP, value);
        }
        let mut response = client.transport.send(request).await?;
        #[cfg(feature = "dpop")]
        if let Some(dpop) = &client.dpop {
            *nonce_sent = dpop.observe(&client.endpoint_text, response.headers());
        }
        #[cfg(not(feature = "dpop"))]
        let _ = nonce_sent;
        let parsed = protocol::token_response(
            &response,
            client.clock.now(),
            client.policy.default_lifetime,
            self.expect(),
        );
        response.body_mut().zeroize();
        parsed
    }

    /// The `token_type` the token endpoint may answer.
    fn expect(&self) -> protocol::Expect {
        #[cfg(feature = "dpop")]
        if let Some(dpop) = &self.client.dpop {
            return protocol::Expect::Dpop {
                allow_bearer: dpop.allow_bearer,
            };
        }
        protocol::Expect::Bearer
    }

    fn install(&self, failures: &mut Failures, token: AccessToken, refresh_at: SystemTime) {
        *failures = Failures::default();
        self.slot.retry_at_ms.store(0, Ordering::Release);
        self.slot
            .current
            .store(Some(Arc::new(Entry::new(token, refresh_at))));
    }

    /// Expiry less the margin and a random part of the jitter; at most half
    /// the remaining life before expiry, so a short-lived token is not
    /// refreshed on every call.
    fn refresh_at(&self, token: &AccessToken, now: SystemTime) -> SystemTime {
        let policy = &self.client.policy;
        let life = token.expires_at().duration_since(now).unwrap_or_default();
        let early = (policy.margin + policy.jitter.mul_f64(random_fraction())).min(life / 2);
        token.expires_at() - early
    }
}

impl fmt::Debug for TokenSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenSource")
            .field("key", &self.slot.key)
            .field("cached", &self.slot.current.load().is_some())
            .finish_non_exhaustive()
    }
}

struct ResetOnDrop<'a>(&'a AtomicBool);

impl Drop for ResetOnDrop<'_> {
    fn drop(&mut self) {
        self.0.store(false, Ordering::Release);
    }
}

fn millis(at: SystemTime) -> u64 {
    u64::try_from(
        at.duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_millis(),
    )
    .unwrap_or(u64::MAX)
}

/// A number in `[0, 1)` for jitter: not cryptographic, just different per
/// call and per process (std's randomly keyed hasher).
fn random_fraction() -> f64 {
    let bits = std::collections::hash_map::RandomState::new().hash_one(Duration::ZERO);
    (bits >> 11) as f64 / (1u64 << 53) as f64
}
