//! Interop with an issuer we did not write: panva's `oidc-provider` (Node.js),
//! at the exact version `tests/interop/oidc-provider/package-lock.json` pins,
//! started as a real child process on loopback HTTP.
//!
//! The caller (`clientcreds_client::TokenClient`, RFC 8414 discovery) gets
//! and caches a token for a resource (RFC 8707); the resource side
//! ([`RemoteKeySet`] over [`ReqwestTransport`], discovering the keys from
//! the issuer URL) accepts it without a tenant claim and refuses it for
//! another audience, another issuer, after tampering and after expiry;
//! after a restart with a new signing key the same key set picks up the
//! new `kid`; a `typ: JWT` token is refused unless the host opts in.
//!
//! Run through `scripts/with-oidc-provider.sh` (or `scripts/test.sh`),
//! which installs the issuer and exports `CLIENTCREDS_OIDC_PROVIDER`.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, mpsc};
use std::time::Duration as StdDuration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64URL;
use clientcreds_client::{AccessToken, ClientSecret, TokenClient, TokenRequest, TokenSource};
use clientcreds_jwt::{Validation, VerifyError};
use clientcreds_resource::{BoxFuture, Error, RemoteKeySet, ReqwestTransport, Transport};
use serde_json::Value;
use time::Duration;

/// The resource whose tokens are RFC 9068 JWTs (`typ: at+jwt`); as in `server.mjs`.
const API: &str = "https://api.example.com";
/// The resource whose tokens say `typ: JWT`; as in `server.mjs`.
const TYP_JWT_API: &str = "https://typ-jwt.example.com";
/// The one client `server.mjs` registers.
const CLIENT_ID: &str = "interop-client";
const CLIENT_SECRET: &str = "interop-secret-that-is-long-enough-0123456789";
const SCOPE: &str = "api:read";
/// How long the issuer may take to start on a loaded machine.
const READY_TIMEOUT: StdDuration = StdDuration::from_secs(60);

/// The folder holding `server.mjs` and `keygen.mjs`, with its `node_modules`.
/// Its absence is a failure, never a skip.
fn provider_dir() -> PathBuf {
    let dir = std::env::var_os("CLIENTCREDS_OIDC_PROVIDER").unwrap_or_else(|| {
        panic!(
            "CLIENTCREDS_OIDC_PROVIDER is not set: run `scripts/with-oidc-provider.sh cargo test \
             -p clientcreds-resource --all-features --test foreign_issuer` or `scripts/test.sh`"
        )
    });
    let dir = PathBuf::from(dir);
    assert!(
        dir.join("server.mjs").is_file() && dir.join("node_modules/oidc-provider").is_dir(),
        "CLIENTCREDS_OIDC_PROVIDER={} has no server.mjs or no node_modules/oidc-provider \
         (scripts/with-oidc-provider.sh runs npm ci there)",
        dir.display()
    );
    dir
}

/// A temporary folder, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> Self {
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let path = std::env::temp_dir().join(format!(
            "clientcreds-oidc-provider-{}-{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&path).unwrap();
        Self(path)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A running oidc-provider: killed (and its folder removed) on drop.
struct Issuer {
    provider: PathBuf,
    dir: TempDir,
    child: Option<Child>,
    /// Exactly as the issuer's metadata and tokens name it.
    url: String,
    port: u16,
    /// The `kid` of the signing key it runs with.
    kid: String,
    keys_made: usize,
}

impl Issuer {
    /// Starts an issuer with a fresh signing key on a free port.
    fn start() -> Self {
        let mut issuer = Self {
            provider: provider_dir(),
            dir: TempDir::new(),
            child: None,
            url: String::new(),
            port: 0,
            kid: String::new(),
            keys_made: 0,
        };
        issuer.run(0);
        issuer
    }

    /// Stops the issuer and starts it again on the same port with a new
    /// signing key (a new `kid`): a key rotation as a resource server sees it.
    fn restart_with_new_key(&mut self) {
        self.stop();
        let (url, kid) = (self.url.clone(), self.kid.clone());
        self.run(self.port);
        assert_eq!(self.url, url, "the issuer came back under another URL");
        assert_ne!(self.kid, kid, "the new signing key has the old kid");
    }

    fn node(&self) -> Command {
        let mut command = Command::new("node");
        command.current_dir(&self.provider);
        command
    }

    fn run(&mut self, port: u16) {
        self.keys_made += 1;
        let keys = self.dir.0.join(format!("keys-{}.json", self.keys_made));
        let status = self
            .node()
            .arg("keygen.mjs")
            .arg(&keys)
            .status()
            .expect("run node (scripts/with-oidc-provider.sh installs it)");
        assert!(status.success(), "keygen.mjs failed: {status}");

        let log_path = self.dir.0.join(format!("server-{}.log", self.keys_made));
        let log = std::fs::File::create(&log_path).unwrap();
        let mut child = self
            .node()
            .arg("server.mjs")
            .arg("--jwks")
            .arg(&keys)
            .arg("--port")
            .arg(port.to_string())
            // The server exits when its stdin closes: it never outlives us.
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(log)
            .spawn()
            .expect("start node server.mjs");
        let stdout = child.stdout.take().unwrap();
        self.child = Some(child);

        let (sender, receiver) = mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let _ = BufReader::new(stdout).read_line(&mut line);
            let _ = sender.send(line);
        });
        let line = match receiver.recv_timeout(READY_TIMEOUT) {
            Ok(line) if !line.trim().is_empty() => line,
            outcome => {
                self.stop();
                panic!(
                    "oidc-provider did not start ({}); its log:\n{}",
                    if outcome.is_ok() {
                        "it exited"
                    } else {
                        "timed out"
                    },
                    std::fs::read_to_string(&log_path).unwrap_or_default()
                );
            }
        };
        let ready: Value = serde_json::from_str(&line).expect("server.mjs's ready line");
        self.url = ready["issuer"].as_str().unwrap().to_owned();
        self.port = u16::try_from(ready["port"].as_u64().unwrap()).unwrap();
        self.kid = ready["kid"].as_str().unwrap().to_owned();
    }

    fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// How many token requests this run of the issuer has received.
    async fn token_requests(&self) -> u64 {
        let body = reqwest::get(format!("{}/_interop/token-requests", self.url))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        serde_json::from_str::<Value>(&body).unwrap()["count"]
            .as_u64()
            .unwrap()
    }

    /// A caller configured from the issuer URL alone (RFC 8414 discovery).
    async fn caller(&self) -> TokenClient {
        TokenClient::builder(CLIENT_ID, ClientSecret::new(CLIENT_SECRET))
            .issuer(&self.url)
            .discover()
            .await
            .unwrap()
    }

    /// A resource server's key set for this issuer and `validation`.
    fn key_set(validation: Validation) -> RemoteKeySet {
        RemoteKeySet::builder(validation)
            .build(ReqwestTransport::new())
            .unwrap()
    }
}

impl Drop for Issuer {
    fn drop(&mut self) {
        self.stop();
    }
}

/// [`ReqwestTransport`], counting the documents it fetches.
#[derive(Debug, Clone, Default)]
struct Counting {
    inner: ReqwestTransport,
    gets: Arc<AtomicUsize>,
}

impl Counting {
    fn gets(&self) -> usize {
        self.gets.load(Ordering::SeqCst)
    }
}

impl Transport for Counting {
    fn get(
        &self,
        uri: http::Uri,
    ) -> BoxFuture<'static, Result<http::Response<Vec<u8>>, Box<dyn std::error::Error + Send + Sync>>>
    {
        self.gets.fetch_add(1, Ordering::SeqCst);
        self.inner.get(uri)
    }
}

/// The decoded JSON of part `index` (0 header, 1 payload) of a compact JWS.
fn part(token: &AccessToken, index: usize) -> Value {
    let text = token.expose_secret().split('.').nth(index).unwrap();
    serde_json::from_slice(&B64URL.decode(text).unwrap()).unwrap()
}

fn api_source(caller: &TokenClient) -> TokenSource {
    caller
        .source(TokenRequest::new().scope(SCOPE).resource(API))
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_caller_gets_and_caches_a_token_the_resource_server_accepts_it_without_a_tenant() {
    let issuer = Issuer::start();
    let caller = issuer.caller().await;
    assert_eq!(caller.token_endpoint(), format!("{}/token", issuer.url));

    // The caller: one token request, then the cache.
    let source = api_source(&caller);
    let token = source.token().await.unwrap();
    let again = source.token().await.unwrap();
    assert_eq!(token.expose_secret(), again.expose_secret());
    assert_eq!(issuer.token_requests().await, 1);

    // What the foreign issuer sent: RFC 9068, no tenant of ours.
    let (header, payload) = (part(&token, 0), part(&token, 1));
    assert_eq!(header["typ"], "at+jwt");
    assert_eq!(header["alg"], "RS256");
    assert_eq!(header["kid"], issuer.kid.as_str());
    assert_eq!(payload["iss"], issuer.url.as_str());
    assert_eq!(payload["aud"], API);
    assert!(payload.get("tenant").is_none());

    // The resource server, configured from the issuer URL alone.
    let keys = Issuer::key_set(Validation::new(&issuer.url, API));
    let context = keys.verify(token.expose_secret()).await.unwrap();
    assert_eq!(context.tenant(), None);
    assert_eq!(context.client_id, CLIENT_ID);
    assert_eq!(context.subject, CLIENT_ID);
    assert_eq!(context.audience, [API]);
    context.require_scope(SCOPE).unwrap();
    let published = keys.jwks().expect("discovered and fetched the JWKS");
    assert!(
        published
            .keys
            .iter()
            .any(|k| k.kid.as_deref() == Some(issuer.kid.as_str()))
    );

    // Expiry: accepted up to `exp` plus the leeway, refused after.
    let leeway = keys.validation().leeway;
    let exp = context.expires_at;
    assert!(exp > context.issued_at);
    keys.verify_at(token.expose_secret(), exp - Duration::seconds(1))
        .await
        .unwrap();
    assert_eq!(
        keys.verify_at(token.expose_secret(), exp + leeway + Duration::seconds(1))
            .await,
        Err(Error::Token(VerifyError::Expired))
    );

    // Wrong audience: the same issuer's token for another API.
    let other_api = Issuer::key_set(Validation::new(&issuer.url, "https://other.example.com"));
    assert_eq!(
        other_api.verify(token.expose_secret()).await,
        Err(Error::Token(VerifyError::WrongAudience))
    );

    // Wrong issuer, nothing cached: refused before any fetch.
    let other_issuer_url = format!("{}/other", issuer.url);
    let other_issuer = Issuer::key_set(Validation::new(&other_issuer_url, API));
    assert_eq!(
        other_issuer.verify(token.expose_secret()).await,
        Err(Error::Token(VerifyError::WrongIssuer))
    );
    assert!(
        other_issuer.jwks().is_none(),
        "a foreign token caused a fetch"
    );
    // Wrong issuer with this very key cached: still the issuer's fault.
    let same_keys = RemoteKeySet::builder(Validation::new(&other_issuer_url, API))
        .jwks_url(format!("{}/jwks", issuer.url))
        .build(ReqwestTransport::new())
        .unwrap();
    same_keys.refresh().await.unwrap();
    assert_eq!(
        same_keys.verify(token.expose_secret()).await,
        Err(Error::Token(VerifyError::WrongIssuer))
    );

    // Tampering: one character of the payload changed (still valid JSON,
    // so only the signature can tell), and a scope raised.
    let flip_one = |payload: &str| {
        let at = payload.find("interop-client").unwrap();
        let mut text = payload.to_owned();
        text.replace_range(at..=at, "j");
        text
    };
    let raise_scope = |payload: &str| payload.replace(SCOPE, "api:admin");
    for tamper in [&flip_one as &dyn Fn(&str) -> String, &raise_scope] {
        let mut parts = token.expose_secret().split('.');
        let (header, payload, signature) = (
            parts.next().unwrap(),
            parts.next().unwrap(),
            parts.next().unwrap(),
        );
        let payload = String::from_utf8(B64URL.decode(payload).unwrap()).unwrap();
        let tampered = tamper(&payload);
        assert_ne!(tampered, payload);
        let forged = format!("{header}.{}.{signature}", B64URL.encode(tampered));
        assert_eq!(
            keys.verify(&forged).await,
            Err(Error::Token(VerifyError::BadSignature))
        );
    }

    // The untouched token is still good: the refusals changed nothing.
    keys.verify(token.expose_secret()).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_a_restart_with_a_new_key_the_same_key_set_accepts_the_new_tokens() {
    let mut issuer = Issuer::start();
    let caller = issuer.caller().await;
    let source = api_source(&caller);
    let fetches = Counting::default();
    let keys = RemoteKeySet::builder(Validation::new(&issuer.url, API))
        .build(fetches.clone())
        .unwrap();

    let old = source.token().await.unwrap();
    keys.verify(old.expose_secret()).await.unwrap();
    let old_kid = issuer.kid.clone();

    issuer.restart_with_new_key();

    // The API refuses nothing yet (the old key is still cached), but a
    // caller that was told `invalid_token` asks for a new token, which
    // the restarted issuer signs with its new key.
    source.invalidate(&old).await;
    let new = source.token().await.unwrap();
    assert_ne!(new.expose_secret(), old.expose_secret());
    assert_eq!(issuer.token_requests().await, 1);
    assert_eq!(part(&new, 0)["kid"], issuer.kid.as_str());

    // Unknown kid: the key set refetches and accepts the token.
    let before = fetches.gets();
    let context = keys.verify(new.expose_secret()).await.unwrap();
    assert_eq!(context.tenant(), None);
    let published = keys.jwks().unwrap();
    assert!(
        published
            .keys
            .iter()
            .any(|k| k.kid.as_deref() == Some(issuer.kid.as_str()))
    );
    assert!(
        published
            .keys
            .iter()
            .all(|k| k.kid.as_deref() != Some(old_kid.as_str()))
    );
    let after_refetch = fetches.gets();
    assert!(after_refetch > before, "no refetch for the new kid");

    // The retired key's tokens are now refused, and asking again within
    // the cooldown does not make the key set fetch again.
    assert_eq!(
        keys.verify(old.expose_secret()).await,
        Err(Error::Token(VerifyError::UnknownKid))
    );
    keys.verify(new.expose_secret()).await.unwrap();
    assert_eq!(
        fetches.gets(),
        after_refetch,
        "fetched again within the cooldown"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_typ_jwt_token_is_refused_by_default_and_accepted_with_the_opt_in() {
    let issuer = Issuer::start();
    let caller = issuer.caller().await;
    let token = caller
        .token(&TokenRequest::new().resource(TYP_JWT_API))
        .await
        .unwrap();
    assert_eq!(part(&token, 0)["typ"], "JWT");
    assert_eq!(part(&token, 1)["aud"], TYP_JWT_API);

    let strict = Issuer::key_set(Validation::new(&issuer.url, TYP_JWT_API));
    assert_eq!(
        strict.verify(token.expose_secret()).await,
        Err(Error::Token(VerifyError::WrongType))
    );

    let widened =
        Issuer::key_set(Validation::new(&issuer.url, TYP_JWT_API).danger_accept_typ_jwt());
    let context = widened.verify(token.expose_secret()).await.unwrap();
    assert_eq!(context.client_id, CLIENT_ID);
    assert_eq!(context.tenant(), None);
}
