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
    /// The tenant claim's name (default `tenant`).
    pub tenant_claim: String,
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
            algorithms: None,
            tenants: None,
        }
    }

    /// Accepts only tokens of `tenant` (call again to accept more).
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
        self.tenants
            .get_or_insert_with(Vec::new)
            .push(tenant.into());
        self
    }

    /// Accepts only tokens of these tenants (an empty set accepts none).
    #[must_use]
    pub fn with_tenants(mut self, tenants: impl IntoIterator<Item = impl Into<String>>) -> Self {
        self.tenants = Some(tenants.into_iter().map(Into::into).collect());
        self
    }

    /// Sets the leeway, capped at [`MAX_LEEWAY`] and floored at zero.
    #[must_use]
    pub fn with_leeway(mut self, leeway: Duration) -> Self {
        self.leeway = leeway.clamp(Duration::ZERO, MAX_LEEWAY);
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

    /// Names the tenant claim.
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

/// Who a verified token speaks for, and what it may do.
#[derive(Debug, Clone, PartialEq)]
pub struct AccessContext {
    /// The tenant claim.
    pub tenant: String,
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
/// and a `kid` naming a key of that very algorithm (so an HS256 header
/// cannot borrow an RSA or EC public key as its secret); the signature;
/// then the claims: `iss`, `aud`, `exp` and `nbf`/`iat` within the leeway,
/// the tenant when [`Validation::tenants`] is set, and every required claim
/// present and well typed.
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
/// assert_eq!((context.tenant.as_str(), context.client_id.as_str()), ("acme", "acme_client_1"));
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
    #[serde(default)]
    crit: Option<serde::de::IgnoredAny>,
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
        if header.crit.is_some() {
            return Err(VerifyError::UnsupportedCritical);
        }
        let typ = header.typ.ok_or(VerifyError::MissingType)?;
        if !(typ.eq_ignore_ascii_case(ACCESS_TOKEN_TYPE)
            || typ.eq_ignore_ascii_case("application/at+jwt"))
        {
            return Err(VerifyError::WrongType);
        }
        let kid = header.kid.ok_or(VerifyError::MissingKid)?;
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
        let payload = B64URL
            .decode(payload_b64)
            .map_err(|_| VerifyError::Malformed)?;
        let claims: Map<String, Value> =
            serde_json::from_slice(&payload).map_err(|_| VerifyError::InvalidPayload)?;
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
        let iss = take_string(&mut claims, "iss")?;
        if iss != self.validation.issuer {
            return Err(VerifyError::WrongIssuer);
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
        let tenant = match claims.remove(&self.validation.tenant_claim) {
            Some(Value::String(t)) if !t.is_empty() => t,
            Some(_) => return Err(VerifyError::InvalidClaim("tenant")),
            None => return Err(VerifyError::MissingClaim("tenant")),
        };
        if self
            .validation
            .tenants
            .as_ref()
            .is_some_and(|accepted| !accepted.contains(&tenant))
        {
            return Err(VerifyError::WrongTenant);
        }
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
