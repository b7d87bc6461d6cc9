//! Expiry warnings through the reference server's admin API: the next
//! warning due on each secret, and the ledger after a run.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use clientcreds_server::{Config, Server};
use serde_json::{Value, json};
use time::format_description::well_known::Rfc3339;
use time::{Duration, OffsetDateTime};

const ROOT: &str = "warnings-root-token-0123456789abcdef";

#[tokio::test]
async fn the_admin_api_shows_the_next_warning_and_what_was_sent() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let mut config = Config::for_addr(addr);
    config.root_token = Some(zeroize::Zeroizing::new(ROOT.into()));
    let server = Server::new(config).await.unwrap();
    let runner = server.warning_runner().clone();
    tokio::spawn(async move { axum::serve(listener, server.router()).await.unwrap() });
    let http = reqwest::Client::new();
    let base = format!("http://{addr}/admin/v1/tenants/acme/clients");

    let created: Value = http
        .post(&base)
        .bearer_auth(ROOT)
        .json(&json!({ "name": "expiring", "owner": "ops@example.com", "secret_ttl_seconds": 10 * 86_400 }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = created["client_id"].as_str().unwrap().to_owned();
    let secret = &created["secrets"][0];
    let expires = OffsetDateTime::parse(secret["expires_at"].as_str().unwrap(), &Rfc3339).unwrap();
    let next =
        OffsetDateTime::parse(secret["next_warning_at"].as_str().unwrap(), &Rfc3339).unwrap();
    assert_eq!(
        expires - next,
        Duration::days(7),
        "10 days: the 7-day stage is the first"
    );

    // A run after the stage: the owner's address gets it (logged here), the
    // creator "root" has no address and is recorded undeliverable.
    let report = runner.run_due(next + Duration::minutes(1)).await.unwrap();
    assert_eq!((report.sent, report.undeliverable), (1, 1), "{report:?}");
    let warnings: Value = http
        .get(format!("{base}/{id}/warnings"))
        .bearer_auth(ROOT)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let states: Vec<(String, String)> = warnings["warnings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| {
            (
                w["recipient"].as_str().unwrap().to_owned(),
                w["state"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        states,
        vec![
            ("ops@example.com".to_owned(), "sent".to_owned()),
            ("root".to_owned(), "undeliverable".to_owned())
        ]
    );
    let upcoming = OffsetDateTime::parse(
        warnings["next"][0]["next_warning_at"].as_str().unwrap(),
        &Rfc3339,
    )
    .unwrap();
    assert_eq!(expires - upcoming, Duration::days(1));
    // Unknown client: 404, like any other admin read.
    let missing = http
        .get(format!("{base}/cc_client_nope/warnings"))
        .bearer_auth(ROOT)
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);
}

#[tokio::test]
async fn smtp_without_a_domain_allow_list_is_refused_at_start() {
    let mut config = Config::for_addr("127.0.0.1:0".parse().unwrap());
    config.smtp_url = Some(zeroize::Zeroizing::new("smtp://127.0.0.1:2525".into()));
    let error = Server::new(config.clone()).await.err().expect("refused");
    assert!(
        error.to_string().contains("CLIENTCREDS_WARNING_DOMAINS"),
        "{error}"
    );
    config.warning_domains = vec!["example.com".into()];
    assert!(Server::new(config).await.is_ok());
}
