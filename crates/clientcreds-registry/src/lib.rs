//! The OAuth client registry of clientcreds.
//!
//! [`Registry`] is everything an administrator does to an OAuth client, and
//! the check a client's credentials pass before a token is minted:
//!
//! | call | what it does |
//! |---|---|
//! | [`Registry::create`] | a client and its first secret; the plaintext is returned once |
//! | [`Registry::get`], [`Registry::list`] | read; list filters by effective status, owner, and a case-insensitive search on name or id, with stable keyset pages |
//! | [`Registry::update`] | name, description, scopes, audiences, extra claims, token lifetime, active ⇄ inactive (a platform admin's deactivation is a suspension only a platform admin lifts) |
//! | [`Registry::rotate`] | a new secret (same id) or a new client, the old one alive for a grace window |
//! | [`Registry::end_grace`] | close that window now |
//! | [`Registry::revoke`] | terminal: never reactivated or rotated |
//! | [`Registry::delete`] | gone; the audit trail remains |
//! | [`Registry::authenticate_from`] | one hash per attempt, equal work for unknown ids (lookup included), typed reasons; an [`AuthThrottle`] first, keyed by client and [`Source`] (the caller's address, or a shared one never counted per source) |
//!
//! [`TokenService`] is the token endpoint's logic ([`TokenService::exchange`])
//! and RFC 7662 introspection ([`TokenService::introspect`]: the asking
//! client's tenant only, a fresh store read). [`LiveClientCheck`] lets a
//! resource server refuse tokens whose client, or whose minting secret, was
//! revoked, rotated out or deleted since. docs/SECURITY.md in the
//! repository maps every defence to its test.
//!
//! [`KeyManager`] keeps the issuer's signing keys in a
//! `clientcreds_store::KeyStore`, sealed under the deployment's
//! `clientcreds_secret::MasterKeys`, and rotates them publish-before-sign,
//! once across any number of replicas.
//!
//! [`warnings`] sends product E's secret expiry warnings: scheduled with
//! each secret, claimed in the store's ledger so that any number of
//! runners send each one once, rendered in six languages, handed to the
//! host's `Notifier` (SMTP with the `smtp` feature).
//!
//! [`BatchedActivity`] takes the activity log off the token's path:
//! issuance and refusals counted in memory per client, secret, source and
//! minute and added to the store every second (never dropped; read with
//! [`Registry::activity_counts`]), refusal rows through a bounded queue
//! with multi-row inserts, everything flushed on close;
//! [`Registry::prune_activity`], [`Registry::prune_activity_counts`] and
//! [`Registry::prune_audit`] are retention; [`TokenService::unauthenticated_refusals`] counts requests
//! that authenticated no client instead of storing them.
//!
//! Every call names an [`Actor`]; every change is committed with its audit
//! record; every instant comes from an injected [`Clock`].
//!
//! # Configuring the reference products
//!
//! ```
//! use clientcreds_registry::{Policy, RotationMode};
//! use time::Duration;
//!
//! // A: rotation issues a new client id + secret; the old client keeps
//! //    minting for 7 days unless "revoke now" (end_grace) closes it early.
//! let a = Policy::default().with_prefix("velgent_").with_rotation(RotationMode::ReplaceClient, Duration::days(7));
//! // C: 30-minute tokens; roles travel as an extra claim set per client
//! //    (`NewClient::with_claim("roles", ClaimValue::List(..))`).
//! let c = Policy::default().with_token_lifetime(Duration::minutes(30));
//! // E: secrets expire after 180 days; rotation keeps the client id and the
//! //    old secret dies at once.
//! let e = Policy::default()
//!     .with_secret_lifetime(Some(Duration::days(180)))
//!     .with_rotation(RotationMode::ReplaceSecret, Duration::ZERO);
//! # let _ = (a, c, e);
//! ```
//!
//! Product B requires `scope` on every token request
//! (`Policy::default().with_required_scope(true)`); product D (delete
//! revokes live tokens) is the resource server's [`LiveClientCheck`]. What
//! each tenant may grant is [`Policy::with_tenant_grants`].

#![forbid(unsafe_code)]

mod activity;
mod actor;
mod assertion;
mod clock;
mod denials;
mod dpop;
mod error;
mod exchange;
mod input;
mod introspect;
mod live;
mod policy;
mod registry;
#[cfg(feature = "resource")]
mod resource;
mod signing_keys;
mod throttle;
mod validate;
mod view;
pub mod warnings;

/// The `time` crate (0.3), whose `Duration` and `OffsetDateTime` appear in
/// this crate's API: use this one and the versions always match.
pub use time;

pub use activity::{
    ActivityStats, ActivityWriterOptions, BatchedActivity, DEFAULT_FLUSH_INTERVAL,
    DEFAULT_MAX_BATCH, DEFAULT_MAX_COUNT_KEYS, DEFAULT_QUEUE_CAPACITY, RefusalCounts,
};
pub use actor::Actor;
pub use assertion::{
    ASSERTION_ALGORITHMS, AssertionPolicy, CLIENT_AUTHENTICATION_TYP, ClientAssertion,
    ClientAssertions, DEFAULT_MAX_ASSERTION_LEN, JWT_BEARER_ASSERTION_TYPE,
};
pub use clientcreds_resource::DpopNonces;
/// What [`ClientAssertions::with_transport`] fetches `jwks_uri` and
/// federated issuers' keys with: clientcreds-resource's transport trait
/// (its `ReqwestTransport`, features `resource` and `reqwest` of the
/// facade, or your own), the future it returns, and the cache rules of
/// fetched key sets.
pub use clientcreds_resource::{BoxFuture, RemoteConfig, Transport};
pub use clock::{Clock, ManualClock, SystemClock};
pub use denials::DENIAL_ROW_INTERVAL;
pub use dpop::{DEFAULT_NONCE_STEP, DpopConfig, DpopProof, SharedProofReplay};
pub use error::{AssertionCheck, AuthFailure, Error};
#[allow(deprecated)]
pub use exchange::TokenRequest;
pub use exchange::{
    CLIENT_CREDENTIALS, ClientCredentials, ExchangeRequest, TokenError, TokenErrorCode,
    TokenResponse, TokenService,
};
pub use input::{ClientUpdate, ListQuery, NewClient, RotateOptions};
pub use introspect::Introspection;
pub use live::{DEFAULT_MAX_STALE, LiveClientCheck};
pub use policy::{
    DEFAULT_MAX_CLIENTS_PER_TENANT, DEFAULT_MAX_GRANT_BYTES, DEFAULT_MAX_SECRETS_PER_CLIENT,
    DEFAULT_WARNING_STAGES, DefaultScope, Grants, Limits, MAX_WARNING_STAGE_DAYS, Policy,
    RotationMode, SecretLifetime,
};
pub use registry::{
    DEFAULT_ACTIVITY_RETENTION, DEFAULT_COUNT_RETENTION, MAX_CLIENT_KEYS, MAX_PAGE_SIZE,
    NewClientAuth, NewClientKey, NewFederatedCredential, Registry,
};
pub use signing_keys::{KeyInfo, KeyManager, KeyRotationPolicy, KeyStep, SIGNING_KEY_AUDIT_TENANT};
pub use throttle::{AuthThrottle, MemoryThrottle, Source, ThrottleLimits};
pub use validate::{
    MAX_DESCRIPTION_CHARS, MAX_LIST_ITEMS, MAX_NAME_CHARS, MAX_TOKEN_LIFETIME_SECS,
    MIN_TOKEN_LIFETIME_SECS,
};
pub use view::{
    AuthenticatedClient, ClientList, ClientView, Credentials, Issued, KeyView, SecretView,
};
