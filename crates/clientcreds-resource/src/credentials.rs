//! The access token of a request under either scheme: `Bearer` (RFC 6750
//! §2.1) or `DPoP` (RFC 9449 §7.1), and which schemes a resource accepts.

use http::HeaderMap;
use http::header::AUTHORIZATION;

use crate::BearerError;

/// The `Authorization` scheme a request presented its token with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scheme {
    /// `Bearer` (RFC 6750): whoever holds the token may use it.
    Bearer,
    /// `DPoP` (RFC 9449): the token comes with a proof of possession of
    /// the key it is bound to, in the `DPoP` header.
    Dpop,
}

impl Scheme {
    /// The scheme's name as `Authorization` and `WWW-Authenticate` spell it.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Bearer => "Bearer",
            Self::Dpop => "DPoP",
        }
    }
}

/// Which schemes a protected resource accepts.
///
/// Whatever the choice, a DPoP-bound token (one with `cnf.jkt`) is never
/// accepted as `Bearer` (RFC 9449 §7.2): under [`Schemes::Both`] (the
/// default) unbound tokens may come as `Bearer` and bound ones must come
/// with a proof.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Schemes {
    /// `Bearer` only; a `DPoP` request is answered like one without
    /// credentials, and bound tokens are refused (they cannot be proven).
    BearerOnly,
    /// `DPoP` only: every token must be bound and come with a proof.
    DpopOnly,
    /// Both (the default): unbound tokens as `Bearer`, bound ones as `DPoP`.
    #[default]
    Both,
}

impl Schemes {
    /// Whether `scheme` is accepted.
    #[must_use]
    pub const fn accepts(self, scheme: Scheme) -> bool {
        matches!(
            (self, scheme),
            (Self::Both, _) | (Self::BearerOnly, Scheme::Bearer) | (Self::DpopOnly, Scheme::Dpop)
        )
    }

    /// RFC 9728's `dpop_bound_access_tokens_required`: whether every
    /// token must be DPoP-bound.
    #[must_use]
    pub const fn dpop_required(self) -> bool {
        matches!(self, Self::DpopOnly)
    }
}

/// An access token and the scheme it came with.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Credentials<'a> {
    /// The scheme.
    pub scheme: Scheme,
    /// The token's text.
    pub token: &'a str,
}

impl std::fmt::Debug for Credentials<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("scheme", &self.scheme)
            .field("token", &"[redacted]")
            .finish()
    }
}

/// The access token of a request: exactly one `Authorization` header,
/// scheme `Bearer` or `DPoP` (any case), one token of the `token68`
/// syntax both schemes share.
///
/// # Errors
/// [`BearerError::Missing`] without the header or with another scheme,
/// [`BearerError::Malformed`] for several headers or a malformed value.
///
/// ```
/// use clientcreds_resource::{BearerError, Scheme, access_token};
/// let mut headers = http::HeaderMap::new();
/// headers.insert("authorization", "DPoP abc.def-ghi_jk".parse().unwrap());
/// let credentials = access_token(&headers).unwrap();
/// assert_eq!((credentials.scheme, credentials.token), (Scheme::Dpop, "abc.def-ghi_jk"));
/// headers.insert("authorization", "Basic Zm9vOmJhcg==".parse().unwrap());
/// assert_eq!(access_token(&headers), Err(BearerError::Missing));
/// ```
pub fn access_token(headers: &HeaderMap) -> Result<Credentials<'_>, BearerError> {
    let mut values = headers.get_all(AUTHORIZATION).iter();
    let (Some(value), None) = (values.next(), values.next()) else {
        return Err(if headers.contains_key(AUTHORIZATION) {
            BearerError::Malformed
        } else {
            BearerError::Missing
        });
    };
    let text = value.to_str().map_err(|_| BearerError::Malformed)?;
    let (name, token) = text.split_once(' ').unwrap_or((text, ""));
    let scheme = if name.eq_ignore_ascii_case("bearer") {
        Scheme::Bearer
    } else if name.eq_ignore_ascii_case("dpop") {
        Scheme::Dpop
    } else {
        return Err(BearerError::Missing);
    };
    let token = token.trim_start_matches(' ');
    let body = token.trim_end_matches('=');
    let well_formed = !body.is_empty()
        && body.bytes().all(|b| {
            b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'+' | b'/')
        });
    if well_formed {
        Ok(Credentials { scheme, token })
    } else {
        Err(BearerError::Malformed)
    }
}
