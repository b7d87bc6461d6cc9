//! The token endpoint: parsing requests, rendering responses.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use clientcreds_registry::{
    ClientAssertion, ClientCredentials, DpopProof, ExchangeRequest, Introspection,
    JWT_BEARER_ASSERTION_TYPE, Source, TokenError, TokenErrorCode, TokenResponse,
};
use clientcreds_secret::Secret;
use http::header::{
    AUTHORIZATION, CACHE_CONTROL, CONTENT_TYPE, PRAGMA, RETRY_AFTER, WWW_AUTHENTICATE,
};
use http::{HeaderMap, HeaderValue, Response, StatusCode};
use zeroize::Zeroizing;

use crate::form::{self, Text};
use crate::limits::{Field, LimitExceeded, Limits};

/// The default largest token-request body, in bytes.
pub const DEFAULT_MAX_BODY: usize = 16 * 1024;
/// Parameters that may appear more than once (RFC 8707 `resource`).
const REPEATABLE: &[&str] = &["resource"];

/// How the client authenticated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientAuthMethod {
    /// HTTP Basic (`client_secret_basic`), or any attempt through the
    /// `Authorization` header (answered with 401 and a Basic challenge).
    Basic,
    /// Form body (`client_secret_post`).
    Post,
    /// A client assertion (`private_key_jwt` or a federated token).
    Assertion,
    /// No credentials.
    None,
}

/// A parsed token request and how its client authenticated (which decides
/// the shape of an `invalid_client` answer).
#[derive(Debug)]
pub struct ParsedTokenRequest {
    /// The request for [`TokenService::exchange`](clientcreds_registry::TokenService::exchange).
    pub request: ExchangeRequest,
    /// How the client authenticated.
    pub auth: ClientAuthMethod,
}

/// An RFC 7662 introspection request.
#[derive(Debug)]
pub struct IntrospectionRequest {
    /// The caller's credentials, if any.
    pub credentials: Option<ClientCredentials>,
    /// How the caller authenticated.
    pub auth: ClientAuthMethod,
    /// The token to introspect (redacted in `Debug`).
    pub token: Secret,
}

impl IntrospectionRequest {
    /// The request as [`TokenService::introspect`](clientcreds_registry::TokenService::introspect)
    /// takes it, from `source` (the caller's address, for the throttle).
    #[must_use]
    pub fn introspection(&self, source: Option<Source>) -> Introspection<'_> {
        Introspection {
            credentials: self.credentials.as_ref(),
            source,
            token: self.token.expose_secret(),
        }
    }
}

/// A token request that could not be parsed: the RFC error to send, and
/// whether the client tried HTTP Basic (so a 401 carries a Basic challenge).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RejectedTokenRequest {
    /// The error.
    pub error: TokenError,
    /// The client tried HTTP Basic.
    pub auth: ClientAuthMethod,
    /// The body exceeded the size limit (answer 413 if the host prefers).
    pub too_large: bool,
    /// The field over its size limit, if that is why ([`Limits`]).
    pub limit: Option<LimitExceeded>,
}

/// Parses token requests (RFC 6749 §2.3.1, §3.2, §4.4).
///
/// ```
/// use clientcreds_http::{ClientAuthMethod, TokenRequestParser};
/// use http::HeaderMap;
///
/// let mut headers = HeaderMap::new();
/// headers.insert("content-type", "application/x-www-form-urlencoded".parse().unwrap());
/// // "my client:p@ss" form-encoded, then Basic: RFC 6749 §2.3.1.
/// headers.insert("authorization", "Basic bXkrY2xpZW50OnAlNDBzcw==".parse().unwrap());
/// let parsed = TokenRequestParser::default().parse(&headers, b"grant_type=client_credentials&scope=a+b").unwrap();
/// assert_eq!(parsed.auth, ClientAuthMethod::Basic);
/// let credentials = parsed.request.credentials.unwrap();
/// assert_eq!(credentials.client_id, "my client");
/// assert_eq!(credentials.client_secret.expose_secret(), "p@ss");
/// assert_eq!(parsed.request.scope.as_deref(), Some("a b"));
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct TokenRequestParser {
    limits: Limits,
}

impl TokenRequestParser {
    /// Sets the body size limit ([`Limits::body`]).
    #[must_use]
    pub fn with_max_body(mut self, max: usize) -> Self {
        self.limits.body = max;
        self
    }

    /// Sets every size limit.
    #[must_use]
    pub fn with_limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    /// The size limits in force.
    #[must_use]
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// Parses headers and body.
    ///
    /// # Errors
    /// A [`RejectedTokenRequest`]: `invalid_request` for a wrong content
    /// type, an oversized body, bad encoding or UTF-8, a repeated
    /// parameter, or credentials sent both ways; `invalid_client` for a
    /// malformed Basic header.
    pub fn parse(
        &self,
        headers: &HeaderMap,
        body: &[u8],
    ) -> Result<ParsedTokenRequest, RejectedTokenRequest> {
        self.parse_with(headers, body, |_, _| {})
    }

    /// Parses an RFC 7662 introspection request: the caller's client
    /// credentials (as for a token request) and the `token` parameter.
    ///
    /// # Errors
    /// As [`TokenRequestParser::parse`]; `invalid_request` without `token`.
    pub fn parse_introspection(
        &self,
        headers: &HeaderMap,
        body: &[u8],
    ) -> Result<IntrospectionRequest, RejectedTokenRequest> {
        let mut token = None;
        let parsed = self.parse_with(headers, body, |name, value| {
            if name == "token" {
                token = Some(Secret::new(std::mem::take(&mut **value)));
            }
        })?;
        let Some(token) = token else {
            return Err(RejectedTokenRequest {
                error: TokenError {
                    code: TokenErrorCode::InvalidRequest,
                    description: "token is required",
                },
                auth: parsed.auth,
                too_large: false,
                limit: None,
            });
        };
        Ok(IntrospectionRequest {
            credentials: parsed.request.credentials,
            auth: parsed.auth,
            token,
        })
    }

    fn parse_with(
        &self,
        headers: &HeaderMap,
        body: &[u8],
        mut other: impl FnMut(&str, &mut Text),
    ) -> Result<ParsedTokenRequest, RejectedTokenRequest> {
        let basic = self.basic_credentials(headers)?;
        let auth = if basic.is_some() {
            ClientAuthMethod::Basic
        } else {
            ClientAuthMethod::None
        };
        let reject = |code, description, too_large| {
            Err(RejectedTokenRequest {
                error: TokenError { code, description },
                auth,
                too_large,
                limit: None,
            })
        };
        let over = |limit: LimitExceeded| RejectedTokenRequest {
            error: TokenError {
                code: TokenErrorCode::InvalidRequest,
                description: limit.field.too_long(),
            },
            auth,
            too_large: limit.field == Field::Body,
            limit: Some(limit),
        };
        self.limits.check(Field::Body, body.len()).map_err(over)?;
        // Exactly one Content-Type (none or several: not a form).
        let mut content_type = headers.get_all(CONTENT_TYPE).iter();
        let form_type = match (content_type.next(), content_type.next()) {
            (Some(one), None) => one
                .to_str()
                .ok()
                .and_then(|v| v.split(';').next())
                .map(str::trim),
            _ => None,
        };
        if !form_type.is_some_and(|t| t.eq_ignore_ascii_case("application/x-www-form-urlencoded")) {
            return reject(
                TokenErrorCode::InvalidRequest,
                "content type must be application/x-www-form-urlencoded",
                false,
            );
        }
        let Ok(body) = std::str::from_utf8(body) else {
            return reject(
                TokenErrorCode::InvalidRequest,
                "request body is not UTF-8",
                false,
            );
        };
        self.limits
            .check(Field::Parameters, form::count(body))
            .map_err(over)?;
        let Ok(pairs) = form::parse(body) else {
            return reject(
                TokenErrorCode::InvalidRequest,
                "request body is not valid form encoding",
                false,
            );
        };
        let mut request = ExchangeRequest::default();
        // RFC 9449 §4.3: at most one `DPoP` header, of visible ASCII.
        let mut proofs = headers.get_all("dpop").iter();
        match (proofs.next(), proofs.next()) {
            (None, _) => {}
            (Some(proof), None) => match proof.to_str() {
                Ok(text)
                    if !text.is_empty() && text.len() <= clientcreds_jwt::dpop::MAX_PROOF_LEN =>
                {
                    request.dpop_proof = Some(DpopProof::new(text));
                }
                _ => {
                    return reject(
                        TokenErrorCode::InvalidDpopProof,
                        "the DPoP header is malformed",
                        false,
                    );
                }
            },
            (Some(_), Some(_)) => {
                return reject(
                    TokenErrorCode::InvalidDpopProof,
                    "send one DPoP header",
                    false,
                );
            }
        }
        let mut seen: Vec<Text> = Vec::with_capacity(pairs.len());
        let (mut body_id, mut body_secret) = (None, None);
        let (mut assertion_type, mut assertion) = (None, None);
        for (name, mut value) in pairs {
            if !REPEATABLE.contains(&name.as_str()) && seen.contains(&name) {
                return reject(
                    TokenErrorCode::InvalidRequest,
                    "a parameter is repeated",
                    false,
                );
            }
            self.limits
                .check(Limits::field_of(&name), value.len())
                .map_err(over)?;
            // RFC 6749 §3.2: a parameter without a value is as if omitted.
            if !value.is_empty() {
                // Secrets move out of their zeroizing buffer, never copied.
                let take = |value: &mut Text| std::mem::take(&mut **value);
                match name.as_str() {
                    "grant_type" => request.grant_type = Some(take(&mut value)),
                    "scope" => request.scope = Some(take(&mut value)),
                    "audience" => request.audience = Some(take(&mut value)),
                    "resource" => request.resources.push(take(&mut value)),
                    "client_id" => body_id = Some(take(&mut value)),
                    "client_secret" => body_secret = Some(Secret::new(take(&mut value))),
                    "client_assertion_type" => assertion_type = Some(take(&mut value)),
                    "client_assertion" => assertion = Some(take(&mut value)),
                    other_name => other(other_name, &mut value),
                }
            }
            seen.push(name);
        }
        if assertion_type.is_some() || assertion.is_some() {
            // RFC 7521 §4.2 and RFC 6749 §2.3: one method per request, and
            // a malformed one is `invalid_request`.
            if assertion_type.as_deref() != Some(JWT_BEARER_ASSERTION_TYPE) {
                return reject(
                    TokenErrorCode::InvalidRequest,
                    "client_assertion_type must be urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
                    false,
                );
            }
            let Some(assertion) = assertion else {
                return reject(
                    TokenErrorCode::InvalidRequest,
                    "client_assertion is missing",
                    false,
                );
            };
            if basic.is_some() || body_secret.is_some() {
                return reject(
                    TokenErrorCode::InvalidRequest,
                    "use one client authentication method: a client_assertion goes without a secret",
                    false,
                );
            }
            request.assertion = Some(ClientAssertion::new(body_id, assertion));
            return Ok(ParsedTokenRequest {
                request,
                auth: ClientAuthMethod::Assertion,
            });
        }
        match (basic, body_id, body_secret) {
            (Some(_), _, Some(_)) => reject(
                TokenErrorCode::InvalidRequest,
                "client credentials sent both in the header and the body",
                false,
            ),
            (Some(creds), Some(id), None) if id != creds.client_id => reject(
                TokenErrorCode::InvalidRequest,
                "client_id differs from the authenticated client",
                false,
            ),
            (Some(creds), _, None) => {
                request.credentials = Some(creds);
                Ok(ParsedTokenRequest {
                    request,
                    auth: ClientAuthMethod::Basic,
                })
            }
            (None, Some(client_id), Some(client_secret)) => {
                request.credentials = Some(ClientCredentials {
                    client_id,
                    client_secret,
                });
                Ok(ParsedTokenRequest {
                    request,
                    auth: ClientAuthMethod::Post,
                })
            }
            (None, _, _) => Ok(ParsedTokenRequest {
                request,
                auth: ClientAuthMethod::None,
            }),
        }
    }

    /// HTTP Basic credentials, each part form-decoded (RFC 6749 §2.3.1).
    fn basic_credentials(
        &self,
        headers: &HeaderMap,
    ) -> Result<Option<ClientCredentials>, RejectedTokenRequest> {
        let mut values = headers.get_all(AUTHORIZATION).iter();
        let value = match (values.next(), values.next()) {
            (None, _) => return Ok(None),
            (Some(one), None) => one,
            (Some(_), Some(_)) => {
                return Err(RejectedTokenRequest {
                    error: TokenError {
                        code: TokenErrorCode::InvalidRequest,
                        description: "more than one Authorization header",
                    },
                    auth: ClientAuthMethod::None,
                    too_large: false,
                    limit: None,
                });
            }
        };
        let bad = || RejectedTokenRequest {
            error: TokenError {
                code: TokenErrorCode::InvalidClient,
                description: "malformed Basic credentials",
            },
            auth: ClientAuthMethod::Basic,
            too_large: false,
            limit: None,
        };
        let over = |limit: LimitExceeded| RejectedTokenRequest {
            error: TokenError {
                code: TokenErrorCode::InvalidRequest,
                description: limit.field.too_long(),
            },
            auth: ClientAuthMethod::Basic,
            too_large: false,
            limit: Some(limit),
        };
        self.limits
            .check(Field::Authorization, value.len())
            .map_err(over)?;
        let text = value.to_str().map_err(|_| bad())?;
        let (scheme, rest) = text.split_once(' ').ok_or_else(bad)?;
        if !scheme.eq_ignore_ascii_case("basic") {
            return Err(RejectedTokenRequest {
                error: TokenError {
                    code: TokenErrorCode::InvalidClient,
                    description: "unsupported authentication scheme",
                },
                // It tried the Authorization header: RFC 6749 §5.2 wants a 401.
                auth: ClientAuthMethod::Basic,
                too_large: false,
                limit: None,
            });
        }
        // Every buffer that holds the secret is zeroizing, on every path.
        let decoded = Zeroizing::new(STANDARD.decode(rest.trim()).map_err(|_| bad())?);
        let decoded = form::into_text(decoded).ok_or_else(bad)?;
        let (id, secret) = decoded.split_once(':').ok_or_else(bad)?;
        let mut client_id = form::decode_component(id).map_err(|_| bad())?;
        let mut client_secret = form::decode_component(secret).map_err(|_| bad())?;
        if client_id.is_empty() {
            return Err(bad());
        }
        self.limits
            .check(Field::ClientId, client_id.len())
            .map_err(over)?;
        self.limits
            .check(Field::ClientSecret, client_secret.len())
            .map_err(over)?;
        Ok(Some(ClientCredentials {
            client_id: std::mem::take(&mut *client_id),
            client_secret: Secret::new(std::mem::take(&mut *client_secret)),
        }))
    }
}

/// The 200 response for a token (RFC 6749 §5.1), with `no-store`.
#[must_use]
pub fn token_response(response: &TokenResponse) -> Response<String> {
    json_response(StatusCode::OK, response.to_json())
}

/// The error response (RFC 6749 §5.2): 400; 401 for `invalid_client`
/// however the client sent its credentials (header or body: product B's
/// body-credential callers expect 401 too), always with a
/// `WWW-Authenticate: Basic` challenge (RFC 9110 §15.5.2: every 401
/// carries one); 429 with `Retry-After` for `slow_down`; 500 for
/// `server_error`.
#[must_use]
pub fn token_error_response(
    error: &TokenError,
    _auth: ClientAuthMethod,
    realm: &str,
) -> Response<String> {
    let status = match error.code {
        TokenErrorCode::InvalidClient => StatusCode::UNAUTHORIZED,
        TokenErrorCode::SlowDown { .. } => StatusCode::TOO_MANY_REQUESTS,
        TokenErrorCode::ServerError => StatusCode::INTERNAL_SERVER_ERROR,
        _ => StatusCode::BAD_REQUEST,
    };
    let mut response = json_response(status, error.to_json());
    if status == StatusCode::UNAUTHORIZED
        && let Ok(challenge) =
            HeaderValue::from_str(&format!("Basic realm=\"{}\"", quote_safe(realm)))
    {
        response.headers_mut().insert(WWW_AUTHENTICATE, challenge);
    }
    if let TokenErrorCode::SlowDown { retry_after_secs } = error.code {
        response
            .headers_mut()
            .insert(RETRY_AFTER, HeaderValue::from(retry_after_secs));
    }
    response
}

/// The response for a rejected request: as [`token_error_response`], or 413
/// for an oversized body.
#[must_use]
pub fn rejected_response(rejected: &RejectedTokenRequest, realm: &str) -> Response<String> {
    let mut response = token_error_response(&rejected.error, rejected.auth, realm);
    if rejected.too_large {
        *response.status_mut() = StatusCode::PAYLOAD_TOO_LARGE;
    }
    response
}

/// A JSON response with `Cache-Control: no-store` and `Pragma: no-cache`,
/// as every token-bearing answer (token, error, introspection) needs.
#[must_use]
pub fn json_response(status: StatusCode, body: String) -> Response<String> {
    let mut response = Response::new(body);
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(PRAGMA, HeaderValue::from_static("no-cache"));
    response
}

/// Drops characters that cannot appear inside a quoted header parameter.
pub(crate) fn quote_safe(text: &str) -> String {
    text.chars()
        .filter(|c| *c != '"' && *c != '\\' && (' '..='~').contains(c))
        .collect()
}
