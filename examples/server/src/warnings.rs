//! Expiry warnings in the reference server: by SMTP when
//! `CLIENTCREDS_SMTP_URL` is set, as log lines otherwise, every
//! `CLIENTCREDS_WARNING_INTERVAL`.

use std::sync::{Arc, Weak};

use async_trait::async_trait;
use clientcreds_registry::Error;
use clientcreds_registry::warnings::{
    Contact, Directory, Notifier, RecipientDomains, SmtpNotifier, TracingNotifier, WarningConfig,
    WarningRunner,
};
use clientcreds_store::{Store, TenantId, WarningLedger};

use crate::Config;

/// The reference server has no user directory of its own: a user id that
/// is an e-mail address is its own contact (in
/// `CLIENTCREDS_WARNING_LOCALE`, default `en`); any other is undeliverable,
/// and the admin sees so. The runner's recipient domains
/// (`CLIENTCREDS_WARNING_DOMAINS`, per tenant
/// `CLIENTCREDS_WARNING_TENANT_DOMAINS`) keep a tenant admin from making
/// the server mail arbitrary addresses (an owner is any text the admin
/// chose); without SMTP every address is accepted, since warnings then only
/// reach the log.
#[derive(Debug)]
struct AddressDirectory {
    locale: String,
}

#[async_trait]
impl Directory for AddressDirectory {
    async fn contact(&self, user_id: &str) -> Result<Option<Contact>, Error> {
        let address = user_id
            .split_once('@')
            .is_some_and(|(local, domain)| !local.is_empty() && domain.contains('.'));
        Ok(address.then(|| Contact::new(user_id, user_id, user_id, &self.locale)))
    }
}

/// The domains `config` allows: any without SMTP (log lines only).
fn recipient_domains(config: &Config) -> Result<RecipientDomains, String> {
    if config.smtp_url.is_none() {
        return Ok(RecipientDomains::any());
    }
    let mut domains = RecipientDomains::only(config.warning_domains.iter().cloned());
    for (tenant, own) in &config.warning_tenant_domains {
        let tenant = TenantId::new(tenant.clone())
            .map_err(|e| format!("CLIENTCREDS_WARNING_TENANT_DOMAINS: {e}"))?;
        domains = domains.with_tenant(tenant, own.iter().cloned());
    }
    Ok(domains)
}

/// The runner `config` describes.
pub(crate) fn runner(
    config: &Config,
    store: Arc<dyn Store>,
    ledger: Arc<dyn WarningLedger>,
) -> Result<WarningRunner, Box<dyn std::error::Error>> {
    let notifier: Arc<dyn Notifier> = match &config.smtp_url {
        Some(_) if config.warning_domains.is_empty() => {
            return Err(
                "CLIENTCREDS_SMTP_URL is set but CLIENTCREDS_WARNING_DOMAINS is not: \
                 set it to the comma-separated e-mail domains expiry warnings may be sent to \
                 (e.g. example.com), so that a client's owner field cannot make this server \
                 mail arbitrary addresses"
                    .into(),
            );
        }
        Some(url) => Arc::new(
            SmtpNotifier::from_url(url, &config.smtp_from)
                .map_err(|e| format!("CLIENTCREDS_SMTP_URL / CLIENTCREDS_SMTP_FROM: {e}"))?,
        ),
        None => Arc::new(TracingNotifier),
    };
    let link = config
        .warning_link
        .replace("{issuer}", config.issuer.trim_end_matches('/'));
    Ok(WarningRunner::new(
        store,
        ledger,
        Arc::new(AddressDirectory {
            locale: config.warning_locale.clone(),
        }),
        notifier,
        WarningConfig::default()
            .with_action_url(link)
            .with_recipient_domains(recipient_domains(config)?),
    ))
}

/// Runs due warnings every `every`, for as long as the runner lives.
pub(crate) fn spawn(runner: Weak<WarningRunner>, every: time::Duration) {
    crate::spawn_every(runner, every, false, |runner| async move {
        match runner.run_due(time::OffsetDateTime::now_utc()).await {
            Ok(report) if report.due_read > 0 => tracing::info!(
                due = report.due_read,
                sent = report.sent,
                undeliverable = report.undeliverable,
                failed = report.failed,
                "expiry warning run"
            ),
            Ok(_) => {}
            Err(error) => {
                tracing::error!(
                    error = &error as &dyn std::error::Error,
                    "expiry warning run failed; retrying next interval"
                );
            }
        }
    });
}
