//! The admin API's JSON, field by field, against the reference server over
//! loopback HTTP: the same names in and out, plain-string statuses, the
//! top-level `expires_at` of every kind of client, each secret's
//! `expires_at` and `last_used_at`, `If-Match`, activity, and one error
//! body shape for every 4xx.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use clientcreds_server::{Config, Server};
use clientcreds_store::TenantId;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

const ROOT: &str = "root-token-for-admin-api-0123456789";
const ACME_ADMIN: &str = "acme-admin-for-admin-api-0123456789";

struct Running {
    base: String,
    http: reqwest::Client,
}

async fn start() -> Running {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let mut config = Config::for_addr(addr);
    config.root_token = Some(zeroize::Zeroizing::new(ROOT.into()));
    config.tenant_admins = vec![(
        TenantId::new("acme").unwrap(),
        zeroize::Zeroizing::new(ACME_ADMIN.into()),
    )];
    let server = Server::new(config).await.unwrap();
    tokio::spawn(async move { axum::serve(listener, server.router()).await.unwrap() });
    Running {
        base: format!("http://{addr}"),
        http: reqwest::Client::new(),
    }
}

impl Running {
    async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
        headers: &[(&str, &str)],
    ) -> (StatusCode, reqwest::header::HeaderMap, Value) {
        let mut request = self
            .http
            .request(method, format!("{}/admin/v1{path}", self.base))
            .bearer_auth(ACME_ADMIN);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        if let Some(body) = body {
            request = request
                .header("content-type", "application/json")
                .body(body.to_string());
        }
        let response = request.send().await.unwrap();
        let (status, headers) = (response.status(), response.headers().clone());
        let text = response.text().await.unwrap();
        (
            status,
            headers,
            serde_json::from_str(&text).unwrap_or(Value::Null),
        )
    }

    async fn admin(&self, method: Method, path: &str, body: Option<Value>) -> (StatusCode, Value) {
        let (status, _, body) = self.call(method, path, body, &[]).await;
        (status, body)
    }

    async fn token(&self, id: &str, secret: &str) -> StatusCode {
        self.http
            .post(format!("{}/oauth/token", self.base))
            .basic_auth(id, Some(secret))
            .form(&[("grant_type", "client_credentials")])
            .send()
            .await
            .unwrap()
            .status()
    }
}

fn at(value: &Value) -> OffsetDateTime {
    OffsetDateTime::parse(value.as_str().unwrap(), &Rfc3339).unwrap()
}

/// Asserts the one error shape: exactly `error`, `field`, `reason`.
fn assert_error_shape(body: &Value, error: &str, field: Option<&str>) {
    let object = body
        .as_object()
        .unwrap_or_else(|| panic!("not JSON: {body}"));
    let mut keys: Vec<&str> = object.keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(keys, ["error", "field", "reason"], "{body}");
    assert_eq!(body["error"], error, "{body}");
    assert_eq!(body["field"].as_str(), field, "{body}");
}

#[tokio::test]
async fn create_echoes_every_field_under_the_names_it_was_sent_with() {
    let server = start().await;
    let before = OffsetDateTime::now_utc();
    let (status, created) = server
        .admin(
            Method::POST,
            "/tenants/acme/clients",
            Some(json!({
                "client_name": "reports",
                "description": "nightly export",
                "scopes": ["read", "export"],
                "audiences": ["https://api.example.com"],
                "extra_claims": { "roles": ["viewer", "exporter"], "plan": "gold" },
                "owner": "user-7",
                "secret_lifetime_seconds": 86400,
                "token_lifetime_seconds": 1800
            })),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert_eq!(created["name"], "reports");
    assert!(created.get("client_name").is_none(), "{created}");
    assert_eq!(created["description"], "nightly export");
    assert_eq!(created["scopes"], json!(["read", "export"]));
    assert_eq!(created["audiences"], json!(["https://api.example.com"]));
    assert_eq!(
        created["extra_claims"],
        json!({ "roles": ["viewer", "exporter"], "plan": "gold" })
    );
    assert_eq!(created["owner"], "user-7");
    assert_eq!(created["token_lifetime_seconds"], 1800);
    assert_eq!(created["status"], "active");
    assert_eq!(created["tenant"], "acme");
    assert_eq!(created["version"], 1);
    assert!(created["client_secret"].as_str().unwrap().len() > 20);
    assert!(created["replaced_by"].is_null() && created["grace_until"].is_null());
    // The secret expires in a day, and so does the client.
    let secret = &created["secrets"][0];
    assert_eq!(secret["state"], "active");
    assert_eq!(secret["secret_id"], created["secret_id"]);
    assert!(secret["last_used_at"].is_null());
    let expires = at(&secret["expires_at"]);
    assert!(expires >= before + time::Duration::days(1) - time::Duration::seconds(1));
    assert!(expires <= OffsetDateTime::now_utc() + time::Duration::days(1));
    assert_eq!(created["expires_at"], secret["expires_at"]);

    // The client's token settings reach its tokens (product C): roles and
    // a 30-minute lifetime.
    let id = created["client_id"].as_str().unwrap();
    let token: Value = server
        .http
        .post(format!("{}/oauth/token", server.base))
        .basic_auth(id, created["client_secret"].as_str())
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(token["expires_in"], 1800, "{token}");

    // The secret's last use shows up, and so does the client's.
    let (_, headers, view) = server
        .call(
            Method::GET,
            &format!("/tenants/acme/clients/{id}"),
            None,
            &[],
        )
        .await;
    assert!(view["secrets"][0]["last_used_at"].is_string(), "{view}");
    assert!(view["last_used_at"].is_string(), "{view}");
    assert_eq!(headers["etag"], "\"1\"");
    assert_eq!(headers["cache-control"], "no-store");

    // A list row has the same shape as the view; owner filters.
    let (status, list) = server
        .admin(Method::GET, "/tenants/acme/clients?owner=user-7", None)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(list["clients"][0], view);
    let (_, none) = server
        .admin(
            Method::GET,
            "/tenants/acme/clients?owner=someone-else",
            None,
        )
        .await;
    assert_eq!(none["clients"], json!([]));
}

#[tokio::test]
async fn expires_at_for_never_secret_expiry_and_rotated_out_clients() {
    let server = start().await;
    // Never: no secret lifetime, no grace.
    let (_, never) = server
        .admin(
            Method::POST,
            "/tenants/acme/clients",
            Some(json!({ "name": "forever", "secret_lifetime_seconds": null })),
        )
        .await;
    assert_eq!(never["status"], "active");
    assert!(never["expires_at"].is_null(), "{never}");
    assert!(never["secrets"][0]["expires_at"].is_null(), "{never}");

    // Rotated out with a new client and a one-hour grace: the old client
    // is `expiring` and stops at the end of the window, though its secret
    // itself never expires.
    let old_id = never["client_id"].as_str().unwrap();
    let rotated_at = OffsetDateTime::now_utc();
    let (status, successor) = server
        .admin(
            Method::POST,
            &format!("/tenants/acme/clients/{old_id}/rotate"),
            Some(json!({ "mode": "client", "grace_seconds": 3600 })),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{successor}");
    assert_ne!(successor["client_id"], never["client_id"]);
    assert!(successor["client_secret"].is_string());
    assert!(successor["expires_at"].is_null(), "{successor}");
    let (_, old) = server
        .admin(
            Method::GET,
            &format!("/tenants/acme/clients/{old_id}"),
            None,
        )
        .await;
    assert_eq!(old["status"], "expiring", "{old}");
    assert_eq!(old["replaced_by"], successor["client_id"]);
    let end = at(&old["expires_at"]);
    assert_eq!(old["expires_at"], old["grace_until"]);
    assert!(end > rotated_at + time::Duration::minutes(59));
    assert!(end <= OffsetDateTime::now_utc() + time::Duration::hours(1));
    assert!(old["secrets"][0]["expires_at"].is_null());
    let (_, expiring) = server
        .admin(Method::GET, "/tenants/acme/clients?status=expiring", None)
        .await;
    assert_eq!(expiring["clients"][0]["client_id"], old_id);

    // "Revoke now" closes the window: expired, and `expires_at` says when.
    let (status, closed) = server
        .admin(
            Method::POST,
            &format!("/tenants/acme/clients/{old_id}/end-grace"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{closed}");
    assert_eq!(closed["status"], "expired");
    assert!(at(&closed["expires_at"]) <= OffsetDateTime::now_utc());

    // Rotating the secret with a grace: the client keeps its id and does
    // not expire (the new secret never does); the old secret is
    // `expiring` until its own grace end.
    let new_id = successor["client_id"].as_str().unwrap();
    let (_, same) = server
        .admin(
            Method::POST,
            &format!("/tenants/acme/clients/{new_id}/rotate"),
            Some(json!({ "mode": "secret", "grace_seconds": 600 })),
        )
        .await;
    assert_eq!(same["client_id"], new_id);
    assert_eq!(same["status"], "active");
    assert!(same["expires_at"].is_null(), "{same}");
    assert_eq!(same["secrets"][0]["state"], "expiring");
    assert!(same["secrets"][0]["grace_until"].is_string());
    assert_eq!(same["secrets"][1]["state"], "active");

    // Revoked: status says so; nothing left to expire.
    let (_, revoked) = server
        .admin(
            Method::POST,
            &format!("/tenants/acme/clients/{new_id}/revoke"),
            None,
        )
        .await;
    assert_eq!(revoked["status"], "revoked");
    assert!(revoked["expires_at"].is_null());
}

#[tokio::test]
async fn if_match_activity_and_one_error_shape() {
    let server = start().await;
    let (_, created) = server
        .admin(
            Method::POST,
            "/tenants/acme/clients",
            Some(json!({ "name": "svc" })),
        )
        .await;
    let id = created["client_id"].as_str().unwrap().to_owned();
    let secret = created["client_secret"].as_str().unwrap().to_owned();
    let path = format!("/tenants/acme/clients/{id}");

    // If-Match: the current version applies (and bumps it), a stale one is 412.
    let (status, headers, patched) = server
        .call(
            Method::PATCH,
            &path,
            Some(json!({ "name": "svc-2", "token_lifetime_seconds": 600 })),
            &[("if-match", "\"1\"")],
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{patched}");
    assert_eq!(
        (patched["name"].as_str(), patched["version"].as_u64()),
        (Some("svc-2"), Some(2))
    );
    assert_eq!(patched["token_lifetime_seconds"], 600);
    assert_eq!(headers["etag"], "\"2\"");
    let (status, _, stale) = server
        .call(
            Method::PATCH,
            &path,
            Some(json!({ "name": "lost-update" })),
            &[("if-match", "\"1\"")],
        )
        .await;
    assert_eq!(status, StatusCode::PRECONDITION_FAILED);
    assert_error_shape(&stale, "precondition_failed", Some("If-Match"));
    // `null` returns the token lifetime to the policy's.
    let (_, cleared) = server
        .admin(
            Method::PATCH,
            &path,
            Some(json!({ "token_lifetime_seconds": null })),
        )
        .await;
    assert!(cleared["token_lifetime_seconds"].is_null(), "{cleared}");

    // Activity: an issued token and a refused one, per client and per
    // tenant, paged with `after`.
    assert_eq!(server.token(&id, &secret).await, StatusCode::OK);
    // Refused after authentication (so attributed to the tenant): a scope
    // the client may not have.
    let refused = server
        .http
        .post(format!("{}/oauth/token", server.base))
        .basic_auth(&id, Some(&secret))
        .form(&[("grant_type", "client_credentials"), ("scope", "admin")])
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), StatusCode::BAD_REQUEST);
    let refused = server
        .http
        .post(format!("{}/oauth/token", server.base))
        .basic_auth(&id, Some(&secret))
        .form(&[
            ("grant_type", "client_credentials"),
            ("audience", "https://elsewhere.example"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), StatusCode::BAD_REQUEST);
    // The issued token is counted (per secret, source and minute); the
    // refusals are counted and each has its row.
    let (status, counts) = server
        .admin(Method::GET, &format!("{path}/activity/counts"), None)
        .await;
    assert_eq!(status, StatusCode::OK, "{counts}");
    let summary: Vec<(String, String, u64)> = counts["counts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["outcome"].as_str().unwrap().to_owned(),
                c["reason"].as_str().unwrap_or("").to_owned(),
                c["count"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            ("denied".to_owned(), "invalid_scope".to_owned(), 1),
            ("denied".to_owned(), "invalid_target".to_owned(), 1),
            ("issued".to_owned(), String::new(), 1),
        ],
        "{counts}"
    );
    let (status, activity) = server
        .admin(Method::GET, &format!("{path}/activity"), None)
        .await;
    assert_eq!(status, StatusCode::OK, "{activity}");
    let records = activity["records"].as_array().unwrap();
    assert_eq!(records.len(), 2, "{activity}");
    assert_eq!(records[0]["event"], "token_denied");
    assert_eq!(records[0]["reason"], "invalid_scope");
    assert_eq!(records[1]["event"], "token_denied");
    assert_eq!(records[1]["reason"], "invalid_target");
    assert!(!activity.to_string().contains(&secret[12..]));
    assert!(!counts.to_string().contains(&secret[12..]));
    let (_, first) = server
        .admin(Method::GET, "/tenants/acme/activity?limit=1", None)
        .await;
    assert_eq!(first["records"].as_array().unwrap().len(), 1);
    let after = first["next_after"].as_u64().unwrap();
    let (_, rest) = server
        .admin(
            Method::GET,
            &format!("/tenants/acme/activity?after={after}&limit=10"),
            None,
        )
        .await;
    assert_eq!(rest["records"][0]["seq"].as_u64(), Some(after + 1));
    assert!(rest["next_after"].is_null());
    // Another tenant's activity is not acme's admin's to read.
    let (status, body) = server
        .admin(Method::GET, "/tenants/globex/activity", None)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_error_shape(&body, "not_found", None);

    // The audit trail reads as plain words.
    let (_, audit) = server
        .admin(
            Method::GET,
            &format!("/tenants/acme/audit?client_id={id}"),
            None,
        )
        .await;
    assert_eq!(audit["records"][0]["action"], "create");
    assert_eq!(audit["records"][0]["outcome"], "success");

    // Every 4xx has the same shape.
    let (status, body) = server
        .admin(
            Method::POST,
            "/tenants/acme/clients",
            Some(json!({ "name": "" })),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_error_shape(&body, "invalid", Some("name"));
    let (status, body) = server
        .admin(Method::POST, "/tenants/acme/clients", Some(json!({})))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_error_shape(&body, "bad_request", Some("name"));
    let (status, body) = server
        .admin(
            Method::POST,
            "/tenants/acme/clients",
            Some(json!({ "name": "x", "colour": "red" })),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_error_shape(&body, "bad_request", None);
    let (status, body) = server
        .admin(Method::GET, "/tenants/acme/clients?limit=many", None)
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_error_shape(&body, "bad_request", None);
    let (status, body) = server
        .admin(Method::PUT, &path, Some(json!({ "name": "x" })))
        .await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
    assert_error_shape(&body, "method_not_allowed", None);
    let (status, body) = server
        .admin(Method::GET, "/tenants/acme/nothing-here", None)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_error_shape(&body, "not_found", None);
    let huge = server
        .http
        .post(format!("{}/admin/v1/tenants/acme/clients", server.base))
        .bearer_auth(ACME_ADMIN)
        .body(vec![b' '; 256 * 1024])
        .send()
        .await
        .unwrap();
    assert_eq!(huge.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert_error_shape(&huge.json().await.unwrap(), "payload_too_large", None);
    let unauthorized = server
        .http
        .get(format!("{}/admin/v1{path}", server.base))
        .send()
        .await
        .unwrap();
    assert_eq!(unauthorized.status(), StatusCode::UNAUTHORIZED);
    assert_error_shape(&unauthorized.json().await.unwrap(), "unauthorized", None);
    let forbidden = server
        .http
        .get(format!("{}/admin/v1/signing-keys", server.base))
        .bearer_auth(ACME_ADMIN)
        .send()
        .await
        .unwrap();
    assert_eq!(forbidden.status(), StatusCode::FORBIDDEN);
    assert_error_shape(&forbidden.json().await.unwrap(), "forbidden", None);
    let keys = server
        .http
        .get(format!("{}/admin/v1/signing-keys", server.base))
        .bearer_auth(ROOT)
        .send()
        .await
        .unwrap();
    assert_eq!(keys.status(), StatusCode::OK);
    let (status, body) = server
        .admin(Method::POST, &format!("{path}/end-grace"), None)
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_error_shape(&body, "no_grace_window", None);
}
