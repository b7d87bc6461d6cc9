//! Authentication with a client assertion: `private_key_jwt` (RFC 7523
//! §2.2, RFC 7521 §4.2, draft-ietf-oauth-rfc7523bis) and federated
//! workload identity.

use std::sync::Arc;

use clientcreds_jwt::{PublicJwk, SignedJws, VerifyError, VerifyingKey};
use clientcreds_store::{AuthMethod, AuthView, ReplayCheck, SecretUse, TenantId};
use time::{Duration, OffsetDateTime};

use crate::assertion::{CLIENT_AUTHENTICATION_TYP, ClientAssertion, ClientAssertions};
use crate::view::AuthenticatedClient;
use crate::{AssertionCheck, AuthFailure, Error, Source};

use super::Registry;

type Refusal = (Option<TenantId>, Error);

/// A key that verifies an assertion, and the credential it stands for.
enum Verified {
    /// An inline key: its index in `view.secrets`.
    Inline(usize),
    /// A key from the client's `jwks_uri`.
    Remote,
    /// A federated credential's issuer key.
    Federated,
}

impl Registry {
    /// Accepts client assertions as [`ClientAssertions`] configures them
    /// (without this, every assertion is refused).
    #[must_use]
    pub fn with_client_assertions(mut self, assertions: ClientAssertions) -> Self {
        self.assertions = Some(Arc::new(assertions));
        self
    }

    /// The client-assertion configuration, when there is one.
    #[must_use]
    pub fn client_assertions(&self) -> Option<&ClientAssertions> {
        self.assertions.as_deref()
    }

    /// Authenticates a client by `assertion`, whose `aud` must name
    /// `audience` (the issuer identifier; the policy may accept the token
    /// endpoint's URL too).
    ///
    /// The checks and their order: the throttle; the JWS's shape and `alg`
    /// (asymmetric, allowed); the client (an unknown id costs the same
    /// signature check against a dummy key); its method; the key (an
    /// inline key by `kid`, or any inline key of the algorithm without
    /// one; else `jwks_uri`; for a federated client, the credential that
    /// names the token's `iss`, `sub` and `aud`, and that issuer's keys);
    /// the signature; `typ`; `iss`/`sub`; `aud`; `exp`, `nbf`, `iat` and the
    /// lifetime; then `jti`, recorded in the replay store so it
    /// authenticates once across replicas (checked last, so an assertion
    /// that fails any other check does not spend its `jti`); then the
    /// client's and the key's standing.
    ///
    /// # Errors
    /// [`Error::Authentication`] with [`AuthFailure::Assertion`] naming
    /// the failed check, or the standing failures of secrets;
    /// [`Error::Store`].
    pub async fn authenticate_assertion(
        &self,
        assertion: &ClientAssertion,
        audience: &str,
        source: Option<Source>,
    ) -> Result<AuthenticatedClient, Error> {
        self.authenticate_assertion_with_tenant(assertion, audience, source)
            .await
            .map_err(|(_, e)| e)
    }

    #[allow(clippy::too_many_lines)]
    pub(crate) async fn authenticate_assertion_with_tenant(
        &self,
        assertion: &ClientAssertion,
        audience: &str,
        source: Option<Source>,
    ) -> Result<AuthenticatedClient, Refusal> {
        let now = self.now();
        let fail = |check| Err((None, Error::Authentication(AuthFailure::Assertion(check))));
        let Some(config) = self.assertions.as_deref() else {
            return fail(AssertionCheck::NotConfigured);
        };
        let policy = &config.policy;
        let Ok(jws) = SignedJws::parse(assertion.expose(), policy.max_len) else {
            return fail(AssertionCheck::Malformed);
        };
        // The client: the `client_id` parameter, else the assertion's
        // `iss` (RFC 7523 §3: `iss` is the client id).
        let Ok(iss) = jws.string("iss") else {
            return fail(AssertionCheck::Malformed);
        };
        let Some(client_id) = assertion.client_id.as_deref().or(iss) else {
            return fail(AssertionCheck::ClientId);
        };
        let guessed = |check| {
            self.throttle.failed(client_id, source, now);
            fail(check)
        };
        if let Err(retry_after) = self.throttle.admit(client_id, source, now) {
            return Err((
                None,
                Error::Authentication(AuthFailure::Throttled { retry_after }),
            ));
        }
        if !policy.algorithms.contains(&jws.header().alg) {
            return guessed(AssertionCheck::Algorithm);
        }
        let found = if self.format.parse_client_id(client_id).is_ok() {
            self.store
                .authentication_view(client_id)
                .await
                .map_err(|e| (None, e.into()))?
        } else {
            None
        };
        // An unknown client, or one of another method, does the work of a
        // known one: a signature check, against a key that cannot match.
        let view = match found {
            Some(view) if !view.auth.method.uses_secret() => view,
            other => {
                self.dummy_assertion_check(&jws);
                return match other {
                    Some(view) => {
                        self.throttle.failed(client_id, source, now);
                        Err((
                            Some(view.tenant.clone()),
                            Error::Authentication(AuthFailure::MethodNotAllowed),
                        ))
                    }
                    None => {
                        self.throttle.failed(client_id, source, now);
                        Err((None, Error::Authentication(AuthFailure::UnknownClient)))
                    }
                };
            }
        };
        let tenant = Some(view.tenant.clone());
        let deny = |failure| {
            self.throttle.failed(client_id, source, now);
            Err((tenant.clone(), Error::Authentication(failure)))
        };
        let refuse = |check| deny(AuthFailure::Assertion(check));
        let federated = view.auth.method == AuthMethod::FederatedJwt;
        // The key, and the claims that pick it.
        let verified = if federated {
            if assertion.client_id.is_none() {
                self.dummy_assertion_check(&jws);
                return refuse(AssertionCheck::ClientId);
            }
            let (Some(iss), Ok(Some(sub))) = (iss, jws.string("sub")) else {
                self.dummy_assertion_check(&jws);
                return refuse(AssertionCheck::Issuer);
            };
            if !policy.federated_issuers.iter().any(|i| i == iss) {
                self.dummy_assertion_check(&jws);
                return refuse(AssertionCheck::Issuer);
            }
            let matches = view.auth.federated.iter().any(|f| {
                f.issuer == iss
                    && f.subject == sub
                    && jws.audience_matches(|a| a == f.audience).unwrap_or(false)
            });
            if !matches {
                self.dummy_assertion_check(&jws);
                return refuse(AssertionCheck::UnknownKey);
            }
            if policy.check_url("issuer", iss).is_err() {
                return refuse(AssertionCheck::Issuer);
            }
            let Some(set) = config.remote_set(iss, false) else {
                return refuse(AssertionCheck::Unavailable);
            };
            match set.verify_signature(&jws).await {
                Ok(()) => Verified::Federated,
                Err(e) => return refuse(remote_check(&e)),
            }
        } else {
            match self.inline_key(&view, &jws) {
                InlineKey::Verified(index) => Verified::Inline(index),
                InlineKey::BadSignature => return refuse(AssertionCheck::Signature),
                InlineKey::None => match view.auth.jwks_uri.as_deref() {
                    Some(uri) if policy.check_url("jwks_uri", uri).is_ok() => {
                        let Some(set) = config.remote_set(uri, true) else {
                            return refuse(AssertionCheck::Unavailable);
                        };
                        match set.verify_signature(&jws).await {
                            Ok(()) => Verified::Remote,
                            Err(e) => return refuse(remote_check(&e)),
                        }
                    }
                    _ => {
                        self.dummy_assertion_check(&jws);
                        return refuse(AssertionCheck::UnknownKey);
                    }
                },
            }
        };
        // The signature holds: now the claims.
        if let Err(check) = check_claims(&jws, client_id, audience, federated, config, now) {
            return refuse(check);
        }
        // Standing before the replay record, so a refused assertion does
        // not spend its `jti` (and a dead client fills no replay rows).
        if let Err(failure) = super::auth::client_standing(&view, now) {
            return deny(failure);
        }
        if let Verified::Inline(index) = verified
            && !view
                .secrets
                .get(index)
                .is_some_and(|k| k.state(now).is_usable())
        {
            return refuse(AssertionCheck::KeyInactive);
        }
        match jws.string("jti") {
            Ok(Some(jti)) if !jti.is_empty() => {
                let exp = jws.numeric_date("exp").ok().flatten().unwrap_or_default();
                let until = OffsetDateTime::from_unix_timestamp(exp)
                    .map_or(now, |e| e + policy.effective_leeway());
                let key = crate::assertion::replay_key(
                    b"client-assertion",
                    if federated {
                        iss.unwrap_or_default()
                    } else {
                        client_id
                    },
                    jti,
                );
                match config.replay.check_and_record(&key, until, now).await {
                    Ok(ReplayCheck::First) => {}
                    Ok(ReplayCheck::Replayed) => return refuse(AssertionCheck::Replayed),
                    Err(_) => return refuse(AssertionCheck::Unavailable),
                }
            }
            Ok(_) if !federated => return refuse(AssertionCheck::MissingJti),
            Ok(_) => {}
            Err(_) => return refuse(AssertionCheck::Malformed),
        }
        self.throttle.succeeded(client_id, source, now);
        let index = match verified {
            Verified::Inline(index) => {
                self.record_key_use(&view, index, now).await;
                Some(index)
            }
            Verified::Remote | Verified::Federated => None,
        };
        let token_lifetime = view
            .token_lifetime_secs
            .map_or(self.policy.token_lifetime, |s| {
                Duration::seconds(i64::from(s))
            });
        Ok(AuthenticatedClient::new(view, index, token_lifetime))
    }

    /// The inline key that verifies `jws`: the one its `kid` names, or
    /// without a `kid`, the first key of its algorithm that verifies.
    fn inline_key(&self, view: &AuthView, jws: &SignedJws<'_>) -> InlineKey {
        let kid = jws.header().kid.as_deref();
        let mut tried = false;
        for (index, key) in view.secrets.iter().enumerate() {
            let Some(jwk) = key.public_jwk.as_deref() else {
                continue;
            };
            if kid.is_some_and(|kid| kid != key.secret_id) {
                continue;
            }
            let Some(verifying) = parse_key(jwk) else {
                continue;
            };
            if verifying.algorithm() != jws.header().alg {
                continue;
            }
            tried = true;
            if jws.verify(&verifying).is_ok() {
                return InlineKey::Verified(index);
            }
            if kid.is_some() {
                break;
            }
        }
        if tried {
            InlineKey::BadSignature
        } else {
            InlineKey::None
        }
    }

    /// The signature check an unknown client costs: against a dummy key of
    /// the assertion's algorithm (EdDSA, ES256, ES384; RSA assertions of
    /// unknown clients skip the math), so timing does not tell whether a
    /// client id exists.
    fn dummy_assertion_check(&self, jws: &SignedJws<'_>) {
        if let Some(key) = self
            .dummy_keys
            .iter()
            .find(|k| k.algorithm() == jws.header().alg)
        {
            let _ = jws.verify(key);
        }
    }

    /// The advisory last-used write of an inline key (at most once per
    /// [`Policy::last_used_interval`](crate::Policy::last_used_interval)).
    async fn record_key_use(&self, view: &AuthView, index: usize, now: OffsetDateTime) {
        let Some(key) = view.secrets.get(index) else {
            return;
        };
        if key
            .last_used_at
            .is_some_and(|last| now - last < self.policy.last_used_interval)
        {
            return;
        }
        let usage = SecretUse {
            tenant: view.tenant.clone(),
            client_id: view.client_id.clone(),
            secret_id: key.secret_id.clone(),
            at: now,
            rehash: None,
        };
        let _ = self.store.record_use(&usage).await;
    }
}

enum InlineKey {
    Verified(usize),
    BadSignature,
    None,
}

fn parse_key(jwk: &str) -> Option<VerifyingKey> {
    let jwk: PublicJwk = serde_json::from_str(jwk).ok()?;
    VerifyingKey::from_jwk(&jwk).ok()
}

/// What a remote key set's refusal means for the assertion.
fn remote_check(error: &clientcreds_resource::Error) -> AssertionCheck {
    match error {
        clientcreds_resource::Error::Token(VerifyError::UnknownKid) => AssertionCheck::UnknownKey,
        clientcreds_resource::Error::Token(VerifyError::AlgorithmNotAllowed) => {
            AssertionCheck::Algorithm
        }
        clientcreds_resource::Error::Token(_) => AssertionCheck::Signature,
        _ => AssertionCheck::Unavailable,
    }
}

/// The claims of a verified assertion.
fn check_claims(
    jws: &SignedJws<'_>,
    client_id: &str,
    audience: &str,
    federated: bool,
    config: &ClientAssertions,
    now: OffsetDateTime,
) -> Result<(), AssertionCheck> {
    let policy = &config.policy;
    let malformed = |_: VerifyError| AssertionCheck::Malformed;
    if !federated {
        match jws.header().typ.as_deref() {
            None => {}
            Some(typ)
                if typ.eq_ignore_ascii_case(CLIENT_AUTHENTICATION_TYP)
                    || typ.eq_ignore_ascii_case("application/client-authentication+jwt")
                    || typ.eq_ignore_ascii_case("JWT") => {}
            Some(_) => return Err(AssertionCheck::Type),
        }
        let iss = jws.string("iss").map_err(malformed)?;
        let sub = jws.string("sub").map_err(malformed)?;
        if iss != Some(client_id) || sub != Some(client_id) {
            return Err(AssertionCheck::Issuer);
        }
        let accepted = jws
            .audience_matches(|a| {
                a == audience || policy.token_endpoint_audience.as_deref() == Some(a)
            })
            .map_err(|_| AssertionCheck::Audience)?;
        if !accepted {
            return Err(AssertionCheck::Audience);
        }
    } else if let Some(typ) = jws.header().typ.as_deref()
        && !typ.eq_ignore_ascii_case("JWT")
    {
        return Err(AssertionCheck::Type);
    }
    let leeway = policy.effective_leeway().whole_seconds();
    let now_s = now.unix_timestamp();
    let exp = jws
        .numeric_date("exp")
        .map_err(malformed)?
        .ok_or(AssertionCheck::Expired)?;
    if now_s >= exp.saturating_add(leeway) {
        return Err(AssertionCheck::Expired);
    }
    let iat = jws.numeric_date("iat").map_err(malformed)?;
    let nbf = jws.numeric_date("nbf").map_err(malformed)?;
    if iat
        .max(nbf)
        .is_some_and(|t| t > now_s.saturating_add(leeway))
    {
        return Err(AssertionCheck::NotYetValid);
    }
    let max = if federated {
        policy.max_federated_lifetime
    } else {
        policy.max_lifetime
    }
    .whole_seconds();
    // Valid for longer than allowed, from when it was made (or from now).
    let from = if federated {
        now_s
    } else {
        iat.unwrap_or(now_s).min(now_s)
    };
    if exp.saturating_sub(from) > max.saturating_add(leeway) {
        return Err(AssertionCheck::Lifetime);
    }
    Ok(())
}
