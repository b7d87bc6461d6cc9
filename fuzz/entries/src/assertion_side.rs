//! Client assertions (RFC 7523 `private_key_jwt`) at the issuer: a
//! registry with one keyed client, fed arbitrary assertions directly and
//! through a token request's form body.

use std::sync::{Arc, LazyLock, Mutex};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64URL;
use clientcreds_http::{ClientAuthMethod, TokenRequestParser};
use clientcreds_jwt::{
    Algorithm, KeySet, PrivateJwk, SigningKey, TokenIssuer, TokenVerifier, Validation,
};
use clientcreds_registry::{
    Actor, AssertionCheck, AssertionPolicy, AuthFailure, ClientAssertion, ClientAssertions, Error,
    ManualClock, NewClient, NewClientAuth, NewClientKey, Policy, Registry, TokenErrorCode,
    TokenService,
};
use clientcreds_secret::{PepperKey, SecretHasher};
use clientcreds_store::{MemoryReplayStore, MemoryStore, ReplayStore, Store, TenantId};
use time::OffsetDateTime;

use crate::Outcome;
use crate::assertion_oracle::{Verdict, judge, judge_text};
use crate::http_side::{check_rejection, form_headers};

/// The issuer identifier: the audience an assertion must name.
pub(crate) const ISSUER: &str = "https://auth.example.com";
/// The default audience of the access tokens issued.
const API: &str = "https://api.example.com";
/// The instant every check runs at (2027-01-15T08:00:00Z), so that a
/// crash reproduces whatever the date; seeds spell their `iat` and `exp`
/// around it.
pub(crate) const NOW: i64 = 1_800_000_000;
/// The client's two inline keys, both Ed25519 (deterministic signatures,
/// so the oracle can tell whose signature a text carries): the key of
/// RFC 8037 Appendix A.1, and one from a fixed seed. Two keys of one
/// algorithm take the kid-less path through both.
const KEY_JWKS: [&str; 2] = [
    r#"{"kty":"OKP","crv":"Ed25519","d":"nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}"#,
    r#"{"kty":"OKP","crv":"Ed25519","d":"Z2FPPchzGys-rOkwvH0MAr-mJUhYLUbbAB3KlM1hcbM","x":"HUqFaAkZNHLjftHrsFQo0X9ieUcvnBVWSBtuhE-tQ1c"}"#,
];

/// What every input runs against; built once.
pub(crate) struct Fixture {
    tokens: TokenService,
    replay: Arc<MemoryReplayStore>,
    /// Held for the whole of one input.
    alone: Mutex<()>,
    verifier: TokenVerifier,
    /// The client's private keys, in registration order.
    pub(crate) keys: [SigningKey; 2],
    /// Their `kid`s as the registry names them.
    pub(crate) kids: [String; 2],
    /// The keyed client.
    pub(crate) client_id: String,
}

static RUNTIME: LazyLock<tokio::runtime::Runtime> =
    LazyLock::new(
        || match tokio::runtime::Builder::new_current_thread().build() {
            Ok(runtime) => runtime,
            Err(e) => panic!("a fixed fuzzing fixture cannot be built: {e}"),
        },
    );

/// Built once; a failure here is a broken fixture, not an input, and
/// panics on first use.
static FIXTURE: LazyLock<Fixture> = LazyLock::new(|| match RUNTIME.block_on(fixture()) {
    Ok(fixture) => fixture,
    Err(e) => panic!("the client-assertion fixture cannot be built: {e}"),
});

fn now() -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(NOW).unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

async fn fixture() -> Result<Fixture, Box<dyn std::error::Error>> {
    let keys = [
        SigningKey::from_jwk(&PrivateJwk::from_json(KEY_JWKS[0])?)?,
        SigningKey::from_jwk(&PrivateJwk::from_json(KEY_JWKS[1])?)?,
    ];
    // A small log: the fuzzer makes millions of activity rows.
    let store = Arc::new(MemoryStore::with_log_capacity(1024)) as Arc<dyn Store>;
    let hasher = SecretHasher::hmac_sha256(PepperKey::new("k1", &[7; 32])?)?;
    let replay = Arc::new(MemoryReplayStore::default());
    let assertions = ClientAssertions::new(
        AssertionPolicy::default(),
        replay.clone() as Arc<dyn ReplayStore>,
    )?;
    let registry = Registry::new(store, hasher, Policy::default())?
        .with_clock(Arc::new(ManualClock::new(now())))
        .with_client_assertions(assertions);
    let tenant = TenantId::new("t")?;
    let public = |key: &SigningKey| {
        key.verifying_key()
            .public_jwk()
            .cloned()
            .map(NewClientKey::new)
            .ok_or("an Ed25519 key without a public JWK")
    };
    let view = registry
        .create_with_keys(
            &Actor::System,
            &tenant,
            NewClient::named("fuzzed").with_scopes(["read"]),
            NewClientAuth::private_key_jwt([public(&keys[0])?, public(&keys[1])?]),
        )
        .await?;
    let [first, second] = view.keys.as_slice() else {
        return Err("the client does not hold its two keys".into());
    };
    let kids = [first.kid.clone(), second.kid.clone()];
    let issuing = Arc::new(KeySet::new(SigningKey::generate(Algorithm::EdDSA)?));
    let tokens = TokenService::new(
        Arc::new(registry),
        TokenIssuer::new(issuing.clone(), ISSUER),
        API,
    );
    Ok(Fixture {
        tokens,
        replay,
        alone: Mutex::new(()),
        verifier: TokenVerifier::new(issuing, Validation::new(ISSUER, API)),
        keys,
        kids,
        client_id: view.client_id,
    })
}

/// A client assertion at the issuer. The first byte picks the mode and
/// its flags: `mode = byte & 3`, sign with the second key when `byte & 4`,
/// send the `client_id` parameter when `byte & 8`, sign the JSON as it
/// came (not re-serialized) when `byte & 16`.
/// - mode 1 (signed): the rest is `header JSON \n claims JSON`, in which
///   `$CLIENT` and `$KID` become the client's id and the signing key's
///   `kid`; the entry signs it with the client's key and authenticates it.
/// - mode 2 (form): the rest is `header \n claims \n form body`; the
///   signed assertion replaces `$ASSERTION` in the form body, which goes
///   through `TokenRequestParser` and, when it parses,
///   `TokenService::exchange`.
/// - otherwise (raw): the rest is the assertion text as it is.
///
/// Checks: every refusal is an authentication failure (a 401
/// `invalid_client`, or a 4xx from the parser), never a store or server
/// error; whatever authenticates carries the exact signature one of the
/// client's keys makes for its first two parts and satisfies every claim
/// rule (an oracle written from RFC 7523 §3, not from the code); the
/// same text then fails as a replay; an issued token verifies and names
/// the client. Re-serialized JSON that the oracle accepts must
/// authenticate (and, in a form with nothing but the grant type and the
/// assertion, must get a token).
pub fn client_assertion(data: &[u8]) -> Outcome {
    let Some((&flags, rest)) = data.split_first() else {
        return Outcome::Skipped;
    };
    let fixture = &*FIXTURE;
    // One input at a time (the corpus tests run in parallel): each starts
    // from an empty replay store, which another input must not refill or
    // empty half-way. A panic while holding the lock is the crash being
    // reported; the next input may go on.
    let _alone = fixture
        .alone
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    RUNTIME.block_on(async {
        // Each input starts with an empty replay store, so that a run
        // reproduces whatever ran before it.
        let later = OffsetDateTime::from_unix_timestamp(NOW + 86_400).unwrap_or_else(|_| now());
        if let Err(e) = fixture.replay.prune_replays(later).await {
            panic!("the memory replay store failed: {e}");
        }
        match flags & 3 {
            1 => signed(fixture, flags, rest).await,
            2 => form(fixture, flags, rest).await,
            _ => raw(fixture, rest).await,
        }
    })
}

/// Mode 0 and 3: the bytes as the assertion, without a `client_id`.
async fn raw(fixture: &Fixture, rest: &[u8]) -> Outcome {
    let Ok(text) = std::str::from_utf8(rest) else {
        return Outcome::Skipped;
    };
    let assertion = ClientAssertion::new(None, text);
    authenticate(fixture, &assertion).await
}

/// Mode 1: JSON the entry signs.
async fn signed(fixture: &Fixture, flags: u8, rest: &[u8]) -> Outcome {
    let Some(parts) = Parts::of(fixture, flags, rest) else {
        return Outcome::Skipped;
    };
    let Some((text, verdict)) = parts.sign(fixture) else {
        return Outcome::Skipped;
    };
    let presented = (flags & 8 != 0).then(|| fixture.client_id.clone());
    let assertion = ClientAssertion::new(presented, text);
    let outcome = authenticate(fixture, &assertion).await;
    if parts.canonical && verdict == Verdict::Valid {
        assert_eq!(outcome, Outcome::Accepted, "a valid assertion was refused");
    }
    outcome
}

/// Mode 2: the signed assertion inside a token request's form body.
async fn form(fixture: &Fixture, flags: u8, rest: &[u8]) -> Outcome {
    let Some(parts) = Parts::of(fixture, flags, rest) else {
        return Outcome::Skipped;
    };
    let Some((text, verdict)) = parts.sign(fixture) else {
        return Outcome::Skipped;
    };
    let body = parts.body.replace("$ASSERTION", &text);
    let parsed = match TokenRequestParser::default().parse(&form_headers(), body.as_bytes()) {
        Ok(parsed) => parsed,
        Err(rejected) => {
            check_rejection(&rejected);
            return Outcome::Refused;
        }
    };
    let request = &parsed.request;
    let plain = request.grant_type.as_deref() == Some("client_credentials")
        && request.scope.is_none()
        && request.audience.is_none()
        && request.resources.is_empty();
    let own = request.assertion.as_ref().and_then(|a| {
        (a.expose() == text).then_some(
            a.client_id
                .as_ref()
                .is_none_or(|id| *id == fixture.client_id),
        )
    });
    let asserted = request.assertion.clone();
    let result = fixture.tokens.exchange(parsed.request).await;
    match &result {
        Ok(response) => {
            assert_eq!(parsed.auth, ClientAuthMethod::Assertion, "auth method");
            let Some(assertion) = asserted else {
                panic!("a token without client authentication");
            };
            // Only the client's own signature, on claims that hold.
            assert_authentic(fixture, assertion.expose(), assertion.client_id.as_deref());
            let context = fixture
                .verifier
                .verify_at(response.access_token.expose(), now())
                .unwrap_or_else(|e| panic!("an issued token does not verify: {e}"));
            assert_eq!(context.client_id, fixture.client_id, "token client_id");
            assert!(
                context.scopes.iter().all(|s| s == "read"),
                "a scope the client does not hold"
            );
            assert_replayed(fixture, &assertion).await;
        }
        Err(error) => {
            assert_ne!(error.code, TokenErrorCode::ServerError, "{error:?}");
            let expected = parts.canonical
                && verdict == Verdict::Valid
                && plain
                && own == Some(true)
                && parsed.auth == ClientAuthMethod::Assertion;
            assert!(
                !expected,
                "a plain request with a valid assertion was refused: {error:?}"
            );
        }
    }
    Outcome::of(&result)
}

/// Authenticates `assertion` with the registry and checks the answer.
async fn authenticate(fixture: &Fixture, assertion: &ClientAssertion) -> Outcome {
    let registry = fixture.tokens.registry();
    let result = registry
        .authenticate_assertion(assertion, ISSUER, None)
        .await;
    match &result {
        Ok(client) => {
            assert_eq!(
                client.client_id(),
                fixture.client_id,
                "authenticated client"
            );
            assert_authentic(fixture, assertion.expose(), assertion.client_id.as_deref());
            assert_replayed(fixture, assertion).await;
        }
        Err(Error::Authentication(_)) => {}
        Err(e) => panic!("an assertion was refused with {e}"),
    }
    Outcome::of(&result)
}

/// `text`, which authenticated, carries one of the client's signatures
/// over its first two parts, and its header and claims pass the oracle.
fn assert_authentic(fixture: &Fixture, text: &str, presented: Option<&str>) {
    let Some((input, signature)) = text.rsplit_once('.') else {
        panic!("an assertion without dots authenticated");
    };
    let Ok(signature) = B64URL.decode(signature) else {
        panic!("an assertion with an unreadable signature authenticated");
    };
    let signer = fixture
        .keys
        .iter()
        .position(|key| key.sign(input.as_bytes()).is_ok_and(|s| s == signature));
    let Some(signer) = signer else {
        panic!("a signature none of the client's keys made authenticated");
    };
    if let Verdict::Invalid(rule) = judge_text(fixture, text, presented, signer) {
        panic!("an assertion that breaks a rule authenticated: {rule}");
    }
}

/// The same assertion a second time: refused as a replay.
async fn assert_replayed(fixture: &Fixture, assertion: &ClientAssertion) {
    let again = fixture
        .tokens
        .registry()
        .authenticate_assertion(assertion, ISSUER, None)
        .await;
    assert!(
        matches!(
            again,
            Err(Error::Authentication(AuthFailure::Assertion(
                AssertionCheck::Replayed
            )))
        ),
        "an assertion authenticated twice: {again:?}"
    );
}

/// A signed or form input, split and with its placeholders filled.
struct Parts {
    header: String,
    claims: String,
    body: String,
    signer: usize,
    canonical: bool,
    presented: bool,
}

impl Parts {
    fn of(fixture: &Fixture, flags: u8, rest: &[u8]) -> Option<Self> {
        let text = std::str::from_utf8(rest).ok()?;
        let signer = usize::from(flags & 4 != 0);
        let fill = |s: &str| {
            s.replace("$CLIENT", &fixture.client_id)
                .replace("$KID", fixture.kids.get(signer).map_or("", String::as_str))
        };
        let mut lines = text.splitn(3, '\n');
        let header = fill(lines.next()?);
        let claims = fill(lines.next()?);
        let body = lines.next().map(fill).unwrap_or_default();
        Some(Self {
            header,
            claims,
            body,
            signer,
            canonical: flags & 16 == 0,
            presented: flags & 8 != 0,
        })
    }

    /// The compact JWS of header and claims (re-serialized when
    /// `canonical` and they parse), signed with the chosen key, and what
    /// the oracle expects of it (with the `client_id` parameter in the
    /// signed mode).
    fn sign(&self, fixture: &Fixture) -> Option<(String, Verdict)> {
        let canonical = |json: &str| {
            serde_json::from_str::<serde_json::Value>(json)
                .ok()
                .map(|v| v.to_string())
                .filter(|_| self.canonical)
                .unwrap_or_else(|| json.to_owned())
        };
        let (header, claims) = (canonical(&self.header), canonical(&self.claims));
        let input = format!("{}.{}", B64URL.encode(&header), B64URL.encode(&claims));
        let key = fixture.keys.get(self.signer)?;
        let Ok(signature) = key.sign(input.as_bytes()) else {
            panic!("a fixed key cannot sign");
        };
        let text = format!("{input}.{}", B64URL.encode(signature));
        let presented = self.presented.then_some(fixture.client_id.as_str());
        let verdict = judge(
            fixture,
            &header,
            &claims,
            presented,
            self.signer,
            text.len(),
        );
        Some((text, verdict))
    }
}
