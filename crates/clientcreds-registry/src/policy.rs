//! Registry-wide policy: prefixes, lifetimes, rotation, what tenants may
//! grant.

use std::collections::BTreeMap;

use clientcreds_store::TenantId;
use time::Duration;

/// How a rotation replaces a credential.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RotationMode {
    /// Keep the client id, issue a new secret; the old secret stays valid
    /// for the grace window (zero: it dies at once, as product E does).
    ReplaceSecret,
    /// Issue a new client id and secret; the old client keeps minting until
    /// the grace window ends (product A: seven days).
    ReplaceClient,
}

/// The scope a token gets when its request names none.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum DefaultScope {
    /// Every scope the client is allowed (the default).
    #[default]
    AllAllowed,
    /// No scope: the `scope` claim is left out.
    Empty,
    /// These scopes, narrowed to what the client is allowed.
    Fixed(Vec<String>),
}

/// A secret's lifetime, as asked for at creation or rotation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SecretLifetime {
    /// The policy's [`Policy::secret_lifetime`].
    #[default]
    PolicyDefault,
    /// No expiry (refused when the policy sets a maximum).
    Never,
    /// Expires this long after issue.
    After(Duration),
}

/// Product E's warning stages: 30, 14, 7, 1 days before expiry, and on expiry.
pub const DEFAULT_WARNING_STAGES: [u32; 5] = [30, 14, 7, 1, 0];

/// The largest warning stage accepted, in days.
pub const MAX_WARNING_STAGE_DAYS: u32 = 3_650;

/// What a tenant's administrators may give their clients. `None` in a
/// field: anything.
///
/// Any tenant administrator can otherwise give a client any audience and
/// scope; a platform that serves several tenants' APIs narrows each
/// tenant here, and resource servers check the tenant too
/// ([`Validation::tenants`](clientcreds_jwt::Validation::tenants)).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct Grants {
    /// The audiences its clients may hold (`None`: any).
    pub audiences: Option<Vec<String>>,
    /// The scopes its clients may hold (`None`: any).
    pub scopes: Option<Vec<String>>,
    /// The names of the extra claims (`roles`, `permissions`, ...) its
    /// clients may carry (`None`: any).
    pub claims: Option<Vec<String>>,
}

impl Grants {
    /// No restriction.
    #[must_use]
    pub fn any() -> Self {
        Self::default()
    }

    /// Only these audiences.
    #[must_use]
    pub fn with_audiences(
        mut self,
        audiences: impl IntoIterator<Item = impl Into<String>>,
    ) -> Self {
        self.audiences = Some(audiences.into_iter().map(Into::into).collect());
        self
    }

    /// Only these scopes.
    #[must_use]
    pub fn with_scopes(mut self, scopes: impl IntoIterator<Item = impl Into<String>>) -> Self {
        self.scopes = Some(scopes.into_iter().map(Into::into).collect());
        self
    }

    /// Only extra claims of these names (e.g. `roles`).
    #[must_use]
    pub fn with_claims(mut self, names: impl IntoIterator<Item = impl Into<String>>) -> Self {
        self.claims = Some(names.into_iter().map(Into::into).collect());
        self
    }

    /// Whether an extra claim of this name may be granted.
    #[must_use]
    pub fn allows_claim(&self, name: &str) -> bool {
        self.claims
            .as_ref()
            .is_none_or(|allowed| allowed.iter().any(|a| a == name))
    }

    /// Whether every one of `audiences` may be granted.
    #[must_use]
    pub fn allows_audiences(&self, audiences: &[String]) -> bool {
        allows(self.audiences.as_deref(), audiences)
    }

    /// Whether every one of `scopes` may be granted.
    #[must_use]
    pub fn allows_scopes(&self, scopes: &[String]) -> bool {
        allows(self.scopes.as_deref(), scopes)
    }
}

fn allows(allowed: Option<&[String]>, asked: &[String]) -> bool {
    allowed.is_none_or(|allowed| asked.iter().all(|a| allowed.contains(a)))
}

/// Most secrets a client may hold that can still authenticate (active or
/// in a rotation grace window), by default: 10.
pub const DEFAULT_MAX_SECRETS_PER_CLIENT: usize = 10;
/// Most clients a tenant may hold (every status), by default: 10,000.
pub const DEFAULT_MAX_CLIENTS_PER_TENANT: u64 = 10_000;
/// Most bytes a client's scopes, audiences and extra claims may take
/// together, as the JSON they are in a token, by default: 4 KiB. A token
/// carrying all of them then stays well under the 8 KiB a verifier
/// accepts by default
/// ([`DEFAULT_MAX_TOKEN_LEN`](clientcreds_jwt::DEFAULT_MAX_TOKEN_LEN)).
pub const DEFAULT_MAX_GRANT_BYTES: usize = 4 * 1024;

/// What a tenant administrator can make a registry hold: bounds on
/// memory and work that the per-field input rules alone do not give.
///
/// ```
/// use clientcreds_registry::{Limits, Policy};
/// let policy = Policy::default().with_limits(Limits::default().with_max_secrets_per_client(3));
/// assert_eq!(policy.limits.max_secrets_per_client, 3);
/// assert_eq!(policy.limits.max_clients_per_tenant, 10_000);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Limits {
    /// Most secrets a client may hold that can still authenticate,
    /// counting the one a rotation adds (default
    /// [`DEFAULT_MAX_SECRETS_PER_CLIENT`]). Expired, revoked and
    /// grace-ended secrets do not count (a rotation prunes them). A
    /// rotation past it is refused with
    /// [`Error::LimitReached`](crate::Error::LimitReached): end the old
    /// secrets' grace window first, or rotate with a zero grace window.
    pub max_secrets_per_client: usize,
    /// Most clients a tenant may hold, whatever their status (default
    /// [`DEFAULT_MAX_CLIENTS_PER_TENANT`]). Creating a client, or rotating
    /// one into a new client, past it is refused with
    /// [`Error::LimitReached`](crate::Error::LimitReached): delete clients
    /// first. Counted through the store; one registry checks and adds
    /// one client at a time, so the bound holds exactly with one
    /// replica, and with N replicas a tenant can overshoot it by at most
    /// N − 1 clients (each replica's last concurrent create).
    pub max_clients_per_tenant: u64,
    /// Most bytes a client's scopes, audiences and extra claims may take
    /// together, as JSON (default [`DEFAULT_MAX_GRANT_BYTES`]); refused
    /// as [`Error::Invalid`](crate::Error::Invalid) on field `grants`. A
    /// change that does not grow them is never refused for size.
    pub max_grant_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_secrets_per_client: DEFAULT_MAX_SECRETS_PER_CLIENT,
            max_clients_per_tenant: DEFAULT_MAX_CLIENTS_PER_TENANT,
            max_grant_bytes: DEFAULT_MAX_GRANT_BYTES,
        }
    }
}

impl Limits {
    /// Sets [`Limits::max_secrets_per_client`] (at least 1).
    #[must_use]
    pub fn with_max_secrets_per_client(mut self, max: usize) -> Self {
        self.max_secrets_per_client = max.max(1);
        self
    }

    /// Sets [`Limits::max_clients_per_tenant`].
    #[must_use]
    pub fn with_max_clients_per_tenant(mut self, max: u64) -> Self {
        self.max_clients_per_tenant = max;
        self
    }

    /// Sets [`Limits::max_grant_bytes`].
    #[must_use]
    pub fn with_max_grant_bytes(mut self, max: usize) -> Self {
        self.max_grant_bytes = max;
        self
    }
}

/// The rules a [`Registry`](crate::Registry) applies. Every field has a
/// documented default; the reference products are each a few assignments
/// away (see the crate docs).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Policy {
    /// Prefix of client ids and secrets, e.g. `acme_` (default `cc_`).
    pub prefix: String,
    /// Lifetime of new secrets (default `None`: no expiry; product E: 180 days).
    pub secret_lifetime: Option<Duration>,
    /// Longest lifetime a caller may ask for (default `None`: no limit).
    /// When set, "never expires" is refused.
    pub max_secret_lifetime: Option<Duration>,
    /// Rotation mode when the call does not say (default
    /// [`RotationMode::ReplaceSecret`]).
    pub rotation: RotationMode,
    /// Grace window when the call does not say (default 7 days).
    pub grace: Duration,
    /// Longest grace window a call may ask for (default 30 days).
    pub max_grace: Duration,
    /// Access-token lifetime when the client does not override it
    /// (default 3600 s).
    pub token_lifetime: Duration,
    /// Last-used times are written at most this often per secret (default
    /// 60 s), so hot clients do not turn every token into a write.
    pub last_used_interval: Duration,
    /// The scope of a token request that names none (default: all the
    /// client's scopes).
    pub default_scope: DefaultScope,
    /// Expiry warning stages, in days before a secret expires (default
    /// 30, 14, 7, 1 and 0 = on expiry: product E). Only the stages still
    /// ahead when a secret is issued apply. Empty: no warnings.
    pub warning_stages: Vec<u32>,
    /// A token request without `scope` is refused with `invalid_request`
    /// (default `false`: [`Policy::default_scope`] applies; product B
    /// requires it).
    pub require_scope: bool,
    /// What each tenant's administrators may grant (tenants not listed
    /// get [`Policy::default_grants`]). Checked when a client is created
    /// or changed, and again at every token.
    pub tenant_grants: BTreeMap<TenantId, Grants>,
    /// What the administrators of tenants not in
    /// [`Policy::tenant_grants`] may grant (default: anything).
    pub default_grants: Grants,
    /// Client ids that may introspect tokens of every tenant (default
    /// none: a client introspects only its own tenant's tokens). Only the
    /// host's configuration can name them, never a tenant administrator.
    pub cross_tenant_introspectors: Vec<String>,
    /// Quotas and size bounds (see [`Limits`]).
    pub limits: Limits,
}

impl Default for Policy {
    fn default() -> Self {
        Self {
            prefix: "cc_".to_owned(),
            secret_lifetime: None,
            max_secret_lifetime: None,
            rotation: RotationMode::ReplaceSecret,
            grace: Duration::days(7),
            max_grace: Duration::days(30),
            token_lifetime: Duration::hours(1),
            last_used_interval: Duration::seconds(60),
            default_scope: DefaultScope::AllAllowed,
            warning_stages: DEFAULT_WARNING_STAGES.to_vec(),
            require_scope: false,
            tenant_grants: BTreeMap::new(),
            default_grants: Grants::any(),
            cross_tenant_introspectors: Vec::new(),
            limits: Limits::default(),
        }
    }
}

impl Policy {
    /// Sets [`Policy::prefix`].
    #[must_use]
    pub fn with_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// Sets [`Policy::secret_lifetime`].
    #[must_use]
    pub fn with_secret_lifetime(mut self, lifetime: Option<Duration>) -> Self {
        self.secret_lifetime = lifetime;
        self
    }

    /// Sets [`Policy::max_secret_lifetime`].
    #[must_use]
    pub fn with_max_secret_lifetime(mut self, max: Option<Duration>) -> Self {
        self.max_secret_lifetime = max;
        self
    }

    /// Sets [`Policy::rotation`] and [`Policy::grace`].
    #[must_use]
    pub fn with_rotation(mut self, mode: RotationMode, grace: Duration) -> Self {
        self.rotation = mode;
        self.grace = grace;
        self
    }

    /// Sets [`Policy::max_grace`].
    #[must_use]
    pub fn with_max_grace(mut self, max: Duration) -> Self {
        self.max_grace = max;
        self
    }

    /// Sets [`Policy::token_lifetime`].
    #[must_use]
    pub fn with_token_lifetime(mut self, lifetime: Duration) -> Self {
        self.token_lifetime = lifetime;
        self
    }

    /// Sets [`Policy::default_scope`].
    #[must_use]
    pub fn with_default_scope(mut self, scope: DefaultScope) -> Self {
        self.default_scope = scope;
        self
    }

    /// Sets [`Policy::warning_stages`] (any order; duplicates ignored).
    #[must_use]
    pub fn with_warning_stages(mut self, stages: impl IntoIterator<Item = u32>) -> Self {
        let mut stages: Vec<u32> = stages.into_iter().collect();
        stages.sort_unstable_by(|a, b| b.cmp(a));
        stages.dedup();
        self.warning_stages = stages;
        self
    }

    /// Sets [`Policy::last_used_interval`].
    #[must_use]
    pub fn with_last_used_interval(mut self, interval: Duration) -> Self {
        self.last_used_interval = interval;
        self
    }

    /// Sets [`Policy::require_scope`].
    #[must_use]
    pub fn with_required_scope(mut self, required: bool) -> Self {
        self.require_scope = required;
        self
    }

    /// Narrows what `tenant`'s administrators may grant.
    ///
    /// ```
    /// use clientcreds_registry::{Grants, Policy};
    /// use clientcreds_store::TenantId;
    ///
    /// let acme = TenantId::new("acme")?;
    /// let policy = Policy::default()
    ///     .with_tenant_grants(acme.clone(), Grants::any().with_audiences(["https://api.acme.example"]))
    ///     .with_default_grants(Grants::any().with_audiences(Vec::<String>::new()));
    /// assert!(policy.grants_for(&acme).allows_audiences(&["https://api.acme.example".to_owned()]));
    /// assert!(!policy.grants_for(&TenantId::new("globex")?).allows_audiences(&["https://api.acme.example".to_owned()]));
    /// # Ok::<(), clientcreds_store::InvalidTenantId>(())
    /// ```
    #[must_use]
    pub fn with_tenant_grants(mut self, tenant: TenantId, grants: Grants) -> Self {
        self.tenant_grants.insert(tenant, grants);
        self
    }

    /// Sets [`Policy::default_grants`].
    #[must_use]
    pub fn with_default_grants(mut self, grants: Grants) -> Self {
        self.default_grants = grants;
        self
    }

    /// Lets `client_id` introspect tokens of every tenant.
    #[must_use]
    pub fn with_cross_tenant_introspector(mut self, client_id: impl Into<String>) -> Self {
        self.cross_tenant_introspectors.push(client_id.into());
        self
    }

    /// Sets [`Policy::limits`].
    #[must_use]
    pub fn with_limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    /// What `tenant`'s administrators may grant.
    #[must_use]
    pub fn grants_for(&self, tenant: &TenantId) -> &Grants {
        self.tenant_grants
            .get(tenant)
            .unwrap_or(&self.default_grants)
    }
}
