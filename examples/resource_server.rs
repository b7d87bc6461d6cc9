//! A stand-alone resource server: `cargo run --example resource_server`.
//!
//! It trusts one issuer, fetches that issuer's keys (RFC 8414 discovery,
//! then the JWKS, cached and refreshed by `clientcreds-resource`), and
//! protects `GET /whoami` (any valid token) and `GET /reports` (scope
//! `read`). It never shares a key or a database with the issuer.
//!
//! - With `CLIENTCREDS_ISSUER_URL` set (e.g. a reference server started by
//!   `cargo run -p clientcreds-server`), it serves on `RESOURCE_ADDR`
//!   (default `127.0.0.1:8081`) until stopped. The accepted audience is
//!   `CLIENTCREDS_AUDIENCE`, default `<issuer>/api/v1` (the reference
//!   server's default). Try:
//!   `curl -H "Authorization: Bearer $TOKEN" http://127.0.0.1:8081/whoami`.
//! - Without it, it starts a reference server in-process, registers a
//!   client, obtains a token over HTTP, makes one verified request and one
//!   refused request against itself, prints them, and exits (what CI runs).

#![allow(clippy::print_stdout)] // a narrated demo

use std::error::Error;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::routing::get;
use clientcreds_jwt::Validation;
use clientcreds_registry::{Actor, NewClient};
use clientcreds_resource::{Access, BearerAuthLayer, RemoteKeySet, ReqwestTransport};
use clientcreds_store::TenantId;

/// The resource server's routes, verifying with `keys`.
fn app(keys: RemoteKeySet) -> Router {
    let keys = Arc::new(keys);
    let any = BearerAuthLayer::new(keys.clone()).with_realm("reports-api");
    Router::new()
        .route("/whoami", get(whoami).layer(any.clone()))
        .route("/reports", get(reports).layer(any.require_scope("read")))
}

async fn whoami(Access(context): Access) -> String {
    format!(
        "client {} of tenant {} with scopes [{}]\n",
        context.client_id,
        context.tenant().unwrap_or("-"),
        context.scopes.join(" ")
    )
}

async fn reports(Access(context): Access) -> String {
    format!("reports of tenant {}\n", context.tenant().unwrap_or("-"))
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn Error>> {
    let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
    match var("CLIENTCREDS_ISSUER_URL") {
        Some(issuer) => {
            let audience = var("CLIENTCREDS_AUDIENCE")
                .unwrap_or_else(|| format!("{}/api/v1", issuer.trim_end_matches('/')));
            let addr: SocketAddr = var("RESOURCE_ADDR")
                .unwrap_or_else(|| "127.0.0.1:8081".into())
                .parse()?;
            let keys = RemoteKeySet::builder(Validation::new(issuer.clone(), audience))
                .build(ReqwestTransport::new())?;
            // Fail fast if the issuer cannot be reached at start-up.
            keys.refresh().await?;
            println!("verifying tokens of {issuer}; listening on http://{addr}");
            let listener = tokio::net::TcpListener::bind(addr).await?;
            axum::serve(listener, app(keys)).await?;
            Ok(())
        }
        None => demo().await,
    }
}

/// Both parties in one process, talking over loopback HTTP.
async fn demo() -> Result<(), Box<dyn Error>> {
    // The issuer: the reference server, on a port of its own.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let config = clientcreds_server::Config::for_addr(listener.local_addr()?);
    let (issuer, audience) = (config.issuer.clone(), config.audience.clone());
    let server = clientcreds_server::Server::new(config).await?;
    let issued = server
        .registry()
        .create(
            &Actor::System,
            &TenantId::new("acme")?,
            NewClient::named("reporting").with_scopes(["read"]),
        )
        .await?;
    let router = server.router();
    tokio::spawn(async move { axum::serve(listener, router).await });
    println!("issuer (reference server) at {issuer}");

    // The resource server: knows only the issuer's URL and its audience.
    let keys = RemoteKeySet::builder(Validation::new(issuer.clone(), audience))
        .build(ReqwestTransport::new())?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let resource = format!("http://{}", listener.local_addr()?);
    tokio::spawn(async move { axum::serve(listener, app(keys)).await });
    println!("resource server at {resource}");

    // A caller: a token from the issuer's token endpoint, then the API.
    let http = reqwest::Client::new();
    let response = http
        .post(format!("{issuer}/oauth/token"))
        .basic_auth(
            &issued.credentials.client_id,
            Some(issued.credentials.client_secret.expose_secret()),
        )
        .header("content-type", "application/x-www-form-urlencoded")
        .body("grant_type=client_credentials&scope=read")
        .send()
        .await?;
    let body: serde_json::Value = serde_json::from_str(&response.text().await?)?;
    let token = body
        .get("access_token")
        .and_then(serde_json::Value::as_str)
        .ok_or("the issuer sent no access token")?;

    let verified = http
        .get(format!("{resource}/reports"))
        .bearer_auth(token)
        .send()
        .await?;
    let status = verified.status();
    print!(
        "GET /reports with the token: {status}, {}",
        verified.text().await?
    );
    if status != reqwest::StatusCode::OK {
        return Err("the token was not accepted".into());
    }

    let refused = http.get(format!("{resource}/reports")).send().await?;
    println!(
        "GET /reports without a token: {}, {}",
        refused.status(),
        refused
            .headers()
            .get("www-authenticate")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    );
    if refused.status() != reqwest::StatusCode::UNAUTHORIZED {
        return Err("a request without a token was not refused".into());
    }
    Ok(())
}
