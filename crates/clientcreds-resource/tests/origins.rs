//! Where the fetcher may go (issue 20, SSRF): a discovered `jwks_uri` on
//! another origin is refused unless allowed, redirects stay on the origin
//! first asked, and an issuer whose metadata differs by a trailing slash
//! is explained. Real loopback HTTP servers, reqwest as the transport.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::sync::Arc;

use axum::Router;
use axum::response::Redirect;
use axum::routing::get;
use clientcreds_jwt::KeySet;
use clientcreds_resource::{Error, RemoteKeySet, ReqwestTransport, Validation};
use common::{API, Issuer};

/// Serves `router` on a new loopback port; returns `http://127.0.0.1:port`.
async fn serve(router: Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    base
}

fn jwks_router(keys: Arc<KeySet>) -> Router {
    Router::new().route(
        "/keys",
        get(move || {
            let keys = keys.clone();
            async move { axum::Json(keys.jwks()) }
        }),
    )
}

/// An issuer whose RFC 8414 metadata names `jwks_uri`; returns its URL.
async fn issuer_with_jwks_uri(jwks_uri: impl Fn(&str) -> String) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let metadata = serde_json::json!({ "issuer": base, "jwks_uri": jwks_uri(&base) });
    let router = Router::new().route(
        "/.well-known/oauth-authorization-server",
        get(move || async move { axum::Json(metadata) }),
    );
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    base
}

fn named(issuer: &Issuer, url: &str) -> Issuer {
    Issuer {
        keys: issuer.keys.clone(),
        name: url.to_owned(),
    }
}

#[tokio::test]
async fn a_jwks_uri_on_another_origin_is_refused_unless_allowed() {
    let issuer = Issuer::new();
    let keys_host = serve(jwks_router(issuer.keys.clone())).await;
    let jwks_uri = format!("{keys_host}/keys");
    let url = issuer_with_jwks_uri(|_| jwks_uri.clone()).await;
    let token = named(&issuer, &url).token(&["read"]);

    let strict = RemoteKeySet::builder(Validation::new(url.clone(), API))
        .build(ReqwestTransport::new())
        .unwrap();
    let error = strict.verify(&token).await.unwrap_err();
    assert!(
        matches!(&error, Error::KeysUnavailable { reason, .. }
            if reason.contains("another origin") && reason.contains("allow_jwks_origin")),
        "{error}"
    );

    let allowed = RemoteKeySet::builder(Validation::new(url, API))
        .allow_jwks_origin(keys_host)
        .build(ReqwestTransport::new())
        .unwrap();
    assert!(allowed.verify(&token).await.is_ok());
}

#[tokio::test]
async fn redirects_are_followed_on_the_same_origin_only() {
    let issuer = Issuer::new();
    let elsewhere = serve(jwks_router(issuer.keys.clone())).await;
    let target = format!("{elsewhere}/keys");
    let home = serve(
        jwks_router(issuer.keys.clone())
            .route("/moved", get(|| async { Redirect::temporary("/keys") }))
            .route(
                "/away",
                get(move || {
                    let target = target.clone();
                    async move { Redirect::temporary(&target) }
                }),
            ),
    )
    .await;

    let same = RemoteKeySet::builder(Validation::new(home.clone(), API))
        .jwks_url(format!("{home}/moved"))
        .build(ReqwestTransport::new())
        .unwrap();
    same.refresh().await.unwrap();
    assert_eq!(same.jwks().unwrap(), issuer.keys.jwks());

    let away = RemoteKeySet::builder(Validation::new(home.clone(), API))
        .jwks_url(format!("{home}/away"))
        .build(ReqwestTransport::new())
        .unwrap();
    let error = away.refresh().await.unwrap_err();
    assert!(
        matches!(&error, Error::Fetch { reason, .. } if reason.contains("transport")),
        "{error}"
    );
    assert!(away.jwks().is_none());
}

#[tokio::test]
async fn metadata_differing_by_a_trailing_slash_is_explained() {
    let issuer = Issuer::new();
    let url = common::serve_issuer(issuer.keys.clone(), "", true, false, None).await;
    let with_slash = format!("{url}/");
    let remote = RemoteKeySet::builder(Validation::new(with_slash.clone(), API))
        .build(ReqwestTransport::new())
        .unwrap();
    let error = remote
        .verify(&named(&issuer, &with_slash).token(&["read"]))
        .await
        .unwrap_err();
    assert!(
        matches!(&error, Error::KeysUnavailable { reason, .. }
            if reason.contains("exact strings") && reason.contains("trailing slash")),
        "{error}"
    );
}
