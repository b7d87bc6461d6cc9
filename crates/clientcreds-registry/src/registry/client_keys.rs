//! Keys instead of secrets: creating a `private_key_jwt` or federated
//! client, adding and removing its keys and federated credentials, and its
//! `jwks_uri`. Each change is one audited commit.

use clientcreds_jwt::{PublicJwk, VerifyingKey};
use clientcreds_secret::SecretHash;
use clientcreds_store::{
    AuditAction, AuditOutcome, AuthMethod, ClientRecord, ClientStatus, Commit, FederatedCredential,
    SecretRecord, StoreError, TenantId, Write,
};
use time::OffsetDateTime;

use crate::view::ClientView;
use crate::warnings::schedule_warnings;
use crate::{Actor, Error, NewClient};

use super::{MAX_ATTEMPTS, Registry};

/// What a change to a client's credentials requires of the client.
#[derive(Clone, Copy)]
enum Require {
    /// Nothing (removals).
    Nothing,
    /// This method, or `Invalid` with the message.
    Method(AuthMethod, &'static str),
    /// Not revoked, and this method (additions).
    LiveWith(AuthMethod, &'static str),
}

/// The most keys (inline) and federated credentials a client may hold.
pub const MAX_CLIENT_KEYS: usize = 10;

/// How a new client without a secret authenticates; see
/// [`Registry::create_with_keys`].
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct NewClientAuth {
    /// [`AuthMethod::PrivateKeyJwt`] or [`AuthMethod::FederatedJwt`].
    pub method: AuthMethod,
    /// Inline public keys (RFC 7591 `jwks`), each with an optional expiry.
    pub keys: Vec<NewClientKey>,
    /// `jwks_uri`, for `private_key_jwt`.
    pub jwks_uri: Option<String>,
    /// Federated credentials, for `federated_jwt`.
    pub federated: Vec<NewFederatedCredential>,
}

impl NewClientAuth {
    /// A `private_key_jwt` client with these inline keys.
    #[must_use]
    pub fn private_key_jwt(keys: impl IntoIterator<Item = NewClientKey>) -> Self {
        Self {
            method: AuthMethod::PrivateKeyJwt,
            keys: keys.into_iter().collect(),
            ..Self::default()
        }
    }

    /// A `private_key_jwt` client whose keys are published at `jwks_uri`.
    #[must_use]
    pub fn jwks_uri(jwks_uri: impl Into<String>) -> Self {
        Self {
            method: AuthMethod::PrivateKeyJwt,
            jwks_uri: Some(jwks_uri.into()),
            ..Self::default()
        }
    }

    /// A federated client trusting these credentials.
    #[must_use]
    pub fn federated(credentials: impl IntoIterator<Item = NewFederatedCredential>) -> Self {
        Self {
            method: AuthMethod::FederatedJwt,
            federated: credentials.into_iter().collect(),
            ..Self::default()
        }
    }
}

/// A public key to register for a client.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct NewClientKey {
    /// The public JWK (`OKP`/`Ed25519`, `EC` P-256/P-384, `RSA` of 2048
    /// bits or more); its `kid`, or else its RFC 7638 thumbprint, names it.
    pub jwk: PublicJwk,
    /// When it stops working (`None`: never); expiry warnings go out
    /// before, as for secrets.
    pub expires_at: Option<OffsetDateTime>,
    /// A label for humans.
    pub label: String,
}

impl NewClientKey {
    /// The key `jwk`, without expiry.
    #[must_use]
    pub fn new(jwk: PublicJwk) -> Self {
        Self {
            jwk,
            expires_at: None,
            label: "key".to_owned(),
        }
    }

    /// Expires at `at`.
    #[must_use]
    pub fn expiring_at(mut self, at: OffsetDateTime) -> Self {
        self.expires_at = Some(at);
        self
    }
}

/// A federated credential to add: tokens of `issuer` with exactly this
/// `subject` and `audience` authenticate the client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewFederatedCredential {
    /// The external issuer (on the registry's allow-list).
    pub issuer: String,
    /// The expected `sub`.
    pub subject: String,
    /// The expected `aud`.
    pub audience: String,
}

impl Registry {
    /// Creates a client that authenticates with keys or a federated
    /// credential, and has no secret. One audited commit.
    ///
    /// # Errors
    /// [`Error::NotFound`] if the actor may not act on `tenant`;
    /// [`Error::Invalid`] naming the bad field (`token_endpoint_auth_method`
    /// for a secret method, `jwks` for a bad or private key, `jwks_uri` for
    /// a URL that is not https, `federated` for an issuer off the
    /// allow-list, or none of them given); [`Error::Store`].
    pub async fn create_with_keys(
        &self,
        actor: &Actor,
        tenant: &TenantId,
        new: NewClient,
        auth: NewClientAuth,
    ) -> Result<ClientView, Error> {
        self.authorize(actor, tenant, None, AuditAction::Create)
            .await?;
        let now = self.now();
        let record = self
            .new_record(actor, tenant, &new, now)
            .and_then(|mut record| {
                self.apply_new_auth(&mut record, &auth, now)?;
                Ok(record)
            });
        let mut record = match record {
            Ok(record) => record,
            Err(e) => {
                return self
                    .refuse(actor, tenant, None, AuditAction::Create, e)
                    .await;
            }
        };
        schedule_warnings(&mut record, None, &self.policy.warning_stages, now);
        let _inserting = self.inserts.lock().await;
        if let Err(e) = self.check_tenant_quota(tenant).await {
            return self
                .refuse(actor, tenant, None, AuditAction::Create, e)
                .await;
        }
        for _ in 0..MAX_ATTEMPTS {
            let client_id = self.format.generate_client_id()?.into_string();
            let mut record = record.clone();
            record.client_id.clone_from(&client_id);
            let event = self.event(
                actor,
                tenant,
                Some(&client_id),
                AuditAction::Create,
                AuditOutcome::Success,
                Some(format!("token_endpoint_auth_method={}", auth.method)),
                now,
            );
            match self
                .store
                .commit(Commit::new(event).with(Write::Insert(record.clone())))
                .await
            {
                Ok(()) => {
                    record.version = 1;
                    return Ok(ClientView::of(&record, now));
                }
                Err(StoreError::Duplicate) => {}
                Err(e) => return Err(e.into()),
            }
        }
        Err(Error::Conflict)
    }

    /// Adds a public key to a `private_key_jwt` client: both the old and
    /// the new key work until the old one is removed (rotation with
    /// overlap). Returns the client and the new key's `kid`.
    ///
    /// # Errors
    /// [`Error::NotFound`]; [`Error::Revoked`]; [`Error::Invalid`] for a
    /// client of another method, a bad or private key, a `kid` already
    /// registered, or more than [`MAX_CLIENT_KEYS`] keys; [`Error::Store`].
    pub async fn add_client_key(
        &self,
        actor: &Actor,
        tenant: &TenantId,
        client_id: &str,
        key: NewClientKey,
    ) -> Result<(ClientView, String), Error> {
        let require = Require::LiveWith(
            AuthMethod::PrivateKeyJwt,
            "keys belong to private_key_jwt clients; change the method first",
        );
        let action = AuditAction::AddCredential;
        self.edit_auth(
            actor,
            tenant,
            client_id,
            action,
            require,
            |next, record, now| {
                let kid = push_key(next, &key, now)?;
                schedule_warnings(next, Some(record), &self.policy.warning_stages, now);
                Ok((format!("key kid={kid}"), kid))
            },
        )
        .await
    }

    /// Removes a client's key (the last step of a rotation): assertions
    /// signed with it fail from now on, and tokens it minted fail a live
    /// check.
    ///
    /// # Errors
    /// [`Error::NotFound`] for an unknown client or `kid`; [`Error::Store`].
    pub async fn remove_client_key(
        &self,
        actor: &Actor,
        tenant: &TenantId,
        client_id: &str,
        kid: &str,
    ) -> Result<ClientView, Error> {
        let action = AuditAction::RemoveCredential;
        self.edit_auth(
            actor,
            tenant,
            client_id,
            action,
            Require::Nothing,
            |next, _, _| {
                let before = next.secrets.len();
                next.secrets.retain(|s| !(s.is_key() && s.secret_id == kid));
                if next.secrets.len() == before {
                    return Err(Error::NotFound);
                }
                Ok((format!("key kid={kid}"), ()))
            },
        )
        .await
        .map(|(view, ())| view)
    }

    /// Adds a federated credential to a `federated_jwt` client. Returns the
    /// client and the credential's id.
    ///
    /// # Errors
    /// [`Error::NotFound`]; [`Error::Revoked`]; [`Error::Invalid`] for a
    /// client of another method, an issuer off the allow-list, empty
    /// fields, a duplicate, or too many; [`Error::Store`].
    pub async fn add_federated_credential(
        &self,
        actor: &Actor,
        tenant: &TenantId,
        client_id: &str,
        credential: NewFederatedCredential,
    ) -> Result<(ClientView, String), Error> {
        let require = Require::LiveWith(
            AuthMethod::FederatedJwt,
            "federated credentials belong to federated_jwt clients",
        );
        let action = AuditAction::AddCredential;
        self.edit_auth(actor, tenant, client_id, action, require, |next, _, now| {
            let id = self.push_federated(next, &credential, now)?;
            Ok((
                format!("federated id={id} issuer={}", credential.issuer),
                id,
            ))
        })
        .await
    }

    /// Removes a federated credential.
    ///
    /// # Errors
    /// [`Error::NotFound`] for an unknown client or credential id;
    /// [`Error::Store`].
    pub async fn remove_federated_credential(
        &self,
        actor: &Actor,
        tenant: &TenantId,
        client_id: &str,
        id: &str,
    ) -> Result<ClientView, Error> {
        let action = AuditAction::RemoveCredential;
        self.edit_auth(
            actor,
            tenant,
            client_id,
            action,
            Require::Nothing,
            |next, _, _| {
                let before = next.auth.federated.len();
                next.auth.federated.retain(|f| f.id != id);
                if next.auth.federated.len() == before {
                    return Err(Error::NotFound);
                }
                Ok((format!("federated id={id}"), ()))
            },
        )
        .await
        .map(|(view, ())| view)
    }

    /// Sets or clears a `private_key_jwt` client's `jwks_uri`.
    ///
    /// # Errors
    /// [`Error::NotFound`]; [`Error::Invalid`] for a client of another
    /// method, a URL that is not https, or no transport configured to
    /// fetch it; [`Error::Store`].
    pub async fn set_jwks_uri(
        &self,
        actor: &Actor,
        tenant: &TenantId,
        client_id: &str,
        jwks_uri: Option<String>,
    ) -> Result<ClientView, Error> {
        let require = Require::Method(
            AuthMethod::PrivateKeyJwt,
            "jwks_uri belongs to private_key_jwt clients",
        );
        let action = AuditAction::Update;
        self.edit_auth(actor, tenant, client_id, action, require, |next, _, _| {
            next.auth.jwks_uri = match &jwks_uri {
                Some(uri) => Some(self.check_fetchable("jwks_uri", uri)?),
                None => None,
            };
            Ok((
                format!("jwks_uri={}", jwks_uri.as_deref().unwrap_or("-")),
                (),
            ))
        })
        .await
        .map(|(view, ())| view)
    }

    /// One audited change to a client's credentials: authorizes, checks
    /// what `require` says, lets `edit` change a copy of the record (it
    /// returns the audit detail and its output), stamps it, and commits.
    async fn edit_auth<T>(
        &self,
        actor: &Actor,
        tenant: &TenantId,
        client_id: &str,
        action: AuditAction,
        require: Require,
        edit: impl Fn(&mut ClientRecord, &ClientRecord, OffsetDateTime) -> Result<(String, T), Error>,
    ) -> Result<(ClientView, T), Error> {
        self.authorize(actor, tenant, Some(client_id), action)
            .await?;
        self.change(actor, tenant, client_id, action, None, |record, now| {
            let (method, message) = match require {
                Require::Nothing => (None, ""),
                Require::Method(method, message) => (Some(method), message),
                Require::LiveWith(method, message) => {
                    if record.status == ClientStatus::Revoked {
                        return Err(Error::Revoked);
                    }
                    (Some(method), message)
                }
            };
            if method.is_some_and(|method| record.auth.method != method) {
                return Err(Error::invalid("token_endpoint_auth_method", message));
            }
            let mut next = record.clone();
            let (detail, output) = edit(&mut next, record, now)?;
            next.updated_at = now;
            Ok(self
                .planned_update(record, next, action, Some(detail), now)
                .map_output(|view| (view, output)))
        })
        .await
    }

    /// Fills `record`'s authentication for a new keyed client.
    fn apply_new_auth(
        &self,
        record: &mut ClientRecord,
        auth: &NewClientAuth,
        now: OffsetDateTime,
    ) -> Result<(), Error> {
        if auth.method.uses_secret() {
            return Err(Error::invalid(
                "token_endpoint_auth_method",
                "use create() for a client with a secret",
            ));
        }
        record.auth.method = auth.method;
        match auth.method {
            AuthMethod::PrivateKeyJwt => {
                if !auth.federated.is_empty() {
                    return Err(Error::invalid(
                        "federated",
                        "federated credentials belong to federated_jwt clients",
                    ));
                }
                if auth.keys.is_empty() && auth.jwks_uri.is_none() {
                    return Err(Error::invalid(
                        "jwks",
                        "a private_key_jwt client needs jwks or a jwks_uri",
                    ));
                }
                for key in &auth.keys {
                    push_key(record, key, now)?;
                }
                if let Some(uri) = &auth.jwks_uri {
                    record.auth.jwks_uri = Some(self.check_fetchable("jwks_uri", uri)?);
                }
            }
            _ => {
                if !auth.keys.is_empty() || auth.jwks_uri.is_some() {
                    return Err(Error::invalid(
                        "jwks",
                        "keys belong to private_key_jwt clients",
                    ));
                }
                if auth.federated.is_empty() {
                    return Err(Error::invalid(
                        "federated",
                        "a federated_jwt client needs a federated credential",
                    ));
                }
                for credential in &auth.federated {
                    self.push_federated(record, credential, now)?;
                }
            }
        }
        Ok(())
    }

    fn assertion_config(&self) -> Result<&crate::ClientAssertions, Error> {
        self.assertions.as_deref().ok_or_else(|| {
            Error::invalid(
                "token_endpoint_auth_method",
                "this registry accepts no client assertions: configure Registry::with_client_assertions",
            )
        })
    }

    /// A URL the registry may fetch keys from, as configured.
    fn check_fetchable(&self, field: &'static str, url: &str) -> Result<String, Error> {
        let config = self.assertion_config()?;
        config.policy.check_url(field, url)?;
        if config.transport.is_none() {
            return Err(Error::invalid(
                field,
                "no transport to fetch keys with: configure ClientAssertions::with_transport",
            ));
        }
        Ok(url.to_owned())
    }

    fn push_federated(
        &self,
        record: &mut ClientRecord,
        credential: &NewFederatedCredential,
        now: OffsetDateTime,
    ) -> Result<String, Error> {
        let config = self.assertion_config()?;
        if !config.policy.federated_issuers.contains(&credential.issuer) {
            return Err(Error::invalid(
                "federated",
                format!(
                    "issuer `{}` is not on the platform's allow-list (AssertionPolicy::allow_federated_issuer)",
                    credential.issuer
                ),
            ));
        }
        self.check_fetchable("federated", &credential.issuer)?;
        let field_ok =
            |s: &str| !s.is_empty() && s.len() <= 512 && !s.chars().any(char::is_control);
        if !field_ok(&credential.subject) || !field_ok(&credential.audience) {
            return Err(Error::invalid(
                "federated",
                "subject and audience must be 1 to 512 characters without control characters",
            ));
        }
        if record.auth.federated.len() >= MAX_CLIENT_KEYS {
            return Err(Error::invalid(
                "federated",
                format!("at most {MAX_CLIENT_KEYS} federated credentials per client"),
            ));
        }
        if record.auth.federated.iter().any(|f| {
            f.issuer == credential.issuer
                && f.subject == credential.subject
                && f.audience == credential.audience
        }) {
            return Err(Error::invalid(
                "federated",
                "this credential is already registered",
            ));
        }
        let id = format!(
            "fc-{}",
            now.unix_timestamp_nanos() / 1000 % 1_000_000_000_000
        );
        let id = if record.auth.federated.iter().any(|f| f.id == id) {
            format!("{id}-{}", record.auth.federated.len())
        } else {
            id
        };
        record.auth.federated.push(FederatedCredential {
            id: id.clone(),
            issuer: credential.issuer.clone(),
            subject: credential.subject.clone(),
            audience: credential.audience.clone(),
            created_at: now,
        });
        Ok(id)
    }
}

/// Checks a new key and appends it to `record`'s credentials; returns its
/// `kid`.
fn push_key(
    record: &mut ClientRecord,
    key: &NewClientKey,
    now: OffsetDateTime,
) -> Result<String, Error> {
    let verifying =
        VerifyingKey::from_jwk(&key.jwk).map_err(|e| Error::invalid("jwks", e.to_string()))?;
    let kid = verifying.kid().to_owned();
    if key.expires_at.is_some_and(|at| at <= now) {
        return Err(Error::invalid("jwks", "the key's expiry is in the past"));
    }
    if record.secrets.iter().filter(|s| s.is_key()).count() >= MAX_CLIENT_KEYS {
        return Err(Error::invalid(
            "jwks",
            format!("at most {MAX_CLIENT_KEYS} keys per client: remove an old one first"),
        ));
    }
    if record.secrets.iter().any(|s| s.secret_id == kid) {
        return Err(Error::invalid(
            "jwks",
            format!("a key with kid `{kid}` is already registered"),
        ));
    }
    let jwk = verifying
        .public_jwk()
        .ok_or_else(|| Error::invalid("jwks", "not a public key"))?;
    let label = crate::validate::name(&key.label).unwrap_or_else(|_| "key".to_owned());
    record.secrets.push(SecretRecord {
        secret_id: kid.clone(),
        hash: SecretHash::from_stored(SecretRecord::KEY_HASH),
        display_prefix: kid.chars().take(8).collect(),
        label,
        created_at: now,
        expires_at: key.expires_at,
        grace_until: None,
        revoked_at: None,
        last_used_at: None,
        warning_due: None,
        public_jwk: Some(
            serde_json::to_string(jwk).map_err(|e| Error::invalid("jwks", e.to_string()))?,
        ),
    });
    Ok(kid)
}
