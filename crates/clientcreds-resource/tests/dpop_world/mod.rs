//! Shared set-up for the DPoP tests: an issuer that signs tokens directly
//! (so that `cnf` can be anything), a caller's key, requests, and the
//! assertions on refusals.

#![allow(dead_code, unreachable_pub)]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::convert::Infallible;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use clientcreds_jwt::dpop::{ProofRequest, key_thumbprint, make_proof};
use clientcreds_jwt::{
    AccessContext, Algorithm, KeySet, SigningKey, TokenVerifier, Validation, sign_jws,
};
use clientcreds_resource::{BearerAuthLayer, Scheme};
use http::{Request, Response};
use serde_json::{Value, json};
use time::OffsetDateTime;
use tower::{Layer, ServiceExt, service_fn};

use crate::common::{API, ISSUER, ManualClock};

pub const ALGS: &str = "EdDSA ES256 ES384 PS256 RS256";
pub const URL: &str = "https://api.example.com/orders";

/// An issuer that signs tokens directly (so that `cnf` can be anything),
/// a verifier of them, a caller's DPoP key, and a clock.
pub struct World {
    pub signer: SigningKey,
    pub verifier: Arc<TokenVerifier>,
    pub caller: SigningKey,
    pub clock: Arc<ManualClock>,
    pub now: OffsetDateTime,
}

impl World {
    pub fn new() -> Self {
        let der = SigningKey::generate_pkcs8(Algorithm::EdDSA).unwrap();
        let signer = SigningKey::from_pkcs8_der(Algorithm::EdDSA, &der).unwrap();
        let keys = Arc::new(KeySet::new(
            SigningKey::from_pkcs8_der(Algorithm::EdDSA, &der).unwrap(),
        ));
        let now = OffsetDateTime::now_utc();
        Self {
            signer,
            verifier: Arc::new(TokenVerifier::new(keys, Validation::new(ISSUER, API))),
            caller: SigningKey::generate(Algorithm::ES256).unwrap(),
            clock: ManualClock::new(now),
            now,
        }
    }

    /// A token with `cnf` as given (none: unbound).
    pub fn token_with(&self, cnf: Option<Value>) -> String {
        let iat = self.now.unix_timestamp();
        let mut claims = json!({
            "iss": ISSUER, "sub": "acme_client_1", "aud": API, "iat": iat, "nbf": iat,
            "exp": iat + 3600, "jti": "t-1", "client_id": "acme_client_1",
            "scope": "read", "tenant": "acme",
        });
        if let Some(cnf) = cnf {
            claims["cnf"] = cnf;
        }
        sign_jws(&self.signer, "at+jwt", false, &claims).unwrap()
    }

    /// A token bound to the caller's key.
    pub fn bound(&self) -> String {
        self.token_with(Some(
            json!({ "jkt": key_thumbprint(&self.caller).unwrap() }),
        ))
    }

    pub fn unbound(&self) -> String {
        self.token_with(None)
    }

    /// A proof by `key` of `method url` for `token`, at `self.now`.
    pub fn proof_by(
        &self,
        key: &SigningKey,
        method: &str,
        url: &str,
        token: &str,
        jti: &str,
    ) -> String {
        make_proof(
            key,
            &ProofRequest {
                method,
                url,
                access_token: Some(token),
                nonce: None,
                now: self.now,
                jti,
            },
        )
        .unwrap()
    }

    pub fn proof(&self, token: &str, jti: &str) -> String {
        self.proof_by(&self.caller, "GET", URL, token, jti)
    }

    pub fn layer(&self) -> BearerAuthLayer {
        BearerAuthLayer::new(self.verifier.clone()).with_clock(self.clock.clone())
    }
}

/// `GET /orders` on `api.example.com` with these headers.
pub fn request(headers: &[(&str, &str)]) -> Request<String> {
    let mut builder = Request::get("/orders").header("host", "api.example.com");
    for (name, value) in headers {
        builder = builder.header(*name, *value);
    }
    builder.body(String::new()).unwrap()
}

pub fn dpop(token: &str, proof: &str) -> Request<String> {
    request(&[("authorization", &format!("DPoP {token}")), ("dpop", proof)])
}

/// The inner service's calls, and the last context and scheme it saw.
#[derive(Default)]
pub struct Seen {
    pub calls: AtomicUsize,
    pub last: Mutex<Option<(AccessContext, Scheme)>>,
}

pub async fn send(
    layer: &BearerAuthLayer,
    request: Request<String>,
) -> (Response<String>, Arc<Seen>) {
    let seen = Arc::new(Seen::default());
    let inner = seen.clone();
    let service = layer.layer(service_fn(move |request: Request<String>| {
        let seen = inner.clone();
        async move {
            seen.calls.fetch_add(1, Ordering::SeqCst);
            let context = request.extensions().get::<AccessContext>().cloned();
            let scheme = request.extensions().get::<Scheme>().copied();
            *seen.last.lock().unwrap() = context.zip(scheme);
            Ok::<_, Infallible>(Response::new("inner".to_owned()))
        }
    }));
    (service.oneshot(request).await.unwrap(), seen)
}

pub fn challenges(response: &Response<String>) -> Vec<String> {
    response
        .headers()
        .get_all("www-authenticate")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect()
}

/// A refusal: status, the challenges in order, the body's code, and an
/// inner service never called.
pub fn assert_refused(
    response: &Response<String>,
    seen: &Seen,
    status: u16,
    www: &[&str],
    code: &str,
) {
    assert_eq!(response.status(), status, "{}", response.body());
    assert_eq!(challenges(response), www);
    let body: Value = serde_json::from_str(response.body()).unwrap();
    assert_eq!(body, json!({ "error": code }));
    assert_eq!(seen.calls.load(Ordering::SeqCst), 0);
}

pub fn passed(response: &Response<String>, seen: &Seen) -> (AccessContext, Scheme) {
    assert_eq!(
        response.status(),
        200,
        "{} {:?}",
        response.body(),
        challenges(response)
    );
    assert_eq!(seen.calls.load(Ordering::SeqCst), 1);
    seen.last
        .lock()
        .unwrap()
        .clone()
        .expect("a context and a scheme")
}

/// The DPoP challenge with an error, then the Bearer one: what a DPoP
/// request's refusal carries under `Schemes::Both`.
pub fn dpop_first(code: &str, description: &str) -> [String; 2] {
    [
        format!(
            "DPoP realm=\"api\", algs=\"{ALGS}\", error=\"{code}\", error_description=\"{description}\""
        ),
        "Bearer realm=\"api\"".to_owned(),
    ]
}

pub async fn refused_dpop(
    layer: &BearerAuthLayer,
    request: Request<String>,
    code: &str,
    description: &str,
) {
    let (response, seen) = send(layer, request).await;
    let www = dpop_first(code, description);
    assert_refused(&response, &seen, 401, &[&www[0], &www[1]], code);
}

impl World {
    pub fn clock_now(&self) -> OffsetDateTime {
        use clientcreds_resource::Clock;
        self.clock.now()
    }

    pub fn proof_by_at(&self, token: &str, now: OffsetDateTime) -> String {
        make_proof(
            &self.caller,
            &ProofRequest {
                method: "GET",
                url: URL,
                access_token: Some(token),
                nonce: None,
                now,
                jti: "late",
            },
        )
        .unwrap()
    }
}
