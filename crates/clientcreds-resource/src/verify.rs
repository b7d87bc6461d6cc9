//! What the layer and the extractor verify with: a local verifier, a
//! remote key set, or several issuers; and the opt-in live client check.

use std::fmt::Debug;
use std::future::{Future, ready};
use std::pin::Pin;

use clientcreds_jwt::{AccessContext, TokenVerifier, VerifyError};
use time::OffsetDateTime;

use crate::Error;

/// A boxed, sendable future, as the object-safe traits here return.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Turns a bearer token into an [`AccessContext`], or says why not.
///
/// Implemented by the local [`TokenVerifier`] (keys in this process), by
/// [`RemoteKeySet`](crate::RemoteKeySet) (one issuer's keys, fetched) and by
/// [`Issuers`](crate::Issuers) (an allow-list of issuers). All of them run
/// the same checks: those of [`TokenVerifier::verify_at`]. Object safe:
/// the layer holds an `Arc<dyn VerifyAccess>`.
pub trait VerifyAccess: Send + Sync + Debug + 'static {
    /// Verifies `token` as of `now`.
    ///
    /// # Errors
    /// [`Error::Token`] naming the failed check, or
    /// [`Error::KeysUnavailable`] when no usable keys could be had.
    fn verify_at<'a>(
        &'a self,
        token: &'a str,
        now: OffsetDateTime,
    ) -> BoxFuture<'a, Result<AccessContext, Error>>;
}

impl VerifyAccess for TokenVerifier {
    fn verify_at<'a>(
        &'a self,
        token: &'a str,
        now: OffsetDateTime,
    ) -> BoxFuture<'a, Result<AccessContext, Error>> {
        Box::pin(ready(
            TokenVerifier::verify_at(self, token, now).map_err(Error::Token),
        ))
    }
}

/// Opt-in: after a token verified, checks that its client is still live
/// (product D: deleting or revoking a client kills its live tokens).
///
/// The issuer's registry provides one (`clientcreds-registry`, feature
/// `resource`, implements it for its `LiveClientCheck`); this crate
/// defines only the contract, so it need not depend on the registry.
pub trait LiveCheck: Send + Sync + Debug + 'static {
    /// Succeeds when the client of the verified `context` is still live.
    ///
    /// # Errors
    /// [`VerifyError::ClientInactive`], or [`VerifyError::CheckUnavailable`]
    /// when it cannot tell (fail closed).
    fn check<'a>(&'a self, context: &'a AccessContext) -> BoxFuture<'a, Result<(), VerifyError>>;
}
