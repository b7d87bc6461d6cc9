//! DPoP (RFC 9449) through the public API: a local token endpoint and API
//! check every proof with `clientcreds_jwt::dpop::check_proof` (`htm`,
//! `htu`, `ath`, the key bound to the token, unique `jti`s), ask for
//! nonces, and the tests count what was sent.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod dpop_server;

use std::collections::HashSet;
use std::sync::Arc;

use bytes::Bytes;
use clientcreds_client::jwt::{Algorithm, SigningKey, pkcs8_pem};
use clientcreds_client::{
    AssertionKey, BearerLayer, BearerMiddleware, ClientSecret, DpopKey, Error, MemoryCache,
    OAuthErrorCode, TokenClient, TokenClientBuilder, TokenRequest, TokenSource, TokenType,
};
use dpop_server::{DpopServer, Nonces, start, start_api_for};
use http_body_util::{BodyExt as _, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use tower::{Layer as _, ServiceExt as _};

fn builder(server: &DpopServer) -> TokenClientBuilder {
    TokenClient::builder("svc_1", ClientSecret::new("cs_1")).token_endpoint(server.endpoint())
}

fn middleware(source: TokenSource, api: &str) -> reqwest_middleware::ClientWithMiddleware {
    reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
        .with(BearerMiddleware::new(source, api).unwrap())
        .build()
}

/// Every `jti` the servers saw is distinct.
fn assert_unique_jtis(servers: &[&DpopServer]) {
    let mut seen = HashSet::new();
    for server in servers {
        for proof in server.token_proofs().iter().chain(&server.api_proofs()) {
            assert_eq!(proof.checked.jti.len(), 22, "128 bits, base64url");
            assert!(seen.insert(proof.checked.jti.clone()), "jti reused");
        }
    }
}

#[tokio::test]
async fn token_requests_carry_a_proof_and_get_a_bound_token() {
    let server = start().await;
    let key = DpopKey::generate().unwrap();
    let tokens = builder(&server).dpop(key.clone()).build().unwrap();
    let token = tokens.token(&TokenRequest::new().scope("a")).await.unwrap();
    assert_eq!(token.token_type(), TokenType::DPoP);
    assert_eq!(
        token.authorization().unwrap().to_str().unwrap(),
        format!("DPoP {}", token.expose_secret())
    );
    let proofs = server.token_proofs();
    assert_eq!(proofs.len(), 1);
    // check_proof passed for POST on the token endpoint; the key is ours.
    assert_eq!(proofs[0].url, server.endpoint());
    assert_eq!(proofs[0].checked.jkt, key.thumbprint());
    assert_eq!(proofs[0].checked.nonce, None);
    assert!(server.failures().is_empty(), "{:?}", server.failures());

    // A private_key_jwt client with an ES256 DPoP key from PKCS#8 PEM.
    let pem = pkcs8_pem(&SigningKey::generate_pkcs8(Algorithm::ES256).unwrap());
    let dpop = DpopKey::from_pkcs8_pem(Algorithm::ES256, &pem).unwrap();
    let assertion = AssertionKey::new(SigningKey::generate(Algorithm::EdDSA).unwrap()).unwrap();
    let keyed = TokenClient::builder_with_key("svc_2", assertion)
        .token_endpoint(server.endpoint())
        .dpop(dpop.clone())
        .build()
        .unwrap();
    let token = keyed.token(&TokenRequest::new()).await.unwrap();
    assert_eq!(token.token_type(), TokenType::DPoP);
    assert_eq!(server.token_proofs()[1].checked.jkt, dpop.thumbprint());
    assert_unique_jtis(&[&server]);
}

#[tokio::test]
async fn keys_load_from_pem_jwk_or_a_signing_key_with_one_thumbprint() {
    let pkcs8 = SigningKey::generate_pkcs8(Algorithm::EdDSA).unwrap();
    let from_pem = DpopKey::from_pkcs8_pem(Algorithm::EdDSA, &pkcs8_pem(&pkcs8)).unwrap();
    let from_key =
        DpopKey::new(SigningKey::from_pkcs8_der(Algorithm::EdDSA, &pkcs8).unwrap()).unwrap();
    assert_eq!(from_pem.thumbprint(), from_key.thumbprint());
    let jwk = r#"{"kty":"OKP","crv":"Ed25519","kid":"k1",
        "x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo",
        "d":"nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A"}"#;
    let from_jwk = DpopKey::from_jwk(jwk).unwrap();
    // RFC 8037 §A.3: the thumbprint of this key.
    assert_eq!(
        from_jwk.thumbprint(),
        "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"
    );
    let debug = format!("{from_jwk:?}");
    assert!(
        debug.contains("kPrK_") && !debug.contains("nWGxne"),
        "{debug}"
    );
    // Refusals name the problem, never the key.
    let hs = SigningKey::hs256("k", &[7u8; 32]).unwrap();
    assert!(matches!(DpopKey::new(hs), Err(Error::Dpop(_))));
    assert!(matches!(
        DpopKey::generate_with(Algorithm::HS256),
        Err(Error::Dpop(_))
    ));
    let err = DpopKey::from_pkcs8_pem(Algorithm::ES256, &pkcs8_pem(&pkcs8)).unwrap_err();
    assert!(matches!(err, Error::Dpop(_)), "{err}");
    assert!(matches!(DpopKey::from_jwk("{}"), Err(Error::Dpop(_))));
}

#[tokio::test]
async fn every_api_call_through_the_middleware_carries_its_own_proof() {
    let server = start().await;
    let key = DpopKey::generate().unwrap();
    let tokens = builder(&server).dpop(key.clone()).build().unwrap();
    let source = tokens.source(TokenRequest::new().scope("echo")).unwrap();
    let http = middleware(source, &server.base);
    for (i, path) in ["/v1/echo?x=1#f", "/v1/other", "/v1/echo"]
        .iter()
        .enumerate()
    {
        let request = if i == 1 {
            http.get(format!("{}{path}", server.base))
        } else {
            http.post(format!("{}{path}", server.base))
                .body(format!("hello {i}"))
        };
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), 200);
    }
    assert!(server.failures().is_empty(), "{:?}", server.failures());
    assert_eq!(server.token_requests(), 1);
    let proofs = server.api_proofs();
    assert_eq!(proofs.len(), 3);
    // check_proof passed with this request's method, URL and token hash.
    assert_eq!(proofs[0].method, "POST");
    assert_eq!(proofs[0].url, format!("{}/v1/echo?x=1", server.base));
    assert_eq!(proofs[1].method, "GET");
    assert_eq!(proofs[1].url, format!("{}/v1/other", server.base));
    assert!(proofs.iter().all(|p| p.checked.jkt == key.thumbprint()));
    assert!(server.api_authorization().iter().all(|a| a == "DPoP tok-0"));
    assert_unique_jtis(&[&server]);
}

#[tokio::test]
async fn every_api_call_through_the_tower_layer_carries_its_own_proof() {
    let server = start().await;
    let key = DpopKey::generate_with(Algorithm::ES256).unwrap();
    let tokens = builder(&server).dpop(key.clone()).build().unwrap();
    let source = tokens.source(TokenRequest::new()).unwrap();
    let hyper = Client::builder(TokioExecutor::new()).build_http::<Full<Bytes>>();
    let api = BearerLayer::new(source).layer(hyper);
    for (method, path) in [("PUT", "/items/1?v=2"), ("DELETE", "/items/1")] {
        let request = http::Request::builder()
            .method(method)
            .uri(format!("{}{path}", server.base))
            .body(Full::new(Bytes::from_static(b"x")))
            .unwrap();
        let response = api.clone().oneshot(request).await.unwrap();
        assert_eq!(response.status(), 200);
        let body = response.into_body().collect().await.unwrap().to_bytes();
        assert_eq!(&body[..], b"x");
    }
    assert!(server.failures().is_empty(), "{:?}", server.failures());
    let proofs = server.api_proofs();
    assert_eq!(proofs.len(), 2);
    assert_eq!(proofs[0].method, "PUT");
    assert_eq!(proofs[1].method, "DELETE");
    assert!(proofs.iter().all(|p| p.checked.jkt == key.thumbprint()));
    assert_unique_jtis(&[&server]);
}

#[tokio::test]
async fn the_authorization_server_nonce_is_retried_once_then_remembered() {
    let server = start().await;
    server.token_nonces(Nonces::Fixed("as-1".into()));
    let tokens = builder(&server)
        .dpop(DpopKey::generate().unwrap())
        .build()
        .unwrap();
    let token = tokens.token(&TokenRequest::new().scope("a")).await.unwrap();
    assert_eq!(token.token_type(), TokenType::DPoP);
    assert_eq!(server.token_requests(), 2);
    let nonces: Vec<_> = server
        .token_proofs()
        .iter()
        .map(|p| p.checked.nonce.clone())
        .collect();
    assert_eq!(nonces, [None, Some("as-1".to_owned())]);
    // Another token: the remembered nonce goes with the first attempt.
    tokens.token(&TokenRequest::new().scope("b")).await.unwrap();
    assert_eq!(server.token_requests(), 3);
    assert_unique_jtis(&[&server]);
}

#[tokio::test]
async fn an_authorization_server_that_keeps_asking_gets_two_attempts_not_three() {
    let server = start().await;
    server.token_nonces(Nonces::Rotating);
    let tokens = builder(&server)
        .dpop(DpopKey::generate().unwrap())
        .build()
        .unwrap();
    let err = tokens.token(&TokenRequest::new()).await.unwrap_err();
    assert_eq!(
        err.oauth_code(),
        Some(&OAuthErrorCode::UseDpopNonce),
        "{err}"
    );
    assert_eq!(server.token_requests(), 2);
    // Without a DPoP-Nonce header, use_dpop_nonce is not retried at all:
    // a client without DPoP sends no proof, and gets no DPoP token.
    let plain = builder(&server).build().unwrap();
    let token = plain.token(&TokenRequest::new()).await.unwrap();
    assert_eq!(token.token_type(), TokenType::Bearer);
}

#[tokio::test]
async fn the_resource_server_nonce_is_retried_once_and_remembered_per_origin() {
    let auth = start().await;
    auth.token_nonces(Nonces::Fixed("as-1".into()));
    let api = start_api_for(&auth).await;
    api.api_nonces(Nonces::Fixed("rs-1".into()));
    let tokens = TokenClient::builder("svc_1", ClientSecret::new("cs_1"))
        .token_endpoint(auth.endpoint())
        .dpop(DpopKey::generate().unwrap())
        .build()
        .unwrap();
    let source = tokens.source(TokenRequest::new()).unwrap();
    let http = middleware(source.clone(), &api.base);

    let response = http.get(format!("{}/a", api.base)).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(api.api_requests(), 2, "one refusal, one retry");
    let response = http
        .post(format!("{}/b", api.base))
        .body("again")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(api.api_requests(), 3, "the nonce was remembered");
    let nonces: Vec<_> = api
        .api_proofs()
        .iter()
        .map(|p| p.checked.nonce.clone())
        .collect();
    assert_eq!(
        nonces,
        [None, Some("rs-1".to_owned()), Some("rs-1".to_owned())]
    );

    // Each origin keeps its own: the token endpoint still gets as-1, never
    // the API's nonce.
    tokens.token(&TokenRequest::new().scope("z")).await.unwrap();
    let token_nonces: Vec<_> = auth
        .token_proofs()
        .iter()
        .map(|p| p.checked.nonce.clone())
        .collect();
    assert_eq!(
        token_nonces,
        [None, Some("as-1".to_owned()), Some("as-1".to_owned())]
    );

    // Any DPoP-Nonce the API sends replaces the remembered one.
    api.api_nonces(Nonces::Off);
    *api.state.api_fresh_nonce.lock().unwrap() = Some("rs-2".into());
    http.get(format!("{}/c", api.base)).send().await.unwrap();
    *api.state.api_fresh_nonce.lock().unwrap() = None;
    api.api_nonces(Nonces::Fixed("rs-2".into()));
    let before = api.api_requests();
    let response = http.get(format!("{}/d", api.base)).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(api.api_requests(), before + 1, "rs-2 sent without a retry");
    assert!(auth.failures().is_empty() && api.failures().is_empty());
    assert_unique_jtis(&[&auth, &api]);
}

#[tokio::test]
async fn a_resource_server_that_keeps_asking_gets_two_attempts_not_three() {
    let server = start().await;
    server.api_nonces(Nonces::Rotating);
    let tokens = builder(&server)
        .dpop(DpopKey::generate().unwrap())
        .build()
        .unwrap();
    let source = tokens.source(TokenRequest::new()).unwrap();
    let http = middleware(source.clone(), &server.base);
    let response = http.get(format!("{}/x", server.base)).send().await.unwrap();
    assert_eq!(response.status(), 401);
    assert_eq!(server.api_requests(), 2);

    let hyper = Client::builder(TokioExecutor::new()).build_http::<Full<Bytes>>();
    let api = BearerLayer::new(source).layer(hyper);
    let request = http::Request::get(format!("{}/y", server.base))
        .body(Full::default())
        .unwrap();
    let response = api.oneshot(request).await.unwrap();
    assert_eq!(response.status(), 401);
    assert_eq!(server.api_requests(), 4);
    // The same token throughout: a nonce refusal does not drop it.
    assert_eq!(server.token_requests(), 1);
}

#[tokio::test]
async fn a_rejected_dpop_token_is_replaced_once_with_a_new_proof() {
    let server = start().await;
    let tokens = builder(&server)
        .dpop(DpopKey::generate().unwrap())
        .build()
        .unwrap();
    let source = tokens.source(TokenRequest::new()).unwrap();
    let first = source.token().await.unwrap();
    server.revoke(first.expose_secret());
    let http = middleware(source, &server.base);
    let response = http
        .post(format!("{}/e", server.base))
        .body("b")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(server.token_requests(), 2);
    assert_eq!(server.api_authorization(), ["DPoP tok-0", "DPoP tok-1"]);
    assert_unique_jtis(&[&server]);
}

#[tokio::test]
async fn cache_keys_separate_dpop_keys() {
    let server = start().await;
    let cache = Arc::new(MemoryCache::new());
    let pem = pkcs8_pem(&SigningKey::generate_pkcs8(Algorithm::EdDSA).unwrap());
    let one = DpopKey::from_pkcs8_pem(Algorithm::EdDSA, &pem).unwrap();
    let same = DpopKey::from_pkcs8_pem(Algorithm::EdDSA, &pem).unwrap();
    let other = DpopKey::generate().unwrap();
    let client = |key: Option<&DpopKey>| {
        let b = builder(&server).cache(cache.clone());
        match key {
            Some(key) => b.dpop(key.clone()).build().unwrap(),
            None => b.build().unwrap(),
        }
    };
    let (a, b, c, d) = (
        client(Some(&one)),
        client(Some(&same)),
        client(Some(&other)),
        client(None),
    );
    let request = TokenRequest::new().scope("s");
    let key_of = |t: &TokenClient| t.source(request.clone()).unwrap().key().clone();
    assert_eq!(key_of(&a), key_of(&b));
    assert_ne!(key_of(&a), key_of(&c));
    assert_ne!(key_of(&a), key_of(&d));
    assert!(
        key_of(&a)
            .as_str()
            .ends_with(&format!("\ndpop:{}", one.thumbprint()))
    );
    assert!(!key_of(&d).as_str().contains("dpop:"));

    let ta = a.token(&request).await.unwrap();
    let tb = b.token(&request).await.unwrap(); // same key: from the cache
    assert!(ta.same_token(&tb));
    assert_eq!(server.token_requests(), 1);
    let tc = c.token(&request).await.unwrap();
    let td = d.token(&request).await.unwrap();
    assert_eq!(server.token_requests(), 3);
    assert!(!tc.same_token(&ta) && !td.same_token(&ta));
    assert_eq!(td.token_type(), TokenType::Bearer);
    assert_eq!(cache.len(), 3);
}

#[tokio::test]
async fn token_type_mismatches_are_errors_unless_allowed() {
    let server = start().await;
    // DPoP to a client without a key.
    server.answer_token_type("DPoP");
    let plain = builder(&server).build().unwrap();
    let err = plain.token(&TokenRequest::new()).await.unwrap_err();
    assert!(
        matches!(err, Error::InvalidResponse(m) if m.contains("no DPoP key")),
        "{err}"
    );
    // Bearer to a DPoP request: refused by default...
    server.answer_token_type("Bearer");
    let strict = builder(&server)
        .dpop(DpopKey::generate().unwrap())
        .build()
        .unwrap();
    let err = strict.token(&TokenRequest::new()).await.unwrap_err();
    assert!(
        matches!(err, Error::InvalidResponse(m) if m.contains("dpop_allow_bearer")),
        "{err}"
    );
    // ...accepted when configured, and then sent as Bearer without a proof.
    let lax = builder(&server)
        .dpop(DpopKey::generate().unwrap())
        .dpop_allow_bearer(true)
        .build()
        .unwrap();
    let source = lax.source(TokenRequest::new()).unwrap();
    let token = source.token().await.unwrap();
    assert_eq!(token.token_type(), TokenType::Bearer);
    let response = middleware(source, &server.base)
        .get(format!("{}/p", server.base))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert!(server.api_authorization()[0].starts_with("Bearer "));
    assert!(server.api_proofs().is_empty());
    assert!(server.failures().is_empty(), "{:?}", server.failures());
    // The setting needs a key.
    assert!(matches!(
        builder(&server).dpop_allow_bearer(true).build(),
        Err(Error::Config {
            field: "dpop_allow_bearer",
            ..
        })
    ));
}

#[tokio::test]
async fn a_proof_needs_an_absolute_url() {
    let server = start().await;
    let tokens = builder(&server)
        .dpop(DpopKey::generate().unwrap())
        .build()
        .unwrap();
    let source = tokens.source(TokenRequest::new()).unwrap();
    assert!(source.needs_url());
    let err = source
        .authorize(&http::Method::GET, "/relative")
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Dpop(_)), "{err}");
    let headers = source
        .authorize(&http::Method::GET, &format!("{}/x", server.base))
        .await
        .unwrap();
    assert!(headers.dpop().is_some());
    assert!(!format!("{headers:?}").contains("tok-"));
}
