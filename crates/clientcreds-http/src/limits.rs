//! Size limits on everything a token or introspection request carries, in
//! one place.

use clientcreds_jwt::DEFAULT_MAX_TOKEN_LEN;

use crate::DEFAULT_MAX_BODY;

/// The size limits of [`TokenRequestParser`](crate::TokenRequestParser),
/// in bytes of decoded text (parameter counts excepted). A request over a
/// limit is refused before anything else reads it, with
/// [`RejectedTokenRequest::limit`](crate::RejectedTokenRequest::limit)
/// naming the [`Field`] (and an `invalid_request` description naming it
/// too, for the 400 answer; an oversized body is a 413).
///
/// The defaults are generous for the client-credentials grant (this
/// library's client ids are about 30 characters and its secrets about 80)
/// and small enough that no request costs more than a few kilobytes of
/// work:
///
/// | field | default |
/// |---|---|
/// | [`body`](Limits::body) | 16 KiB ([`DEFAULT_MAX_BODY`]) |
/// | [`authorization`](Limits::authorization) | 4 KiB |
/// | [`client_id`](Limits::client_id) | 256 |
/// | [`client_secret`](Limits::client_secret) | 512 |
/// | [`scope`](Limits::scope) | 2 KiB |
/// | [`token`](Limits::token) | 8 KiB (clientcreds-jwt's [`DEFAULT_MAX_TOKEN_LEN`]) |
/// | [`parameter`](Limits::parameter): `grant_type`, `audience`, each `resource`, others | 2 KiB |
/// | [`parameters`](Limits::parameters) | 64 |
///
/// ```
/// use clientcreds_http::{Field, Limits, TokenRequestParser};
///
/// let mut limits = Limits::default();
/// limits.client_id = 64;
/// let parser = TokenRequestParser::default().with_limits(limits);
/// let mut headers = http::HeaderMap::new();
/// headers.insert("content-type", "application/x-www-form-urlencoded".parse()?);
/// let body = format!("grant_type=client_credentials&client_id={}&client_secret=s", "a".repeat(65));
/// let rejected = parser.parse(&headers, body.as_bytes()).unwrap_err();
/// assert_eq!(rejected.limit.map(|l| (l.field, l.max)), Some((Field::ClientId, 64)));
/// assert_eq!(rejected.error.description, "client_id is too long");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Limits {
    /// The request body.
    pub body: usize,
    /// The `Authorization` header's value.
    pub authorization: usize,
    /// `client_id`, from the body or HTTP Basic.
    pub client_id: usize,
    /// `client_secret`, from the body or HTTP Basic.
    pub client_secret: usize,
    /// `scope`: the whole space-delimited string.
    pub scope: usize,
    /// The `token` of an introspection request.
    pub token: usize,
    /// Any other single parameter (`grant_type`, `audience`, each
    /// `resource`, unknown names).
    pub parameter: usize,
    /// How many parameters a body may hold.
    pub parameters: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            body: DEFAULT_MAX_BODY,
            authorization: 4 * 1024,
            client_id: 256,
            client_secret: 512,
            scope: 2 * 1024,
            token: DEFAULT_MAX_TOKEN_LEN,
            parameter: 2 * 1024,
            parameters: 64,
        }
    }
}

impl Limits {
    /// The limit of `field`.
    #[must_use]
    pub fn of(&self, field: Field) -> usize {
        match field {
            Field::Body => self.body,
            Field::Authorization => self.authorization,
            Field::ClientId => self.client_id,
            Field::ClientSecret => self.client_secret,
            Field::Scope => self.scope,
            Field::Token => self.token,
            Field::GrantType | Field::Audience | Field::Resource | Field::Parameter => {
                self.parameter
            }
            Field::Parameters => self.parameters,
        }
    }

    /// The field a body parameter's value counts against.
    pub(crate) fn field_of(name: &str) -> Field {
        match name {
            "client_id" => Field::ClientId,
            "client_secret" => Field::ClientSecret,
            "scope" => Field::Scope,
            // An assertion is a JWT: the token limit bounds it too.
            "token" | "client_assertion" => Field::Token,
            "grant_type" => Field::GrantType,
            "audience" => Field::Audience,
            "resource" => Field::Resource,
            _ => Field::Parameter,
        }
    }

    /// `Err` naming `field` when `len` is over its limit.
    pub(crate) fn check(&self, field: Field, len: usize) -> Result<(), LimitExceeded> {
        let max = self.of(field);
        if len > max {
            Err(LimitExceeded { field, max })
        } else {
            Ok(())
        }
    }
}

/// A part of a request with a size limit (see [`Limits`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Field {
    /// The request body.
    Body,
    /// The `Authorization` header.
    Authorization,
    /// `client_id`.
    ClientId,
    /// `client_secret`.
    ClientSecret,
    /// `scope`.
    Scope,
    /// An introspection request's `token`, or a `client_assertion`.
    Token,
    /// `grant_type` (limit: [`Limits::parameter`]).
    GrantType,
    /// `audience` (limit: [`Limits::parameter`]).
    Audience,
    /// A `resource` (limit: [`Limits::parameter`]).
    Resource,
    /// Another parameter's value (limit: [`Limits::parameter`]).
    Parameter,
    /// The number of parameters.
    Parameters,
}

impl Field {
    /// The field as a request names it: `client_id`, `Authorization`, ….
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Self::Body => "request body",
            Self::Authorization => "Authorization",
            Self::ClientId => "client_id",
            Self::ClientSecret => "client_secret",
            Self::Scope => "scope",
            Self::Token => "token",
            Self::GrantType => "grant_type",
            Self::Audience => "audience",
            Self::Resource => "resource",
            Self::Parameter => "parameter",
            Self::Parameters => "parameters",
        }
    }

    /// The `error_description` for a request over this field's limit.
    #[must_use]
    pub fn too_long(self) -> &'static str {
        match self {
            Self::Body => "request body too large",
            Self::Authorization => "Authorization header is too long",
            Self::ClientId => "client_id is too long",
            Self::ClientSecret => "client_secret is too long",
            Self::Scope => "scope is too long",
            Self::Token => "token is too long",
            Self::GrantType => "grant_type is too long",
            Self::Audience => "audience is too long",
            Self::Resource => "resource is too long",
            Self::Parameter => "a parameter is too long",
            Self::Parameters => "too many parameters",
        }
    }
}

/// A request over one of its [`Limits`]: which field, and its limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LimitExceeded {
    /// The field over its limit.
    pub field: Field,
    /// The limit (bytes, or a count for [`Field::Parameters`]).
    pub max: usize,
}
