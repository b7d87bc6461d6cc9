//! RFC 8414 metadata and RFC 7662 introspection responses.

use clientcreds_jwt::AccessContext;
use serde::Serialize;

/// The authorization server metadata document (RFC 8414 §2), served at
/// `/.well-known/oauth-authorization-server`.
///
/// ```
/// let metadata = clientcreds_http::AuthorizationServerMetadata::new("https://auth.example.com");
/// let json = serde_json::to_value(&metadata).unwrap();
/// assert_eq!(json["token_endpoint"], "https://auth.example.com/oauth/token");
/// assert_eq!(json["grant_types_supported"], serde_json::json!(["client_credentials"]));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct AuthorizationServerMetadata {
    /// `issuer`.
    pub issuer: String,
    /// `token_endpoint`.
    pub token_endpoint: String,
    /// `jwks_uri`.
    pub jwks_uri: String,
    /// `introspection_endpoint`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub introspection_endpoint: Option<String>,
    /// `grant_types_supported`: `client_credentials`.
    pub grant_types_supported: Vec<String>,
    /// `response_types_supported`: none (no authorization endpoint).
    pub response_types_supported: Vec<String>,
    /// `token_endpoint_auth_methods_supported`.
    pub token_endpoint_auth_methods_supported: Vec<String>,
    /// `token_endpoint_auth_signing_alg_values_supported`: the client
    /// assertion algorithms, when assertions are accepted.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token_endpoint_auth_signing_alg_values_supported: Option<Vec<String>>,
    /// `dpop_signing_alg_values_supported` (RFC 9449 §5.1), when the token
    /// endpoint accepts DPoP proofs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dpop_signing_alg_values_supported: Option<Vec<String>>,
    /// `introspection_endpoint_auth_methods_supported`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub introspection_endpoint_auth_methods_supported: Option<Vec<String>>,
    /// `scopes_supported`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scopes_supported: Option<Vec<String>>,
}

impl AuthorizationServerMetadata {
    /// Metadata with the conventional paths under `issuer`:
    /// `/oauth/token`, `/.well-known/jwks.json`, `/oauth/introspect`.
    #[must_use]
    pub fn new(issuer: &str) -> Self {
        let base = issuer.trim_end_matches('/');
        let methods = vec![
            "client_secret_basic".to_owned(),
            "client_secret_post".to_owned(),
        ];
        Self {
            issuer: issuer.to_owned(),
            token_endpoint: format!("{base}/oauth/token"),
            jwks_uri: format!("{base}/.well-known/jwks.json"),
            introspection_endpoint: Some(format!("{base}/oauth/introspect")),
            grant_types_supported: vec!["client_credentials".to_owned()],
            response_types_supported: Vec::new(),
            token_endpoint_auth_methods_supported: methods.clone(),
            token_endpoint_auth_signing_alg_values_supported: None,
            dpop_signing_alg_values_supported: None,
            introspection_endpoint_auth_methods_supported: Some(methods),
            scopes_supported: None,
        }
    }

    /// Announces DPoP proofs (RFC 9449) signed with `algorithms`; `EdDSA`
    /// is announced under its RFC 9864 name `Ed25519` as well.
    #[must_use]
    pub fn with_dpop(mut self, algorithms: &[clientcreds_jwt::Algorithm]) -> Self {
        self.dpop_signing_alg_values_supported = Some(algorithm_names(algorithms));
        self
    }

    /// Announces client assertions (`private_key_jwt`, RFC 7523) signed
    /// with `algorithms` at the token endpoint; `EdDSA` is announced under
    /// its RFC 9864 name `Ed25519` as well.
    ///
    /// ```
    /// use clientcreds_jwt::Algorithm;
    /// let metadata = clientcreds_http::AuthorizationServerMetadata::new("https://auth.example.com")
    ///     .with_client_assertions(&[Algorithm::EdDSA, Algorithm::ES256]);
    /// let json = serde_json::to_value(&metadata).unwrap();
    /// assert_eq!(json["token_endpoint_auth_methods_supported"][2], "private_key_jwt");
    /// assert_eq!(
    ///     json["token_endpoint_auth_signing_alg_values_supported"],
    ///     serde_json::json!(["EdDSA", "Ed25519", "ES256"]),
    /// );
    /// ```
    #[must_use]
    pub fn with_client_assertions(mut self, algorithms: &[clientcreds_jwt::Algorithm]) -> Self {
        if !self
            .token_endpoint_auth_methods_supported
            .iter()
            .any(|m| m == "private_key_jwt")
        {
            self.token_endpoint_auth_methods_supported
                .push("private_key_jwt".to_owned());
        }
        self.token_endpoint_auth_signing_alg_values_supported = Some(algorithm_names(algorithms));
        self
    }
}

/// The names of asymmetric `algorithms`, with `Ed25519` beside `EdDSA`.
fn algorithm_names(algorithms: &[clientcreds_jwt::Algorithm]) -> Vec<String> {
    let mut names = Vec::new();
    for algorithm in algorithms.iter().filter(|a| !a.is_symmetric()) {
        names.push(algorithm.name().to_owned());
        if *algorithm == clientcreds_jwt::Algorithm::EdDSA {
            names.push("Ed25519".to_owned());
        }
    }
    names
}

/// The RFC 7662 §2.2 introspection response: the token's claims when it is
/// active, `{"active": false}` otherwise (whatever the reason).
///
/// ```
/// assert_eq!(clientcreds_http::introspection_response(None, "iss").to_string(), r#"{"active":false}"#);
/// ```
#[must_use]
pub fn introspection_response(context: Option<&AccessContext>, issuer: &str) -> serde_json::Value {
    let Some(context) = context else {
        return serde_json::json!({ "active": false });
    };
    let mut body = serde_json::json!({
        "active": true,
        "scope": context.scopes.join(" "),
        "client_id": context.client_id,
        // RFC 9449 §6.2: a bound token introspects as DPoP, with its `cnf`.
        "token_type": if context.extra.get("cnf").and_then(|c| c.get("jkt")).is_some() { "DPoP" } else { "Bearer" },
        "exp": context.expires_at.unix_timestamp(),
        "iat": context.issued_at.unix_timestamp(),
        "sub": context.subject,
        "aud": context.audience,
        "iss": issuer,
        "jti": context.jti,
        "tenant": context.tenant,
    });
    if let (Some(map), false) = (body.as_object_mut(), context.extra.is_empty()) {
        for (name, value) in &context.extra {
            map.entry(name.clone()).or_insert_with(|| value.clone());
        }
    }
    body
}
