//! RFC 7662 token introspection: who may ask, and a fresh answer.

use clientcreds_jwt::{AccessContext, TokenVerifier};

use crate::live::{Liveness, read_liveness};
use crate::{
    AuthFailure, ClientCredentials, Error, Source, TokenError, TokenErrorCode, TokenService,
};

/// The token to introspect and who asks. `Debug` leaves the token out.
pub struct Introspection<'a> {
    /// The asking client's credentials (`None`: refused, RFC 7662 §2.1).
    pub credentials: Option<&'a ClientCredentials>,
    /// Where the request came from (see
    /// [`ExchangeRequest::source`](crate::ExchangeRequest::source)).
    pub source: Option<Source>,
    /// The token.
    pub token: &'a str,
}

impl std::fmt::Debug for Introspection<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Introspection")
            .field("credentials", &self.credentials)
            .field("source", &self.source)
            .field("token", &"[redacted]")
            .finish()
    }
}

impl TokenService {
    /// Introspects a token (RFC 7662) for an authenticated client.
    ///
    /// - The asking client must authenticate (else `invalid_client`, which
    ///   the HTTP binding sends as 401 with a challenge).
    /// - The token must verify with `verifier`'s keys, issuer and rules at
    ///   the registry's clock, for any audience: the issuer answers for
    ///   every audience it mints for (the default audience and every one a
    ///   client may be granted), not only for `verifier`'s own
    ///   ([`TokenVerifier::with_any_audience`]). The answer names the
    ///   token's `aud`; the resource server that asked checks it is its own.
    /// - The asking client must belong to the token's tenant, or be one of
    ///   [`Policy::cross_tenant_introspectors`](crate::Policy::cross_tenant_introspectors);
    ///   otherwise the token is reported inactive (RFC 7662 §2.2: the
    ///   server may say so to a client not allowed to know more).
    /// - The token's client and minting secret are read from the store now
    ///   (never a cached answer): a token of a revoked, deactivated,
    ///   deleted or rotated-out client or secret is inactive.
    ///
    /// `Ok(None)` is `{"active": false}`.
    ///
    /// # Errors
    /// `invalid_client` for missing or bad credentials, `slow_down` when
    /// throttled, `server_error` when the store cannot be read (the answer
    /// is never guessed).
    pub async fn introspect(
        &self,
        request: Introspection<'_>,
        verifier: &TokenVerifier,
    ) -> Result<Option<AccessContext>, TokenError> {
        let unauthenticated = TokenError {
            code: TokenErrorCode::InvalidClient,
            description: "client authentication failed",
        };
        let unavailable = TokenError {
            code: TokenErrorCode::ServerError,
            description: "the server could not process the request",
        };
        let Some(credentials) = request.credentials else {
            return Err(unauthenticated);
        };
        let registry = self.registry();
        let caller = match registry
            .authenticate_from(
                &credentials.client_id,
                &credentials.client_secret,
                request.source,
            )
            .await
        {
            Ok(caller) => caller,
            Err(Error::Authentication(AuthFailure::Throttled { retry_after })) => {
                return Err(TokenError::slow_down(retry_after));
            }
            Err(Error::Authentication(_)) => return Err(unauthenticated),
            Err(_) => return Err(unavailable),
        };
        let now = registry.now();
        let Ok(context) = verifier.with_any_audience().verify_at(request.token, now) else {
            return Ok(None);
        };
        let policy = registry.policy();
        if context.tenant() != Some(caller.tenant().as_str())
            && !policy
                .cross_tenant_introspectors
                .iter()
                .any(|id| id == caller.client_id())
        {
            return Ok(None);
        }
        match read_liveness(registry.store().as_ref(), &context, now).await {
            Ok(Liveness::Live) => Ok(Some(context)),
            Ok(Liveness::ClientGone | Liveness::SecretGone) => Ok(None),
            Err(()) => Err(unavailable),
        }
    }
}
