//! A service that calls an API protected by client credentials, through
//! the token cache: `cargo run -p clientcreds-examples --example caller`.
//!
//! With no settings it starts the reference server in this process on
//! loopback and creates an OAuth client for itself. To call a server that
//! is already running, set `CLIENTCREDS_URL` (its issuer, e.g.
//! `http://127.0.0.1:8080`), `CLIENTCREDS_CLIENT_ID` and
//! `CLIENTCREDS_CLIENT_SECRET` (a client allowed the `echo` scope).
//!
//! It prints what the API answered and how many token requests the calls
//! took; never the secret or a token.

#![allow(clippy::print_stdout, clippy::indexing_slicing)] // a narrated demo: prints, and indexes JSON (absent keys are null)

use std::error::Error;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use clientcreds_client::{
    BearerMiddleware, ClientSecret, TokenClient, TokenRequest, Transport, TransportError,
};
use serde_json::Value;

/// The default transport, counting the requests it sends (to show the
/// cache at work). Any HTTP client can be plugged in like this.
#[derive(Debug)]
struct Counting {
    http: reqwest::Client,
    sent: AtomicUsize,
}

#[async_trait::async_trait]
impl Transport for Counting {
    async fn send(
        &self,
        request: http::Request<Vec<u8>>,
    ) -> Result<http::Response<Vec<u8>>, TransportError> {
        self.sent.fetch_add(1, Ordering::Relaxed);
        self.http.send(request).await
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn Error>> {
    let (issuer, client_id, secret) = match std::env::var("CLIENTCREDS_URL") {
        Ok(url) => (
            url,
            std::env::var("CLIENTCREDS_CLIENT_ID")?,
            ClientSecret::new(std::env::var("CLIENTCREDS_CLIENT_SECRET")?),
        ),
        Err(_) => start_reference_server().await?,
    };
    println!("authorization server: {issuer}");
    println!("client id:            {client_id}");

    // Once per process: the token client, found through RFC 8414 discovery.
    let transport = Arc::new(Counting {
        http: clientcreds_client::default_reqwest_client()?,
        sent: AtomicUsize::new(0),
    });
    let tokens = TokenClient::builder(client_id, secret)
        .issuer(issuer.clone())
        .transport(transport.clone())
        .discover()
        .await?;
    println!("token endpoint:       {}", tokens.token_endpoint());

    // An HTTP client whose requests carry a cached `echo` token.
    let api = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
        // The token goes to the API's origin only.
        .with(BearerMiddleware::new(
            tokens.source(TokenRequest::new().scope("echo"))?,
            &issuer,
        )?)
        .build();

    let whoami: Value = api
        .get(format!("{issuer}/api/v1/whoami"))
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    println!("GET  /api/v1/whoami -> {whoami}");
    for i in 1..=5 {
        let echo: Value = api
            .post(format!("{issuer}/api/v1/echo"))
            .body(format!("message {i}"))
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
        println!("POST /api/v1/echo   -> {}", echo["echo"]);
    }
    // One metadata request (discovery) and one token request for six calls.
    println!(
        "6 API calls took {} request(s) to the authorization server (discovery included)",
        transport.sent.load(Ordering::Relaxed)
    );
    Ok(())
}

/// The reference server on a free loopback port, and a client of tenant
/// `demo` allowed the `echo` scope.
async fn start_reference_server() -> Result<(String, String, ClientSecret), Box<dyn Error>> {
    use clientcreds_registry::{Actor, NewClient};
    use clientcreds_server::{Config, Server};
    use clientcreds_store::TenantId;

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let server = Server::new(Config::for_addr(addr)).await?;
    let router = server.router();
    tokio::spawn(async move { axum::serve(listener, router).await });
    let issued = server
        .registry()
        .create(
            &Actor::System,
            &TenantId::new("demo")?,
            NewClient::named("caller example").with_scopes(["echo"]),
        )
        .await?;
    let secret = ClientSecret::new(issued.credentials.client_secret.expose_secret());
    Ok((
        format!("http://{addr}"),
        issued.credentials.client_id.clone(),
        secret,
    ))
}
