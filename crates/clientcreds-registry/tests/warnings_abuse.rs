//! Expiry warnings as a tenant admin would abuse them (issue 20, low 6):
//! a warning carries the admin's text to the owner the admin named, so
//! each tenant's warnings stay inside its own e-mail domains, one
//! recipient gets at most so many per window, and what the tenant reads
//! back in the ledger never repeats a mail server's answer.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use clientcreds_registry::warnings::{
    Contact, DELIVERY_FAILED, DOMAIN_REFUSED, Directory, Notification, Notifier, RecipientDomains,
    WarningConfig, WarningRunner,
};
use clientcreds_registry::{Actor, Clock as _, Error, NewClient, Policy, SecretLifetime};
use clientcreds_store::{WarningLedger, WarningState};
use common::{World, tenant, world};
use time::Duration;

/// A user id that is an e-mail address is its own contact (as in the
/// reference server).
#[derive(Debug)]
struct Addresses;

#[async_trait]
impl Directory for Addresses {
    async fn contact(&self, user_id: &str) -> Result<Option<Contact>, Error> {
        Ok(user_id
            .contains('@')
            .then(|| Contact::new(user_id, user_id, user_id, "en")))
    }
}

/// Records the addresses sent to; refuses every address in `refused` the
/// way an SMTP relay answers RCPT TO for a mailbox that does not exist.
#[derive(Debug, Default)]
struct Relay {
    sent: Mutex<Vec<String>>,
    refused: Vec<String>,
}

#[async_trait]
impl Notifier for Relay {
    async fn notify(&self, notification: &Notification) -> Result<(), Error> {
        let address = &notification.contact.address;
        if self.refused.contains(address) {
            return Err(Error::delivery(format!(
                "smtp: permanent error (550): 5.1.1 <{address}>: Recipient address rejected: \
                 User unknown in local recipient table"
            )));
        }
        self.sent.lock().unwrap().push(address.clone());
        Ok(())
    }
}

impl Relay {
    fn sent(&self) -> Vec<String> {
        let mut sent = self.sent.lock().unwrap().clone();
        sent.sort();
        sent
    }
}

fn runner(w: &World, relay: Arc<Relay>, config: WarningConfig) -> WarningRunner {
    WarningRunner::new(
        w.store.clone(),
        w.store.clone(),
        Arc::new(Addresses),
        relay,
        config,
    )
}

/// A client of `tenant_id` created by `creator`, owned by `owner`, whose
/// secret expires in 10 days (first warning: the 7-day stage, 3 days on).
async fn create(w: &World, tenant_id: &str, creator: &str, owner: &str) -> String {
    let new = NewClient::named("expiring")
        .with_owner(owner)
        .with_secret_lifetime(SecretLifetime::After(Duration::days(10)));
    w.registry
        .create(
            &Actor::tenant_admin(tenant(tenant_id), creator),
            &tenant(tenant_id),
            new,
        )
        .await
        .unwrap()
        .credentials
        .client_id
        .clone()
}

#[tokio::test]
async fn warnings_go_only_to_the_tenants_own_domains() {
    let w = world(Policy::default());
    let relay = Arc::new(Relay::default());
    let domains =
        RecipientDomains::only(["example.com"]).with_tenant(tenant("acme"), ["Acme.test"]);
    let runner = runner(
        &w,
        relay.clone(),
        WarningConfig::default().with_recipient_domains(domains),
    );
    // Acme's admin names an owner in the platform's default domain (and
    // so in another tenant's): acme's own list replaces the default.
    let acme = create(&w, "acme", "admin@acme.test", "victim@example.com").await;
    // Globex has no list of its own: the default applies.
    create(&w, "globex", "admin@globex.test", "ops@example.com").await;
    w.clock.advance(Duration::days(3) + Duration::minutes(1));
    let report = runner.run_due(w.clock.now()).await.unwrap();

    assert_eq!(
        relay.sent(),
        vec!["admin@acme.test".to_owned(), "ops@example.com".to_owned()]
    );
    assert_eq!((report.sent, report.undeliverable), (2, 2), "{report:?}");
    let records = w.store.warnings(&tenant("acme"), &acme).await.unwrap();
    let victim = records
        .iter()
        .find(|r| r.key.recipient == "victim@example.com")
        .unwrap();
    assert_eq!(victim.state, WarningState::Undeliverable);
    assert_eq!(victim.detail, DOMAIN_REFUSED);
}

#[test]
fn a_domain_matches_exactly_and_only_a_plain_address() {
    let domains = RecipientDomains::only(["example.com"]);
    let t = tenant("acme");
    assert!(domains.allows(&t, "ops@example.com"));
    assert!(domains.allows(&t, "ops@EXAMPLE.com"));
    assert!(!domains.allows(&t, "ops@mail.example.com"), "a subdomain");
    assert!(!domains.allows(&t, "ops@example.com.evil.test"));
    assert!(!domains.allows(&t, "example.com"), "no local part");
    assert!(!domains.allows(&t, "@example.com"));
    assert!(
        !domains.allows(&t, "x@evil.test, ops@example.com"),
        "two addresses"
    );
    assert!(!domains.allows(&t, "Ops <ops@evil.test>@example.com"));
    assert!(RecipientDomains::any().allows(&t, "anyone@anywhere.test"));
    let own = RecipientDomains::any().with_tenant(t.clone(), ["acme.test"]);
    assert!(!own.allows(&t, "ops@example.com"));
    assert!(own.allows(&tenant("globex"), "ops@example.com"));
}

#[tokio::test]
async fn one_recipient_gets_at_most_the_limit_per_window() {
    let w = world(Policy::default());
    let relay = Arc::new(Relay::default());
    let runner = runner(
        &w,
        relay.clone(),
        WarningConfig::default().with_recipient_limit(3, Duration::days(1)),
    );
    // Five clients, all owned by one address: a tenant admin's way to
    // mail it as often as they like.
    for _ in 0..5 {
        create(&w, "acme", "admin", "victim@example.com").await;
    }
    // Another tenant's warnings to the same address count on their own.
    create(&w, "globex", "admin", "victim@example.com").await;
    w.clock.advance(Duration::days(3) + Duration::minutes(1));
    let report = runner.run_due(w.clock.now()).await.unwrap();
    assert_eq!((report.sent, report.rate_limited), (4, 2), "{report:?}");
    // A later run inside the window sends nothing more...
    w.clock.advance(Duration::hours(12));
    let report = runner.run_due(w.clock.now()).await.unwrap();
    assert_eq!((report.sent, report.rate_limited), (0, 2), "{report:?}");
    // ...and once the window has passed, the held-back ones go out: held
    // back, never dropped.
    w.clock.advance(Duration::hours(12) + Duration::minutes(1));
    let report = runner.run_due(w.clock.now()).await.unwrap();
    assert_eq!((report.sent, report.rate_limited), (2, 0), "{report:?}");
    assert_eq!(relay.sent().len(), 6);
}

#[tokio::test]
async fn a_mail_servers_rejection_stays_out_of_the_tenants_view() {
    let w = world(Policy::default());
    let relay = Arc::new(Relay {
        sent: Mutex::default(),
        refused: vec!["nobody@example.com".to_owned()],
    });
    let runner = runner(
        &w,
        relay.clone(),
        WarningConfig::default().with_max_attempts(2),
    );
    let id = create(&w, "acme", "admin@example.com", "nobody@example.com").await;
    w.clock.advance(Duration::days(3) + Duration::minutes(1));
    let report = runner.run_due(w.clock.now()).await.unwrap();
    assert_eq!((report.sent, report.failed), (1, 1), "{report:?}");
    let records = w.store.warnings(&tenant("acme"), &id).await.unwrap();
    let refused = records
        .iter()
        .find(|r| r.key.recipient == "nobody@example.com")
        .unwrap();
    assert_eq!(refused.state, WarningState::Pending);
    assert_eq!(refused.detail, DELIVERY_FAILED);
    // Given up: still nothing of the server's answer.
    w.clock.advance(Duration::hours(1));
    runner.run_due(w.clock.now()).await.unwrap();
    let records = w.store.warnings(&tenant("acme"), &id).await.unwrap();
    for record in &records {
        assert!(
            !record.detail.contains("550") && !record.detail.contains("User unknown"),
            "{}",
            record.detail
        );
    }
    let refused = records
        .iter()
        .find(|r| r.key.recipient == "nobody@example.com")
        .unwrap();
    assert_eq!(refused.state, WarningState::Undeliverable);
}
