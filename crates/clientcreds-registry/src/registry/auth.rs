//! Authentication: one hash per attempt, and the advisory last-used write.

use clientcreds_secret::{Secret, SecretHash, Verification};
use clientcreds_store::{
    AuthSecret, AuthView, ClientRecord, ClientStatus, SecretRecord, SecretState, SecretUse,
    TenantId,
};
use std::collections::BTreeMap;
use time::{Duration, OffsetDateTime};

use crate::view::AuthenticatedClient;
use crate::{AuthFailure, Error, Source};

use super::Registry;

impl Registry {
    /// Checks a presented client id and secret.
    ///
    /// The secret's text names its record, so exactly one hash is checked;
    /// an unknown client or secret id costs the same dummy check, and an
    /// unknown client id goes on with a shared dummy view, so timing
    /// tells neither whether a client exists nor whether a secret id is
    /// one of its own. Malformed text is refused before any lookup. The
    /// client's state is judged only after the secret matched. On success,
    /// an outdated hash is replaced and the last-used times are written (at
    /// most once per
    /// [`Policy::last_used_interval`](crate::Policy::last_used_interval));
    /// that write is advisory and its failure never fails the
    /// authentication.
    ///
    /// Without a source, the [`AuthThrottle`](crate::AuthThrottle) cannot
    /// tell callers apart: use [`Registry::authenticate_from`] wherever the
    /// caller's address is known.
    ///
    /// # Errors
    /// [`Error::Authentication`] with the reason; [`Error::Credential`] when
    /// the stored hash cannot be checked (e.g. its pepper is not
    /// configured); [`Error::Store`].
    pub async fn authenticate(
        &self,
        client_id: &str,
        secret: &Secret,
    ) -> Result<AuthenticatedClient, Error> {
        self.authenticate_from(client_id, secret, None).await
    }

    /// [`Registry::authenticate`] for a caller at `source` (its address as
    /// the host knows it, see [`Source`]): the registry's
    /// [`AuthThrottle`](crate::AuthThrottle) runs before the lookup and the
    /// hash, and refuses with [`AuthFailure::Throttled`] a source that
    /// failed too often. A secret that matched but may not authenticate
    /// (revoked, expired, rotated out, or of a client that is not active)
    /// counts as a failure, never as a success.
    ///
    /// # Errors
    /// As [`Registry::authenticate`].
    pub async fn authenticate_from(
        &self,
        client_id: &str,
        secret: &Secret,
        source: Option<Source>,
    ) -> Result<AuthenticatedClient, Error> {
        self.authenticate_with_tenant(client_id, secret, source)
            .await
            .map_err(|(_, e)| e)
    }

    /// [`Registry::authenticate_from`], with the client's tenant beside a
    /// refusal that came after the secret matched (for the activity log).
    pub(crate) async fn authenticate_with_tenant(
        &self,
        client_id: &str,
        secret: &Secret,
        source: Option<Source>,
    ) -> Result<AuthenticatedClient, (Option<TenantId>, Error)> {
        let now = self.now();
        let deny = |failure| Err((None, Error::Authentication(failure)));
        let guessed = |failure| {
            self.throttle.failed(client_id, source, now);
            deny(failure)
        };
        // First of all: a throttled attempt costs no lookup and no hash.
        if let Err(retry_after) = self.throttle.admit(client_id, source, now) {
            return deny(AuthFailure::Throttled { retry_after });
        }
        if self.format.parse_client_id(client_id).is_err() {
            return guessed(AuthFailure::UnknownClient);
        }
        let Ok(secret_id) = self.format.parse_secret(secret) else {
            return guessed(AuthFailure::BadSecret);
        };
        let found = self
            .store
            .authentication_view(client_id)
            .await
            .map_err(|e| (None, e.into()))?;
        // An unknown id does the work of a known one: it takes a shared
        // view of the usual shape, whose secret ids no presented secret
        // can name.
        let (view, known) = match found {
            Some(view) => (view, true),
            None => (self.dummy.clone(), false),
        };
        let Some(position) = view
            .secrets
            .iter()
            .position(|s| s.public_jwk.is_none() && s.secret_id == secret_id.as_str())
        else {
            let _ = self.hasher.verify_dummy(secret);
            return guessed(if known {
                AuthFailure::BadSecret
            } else {
                AuthFailure::UnknownClient
            });
        };
        let Some(stored) = view.secrets.get(position) else {
            return guessed(AuthFailure::BadSecret);
        };
        let verdict = self
            .hasher
            .verify(secret, &stored.hash)
            .map_err(|e| (None, e.into()))?;
        if !verdict.is_valid() {
            return guessed(AuthFailure::BadSecret);
        }
        // The secret matched: from here on the tenant may be named. A
        // secret or client that may not authenticate is a failure for the
        // throttle: whoever holds a dead secret gains nothing from it.
        let deny = |failure| {
            self.throttle.failed(client_id, source, now);
            Err((Some(view.tenant.clone()), Error::Authentication(failure)))
        };
        // A client registered for keys keeps no working secret, even one
        // left from before it switched: the same work, then the refusal.
        if !view.auth.method.uses_secret() {
            return deny(AuthFailure::MethodNotAllowed);
        }
        if let Err(failure) = client_standing(&view, now) {
            return deny(failure);
        }
        match stored.state(now) {
            SecretState::Active | SecretState::Expiring { .. } => {}
            SecretState::GraceEnded => return deny(AuthFailure::GraceEnded),
            SecretState::Expired => return deny(AuthFailure::Expired),
            SecretState::Revoked => return deny(AuthFailure::Revoked),
        }
        self.throttle.succeeded(client_id, source, now);
        self.record_use(&view, stored, secret, verdict, now).await;
        let token_lifetime = view
            .token_lifetime_secs
            .map_or(self.policy.token_lifetime, |s| {
                Duration::seconds(i64::from(s))
            });
        // The view is shared, not copied (this is the token endpoint's
        // hot path).
        Ok(AuthenticatedClient::new(
            view,
            Some(position),
            token_lifetime,
        ))
    }

    /// The advisory write after a successful authentication.
    async fn record_use(
        &self,
        record: &AuthView,
        stored: &AuthSecret,
        secret: &Secret,
        verdict: Verification,
        now: OffsetDateTime,
    ) {
        let rehash = if verdict == Verification::ValidNeedsRehash {
            self.hasher.hash(secret).ok()
        } else {
            None
        };
        let due = stored
            .last_used_at
            .is_none_or(|last| now - last >= self.policy.last_used_interval);
        if rehash.is_none() && !due {
            return;
        }
        let usage = SecretUse {
            tenant: record.tenant.clone(),
            client_id: record.client_id.clone(),
            secret_id: stored.secret_id.clone(),
            at: now,
            rehash,
        };
        // Advisory: a failure here must not fail the caller's token.
        let _ = self.store.record_use(&usage).await;
    }
}

/// Whether a client whose credential verified may authenticate at `now`:
/// active, and not rotated out past its grace window (the one rule of
/// secrets and assertions).
pub(super) fn client_standing(view: &AuthView, now: OffsetDateTime) -> Result<(), AuthFailure> {
    match view.status {
        ClientStatus::Revoked => Err(AuthFailure::Revoked),
        ClientStatus::Inactive | ClientStatus::Suspended => Err(AuthFailure::Inactive),
        ClientStatus::Active if view.grace_until.is_some_and(|g| g <= now) => {
            Err(AuthFailure::GraceEnded)
        }
        ClientStatus::Active => Ok(()),
    }
}

/// The record an unknown client id is checked against: the shape of a
/// typical client (two secrets, a few scopes), with secret ids that the
/// credential format never produces, so no presented secret names one.
pub(super) fn dummy_record(prefix: &str) -> Result<ClientRecord, Error> {
    let at = OffsetDateTime::UNIX_EPOCH;
    let secret = |n: u8| SecretRecord {
        secret_id: format!("-unknown-{n}-{}", "x".repeat(16)),
        hash: SecretHash::from_stored(format!("hmac-sha256$v=1$k0${}", "A".repeat(43))),
        display_prefix: format!("{prefix}xxxx"),
        label: "created".to_owned(),
        created_at: at,
        expires_at: None,
        grace_until: None,
        revoked_at: None,
        last_used_at: None,
        warning_due: None,
        public_jwk: None,
    };
    let tenant = TenantId::new("-unknown-").map_err(|e| Error::invalid("tenant", e.to_string()))?;
    Ok(ClientRecord {
        tenant,
        client_id: format!("{prefix}{}", "x".repeat(32)),
        name: "x".repeat(24),
        description: String::new(),
        owner: None,
        created_by: "x".repeat(12),
        scopes: vec!["x".repeat(12), "x".repeat(12)],
        audiences: vec!["x".repeat(28)],
        extra_claims: BTreeMap::new(),
        token_lifetime_secs: None,
        status: ClientStatus::Active,
        grace_until: None,
        replaced_by: None,
        created_at: at,
        updated_at: at,
        last_used_at: None,
        version: 1,
        auth: Default::default(),
        secrets: vec![secret(0), secret(1)],
    })
}
