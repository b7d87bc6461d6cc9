//! Input rules. Each failure is [`Error::Invalid`] naming its field.

use std::collections::BTreeMap;

use clientcreds_store::ClaimValue;

use crate::Error;

/// Longest client name, in characters.
pub const MAX_NAME_CHARS: usize = 200;
/// Longest description, in characters.
pub const MAX_DESCRIPTION_CHARS: usize = 2000;
/// Most scopes (or audiences) a client may hold.
pub const MAX_LIST_ITEMS: usize = 100;
/// Shortest token lifetime a client may set, in seconds.
pub const MIN_TOKEN_LIFETIME_SECS: u32 = 60;
/// Longest token lifetime a client may set, in seconds (one day).
pub const MAX_TOKEN_LIFETIME_SECS: u32 = 86_400;

/// Claim names a client may not set beyond the token's own
/// ([`clientcreds_jwt::RESERVED_CLAIMS`]): the default tenant claim,
/// registered claims that would lie about who or how the client is, and
/// names resource servers read as the token's scope (`scp`) or, in an RFC
/// 7662 introspection answer, as the user behind it (`username`).
const ALSO_RESERVED_CLAIMS: &[&str] = &[
    clientcreds_jwt::DEFAULT_TENANT_CLAIM,
    "scp",
    "username",
    "azp",
    "cnf",
    "act",
    "may_act",
    "auth_time",
    "acr",
    "amr",
];

fn is_reserved_claim(name: &str) -> bool {
    clientcreds_jwt::RESERVED_CLAIMS.contains(&name) || ALSO_RESERVED_CLAIMS.contains(&name)
}

pub(crate) fn name(value: &str) -> Result<String, Error> {
    let trimmed = value.trim();
    if trimmed.is_empty() {
        return Err(Error::invalid("name", "must not be empty"));
    }
    text("name", trimmed, MAX_NAME_CHARS, false)?;
    Ok(trimmed.to_owned())
}

pub(crate) fn description(value: &str) -> Result<String, Error> {
    text("description", value, MAX_DESCRIPTION_CHARS, true)?;
    Ok(value.to_owned())
}

pub(crate) fn owner(value: Option<&str>) -> Result<Option<String>, Error> {
    value
        .map(|o| {
            if o.trim().is_empty() {
                return Err(Error::invalid("owner", "must not be empty"));
            }
            text("owner", o, MAX_NAME_CHARS, false).map(|()| o.to_owned())
        })
        .transpose()
}

/// RFC 6749 §3.3: `scope-token = 1*( %x21 / %x23-5B / %x5D-7E )`.
pub(crate) fn scopes(values: &[String]) -> Result<Vec<String>, Error> {
    list("scopes", values, 128, |s| {
        s.bytes()
            .all(|b| b == 0x21 || (0x23..=0x5B).contains(&b) || (0x5D..=0x7E).contains(&b))
    })
}

pub(crate) fn audiences(values: &[String]) -> Result<Vec<String>, Error> {
    list("audiences", values, 2048, |s| {
        s.chars().all(|c| !c.is_whitespace() && !c.is_control())
    })
}

pub(crate) fn extra_claims(
    claims: &BTreeMap<String, ClaimValue>,
) -> Result<BTreeMap<String, ClaimValue>, Error> {
    if claims.len() > 32 {
        return Err(Error::invalid("extra_claims", "at most 32 claims"));
    }
    for (name, value) in claims {
        let well_formed = (1..=64).contains(&name.len())
            && name.bytes().all(|b| {
                b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.' | b':' | b'/')
            });
        if !well_formed {
            return Err(Error::invalid(
                "extra_claims",
                format!("claim name {name:?} must be 1 to 64 characters of [A-Za-z0-9_.:/-]"),
            ));
        }
        if is_reserved_claim(name) {
            return Err(Error::invalid(
                "extra_claims",
                format!("claim {name:?} is set by the token itself"),
            ));
        }
        let ok = match value {
            ClaimValue::Text(s) => s.chars().count() <= 1024,
            ClaimValue::List(items) => {
                items.len() <= MAX_LIST_ITEMS && items.iter().all(|s| s.chars().count() <= 256)
            }
            ClaimValue::Bool(_) | ClaimValue::Integer(_) => true,
        };
        if !ok {
            return Err(Error::invalid(
                "extra_claims",
                format!("value of {name:?} is too long"),
            ));
        }
    }
    Ok(claims.clone())
}

pub(crate) fn token_lifetime(value: Option<u32>) -> Result<Option<u32>, Error> {
    match value {
        Some(secs) if !(MIN_TOKEN_LIFETIME_SECS..=MAX_TOKEN_LIFETIME_SECS).contains(&secs) => {
            Err(Error::invalid(
                "token_lifetime",
                format!("must be {MIN_TOKEN_LIFETIME_SECS} to {MAX_TOKEN_LIFETIME_SECS} seconds"),
            ))
        }
        other => Ok(other),
    }
}

fn text(field: &'static str, value: &str, max_chars: usize, multiline: bool) -> Result<(), Error> {
    if value.chars().count() > max_chars {
        return Err(Error::invalid(
            field,
            format!("must be at most {max_chars} characters"),
        ));
    }
    if value
        .chars()
        .any(|c| c.is_control() && !(multiline && matches!(c, '\n' | '\t')))
    {
        return Err(Error::invalid(field, "must not contain control characters"));
    }
    Ok(())
}

/// Checks each item, drops repeats (keeping the first), keeps order.
fn list(
    field: &'static str,
    values: &[String],
    max_len: usize,
    syntax: impl Fn(&str) -> bool,
) -> Result<Vec<String>, Error> {
    if values.len() > MAX_LIST_ITEMS {
        return Err(Error::invalid(
            field,
            format!("at most {MAX_LIST_ITEMS} items"),
        ));
    }
    let mut out: Vec<String> = Vec::with_capacity(values.len());
    for value in values {
        if value.is_empty() || value.len() > max_len || !syntax(value) {
            return Err(Error::invalid(
                field,
                format!("{value:?} is not a valid item"),
            ));
        }
        if !out.contains(value) {
            out.push(value.clone());
        }
    }
    Ok(out)
}
