//! Responses: RFC 6749 §5 token and error responses, RFC 8414 metadata, RFC 7662 introspection, and the token endpoint end to end.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use clientcreds_http::{
    AuthorizationServerMetadata, ClientAuthMethod, introspection_response, token_error_response,
    token_response,
};
use clientcreds_jwt::AccessContext;
use clientcreds_registry::{ExchangeRequest, NewClient, TokenError, TokenErrorCode};
use clientcreds_secret::Secret;
use clientcreds_store::ClaimValue;
use common::{
    API, FORM, ISSUER, REALM, Server, basic_headers, form_encode, form_headers, header, json,
    server,
};
use http::{HeaderMap, HeaderValue, Response};
use serde_json::json;

/// Asserts the RFC 6749 §5.1 caching headers and the JSON content type.
fn assert_no_store(response: &Response<String>) {
    assert_eq!(header(response, "content-type"), Some("application/json"));
    assert_eq!(header(response, "cache-control"), Some("no-store"));
    assert_eq!(header(response, "pragma"), Some("no-cache"));
}

fn error(code: TokenErrorCode) -> TokenError {
    TokenError {
        code,
        description: "described",
    }
}

// --- Token response (RFC 6749 §5.1) ----------------------------------------

#[tokio::test]
async fn the_token_response_is_200_json_no_store_without_refresh_token() {
    let server = server();
    let (id, secret) = server.client("acme", &["read", "write"]).await;
    let token = server
        .tokens
        .exchange(
            ExchangeRequest::client_credentials(id, Secret::from(secret.as_str()))
                .with_scope("read"),
        )
        .await
        .unwrap();
    let response = token_response(&token);
    assert_eq!(response.status(), 200);
    assert_no_store(&response);
    assert_eq!(response.headers().get("www-authenticate"), None);
    let body = json(&response);
    assert_eq!(body["access_token"], token.access_token.expose());
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 3600);
    assert_eq!(body["scope"], "read");
    let members: Vec<&String> = body.as_object().unwrap().keys().collect();
    assert_eq!(
        members,
        ["access_token", "expires_in", "scope", "token_type"]
    );
    assert!(body.get("refresh_token").is_none());
}

// --- Error response (RFC 6749 §5.2) ----------------------------------------

#[test]
fn error_statuses_follow_rfc_6749() {
    use ClientAuthMethod::{Basic, None as NoAuth, Post};
    use TokenErrorCode as C;
    let cases = [
        (C::InvalidRequest, Basic, 400),
        (C::InvalidRequest, Post, 400),
        (C::InvalidRequest, NoAuth, 400),
        (C::InvalidScope, Basic, 400),
        (C::InvalidScope, Post, 400),
        (C::UnsupportedGrantType, NoAuth, 400),
        (C::UnsupportedGrantType, Basic, 400),
        (C::InvalidGrant, Basic, 400),
        (C::UnauthorizedClient, Basic, 400),
        (C::InvalidTarget, Post, 400),
        // Product B: 401 however the credentials came.
        (C::InvalidClient, Post, 401),
        (C::InvalidClient, NoAuth, 401),
        (C::InvalidClient, Basic, 401),
        (C::ServerError, Basic, 500),
        (C::ServerError, Post, 500),
        (C::ServerError, NoAuth, 500),
        (
            C::SlowDown {
                retry_after_secs: 7,
            },
            Post,
            429,
        ),
    ];
    for (code, auth, status) in cases {
        let case = format!("{code:?} {auth:?}");
        let response = token_error_response(&error(code), auth, REALM);
        assert_eq!(response.status(), status, "{case}");
        assert_no_store(&response);
        assert_eq!(
            json(&response),
            json!({ "error": code.as_str(), "error_description": "described" }),
            "{case}"
        );
        let challenge = header(&response, "www-authenticate");
        if status == 401 {
            assert_eq!(challenge, Some("Basic realm=\"clientcreds\""), "{case}");
        } else {
            assert_eq!(challenge, None, "{case}");
        }
        let retry_after = header(&response, "retry-after");
        if status == 429 {
            assert_eq!(retry_after, Some("7"), "{case}");
        } else {
            assert_eq!(retry_after, None, "{case}");
        }
    }
}

#[test]
fn the_basic_challenge_realm_drops_unquotable_characters() {
    let response = token_error_response(
        &error(TokenErrorCode::InvalidClient),
        ClientAuthMethod::Basic,
        "a\"b\\c\u{7f}d\té",
    );
    assert_eq!(
        header(&response, "www-authenticate"),
        Some("Basic realm=\"abcd\"")
    );
}

// --- Metadata (RFC 8414 §2) ------------------------------------------------

#[test]
fn metadata_has_the_rfc_8414_members() {
    let metadata = AuthorizationServerMetadata::new(ISSUER);
    assert_eq!(
        serde_json::to_value(&metadata).unwrap(),
        json!({
            "issuer": "https://auth.example.com",
            "token_endpoint": "https://auth.example.com/oauth/token",
            "jwks_uri": "https://auth.example.com/.well-known/jwks.json",
            "introspection_endpoint": "https://auth.example.com/oauth/introspect",
            "grant_types_supported": ["client_credentials"],
            "response_types_supported": [],
            "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
            "introspection_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        })
    );
}

#[test]
fn metadata_keeps_the_issuer_verbatim_and_omits_absent_members() {
    // RFC 8414 §3.3: `issuer` must be identical to the issuer identifier.
    let mut metadata = AuthorizationServerMetadata::new("https://auth.example.com/tenant/");
    assert_eq!(metadata.issuer, "https://auth.example.com/tenant/");
    assert_eq!(
        metadata.token_endpoint,
        "https://auth.example.com/tenant/oauth/token"
    );
    assert_eq!(
        metadata.jwks_uri,
        "https://auth.example.com/tenant/.well-known/jwks.json"
    );

    metadata.introspection_endpoint = None;
    metadata.introspection_endpoint_auth_methods_supported = None;
    metadata.scopes_supported = Some(vec!["read".into(), "write".into()]);
    let value = serde_json::to_value(&metadata).unwrap();
    let object = value.as_object().unwrap();
    assert!(!object.contains_key("introspection_endpoint"));
    assert!(!object.contains_key("introspection_endpoint_auth_methods_supported"));
    assert_eq!(value["scopes_supported"], json!(["read", "write"]));
    // RFC 8414 §2: REQUIRED members are always present.
    for required in ["issuer", "response_types_supported", "token_endpoint"] {
        assert!(object.contains_key(required), "{required}");
    }
}

// --- Introspection (RFC 7662 §2.2) ------------------------------------------

#[test]
fn an_inactive_token_introspects_to_active_false_only() {
    assert_eq!(
        introspection_response(None, ISSUER),
        json!({ "active": false })
    );
}

#[tokio::test]
async fn an_active_token_introspects_to_its_claims() {
    let server = server();
    let (id, secret) = server
        .client_with(
            "acme",
            NewClient::named("svc")
                .with_scopes(["read", "write"])
                .with_claim("roles", ClaimValue::List(vec!["admin".into()])),
        )
        .await;
    let token = server.token(&id, &secret, "read write").await;
    let context = server.verifier.verify(&token).unwrap();
    let body = introspection_response(Some(&context), ISSUER);
    assert_eq!(
        body,
        json!({
            "active": true,
            "scope": "read write",
            "client_id": id,
            "token_type": "Bearer",
            "exp": context.expires_at.unix_timestamp(),
            "iat": context.issued_at.unix_timestamp(),
            "sub": id,
            "aud": [API],
            "iss": ISSUER,
            "jti": context.jti,
            "tenant": "acme",
            "roles": ["admin"],
        })
    );
    assert_eq!(
        body["exp"].as_i64().unwrap() - body["iat"].as_i64().unwrap(),
        3600
    );
}

#[test]
fn extra_claims_never_override_the_introspection_members() {
    let now = time::OffsetDateTime::from_unix_timestamp(1_790_000_000).unwrap();
    let mut extra = serde_json::Map::new();
    for name in ["active", "scope", "client_id", "iss", "exp", "tenant"] {
        extra.insert(name.to_owned(), json!(false));
    }
    extra.insert("roles".to_owned(), json!(["a"]));
    let context = AccessContext {
        tenant: Some("acme".into()),
        client_id: "svc".into(),
        subject: "svc".into(),
        scopes: vec![],
        audience: vec![API.into()],
        jti: "j".into(),
        issued_at: now,
        expires_at: now + time::Duration::hours(1),
        secret_id: None,
        extra,
    };
    let body = introspection_response(Some(&context), ISSUER);
    assert_eq!(body["active"], true);
    assert_eq!(body["scope"], "");
    assert_eq!(body["client_id"], "svc");
    assert_eq!(body["iss"], ISSUER);
    assert_eq!(body["exp"], 1_790_003_600);
    assert_eq!(body["tenant"], "acme");
    assert_eq!(body["roles"], json!(["a"]));
}

// --- End to end: parse, exchange, render ------------------------------------

async fn assert_issues(server: &Server, headers: &HeaderMap, body: &str, id: &str) {
    let response = server.token_endpoint(headers, body).await;
    assert_eq!(response.status(), 200, "{}", response.body());
    assert_no_store(&response);
    let body = json(&response);
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["scope"], "read");
    assert!(body.get("refresh_token").is_none());
    let context = server
        .verifier
        .verify(body["access_token"].as_str().unwrap())
        .unwrap();
    assert_eq!(context.client_id, id);
    assert_eq!(context.tenant.as_deref(), Some("acme"));
    assert_eq!(context.scopes, ["read"]);
    assert_eq!(context.audience, [API]);
}

#[tokio::test]
async fn end_to_end_with_basic() {
    let server = server();
    let (id, secret) = server.client("acme", &["read", "write"]).await;
    let body = "grant_type=client_credentials&scope=read";
    assert_issues(&server, &basic_headers(&id, &secret), body, &id).await;

    // A wrong secret: 401 with the Basic challenge.
    let response = server
        .token_endpoint(&basic_headers(&id, "cc_wrong"), body)
        .await;
    assert_eq!(response.status(), 401);
    assert_eq!(
        header(&response, "www-authenticate"),
        Some("Basic realm=\"clientcreds\"")
    );
    assert_eq!(json(&response)["error"], "invalid_client");
    assert_no_store(&response);

    // An unknown client answers exactly as a wrong secret does.
    let unknown = server
        .token_endpoint(&basic_headers("nobody", "cc_wrong"), body)
        .await;
    assert_eq!(unknown.status(), 401);
    assert_eq!(unknown.body(), response.body());

    // A scope the client may not have.
    let response = server
        .token_endpoint(
            &basic_headers(&id, &secret),
            "grant_type=client_credentials&scope=admin",
        )
        .await;
    assert_eq!(response.status(), 400);
    assert_eq!(json(&response)["error"], "invalid_scope");
    assert_eq!(header(&response, "www-authenticate"), None);

    // Another grant type.
    let response = server
        .token_endpoint(&basic_headers(&id, &secret), "grant_type=password")
        .await;
    assert_eq!(response.status(), 400);
    assert_eq!(json(&response)["error"], "unsupported_grant_type");

    // No grant type.
    let response = server
        .token_endpoint(&basic_headers(&id, &secret), "scope=read")
        .await;
    assert_eq!(response.status(), 400);
    assert_eq!(json(&response)["error"], "invalid_request");

    // Credentials twice.
    let response = server
        .token_endpoint(
            &basic_headers(&id, &secret),
            &format!("{body}&client_secret={}", form_encode(&secret)),
        )
        .await;
    assert_eq!(response.status(), 400);
    assert_eq!(json(&response)["error"], "invalid_request");
}

#[tokio::test]
async fn end_to_end_with_client_secret_post() {
    let server = server();
    let (id, secret) = server.client("acme", &["read", "write"]).await;
    let body = format!(
        "grant_type=client_credentials&scope=read&client_id={}&client_secret={}",
        form_encode(&id),
        form_encode(&secret)
    );
    assert_issues(&server, &form_headers(), &body, &id).await;

    // With `charset` on the content type.
    let mut headers = HeaderMap::new();
    headers.insert(
        "content-type",
        HeaderValue::from_str(&format!("{FORM}; charset=UTF-8")).unwrap(),
    );
    assert_issues(&server, &headers, &body, &id).await;

    // A wrong secret in the body: 401 (product B), with the challenge
    // every 401 carries.
    let wrong = format!(
        "grant_type=client_credentials&client_id={}&client_secret=cc_wrong",
        form_encode(&id)
    );
    let response = server.token_endpoint(&form_headers(), &wrong).await;
    assert_eq!(response.status(), 401);
    assert_eq!(json(&response)["error"], "invalid_client");
    assert_eq!(
        header(&response, "www-authenticate"),
        Some("Basic realm=\"clientcreds\"")
    );

    // No credentials at all: invalid_client, 401 with the challenge.
    let response = server
        .token_endpoint(&form_headers(), "grant_type=client_credentials")
        .await;
    assert_eq!(response.status(), 401);
    assert_eq!(json(&response)["error"], "invalid_client");
    assert_eq!(
        header(&response, "www-authenticate"),
        Some("Basic realm=\"clientcreds\"")
    );

    // The wrong content type never reaches the exchange.
    let mut json_headers = HeaderMap::new();
    json_headers.insert("content-type", HeaderValue::from_static("application/json"));
    let response = server.token_endpoint(&json_headers, &body).await;
    assert_eq!(response.status(), 400);
    assert_eq!(json(&response)["error"], "invalid_request");
}
