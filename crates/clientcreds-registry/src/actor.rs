//! Who performs an administrative call.

use clientcreds_store::{AuditActor, TenantId};

/// The caller of an administrative operation. Every operation names one.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Actor {
    /// An administrator of one tenant: may act on that tenant only. On any
    /// other tenant, every client looks absent.
    TenantAdmin {
        /// The tenant administered.
        tenant: TenantId,
        /// The administrator's user id.
        user: String,
    },
    /// Platform staff: may act on any tenant.
    PlatformAdmin {
        /// The administrator's user id.
        user: String,
    },
    /// The system itself (schedulers, migrations): any tenant.
    System,
}

impl Actor {
    /// A tenant administrator.
    #[must_use]
    pub fn tenant_admin(tenant: TenantId, user: impl Into<String>) -> Self {
        Self::TenantAdmin {
            tenant,
            user: user.into(),
        }
    }

    /// A platform administrator.
    #[must_use]
    pub fn platform_admin(user: impl Into<String>) -> Self {
        Self::PlatformAdmin { user: user.into() }
    }

    /// Whether the actor may act on `tenant`.
    #[must_use]
    pub fn may_access(&self, tenant: &TenantId) -> bool {
        match self {
            Self::TenantAdmin { tenant: own, .. } => own == tenant,
            Self::PlatformAdmin { .. } | Self::System => true,
        }
    }

    /// The user id recorded as a client's creator.
    #[must_use]
    pub fn user_id(&self) -> &str {
        match self {
            Self::TenantAdmin { user, .. } | Self::PlatformAdmin { user } => user,
            Self::System => "system",
        }
    }

    pub(crate) fn audit(&self) -> AuditActor {
        match self {
            Self::TenantAdmin { user, .. } => AuditActor::TenantAdmin { user: user.clone() },
            Self::PlatformAdmin { user } => AuditActor::PlatformAdmin { user: user.clone() },
            Self::System => AuditActor::System,
        }
    }
}
