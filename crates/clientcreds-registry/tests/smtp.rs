//! The SMTP notifier end to end: warnings rendered and sent by the runner
//! arrive at a real SMTP server (aiosmtpd, started by
//! `scripts/with-smtp.sh`) with the right recipients, subject and language.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::sync::Arc;

use async_trait::async_trait;
use clientcreds_registry::warnings::{
    Contact, Directory, SmtpNotifier, WarningConfig, WarningRunner,
};
use clientcreds_registry::{Actor, Clock as _, Error, NewClient, Policy, SecretLifetime};
use common::{tenant, world};
use time::Duration;

#[derive(Debug)]
struct Users;

#[async_trait]
impl Directory for Users {
    async fn contact(&self, user_id: &str) -> Result<Option<Contact>, Error> {
        Ok(match user_id {
            "anna" => Some(Contact::new(
                "anna",
                "anna@example.se",
                "Anna Svensson",
                "sv-SE",
            )),
            "creator" => Some(Contact::new(
                "creator",
                "ops@example.com",
                "Ops Team",
                "en-US",
            )),
            _ => None,
        })
    }
}

fn maildir_messages() -> Vec<String> {
    let dir = std::env::var("CLIENTCREDS_TEST_MAILDIR").expect(
        "CLIENTCREDS_TEST_MAILDIR is not set: run through scripts/test.sh or scripts/with-smtp.sh",
    );
    let mut messages = Vec::new();
    for sub in ["new", "cur"] {
        let Ok(entries) = std::fs::read_dir(std::path::Path::new(&dir).join(sub)) else {
            continue;
        };
        for entry in entries {
            messages.push(std::fs::read_to_string(entry.unwrap().path()).unwrap());
        }
    }
    messages
}

#[tokio::test]
async fn warnings_arrive_by_smtp_in_each_recipients_language() {
    let url = std::env::var("CLIENTCREDS_TEST_SMTP_URL").expect(
        "CLIENTCREDS_TEST_SMTP_URL is not set: run through scripts/test.sh or scripts/with-smtp.sh",
    );
    let w = world(Policy::default());
    let marker = format!("smtp-test-{}", std::process::id());
    let issued = w
        .registry
        .create(
            &Actor::tenant_admin(tenant("acme"), "creator"),
            &tenant("acme"),
            NewClient::named(&marker)
                .with_owner("anna")
                .with_secret_lifetime(SecretLifetime::After(Duration::days(10))),
        )
        .await
        .unwrap();
    let client_id = issued.credentials.client_id.clone();
    let notifier = SmtpNotifier::from_url(&url, "Identity <no-reply@clientcreds.test>").unwrap();
    let runner = WarningRunner::new(
        w.store.clone(),
        w.store.clone(),
        Arc::new(Users),
        Arc::new(notifier),
        WarningConfig::default(),
    );
    w.clock.advance(Duration::days(3) + Duration::minutes(1));
    let report = runner.run_due(w.clock.now()).await.unwrap();
    assert_eq!((report.sent, report.failed), (2, 0), "{report:?}");

    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let ours = loop {
        let ours: Vec<String> = maildir_messages()
            .into_iter()
            .filter(|m| m.contains(&client_id))
            .collect();
        if ours.len() >= 2 || std::time::Instant::now() > deadline {
            break ours;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    };
    assert_eq!(ours.len(), 2, "two messages, one per recipient");
    let english = ours
        .iter()
        .find(|m| m.contains("ops@example.com"))
        .expect("the creator's message");
    assert!(
        english.contains("Subject: Your OAuth Client Secret is Expiring Soon"),
        "{english}"
    );
    assert!(english.contains("Content-Language: en"), "{english}");
    assert!(
        english.contains("To: \"Ops Team\" <ops@example.com>"),
        "{english}"
    );
    assert!(english.contains("7 days remaining"), "{english}");
    assert!(english.contains("multipart/alternative"));
    let swedish = ours
        .iter()
        .find(|m| m.contains("anna@example.se"))
        .expect("the owner's message");
    assert!(swedish.contains("Content-Language: sv"), "{swedish}");
    assert!(swedish.contains("7 dagar kvar"), "{swedish}");
    assert!(
        !swedish.contains("ops@example.com"),
        "each recipient gets their own message"
    );
    // No secret in either message.
    let secret = issued.credentials.client_secret.expose_secret();
    assert!(ours.iter().all(|m| !m.contains(secret)));
}
