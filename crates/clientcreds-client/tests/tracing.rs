//! Refreshes and failures are traced, and the traces never contain the
//! client secret or a token.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::io::Write;
use std::sync::{Arc, Mutex};

use clientcreds_client::{AuthMethod, TokenRequest};
use common::{ManualClock, start};

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test(flavor = "current_thread")]
async fn traces_name_the_refresh_but_never_a_secret_or_token() {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let server = start().await;
    let (id, secret) = server.create_client(&["echo"], &[]).await;
    let mut shown = Vec::new();
    for auth in [AuthMethod::Basic, AuthMethod::Body] {
        let tokens = server
            .builder(&id, &secret, ManualClock::new())
            .auth_method(auth)
            .build()
            .unwrap();
        let token = tokens
            .token(&TokenRequest::new().scope("echo"))
            .await
            .unwrap();
        shown.push(token.expose_secret().to_owned());
    }
    // A wrong secret that shares a prefix with nothing logged either.
    let wrong = format!("{secret}x");
    let failing = server
        .builder(&id, &wrong, ManualClock::new())
        .build()
        .unwrap();
    assert!(failing.token(&TokenRequest::new()).await.is_err());

    let logs = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    assert!(logs.contains("token_refresh"), "{logs}");
    assert!(logs.contains("token refreshed"), "{logs}");
    assert!(logs.contains("token refresh failed"), "{logs}");
    assert!(logs.contains("invalid_client"), "{logs}");
    assert!(logs.contains(&id), "{logs}");
    assert!(!logs.contains(&secret), "the client secret was logged");
    for token in &shown {
        assert!(!logs.contains(token.as_str()), "a token was logged");
    }
}
