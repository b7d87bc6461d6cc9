//! Authentication: one hash per attempt, and the advisory last-used write.

use clientcreds_secret::{Secret, Verification};
use clientcreds_store::{
    ClientRecord, ClientStatus, SecretRecord, SecretState, SecretUse, TenantId,
};
use time::{Duration, OffsetDateTime};

use crate::view::AuthenticatedClient;
use crate::{AuthFailure, Error};

use super::Registry;

impl Registry {
    /// Checks a presented client id and secret.
    ///
    /// The secret's text names its record, so exactly one hash is checked;
    /// an unknown client or secret id costs the same dummy check, so timing
    /// does not tell whether a client exists. Malformed text is refused
    /// before any lookup. The client's state is judged only after the
    /// secret matched. On success, an outdated hash is replaced and the
    /// last-used times are written (at most once per
    /// [`Policy::last_used_interval`](crate::Policy::last_used_interval)); that write is advisory and its
    /// failure never fails the authentication.
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
        self.authenticate_with_tenant(client_id, secret)
            .await
            .map_err(|(_, e)| e)
    }

    /// [`Registry::authenticate`], with the client's tenant beside a
    /// refusal that came after the secret matched (for the activity log).
    pub(crate) async fn authenticate_with_tenant(
        &self,
        client_id: &str,
        secret: &Secret,
    ) -> Result<AuthenticatedClient, (Option<TenantId>, Error)> {
        let deny = |failure| Err((None, Error::Authentication(failure)));
        if self.format.parse_client_id(client_id).is_err() {
            return deny(AuthFailure::UnknownClient);
        }
        let Ok(secret_id) = self.format.parse_secret(secret) else {
            return deny(AuthFailure::BadSecret);
        };
        let found = self
            .store
            .client_for_authentication(client_id)
            .await
            .map_err(|e| (None, e.into()))?;
        let Some(record) = found else {
            let _ = self.hasher.verify_dummy(secret);
            return deny(AuthFailure::UnknownClient);
        };
        let Some(stored) = record.secret(secret_id.as_str()) else {
            let _ = self.hasher.verify_dummy(secret);
            return deny(AuthFailure::BadSecret);
        };
        let verdict = self
            .hasher
            .verify(secret, &stored.hash)
            .map_err(|e| (None, e.into()))?;
        if !verdict.is_valid() {
            return deny(AuthFailure::BadSecret);
        }
        // The secret matched: from here on the tenant may be named.
        let deny = |failure| Err((Some(record.tenant.clone()), Error::Authentication(failure)));
        let now = self.now();
        match record.status {
            ClientStatus::Revoked => return deny(AuthFailure::Revoked),
            ClientStatus::Inactive => return deny(AuthFailure::Inactive),
            ClientStatus::Active => {}
        }
        if record.grace_until.is_some_and(|g| g <= now) {
            return deny(AuthFailure::GraceEnded);
        }
        match stored.state(now) {
            SecretState::Active | SecretState::Expiring { .. } => {}
            SecretState::GraceEnded => return deny(AuthFailure::GraceEnded),
            SecretState::Expired => return deny(AuthFailure::Expired),
            SecretState::Revoked => return deny(AuthFailure::Revoked),
        }
        self.record_use(&record, stored, secret, verdict, now).await;
        let secret_id = stored.secret_id.clone();
        // The record is ours: move its fields out rather than clone them
        // (this is the token endpoint's hot path).
        let token_lifetime = record
            .token_lifetime_secs
            .map_or(self.policy.token_lifetime, |s| {
                Duration::seconds(i64::from(s))
            });
        Ok(AuthenticatedClient {
            tenant: record.tenant,
            client_id: record.client_id,
            secret_id,
            scopes: record.scopes,
            audiences: record.audiences,
            extra_claims: record.extra_claims,
            token_lifetime,
        })
    }

    /// The advisory write after a successful authentication.
    async fn record_use(
        &self,
        record: &ClientRecord,
        stored: &SecretRecord,
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
