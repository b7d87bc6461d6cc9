//! The client-credentials token exchange (RFC 6749 §4.4).

use std::fmt;
use std::sync::Arc;

use clientcreds_jwt::{AccessToken, TokenClaims, TokenIssuer};
use clientcreds_secret::Secret;
use clientcreds_store::{
    ActivityCount, ActivityEvent, ActivityKind, CountedOutcome, StoreError, TenantId,
};
use time::{Duration, OffsetDateTime};

use crate::ClientAssertion;
use crate::denials::DenialRows;
use crate::dpop::{DpopConfig, DpopProof, DpopRefusal};
use crate::{
    AuthFailure, AuthenticatedClient, DefaultScope, Error, LiveClientCheck, RefusalCounts,
    Registry, Source,
};

/// The only grant type served.
pub const CLIENT_CREDENTIALS: &str = "client_credentials";
/// Longest client id copied into the activity log from a refused request.
const MAX_LOGGED_CLIENT_ID: usize = 128;

/// A client id and secret as presented (from HTTP Basic or the form body).
pub struct ClientCredentials {
    /// The client id.
    pub client_id: String,
    /// The secret.
    pub client_secret: Secret,
}

impl fmt::Debug for ClientCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientCredentials")
            .field("client_id", &self.client_id)
            .field("client_secret", &self.client_secret)
            .finish()
    }
}

/// A token request as the issuer receives it, already parsed from HTTP:
/// what [`TokenService::exchange`] trades for a token. (The caller's side
/// of a token request is `clientcreds_client::TokenRequest`.)
#[derive(Debug, Default)]
#[non_exhaustive]
pub struct ExchangeRequest {
    /// `grant_type`.
    pub grant_type: Option<String>,
    /// The client's credentials; `None` when the request carried none.
    pub credentials: Option<ClientCredentials>,
    /// A client assertion (`private_key_jwt` or a federated token),
    /// instead of `credentials`.
    pub assertion: Option<ClientAssertion>,
    /// The `DPoP` header's proof (RFC 9449), when sent.
    pub dpop_proof: Option<DpopProof>,
    /// `scope`: space-delimited.
    pub scope: Option<String>,
    /// `audience` (as in RFC 8693).
    pub audience: Option<String>,
    /// `resource` parameters (RFC 8707).
    pub resources: Vec<String>,
    /// Where the request came from (the peer address, or the client
    /// address a trusted proxy vouches for; [`Source::shared`] when the
    /// host cannot see past a proxy): the key of the registry's
    /// [`AuthThrottle`](crate::AuthThrottle). `None` disables throttling
    /// for this request.
    pub source: Option<Source>,
}

/// The former name of [`ExchangeRequest`], which clashed with the caller's
/// `clientcreds_client::TokenRequest` in the `clientcreds` facade.
#[deprecated(since = "0.1.0", note = "renamed `ExchangeRequest`")]
pub type TokenRequest = ExchangeRequest;

impl ExchangeRequest {
    /// A `client_credentials` request with these credentials.
    #[must_use]
    pub fn client_credentials(client_id: impl Into<String>, client_secret: Secret) -> Self {
        Self {
            grant_type: Some(CLIENT_CREDENTIALS.to_owned()),
            credentials: Some(ClientCredentials {
                client_id: client_id.into(),
                client_secret,
            }),
            ..Self::default()
        }
    }

    /// A `client_credentials` request authenticated by `assertion`.
    #[must_use]
    pub fn with_assertion(assertion: ClientAssertion) -> Self {
        Self {
            grant_type: Some(CLIENT_CREDENTIALS.to_owned()),
            assertion: Some(assertion),
            ..Self::default()
        }
    }

    /// Asks for `scope` (space-delimited).
    #[must_use]
    pub fn with_scope(mut self, scope: impl Into<String>) -> Self {
        self.scope = Some(scope.into());
        self
    }

    /// Asks for a token for `audience`.
    #[must_use]
    pub fn with_audience(mut self, audience: impl Into<String>) -> Self {
        self.audience = Some(audience.into());
        self
    }

    /// Says where the request came from (see [`ExchangeRequest::source`]):
    /// an `IpAddr` is the caller's own address.
    #[must_use]
    pub fn with_source(mut self, source: impl Into<Source>) -> Self {
        self.source = Some(source.into());
        self
    }
}

/// A successful token response (RFC 6749 §5.1). There is never a refresh
/// token. The access token is redacted in `Debug`.
#[derive(Debug, Clone)]
pub struct TokenResponse {
    /// The token.
    pub access_token: AccessToken,
    /// Always `Bearer`.
    pub token_type: &'static str,
    /// Lifetime in seconds.
    pub expires_in: u64,
    /// Granted scope, space-delimited.
    pub scope: String,
    /// The token's `jti`, for the host's logs.
    pub jti: String,
}

impl TokenResponse {
    /// The JSON body of the response. This is the one place the token is
    /// written out; send it with `Cache-Control: no-store`.
    #[must_use]
    pub fn to_json(&self) -> String {
        /// The body's fields, borrowed: written straight into one buffer
        /// (no intermediate JSON value; the hot path of every token).
        #[derive(serde::Serialize)]
        struct Body<'a> {
            access_token: &'a str,
            expires_in: u64,
            scope: &'a str,
            token_type: &'a str,
        }
        let token = self.access_token.expose();
        let body = Body {
            access_token: token,
            expires_in: self.expires_in,
            scope: &self.scope,
            token_type: self.token_type,
        };
        json_body(&body, token.len() + self.scope.len() + 80)
    }
}

/// `body` as JSON in one buffer of `capacity` (no intermediate value).
/// Strings and integers always serialize, and `serde_json` writes UTF-8:
/// neither fallback is reachable.
fn json_body(body: &impl serde::Serialize, capacity: usize) -> String {
    let mut out = Vec::with_capacity(capacity);
    if serde_json::to_writer(&mut out, body).is_err() {
        return String::new();
    }
    String::from_utf8(out).unwrap_or_default()
}

/// An RFC 6749 §5.2 error code (plus RFC 8707's `invalid_target` and the
/// generic `server_error`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TokenErrorCode {
    /// A parameter is missing, repeated or malformed.
    InvalidRequest,
    /// Client authentication failed (whatever the reason).
    InvalidClient,
    /// The grant is invalid.
    InvalidGrant,
    /// The client may not use this grant.
    UnauthorizedClient,
    /// The grant type is not `client_credentials`.
    UnsupportedGrantType,
    /// A requested scope is not allowed for the client.
    InvalidScope,
    /// A requested audience or resource is not allowed for the client.
    InvalidTarget,
    /// The server failed (store down, misconfiguration).
    ServerError,
    /// A DPoP proof is missing where required, malformed, or fails a check
    /// (RFC 9449 §5).
    InvalidDpopProof,
    /// The proof lacks this server's current nonce: retry with the one in
    /// the `DPoP-Nonce` header (RFC 9449 §8; see
    /// [`TokenService::dpop_nonce`]).
    UseDpopNonce,
    /// Too many failed attempts from this source: wait `retry_after_secs`
    /// (`slow_down`, from the IANA OAuth extensions error registry; sent
    /// as 429 with `Retry-After`).
    SlowDown {
        /// Seconds to wait.
        retry_after_secs: u32,
    },
}

impl TokenErrorCode {
    /// The code as sent in the `error` member.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::InvalidRequest => "invalid_request",
            Self::InvalidClient => "invalid_client",
            Self::InvalidGrant => "invalid_grant",
            Self::UnauthorizedClient => "unauthorized_client",
            Self::UnsupportedGrantType => "unsupported_grant_type",
            Self::InvalidScope => "invalid_scope",
            Self::InvalidTarget => "invalid_target",
            Self::ServerError => "server_error",
            Self::SlowDown { .. } => "slow_down",
            Self::InvalidDpopProof => "invalid_dpop_proof",
            Self::UseDpopNonce => "use_dpop_nonce",
        }
    }
}

/// A refused token request: an RFC code and a description safe to send
/// (it never says whether a client id exists).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}: {description}", code.as_str())]
pub struct TokenError {
    /// The code.
    pub code: TokenErrorCode,
    /// `error_description`.
    pub description: &'static str,
}

impl TokenError {
    const fn new(code: TokenErrorCode, description: &'static str) -> Self {
        Self { code, description }
    }

    /// `slow_down`, telling the caller to wait `retry_after` (at least a
    /// second).
    pub(crate) fn slow_down(retry_after: Duration) -> Self {
        let retry_after_secs =
            u32::try_from(retry_after.whole_seconds().max(1)).unwrap_or(u32::MAX);
        Self::new(
            TokenErrorCode::SlowDown { retry_after_secs },
            "too many failed attempts; retry later",
        )
    }

    /// The JSON body of the error response.
    #[must_use]
    pub fn to_json(&self) -> String {
        #[derive(serde::Serialize)]
        struct Body<'a> {
            error: &'a str,
            error_description: &'a str,
        }
        let body = Body {
            error: self.code.as_str(),
            error_description: self.description,
        };
        json_body(&body, self.description.len() + 64)
    }
}

/// The token endpoint's logic: authenticates the client with the
/// [`Registry`], checks grant, scope and audience, mints with a
/// [`TokenIssuer`], and writes the activity log.
///
/// ```
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// use std::sync::Arc;
/// use clientcreds_jwt::{Algorithm, KeySet, SigningKey, TokenIssuer};
/// use clientcreds_registry::{Actor, NewClient, Policy, Registry, ExchangeRequest, TokenService};
/// use clientcreds_secret::{PepperKey, SecretHasher};
/// use clientcreds_store::{MemoryStore, TenantId};
///
/// let hasher = SecretHasher::hmac_sha256(PepperKey::new("k1", &[7; 32])?)?;
/// let registry = Arc::new(Registry::new(Arc::new(MemoryStore::new()), hasher, Policy::default())?);
/// let keys = Arc::new(KeySet::new(SigningKey::generate(Algorithm::EdDSA)?));
/// let tokens = TokenService::new(registry.clone(), TokenIssuer::new(keys, "https://auth.example.com"), "https://api.example.com");
///
/// let tenant = TenantId::new("acme")?;
/// let issued = registry.create(&Actor::System, &tenant, NewClient::named("svc").with_scopes(["read", "write"])).await?;
/// let creds = issued.credentials;
/// let response = tokens.exchange(ExchangeRequest::client_credentials(creds.client_id, creds.client_secret).with_scope("read")).await?;
/// assert_eq!((response.token_type, response.expires_in, response.scope.as_str()), ("Bearer", 3600, "read"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// # }).unwrap();
/// ```
#[derive(Debug, Clone)]
pub struct TokenService {
    registry: Arc<Registry>,
    issuer: TokenIssuer,
    default_audience: String,
    unauthenticated: Arc<RefusalCounts>,
    denials: Arc<DenialRows>,
    dpop: Option<Arc<DpopConfig>>,
}

impl TokenService {
    /// Accepts DPoP proofs (RFC 9449) as `config` says: a request with a
    /// valid proof gets a token bound to the proof's key (`cnf.jkt`,
    /// `token_type: DPoP`); a client registered with
    /// `dpop_bound_access_tokens` (or every client, with
    /// [`DpopConfig::required`]) must send one.
    #[must_use]
    pub fn with_dpop(mut self, config: DpopConfig) -> Self {
        self.dpop = Some(Arc::new(config));
        self
    }

    /// The DPoP configuration, if any.
    #[must_use]
    pub fn dpop(&self) -> Option<&DpopConfig> {
        self.dpop.as_deref()
    }

    /// The server nonce to send in a `DPoP-Nonce` header now (with a
    /// `use_dpop_nonce` error, or on any response), when nonces are on.
    #[must_use]
    pub fn dpop_nonce(&self) -> Option<String> {
        self.dpop
            .as_ref()
            .and_then(|d| d.nonce(self.registry.now()))
    }

    /// Tokens for `registry`'s clients, signed by `issuer`, for
    /// `default_audience` when neither the request nor the client names one.
    #[must_use]
    pub fn new(
        registry: Arc<Registry>,
        issuer: TokenIssuer,
        default_audience: impl Into<String>,
    ) -> Self {
        Self {
            registry,
            issuer,
            default_audience: default_audience.into(),
            unauthenticated: Arc::default(),
            denials: Arc::default(),
            dpop: None,
        }
    }

    /// Requests refused before any client was authenticated, counted by
    /// reason (they are not written to the activity log).
    #[must_use]
    pub fn unauthenticated_refusals(&self) -> &Arc<RefusalCounts> {
        &self.unauthenticated
    }

    /// Denials of an authenticated client (or of one whose secret matched
    /// but may not authenticate) whose activity row was not written, by
    /// reason: at most one row per client id and reason is written per
    /// [`DENIAL_ROW_INTERVAL`](crate::DENIAL_ROW_INTERVAL).
    #[must_use]
    pub fn suppressed_denials(&self) -> &Arc<RefusalCounts> {
        self.denials.suppressed()
    }

    /// The registry.
    #[must_use]
    pub fn registry(&self) -> &Arc<Registry> {
        &self.registry
    }

    /// The issuer.
    #[must_use]
    pub fn issuer(&self) -> &TokenIssuer {
        &self.issuer
    }

    /// The audience of tokens whose request and client name none.
    #[must_use]
    pub fn default_audience(&self) -> &str {
        &self.default_audience
    }

    /// Exchanges client credentials for an access token.
    ///
    /// # Errors
    /// A [`TokenError`] with the RFC 6749 §5.2 code; every authentication
    /// failure is the same `invalid_client`.
    pub async fn exchange(&self, request: ExchangeRequest) -> Result<TokenResponse, TokenError> {
        // One instant for the token's `iat` and its activity entry.
        let now = self.registry.now();
        let outcome = self.exchange_inner(&request, now).await;
        // Formatted only where it is counted: never for the refusals that
        // authenticated no client (floods, which must stay cheapest).
        let source = || request.source.map(|s| s.address().to_string());
        let store = self.registry.store();
        // Advisory: the activity log never decides a token. Issuance is
        // counted (per client, secret, source and minute), never stored
        // one row per token.
        let (client, response) = match outcome {
            Ok(issued) => issued,
            // No client authenticated: counted in memory, not stored (no
            // tenant could read it, and a flood of them must not be a
            // flood of writes).
            Err((None, reason, error)) => {
                self.unauthenticated.count(reason);
                return Err(error);
            }
            Err((Some(tenant), reason, error)) => {
                let presented = request.credentials.as_ref().map_or_else(
                    || {
                        request
                            .assertion
                            .as_ref()
                            .and_then(|a| a.client_id.as_deref())
                            .unwrap_or("")
                    },
                    |c| c.client_id.as_str(),
                );
                let client_id = truncate(presented, MAX_LOGGED_CLIENT_ID);
                // One row per client and reason per interval: a dead
                // secret replayed in a loop must not fill the log; every
                // refusal is counted.
                if self.denials.admit(presented, reason, now) {
                    let _ = store
                        .record_activity(ActivityEvent {
                            at: now,
                            tenant: Some(tenant.clone()),
                            client_id: client_id.clone(),
                            kind: ActivityKind::TokenDenied {
                                reason: reason.to_owned(),
                            },
                        })
                        .await;
                }
                let count = ActivityCount {
                    tenant,
                    client_id,
                    secret_id: None,
                    source: source(),
                    minute: ActivityCount::minute_of(now),
                    outcome: CountedOutcome::Denied {
                        reason: reason.to_owned(),
                    },
                    count: 1,
                };
                let _ = store.add_activity_counts(vec![count]).await;
                return Err(error);
            }
        };
        let count = ActivityCount {
            tenant: client.tenant().clone(),
            client_id: client.client_id().to_owned(),
            // A key from jwks_uri or a federated credential has no id here.
            secret_id: Some(client.secret_id().to_owned()).filter(|id| !id.is_empty()),
            source: source(),
            minute: ActivityCount::minute_of(now),
            outcome: CountedOutcome::Issued,
            count: 1,
        };
        // A store written before the counts existed answers Unsupported:
        // its log keeps the row per token it always had.
        if let Err(StoreError::Unsupported { .. }) = store.add_activity_counts(vec![count]).await {
            let _ = store
                .record_activity(ActivityEvent {
                    at: now,
                    tenant: Some(client.tenant().clone()),
                    client_id: client.client_id().to_owned(),
                    kind: ActivityKind::TokenIssued {
                        jti: response.jti.clone(),
                        scope: response.scope.clone(),
                    },
                })
                .await;
        }
        Ok(response)
    }

    /// The exchange; a refusal carries the tenant (when the client was
    /// authenticated) and a reason code for the activity log.
    async fn exchange_inner(
        &self,
        request: &ExchangeRequest,
        now: OffsetDateTime,
    ) -> Result<(AuthenticatedClient, TokenResponse), (Option<TenantId>, &'static str, TokenError)>
    {
        use TokenErrorCode as Code;
        let refuse = |tenant: Option<&TenantId>, reason, code, description| {
            Err((tenant.cloned(), reason, TokenError::new(code, description)))
        };
        let dpop_refusal = |tenant: Option<&TenantId>, refusal: DpopRefusal| match refusal {
            DpopRefusal::Nonce => refuse(
                tenant,
                refusal.reason(),
                Code::UseDpopNonce,
                "use the nonce in the DPoP-Nonce header",
            ),
            DpopRefusal::Unavailable => refuse(
                tenant,
                refusal.reason(),
                Code::ServerError,
                "the server could not process the request",
            ),
            DpopRefusal::Proof(_) => refuse(
                tenant,
                refusal.reason(),
                Code::InvalidDpopProof,
                "the DPoP proof is invalid",
            ),
        };
        let Some(grant_type) = request.grant_type.as_deref() else {
            return refuse(
                None,
                "missing_grant_type",
                Code::InvalidRequest,
                "grant_type is required",
            );
        };
        if grant_type != CLIENT_CREDENTIALS {
            return refuse(
                None,
                "unsupported_grant_type",
                Code::UnsupportedGrantType,
                "only client_credentials is supported",
            );
        }
        // RFC 9449 §5: the proof's own checks come first (no state).
        let proof = match (&self.dpop, &request.dpop_proof) {
            (Some(config), Some(proof)) => match config.check(proof.expose(), now) {
                Ok(checked) => Some(checked),
                Err(refusal) => return dpop_refusal(None, refusal),
            },
            // Without DPoP configured the header is ignored (§5: a server
            // that does not support DPoP issues a Bearer token).
            _ => None,
        };
        let authenticated = match (&request.credentials, &request.assertion) {
            (Some(credentials), None) => {
                self.registry
                    .authenticate_with_tenant(
                        &credentials.client_id,
                        &credentials.client_secret,
                        request.source,
                    )
                    .await
            }
            // Boxed: the assertion path's state (a fetch of remote keys,
            // the replay record) would otherwise grow every exchange's
            // future, which hosts box per request, by a few kilobytes.
            (None, Some(assertion)) => {
                Box::pin(self.registry.authenticate_assertion_with_tenant(
                    assertion,
                    self.issuer.issuer(),
                    request.source,
                ))
                .await
            }
            // RFC 6749 §2.3: one method per request.
            (Some(_), Some(_)) => {
                return refuse(
                    None,
                    "two_methods",
                    Code::InvalidRequest,
                    "use one client authentication method",
                );
            }
            (None, None) => {
                return refuse(
                    None,
                    "no_credentials",
                    Code::InvalidClient,
                    "client authentication failed",
                );
            }
        };
        let client = match authenticated {
            Ok(client) => client,
            Err((_, Error::Authentication(AuthFailure::Throttled { retry_after }))) => {
                return Err((None, "throttled", TokenError::slow_down(retry_after)));
            }
            Err((tenant, Error::Authentication(failure))) => {
                return refuse(
                    tenant.as_ref(),
                    failure.code(),
                    Code::InvalidClient,
                    "client authentication failed",
                );
            }
            Err(_) => {
                return refuse(
                    None,
                    "server_error",
                    Code::ServerError,
                    "the server could not process the request",
                );
            }
        };
        let tenant = Some(client.tenant());
        // A client bound to DPoP (or every client) must send a proof; the
        // proof's `jti` is spent only now, once the client is known.
        let required = client.dpop_bound() || self.dpop.as_ref().is_some_and(|d| d.required);
        match (&self.dpop, &proof) {
            (Some(config), Some(checked)) => {
                if let Err(refusal) = config.record(checked, now).await {
                    return dpop_refusal(tenant, refusal);
                }
            }
            _ if required => {
                return refuse(
                    tenant,
                    "dpop_required",
                    Code::InvalidDpopProof,
                    "this client must send a DPoP proof",
                );
            }
            _ => {}
        }
        let policy = self.registry.policy();
        if policy.require_scope
            && request
                .scope
                .as_deref()
                .is_none_or(|s| s.trim_matches(' ').is_empty())
        {
            return refuse(
                tenant,
                "missing_scope",
                Code::InvalidRequest,
                "scope is required",
            );
        }
        let scopes = match &request.scope {
            Some(requested) => {
                let requested: Vec<String> = requested
                    .split(' ')
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned)
                    .collect();
                if requested.iter().any(|s| !client.scopes().contains(s)) {
                    return refuse(
                        tenant,
                        "invalid_scope",
                        Code::InvalidScope,
                        "a requested scope is not allowed for this client",
                    );
                }
                dedup(requested)
            }
            None => match &policy.default_scope {
                DefaultScope::AllAllowed => client.scopes().to_vec(),
                DefaultScope::Empty => Vec::new(),
                DefaultScope::Fixed(fixed) => fixed
                    .iter()
                    .filter(|s| client.scopes().contains(s))
                    .cloned()
                    .collect(),
            },
        };
        let mut targets: Vec<String> = request
            .audience
            .iter()
            .chain(&request.resources)
            .cloned()
            .collect();
        targets = dedup(targets);
        // A client without audiences of its own gets the service's default
        // audience, and may ask for it by name.
        let allowed: &[String] = if client.audiences().is_empty() {
            std::slice::from_ref(&self.default_audience)
        } else {
            client.audiences()
        };
        if targets.iter().any(|t| !allowed.contains(t)) {
            return refuse(
                tenant,
                "invalid_target",
                Code::InvalidTarget,
                "a requested audience is not allowed for this client",
            );
        }
        if targets.is_empty() {
            targets = allowed.to_vec();
        }
        // What the tenant may grant, if the policy narrows it (a client
        // granted more before the policy changed gets no more than this).
        let grants = policy.grants_for(client.tenant());
        if !grants.allows_scopes(&scopes) {
            return refuse(
                tenant,
                "scope_not_granted",
                Code::InvalidScope,
                "a scope is not one this tenant may grant",
            );
        }
        if client
            .extra_claims()
            .keys()
            .any(|c| !grants.allows_claim(c))
        {
            return refuse(
                tenant,
                "claim_not_granted",
                Code::InvalidScope,
                "a claim is not one this tenant may grant",
            );
        }
        if !grants.allows_audiences(&targets) {
            return refuse(
                tenant,
                "audience_not_granted",
                Code::InvalidTarget,
                "an audience is not one this tenant may grant",
            );
        }
        let claims = TokenClaims {
            client_id: client.client_id(),
            tenant: client.tenant().as_str(),
            audience: &targets,
            scopes: &scopes,
            extra: client.extra_claims(),
            lifetime: client.token_lifetime(),
            now,
            secret_id: Some(client.secret_id()).filter(|id| !id.is_empty()),
        };
        let minted = match &proof {
            Some(checked) => self.issuer.mint_bound(&claims, &checked.jkt),
            None => self.issuer.mint(&claims),
        };
        match minted {
            Ok(minted) => {
                let response = TokenResponse {
                    access_token: minted.access_token,
                    token_type: if proof.is_some() { "DPoP" } else { "Bearer" },
                    expires_in: minted.expires_in,
                    scope: minted.scope,
                    jti: minted.jti,
                };
                Ok((client, response))
            }
            Err(_) => refuse(
                tenant,
                "mint_failed",
                Code::ServerError,
                "the server could not process the request",
            ),
        }
    }

    /// An opt-in live check of tokens' clients over this registry's store.
    #[must_use]
    pub fn live_check(&self, ttl: Duration) -> LiveClientCheck {
        LiveClientCheck::new(
            self.registry.store().clone(),
            self.registry.clock().clone(),
            ttl,
        )
    }
}

fn dedup(items: Vec<String>) -> Vec<String> {
    let mut out: Vec<String> = Vec::with_capacity(items.len());
    for item in items {
        if !out.contains(&item) {
            out.push(item);
        }
    }
    out
}

fn truncate(text: &str, max_chars: usize) -> String {
    text.chars().take(max_chars).collect()
}
