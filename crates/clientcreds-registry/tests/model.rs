//! Model-based test of the registry: random sequences of lifecycle calls,
//! clock moves and authentications, checked after every step against a
//! small reference model written from the documented rules
//! (`SecretRecord::state`, `ClientRecord::effective_status`, the order of
//! checks in `Registry::authenticate`), not by calling them.
//!
//! Set `PROPTEST_CASES` to run more than the default 64 cases.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::collections::BTreeMap;
use std::fmt::Debug;
use std::sync::Arc;

use clientcreds_registry::{
    Actor, AuthFailure, ClientUpdate, ClientView, Error, ListQuery, MAX_PAGE_SIZE, ManualClock,
    NewClient, Policy, Registry, RotateOptions, RotationMode,
};
use clientcreds_secret::{CredentialFormat, PepperKey, Secret, SecretHasher};
use clientcreds_store::{
    AuditAction, AuditOutcome, ClientStatus, EffectiveStatus, MemoryStore, SecretState,
    StatusFilter, TenantId,
};
use proptest::prelude::*;
use proptest::sample::Index;
use proptest::test_runner::TestCaseError;
use time::{Duration, OffsetDateTime};

const PREFIX: &str = "mdl_";
const SECRET_LIFETIME: Duration = Duration::days(30);
const MAX_GRACE: Duration = Duration::days(14);
const DEFAULT_GRACE: Duration = Duration::days(7);
const BASE62: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

// ---------------------------------------------------------------------------
// Operations
// ---------------------------------------------------------------------------

#[derive(Debug, Clone)]
enum NameChoice {
    Valid(u8),
    /// Whitespace only: refused as `invalid:name`.
    Blank,
}

#[derive(Debug, Clone)]
enum Grace {
    Zero,
    Days(i64),
    Secs(i64),
    PolicyDefault,
    OverMax,
    Negative,
}

/// Which client id is presented with a credential.
#[derive(Debug, Clone)]
enum Presenter {
    /// The id the credential was issued with.
    Own,
    /// Any client id ever issued.
    Other(Index),
    /// A well-formed id nobody was issued.
    Unknown,
    /// Not a client id at all.
    Malformed,
}

/// Which secret text is presented.
#[derive(Debug, Clone)]
enum Presented {
    /// The issued secret.
    Issued,
    /// The issued secret's id with other random characters and a valid checksum.
    Forged,
    /// A well-formed secret whose id no client holds.
    UnknownId,
    /// The issued secret, truncated by one character.
    Malformed,
}

#[derive(Debug, Clone)]
enum Op {
    Create,
    Update {
        client: Index,
        name: Option<NameChoice>,
        active: Option<bool>,
    },
    Rotate {
        client: Index,
        replace_client: bool,
        grace: Grace,
    },
    EndGrace {
        client: Index,
    },
    Revoke {
        client: Index,
    },
    /// A tenant administrator of another tenant tries to revoke.
    ForeignRevoke {
        client: Index,
    },
    Delete {
        client: Index,
    },
    Authenticate {
        cred: Index,
        presenter: Presenter,
        presented: Presented,
    },
    Advance {
        secs: i64,
    },
    /// Jump to (one second before, at, or after) the next instant at which
    /// some grace window or lifetime ends.
    AdvanceToBoundary {
        which: Index,
        offset_secs: i64,
    },
}

fn grace() -> impl Strategy<Value = Grace> {
    prop_oneof![
        3 => Just(Grace::Zero),
        3 => (1..=MAX_GRACE.whole_days()).prop_map(Grace::Days),
        2 => (1..=MAX_GRACE.whole_seconds()).prop_map(Grace::Secs),
        1 => Just(Grace::PolicyDefault),
        1 => Just(Grace::OverMax),
        1 => Just(Grace::Negative),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    let name = prop_oneof![
        9 => (0u8..50).prop_map(NameChoice::Valid),
        1 => Just(NameChoice::Blank),
    ];
    let presenter = prop_oneof![
        8 => Just(Presenter::Own),
        2 => any::<Index>().prop_map(Presenter::Other),
        1 => Just(Presenter::Unknown),
        1 => Just(Presenter::Malformed),
    ];
    let presented = prop_oneof![
        8 => Just(Presented::Issued),
        2 => Just(Presented::Forged),
        1 => Just(Presented::UnknownId),
        1 => Just(Presented::Malformed),
    ];
    let secs = prop_oneof![0i64..=120, 0i64..=86_400, 86_400i64..=40 * 86_400];
    prop_oneof![
        2 => Just(Op::Create),
        3 => (any::<Index>(), prop::option::of(name), prop::option::of(any::<bool>()))
            .prop_map(|(client, name, active)| Op::Update { client, name, active }),
        4 => (any::<Index>(), any::<bool>(), grace())
            .prop_map(|(client, replace_client, grace)| Op::Rotate { client, replace_client, grace }),
        2 => any::<Index>().prop_map(|client| Op::EndGrace { client }),
        1 => any::<Index>().prop_map(|client| Op::Revoke { client }),
        1 => any::<Index>().prop_map(|client| Op::ForeignRevoke { client }),
        1 => any::<Index>().prop_map(|client| Op::Delete { client }),
        6 => (any::<Index>(), presenter, presented)
            .prop_map(|(cred, presenter, presented)| Op::Authenticate { cred, presenter, presented }),
        3 => secs.prop_map(|secs| Op::Advance { secs }),
        2 => (any::<Index>(), -1i64..=1)
            .prop_map(|(which, offset_secs)| Op::AdvanceToBoundary { which, offset_secs }),
    ]
}

fn config() -> ProptestConfig {
    ProptestConfig {
        cases: std::env::var("PROPTEST_CASES")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(64),
        // No regression files: this test writes nothing into the source tree.
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn registry_agrees_with_reference_model(ops in prop::collection::vec(op(), 1..=40)) {
        let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
        runtime.block_on(async move {
            let mut harness = Harness::new().await?;
            for (step, op) in ops.iter().enumerate() {
                harness.step(step, op).await?;
            }
            Ok::<(), TestCaseError>(())
        })?;
    }
}

/// The forged secrets used above are well formed and name the real secret id.
#[test]
fn forged_secret_parses_to_the_same_secret_id() {
    let format = CredentialFormat::new(PREFIX).unwrap();
    for _ in 0..100 {
        let issued = format.generate_secret().unwrap();
        let text = issued.secret().expose_secret();
        let forged = forge(text);
        assert_ne!(forged, text);
        let id = format.parse_secret(&Secret::from(forged.as_str())).unwrap();
        assert_eq!(id, issued.secret_id());
    }
}

// ---------------------------------------------------------------------------
// The reference model
// ---------------------------------------------------------------------------

/// An operation's outcome, comparable across registry and model.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Fail {
    NotFound,
    Invalid(&'static str),
    Revoked,
    AlreadyReplaced(String),
    NoGraceWindow,
    Conflict,
    Auth(AuthFailure),
    Other(String),
}

impl Fail {
    fn of(error: &Error) -> Self {
        match error {
            Error::NotFound => Self::NotFound,
            Error::Invalid { field, .. } => Self::Invalid(field),
            Error::Revoked => Self::Revoked,
            Error::AlreadyReplaced { replaced_by } => Self::AlreadyReplaced(replaced_by.clone()),
            Error::NoGraceWindow => Self::NoGraceWindow,
            Error::Conflict => Self::Conflict,
            Error::Authentication(failure) => Self::Auth(*failure),
            other => Self::Other(other.to_string()),
        }
    }

    /// The audit trail's refusal code, as documented on `AuditOutcome::Refused`.
    fn audit_code(&self) -> String {
        match self {
            Self::NotFound => "not_found".into(),
            Self::Invalid(field) => format!("invalid:{field}"),
            Self::Revoked => "revoked".into(),
            Self::AlreadyReplaced(_) => "already_replaced".into(),
            Self::NoGraceWindow => "no_grace_window".into(),
            Self::Conflict => "conflict".into(),
            Self::Auth(_) | Self::Other(_) => format!("{self:?}"),
        }
    }
}

#[derive(Debug, Clone)]
struct ModelSecret {
    id: String,
    text: String,
    expires_at: Option<OffsetDateTime>,
    grace_until: Option<OffsetDateTime>,
    revoked: bool,
}

impl ModelSecret {
    /// Revoked wins; then an ended grace window; then an ended lifetime;
    /// then an open grace window; otherwise active.
    fn state(&self, now: OffsetDateTime) -> SecretState {
        if self.revoked {
            return SecretState::Revoked;
        }
        if self.grace_until.is_some_and(|until| until <= now) {
            return SecretState::GraceEnded;
        }
        if self.expires_at.is_some_and(|expiry| expiry <= now) {
            return SecretState::Expired;
        }
        match self.grace_until {
            Some(until) => SecretState::Expiring { until },
            None => SecretState::Active,
        }
    }

    fn usable(&self, now: OffsetDateTime) -> bool {
        matches!(
            self.state(now),
            SecretState::Active | SecretState::Expiring { .. }
        )
    }
}

#[derive(Debug, Clone)]
struct ModelClient {
    name: String,
    status: ClientStatus,
    grace_until: Option<OffsetDateTime>,
    replaced_by: Option<String>,
    version: u64,
    secrets: Vec<ModelSecret>,
}

impl ModelClient {
    fn effective_status(&self, now: OffsetDateTime) -> EffectiveStatus {
        match self.status {
            ClientStatus::Revoked => EffectiveStatus::Revoked,
            ClientStatus::Inactive | ClientStatus::Suspended => EffectiveStatus::Inactive,
            ClientStatus::Active => {
                let grace_over = self.grace_until.is_some_and(|until| until <= now);
                let any_usable = self.secrets.iter().any(|s| s.usable(now));
                if grace_over || !any_usable {
                    EffectiveStatus::Expired
                } else if let Some(until) = self.grace_until {
                    EffectiveStatus::Expiring { until }
                } else {
                    EffectiveStatus::Active
                }
            }
        }
    }
}

/// What is presented to `authenticate`, as the model sees it.
struct PresentedCredential {
    client_id: String,
    client_well_formed: bool,
    secret_id: String,
    secret_text: String,
    secret_well_formed: bool,
}

#[derive(Debug, Default)]
struct Model {
    now: Option<OffsetDateTime>,
    clients: BTreeMap<String, ModelClient>,
}

impl Model {
    fn now(&self) -> OffsetDateTime {
        self.now.unwrap()
    }

    fn create(&mut self, client_id: &str, name: &str, secret_id: &str, text: &str) {
        let now = self.now();
        self.clients.insert(
            client_id.to_owned(),
            ModelClient {
                name: name.to_owned(),
                status: ClientStatus::Active,
                grace_until: None,
                replaced_by: None,
                version: 1,
                secrets: vec![ModelSecret {
                    id: secret_id.to_owned(),
                    text: text.to_owned(),
                    expires_at: Some(now + SECRET_LIFETIME),
                    grace_until: None,
                    revoked: false,
                }],
            },
        );
    }

    /// Applies an update; returns the audit action it is recorded as.
    fn update(
        &mut self,
        client_id: &str,
        name: Option<&str>,
        status: Option<ClientStatus>,
    ) -> Result<AuditAction, Fail> {
        if name.is_some_and(|n| n.trim().is_empty()) {
            return Err(Fail::Invalid("name"));
        }
        let client = self.clients.get_mut(client_id).ok_or(Fail::NotFound)?;
        if client.status == ClientStatus::Revoked {
            return Err(Fail::Revoked);
        }
        if let Some(name) = name {
            name.trim().clone_into(&mut client.name);
        }
        let action = match status {
            Some(ClientStatus::Inactive) if client.status == ClientStatus::Active => {
                AuditAction::Deactivate
            }
            Some(ClientStatus::Active) if client.status == ClientStatus::Inactive => {
                AuditAction::Reactivate
            }
            _ => AuditAction::Update,
        };
        if let Some(status) = status {
            client.status = status;
        }
        client.version += 1;
        Ok(action)
    }

    /// Whether a rotation is allowed (nothing is changed).
    fn check_rotate(&self, client_id: &str, grace: Duration) -> Result<(), Fail> {
        if grace.is_negative() || grace > MAX_GRACE {
            return Err(Fail::Invalid("grace"));
        }
        let client = self.clients.get(client_id).ok_or(Fail::NotFound)?;
        if client.status == ClientStatus::Revoked {
            return Err(Fail::Revoked);
        }
        if let Some(successor) = &client.replaced_by {
            return Err(Fail::AlreadyReplaced(successor.clone()));
        }
        Ok(())
    }

    /// Replace-secret rotation: secrets that can no longer authenticate are
    /// dropped, the others get a grace window (never extended), and the new
    /// secret is appended.
    fn rotate_secret(&mut self, client_id: &str, grace: Duration, secret_id: &str, text: &str) {
        let now = self.now();
        let client = self.clients.get_mut(client_id).unwrap();
        client.secrets.retain(|s| s.usable(now));
        let end = now + grace;
        for secret in &mut client.secrets {
            secret.grace_until = Some(secret.grace_until.map_or(end, |g| g.min(end)));
        }
        client.secrets.push(ModelSecret {
            id: secret_id.to_owned(),
            text: text.to_owned(),
            expires_at: Some(now + SECRET_LIFETIME),
            grace_until: None,
            revoked: false,
        });
        client.version += 1;
    }

    /// Replace-client rotation: a successor with the same settings (and
    /// status) and one new secret; the old client keeps minting until the
    /// grace window ends.
    fn rotate_client(
        &mut self,
        client_id: &str,
        grace: Duration,
        successor_id: &str,
        secret_id: &str,
        text: &str,
    ) {
        let now = self.now();
        let old = self.clients.get_mut(client_id).unwrap();
        old.grace_until = Some(now + grace);
        old.replaced_by = Some(successor_id.to_owned());
        old.version += 1;
        let successor = ModelClient {
            name: old.name.clone(),
            status: old.status,
            grace_until: None,
            replaced_by: None,
            version: 1,
            secrets: vec![ModelSecret {
                id: secret_id.to_owned(),
                text: text.to_owned(),
                expires_at: Some(now + SECRET_LIFETIME),
                grace_until: None,
                revoked: false,
            }],
        };
        self.clients.insert(successor_id.to_owned(), successor);
    }

    /// Closes every open grace window (client and usable secrets) now.
    fn end_grace(&mut self, client_id: &str) -> Result<(), Fail> {
        let now = self.now();
        let client = self.clients.get_mut(client_id).ok_or(Fail::NotFound)?;
        if client.status == ClientStatus::Revoked {
            return Err(Fail::Revoked);
        }
        let mut closed = 0;
        // A secret's window is open only while the secret is still usable:
        // an expired or revoked secret is not brought back or touched.
        for secret in &mut client.secrets {
            if matches!(secret.state(now), SecretState::Expiring { .. }) {
                secret.grace_until = Some(now);
                closed += 1;
            }
        }
        if client.grace_until.is_some_and(|until| until > now) {
            client.grace_until = Some(now);
            closed += 1;
        }
        if closed == 0 {
            return Err(Fail::NoGraceWindow);
        }
        client.version += 1;
        Ok(())
    }

    fn revoke(&mut self, client_id: &str) -> Result<(), Fail> {
        let client = self.clients.get_mut(client_id).ok_or(Fail::NotFound)?;
        if client.status == ClientStatus::Revoked {
            return Err(Fail::Revoked);
        }
        client.status = ClientStatus::Revoked;
        for secret in &mut client.secrets {
            secret.revoked = true;
        }
        client.version += 1;
        Ok(())
    }

    fn delete(&mut self, client_id: &str) -> Result<(), Fail> {
        self.clients
            .remove(client_id)
            .map(drop)
            .ok_or(Fail::NotFound)
    }

    /// The secret must match before anything about the client is said;
    /// then revoked, inactive, the client's grace window, the secret's state.
    fn authenticate(&self, presented: &PresentedCredential) -> Result<(String, String), Fail> {
        let deny = |failure| Err(Fail::Auth(failure));
        if !presented.client_well_formed {
            return deny(AuthFailure::UnknownClient);
        }
        if !presented.secret_well_formed {
            return deny(AuthFailure::BadSecret);
        }
        let Some(client) = self.clients.get(&presented.client_id) else {
            return deny(AuthFailure::UnknownClient);
        };
        let Some(secret) = client.secrets.iter().find(|s| s.id == presented.secret_id) else {
            return deny(AuthFailure::BadSecret);
        };
        if secret.text != presented.secret_text {
            return deny(AuthFailure::BadSecret);
        }
        let now = self.now();
        match client.status {
            ClientStatus::Revoked => return deny(AuthFailure::Revoked),
            ClientStatus::Inactive | ClientStatus::Suspended => return deny(AuthFailure::Inactive),
            ClientStatus::Active => {}
        }
        if client.grace_until.is_some_and(|until| until <= now) {
            return deny(AuthFailure::GraceEnded);
        }
        match secret.state(now) {
            SecretState::Active | SecretState::Expiring { .. } => {
                Ok((presented.client_id.clone(), secret.id.clone()))
            }
            SecretState::GraceEnded => deny(AuthFailure::GraceEnded),
            SecretState::Expired => deny(AuthFailure::Expired),
            SecretState::Revoked => deny(AuthFailure::Revoked),
        }
    }

    /// Every future instant at which some window or lifetime ends.
    fn boundaries(&self) -> Vec<OffsetDateTime> {
        let now = self.now();
        let mut instants: Vec<OffsetDateTime> = self
            .clients
            .values()
            .flat_map(|c| {
                c.secrets
                    .iter()
                    .flat_map(|s| [s.grace_until, s.expires_at])
                    .chain([c.grace_until])
            })
            .flatten()
            .filter(|t| *t > now)
            .collect();
        instants.sort();
        instants.dedup();
        instants
    }
}

// ---------------------------------------------------------------------------
// The harness: one registry, one model, driven in lock step
// ---------------------------------------------------------------------------

/// A credential ever issued (create or rotate).
#[derive(Debug, Clone)]
struct Issued {
    client_id: String,
    secret_id: String,
    text: String,
}

struct Harness {
    registry: Registry,
    clock: Arc<ManualClock>,
    tenant: TenantId,
    admin: Actor,
    foreign: Actor,
    model: Model,
    /// Every client id ever created, deleted ones included.
    known: Vec<String>,
    issued: Vec<Issued>,
    audit_seq: u64,
    unknown_client_id: String,
    unknown_secret: Issued,
    next_name: u32,
}

/// What one step must have appended to the audit trail.
struct ExpectedAudit {
    action: AuditAction,
    client_id: Option<String>,
    outcome: Result<(), Fail>,
}

impl Harness {
    async fn new() -> Result<Self, TestCaseError> {
        let start = OffsetDateTime::UNIX_EPOCH + Duration::days(20_000);
        let clock = Arc::new(ManualClock::new(start));
        let hasher = SecretHasher::hmac_sha256(PepperKey::new("k1", &[7; 32]).unwrap()).unwrap();
        let policy = Policy::default()
            .with_prefix(PREFIX)
            .with_secret_lifetime(Some(SECRET_LIFETIME))
            .with_max_grace(MAX_GRACE)
            .with_rotation(RotationMode::ReplaceSecret, DEFAULT_GRACE);
        let registry = Registry::new(Arc::new(MemoryStore::new()), hasher, policy)
            .unwrap()
            .with_clock(clock.clone());
        let tenant = TenantId::new("tenant-a").unwrap();
        let other = TenantId::new("tenant-b").unwrap();
        // Well-formed credentials under the same prefix that nobody was issued.
        let stranger = CredentialFormat::new(PREFIX).unwrap();
        let unknown_secret = stranger.generate_secret().unwrap();
        let mut harness = Self {
            registry,
            clock,
            admin: Actor::tenant_admin(tenant.clone(), "alice"),
            foreign: Actor::tenant_admin(other, "mallory"),
            tenant,
            model: Model {
                now: Some(start),
                clients: BTreeMap::new(),
            },
            known: Vec::new(),
            issued: Vec::new(),
            audit_seq: 0,
            unknown_client_id: stranger.generate_client_id().unwrap().into_string(),
            unknown_secret: Issued {
                client_id: String::new(),
                secret_id: unknown_secret.secret_id().as_str().to_owned(),
                text: unknown_secret.secret().expose_secret().to_owned(),
            },
            next_name: 0,
        };
        // Every case starts with one client, so every index resolves.
        harness.step(usize::MAX, &Op::Create).await?;
        Ok(harness)
    }

    fn pick(&self, index: &Index) -> String {
        self.known[index.index(self.known.len())].clone()
    }

    async fn step(&mut self, step: usize, op: &Op) -> Result<(), TestCaseError> {
        let ctx = format!("step {step}: {op:?}");
        let audit = match op {
            Op::Create => Some(self.create(&ctx).await?),
            Op::Update {
                client,
                name,
                active,
            } => Some(self.update(&ctx, client, name.as_ref(), *active).await?),
            Op::Rotate {
                client,
                replace_client,
                grace,
            } => Some(self.rotate(&ctx, client, *replace_client, grace).await?),
            Op::EndGrace { client } => {
                let id = self.pick(client);
                let actual = self
                    .registry
                    .end_grace(&self.admin, &self.tenant, &id)
                    .await;
                let expected = self.model.end_grace(&id);
                let actual = actual.map(|view| self.check_view(&ctx, &id, &view));
                let actual = flip(actual)?;
                same(&ctx, actual.as_ref().err(), expected.as_ref().err())?;
                Some(audit(AuditAction::EndGrace, &id, expected))
            }
            Op::Revoke { client } => {
                let id = self.pick(client);
                let actual = self.registry.revoke(&self.admin, &self.tenant, &id).await;
                let expected = self.model.revoke(&id);
                let actual = flip(actual.map(|view| self.check_view(&ctx, &id, &view)))?;
                same(&ctx, actual.as_ref().err(), expected.as_ref().err())?;
                Some(audit(AuditAction::Revoke, &id, expected))
            }
            Op::ForeignRevoke { client } => {
                let id = self.pick(client);
                let actual = self.registry.revoke(&self.foreign, &self.tenant, &id).await;
                same(
                    &ctx,
                    actual.err().map(|e| Fail::of(&e)),
                    Some(Fail::NotFound),
                )?;
                // Recorded in the foreign admin's own trail, never in ours.
                None
            }
            Op::Delete { client } => {
                let id = self.pick(client);
                let actual = self.registry.delete(&self.admin, &self.tenant, &id).await;
                let expected = self.model.delete(&id);
                same(
                    &ctx,
                    actual.err().map(|e| Fail::of(&e)),
                    expected.clone().err(),
                )?;
                Some(audit(AuditAction::Delete, &id, expected))
            }
            Op::Authenticate {
                cred,
                presenter,
                presented,
            } => {
                self.authenticate(&ctx, cred, presenter, presented).await?;
                None
            }
            Op::Advance { secs } => {
                self.advance(Duration::seconds(*secs));
                None
            }
            Op::AdvanceToBoundary { which, offset_secs } => {
                let boundaries = self.model.boundaries();
                let by = if boundaries.is_empty() {
                    Duration::seconds(1)
                } else {
                    let target = boundaries[which.index(boundaries.len())];
                    target - self.model.now() + Duration::seconds(*offset_secs)
                };
                self.advance(by);
                None
            }
        };
        self.check_audit(&ctx, audit).await?;
        self.check_everything(&ctx).await
    }

    fn advance(&mut self, by: Duration) {
        self.clock.advance(by);
        self.model.now = Some(self.model.now() + by);
    }

    async fn create(&mut self, ctx: &str) -> Result<ExpectedAudit, TestCaseError> {
        self.next_name += 1;
        let name = format!("client-{}", self.next_name);
        let issued = self
            .registry
            .create(&self.admin, &self.tenant, NewClient::named(name.clone()))
            .await
            .map_err(|e| fail(ctx, format!("create failed: {e}")))?;
        let creds = &issued.credentials;
        let id = creds.client_id.clone();
        let secret_id = creds.secret_id.as_str().to_owned();
        let text = creds.client_secret.expose_secret().to_owned();
        self.model.create(&id, &name, &secret_id, &text);
        self.known.push(id.clone());
        self.issued.push(Issued {
            client_id: id.clone(),
            secret_id,
            text,
        });
        self.check_view(ctx, &id, &issued.client)?;
        Ok(audit(AuditAction::Create, &id, Ok(())))
    }

    async fn update(
        &mut self,
        ctx: &str,
        client: &Index,
        name: Option<&NameChoice>,
        active: Option<bool>,
    ) -> Result<ExpectedAudit, TestCaseError> {
        let id = self.pick(client);
        let name = name.map(|n| match n {
            NameChoice::Valid(n) => format!("renamed-{n}"),
            NameChoice::Blank => "   ".to_owned(),
        });
        let status = active.map(|a| {
            if a {
                ClientStatus::Active
            } else {
                ClientStatus::Inactive
            }
        });
        let mut update = ClientUpdate::default();
        if let Some(name) = &name {
            update = update.name(name.clone());
        }
        if let Some(status) = status {
            update = update.status(status);
        }
        let actual = self
            .registry
            .update(&self.admin, &self.tenant, &id, update)
            .await;
        let expected = self.model.update(&id, name.as_deref(), status);
        let actual = flip(actual.map(|view| self.check_view(ctx, &id, &view)))?;
        same(ctx, actual.as_ref().err(), expected.as_ref().err())?;
        Ok(ExpectedAudit {
            action: *expected.as_ref().unwrap_or(&AuditAction::Update),
            client_id: Some(id),
            outcome: expected.map(drop),
        })
    }

    async fn rotate(
        &mut self,
        ctx: &str,
        client: &Index,
        replace_client: bool,
        grace: &Grace,
    ) -> Result<ExpectedAudit, TestCaseError> {
        let id = self.pick(client);
        let mode = if replace_client {
            RotationMode::ReplaceClient
        } else {
            RotationMode::ReplaceSecret
        };
        let grace = match grace {
            Grace::Zero => Some(Duration::ZERO),
            Grace::Days(d) => Some(Duration::days(*d)),
            Grace::Secs(s) => Some(Duration::seconds(*s)),
            Grace::PolicyDefault => None,
            Grace::OverMax => Some(MAX_GRACE + Duration::seconds(1)),
            Grace::Negative => Some(Duration::seconds(-1)),
        };
        let mut options = RotateOptions::default().mode(mode);
        if let Some(grace) = grace {
            options = options.grace(grace);
        }
        let grace = grace.unwrap_or(DEFAULT_GRACE);
        let actual = self
            .registry
            .rotate(&self.admin, &self.tenant, &id, options)
            .await;
        let expected = self.model.check_rotate(&id, grace);
        match (actual, &expected) {
            (Ok(issued), Ok(())) => {
                let creds = &issued.credentials;
                let new_id = creds.client_id.clone();
                let secret_id = creds.secret_id.as_str().to_owned();
                let text = creds.client_secret.expose_secret().to_owned();
                if replace_client {
                    if new_id == id {
                        return Err(fail(ctx, "replace-client rotation kept the client id"));
                    }
                    self.model
                        .rotate_client(&id, grace, &new_id, &secret_id, &text);
                    self.known.push(new_id.clone());
                } else {
                    same(ctx, &new_id, &id)?;
                    self.model.rotate_secret(&id, grace, &secret_id, &text);
                }
                self.check_view(ctx, &new_id, &issued.client)?;
                self.issued.push(Issued {
                    client_id: new_id,
                    secret_id,
                    text,
                });
            }
            (actual, expected) => {
                same(
                    ctx,
                    actual.err().map(|e| Fail::of(&e)),
                    expected.clone().err(),
                )?;
            }
        }
        Ok(audit(AuditAction::Rotate, &id, expected))
    }

    async fn authenticate(
        &self,
        ctx: &str,
        cred: &Index,
        presenter: &Presenter,
        presented: &Presented,
    ) -> Result<(), TestCaseError> {
        let cred = &self.issued[cred.index(self.issued.len())];
        let (client_id, client_well_formed) = match presenter {
            Presenter::Own => (cred.client_id.clone(), true),
            Presenter::Other(index) => (self.pick(index), true),
            Presenter::Unknown => (self.unknown_client_id.clone(), true),
            Presenter::Malformed => (format!("{PREFIX}client_nope"), false),
        };
        let (secret_id, secret_text, secret_well_formed) = match presented {
            Presented::Issued => (cred.secret_id.clone(), cred.text.clone(), true),
            Presented::Forged => (cred.secret_id.clone(), forge(&cred.text), true),
            Presented::UnknownId => (
                self.unknown_secret.secret_id.clone(),
                self.unknown_secret.text.clone(),
                true,
            ),
            Presented::Malformed => {
                let mut text = cred.text.clone();
                text.pop();
                (cred.secret_id.clone(), text, false)
            }
        };
        self.authenticate_one(
            ctx,
            &PresentedCredential {
                client_id,
                client_well_formed,
                secret_id,
                secret_text,
                secret_well_formed,
            },
        )
        .await
        .map(drop)
    }

    /// Authenticates in both; returns whether it succeeded.
    async fn authenticate_one(
        &self,
        ctx: &str,
        presented: &PresentedCredential,
    ) -> Result<bool, TestCaseError> {
        let actual = self
            .registry
            .authenticate(
                &presented.client_id,
                &Secret::from(presented.secret_text.as_str()),
            )
            .await
            .map(|client| (client.client_id().to_owned(), client.secret_id().to_owned()))
            .map_err(|e| Fail::of(&e));
        let expected = self.model.authenticate(presented);
        let what = format!(
            "{ctx}: authenticate client {} with secret {}",
            presented.client_id, presented.secret_id
        );
        same(&what, &actual, &expected)?;
        Ok(actual.is_ok())
    }

    /// After every step: every client ever created reads as the model says,
    /// and every credential ever issued authenticates as the model says.
    async fn check_everything(&self, ctx: &str) -> Result<(), TestCaseError> {
        for id in &self.known {
            match self.registry.get(&self.admin, &self.tenant, id).await {
                Ok(view) => self.check_view(ctx, id, &view)?,
                Err(e) => same(
                    &format!("{ctx}: get {id}"),
                    Some(Fail::of(&e)),
                    (!self.model.clients.contains_key(id)).then_some(Fail::NotFound),
                )?,
            }
        }
        self.check_listings(ctx).await?;
        let mut authenticates: BTreeMap<&str, bool> = BTreeMap::new();
        for cred in &self.issued {
            let ok = self
                .authenticate_one(
                    ctx,
                    &PresentedCredential {
                        client_id: cred.client_id.clone(),
                        client_well_formed: true,
                        secret_id: cred.secret_id.clone(),
                        secret_text: cred.text.clone(),
                        secret_well_formed: true,
                    },
                )
                .await?;
            *authenticates.entry(&cred.client_id).or_default() |= ok;
        }
        // Independent of the model: a client reads as active or expiring
        // exactly when one of its secrets (we hold them all) authenticates.
        for (id, client) in &self.model.clients {
            let status = client.effective_status(self.model.now());
            let live = matches!(
                status,
                EffectiveStatus::Active | EffectiveStatus::Expiring { .. }
            );
            same(
                &format!("{ctx}: {id} is {status:?}; does some secret authenticate?"),
                authenticates.get(id.as_str()).copied().unwrap_or(false),
                live,
            )?;
        }
        Ok(())
    }

    /// Listings, unfiltered and filtered by each effective status, hold
    /// exactly the clients the model says.
    async fn check_listings(&self, ctx: &str) -> Result<(), TestCaseError> {
        let now = self.model.now();
        let filters = [
            None,
            Some(StatusFilter::Active),
            Some(StatusFilter::Inactive),
            Some(StatusFilter::Revoked),
            Some(StatusFilter::Expiring),
            Some(StatusFilter::Expired),
        ];
        for filter in filters {
            let mut query = ListQuery::default().limit(MAX_PAGE_SIZE);
            if let Some(filter) = filter {
                query = query.status(filter);
            }
            let page = self
                .registry
                .list(&self.admin, &self.tenant, query)
                .await
                .map_err(|e| fail(ctx, format!("list failed: {e}")))?;
            let mut actual: Vec<(String, EffectiveStatus)> = page
                .clients
                .into_iter()
                .map(|c| (c.client_id, c.status))
                .collect();
            actual.sort_by(|a, b| a.0.cmp(&b.0));
            let expected: Vec<(String, EffectiveStatus)> = self
                .model
                .clients
                .iter()
                .map(|(id, c)| (id.clone(), c.effective_status(now)))
                .filter(|(_, status)| filter.is_none_or(|f| has_status(f, *status)))
                .collect();
            same(&format!("{ctx}: list {filter:?}"), actual, expected)?;
        }
        Ok(())
    }

    /// The view returned or read agrees with the model (or the client is absent from it).
    fn check_view(&self, ctx: &str, id: &str, view: &ClientView) -> Result<(), TestCaseError> {
        let ctx = format!("{ctx}: view of {id}");
        let now = self.model.now();
        let Some(model) = self.model.clients.get(id) else {
            return Err(fail(
                &ctx,
                "the registry shows a client the model does not have",
            ));
        };
        same(&ctx, view.client_id.as_str(), id)?;
        same(&ctx, view.status, model.effective_status(now))?;
        same(&ctx, view.version, model.version)?;
        same(&ctx, &view.name, &model.name)?;
        same(&ctx, &view.replaced_by, &model.replaced_by)?;
        let actual: Vec<(&str, SecretState)> = view
            .secrets
            .iter()
            .map(|s| (s.secret_id.as_str(), s.state))
            .collect();
        let expected: Vec<(&str, SecretState)> = model
            .secrets
            .iter()
            .map(|s| (s.id.as_str(), s.state(now)))
            .collect();
        same(&ctx, actual, expected)
    }

    /// The audit trail grew by exactly the expected record.
    async fn check_audit(
        &mut self,
        ctx: &str,
        expected: Option<ExpectedAudit>,
    ) -> Result<(), TestCaseError> {
        let records = self
            .registry
            .audit(&self.admin, &self.tenant, None, Some(self.audit_seq), 500)
            .await
            .map_err(|e| fail(ctx, format!("audit read failed: {e}")))?;
        let ctx = format!("{ctx}: audit records {records:?}");
        same(&ctx, records.len(), usize::from(expected.is_some()))?;
        if let (Some(record), Some(expected)) = (records.first(), expected) {
            self.audit_seq = record.seq;
            same(&ctx, record.event.action, expected.action)?;
            same(&ctx, &record.event.client_id, &expected.client_id)?;
            let outcome = match expected.outcome {
                Ok(()) => AuditOutcome::Success,
                Err(fail) => AuditOutcome::Refused {
                    reason: fail.audit_code(),
                },
            };
            same(&ctx, &record.event.outcome, &outcome)?;
            same(&ctx, record.event.at, self.model.now())?;
        }
        Ok(())
    }
}

// ---------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------

fn audit(action: AuditAction, client_id: &str, outcome: Result<(), Fail>) -> ExpectedAudit {
    ExpectedAudit {
        action,
        client_id: Some(client_id.to_owned()),
        outcome,
    }
}

fn has_status(filter: StatusFilter, status: EffectiveStatus) -> bool {
    match filter {
        StatusFilter::Active => status == EffectiveStatus::Active,
        StatusFilter::Inactive => status == EffectiveStatus::Inactive,
        StatusFilter::Revoked => status == EffectiveStatus::Revoked,
        StatusFilter::Expiring => matches!(status, EffectiveStatus::Expiring { .. }),
        StatusFilter::Expired => status == EffectiveStatus::Expired,
    }
}

/// Registry result with the view check run on success, as an outcome.
fn flip(
    result: Result<Result<(), TestCaseError>, Error>,
) -> Result<Result<(), Fail>, TestCaseError> {
    match result {
        Ok(Ok(())) => Ok(Ok(())),
        Ok(Err(e)) => Err(e),
        Err(e) => Ok(Err(Fail::of(&e))),
    }
}

fn same<T: PartialEq + Debug>(ctx: &str, actual: T, expected: T) -> Result<(), TestCaseError> {
    if actual == expected {
        Ok(())
    } else {
        Err(fail(
            ctx,
            format!("registry: {actual:?}\n     model:    {expected:?}"),
        ))
    }
}

fn fail(ctx: &str, message: impl std::fmt::Display) -> TestCaseError {
    TestCaseError::fail(format!("{ctx}\n  {message}"))
}

/// The same secret id with different random characters and a valid
/// checksum: well formed, names the real record, and does not match it.
fn forge(text: &str) -> String {
    let head = PREFIX.len() + "secret_".len() + clientcreds_secret::SECRET_ID_LEN;
    let key_end = text.len() - clientcreds_secret::CHECKSUM_LEN;
    let mut forged: String = text[..head].to_owned();
    forged.extend(text[head..key_end].bytes().map(|b| {
        let at = BASE62.iter().position(|c| *c == b).unwrap();
        char::from(BASE62[(at + 1) % 62])
    }));
    let mut value = crc32(forged.as_bytes());
    let mut digits = [b'0'; clientcreds_secret::CHECKSUM_LEN];
    for digit in digits.iter_mut().rev() {
        *digit = BASE62[(value % 62) as usize];
        value /= 62;
    }
    forged.extend(digits.iter().map(|d| char::from(*d)));
    forged
}

/// CRC-32/ISO-HDLC, bit by bit.
fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &byte in bytes {
        crc ^= u32::from(byte);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}
