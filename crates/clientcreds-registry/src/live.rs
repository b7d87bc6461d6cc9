//! The opt-in live check of a token's client and of the secret that
//! minted it.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};

use clientcreds_jwt::{AccessContext, TokenVerifier, VerifyError};
use clientcreds_store::{ClientRecord, EffectiveStatus, Store, TenantId};
use time::{Duration, OffsetDateTime};

use crate::Clock;

/// Most tokens' answers a [`LiveClientCheck`] remembers before it starts
/// afresh (bounded memory whatever the traffic).
const MAX_CACHED: usize = 100_000;

/// The default [`LiveClientCheck::with_max_stale`]: how long an earlier
/// answer may stand in while the store cannot be read.
pub const DEFAULT_MAX_STALE: Duration = Duration::minutes(5);

/// What the store says about a token's client and secret.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Liveness {
    /// The client is active (or expiring) and the secret still usable.
    Live,
    /// The client is revoked, inactive, deleted, expired or past its grace.
    ClientGone,
    /// The client is live but the secret that minted the token is revoked,
    /// rotated out past its grace window, expired or gone.
    SecretGone,
}

impl Liveness {
    /// Judges a token's client and minting secret as of `now`.
    pub(crate) fn of(
        record: Option<&ClientRecord>,
        secret_id: Option<&str>,
        now: OffsetDateTime,
    ) -> Self {
        let Some(record) = record else {
            return Self::ClientGone;
        };
        if !matches!(
            record.effective_status(now),
            EffectiveStatus::Active | EffectiveStatus::Expiring { .. }
        ) {
            return Self::ClientGone;
        }
        match secret_id {
            // A token minted before secrets were named: the client decides.
            None => Self::Live,
            Some(id) => match record.secret(id) {
                Some(secret) if secret.state(now).is_usable() => Self::Live,
                _ => Self::SecretGone,
            },
        }
    }

    /// The check's answer.
    pub(crate) fn result(self) -> Result<(), VerifyError> {
        match self {
            Self::Live => Ok(()),
            Self::ClientGone => Err(VerifyError::ClientInactive),
            Self::SecretGone => Err(VerifyError::SecretInactive),
        }
    }
}

/// Opt-in: refuses tokens whose client has since been revoked, deactivated,
/// deleted or rotated out past its grace window (product D: deleting a
/// client revokes its tokens), and tokens whose minting secret (named by
/// the token's [`SECRET_ID_CLAIM`](clientcreds_jwt::SECRET_ID_CLAIM)) has
/// been revoked, rotated out or has expired: rotating a leaked secret
/// without a grace window kills the tokens it minted.
///
/// Answers are cached per token's client and secret for `ttl`, so the
/// check costs a map lookup on most requests, and a change takes at most
/// `ttl` to bite. Off unless the host wires it in.
///
/// When the store fails, an earlier answer younger than
/// [`max_stale`](LiveClientCheck::with_max_stale) (default
/// [`DEFAULT_MAX_STALE`]) stands in; without one, the token is refused
/// with [`VerifyError::CheckUnavailable`]: it fails closed.
pub struct LiveClientCheck {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    ttl: Duration,
    max_stale: Duration,
    cache: Mutex<HashMap<CacheKey, (OffsetDateTime, Liveness)>>,
}

/// Tenant, client id and minting secret id of a token.
type CacheKey = (Option<String>, String, Option<String>);

impl fmt::Debug for LiveClientCheck {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LiveClientCheck")
            .field("ttl", &self.ttl)
            .field("max_stale", &self.max_stale)
            .finish_non_exhaustive()
    }
}

impl LiveClientCheck {
    /// A check over `store`, caching each answer for `ttl` by `clock`.
    #[must_use]
    pub fn new(store: Arc<dyn Store>, clock: Arc<dyn Clock>, ttl: Duration) -> Self {
        Self {
            store,
            clock,
            ttl,
            max_stale: DEFAULT_MAX_STALE.max(ttl),
            cache: Mutex::new(HashMap::new()),
        }
    }

    /// Sets how old an earlier answer may be and still stand in while the
    /// store cannot be read (at least `ttl`); past it, tokens are refused.
    #[must_use]
    pub fn with_max_stale(mut self, max_stale: Duration) -> Self {
        self.max_stale = max_stale.max(self.ttl);
        self
    }

    /// Verifies `token` with `verifier`, then checks its client is live.
    ///
    /// # Errors
    /// The verifier's [`VerifyError`], or [`VerifyError::ClientInactive`],
    /// [`VerifyError::SecretInactive`], [`VerifyError::CheckUnavailable`].
    pub async fn verify(
        &self,
        verifier: &TokenVerifier,
        token: &str,
    ) -> Result<AccessContext, VerifyError> {
        let context = verifier.verify_at(token, self.clock.now())?;
        self.check(&context).await?;
        Ok(context)
    }

    /// Checks that the client and the minting secret of a verified token
    /// are still live, from the cache when its answer is younger than `ttl`.
    ///
    /// # Errors
    /// [`VerifyError::ClientInactive`], [`VerifyError::SecretInactive`] or
    /// [`VerifyError::CheckUnavailable`].
    pub async fn check(&self, context: &AccessContext) -> Result<(), VerifyError> {
        let now = self.clock.now();
        let key = (
            context.tenant.clone(),
            context.client_id.clone(),
            context.secret_id.clone(),
        );
        let cached = self
            .cache
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&key)
            .copied();
        if let Some((_, liveness)) = cached.filter(|(at, _)| now - *at < self.ttl) {
            return liveness.result();
        }
        let read = read_liveness(self.store.as_ref(), context, now).await;
        let liveness = match (read, cached) {
            (Ok(liveness), _) => liveness,
            // The store is down: an answer of bounded age stands in.
            (Err(()), Some((at, liveness))) if now - at < self.max_stale => {
                return liveness.result();
            }
            (Err(()), _) => return Err(VerifyError::CheckUnavailable),
        };
        {
            let mut cache = self.cache.lock().unwrap_or_else(PoisonError::into_inner);
            if cache.len() >= MAX_CACHED {
                cache.clear();
            }
            cache.insert(key, (now, liveness));
        }
        liveness.result()
    }

    /// Checks against the store now, never from the cache (introspection
    /// uses this: its answer must not be stale).
    ///
    /// # Errors
    /// As [`LiveClientCheck::check`]; a store failure is always
    /// [`VerifyError::CheckUnavailable`].
    pub async fn check_fresh(&self, context: &AccessContext) -> Result<(), VerifyError> {
        let now = self.clock.now();
        read_liveness(self.store.as_ref(), context, now)
            .await
            .map_err(|()| VerifyError::CheckUnavailable)?
            .result()
    }
}

/// Reads a token's client from `store` and judges it as of `now`.
pub(crate) async fn read_liveness(
    store: &dyn Store,
    context: &AccessContext,
    now: OffsetDateTime,
) -> Result<Liveness, ()> {
    // A token without a tenant was not minted by a registry: no client of
    // ours stands behind it.
    let Some(Ok(tenant)) = context.tenant.clone().map(TenantId::new) else {
        return Ok(Liveness::ClientGone);
    };
    let record = store
        .client(&tenant, &context.client_id)
        .await
        .map_err(|_| ())?;
    Ok(Liveness::of(
        record.as_ref(),
        context.secret_id.as_deref(),
        now,
    ))
}
