//! What every lifecycle change shares: re-read, plan, commit with its audit
//! record (and the expiry-warning schedule), refuse with an audit record.

use clientcreds_secret::IssuedSecret;
use clientcreds_store::{
    AuditAction, AuditEvent, AuditOutcome, ClientRecord, ClientStatus, Commit, SecretRecord,
    StoreError, TenantId, Write,
};
use time::{Duration, OffsetDateTime};

use crate::view::{ClientView, Credentials};
use crate::warnings::schedule_warnings;
use crate::{Actor, ClientUpdate, Error, NewClient, Policy, SecretLifetime, validate};

use super::{MAX_ATTEMPTS, Planned, Registry};

impl Registry {
    /// Re-reads, re-plans and commits until the commit wins or the plan
    /// refuses.
    pub(super) async fn change<T>(
        &self,
        actor: &Actor,
        tenant: &TenantId,
        client_id: &str,
        action: AuditAction,
        expected_version: Option<u64>,
        plan: impl Fn(&ClientRecord, OffsetDateTime) -> Result<Planned<T>, Error>,
    ) -> Result<T, Error> {
        for _ in 0..MAX_ATTEMPTS {
            let now = self.now();
            let Some(record) = self.store.client(tenant, client_id).await? else {
                return self
                    .refuse(actor, tenant, Some(client_id), action, Error::NotFound)
                    .await;
            };
            if expected_version.is_some_and(|v| v != record.version) {
                return self
                    .refuse(actor, tenant, Some(client_id), action, Error::Conflict)
                    .await;
            }
            let planned = match plan(&record, now) {
                Ok(planned) => planned,
                Err(e) => return self.refuse(actor, tenant, Some(client_id), action, e).await,
            };
            let event = self.event(
                actor,
                tenant,
                Some(client_id),
                planned.action,
                AuditOutcome::Success,
                planned.detail,
                now,
            );
            let commit = planned
                .writes
                .into_iter()
                .map(|write| self.with_warnings(write, &record, now))
                .fold(Commit::new(event), Commit::with);
            match self.store.commit(commit).await {
                Ok(()) => return Ok(planned.output),
                Err(StoreError::Conflict) if expected_version.is_none() => {}
                Err(e) => {
                    return self
                        .refuse(actor, tenant, Some(client_id), action, e.into())
                        .await;
                }
            }
        }
        self.refuse(actor, tenant, Some(client_id), action, Error::Conflict)
            .await
    }

    /// The clock's instant, truncated to the microsecond: the precision
    /// every store keeps (see `clientcreds_store`).
    pub(crate) fn now(&self) -> OffsetDateTime {
        crate::clock::now_micros(self.clock.as_ref())
    }

    /// Schedules the expiry warnings of a write's record (see
    /// [`schedule_warnings`]); `read` is the record the change was planned
    /// from.
    fn with_warnings(&self, write: Write, read: &ClientRecord, now: OffsetDateTime) -> Write {
        let stages = &self.policy.warning_stages;
        match write {
            Write::Insert(mut record) => {
                schedule_warnings(&mut record, None, stages, now);
                Write::Insert(record)
            }
            Write::Update {
                expected_version,
                mut record,
            } => {
                let previous = (read.client_id == record.client_id).then_some(read);
                schedule_warnings(&mut record, previous, stages, now);
                Write::Update {
                    expected_version,
                    record,
                }
            }
            other => other,
        }
    }

    pub(super) fn planned_update(
        &self,
        record: &ClientRecord,
        mut next: ClientRecord,
        action: AuditAction,
        detail: Option<String>,
        now: OffsetDateTime,
    ) -> Planned<ClientView> {
        let write = Write::Update {
            expected_version: record.version,
            record: next.clone(),
        };
        next.version = record.version + 1;
        Planned {
            action,
            writes: vec![write],
            detail,
            output: ClientView::of(&next, now),
        }
    }

    pub(super) fn new_record(
        &self,
        actor: &Actor,
        tenant: &TenantId,
        new: &NewClient,
        now: OffsetDateTime,
    ) -> Result<ClientRecord, Error> {
        // Checked here so that a bad lifetime is refused before any write.
        self.secret_expiry(new.secret_lifetime, now)?;
        let record = ClientRecord {
            tenant: tenant.clone(),
            client_id: String::new(),
            name: validate::name(&new.name)?,
            description: validate::description(&new.description)?,
            owner: validate::owner(new.owner.as_deref())?,
            created_by: actor.user_id().to_owned(),
            scopes: validate::scopes(&new.scopes)?,
            audiences: validate::audiences(&new.audiences)?,
            extra_claims: validate::extra_claims(&new.extra_claims)?,
            token_lifetime_secs: validate::token_lifetime(new.token_lifetime_secs)?,
            status: ClientStatus::Active,
            grace_until: None,
            replaced_by: None,
            created_at: now,
            updated_at: now,
            last_used_at: None,
            version: 1,
            auth: clientcreds_store::AuthSettings {
                method: new.token_endpoint_auth_method,
                dpop_bound_access_tokens: new.dpop_bound_access_tokens,
                ..Default::default()
            },
            secrets: Vec::new(),
        };
        self.check_grants(
            tenant,
            &record.scopes,
            &record.audiences,
            record.extra_claims.keys(),
        )?;
        self.check_grant_bytes(&record, None)?;
        Ok(record)
    }

    /// Refuses a client whose scopes, audiences and extra claims together
    /// exceed [`Limits::max_grant_bytes`](crate::Limits::max_grant_bytes)
    /// as JSON, unless it is no larger than `before` (the record it
    /// replaces).
    pub(super) fn check_grant_bytes(
        &self,
        record: &ClientRecord,
        before: Option<&ClientRecord>,
    ) -> Result<(), Error> {
        let max = self.policy.limits.max_grant_bytes;
        let size = grant_bytes(record);
        if size <= max || before.is_some_and(|b| size <= grant_bytes(b)) {
            return Ok(());
        }
        Err(Error::invalid(
            "grants",
            format!(
                "scopes, audiences and extra claims take {size} bytes together; at most {max} (they travel in every token)"
            ),
        ))
    }

    /// Refuses one more client in `tenant` once it holds
    /// [`Limits::max_clients_per_tenant`](crate::Limits::max_clients_per_tenant).
    pub(super) async fn check_tenant_quota(&self, tenant: &TenantId) -> Result<(), Error> {
        let max = self.policy.limits.max_clients_per_tenant;
        if self.store.count_clients(tenant).await? >= max {
            return Err(Error::LimitReached {
                limit: "clients_per_tenant",
                max,
                hint: "delete clients that are no longer used",
            });
        }
        Ok(())
    }

    pub(super) fn issue_secret(
        &self,
        lifetime: SecretLifetime,
        now: OffsetDateTime,
        label: &str,
    ) -> Result<(SecretRecord, IssuedSecret), Error> {
        let expires_at = self.secret_expiry(lifetime, now)?;
        let issued = self.format.generate_secret()?;
        let record = SecretRecord {
            secret_id: issued.secret_id().as_str().to_owned(),
            hash: self.hasher.hash(issued.secret())?,
            display_prefix: issued.display_prefix().to_owned(),
            label: label.to_owned(),
            created_at: now,
            expires_at,
            grace_until: None,
            revoked_at: None,
            last_used_at: None,
            warning_due: None,
            public_jwk: None,
        };
        Ok((record, issued))
    }

    pub(super) fn secret_expiry(
        &self,
        lifetime: SecretLifetime,
        now: OffsetDateTime,
    ) -> Result<Option<OffsetDateTime>, Error> {
        let lifetime = match lifetime {
            SecretLifetime::PolicyDefault => self.policy.secret_lifetime,
            SecretLifetime::Never => None,
            SecretLifetime::After(d) => Some(d),
        };
        match (lifetime, self.policy.max_secret_lifetime) {
            (Some(d), _) if !d.is_positive() => {
                Err(Error::invalid("secret_lifetime", "must be positive"))
            }
            (Some(d), Some(max)) if d > max => Err(Error::invalid(
                "secret_lifetime",
                format!("must be at most {} seconds", max.whole_seconds()),
            )),
            (None, Some(_)) => Err(Error::invalid(
                "secret_lifetime",
                "the policy requires secrets to expire",
            )),
            (Some(d), _) => add(now, d, "secret_lifetime").map(Some),
            (None, None) => Ok(None),
        }
    }

    /// Refuses scopes or audiences the policy does not let `tenant` grant.
    pub(super) fn check_grants<'a>(
        &self,
        tenant: &TenantId,
        scopes: &[String],
        audiences: &[String],
        claims: impl IntoIterator<Item = &'a String>,
    ) -> Result<(), Error> {
        let grants = self.policy.grants_for(tenant);
        if let Some(claim) = claims.into_iter().find(|c| !grants.allows_claim(c)) {
            return Err(Error::invalid(
                "extra_claims",
                format!("`{claim}` is not a claim this tenant may grant"),
            ));
        }
        if let Some(scope) = scopes
            .iter()
            .find(|s| !grants.allows_scopes(std::slice::from_ref(s)))
        {
            return Err(Error::invalid(
                "scopes",
                format!("`{scope}` is not a scope this tenant may grant"),
            ));
        }
        if let Some(audience) = audiences
            .iter()
            .find(|a| !grants.allows_audiences(std::slice::from_ref(a)))
        {
            return Err(Error::invalid(
                "audiences",
                format!("`{audience}` is not an audience this tenant may grant"),
            ));
        }
        Ok(())
    }

    pub(super) async fn authorize(
        &self,
        actor: &Actor,
        tenant: &TenantId,
        client_id: Option<&str>,
        action: AuditAction,
    ) -> Result<(), Error> {
        if actor.may_access(tenant) {
            // An id this registry never issues names no client, and never
            // reaches the store (a NUL byte is an error on PostgreSQL).
            if client_id.is_some_and(|id| self.format.parse_client_id(id).is_err()) {
                return self
                    .refuse(actor, tenant, client_id, action, Error::NotFound)
                    .await;
            }
            Ok(())
        } else {
            self.refuse(actor, tenant, client_id, action, Error::NotFound)
                .await
        }
    }

    /// Records a refused action and returns its error. Reads are recorded
    /// only when refused for tenancy; a failing audit append does not hide
    /// the original error.
    pub(super) async fn refuse<T>(
        &self,
        actor: &Actor,
        tenant: &TenantId,
        client_id: Option<&str>,
        action: AuditAction,
        error: Error,
    ) -> Result<T, Error> {
        let tenancy = !actor.may_access(tenant);
        if action != AuditAction::Read || tenancy {
            let outcome = AuditOutcome::Refused {
                reason: error.audit_code(),
            };
            // Only an id of the right form reaches a record, whatever was sent.
            let client_id = client_id.filter(|id| self.format.parse_client_id(id).is_ok());
            // A refusal across tenants goes to the acting tenant's trail
            // (which it and the platform read), never into the target's:
            // a foreign administrator must not write there, nor learn
            // anything from it.
            let (trail, detail) = match actor {
                Actor::TenantAdmin { tenant: own, .. } if tenancy => {
                    (own, Some(format!("target_tenant={}", tenant.as_str())))
                }
                _ => (tenant, None),
            };
            let event = self.event(actor, trail, client_id, action, outcome, detail, self.now());
            let _ = self.store.append_audit(event).await;
        }
        Err(error)
    }

    #[expect(
        clippy::too_many_arguments,
        reason = "one audit event has this many parts"
    )]
    pub(super) fn event(
        &self,
        actor: &Actor,
        tenant: &TenantId,
        client_id: Option<&str>,
        action: AuditAction,
        outcome: AuditOutcome,
        detail: Option<String>,
        at: OffsetDateTime,
    ) -> AuditEvent {
        AuditEvent {
            at,
            actor: actor.audit(),
            tenant: tenant.clone(),
            client_id: client_id.map(str::to_owned),
            action,
            outcome,
            detail,
        }
    }
}

/// The JSON size of what a client's tokens carry from its record.
fn grant_bytes(record: &ClientRecord) -> usize {
    serde_json::to_vec(&(&record.scopes, &record.audiences, &record.extra_claims))
        .map_or(usize::MAX, |json| json.len())
}

pub(super) fn credentials(client_id: String, issued: IssuedSecret) -> Credentials {
    let secret_id = issued.secret_id();
    Credentials {
        client_id,
        client_secret: issued.into_secret(),
        secret_id,
    }
}

pub(super) fn add(
    now: OffsetDateTime,
    by: Duration,
    field: &'static str,
) -> Result<OffsetDateTime, Error> {
    now.checked_add(by)
        .ok_or_else(|| Error::invalid(field, "is out of range"))
}

pub(super) fn check_policy(policy: &Policy) -> Result<(), Error> {
    if policy.max_grace.is_negative() {
        return Err(Error::invalid("max_grace", "must not be negative"));
    }
    if policy.grace.is_negative() || policy.grace > policy.max_grace {
        return Err(Error::invalid("grace", "must be between 0 and max_grace"));
    }
    if policy.secret_lifetime.is_some_and(|d| !d.is_positive())
        || matches!((policy.secret_lifetime, policy.max_secret_lifetime), (Some(d), Some(max)) if d > max)
        || (policy.secret_lifetime.is_none() && policy.max_secret_lifetime.is_some())
    {
        return Err(Error::invalid(
            "secret_lifetime",
            "must be positive and within max_secret_lifetime",
        ));
    }
    let token = policy.token_lifetime.whole_seconds();
    if !(i64::from(validate::MIN_TOKEN_LIFETIME_SECS)
        ..=i64::from(validate::MAX_TOKEN_LIFETIME_SECS))
        .contains(&token)
    {
        return Err(Error::invalid(
            "token_lifetime",
            "must be 60 to 86400 seconds",
        ));
    }
    if policy
        .warning_stages
        .iter()
        .any(|d| *d > crate::policy::MAX_WARNING_STAGE_DAYS)
    {
        return Err(Error::invalid(
            "warning_stages",
            "must be 0 to 3650 days before expiry",
        ));
    }
    if policy.last_used_interval.is_negative() {
        return Err(Error::invalid("last_used_interval", "must not be negative"));
    }
    Ok(())
}

/// An update with every field checked.
pub(super) struct CheckedUpdate {
    pub(super) name: Option<String>,
    pub(super) description: Option<String>,
    pub(super) scopes: Option<Vec<String>>,
    pub(super) audiences: Option<Vec<String>>,
    pub(super) extra_claims:
        Option<std::collections::BTreeMap<String, clientcreds_store::ClaimValue>>,
    pub(super) token_lifetime_secs: Option<Option<u32>>,
    pub(super) status: Option<ClientStatus>,
    pub(super) dpop_bound_access_tokens: Option<bool>,
}

pub(super) fn check_update(update: &ClientUpdate) -> Result<CheckedUpdate, Error> {
    if update.status == Some(ClientStatus::Revoked) {
        return Err(Error::invalid("status", "use revoke to revoke a client"));
    }
    Ok(CheckedUpdate {
        name: update.name.as_deref().map(validate::name).transpose()?,
        description: update
            .description
            .as_deref()
            .map(validate::description)
            .transpose()?,
        scopes: update.scopes.as_deref().map(validate::scopes).transpose()?,
        audiences: update
            .audiences
            .as_deref()
            .map(validate::audiences)
            .transpose()?,
        extra_claims: update
            .extra_claims
            .as_ref()
            .map(validate::extra_claims)
            .transpose()?,
        token_lifetime_secs: update
            .token_lifetime_secs
            .map(validate::token_lifetime)
            .transpose()?,
        status: update.status,
        dpop_bound_access_tokens: update.dpop_bound_access_tokens,
    })
}
