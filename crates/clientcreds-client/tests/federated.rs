//! Federated workload identity through the public API: the assertion comes
//! from a token file re-read on every refresh, or from the host's
//! callback, and is sent as `client_assertion` with the client id.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;
mod recording;

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use clientcreds_client::{
    AssertionSource, AuthMethod, Error, MAX_ASSERTION_BYTES, TokenClient, TokenRequest,
};
use common::ManualClock;
use recording::{Running, start};

const ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// A file path of this test's own under the system temp directory.
fn temp_path(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "clientcreds-federated-{}-{name}",
        std::process::id()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join("token")
}

/// The assertions the server received, in order, after checking each
/// request's form.
fn assertions(server: &Running, client_id: &str) -> Vec<String> {
    server
        .seen()
        .iter()
        .map(|seen| {
            assert!(!seen.authorization_header);
            assert!(!seen.has("client_secret"), "{:?}", seen.names());
            assert_eq!(seen.field("client_id"), client_id);
            assert_eq!(seen.field("client_assertion_type"), ASSERTION_TYPE);
            seen.field("client_assertion").to_owned()
        })
        .collect()
}

#[tokio::test]
async fn the_token_file_is_read_again_on_every_refresh() {
    let server = start().await;
    let path = temp_path("reread");
    std::fs::write(&path, "eyJh.eyJvbmUi.c2ln\n").unwrap();
    let clock = ManualClock::new();
    let tokens = TokenClient::builder_with_assertion("svc_k8s", AssertionSource::file(&path))
        .token_endpoint(server.endpoint())
        .refresh_jitter(Duration::ZERO)
        .clock(clock.clone())
        .build()
        .unwrap();
    let source = tokens.source(TokenRequest::new().scope("a")).unwrap();
    let first = source.token().await.unwrap();
    // Cached: the file is not read for a cached token.
    assert!(source.token().await.unwrap().same_token(&first));

    // The kubelet rotates the file; the next refresh sends the new one.
    std::fs::write(&path, "eyJh.eyJ0d28i.c2ln").unwrap();
    clock.advance(Duration::from_secs(3601));
    let second = source.token().await.unwrap();
    assert!(!second.same_token(&first));
    // Another cache entry reads the file afresh too.
    std::fs::write(&path, "  eyJh.eyJ0aHJlZSI.c2ln  \n").unwrap();
    tokens.token(&TokenRequest::new().scope("b")).await.unwrap();
    assert_eq!(
        assertions(&server, "svc_k8s"),
        [
            "eyJh.eyJvbmUi.c2ln",
            "eyJh.eyJ0d28i.c2ln",
            "eyJh.eyJ0aHJlZSI.c2ln"
        ]
    );
    std::fs::remove_dir_all(path.parent().unwrap()).unwrap();
}

#[tokio::test]
async fn a_missing_empty_or_bad_file_is_a_typed_error_naming_the_path() {
    let server = start().await;
    let path = temp_path("errors");
    let _ = std::fs::remove_file(&path);
    let tokens = TokenClient::builder_with_assertion("svc", AssertionSource::file(&path))
        .token_endpoint(server.endpoint())
        .backoff(Duration::ZERO, Duration::ZERO)
        .build()
        .unwrap();
    let source = tokens.source(TokenRequest::new()).unwrap();
    let check = |error: Error, want: &str| match &error {
        Error::AssertionFile { path: p, reason } => {
            assert_eq!(p, &path);
            assert!(reason.contains(want), "{reason}");
            assert!(
                error.to_string().contains(&*path.to_string_lossy()),
                "{error}"
            );
        }
        other => panic!("{other:?}"),
    };
    check(source.token().await.unwrap_err(), "does not exist");
    std::fs::write(&path, " \n").unwrap();
    check(source.token().await.unwrap_err(), "is empty");
    std::fs::write(&path, "not a jwt").unwrap();
    check(source.token().await.unwrap_err(), "is not a JWT");
    std::fs::write(
        &path,
        format!("a.{}.c", "b".repeat(MAX_ASSERTION_BYTES + 2048)),
    )
    .unwrap();
    check(source.token().await.unwrap_err(), "larger than");
    std::fs::write(&path, [0xff, 0xfe, b'.', b'a', b'.', b'b']).unwrap();
    check(source.token().await.unwrap_err(), "not UTF-8");
    // Nothing was sent; once the file is right, the next refresh works.
    assert!(server.seen().is_empty());
    std::fs::write(&path, "h.p.s").unwrap();
    source.token().await.unwrap();
    assert_eq!(assertions(&server, "svc"), ["h.p.s"]);
    std::fs::remove_dir_all(path.parent().unwrap()).unwrap();
}

#[tokio::test]
async fn the_callback_runs_for_every_token_request() {
    let server = start().await;
    let calls = Arc::new(AtomicUsize::new(0));
    let counter = calls.clone();
    let source = AssertionSource::callback(move || {
        let n = counter.fetch_add(1, Ordering::SeqCst);
        async move { Ok::<_, String>(format!("eyJh.call{n}.c2ln\n")) }
    });
    assert!(source.path().is_none());
    let tokens = TokenClient::builder_with_assertion("svc_ci", source)
        .token_endpoint(server.endpoint())
        .build()
        .unwrap();
    for scope in ["a", "b", "a"] {
        tokens
            .token(&TokenRequest::new().scope(scope))
            .await
            .unwrap();
    }
    assert_eq!(calls.load(Ordering::SeqCst), 2);
    assert_eq!(
        assertions(&server, "svc_ci"),
        ["eyJh.call0.c2ln", "eyJh.call1.c2ln"]
    );
}

#[tokio::test]
async fn callback_failures_are_typed_and_backed_off() {
    let server = start().await;
    let tokens = TokenClient::builder_with_assertion(
        "svc",
        AssertionSource::callback(|| async {
            Err::<String, _>(std::io::Error::other("metadata server\nunreachable"))
        }),
    )
    .token_endpoint(server.endpoint())
    .build()
    .unwrap();
    let source = tokens.source(TokenRequest::new()).unwrap();
    let error = source.token().await.unwrap_err();
    assert_eq!(
        error,
        Error::AssertionCallback("failed: metadata serverunreachable".into())
    );
    assert!(matches!(
        source.token().await.unwrap_err(),
        Error::BackingOff { cause, .. } if matches!(*cause, Error::AssertionCallback(_))
    ));
    let tokens = TokenClient::builder_with_assertion(
        "svc",
        AssertionSource::callback(|| async { Ok::<_, String>("{\"not\":\"a jwt\"}".into()) }),
    )
    .token_endpoint(server.endpoint())
    .build()
    .unwrap();
    let error = tokens.token(&TokenRequest::new()).await.unwrap_err();
    assert!(
        matches!(&error, Error::AssertionCallback(m) if m.starts_with("returned an assertion that is not a JWT")),
        "{error}"
    );
    assert!(server.seen().is_empty());
}

#[tokio::test]
async fn a_refused_assertion_is_invalid_client() {
    let server = start().await;
    server.refuse(true);
    let tokens = TokenClient::builder_with_assertion(
        "svc",
        AssertionSource::callback(|| async { Ok::<_, String>("h.p.s".into()) }),
    )
    .token_endpoint(server.endpoint())
    .build()
    .unwrap();
    let error = tokens.token(&TokenRequest::new()).await.unwrap_err();
    assert!(error.is_credentials_rejected(), "{error}");
    assert_eq!(server.seen().len(), 1);
}

#[test]
fn the_assertion_never_prints_and_auth_method_does_not_apply() {
    let source = AssertionSource::file("/var/run/secrets/tokens/t");
    assert_eq!(
        format!("{source:?}"),
        r#"AssertionSource::File("/var/run/secrets/tokens/t")"#
    );
    let tokens = TokenClient::builder_with_assertion(
        "svc",
        AssertionSource::callback(|| async { Ok::<_, String>("eyJh.c2VjcmV0.c2ln".into()) }),
    )
    .token_endpoint("https://as.example/token")
    .build()
    .unwrap();
    let text = format!("{tokens:?}");
    assert!(text.contains("client_assertion"), "{text}");
    assert!(!text.contains("c2VjcmV0"), "{text}");
    let error = TokenClient::builder_with_assertion("svc", source)
        .token_endpoint("https://as.example/token")
        .auth_method(AuthMethod::Basic)
        .build()
        .unwrap_err();
    assert!(
        matches!(
            error,
            Error::Config {
                field: "auth_method",
                ..
            }
        ),
        "{error}"
    );
}
