//! Finding the issuer's keys over loopback HTTP with reqwest: RFC 8414
//! metadata (path-aware), the `OpenID` discovery fallback, the metadata's
//! issuer check, and the URL rules.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use clientcreds_jwt::Validation;
use clientcreds_resource::{Error, RemoteKeySet, ReqwestTransport};
use common::{API, Issuer};

async fn verifies(issuer_url: &str, issuer: &Issuer) -> Result<(), Error> {
    let remote = RemoteKeySet::builder(Validation::new(issuer_url, API))
        .build(ReqwestTransport::new())
        .unwrap();
    let named = Issuer {
        keys: issuer.keys.clone(),
        name: issuer_url.to_owned(),
    };
    remote.verify(&named.token(&["read"])).await.map(drop)
}

#[tokio::test]
async fn rfc_8414_metadata_at_the_root_and_under_a_path() {
    let issuer = Issuer::new();
    for path in ["", "/tenants/acme"] {
        let url = common::serve_issuer(issuer.keys.clone(), path, true, false, None).await;
        verifies(&url, &issuer).await.unwrap();
    }
}

#[tokio::test]
async fn openid_discovery_is_the_fallback() {
    let issuer = Issuer::new();
    let url = common::serve_issuer(issuer.keys.clone(), "/realms/a", false, true, None).await;
    verifies(&url, &issuer).await.unwrap();
}

#[tokio::test]
async fn without_metadata_or_with_another_issuer_named_it_fails_closed() {
    let issuer = Issuer::new();
    let url = common::serve_issuer(issuer.keys.clone(), "", false, false, None).await;
    let error = verifies(&url, &issuer).await.unwrap_err();
    assert!(
        matches!(&error, Error::KeysUnavailable { reason, .. } if reason.contains("no metadata found") && reason.contains("status 404")),
        "{error}"
    );

    let url = common::serve_issuer(
        issuer.keys.clone(),
        "",
        true,
        false,
        Some("https://evil.example.com"),
    )
    .await;
    let error = verifies(&url, &issuer).await.unwrap_err();
    assert!(
        matches!(&error, Error::KeysUnavailable { reason, .. } if reason.contains("metadata names issuer `https://evil.example.com`")),
        "{error}"
    );
}

#[tokio::test]
async fn a_direct_jwks_url_skips_discovery() {
    let issuer = Issuer::new();
    let url = common::serve_issuer(issuer.keys.clone(), "", false, false, None).await;
    let remote = RemoteKeySet::builder(Validation::new(url.clone(), API))
        .jwks_url(format!("{url}/keys"))
        .build(ReqwestTransport::new())
        .unwrap();
    remote.refresh().await.unwrap();
    assert_eq!(remote.jwks().unwrap(), issuer.keys.jwks());
}

#[test]
fn only_https_or_loopback_http_urls_are_accepted() {
    let build = |issuer: &str, jwks: Option<&str>| {
        let mut builder = RemoteKeySet::builder(Validation::new(issuer, API));
        if let Some(jwks) = jwks {
            builder = builder.jwks_url(jwks);
        }
        builder.build(ReqwestTransport::new()).map(drop)
    };
    for ok in [
        "https://auth.example.com",
        "https://auth.example.com/tenant",
        "http://127.0.0.1:8080",
        "http://localhost:1",
        "http://[::1]:80",
    ] {
        assert_eq!(build(ok, None), Ok(()), "{ok}");
    }
    for (bad, reason) in [
        (
            "http://auth.example.com",
            "plain http is accepted for loopback hosts only",
        ),
        ("ftp://auth.example.com", "not an https URL"),
        ("auth.example.com", "not an https URL"),
        ("/just/a/path", "no host"),
        ("https://auth.example.com/?a=b", "has a query or fragment"),
        ("https://auth.example.com/#x", "has a query or fragment"),
        ("", "not a URL"),
    ] {
        assert_eq!(
            build(bad, None),
            Err(Error::InvalidUrl {
                url: bad.to_owned(),
                reason
            }),
            "{bad}"
        );
    }
    assert!(matches!(
        build(
            "https://auth.example.com",
            Some("http://keys.example.com/jwks")
        ),
        Err(Error::InvalidUrl { .. })
    ));
}

#[tokio::test]
async fn an_oversized_document_is_refused_and_nothing_is_cached() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let huge = format!(
        "{{\"keys\":[],\"padding\":\"{}\"}}",
        "a".repeat(clientcreds_resource::MAX_DOCUMENT_LEN)
    );
    let app = axum::Router::new().route("/keys", axum::routing::get(move || async move { huge }));
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let remote = RemoteKeySet::builder(Validation::new(base.clone(), API))
        .jwks_url(format!("{base}/keys"))
        .build(ReqwestTransport::new())
        .unwrap();
    let error = remote.refresh().await.unwrap_err();
    assert!(
        error.to_string().contains("response over 524288 bytes"),
        "{error}"
    );
    assert!(remote.jwks().is_none());
}
