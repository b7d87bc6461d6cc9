//! DPoP against the real reference server's token endpoint (the issuer
//! side of issue 24): the token is bound to the client's key (`cnf.jkt`),
//! the server's nonce is fetched with one retry and then remembered, and
//! a client without a key still gets a Bearer token.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use clientcreds_client::jwt::Algorithm;
use clientcreds_client::{DpopKey, TokenRequest, TokenType};
use common::{ManualClock, claims, start_with};

#[tokio::test]
async fn the_reference_server_binds_tokens_to_the_dpop_key_after_one_nonce_retry() {
    let server = start_with(|config| {
        config.dpop = true;
        config.dpop_nonces = true;
    })
    .await;
    let (id, secret) = server.create_client(&["echo", "read"], &[]).await;
    for algorithm in [Algorithm::EdDSA, Algorithm::ES256] {
        let key = DpopKey::generate_with(algorithm).unwrap();
        let before = server.token_requests();
        let tokens = server
            .builder(&id, &secret, ManualClock::new())
            .dpop(key.clone())
            .build()
            .unwrap();
        let token = tokens
            .token(&TokenRequest::new().scope("echo"))
            .await
            .unwrap();
        assert_eq!(token.token_type(), TokenType::DPoP);
        assert_eq!(
            claims(token.expose_secret())["cnf"]["jkt"],
            key.thumbprint(),
            "{algorithm}"
        );
        // The first request had no nonce: use_dpop_nonce, then one retry.
        assert_eq!(server.token_requests(), before + 2);
        // The nonce is remembered: the next token takes one request.
        let read = tokens
            .token(&TokenRequest::new().scope("read"))
            .await
            .unwrap();
        assert_eq!(read.token_type(), TokenType::DPoP);
        assert_eq!(server.token_requests(), before + 3);
    }
    // Without a key, the same server answers Bearer as before.
    let plain = server
        .builder(&id, &secret, ManualClock::new())
        .build()
        .unwrap();
    let token = plain
        .token(&TokenRequest::new().scope("echo"))
        .await
        .unwrap();
    assert_eq!(token.token_type(), TokenType::Bearer);
    assert!(claims(token.expose_secret()).get("cnf").is_none());
}
