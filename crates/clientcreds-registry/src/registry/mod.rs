//! The registry: every administrative operation (here), authentication
//! (`auth.rs`), and the planning and committing they share (`plan.rs`).

mod assertion_auth;
mod auth;
mod client_keys;
mod plan;

pub use client_keys::{MAX_CLIENT_KEYS, NewClientAuth, NewClientKey, NewFederatedCredential};
mod retention;
mod usage;

pub use retention::{DEFAULT_ACTIVITY_RETENTION, DEFAULT_COUNT_RETENTION};

use std::fmt;
use std::sync::Arc;

use clientcreds_secret::{CredentialFormat, SecretHasher};
use clientcreds_store::{
    ActivityQuery, ActivityRecord, AuditAction, AuditOutcome, AuditQuery, AuditRecord, AuthView,
    ClientQuery, ClientStatus, Commit, Cursor, SecretState, Store, StoreError, TenantId, Write,
};

use self::plan::{add, check_policy, check_update, credentials};
use crate::view::{ClientList, ClientView, Issued};
use crate::warnings::schedule_warnings;
use crate::{
    Actor, AuthThrottle, ClientUpdate, Clock, Error, ListQuery, MemoryThrottle, NewClient, Policy,
    RotateOptions, RotationMode, SystemClock,
};

/// How often a lifecycle change is re-planned after losing a race to a
/// concurrent change of the same client.
const MAX_ATTEMPTS: usize = 32;
/// Largest page a listing may ask for.
pub const MAX_PAGE_SIZE: usize = 500;

/// The OAuth client registry: create, read, list, update, rotate, end a
/// grace window, revoke, delete, and authenticate.
///
/// Every administrative call names an [`Actor`] and a tenant; a tenant
/// administrator acting on another tenant sees [`Error::NotFound`], exactly
/// as for a client that does not exist. Every change is committed together
/// with its audit record, after re-reading the client and re-checking the
/// rules, so concurrent changes serialize without lost updates.
///
/// ```
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// use std::sync::Arc;
/// use clientcreds_registry::{Actor, NewClient, Policy, Registry, RotateOptions};
/// use clientcreds_secret::{PepperKey, SecretHasher};
/// use clientcreds_store::{MemoryStore, TenantId};
///
/// let hasher = SecretHasher::hmac_sha256(PepperKey::new("k1", &[7; 32])?)?;
/// let registry = Registry::new(Arc::new(MemoryStore::new()), hasher, Policy::default().with_prefix("acme_"))?;
/// let tenant = TenantId::new("tenant-1")?;
/// let admin = Actor::tenant_admin(tenant.clone(), "alice");
///
/// let issued = registry.create(&admin, &tenant, NewClient::named("billing-sync").with_scopes(["invoices:read"])).await?;
/// let creds = &issued.credentials;
/// let client = registry.authenticate(&creds.client_id, &creds.client_secret).await?;
/// assert_eq!(client.scopes(), ["invoices:read"]);
///
/// let rotated = registry.rotate(&admin, &tenant, &creds.client_id, RotateOptions::default()).await?;
/// // Within the grace window both secrets work.
/// registry.authenticate(&creds.client_id, &creds.client_secret).await?;
/// registry.authenticate(&rotated.credentials.client_id, &rotated.credentials.client_secret).await?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// # }).unwrap();
/// ```
pub struct Registry {
    store: Arc<dyn Store>,
    hasher: SecretHasher,
    format: CredentialFormat,
    clock: Arc<dyn Clock>,
    policy: Policy,
    throttle: Arc<dyn AuthThrottle>,
    /// What an unknown client id is checked against (equal work).
    dummy: Arc<AuthView>,
    /// What an unknown client's assertion is checked against (equal work).
    dummy_keys: Vec<clientcreds_jwt::VerifyingKey>,
    /// Client assertions, when configured.
    assertions: Option<Arc<crate::ClientAssertions>>,
    /// Held from counting a tenant's clients to committing a new one, so
    /// that this registry's concurrent creates cannot overshoot the
    /// tenant quota together.
    inserts: tokio::sync::Mutex<()>,
}

impl fmt::Debug for Registry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Registry")
            .field("store", &self.store)
            .field("hasher", &self.hasher)
            .field("clock", &self.clock)
            .field("policy", &self.policy)
            .field("throttle", &self.throttle)
            .finish_non_exhaustive()
    }
}

/// What a lifecycle plan decided: the writes, their audit action and
/// detail, and what the caller gets back once they are committed.
struct Planned<T> {
    action: AuditAction,
    writes: Vec<Write>,
    detail: Option<String>,
    output: T,
}

impl<T> Planned<T> {
    /// The same plan with `f` applied to what the caller gets back.
    fn map_output<U>(self, f: impl FnOnce(T) -> U) -> Planned<U> {
        Planned {
            action: self.action,
            writes: self.writes,
            detail: self.detail,
            output: f(self.output),
        }
    }
}

impl Registry {
    /// A registry on `store`, hashing with `hasher`, under `policy`, reading
    /// the system clock.
    ///
    /// # Errors
    /// [`Error::Invalid`] naming the policy field that is out of range
    /// (`prefix`, `grace`, `max_grace`, `token_lifetime`, ...).
    pub fn new(store: Arc<dyn Store>, hasher: SecretHasher, policy: Policy) -> Result<Self, Error> {
        let format = CredentialFormat::new(&policy.prefix)
            .map_err(|e| Error::invalid("prefix", e.to_string()))?;
        check_policy(&policy)?;
        let dummy = Arc::new(AuthView::from(auth::dummy_record(&policy.prefix)?));
        Ok(Self {
            store,
            hasher,
            format,
            clock: Arc::new(SystemClock),
            policy,
            throttle: Arc::new(MemoryThrottle::default()),
            dummy,
            dummy_keys: dummy_keys()?,
            assertions: None,
            inserts: tokio::sync::Mutex::new(()),
        })
    }

    /// Replaces the failure throttle (default: a [`MemoryThrottle`] with
    /// [`ThrottleLimits::default`](crate::ThrottleLimits::default)).
    #[must_use]
    pub fn with_throttle(mut self, throttle: Arc<dyn AuthThrottle>) -> Self {
        self.throttle = throttle;
        self
    }

    /// Replaces the clock (tests use a [`ManualClock`](crate::ManualClock)).
    #[must_use]
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// The policy in force.
    #[must_use]
    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// The store.
    #[must_use]
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    /// The clock.
    #[must_use]
    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.clock
    }

    /// Creates a client with its first secret. The returned credentials are
    /// the only time the secret exists in plaintext.
    ///
    /// # Errors
    /// [`Error::NotFound`] if the actor may not act on `tenant`;
    /// [`Error::Invalid`] naming the bad field; [`Error::Store`].
    pub async fn create(
        &self,
        actor: &Actor,
        tenant: &TenantId,
        new: NewClient,
    ) -> Result<Issued, Error> {
        self.authorize(actor, tenant, None, AuditAction::Create)
            .await?;
        let now = self.now();
        let record = if new.token_endpoint_auth_method.uses_secret() {
            self.new_record(actor, tenant, &new, now)
        } else {
            Err(Error::invalid(
                "token_endpoint_auth_method",
                "a client without a secret is made with create_with_keys",
            ))
        };
        let record = match record {
            Ok(record) => record,
            Err(e) => {
                return self
                    .refuse(actor, tenant, None, AuditAction::Create, e)
                    .await;
            }
        };
        let _inserting = self.inserts.lock().await;
        if let Err(e) = self.check_tenant_quota(tenant).await {
            return self
                .refuse(actor, tenant, None, AuditAction::Create, e)
                .await;
        }
        for _ in 0..MAX_ATTEMPTS {
            let client_id = self.format.generate_client_id()?.into_string();
            let (secret, issued) = self.issue_secret(new.secret_lifetime, now, "initial")?;
            let mut record = record.clone();
            record.client_id.clone_from(&client_id);
            record.secrets.push(secret);
            schedule_warnings(&mut record, None, &self.policy.warning_stages, now);
            let event = self.event(
                actor,
                tenant,
                Some(&client_id),
                AuditAction::Create,
                AuditOutcome::Success,
                Some(format!("secret_id={}", issued.secret_id())),
                now,
            );
            match self
                .store
                .commit(Commit::new(event).with(Write::Insert(record.clone())))
                .await
            {
                Ok(()) => {
                    record.version = 1;
                    return Ok(Issued {
                        client: ClientView::of(&record, now),
                        credentials: credentials(client_id, issued),
                    });
                }
                // A 119-bit collision: draw again.
                Err(StoreError::Duplicate) => {}
                Err(e) => return Err(e.into()),
            }
        }
        Err(Error::Conflict)
    }

    /// One client.
    ///
    /// # Errors
    /// [`Error::NotFound`] if absent or not visible to the actor; [`Error::Store`].
    pub async fn get(
        &self,
        actor: &Actor,
        tenant: &TenantId,
        client_id: &str,
    ) -> Result<ClientView, Error> {
        self.authorize(actor, tenant, Some(client_id), AuditAction::Read)
            .await?;
        let record = self
            .store
            .client(tenant, client_id)
            .await?
            .ok_or(Error::NotFound)?;
        Ok(ClientView::of(&record, self.now()))
    }

    /// One page of a tenant's clients, filtered and searched.
    ///
    /// # Errors
    /// [`Error::NotFound`] if the actor may not see the tenant;
    /// [`Error::Invalid`] for a bad `limit` or `cursor`; [`Error::Store`].
    pub async fn list(
        &self,
        actor: &Actor,
        tenant: &TenantId,
        query: ListQuery,
    ) -> Result<ClientList, Error> {
        self.authorize(actor, tenant, None, AuditAction::Read)
            .await?;
        if !(1..=MAX_PAGE_SIZE).contains(&query.limit) {
            return Err(Error::invalid(
                "limit",
                format!("must be 1 to {MAX_PAGE_SIZE}"),
            ));
        }
        let now = self.now();
        let store_query = ClientQuery {
            tenant: tenant.clone(),
            now,
            status: query.status,
            search: query.search.filter(|s| !s.is_empty()),
            owner: query.owner,
            limit: query.limit,
            after: query.cursor.map(Cursor::from_text),
        };
        let page = self.store.list(&store_query).await.map_err(|e| match e {
            StoreError::InvalidCursor => Error::invalid("cursor", "not a cursor from this listing"),
            other => other.into(),
        })?;
        Ok(ClientList {
            clients: page
                .clients
                .iter()
                .map(|r| ClientView::of(r, now))
                .collect(),
            next_cursor: page.next.map(|c| c.as_str().to_owned()),
        })
    }

    /// Changes name, description, scopes, audiences, claims, token
    /// lifetime, or status (active ⇄ inactive).
    ///
    /// # Errors
    /// [`Error::NotFound`]; [`Error::Invalid`]; [`Error::Revoked`] (a revoked
    /// client is never changed again); [`Error::Conflict`] when
    /// `expected_version` no longer matches; [`Error::Store`].
    pub async fn update(
        &self,
        actor: &Actor,
        tenant: &TenantId,
        client_id: &str,
        update: ClientUpdate,
    ) -> Result<ClientView, Error> {
        self.authorize(actor, tenant, Some(client_id), AuditAction::Update)
            .await?;
        let checked = match check_update(&update) {
            Ok(checked) => checked,
            Err(e) => {
                return self
                    .refuse(actor, tenant, Some(client_id), AuditAction::Update, e)
                    .await;
            }
        };
        self.change(
            actor,
            tenant,
            client_id,
            AuditAction::Update,
            update.expected_version,
            |record, now| {
                if record.status == ClientStatus::Revoked {
                    return Err(Error::Revoked);
                }
                self.check_grants(
                    tenant,
                    checked.scopes.as_deref().unwrap_or_default(),
                    checked.audiences.as_deref().unwrap_or_default(),
                    checked.extra_claims.iter().flat_map(|c| c.keys()),
                )?;
                let mut next = record.clone();
                if let Some(name) = &checked.name {
                    next.name.clone_from(name);
                }
                if let Some(description) = &checked.description {
                    next.description.clone_from(description);
                }
                if let Some(scopes) = &checked.scopes {
                    next.scopes.clone_from(scopes);
                }
                if let Some(audiences) = &checked.audiences {
                    next.audiences.clone_from(audiences);
                }
                if let Some(claims) = &checked.extra_claims {
                    next.extra_claims.clone_from(claims);
                }
                if let Some(lifetime) = checked.token_lifetime_secs {
                    next.token_lifetime_secs = lifetime;
                }
                if let Some(bound) = checked.dpop_bound_access_tokens {
                    next.auth.dpop_bound_access_tokens = bound;
                }
                self.check_grant_bytes(&next, Some(record))?;
                let action = match next_status(actor, record.status, checked.status)? {
                    Some(status) => {
                        next.status = status;
                        if status == ClientStatus::Active {
                            AuditAction::Reactivate
                        } else {
                            AuditAction::Deactivate
                        }
                    }
                    None => AuditAction::Update,
                };
                // The trail tells a suspension (and its lifting) apart.
                let detail = (next.status == ClientStatus::Suspended
                    || record.status == ClientStatus::Suspended)
                    .then(|| format!("status={}", next.status.as_str()));
                next.updated_at = now;
                Ok(self.planned_update(record, next, action, detail, now))
            },
        )
        .await
    }

    /// Rotates: a new secret for the same client, or a whole new client,
    /// with the old credential kept alive for a grace window.
    ///
    /// With [`RotationMode::ReplaceSecret`], every secret still usable gets
    /// the window (never lengthened if it already had a shorter one), and
    /// secrets that can no longer authenticate are pruned from the record,
    /// so a client holds at most the secrets of its open windows plus the
    /// new one. With [`RotationMode::ReplaceClient`], the successor copies
    /// the client's settings and status (an inactive client's successor is
    /// inactive too) and the old client points at it through `replaced_by`.
    ///
    /// # Errors
    /// [`Error::NotFound`]; [`Error::Revoked`]; [`Error::AlreadyReplaced`]
    /// (rotate the successor instead); [`Error::Invalid`] for a grace window
    /// over the policy's maximum or a bad lifetime; [`Error::Store`].
    pub async fn rotate(
        &self,
        actor: &Actor,
        tenant: &TenantId,
        client_id: &str,
        options: RotateOptions,
    ) -> Result<Issued, Error> {
        self.authorize(actor, tenant, Some(client_id), AuditAction::Rotate)
            .await?;
        let mode = options.mode.unwrap_or(self.policy.rotation);
        let grace = options.grace.unwrap_or(self.policy.grace);
        if grace.is_negative() || grace > self.policy.max_grace {
            let e = Error::invalid(
                "grace",
                format!(
                    "must be between 0 and {} seconds",
                    self.policy.max_grace.whole_seconds()
                ),
            );
            return self
                .refuse(actor, tenant, Some(client_id), AuditAction::Rotate, e)
                .await;
        }
        // A rotation into a new client adds one to the tenant.
        let _inserting = match mode {
            RotationMode::ReplaceClient => {
                let guard = self.inserts.lock().await;
                if let Err(e) = self.check_tenant_quota(tenant).await {
                    return self
                        .refuse(actor, tenant, Some(client_id), AuditAction::Rotate, e)
                        .await;
                }
                Some(guard)
            }
            RotationMode::ReplaceSecret => None,
        };
        let max_secrets = self.policy.limits.max_secrets_per_client;
        self.change(
            actor,
            tenant,
            client_id,
            AuditAction::Rotate,
            None,
            |record, now| {
                if record.status == ClientStatus::Revoked {
                    return Err(Error::Revoked);
                }
                if let Some(successor) = &record.replaced_by {
                    return Err(Error::AlreadyReplaced {
                        replaced_by: successor.clone(),
                    });
                }
                if !record.auth.method.uses_secret() {
                    return Err(Error::invalid(
                        "token_endpoint_auth_method",
                        "a client without a secret rotates its keys: add the new key, then remove the old one",
                    ));
                }
                let grace_end = add(now, grace, "grace")?;
                let (secret, issued) =
                    self.issue_secret(options.secret_lifetime, now, "rotation")?;
                match mode {
                    RotationMode::ReplaceSecret => {
                        let mut next = record.clone();
                        next.secrets.retain(|s| s.state(now).is_usable());
                        for old in &mut next.secrets {
                            old.grace_until =
                                Some(old.grace_until.map_or(grace_end, |g| g.min(grace_end)));
                        }
                        // What still authenticates once the new one is in
                        // (a zero grace window closes the old ones now).
                        let usable = next
                            .secrets
                            .iter()
                            .filter(|s| s.state(now).is_usable())
                            .count();
                        if usable >= max_secrets {
                            return Err(Error::LimitReached {
                                limit: "secrets_per_client",
                                max: u64::try_from(max_secrets).unwrap_or(u64::MAX),
                                hint: "end the grace window of the older secrets, or rotate with a zero grace window",
                            });
                        }
                        let detail = Some(format!(
                            "mode=replace_secret secret_id={} grace_seconds={}",
                            issued.secret_id(),
                            grace.whole_seconds()
                        ));
                        next.secrets.push(secret);
                        next.updated_at = now;
                        let planned =
                            self.planned_update(record, next, AuditAction::Rotate, detail, now);
                        let client = planned.output;
                        Ok(Planned {
                            action: planned.action,
                            writes: planned.writes,
                            detail: planned.detail,
                            output: Issued {
                                client,
                                credentials: credentials(record.client_id.clone(), issued),
                            },
                        })
                    }
                    RotationMode::ReplaceClient => {
                        let successor_id = self.format.generate_client_id()?.into_string();
                        let mut successor = record.clone();
                        successor.client_id.clone_from(&successor_id);
                        successor.created_by = actor.user_id().to_owned();
                        successor.created_at = now;
                        successor.updated_at = now;
                        successor.last_used_at = None;
                        successor.grace_until = None;
                        successor.replaced_by = None;
                        successor.version = 1;
                        successor.secrets = vec![secret];
                        let mut old = record.clone();
                        old.grace_until = Some(grace_end);
                        old.replaced_by = Some(successor_id.clone());
                        old.updated_at = now;
                        let detail = Some(format!(
                            "mode=replace_client replaced_by={successor_id} grace_seconds={}",
                            grace.whole_seconds()
                        ));
                        Ok(Planned {
                            action: AuditAction::Rotate,
                            writes: vec![
                                Write::Update {
                                    expected_version: record.version,
                                    record: old,
                                },
                                Write::Insert(successor.clone()),
                            ],
                            detail,
                            output: Issued {
                                client: ClientView::of(&successor, now),
                                credentials: credentials(successor_id, issued),
                            },
                        })
                    }
                }
            },
        )
        .await
    }

    /// Closes a rotation's grace window now: the rotated-out client, or the
    /// client's rotated-out secrets, stop authenticating at once.
    ///
    /// # Errors
    /// [`Error::NotFound`]; [`Error::Revoked`]; [`Error::NoGraceWindow`]
    /// when nothing is in a grace window; [`Error::Store`].
    pub async fn end_grace(
        &self,
        actor: &Actor,
        tenant: &TenantId,
        client_id: &str,
    ) -> Result<ClientView, Error> {
        self.authorize(actor, tenant, Some(client_id), AuditAction::EndGrace)
            .await?;
        self.change(
            actor,
            tenant,
            client_id,
            AuditAction::EndGrace,
            None,
            |record, now| {
                if record.status == ClientStatus::Revoked {
                    return Err(Error::Revoked);
                }
                let mut next = record.clone();
                let mut closed = 0;
                // Only windows still open: an expired secret stays expired.
                for secret in &mut next.secrets {
                    if matches!(secret.state(now), SecretState::Expiring { .. }) {
                        secret.grace_until = Some(now);
                        closed += 1;
                    }
                }
                if next.grace_until.is_some_and(|g| g > now) {
                    next.grace_until = Some(now);
                    closed += 1;
                }
                if closed == 0 {
                    return Err(Error::NoGraceWindow);
                }
                next.updated_at = now;
                Ok(self.planned_update(record, next, AuditAction::EndGrace, None, now))
            },
        )
        .await
    }

    /// Revokes a client and all its secrets, for good.
    ///
    /// # Errors
    /// [`Error::NotFound`]; [`Error::Revoked`] if already revoked; [`Error::Store`].
    pub async fn revoke(
        &self,
        actor: &Actor,
        tenant: &TenantId,
        client_id: &str,
    ) -> Result<ClientView, Error> {
        self.authorize(actor, tenant, Some(client_id), AuditAction::Revoke)
            .await?;
        self.change(
            actor,
            tenant,
            client_id,
            AuditAction::Revoke,
            None,
            |record, now| {
                if record.status == ClientStatus::Revoked {
                    return Err(Error::Revoked);
                }
                let mut next = record.clone();
                next.status = ClientStatus::Revoked;
                for secret in &mut next.secrets {
                    secret.revoked_at.get_or_insert(now);
                }
                next.updated_at = now;
                Ok(self.planned_update(record, next, AuditAction::Revoke, None, now))
            },
        )
        .await
    }

    /// Deletes a client and its secrets. Its audit records remain.
    ///
    /// # Errors
    /// [`Error::NotFound`]; [`Error::Store`].
    pub async fn delete(
        &self,
        actor: &Actor,
        tenant: &TenantId,
        client_id: &str,
    ) -> Result<(), Error> {
        self.authorize(actor, tenant, Some(client_id), AuditAction::Delete)
            .await?;
        self.change(
            actor,
            tenant,
            client_id,
            AuditAction::Delete,
            None,
            |record, _| {
                Ok(Planned {
                    action: AuditAction::Delete,
                    writes: vec![Write::Delete {
                        client_id: record.client_id.clone(),
                        expected_version: record.version,
                    }],
                    detail: None,
                    output: (),
                })
            },
        )
        .await
    }

    /// The checks shared by the audit and activity reads: the actor may
    /// read the tenant, and `limit` is a page size. `false` when
    /// `client_id` is one this registry never issues: it has no records,
    /// and never reaches the store.
    async fn authorize_log_read(
        &self,
        actor: &Actor,
        tenant: &TenantId,
        client_id: Option<&str>,
        limit: usize,
    ) -> Result<bool, Error> {
        let malformed = client_id.is_some_and(|id| self.format.parse_client_id(id).is_err());
        self.authorize(
            actor,
            tenant,
            client_id.filter(|_| !malformed),
            AuditAction::Read,
        )
        .await?;
        if malformed {
            return Ok(false);
        }
        if !(1..=MAX_PAGE_SIZE).contains(&limit) {
            return Err(Error::invalid(
                "limit",
                format!("must be 1 to {MAX_PAGE_SIZE}"),
            ));
        }
        Ok(true)
    }

    /// A platform admin's read of a tenant's activity is itself audited
    /// (`what` is the audit detail); a tenant's own admins' reads are not.
    async fn audit_platform_read(
        &self,
        actor: &Actor,
        tenant: &TenantId,
        client_id: Option<&str>,
        what: &str,
    ) -> Result<(), Error> {
        if matches!(actor, Actor::PlatformAdmin { .. }) {
            let event = self.event(
                actor,
                tenant,
                client_id,
                AuditAction::Read,
                AuditOutcome::Success,
                Some(what.to_owned()),
                self.now(),
            );
            self.store.append_audit(event).await?;
        }
        Ok(())
    }

    /// A tenant's audit trail, oldest first, after `after_seq`.
    ///
    /// # Errors
    /// [`Error::NotFound`] if the actor may not see the tenant;
    /// [`Error::Invalid`] for a bad `limit`; [`Error::Store`].
    pub async fn audit(
        &self,
        actor: &Actor,
        tenant: &TenantId,
        client_id: Option<&str>,
        after_seq: Option<u64>,
        limit: usize,
    ) -> Result<Vec<AuditRecord>, Error> {
        if !self
            .authorize_log_read(actor, tenant, client_id, limit)
            .await?
        {
            return Ok(Vec::new());
        }
        let query = AuditQuery {
            tenant: tenant.clone(),
            client_id: client_id.map(str::to_owned),
            after_seq,
            limit,
        };
        Ok(self.store.audit(&query).await?)
    }

    /// A tenant's token activity (or one client's), oldest first, after
    /// `after_seq`.
    ///
    /// A read by someone outside the tenant (a platform administrator) is
    /// recorded in the tenant's audit trail first (action
    /// [`AuditAction::Read`], detail `activity`), so the tenant sees who
    /// looked; if that record cannot be written, nothing is read.
    ///
    /// A `client_id` this registry never issues has no records.
    ///
    /// # Errors
    /// [`Error::NotFound`] if the actor may not see the tenant;
    /// [`Error::Invalid`] for a bad `limit`; [`Error::Store`].
    pub async fn activity(
        &self,
        actor: &Actor,
        tenant: &TenantId,
        client_id: Option<&str>,
        after_seq: Option<u64>,
        limit: usize,
    ) -> Result<Vec<ActivityRecord>, Error> {
        if !self
            .authorize_log_read(actor, tenant, client_id, limit)
            .await?
        {
            return Ok(Vec::new());
        }
        self.audit_platform_read(actor, tenant, client_id, "activity")
            .await?;
        let query = ActivityQuery {
            tenant: tenant.clone(),
            client_id: client_id.map(str::to_owned),
            after_seq,
            limit,
        };
        Ok(self.store.activity(&query).await?)
    }
}

/// The status an update moves a client to (`None`: unchanged). A platform
/// administrator's (or the system's) deactivation is a suspension, which
/// only they can lift; a tenant administrator's is plain `Inactive`.
fn next_status(
    actor: &Actor,
    current: ClientStatus,
    asked: Option<ClientStatus>,
) -> Result<Option<ClientStatus>, Error> {
    let platform = !matches!(actor, Actor::TenantAdmin { .. });
    let next = match asked {
        None => return Ok(None),
        Some(ClientStatus::Revoked) => {
            return Err(Error::invalid("status", "use revoke to revoke a client"));
        }
        Some(ClientStatus::Active) if current == ClientStatus::Suspended && !platform => {
            return Err(Error::Suspended);
        }
        // A tenant administrator cannot turn a suspension into a plain
        // deactivation (which it could then lift).
        Some(ClientStatus::Inactive) if current == ClientStatus::Suspended => return Ok(None),
        Some(ClientStatus::Inactive | ClientStatus::Suspended) if platform => {
            ClientStatus::Suspended
        }
        Some(ClientStatus::Suspended) => {
            return Err(Error::invalid(
                "status",
                "only a platform administrator can suspend a client",
            ));
        }
        Some(status) => status,
    };
    Ok((next != current).then_some(next))
}

/// One throwaway key per algorithm an unknown client's assertion may use
/// (the backends generate EdDSA and ECDSA keys; RSA keys are loaded only).
fn dummy_keys() -> Result<Vec<clientcreds_jwt::VerifyingKey>, Error> {
    use clientcreds_jwt::{Algorithm, SigningKey};
    [Algorithm::EdDSA, Algorithm::ES256, Algorithm::ES384]
        .into_iter()
        .map(|alg| {
            SigningKey::generate(alg)
                .map(|k| k.verifying_key().clone())
                .map_err(|e| Error::invalid("dummy key", e.to_string()))
        })
        .collect()
}
