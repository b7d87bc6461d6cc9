//! What the admin API reads: request bodies and query parameters. Public
//! so that hosts (and fuzz targets) can build and parse them.

use std::collections::BTreeMap;

use clientcreds_jwt::{Jwks, PublicJwk};
use clientcreds_registry::{
    ClientUpdate, ListQuery, NewClient, NewClientAuth, NewClientKey, NewFederatedCredential,
    RotateOptions, RotationMode, SecretLifetime,
};
use clientcreds_store::{AuthMethod, ClaimValue, ClientStatus, StatusFilter};
use serde::{Deserialize, Deserializer};

use crate::Error;

/// `POST /tenants/{tenant}/clients`. Only `name` is required.
///
/// ```
/// let body: clientcreds_axum::admin::CreateClient = serde_json::from_str(
///     r#"{"client_name": "reports", "scopes": ["read"], "extra_claims": {"roles": ["viewer"]},
///         "secret_lifetime_seconds": 15552000, "token_lifetime_seconds": 1800}"#,
/// )?;
/// assert_eq!(body.name.as_deref(), Some("reports"));
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct CreateClient {
    /// The name (RFC 7591's `client_name` is accepted too).
    #[serde(alias = "client_name")]
    pub name: Option<String>,
    /// A description.
    #[serde(default)]
    pub description: String,
    /// Scopes it may request.
    #[serde(default)]
    pub scopes: Vec<String>,
    /// Audiences it may request.
    #[serde(default)]
    pub audiences: Vec<String>,
    /// Extra claims for its tokens, such as `{"roles": ["admin"]}`.
    #[serde(default)]
    pub extra_claims: BTreeMap<String, ClaimValue>,
    /// The user it acts for.
    pub owner: Option<String>,
    /// Its first secret's lifetime: absent for the policy's, `null` for
    /// never, or seconds (`secret_ttl_seconds` is accepted too).
    #[serde(default, alias = "secret_ttl_seconds", deserialize_with = "present")]
    pub secret_lifetime_seconds: Option<Option<i64>>,
    /// Its tokens' lifetime, seconds, when not the policy's.
    pub token_lifetime_seconds: Option<u32>,
    /// RFC 7591 `token_endpoint_auth_method`: `client_secret_basic`
    /// (default), `client_secret_post`, `private_key_jwt` or
    /// `federated_jwt`. The last two make a client without a secret.
    pub token_endpoint_auth_method: Option<String>,
    /// RFC 7591 `jwks`: `{"keys": [public JWKs]}`, for `private_key_jwt`.
    pub jwks: Option<Jwks>,
    /// RFC 7591 `jwks_uri`, for `private_key_jwt`.
    pub jwks_uri: Option<String>,
    /// Federated credentials, for `federated_jwt`.
    #[serde(default)]
    pub federated_credentials: Vec<AddFederatedCredential>,
    /// RFC 9449 §5.2: its token requests must carry a DPoP proof.
    #[serde(default)]
    pub dpop_bound_access_tokens: bool,
}

/// `POST .../clients/{client_id}/keys`: a public key for a
/// `private_key_jwt` client.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct AddClientKey {
    /// The public JWK.
    pub jwk: Option<PublicJwk>,
    /// When it stops working (RFC 3339), if ever.
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub expires_at: Option<time::OffsetDateTime>,
    /// A label.
    pub label: Option<String>,
}

/// `POST .../clients/{client_id}/federated-credentials`, and one entry of
/// [`CreateClient::federated_credentials`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct AddFederatedCredential {
    /// The external issuer (on the platform's allow-list).
    pub issuer: String,
    /// The expected `sub`.
    pub subject: String,
    /// The expected `aud`.
    pub audience: String,
}

impl AddFederatedCredential {
    /// The registry's input.
    #[must_use]
    pub fn into_credential(self) -> NewFederatedCredential {
        NewFederatedCredential {
            issuer: self.issuer,
            subject: self.subject,
            audience: self.audience,
        }
    }
}

impl AddClientKey {
    /// The registry's input.
    ///
    /// # Errors
    /// [`Error::BadRequest`] without a `jwk`.
    pub fn into_key(self) -> Result<NewClientKey, Error> {
        let jwk = self
            .jwk
            .ok_or_else(|| Error::bad_request("jwk", "is required"))?;
        let mut key = NewClientKey::new(jwk);
        key.expires_at = self.expires_at;
        if let Some(label) = self.label {
            key.label = label;
        }
        Ok(key)
    }
}

/// `PUT .../clients/{client_id}/jwks-uri`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct SetJwksUri {
    /// The new `jwks_uri`, or `null` to clear it.
    pub jwks_uri: Option<String>,
}

/// `PATCH /tenants/{tenant}/clients/{client_id}`: absent fields stay as
/// they are.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct UpdateClient {
    /// New name (`client_name` is accepted too).
    #[serde(alias = "client_name")]
    pub name: Option<String>,
    /// New description.
    pub description: Option<String>,
    /// New scopes.
    pub scopes: Option<Vec<String>>,
    /// New audiences.
    pub audiences: Option<Vec<String>>,
    /// New extra claims, replacing all.
    pub extra_claims: Option<BTreeMap<String, ClaimValue>>,
    /// New token lifetime, seconds; `null` returns to the policy's.
    #[serde(default, deserialize_with = "present")]
    pub token_lifetime_seconds: Option<Option<u32>>,
    /// `active` or `inactive` (revoking has its own call).
    pub status: Option<String>,
    /// RFC 9449 §5.2 `dpop_bound_access_tokens`.
    pub dpop_bound_access_tokens: Option<bool>,
}

/// `POST /tenants/{tenant}/clients/{client_id}/rotate`: absent fields take
/// the policy's choice.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct RotateClient {
    /// `secret` (same client id, new secret) or `client` (a new client).
    pub mode: Option<String>,
    /// How long the old credential keeps working, seconds (0: not at all).
    pub grace_seconds: Option<i64>,
    /// The new secret's lifetime: absent for the policy's, `null` for
    /// never, or seconds.
    #[serde(default, deserialize_with = "present")]
    pub secret_lifetime_seconds: Option<Option<i64>>,
}

/// `GET /tenants/{tenant}/clients` query parameters.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[non_exhaustive]
pub struct ListParams {
    /// `active`, `inactive`, `revoked`, `expiring` or `expired`.
    pub status: Option<String>,
    /// Case-insensitive part of the name or client id.
    #[serde(alias = "search")]
    pub q: Option<String>,
    /// Only this owner's clients.
    pub owner: Option<String>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
    /// Page size, 1 to 500 (default 50).
    pub limit: Option<usize>,
}

/// Query parameters of the audit trail and the activity log.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[non_exhaustive]
pub struct PageParams {
    /// Only this client's entries (tenant-wide pages).
    pub client_id: Option<String>,
    /// `next_after` of the previous page.
    pub after: Option<u64>,
    /// Page size, 1 to 500 (default 100).
    pub limit: Option<usize>,
}

/// Query parameters of the activity counts (the aggregate).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[non_exhaustive]
pub struct CountParams {
    /// Only this client's counts (tenant-wide reads).
    pub client_id: Option<String>,
    /// Only minutes starting at or after this instant (RFC 3339).
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub since: Option<time::OffsetDateTime>,
    /// Only minutes starting before this instant (RFC 3339).
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub until: Option<time::OffsetDateTime>,
    /// At most this many rows, 1 to 500 (default 100).
    pub limit: Option<usize>,
}

/// Default page size of the audit trail and the activity log.
pub const DEFAULT_LOG_PAGE: usize = 100;

/// `Some(value)` for a present field (`Some(None)` for `null`); absent
/// fields are `None` through `#[serde(default)]`.
fn present<'de, D, T>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(deserializer).map(Some)
}

fn lifetime(field: &'static str, value: Option<Option<i64>>) -> Result<SecretLifetime, Error> {
    match value {
        None => Ok(SecretLifetime::PolicyDefault),
        Some(None) => Ok(SecretLifetime::Never),
        Some(Some(seconds)) if seconds > 0 => {
            Ok(SecretLifetime::After(time::Duration::seconds(seconds)))
        }
        Some(Some(_)) => Err(Error::invalid(
            field,
            "must be a positive number of seconds",
        )),
    }
}

impl CreateClient {
    /// The registry's input.
    ///
    /// # Errors
    /// [`Error::BadRequest`] without a name; [`Error::Invalid`] for a
    /// secret lifetime that is not positive. The registry checks the rest.
    pub fn into_new_client(self) -> Result<NewClient, Error> {
        let method = self.method()?;
        let name = self
            .name
            .ok_or_else(|| Error::bad_request("name", "is required"))?;
        let mut new = NewClient::named(name)
            .with_description(self.description)
            .with_scopes(self.scopes)
            .with_audiences(self.audiences)
            .with_secret_lifetime(lifetime(
                "secret_lifetime_seconds",
                self.secret_lifetime_seconds,
            )?);
        new.extra_claims = self.extra_claims;
        new.owner = self.owner;
        new.token_lifetime_secs = self.token_lifetime_seconds;
        new.dpop_bound_access_tokens = self.dpop_bound_access_tokens;
        if let Some(method) = method
            && method.uses_secret()
        {
            new.token_endpoint_auth_method = method;
        }
        Ok(new)
    }

    fn method(&self) -> Result<Option<AuthMethod>, Error> {
        self.token_endpoint_auth_method
            .as_deref()
            .map(|name| {
                AuthMethod::from_name(name).ok_or_else(|| {
                    Error::bad_request(
                        "token_endpoint_auth_method",
                        "must be client_secret_basic, client_secret_post, private_key_jwt or federated_jwt",
                    )
                })
            })
            .transpose()
    }

    /// How a client without a secret authenticates: `None` for a secret
    /// method (the default).
    ///
    /// # Errors
    /// [`Error::BadRequest`] for an unknown method, or keys or federated
    /// credentials given to a secret client.
    pub fn auth(&self) -> Result<Option<NewClientAuth>, Error> {
        let method = self.method()?.unwrap_or_default();
        if method.uses_secret() {
            if self.jwks.is_some()
                || self.jwks_uri.is_some()
                || !self.federated_credentials.is_empty()
            {
                return Err(Error::bad_request(
                    "token_endpoint_auth_method",
                    "jwks, jwks_uri and federated_credentials need private_key_jwt or federated_jwt",
                ));
            }
            return Ok(None);
        }
        let mut auth = NewClientAuth::default();
        auth.method = method;
        auth.keys = self
            .jwks
            .iter()
            .flat_map(|jwks| jwks.keys.iter().cloned().map(NewClientKey::new))
            .collect();
        auth.jwks_uri.clone_from(&self.jwks_uri);
        auth.federated = self
            .federated_credentials
            .iter()
            .cloned()
            .map(AddFederatedCredential::into_credential)
            .collect();
        Ok(Some(auth))
    }
}

impl UpdateClient {
    /// The registry's input, applied only at `expected_version` when set.
    ///
    /// # Errors
    /// [`Error::Invalid`] for a status other than `active` or `inactive`.
    pub fn into_update(self, expected_version: Option<u64>) -> Result<ClientUpdate, Error> {
        let mut update = ClientUpdate::default();
        update.name = self.name;
        update.description = self.description;
        update.scopes = self.scopes;
        update.audiences = self.audiences;
        update.extra_claims = self.extra_claims;
        update.token_lifetime_secs = self.token_lifetime_seconds;
        update.expected_version = expected_version;
        update.dpop_bound_access_tokens = self.dpop_bound_access_tokens;
        update.status = match self.status.as_deref() {
            None => None,
            Some("active") => Some(ClientStatus::Active),
            Some("inactive") => Some(ClientStatus::Inactive),
            Some(_) => {
                return Err(Error::invalid(
                    "status",
                    "must be active or inactive (revoke has its own call)",
                ));
            }
        };
        Ok(update)
    }
}

impl RotateClient {
    /// The registry's input.
    ///
    /// # Errors
    /// [`Error::Invalid`] for an unknown mode or a lifetime that is not
    /// positive (the registry checks the grace).
    pub fn into_options(self) -> Result<RotateOptions, Error> {
        let mut options = RotateOptions::default().secret_lifetime(lifetime(
            "secret_lifetime_seconds",
            self.secret_lifetime_seconds,
        )?);
        match self.mode.as_deref() {
            None => {}
            Some("secret") => options = options.mode(RotationMode::ReplaceSecret),
            Some("client") => options = options.mode(RotationMode::ReplaceClient),
            Some(_) => return Err(Error::invalid("mode", "must be secret or client")),
        }
        if let Some(grace) = self.grace_seconds {
            options = options.grace(time::Duration::seconds(grace));
        }
        Ok(options)
    }
}

impl ListParams {
    /// The registry's query.
    ///
    /// # Errors
    /// [`Error::BadRequest`] for an unknown status.
    pub fn into_query(self) -> Result<ListQuery, Error> {
        let mut query = ListQuery::default();
        if let Some(status) = self.status.as_deref() {
            query = query.status(match status {
                "active" => StatusFilter::Active,
                "inactive" => StatusFilter::Inactive,
                "revoked" => StatusFilter::Revoked,
                "expiring" => StatusFilter::Expiring,
                "expired" => StatusFilter::Expired,
                _ => {
                    return Err(Error::bad_request(
                        "status",
                        "must be active, inactive, revoked, expiring or expired",
                    ));
                }
            });
        }
        if let Some(q) = self.q {
            query = query.search(q);
        }
        if let Some(owner) = self.owner {
            query = query.owner(owner);
        }
        if let Some(cursor) = self.cursor {
            query = query.cursor(cursor);
        }
        if let Some(limit) = self.limit {
            query = query.limit(limit);
        }
        Ok(query)
    }
}
