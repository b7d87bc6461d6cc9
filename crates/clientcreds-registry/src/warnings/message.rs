//! What a warning says, and the host's traits that resolve, render and send it.

use std::fmt::Debug;

use async_trait::async_trait;
use clientcreds_store::TenantId;
use time::OffsetDateTime;

use crate::Error;

/// The facts of one expiry warning: what any message about it needs.
/// It holds no secret (only the secret's public display prefix).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExpiryWarning {
    /// The client's tenant.
    pub tenant: TenantId,
    /// The client id.
    pub client_id: String,
    /// The client's name.
    pub client_name: String,
    /// The expiring secret's public id.
    pub secret_id: String,
    /// The secret's display prefix (`<prefix>secret_<secret id>`).
    pub secret_display_prefix: String,
    /// When the secret expires.
    pub expires_at: OffsetDateTime,
    /// The stage: days before expiry (0 = on expiry).
    pub stage_days: u32,
    /// Whole days left when the warning is sent, rounded up (0 on the
    /// expiry stage: "expired today").
    pub days_remaining: u32,
    /// Every recipient's user id (owner and creator, deduplicated).
    pub recipients: Vec<String>,
    /// Where to act: the host's URL template with `{tenant}` and
    /// `{client_id}` filled in.
    pub action_url: String,
}

impl ExpiryWarning {
    /// Whether this is the on-expiry stage.
    #[must_use]
    pub fn is_expiry_day(&self) -> bool {
        self.stage_days == 0
    }
}

/// How to reach one person, as the host's [`Directory`] knows them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Contact {
    /// The user id the registry knows (owner or creator).
    pub user_id: String,
    /// The e-mail address.
    pub address: String,
    /// The name to greet.
    pub display_name: String,
    /// A BCP 47 language tag (`en`, `nb-NO`, `sv`, `fr-CA`, ...).
    pub locale: String,
}

impl Contact {
    /// A contact.
    #[must_use]
    pub fn new(
        user_id: impl Into<String>,
        address: impl Into<String>,
        display_name: impl Into<String>,
        locale: impl Into<String>,
    ) -> Self {
        Self {
            user_id: user_id.into(),
            address: address.into(),
            display_name: display_name.into(),
            locale: locale.into(),
        }
    }
}

/// A rendered message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// The subject line.
    pub subject: String,
    /// The plain-text body.
    pub text: String,
    /// The HTML body (every interpolated value escaped).
    pub html: String,
    /// The language the message is in (`en`, `nb`, `sv`, `fr`, `fi`, `da`).
    pub language: &'static str,
}

impl Message {
    /// A message.
    #[must_use]
    pub fn new(
        subject: impl Into<String>,
        text: impl Into<String>,
        html: impl Into<String>,
        language: &'static str,
    ) -> Self {
        Self {
            subject: subject.into(),
            text: text.into(),
            html: html.into(),
            language,
        }
    }
}

/// One warning to one recipient, ready to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notification {
    /// The facts.
    pub warning: ExpiryWarning,
    /// The recipient.
    pub contact: Contact,
    /// The rendered message.
    pub message: Message,
}

/// The host's user directory: turns a user id into a contact.
#[async_trait]
pub trait Directory: Send + Sync + Debug {
    /// The contact for `user_id`; `Ok(None)` when there is no such user or
    /// no address (the warning is then recorded as undeliverable, not
    /// retried).
    ///
    /// # Errors
    /// [`Error::Delivery`] when the directory cannot answer now (the
    /// warning is retried later).
    async fn contact(&self, user_id: &str) -> Result<Option<Contact>, Error>;
}

/// The host's mail system.
#[async_trait]
pub trait Notifier: Send + Sync + Debug {
    /// Sends one notification. Return only once the message is accepted.
    ///
    /// # Errors
    /// [`Error::Delivery`]: the warning stays pending and is retried on a
    /// later run with backoff.
    async fn notify(&self, notification: &Notification) -> Result<(), Error>;
}

/// Turns a warning into a message for one recipient.
pub trait Renderer: Send + Sync + Debug {
    /// The message for `contact`.
    fn render(&self, warning: &ExpiryWarning, contact: &Contact) -> Message;
}

/// A notifier that writes one structured `tracing` line per warning at
/// `info`: tenant, client id, secret display prefix, stage, expiry,
/// recipient user id and language. No address, body or secret.
#[derive(Debug, Clone, Copy, Default)]
pub struct TracingNotifier;

#[async_trait]
impl Notifier for TracingNotifier {
    async fn notify(&self, notification: &Notification) -> Result<(), Error> {
        let warning = &notification.warning;
        tracing::info!(
            tenant = %warning.tenant,
            client_id = %warning.client_id,
            secret = %warning.secret_display_prefix,
            stage_days = warning.stage_days,
            expires_at = %warning.expires_at,
            recipient = %notification.contact.user_id,
            language = notification.message.language,
            subject = %notification.message.subject,
            "secret expiry warning"
        );
        Ok(())
    }
}
