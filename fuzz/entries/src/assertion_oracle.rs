//! What a client assertion must be for the fuzzed registry to accept it,
//! written from RFC 7523 §3, RFC 7515 and the registry's documented
//! policy defaults, independently of the registry's code.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64URL;
use clientcreds_registry::DEFAULT_MAX_ASSERTION_LEN;
use serde_json::{Map, Value};

use crate::assertion_side::{Fixture, ISSUER, NOW};

/// The default clock leeway of `AssertionPolicy`, in seconds.
const LEEWAY: i128 = 30;
/// The default longest validity of a `private_key_jwt` assertion (5 min).
const MAX_LIFETIME: i128 = 300;
/// `typ` values a client assertion may carry (compared case-insensitively;
/// absent is fine too).
const TYPES: [&str; 3] = [
    "client-authentication+jwt",
    "application/client-authentication+jwt",
    "JWT",
];
/// JWK members of a private or symmetric key (never in a header `jwk`).
const PRIVATE_MEMBERS: [&str; 7] = ["d", "p", "q", "dp", "dq", "qi", "k"];

/// The oracle's answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// Every rule holds: the registry must accept it.
    Valid,
    /// A rule is broken (named): the registry must refuse it.
    Invalid(&'static str),
    /// The rules hold as far as the oracle can tell, but a header member
    /// whose parsing it does not model (`jwk`) may refuse it.
    Unsure,
}

/// The verdict on a compact JWS `text` signed by the client's key number
/// `signer`, presented with `presented` as `client_id`.
pub(crate) fn judge_text(
    fixture: &Fixture,
    text: &str,
    presented: Option<&str>,
    signer: usize,
) -> Verdict {
    let mut parts = text.split('.');
    let (Some(header), Some(claims), Some(_), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Verdict::Invalid("three parts");
    };
    let decode = |part: &str| {
        B64URL
            .decode(part)
            .ok()
            .and_then(|bytes| String::from_utf8(bytes).ok())
    };
    let (Some(header), Some(claims)) = (decode(header), decode(claims)) else {
        return Verdict::Invalid("base64url JSON parts");
    };
    judge(fixture, &header, &claims, presented, signer, text.len())
}

/// The verdict on `header` and `claims` (JSON texts) of an assertion of
/// `len` bytes signed by key number `signer`.
pub(crate) fn judge(
    fixture: &Fixture,
    header: &str,
    claims: &str,
    presented: Option<&str>,
    signer: usize,
    len: usize,
) -> Verdict {
    if len > DEFAULT_MAX_ASSERTION_LEN {
        return Verdict::Invalid("at most 8 KiB");
    }
    let (Ok(Value::Object(header)), Ok(Value::Object(claims))) = (
        serde_json::from_str::<Value>(header),
        serde_json::from_str::<Value>(claims),
    ) else {
        return Verdict::Invalid("header and claims are JSON objects");
    };
    match judge_header(fixture, &header, signer) {
        Verdict::Valid => {}
        other => {
            // A broken claim rule still decides when the header is unsure.
            return match (other, judge_claims(fixture, &claims, presented)) {
                (Verdict::Unsure, Err(rule)) => Verdict::Invalid(rule),
                _ => other,
            };
        }
    }
    match judge_claims(fixture, &claims, presented) {
        Ok(()) => Verdict::Valid,
        Err(rule) => Verdict::Invalid(rule),
    }
}

/// RFC 7515 §4.1 and the registry's header rules.
fn judge_header(fixture: &Fixture, header: &Map<String, Value>, signer: usize) -> Verdict {
    // RFC 7518 §3.1 `EdDSA`, RFC 9864 `Ed25519`: the client's keys are
    // Ed25519, and no other algorithm (least of all `none` or HMAC) may
    // verify with them.
    match header.get("alg") {
        Some(Value::String(alg)) if alg == "EdDSA" || alg == "Ed25519" => {}
        _ => return Verdict::Invalid("alg EdDSA or Ed25519"),
    }
    // RFC 7515 §4.1.11: no extension is understood, so `crit` in any form
    // makes the JWS invalid.
    if header.contains_key("crit") {
        return Verdict::Invalid("no crit");
    }
    match header.get("kid") {
        None | Some(Value::Null) => {}
        Some(Value::String(kid)) if fixture.kids.get(signer) == Some(kid) => {}
        Some(Value::String(_)) => return Verdict::Invalid("kid names the signing key"),
        Some(_) => return Verdict::Invalid("kid is a string"),
    }
    match header.get("typ") {
        None | Some(Value::Null) => {}
        Some(Value::String(typ)) if TYPES.iter().any(|t| t.eq_ignore_ascii_case(typ)) => {}
        Some(_) => return Verdict::Invalid("typ client-authentication+jwt or JWT"),
    }
    match header.get("jwk") {
        None | Some(Value::Null) => Verdict::Valid,
        Some(Value::Object(jwk)) if PRIVATE_MEMBERS.iter().any(|m| jwk.contains_key(*m)) => {
            Verdict::Invalid("no private key in the header")
        }
        Some(Value::Object(_)) => Verdict::Unsure,
        Some(_) => Verdict::Invalid("jwk is an object"),
    }
}

/// RFC 7523 §3 and the registry's policy defaults.
fn judge_claims(
    fixture: &Fixture,
    claims: &Map<String, Value>,
    presented: Option<&str>,
) -> Result<(), &'static str> {
    let client = fixture.client_id.as_str();
    let string = |name: &str| match claims.get(name) {
        Some(Value::String(s)) => Ok(s.as_str()),
        _ => Err(name_rule(name)),
    };
    // 3.1, 3.2: `iss` and `sub` are the client id (the parameter, when
    // sent, names the same client).
    if presented.is_some_and(|p| p != client) {
        return Err("client_id names the client");
    }
    if string("iss")? != client || string("sub")? != client {
        return Err("iss and sub are the client id");
    }
    // 3.3: `aud` names the issuer identifier.
    let audience_ok = match claims.get("aud") {
        Some(Value::String(aud)) => aud == ISSUER,
        Some(Value::Array(auds)) => {
            auds.iter().all(Value::is_string) && auds.iter().any(|a| a == ISSUER)
        }
        _ => false,
    };
    if !audience_ok {
        return Err("aud names the issuer");
    }
    // 3.4: `exp` required and not past (with leeway); 3.5, 3.6: `nbf`
    // and `iat` not in the future; the policy's longest lifetime.
    let date = |name: &str| match claims.get(name) {
        None => Ok(None),
        Some(value) => numeric_date(value).map(Some).ok_or(name_rule(name)),
    };
    let exp = date("exp")?.ok_or("exp is required")?;
    let (iat, nbf) = (date("iat")?, date("nbf")?);
    let now = i128::from(NOW);
    if now >= exp + LEEWAY {
        return Err("exp is not past");
    }
    if iat.max(nbf).is_some_and(|t| t > now + LEEWAY) {
        return Err("iat and nbf are not in the future");
    }
    if exp - iat.unwrap_or(now).min(now) > MAX_LIFETIME + LEEWAY {
        return Err("valid for at most 5 minutes");
    }
    // 3.7: a `jti` (required by the policy, single use).
    if string("jti")?.is_empty() {
        return Err("jti is not empty");
    }
    Ok(())
}

/// RFC 7519 §2 NumericDate: a JSON number of seconds, fractions floored;
/// beyond ±10^15 seconds is out of any range a date check means.
fn numeric_date(value: &Value) -> Option<i128> {
    let Value::Number(n) = value else {
        return None;
    };
    if let Some(i) = n.as_i64() {
        return Some(i128::from(i));
    }
    let f = n.as_f64()?;
    // Whole seconds: the cast is exact below 10^15.
    #[allow(clippy::cast_possible_truncation)]
    (f.is_finite() && f.abs() < 1e15).then(|| f.floor() as i128)
}

/// The rule a missing or mistyped claim breaks.
fn name_rule(name: &str) -> &'static str {
    match name {
        "iss" => "iss is a string",
        "sub" => "sub is a string",
        "jti" => "jti is a string",
        "exp" => "exp is a NumericDate",
        "iat" => "iat is a NumericDate",
        "nbf" => "nbf is a NumericDate",
        _ => "a claim has its type",
    }
}
