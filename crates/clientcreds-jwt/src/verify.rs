//! Strict verification of access tokens.

use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64URL;
use serde::Deserialize;
use serde_json::{Map, Value};
use time::{Duration, OffsetDateTime};

use crate::token::{ACCESS_TOKEN_TYPE, DEFAULT_TENANT_CLAIM, SECRET_ID_CLAIM};
use crate::{Algorithm, InsufficientScope, KeySet, VerifyError};

/// The largest leeway a verifier accepts for `exp`, `nbf` and `iat`.
pub const MAX_LEEWAY: Duration = Duration::minutes(5);
/// The default maximum token length, in bytes.
pub const DEFAULT_MAX_TOKEN_LEN: usize = 8 * 1024;

/// What a [`TokenVerifier`] demands. Every default is the strict one.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Validation {
    /// The only accepted `iss`.
    pub issuer: String,
    /// Accepted audiences: the token's `aud` must name at least one
    /// (unless [`Validation::any_audience`]).
    pub audiences: Vec<String>,
    /// Accepts a token for any audience: `aud` must still be present and
    /// well-formed, and every other rule holds (default `false`). For the
    /// issuer's own introspection only, which answers for every audience
    /// the issuer mints for; a resource server never sets it.
    pub any_audience: bool,
    /// Clock skew allowed on `exp`, `nbf` and `iat` (default 60 s, at most
    /// [`MAX_LEEWAY`]).
    pub leeway: Duration,
    /// Longest token accepted, in bytes (default 8 KiB).
    pub max_token_len: usize,
    /// The tenant claim's name (default `tenant`). Any claim may name the
    /// tenant, `client_id` and `sub` included.
    pub tenant_claim: String,
    /// Whether a token must carry the tenant claim (default `false`: a
    /// token from an issuer that knows no tenants, such as any RFC 9068
    /// issuer other than clientcreds, is accepted and its
    /// [`AccessContext::tenant`] is `None`). Set by
    /// [`Validation::require_tenant`] and by [`Validation::with_tenant`].
    pub tenant_required: bool,
    /// Whether a header `typ` of `JWT` is accepted besides `at+jwt`
    /// (default `false`). See [`Validation::danger_accept_typ_jwt`].
    pub accept_typ_jwt: bool,
    /// Narrows the algorithms further than the key set does (default: the
    /// key set's).
    pub algorithms: Option<Vec<Algorithm>>,
    /// The tenants whose tokens are accepted (default `None`: any tenant).
    /// A resource server that serves one tenant, or a few, sets this so a
    /// token of another tenant is refused with [`VerifyError::WrongTenant`]
    /// even when its audience and scopes match: an administrator of any
    /// tenant can give a client any audience and scope.
    pub tenants: Option<Vec<String>>,
}

impl Validation {
    /// Strict defaults for tokens from `issuer` meant for `audience`.
    #[must_use]
    pub fn new(issuer: impl Into<String>, audience: impl Into<String>) -> Self {
        Self {
            issuer: issuer.into(),
            audiences: vec![audience.into()],
            any_audience: false,
            leeway: Duration::seconds(60),
            max_token_len: DEFAULT_MAX_TOKEN_LEN,
            tenant_claim: DEFAULT_TENANT_CLAIM.to_owned(),
            tenant_required: false,
            accept_typ_jwt: false,
            algorithms: None,
            tenants: None,
        }
    }

    /// Checks a token's `iss` against [`Validation::issuer`]: an exact
    /// string comparison, as RFC 8414 §3.3 says (the one rule every
    /// verifier here follows).
    ///
    /// # Errors
    /// [`VerifyError::IssuerTrailingSlash`] when only a trailing slash
    /// differs, else [`VerifyError::WrongIssuer`].
    pub fn check_issuer(&self, iss: &str) -> Result<(), VerifyError> {
        if iss == self.issuer {
            Ok(())
        } else if iss.trim_end_matches('/') == self.issuer.trim_end_matches('/') {
            Err(VerifyError::IssuerTrailingSlash)
        } else {
            Err(VerifyError::WrongIssuer)
        }
    }

    /// Refuses tokens without the tenant claim
    /// ([`VerifyError::MissingTenantClaim`]), whatever tenant they name.
    /// An issuer that always mints a tenant (clientcreds does) and a
    /// resource server that serves tenants set this; [`with_tenant`]
    /// implies it.
    ///
    /// [`with_tenant`]: Validation::with_tenant
    #[must_use]
    pub fn require_tenant(mut self) -> Self {
        self.tenant_required = true;
        self
    }

    /// **Widens** the `typ` check: accepts access tokens whose header says
    /// `typ: JWT` as well as RFC 9068's `at+jwt`.
    ///
    /// RFC 9068 §4 asks for `at+jwt` so that an ID token or any other JWT
    /// signed by the same issuer cannot pass as an access token. Several
    /// large issuers still label their access tokens `JWT`; accept them
    /// only when you know the issuer does, and keep the audience check
    /// narrow (an ID token's audience is a client id, never an API).
    /// A missing `typ` is still refused.
    #[must_use]
    pub fn danger_accept_typ_jwt(mut self) -> Self {
        self.accept_typ_jwt = true;
        self
    }

    /// Accepts only tokens of `tenant` (call again to accept more); a
    /// token without a tenant is refused.
    ///
    /// ```
    /// use clientcreds_jwt::Validation;
    /// let validation = Validation::new("https://auth.example.com", "https://api.example.com")
    ///     .with_tenant("acme")
    ///     .with_tenant("globex");
    /// assert_eq!(validation.tenants, Some(vec!["acme".to_owned(), "globex".to_owned()]));
    /// ```
    #[must_use]
    pub fn with_tenant(mut self, tenant: impl Into<String>) -> Self {
        self.tenant_required = true;
        self.tenants
            .get_or_insert_with(Vec::new)
            .push(tenant.into());
        self
    }

    /// Accepts only tokens of these tenants (an empty set accepts none); a
    /// token without a tenant is refused.
    #[must_use]
    pub fn with_tenants(mut self, tenants: impl IntoIterator<Item = impl Into<String>>) -> Self {
        self.tenant_required = true;
        self.tenants = Some(tenants.into_iter().map(Into::into).collect());
        self
    }

    /// Sets the leeway, capped at [`MAX_LEEWAY`] and floored at zero
    /// (a `std::time::Duration` or a `time::Duration`).
    #[must_use]
    pub fn with_leeway(mut self, leeway: impl IntoDuration) -> Self {
        self.leeway = leeway.into_duration().clamp(Duration::ZERO, MAX_LEEWAY);
        self
    }

    /// Accepts one more audience.
    #[must_use]
    pub fn with_audience(mut self, audience: impl Into<String>) -> Self {
        self.audiences.push(audience.into());
        self
    }

    /// Sets the maximum token length.
    #[must_use]
    pub fn with_max_token_len(mut self, max: usize) -> Self {
        self.max_token_len = max;
        self
    }

    /// Names the tenant claim: any claim, `client_id` or `sub` included
    /// (the context then carries that value both as the tenant and under
    /// its own name).
    #[must_use]
    pub fn with_tenant_claim(mut self, name: impl Into<String>) -> Self {
        self.tenant_claim = name.into();
        self
    }

    /// Restricts the algorithms.
    #[must_use]
    pub fn with_algorithms(mut self, algorithms: impl IntoIterator<Item = Algorithm>) -> Self {
        self.algorithms = Some(algorithms.into_iter().collect());
        self
    }
}

/// A duration as either `std::time::Duration` (what tokio, reqwest, tower
/// and `clientcreds-client` take) or `time::Duration` (what this crate
/// computes with): the setters of this crate and of `clientcreds-resource`
/// accept both, so a host keeps one type throughout. A `std` duration too
/// long for `time` saturates.
pub trait IntoDuration {
    /// As a `time::Duration`.
    fn into_duration(self) -> Duration;
}

impl IntoDuration for Duration {
    fn into_duration(self) -> Duration {
        self
    }
}

impl IntoDuration for std::time::Duration {
    fn into_duration(self) -> Duration {
        Duration::try_from(self).unwrap_or(Duration::MAX)
    }
}

/// Who a verified token speaks for, and what it may do.
#[derive(Debug, Clone, PartialEq)]
pub struct AccessContext {
    /// The tenant claim ([`Validation::tenant_claim`]), or `None` when the
    /// token carries none (a token from an issuer without tenants; refused
    /// instead when [`Validation::tenant_required`] is set).
    pub tenant: Option<String>,
    /// `client_id`.
    pub client_id: String,
    /// `sub`.
    pub subject: String,
    /// `scope`, split on spaces.
    pub scopes: Vec<String>,
    /// `aud`.
    pub audience: Vec<String>,
    /// `jti`.
    pub jti: String,
    /// `iat`.
    pub issued_at: OffsetDateTime,
    /// `exp`.
    pub expires_at: OffsetDateTime,
    /// The public id of the secret that minted the token
    /// ([`SECRET_ID_CLAIM`](crate::SECRET_ID_CLAIM)), when the token names one.
    pub secret_id: Option<String>,
    /// Every other claim (e.g. `roles`).
    pub extra: Map<String, Value>,
}

impl AccessContext {
    /// The tenant, if the token carried one.
    #[must_use]
    pub fn tenant(&self) -> Option<&str> {
        self.tenant.as_deref()
    }

    /// Whether the token grants `scope`.
    #[must_use]
    pub fn has_scope(&self, scope: &str) -> bool {
        self.scopes.iter().any(|s| s == scope)
    }

    /// Succeeds when the token grants `scope`.
    ///
    /// # Errors
    /// [`InsufficientScope`], naming the scope, for RFC 6750's `insufficient_scope`.
    pub fn require_scope(&self, scope: &str) -> Result<(), InsufficientScope> {
        if self.has_scope(scope) {
            Ok(())
        } else {
            Err(InsufficientScope {
                required: scope.to_owned(),
            })
        }
    }
}

/// Verifies access tokens against a key set and a [`Validation`].
///
/// Checks, in order: length; three base64url parts; a JSON header whose
/// `alg` is allowed (never `none`), without `crit`, with `typ` `at+jwt`
/// (or `JWT` after [`Validation::danger_accept_typ_jwt`]) and a `kid`; a
/// JSON payload whose `iss` is the accepted issuer (so a token of another
/// issuer is [`VerifyError::WrongIssuer`], never [`VerifyError::UnknownKid`],
/// and costs no key lookup); a key of that very `kid` and algorithm (so an
/// HS256 header cannot borrow an RSA or EC public key as its secret); the
/// signature; then the other claims: `aud`, `exp` and `nbf`/`iat` within
/// the leeway, the tenant when [`Validation::tenant_required`] or
/// [`Validation::tenants`] is set, and every required claim present and
/// well typed.
///
/// The issuer is compared as an exact string (RFC 8414 §3.3, RFC 9068
/// §4): `https://auth.example.com/` is not `https://auth.example.com`;
/// a difference of only a trailing slash is reported as
/// [`VerifyError::IssuerTrailingSlash`] to say so.
///
/// ```
/// use std::collections::BTreeMap;
/// use std::sync::Arc;
/// use clientcreds_jwt::*;
/// use time::{Duration, OffsetDateTime};
///
/// let keys = Arc::new(KeySet::new(SigningKey::generate(Algorithm::EdDSA)?));
/// let issuer = TokenIssuer::new(keys.clone(), "https://auth.example.com");
/// let now = OffsetDateTime::now_utc();
/// let minted = issuer.mint(&TokenClaims {
///     client_id: "acme_client_1", tenant: "acme",
///     audience: &["https://api.example.com".into()], scopes: &["read".into()],
///     extra: &BTreeMap::<String, String>::new(), lifetime: Duration::minutes(30), now,
///     secret_id: None,
/// })?;
///
/// let verifier = TokenVerifier::new(keys, Validation::new("https://auth.example.com", "https://api.example.com"));
/// let context = verifier.verify_at(minted.access_token.expose(), now)?;
/// assert_eq!((context.tenant(), context.client_id.as_str()), (Some("acme"), "acme_client_1"));
/// context.require_scope("read")?;
/// assert!(context.require_scope("write").is_err());
/// assert_eq!(verifier.verify_at(minted.access_token.expose(), now + Duration::minutes(32)), Err(VerifyError::Expired));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct TokenVerifier {
    keys: Arc<KeySet>,
    validation: Validation,
}

#[derive(Deserialize)]
struct Header {
    alg: String,
    #[serde(default)]
    typ: Option<String>,
    #[serde(default)]
    kid: Option<String>,
    /// Present at all, whatever its value (`"crit": null` included).
    #[serde(default, deserialize_with = "crate::jws::present")]
    crit: bool,
}

impl TokenVerifier {
    /// A verifier trusting `keys` under `validation`.
    #[must_use]
    pub fn new(keys: Arc<KeySet>, validation: Validation) -> Self {
        Self { keys, validation }
    }

    /// The validation rules.
    #[must_use]
    pub fn validation(&self) -> &Validation {
        &self.validation
    }

    /// The same keys and rules, but any audience accepted
    /// ([`Validation::any_audience`]): what an issuer's introspection
    /// verifies with, since it answers for every audience it mints for.
    #[must_use]
    pub fn with_any_audience(&self) -> Self {
        let mut validation = self.validation.clone();
        validation.any_audience = true;
        Self {
            keys: self.keys.clone(),
            validation,
        }
    }

    /// Verifies at the system clock's now.
    ///
    /// # Errors
    /// The [`VerifyError`] naming the first failed check.
    pub fn verify(&self, token: &str) -> Result<AccessContext, VerifyError> {
        self.verify_at(token, OffsetDateTime::now_utc())
    }

    /// Verifies as of `now`.
    ///
    /// # Errors
    /// The [`VerifyError`] naming the first failed check.
    pub fn verify_at(
        &self,
        token: &str,
        now: OffsetDateTime,
    ) -> Result<AccessContext, VerifyError> {
        if token.len() > self.validation.max_token_len {
            return Err(VerifyError::TooLong {
                max: self.validation.max_token_len,
            });
        }
        let mut parts = token.split('.');
        let (Some(header_b64), Some(payload_b64), Some(signature_b64), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(VerifyError::Malformed);
        };
        let header_json = B64URL
            .decode(header_b64)
            .map_err(|_| VerifyError::Malformed)?;
        let header: Header =
            serde_json::from_slice(&header_json).map_err(|_| VerifyError::InvalidHeader)?;
        let algorithm =
            Algorithm::from_name(&header.alg).ok_or(VerifyError::AlgorithmNotAllowed)?;
        if self
            .validation
            .algorithms
            .as_ref()
            .is_some_and(|allowed| !allowed.contains(&algorithm))
        {
            return Err(VerifyError::AlgorithmNotAllowed);
        }
        if header.crit {
            return Err(VerifyError::UnsupportedCritical);
        }
        let typ = header.typ.ok_or(VerifyError::MissingType)?;
        if !(typ.eq_ignore_ascii_case(ACCESS_TOKEN_TYPE)
            || typ.eq_ignore_ascii_case("application/at+jwt")
            || (self.validation.accept_typ_jwt && typ.eq_ignore_ascii_case("JWT")))
        {
            return Err(VerifyError::WrongType);
        }
        let kid = header.kid.ok_or(VerifyError::MissingKid)?;
        // The payload is read (not trusted) before the key lookup so that a
        // token of another issuer is refused as such, costs no signature
        // check, and never looks like a key the issuer rotated away.
        let payload = B64URL
            .decode(payload_b64)
            .map_err(|_| VerifyError::Malformed)?;
        let mut claims: Map<String, Value> =
            serde_json::from_slice(&payload).map_err(|_| VerifyError::InvalidPayload)?;
        let iss = take_string(&mut claims, "iss")?;
        self.validation.check_issuer(&iss)?;
        let signature = B64URL
            .decode(signature_b64)
            .map_err(|_| VerifyError::Malformed)?;
        let signed_len = header_b64.len() + 1 + payload_b64.len();
        let signed = token
            .get(..signed_len)
            .ok_or(VerifyError::Malformed)?
            .as_bytes();
        self.keys.with_verifying_key(&kid, |key| {
            let key = key.ok_or(VerifyError::UnknownKid)?;
            if key.algorithm() != algorithm {
                return Err(VerifyError::AlgorithmMismatch);
            }
            if key.verify(signed, &signature) {
                Ok(())
            } else {
                Err(VerifyError::BadSignature)
            }
        })?;
        self.check_claims(claims, now)
    }

    fn check_claims(
        &self,
        mut claims: Map<String, Value>,
        now: OffsetDateTime,
    ) -> Result<AccessContext, VerifyError> {
        // The fields are public: enforce the documented bounds here too.
        let leeway = self
            .validation
            .leeway
            .clamp(Duration::ZERO, MAX_LEEWAY)
            .whole_seconds();
        let now_s = now.unix_timestamp();
        // The tenant is read before the standard claims are taken out, so
        // that it may be any of them (`client_id`, `sub`).
        let tenant_claim = self.validation.tenant_claim.as_str();
        let tenant = match claims.get(tenant_claim) {
            Some(Value::String(t)) if !t.is_empty() => Some(t.clone()),
            Some(_) => {
                return Err(VerifyError::InvalidTenantClaim {
                    claim: tenant_claim.to_owned(),
                });
            }
            None => None,
        };
        if tenant.is_none()
            && (self.validation.tenant_required || self.validation.tenants.is_some())
        {
            return Err(VerifyError::MissingTenantClaim {
                claim: tenant_claim.to_owned(),
            });
        }
        if let (Some(accepted), Some(tenant)) = (&self.validation.tenants, &tenant)
            && !accepted.contains(tenant)
        {
            return Err(VerifyError::WrongTenant);
        }
        let audience = match claims.remove("aud") {
            Some(Value::String(one)) => vec![one],
            Some(Value::Array(many)) => many
                .into_iter()
                .map(|v| match v {
                    Value::String(s) => Ok(s),
                    _ => Err(VerifyError::InvalidClaim("aud")),
                })
                .collect::<Result<Vec<_>, _>>()?,
            Some(_) => return Err(VerifyError::InvalidClaim("aud")),
            None => return Err(VerifyError::MissingClaim("aud")),
        };
        if !self.validation.any_audience
            && !audience
                .iter()
                .any(|a| self.validation.audiences.contains(a))
        {
            return Err(VerifyError::WrongAudience);
        }
        let exp = take_time(&mut claims, "exp")?.ok_or(VerifyError::MissingClaim("exp"))?;
        if now_s >= exp.saturating_add(leeway) {
            return Err(VerifyError::Expired);
        }
        let iat = take_time(&mut claims, "iat")?.ok_or(VerifyError::MissingClaim("iat"))?;
        let nbf = take_time(&mut claims, "nbf")?;
        if nbf.unwrap_or(iat).max(iat) > now_s.saturating_add(leeway) {
            return Err(VerifyError::NotYetValid);
        }
        let subject = take_string(&mut claims, "sub")?;
        let jti = take_string(&mut claims, "jti")?;
        let client_id = take_string(&mut claims, "client_id")?;
        let scopes = match claims.remove("scope") {
            Some(Value::String(s)) => s
                .split(' ')
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect(),
            Some(_) => return Err(VerifyError::InvalidClaim("scope")),
            None => Vec::new(),
        };
        claims.remove(tenant_claim);
        let secret_id = match claims.remove(SECRET_ID_CLAIM) {
            Some(Value::String(s)) if !s.is_empty() => Some(s),
            Some(_) => return Err(VerifyError::InvalidClaim(SECRET_ID_CLAIM)),
            None => None,
        };
        let instant = |s: i64, name| {
            OffsetDateTime::from_unix_timestamp(s).map_err(|_| VerifyError::InvalidClaim(name))
        };
        Ok(AccessContext {
            tenant,
            client_id,
            subject,
            scopes,
            audience,
            jti,
            issued_at: instant(iat, "iat")?,
            expires_at: instant(exp, "exp")?,
            secret_id,
            extra: claims,
        })
    }
}

fn take_string(claims: &mut Map<String, Value>, name: &'static str) -> Result<String, VerifyError> {
    match claims.remove(name) {
        Some(Value::String(s)) => Ok(s),
        Some(_) => Err(VerifyError::InvalidClaim(name)),
        None => Err(VerifyError::MissingClaim(name)),
    }
}

/// A NumericDate (RFC 7519 §2): seconds, possibly fractional (floored).
fn take_time(
    claims: &mut Map<String, Value>,
    name: &'static str,
) -> Result<Option<i64>, VerifyError> {
    match claims.remove(name) {
        None => Ok(None),
        Some(Value::Number(n)) => n
            .as_i64()
            .or_else(|| {
                n.as_f64()
                    .filter(|f| f.is_finite() && f.abs() < 1e15)
                    .map(|f| f.floor() as i64)
            })
            .map(Some)
            .ok_or(VerifyError::InvalidClaim(name)),
        Some(_) => Err(VerifyError::InvalidClaim(name)),
    }
}
