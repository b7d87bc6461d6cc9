//! Minting RFC 9068 access tokens.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use crate::backend::{SecureRandom, SystemRandom};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64URL;
use serde::Serialize;
use serde::ser::SerializeMap;
use time::{Duration, OffsetDateTime};

use crate::{KeyError, KeySet, MintError};

/// The `typ` of every token minted here (RFC 9068 §2.1).
pub const ACCESS_TOKEN_TYPE: &str = "at+jwt";
/// The default name of the tenant claim.
pub const DEFAULT_TENANT_CLAIM: &str = "tenant";
/// The claim naming the secret that minted a token (the secret's public
/// id, never the secret): a live check refuses the token once that secret
/// is revoked or rotated out.
pub const SECRET_ID_CLAIM: &str = "client_secret_id";
/// Claims a caller's extra claims may not set.
pub const RESERVED_CLAIMS: &[&str] = &[
    "iss",
    "sub",
    "aud",
    "exp",
    "nbf",
    "iat",
    "jti",
    "client_id",
    "scope",
    SECRET_ID_CLAIM,
];

/// A signed access token. `Debug` and `Display` redact it; read it with
/// [`AccessToken::expose`] to put it in a response.
#[derive(Clone, PartialEq, Eq)]
pub struct AccessToken(String);

impl AccessToken {
    /// The compact JWS text.
    #[must_use]
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for AccessToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AccessToken([redacted])")
    }
}

impl fmt::Display for AccessToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

/// What a token says, before signing.
#[derive(Debug, Clone, Copy)]
pub struct TokenClaims<'a, V> {
    /// The client id: both `sub` and `client_id` (RFC 9068 §2.2 for
    /// client-credentials tokens).
    pub client_id: &'a str,
    /// The client's tenant.
    pub tenant: &'a str,
    /// `aud`: one or more resource identifiers (at least one).
    pub audience: &'a [String],
    /// Granted scopes, joined with spaces into `scope`.
    pub scopes: &'a [String],
    /// Extra claims (e.g. `roles`); reserved names are refused.
    pub extra: &'a BTreeMap<String, V>,
    /// How long the token lives.
    pub lifetime: Duration,
    /// Issue instant (`iat`, `nbf`).
    pub now: OffsetDateTime,
    /// The public id of the secret that authenticated the client, written
    /// as [`SECRET_ID_CLAIM`] so that revoking or rotating out that secret
    /// can kill the token too (`None`: the claim is left out).
    pub secret_id: Option<&'a str>,
}

/// A freshly minted token and its facts.
#[derive(Debug, Clone)]
pub struct MintedToken {
    /// The token.
    pub access_token: AccessToken,
    /// Its `jti` (for logs: never log the token).
    pub jti: String,
    /// `exp`.
    pub expires_at: OffsetDateTime,
    /// Seconds until `exp`, for the `expires_in` response member.
    pub expires_in: u64,
    /// The `scope` claim.
    pub scope: String,
}

/// Mints access tokens with a key set's current signing key.
///
/// ```
/// use std::collections::BTreeMap;
/// use std::sync::Arc;
/// use clientcreds_jwt::{Algorithm, KeySet, SigningKey, TokenClaims, TokenIssuer};
/// use time::{Duration, OffsetDateTime};
///
/// let keys = Arc::new(KeySet::new(SigningKey::generate(Algorithm::EdDSA)?));
/// let issuer = TokenIssuer::new(keys, "https://auth.example.com");
/// let minted = issuer.mint(&TokenClaims {
///     client_id: "acme_client_123",
///     tenant: "acme",
///     audience: &["https://api.example.com".to_owned()],
///     scopes: &["read".to_owned()],
///     extra: &BTreeMap::<String, String>::new(),
///     lifetime: Duration::hours(1),
///     now: OffsetDateTime::now_utc(),
///     secret_id: None,
/// })?;
/// assert_eq!(minted.expires_in, 3600);
/// assert_eq!(format!("{:?}", minted.access_token), "AccessToken([redacted])");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct TokenIssuer {
    keys: Arc<KeySet>,
    issuer: String,
    tenant_claim: String,
    rng: SystemRandom,
}

impl TokenIssuer {
    /// An issuer named `issuer` (the `iss` claim) signing with `keys`.
    #[must_use]
    pub fn new(keys: Arc<KeySet>, issuer: impl Into<String>) -> Self {
        Self {
            keys,
            issuer: issuer.into(),
            tenant_claim: DEFAULT_TENANT_CLAIM.to_owned(),
            rng: SystemRandom::new(),
        }
    }

    /// Names the tenant claim (default `tenant`).
    #[must_use]
    pub fn with_tenant_claim(mut self, name: impl Into<String>) -> Self {
        self.tenant_claim = name.into();
        self
    }

    /// The `iss` value.
    #[must_use]
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// The key set.
    #[must_use]
    pub fn keys(&self) -> &Arc<KeySet> {
        &self.keys
    }

    /// Signs a token.
    ///
    /// # Errors
    /// [`MintError::Invalid`] for a non-positive lifetime, an empty audience,
    /// a reserved extra claim or a tenant claim named like a reserved one;
    /// [`MintError::Key`] when the set has no signing key or signing fails.
    pub fn mint<V: Serialize>(
        &self,
        claims: &TokenClaims<'_, V>,
    ) -> Result<MintedToken, MintError> {
        self.mint_with(claims, None)
    }

    /// Signs a sender-constrained token: [`TokenIssuer::mint`] plus
    /// `"cnf": {"jkt": jkt}` (RFC 9449 §6.1), the RFC 7638 thumbprint of the
    /// DPoP key the token is bound to.
    ///
    /// # Errors
    /// As [`TokenIssuer::mint`]; [`MintError::Invalid`] for an empty `jkt`
    /// or an extra claim named `cnf`.
    pub fn mint_bound<V: Serialize>(
        &self,
        claims: &TokenClaims<'_, V>,
        jkt: &str,
    ) -> Result<MintedToken, MintError> {
        if jkt.is_empty() {
            return Err(MintError::Invalid("a bound token needs a key thumbprint"));
        }
        if claims.extra.contains_key("cnf") {
            return Err(MintError::Invalid("an extra claim uses a reserved name"));
        }
        self.mint_with(claims, Some(jkt))
    }

    fn mint_with<V: Serialize>(
        &self,
        claims: &TokenClaims<'_, V>,
        jkt: Option<&str>,
    ) -> Result<MintedToken, MintError> {
        if !claims.lifetime.is_positive() {
            return Err(MintError::Invalid("lifetime must be positive"));
        }
        if claims.audience.is_empty() || claims.audience.iter().any(String::is_empty) {
            return Err(MintError::Invalid("a token needs a non-empty audience"));
        }
        if claims.client_id.is_empty() || claims.tenant.is_empty() {
            return Err(MintError::Invalid("client id and tenant must not be empty"));
        }
        if claims
            .scopes
            .iter()
            .any(|s| s.is_empty() || s.contains(' '))
        {
            return Err(MintError::Invalid("a scope must be one non-empty token"));
        }
        if RESERVED_CLAIMS.contains(&self.tenant_claim.as_str()) {
            return Err(MintError::Invalid("the tenant claim uses a reserved name"));
        }
        if claims
            .extra
            .keys()
            .any(|k| RESERVED_CLAIMS.contains(&k.as_str()) || *k == self.tenant_claim)
        {
            return Err(MintError::Invalid("an extra claim uses a reserved name"));
        }
        let key = self
            .keys
            .signing_key()
            .ok_or_else(|| KeyError::UnknownKid("(no signing key)".into()))?;
        let mut jti = [0u8; 16];
        self.rng.fill(&mut jti).map_err(|_| KeyError::Signing)?;
        let jti = B64URL.encode(jti);
        let iat = claims.now.unix_timestamp();
        let expires_at = claims
            .now
            .checked_add(claims.lifetime)
            .ok_or(MintError::Invalid("lifetime out of range"))?;
        let scope = claims.scopes.join(" ");
        let payload = Payload {
            iss: &self.issuer,
            sub: claims.client_id,
            aud: Audience(claims.audience),
            exp: expires_at.unix_timestamp(),
            iat,
            nbf: iat,
            jti: &jti,
            client_id: claims.client_id,
            scope: &scope,
            tenant: (&self.tenant_claim, claims.tenant),
            secret_id: claims.secret_id,
            jkt,
            extra: claims.extra,
        };
        let header = key.token_header();
        let payload = serde_json::to_vec(&payload)
            .map_err(|_| MintError::Invalid("claims do not serialize"))?;
        // Header, payload and a signature of up to 512 bytes (RSA-4096).
        let mut token = String::with_capacity(header.len() + payload.len() * 4 / 3 + 700);
        token.push_str(header);
        token.push('.');
        B64URL.encode_string(&payload, &mut token);
        let signature = key.sign(token.as_bytes())?;
        token.push('.');
        B64URL.encode_string(&signature, &mut token);
        let expires_in = u64::try_from(claims.lifetime.whole_seconds()).unwrap_or(0);
        Ok(MintedToken {
            access_token: AccessToken(token),
            jti,
            expires_at,
            expires_in,
            scope,
        })
    }
}

struct Payload<'a, V> {
    iss: &'a str,
    sub: &'a str,
    aud: Audience<'a>,
    exp: i64,
    iat: i64,
    nbf: i64,
    jti: &'a str,
    client_id: &'a str,
    scope: &'a str,
    tenant: (&'a str, &'a str),
    secret_id: Option<&'a str>,
    jkt: Option<&'a str>,
    extra: &'a BTreeMap<String, V>,
}

impl<V: Serialize> Serialize for Payload<'_, V> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(None)?;
        map.serialize_entry("iss", self.iss)?;
        map.serialize_entry("sub", self.sub)?;
        map.serialize_entry("aud", &self.aud)?;
        map.serialize_entry("exp", &self.exp)?;
        map.serialize_entry("iat", &self.iat)?;
        map.serialize_entry("nbf", &self.nbf)?;
        map.serialize_entry("jti", self.jti)?;
        map.serialize_entry("client_id", self.client_id)?;
        if !self.scope.is_empty() {
            map.serialize_entry("scope", self.scope)?;
        }
        map.serialize_entry(self.tenant.0, self.tenant.1)?;
        if let Some(secret_id) = self.secret_id {
            map.serialize_entry(SECRET_ID_CLAIM, secret_id)?;
        }
        if let Some(jkt) = self.jkt {
            map.serialize_entry("cnf", &Confirmation { jkt })?;
        }
        for (name, value) in self.extra {
            map.serialize_entry(name, value)?;
        }
        map.end()
    }
}

/// RFC 7800 `cnf` with RFC 9449's `jkt`.
#[derive(Serialize)]
struct Confirmation<'a> {
    jkt: &'a str,
}

/// One audience serializes as a string, several as an array (RFC 7519 §4.1.3).
struct Audience<'a>(&'a [String]);

impl Serialize for Audience<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self.0 {
            [one] => serializer.serialize_str(one),
            many => many.serialize(serializer),
        }
    }
}
