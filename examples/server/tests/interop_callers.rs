//! Callers we did not write, against the reference server over HTTP:
//! panva's openid-client (Node.js, pinned in
//! tests/interop/oidc-provider/package.json) discovers the server through
//! RFC 8414 metadata and gets tokens with `private_key_jwt`, signing with
//! Ed25519 (sent under its RFC 9864 name) and ES256. Run through
//! scripts/with-oidc-provider.sh (scripts/test.sh does), which installs
//! the pinned packages and exports `CLIENTCREDS_OIDC_PROVIDER`.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use base64::Engine as _;
use clientcreds_jwt::{Algorithm, SigningKey};
use common::process::{K1, ROOT, start};
use serde_json::{Value, json};

fn interop_dir() -> String {
    std::env::var("CLIENTCREDS_OIDC_PROVIDER").expect(
        "CLIENTCREDS_OIDC_PROVIDER is not set: run through scripts/test.sh or scripts/with-oidc-provider.sh",
    )
}

async fn openid_client_gets_a_token(algorithm: Algorithm, name: &str) {
    let proc = start(None, Some(K1), &[("CLIENTCREDS_ISSUER", "{base}")]).await;
    let der = SigningKey::generate_pkcs8(algorithm).unwrap();
    let key = SigningKey::from_pkcs8_der(algorithm, &der).unwrap();
    let jwk = key.verifying_key().public_jwk().unwrap().clone();
    let response = reqwest::Client::new()
        .post(format!("{}/admin/v1/tenants/acme/clients", proc.base))
        .bearer_auth(ROOT)
        .json(&json!({
            "client_name": "node caller",
            "token_endpoint_auth_method": "private_key_jwt",
            "jwks": {"keys": [jwk]},
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    let body: Value = response.json().await.unwrap();
    let id = body["client_id"].as_str().unwrap().to_owned();

    // The server is another process: waiting here blocks nothing it needs.
    let mut command = std::process::Command::new("node");
    if algorithm == Algorithm::EdDSA {
        // The seed of the PKCS#8 v2 document (RFC 8410: OCTET STRING of 32
        // bytes at offset 16), as a private JWK: Node's importers refuse
        // the v2 form the backend writes.
        assert_eq!(
            &der[14..16],
            &[0x04, 0x20],
            "unexpected Ed25519 PKCS#8 layout"
        );
        let d = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&der[16..48]);
        let private = json!({"kty": "OKP", "crv": "Ed25519", "x": jwk.x, "d": d});
        command.env("CC_KEY_JWK", private.to_string());
    }
    let output = command
        .arg(format!("{}/caller.mjs", interop_dir()))
        .env("CC_ISSUER", &proc.base)
        .env("CC_CLIENT_ID", &id)
        .env(
            "CC_KEY_PKCS8",
            base64::engine::general_purpose::STANDARD.encode(&*der),
        )
        .env("CC_KEY_ALG", name)
        .env("CC_KEY_KID", key.kid())
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "openid-client failed ({name}): {}\nserver: {}",
        String::from_utf8_lossy(&output.stderr),
        proc.output()
    );
    let tokens: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(
        tokens["token_type"]
            .as_str()
            .map(str::to_lowercase)
            .as_deref(),
        Some("bearer")
    );
    let token = tokens["access_token"].as_str().unwrap();
    let me = reqwest::Client::new()
        .get(format!("{}/api/v1/whoami", proc.base))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(me.status(), 200);
    let me: Value = me.json().await.unwrap();
    assert_eq!(me["client_id"], id.as_str(), "{me}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openid_client_private_key_jwt_ed25519() {
    openid_client_gets_a_token(Algorithm::EdDSA, "Ed25519").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openid_client_private_key_jwt_es256() {
    openid_client_gets_a_token(Algorithm::ES256, "ES256").await;
}

/// Runs `caller-dpop.mjs` against `proc`; its JSON output.
async fn openid_client_dpop(
    proc: &common::process::Proc,
    id: &str,
    secret: &str,
    api: Option<&str>,
) -> Value {
    let mut command = std::process::Command::new("node");
    command
        .arg(format!("{}/caller-dpop.mjs", interop_dir()))
        .env("CC_ISSUER", &proc.base)
        .env("CC_CLIENT_ID", id)
        .env("CC_CLIENT_SECRET", secret);
    if let Some(api) = api {
        command.env("CC_API_URL", api);
    }
    let output = command.output().unwrap();
    assert!(
        output.status.success(),
        "openid-client (DPoP) failed: {}\nserver: {}",
        String::from_utf8_lossy(&output.stderr),
        proc.output()
    );
    serde_json::from_slice(&output.stdout).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openid_client_gets_a_dpop_bound_token_with_the_nonce_retry() {
    let proc = start(
        None,
        Some(K1),
        &[
            ("CLIENTCREDS_ISSUER", "{base}"),
            ("CLIENTCREDS_DPOP_NONCES", "true"),
        ],
    )
    .await;
    let (id, secret) = proc.create_client("node dpop caller").await;
    let result = openid_client_dpop(&proc, &id, &secret, None).await;
    assert_eq!(
        result["token_type"]
            .as_str()
            .map(str::to_lowercase)
            .as_deref(),
        Some("dpop"),
        "{result}"
    );
    // And at the demo API: the bound token with a proof per request
    // (openid-client's fetchProtectedResource).
    let api = format!("{}/api/v1/whoami", proc.base);
    let result = openid_client_dpop(&proc, &id, &secret, Some(&api)).await;
    assert_eq!(result["api_status"], 200, "{result}");
    assert_eq!(result["api_body"]["client_id"], id.as_str(), "{result}");
}
