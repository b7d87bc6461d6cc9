//! The five-minute tour: `cargo run --example quickstart`.
//!
//! Everything runs in memory with nothing to configure: create an OAuth
//! client, trade its credentials for a signed access token, verify the
//! token, rotate with a grace window, end the window, deactivate,
//! reactivate and revoke.

#![allow(clippy::print_stdout, clippy::indexing_slicing)] // a narrated demo: prints, and indexes values it just made

use std::error::Error;
use std::sync::Arc;

use clientcreds_jwt::{Algorithm, KeySet, SigningKey, TokenIssuer, TokenVerifier, Validation};
use clientcreds_registry::{
    Actor, ClientUpdate, ExchangeRequest, Issued, NewClient, Policy, Registry, RotateOptions,
    RotationMode, TokenService,
};
use clientcreds_secret::{PepperKey, Secret, SecretHasher};
use clientcreds_store::{ClientStatus, MemoryStore, TenantId};
use time::Duration;

const ISSUER: &str = "https://auth.acme.example";
const API: &str = "https://api.acme.example";

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn Error>> {
    // Set-up a host does once: a store, a peppered hasher, a policy, keys.
    let hasher = SecretHasher::hmac_sha256(PepperKey::new(
        "pepper-2026-11",
        b"load me from your secret manager!",
    )?)?;
    let policy = Policy::default()
        .with_prefix("acme_")
        .with_rotation(RotationMode::ReplaceSecret, Duration::hours(1));
    let registry = Arc::new(Registry::new(Arc::new(MemoryStore::new()), hasher, policy)?);
    let keys = Arc::new(KeySet::new(SigningKey::generate(Algorithm::EdDSA)?));
    let tokens = TokenService::new(
        registry.clone(),
        TokenIssuer::new(keys.clone(), ISSUER),
        API,
    );
    let verifier = TokenVerifier::new(keys, Validation::new(ISSUER, API));
    let tenant = TenantId::new("acme-corp")?;
    let admin = Actor::tenant_admin(tenant.clone(), "alice@acme.example");

    step("1. An admin creates a client; the secret is shown exactly once");
    let created = registry
        .create(
            &admin,
            &tenant,
            NewClient::named("billing-sync").with_scopes(["invoices:read", "invoices:write"]),
        )
        .await?;
    let client_id = created.credentials.client_id.clone();
    println!("   client_id      {client_id}");
    println!(
        "   client_secret  {}",
        created.credentials.client_secret.expose_secret()
    );
    println!(
        "   stored: only a hash, and the display prefix {}",
        created.client.secrets[0].display_prefix
    );
    let first = created.credentials.client_secret.expose_secret().to_owned();

    step("2. The client trades id + secret for a short-lived JWT");
    let response = tokens
        .exchange(
            ExchangeRequest::client_credentials(client_id.clone(), Secret::from(first.as_str()))
                .with_scope("invoices:read"),
        )
        .await?;
    let token = response.access_token.expose().to_owned();
    println!(
        "   token_type {}, expires_in {} s, scope \"{}\"",
        response.token_type, response.expires_in, response.scope
    );
    println!(
        "   access_token {}… ({} bytes, EdDSA, typ at+jwt)",
        &token[..24],
        token.len()
    );

    step("3. The API verifies the token on every request");
    let context = verifier.verify(&token)?;
    println!(
        "   tenant {}, client {}, scopes {:?}, audience {:?}",
        context.tenant().unwrap_or("-"),
        context.client_id,
        context.scopes,
        context.audience
    );
    println!(
        "   require_scope(\"invoices:read\")  -> {:?}",
        context.require_scope("invoices:read")
    );
    println!(
        "   require_scope(\"invoices:write\") -> {}",
        context
            .require_scope("invoices:write")
            .map_or_else(|e| e.to_string(), |()| "ok".into())
    );

    step("4. Rotate with a one-hour grace window");
    let rotated = registry
        .rotate(&admin, &tenant, &client_id, RotateOptions::default())
        .await?;
    let second = rotated.credentials.client_secret.expose_secret().to_owned();
    println!("   new client_secret {}", second);
    show_secrets(&rotated);
    println!(
        "   old secret -> {}",
        exchange(&tokens, &client_id, &first).await
    );
    println!(
        "   new secret -> {}",
        exchange(&tokens, &client_id, &second).await
    );

    step("5. End the grace window now: the old secret stops working");
    registry.end_grace(&admin, &tenant, &client_id).await?;
    println!(
        "   old secret -> {}",
        exchange(&tokens, &client_id, &first).await
    );
    println!(
        "   new secret -> {}",
        exchange(&tokens, &client_id, &second).await
    );

    step("6. Deactivate, then reactivate");
    registry
        .update(
            &admin,
            &tenant,
            &client_id,
            ClientUpdate::default().status(ClientStatus::Inactive),
        )
        .await?;
    println!(
        "   inactive   -> {}",
        exchange(&tokens, &client_id, &second).await
    );
    registry
        .update(
            &admin,
            &tenant,
            &client_id,
            ClientUpdate::default().status(ClientStatus::Active),
        )
        .await?;
    println!(
        "   active     -> {}",
        exchange(&tokens, &client_id, &second).await
    );

    step("7. Revoke: terminal");
    registry.revoke(&admin, &tenant, &client_id).await?;
    println!(
        "   revoked    -> {}",
        exchange(&tokens, &client_id, &second).await
    );
    let again = registry
        .update(
            &admin,
            &tenant,
            &client_id,
            ClientUpdate::default().status(ClientStatus::Active),
        )
        .await;
    println!(
        "   reactivate -> {}",
        again.map_or_else(|e| format!("refused: {e}"), |_| "ok".into())
    );

    step("8. The audit trail recorded every change");
    for record in registry
        .audit(&admin, &tenant, Some(&client_id), None, 50)
        .await?
    {
        println!(
            "   #{} {:?} by {:?}: {:?}",
            record.seq, record.event.action, record.event.actor, record.event.outcome
        );
    }
    Ok(())
}

fn step(title: &str) {
    println!("\n{title}");
}

fn show_secrets(issued: &Issued) {
    for secret in &issued.client.secrets {
        println!(
            "   secret {} ({}) state {:?}",
            secret.secret_id, secret.display_prefix, secret.state
        );
    }
}

async fn exchange(tokens: &TokenService, client_id: &str, secret: &str) -> String {
    match tokens
        .exchange(ExchangeRequest::client_credentials(
            client_id,
            Secret::from(secret),
        ))
        .await
    {
        Ok(response) => format!("token issued (jti {})", response.jti),
        Err(error) => format!("{} ({})", error.code.as_str(), error.description),
    }
}
