//! The resource server's DPoP (clientcreds-resource): an `Authorization`
//! header of either scheme and `DPoP` proof headers, through the tower
//! layer's `authorize` with a fixed issuer, caller key and clock.

use std::future::Future;
use std::pin::pin;
use std::sync::{Arc, LazyLock};
use std::task::{Context, Poll, Waker};

use clientcreds_jwt::dpop::key_thumbprint;
use clientcreds_jwt::{
    AccessContext, KeySet, PrivateJwk, SigningKey, TokenVerifier, Validation, sign_jws,
};
use clientcreds_resource::{BearerAuthLayer, Clock};
use http::{HeaderValue, Request};
use time::OffsetDateTime;

use crate::Outcome;

const ISSUER: &str = "https://auth.example.com";
const AUDIENCE: &str = "https://api.example.com";
/// The issuer's key: RFC 8037 Appendix A.1 (as the `jwt_verify` target).
const ISSUER_JWK: &str = r#"{"kty":"OKP","crv":"Ed25519","d":"nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}"#;
/// The caller's DPoP key (Ed25519, PKCS#8): fixed, so that seeds hold
/// valid proofs and a crash reproduces.
const CALLER_PKCS8: &str = "3051020101300506032b657004220420833085642d6a5176b765e120f986d4f7086197d529c8cdd01f4721ff3d56fe7581210043be6570b0acec32d796b84ea13463c723c485e1c545a814094c253ae4ce8a71";
/// The fixed instant every check runs at (2026-01-01T00:00:00Z).
pub(crate) const NOW: i64 = 1_767_225_600;
/// In the `Authorization` line, replaced by the token bound to the caller's key.
const BOUND: &str = "$BOUND";
/// In the `Authorization` line, replaced by an unbound token.
const UNBOUND: &str = "$UNBOUND";

#[derive(Debug)]
struct FixedClock;

impl Clock for FixedClock {
    fn now(&self) -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp(NOW).unwrap_or(OffsetDateTime::UNIX_EPOCH)
    }
}

struct Fixture {
    verifier: Arc<TokenVerifier>,
    bound: String,
    unbound: String,
}

static FIXTURE: LazyLock<Fixture> = LazyLock::new(|| match fixture() {
    Ok(fixture) => fixture,
    Err(e) => panic!("the DPoP fixture cannot be built: {e}"),
});

fn fixture() -> Result<Fixture, Box<dyn std::error::Error>> {
    let jwk = PrivateJwk::from_json(ISSUER_JWK)?;
    let signer = SigningKey::from_jwk(&jwk)?;
    let keys = Arc::new(KeySet::new(SigningKey::from_jwk(&jwk)?));
    let caller = caller_key()?;
    let token = |cnf: Option<serde_json::Value>| {
        let mut claims = serde_json::json!({
            "iss": ISSUER, "sub": "fuzz_client", "aud": AUDIENCE, "iat": NOW,
            "exp": NOW + 3600, "jti": "t", "client_id": "fuzz_client", "scope": "read",
        });
        if let (Some(cnf), Some(object)) = (cnf, claims.as_object_mut()) {
            object.insert("cnf".to_owned(), cnf);
        }
        sign_jws(&signer, "at+jwt", false, &claims)
    };
    let jkt = key_thumbprint(&caller)?;
    Ok(Fixture {
        verifier: Arc::new(TokenVerifier::new(keys, Validation::new(ISSUER, AUDIENCE))),
        bound: token(Some(serde_json::json!({ "jkt": jkt })))?,
        unbound: token(None)?,
    })
}

/// The caller's fixed DPoP key (for seed makers too).
pub(crate) fn caller_key() -> Result<SigningKey, clientcreds_jwt::KeyError> {
    let der: Vec<u8> = (0..CALLER_PKCS8.len() / 2)
        .filter_map(|i| {
            CALLER_PKCS8
                .get(2 * i..2 * i + 2)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
        })
        .collect();
    SigningKey::from_pkcs8_der(clientcreds_jwt::Algorithm::EdDSA, &der)
}

/// Lines split at `\n`: `METHOD /path`, the `Authorization` value (where
/// `$BOUND` and `$UNBOUND` stand for the fixture's tokens), then one
/// `DPoP` header per line; the request is for `api.example.com`.
///
/// Properties: a refusal is 400, 401 or 403 with challenges of the two
/// schemes only, the `DPoP` one first when the request named `DPoP`; an
/// acceptance is of the fixture's client, never of the bound token as
/// `Bearer`; and an accepted `DPoP` request sent again is refused as a
/// replay.
pub fn dpop_resource(data: &[u8]) -> Outcome {
    let Ok(text) = std::str::from_utf8(data) else {
        return Outcome::Skipped;
    };
    let mut lines = text.split('\n');
    let (Some(start), Some(authorization)) = (lines.next(), lines.next()) else {
        return Outcome::Skipped;
    };
    let Some((method, path)) = start.split_once(' ') else {
        return Outcome::Skipped;
    };
    let fixture = &*FIXTURE;
    let authorization = authorization
        .replace(BOUND, &fixture.bound)
        .replace(UNBOUND, &fixture.unbound);
    let proofs: Vec<&str> = lines.collect();
    let Some(request) = build(method, path, &authorization, &proofs) else {
        return Outcome::Skipped;
    };
    let named_dpop = authorization
        .get(..5)
        .is_some_and(|s| s.eq_ignore_ascii_case("dpop "));
    // A fresh layer (and replay cache) per input, so that a seed accepts
    // however often it is replayed.
    let layer = BearerAuthLayer::new(fixture.verifier.clone()).with_clock(Arc::new(FixedClock));
    let mut request = request;
    let Some(result) = now_or_never(layer.authorize(&mut request)) else {
        panic!("the local verifier and the replay cache never wait");
    };
    match result {
        Err(response) => {
            let status = response.status().as_u16();
            assert!(matches!(status, 400 | 401 | 403), "status {status}");
            let challenges: Vec<&str> = response
                .headers()
                .get_all("www-authenticate")
                .iter()
                .filter_map(|v| v.to_str().ok())
                .collect();
            assert!(!challenges.is_empty(), "a refusal without a challenge");
            for challenge in &challenges {
                assert!(
                    challenge.starts_with("DPoP realm=") || challenge.starts_with("Bearer realm="),
                    "{challenge}"
                );
            }
            if named_dpop {
                assert!(
                    challenges.first().is_some_and(|c| c.starts_with("DPoP ")),
                    "a DPoP request's refusal leads with {challenges:?}"
                );
            }
            Outcome::Refused
        }
        Ok(_) => {
            let Some(context) = request.extensions().get::<AccessContext>() else {
                panic!("accepted without a context");
            };
            assert_eq!(context.client_id, "fuzz_client");
            let bound_as_bearer = !named_dpop && authorization.contains(&fixture.bound);
            assert!(!bound_as_bearer, "a bound token was accepted as Bearer");
            if named_dpop {
                let Some(mut again) = build(method, path, &authorization, &proofs) else {
                    panic!("a request that built once does not build again");
                };
                let Some(Err(response)) = now_or_never(layer.authorize(&mut again)) else {
                    panic!("a replayed proof was accepted");
                };
                assert_eq!(response.status(), 401);
            }
            Outcome::Accepted
        }
    }
}

fn build(method: &str, path: &str, authorization: &str, proofs: &[&str]) -> Option<Request<()>> {
    let mut request = Request::builder()
        .method(method)
        .uri(path)
        .header("host", "api.example.com")
        .body(())
        .ok()?;
    let headers = request.headers_mut();
    headers.insert("authorization", HeaderValue::from_str(authorization).ok()?);
    for proof in proofs {
        headers.append("dpop", HeaderValue::from_str(proof).ok()?);
    }
    Some(request)
}

/// Polls a future once; `None` if it would wait.
fn now_or_never<T>(future: impl Future<Output = T>) -> Option<T> {
    match pin!(future).poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(value) => Some(value),
        Poll::Pending => None,
    }
}
