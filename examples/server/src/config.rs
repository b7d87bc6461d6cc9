//! The server's settings, from the environment or built by hand (tests).

use std::fmt;
use std::net::SocketAddr;
use std::sync::Arc;

use clientcreds_axum::{ForwardedHeader, TrustedProxies};
use clientcreds_jwt::Algorithm;
use clientcreds_registry::KeyRotationPolicy;
use clientcreds_secret::MasterKeys;
use clientcreds_store::TenantId;
use time::Duration;
use zeroize::Zeroizing;

/// The variable that holds the master keys.
pub const MASTER_KEYS_VAR: &str = "CLIENTCREDS_MASTER_KEYS";
/// The variable that names a file holding the master keys (preferred: the
/// text then never sits in the process environment).
pub const MASTER_KEYS_FILE_VAR: &str = "CLIENTCREDS_MASTER_KEYS_FILE";

/// The variable that names the proxies whose forwarding header is believed.
pub const TRUSTED_PROXIES_VAR: &str = "CLIENTCREDS_TRUSTED_PROXIES";
/// The variable that names the header those proxies write.
pub const FORWARDED_HEADER_VAR: &str = "CLIENTCREDS_FORWARDED_HEADER";
/// The shortest admin token accepted (32 characters): admin tokens are
/// presented online, so they must be too long to guess.
pub const MIN_ADMIN_TOKEN_CHARS: usize = 32;

/// Settings. `Debug` shows no token and no key.
#[derive(Clone)]
pub struct Config {
    /// Listen address (`CLIENTCREDS_ADDR`, default `127.0.0.1:8080`).
    pub addr: SocketAddr,
    /// `iss` (`CLIENTCREDS_ISSUER`, default `http://<addr>`).
    pub issuer: String,
    /// Audience of the demo API (`CLIENTCREDS_AUDIENCE`, default `<issuer>/api/v1`).
    pub audience: String,
    /// Platform admin token (`CLIENTCREDS_ROOT_TOKEN`).
    pub root_token: Option<Zeroizing<String>>,
    /// Tenant admins: `(tenant, token)` (`CLIENTCREDS_TENANT_ADMINS="t1:tok1,t2:tok2"`).
    /// Every admin token has at least [`MIN_ADMIN_TOKEN_CHARS`] characters,
    /// or the server refuses to start.
    pub tenant_admins: Vec<(TenantId, Zeroizing<String>)>,
    /// The proxies whose forwarding header gives the caller's address to
    /// the failure throttles of the token endpoint and the admin API
    /// (`CLIENTCREDS_TRUSTED_PROXIES="10.0.0.0/8,127.0.0.1"`: addresses
    /// and CIDR networks), and the header they write
    /// (`CLIENTCREDS_FORWARDED_HEADER`: `x-forwarded-for`, the default, or
    /// `forwarded`). Unset: the TCP peer is the caller, and a loopback peer
    /// is a shared source that is not throttled per source.
    pub trusted_proxies: TrustedProxies,
    /// The master keys (`CLIENTCREDS_MASTER_KEYS`, or the file
    /// `CLIENTCREDS_MASTER_KEYS_FILE` names), parsed at once. Required with
    /// a database; without one, an ephemeral key is made (nothing survives
    /// a restart, and the server says so).
    pub master_keys: Option<Arc<MasterKeys>>,
    /// `DATABASE_URL`: `postgres://…` or `sqlite://…`; absent = in memory.
    pub database_url: Option<String>,
    /// Signing key rotation: `CLIENTCREDS_KEY_ROTATE_EVERY` (default 30d),
    /// `CLIENTCREDS_KEY_PUBLISH_LEAD` (24h), `CLIENTCREDS_KEY_REFRESH`
    /// (60s), `CLIENTCREDS_JWKS_MAX_AGE` (15m), and the algorithm of new
    /// keys, `CLIENTCREDS_KEY_ALGORITHM` (`EdDSA`; or `ES256`, `ES384`,
    /// `RS256`, `PS256`); durations like `90s`,
    /// `15m`, `24h`, `30d`, `500ms`.
    pub key_rotation: KeyRotationPolicy,
    /// How often expiry warnings run (`CLIENTCREDS_WARNING_INTERVAL`,
    /// default 15m).
    pub warning_interval: Duration,
    /// SMTP server for expiry warnings (`CLIENTCREDS_SMTP_URL`, e.g.
    /// `smtp://user:pass@mail.example.com:587?tls=required`); without it,
    /// warnings are log lines.
    pub smtp_url: Option<Zeroizing<String>>,
    /// Sender of expiry warnings (`CLIENTCREDS_SMTP_FROM`, default
    /// `clientcreds <no-reply@localhost>`).
    pub smtp_from: String,
    /// The action link in warnings (`CLIENTCREDS_WARNING_LINK`, default
    /// the client's console page,
    /// `{issuer}/console/t/{tenant}/clients/{client_id}`).
    pub warning_link: String,
    /// Language of warnings (`CLIENTCREDS_WARNING_LOCALE`, default `en`).
    pub warning_locale: String,
    /// E-mail domains warnings may be sent to
    /// (`CLIENTCREDS_WARNING_DOMAINS="example.com,example.org"`); required
    /// with `CLIENTCREDS_SMTP_URL`.
    pub warning_domains: Vec<String>,
    /// Tenants whose warnings may go to other domains than
    /// `warning_domains`
    /// (`CLIENTCREDS_WARNING_TENANT_DOMAINS="acme=acme.com,acme.org;globex=globex.com"`):
    /// each listed tenant's warnings go to its own domains only.
    pub warning_tenant_domains: Vec<(String, Vec<String>)>,
    /// Token requests must name a `scope` (`CLIENTCREDS_REQUIRE_SCOPE=true`,
    /// default `false`; product B).
    pub require_scope: bool,
    /// How long the authentication cache trusts an entry on a database
    /// (`CLIENTCREDS_AUTH_CACHE_TTL`, default 5s; `0s` turns the cache
    /// off). On PostgreSQL, notifications invalidate entries at once; the
    /// TTL bounds staleness if they are lost.
    pub auth_cache_ttl: Duration,
    /// Bytes of memory the authentication cache may spend
    /// (`CLIENTCREDS_AUTH_CACHE_BYTES`, default 67108864: 64 MiB).
    pub auth_cache_bytes: usize,
    /// Activity older than this is pruned (`CLIENTCREDS_ACTIVITY_RETENTION`,
    /// default 30d).
    pub activity_retention: Duration,
    /// Activity counts (tokens issued and refused per client, secret,
    /// source and minute) older than this are pruned
    /// (`CLIENTCREDS_ACTIVITY_COUNT_RETENTION`, default 90d).
    pub count_retention: Duration,
    /// Audit records older than this are pruned
    /// (`CLIENTCREDS_AUDIT_RETENTION`; default: kept for good).
    pub audit_retention: Option<Duration>,
    /// How often retention runs (`CLIENTCREDS_RETENTION_INTERVAL`, default 1h).
    pub retention_interval: Duration,
    /// External issuers federated credentials may name
    /// (`CLIENTCREDS_FEDERATED_ISSUERS="https://k8s.example,https://token.actions.githubusercontent.com"`;
    /// default none).
    pub federated_issuers: Vec<String>,
    /// Accept the token endpoint's URL as a client assertion's `aud`
    /// besides the issuer (`CLIENTCREDS_ASSERTION_TOKEN_ENDPOINT_AUD=true`,
    /// default `false`).
    pub assertion_token_endpoint_aud: bool,
    /// Fetch `jwks_uri` and federated issuers over plain `http` on
    /// loopback (`CLIENTCREDS_DANGER_LOOPBACK_HTTP=true`, default `false`;
    /// for tests only).
    pub danger_loopback_http: bool,
    /// DPoP (RFC 9449) at the token endpoint (`CLIENTCREDS_DPOP`, default
    /// `true`): a request with a proof gets a bound token.
    pub dpop: bool,
    /// Every client must use DPoP (`CLIENTCREDS_DPOP_REQUIRED`, default
    /// `false`; per client: `dpop_bound_access_tokens`).
    pub dpop_required: bool,
    /// Server nonces for DPoP proofs (`CLIENTCREDS_DPOP_NONCES`, default
    /// `false`), derived from the master keys so every replica accepts
    /// every other's.
    pub dpop_nonces: bool,
    /// Serving threads (`CLIENTCREDS_SERVE_THREADS`, default: the cores
    /// available, at most [`MAX_SERVE_THREADS`]): each runs its own
    /// single-threaded runtime, and one accepting loop hands them new
    /// connections in turn (`Server::serve`). A request answered from
    /// memory wakes no other thread: about 10 % more tokens per second
    /// than one work-stealing runtime (docs/PERFORMANCE.md). A connection
    /// stays on its thread until it closes.
    pub serve_threads: usize,
}

/// The most serving threads [`Config::serve_threads`] accepts.
pub const MAX_SERVE_THREADS: usize = 256;

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config")
            .field("addr", &self.addr)
            .field("issuer", &self.issuer)
            .field("audience", &self.audience)
            .field(
                "root_token",
                &self.root_token.as_ref().map(|_| "[redacted]"),
            )
            .field(
                "tenant_admins",
                &self
                    .tenant_admins
                    .iter()
                    .map(|(t, _)| t)
                    .collect::<Vec<_>>(),
            )
            .field("trusted_proxies", &self.trusted_proxies)
            .field("master_keys", &self.master_keys)
            .field("key_rotation", &self.key_rotation)
            .field("warning_interval", &self.warning_interval)
            .field("smtp_url", &self.smtp_url.as_ref().map(|_| "[redacted]"))
            .field("auth_cache_ttl", &self.auth_cache_ttl)
            .field("activity_retention", &self.activity_retention)
            .field("count_retention", &self.count_retention)
            .field("serve_threads", &self.serve_threads)
            .field("audit_retention", &self.audit_retention)
            .finish_non_exhaustive()
    }
}

impl Config {
    /// Reads the environment.
    ///
    /// # Errors
    /// A message naming the variable that is wrong and how to fix it.
    pub fn from_env() -> Result<Self, String> {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
        let addr: SocketAddr = var("CLIENTCREDS_ADDR")
            .unwrap_or_else(|| "127.0.0.1:8080".into())
            .parse()
            .map_err(|e| format!("CLIENTCREDS_ADDR: {e}"))?;
        let mut config = Self::for_addr(addr);
        if let Some(issuer) = var("CLIENTCREDS_ISSUER") {
            config.audience = format!("{}/api/v1", issuer.trim_end_matches('/'));
            config.issuer = issuer;
        }
        if let Some(audience) = var("CLIENTCREDS_AUDIENCE") {
            config.audience = audience;
        }
        config.root_token = var("CLIENTCREDS_ROOT_TOKEN").map(Zeroizing::new);
        config.database_url = var("DATABASE_URL");
        if let Some(list) = var("CLIENTCREDS_TENANT_ADMINS").map(Zeroizing::new) {
            for entry in list.split(',').filter(|e| !e.trim().is_empty()) {
                let (tenant, token) = entry
                    .trim()
                    .split_once(':')
                    .ok_or("CLIENTCREDS_TENANT_ADMINS: expected tenant:token")?;
                let tenant =
                    TenantId::new(tenant).map_err(|e| format!("CLIENTCREDS_TENANT_ADMINS: {e}"))?;
                config
                    .tenant_admins
                    .push((tenant, Zeroizing::new(token.to_owned())));
            }
        }
        config.trusted_proxies = trusted_proxies(
            var(TRUSTED_PROXIES_VAR).as_deref(),
            var(FORWARDED_HEADER_VAR).as_deref(),
        )?;
        let master_text = match (var(MASTER_KEYS_VAR), var(MASTER_KEYS_FILE_VAR)) {
            (Some(_), Some(_)) => {
                return Err(format!(
                    "set {MASTER_KEYS_VAR} or {MASTER_KEYS_FILE_VAR}, not both"
                ));
            }
            (Some(text), None) => Some(Zeroizing::new(text)),
            (None, Some(path)) => Some(Zeroizing::new(
                std::fs::read_to_string(&path)
                    .map_err(|e| format!("{MASTER_KEYS_FILE_VAR}: cannot read {path}: {e}"))?,
            )),
            (None, None) => None,
        };
        if let Some(text) = master_text {
            config.master_keys = Some(Arc::new(MasterKeys::parse(&text).map_err(|e| {
                format!(
                    "{MASTER_KEYS_VAR}: {e}. Expected `id:base64url[,id:base64url…]`, \
                     current key first; `clientcreds-server generate-master-key` prints a fresh entry"
                )
            })?));
        }
        let duration = |name: &str, default: Duration| -> Result<Duration, String> {
            var(name).map_or(Ok(default), |text| {
                parse_duration(&text).ok_or_else(|| {
                    format!("{name}: `{text}` is not a duration like 500ms, 90s, 15m, 24h or 30d")
                })
            })
        };
        let policy = config.key_rotation.clone();
        config.key_rotation = policy
            .clone()
            .with_rotate_every(duration(
                "CLIENTCREDS_KEY_ROTATE_EVERY",
                policy.rotate_every,
            )?)
            .with_publish_lead(duration(
                "CLIENTCREDS_KEY_PUBLISH_LEAD",
                policy.publish_lead,
            )?)
            .with_refresh_every(duration("CLIENTCREDS_KEY_REFRESH", policy.refresh_every)?)
            .with_jwks_max_age(duration("CLIENTCREDS_JWKS_MAX_AGE", policy.jwks_max_age)?)
            .with_algorithm(key_algorithm(
                var("CLIENTCREDS_KEY_ALGORITHM").as_deref(),
                policy.algorithm,
            )?);
        config.warning_interval =
            duration("CLIENTCREDS_WARNING_INTERVAL", config.warning_interval)?;
        if !config.warning_interval.is_positive() {
            return Err("CLIENTCREDS_WARNING_INTERVAL must be positive".into());
        }
        config.smtp_url = var("CLIENTCREDS_SMTP_URL").map(Zeroizing::new);
        if let Some(from) = var("CLIENTCREDS_SMTP_FROM") {
            config.smtp_from = from;
        }
        if let Some(link) = var("CLIENTCREDS_WARNING_LINK") {
            config.warning_link = link;
        }
        if let Some(domains) = var("CLIENTCREDS_WARNING_DOMAINS") {
            config.warning_domains = domains
                .split(',')
                .map(|d| d.trim().to_ascii_lowercase())
                .filter(|d| !d.is_empty())
                .collect();
        }
        if let Some(tenants) = var("CLIENTCREDS_WARNING_TENANT_DOMAINS") {
            config.warning_tenant_domains = tenant_domains(&tenants)?;
        }
        if let Some(locale) = var("CLIENTCREDS_WARNING_LOCALE") {
            config.warning_locale = locale;
        }
        let flag = |name: &str, default: bool| -> Result<bool, String> {
            match var(name) {
                None => Ok(default),
                Some(flag) => match flag.to_ascii_lowercase().as_str() {
                    "true" | "1" | "yes" => Ok(true),
                    "false" | "0" | "no" => Ok(false),
                    _ => Err(format!("{name}: `{flag}` is not true or false")),
                },
            }
        };
        config.require_scope = flag("CLIENTCREDS_REQUIRE_SCOPE", false)?;
        config.assertion_token_endpoint_aud =
            flag("CLIENTCREDS_ASSERTION_TOKEN_ENDPOINT_AUD", false)?;
        config.danger_loopback_http = flag("CLIENTCREDS_DANGER_LOOPBACK_HTTP", false)?;
        config.dpop = flag("CLIENTCREDS_DPOP", true)?;
        config.dpop_required = flag("CLIENTCREDS_DPOP_REQUIRED", false)?;
        config.dpop_nonces = flag("CLIENTCREDS_DPOP_NONCES", false)?;
        if (config.dpop_required || config.dpop_nonces) && !config.dpop {
            return Err(
                "CLIENTCREDS_DPOP_REQUIRED and CLIENTCREDS_DPOP_NONCES need CLIENTCREDS_DPOP=true"
                    .into(),
            );
        }
        if let Some(list) = var("CLIENTCREDS_FEDERATED_ISSUERS") {
            config.federated_issuers = list
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect();
        }
        config.serve_threads = serve_threads(
            var("CLIENTCREDS_SERVE_THREADS").as_deref(),
            config.serve_threads,
        )?;
        config.auth_cache_ttl = duration("CLIENTCREDS_AUTH_CACHE_TTL", config.auth_cache_ttl)?;
        if var("CLIENTCREDS_AUTH_CACHE_SIZE").is_some() {
            return Err("CLIENTCREDS_AUTH_CACHE_SIZE (entries) is replaced by CLIENTCREDS_AUTH_CACHE_BYTES (memory)".into());
        }
        if let Some(bytes) = var("CLIENTCREDS_AUTH_CACHE_BYTES") {
            config.auth_cache_bytes = bytes.parse().map_err(|_| {
                format!("CLIENTCREDS_AUTH_CACHE_BYTES: `{bytes}` is not a number of bytes")
            })?;
        }
        config.activity_retention =
            duration("CLIENTCREDS_ACTIVITY_RETENTION", config.activity_retention)?;
        config.count_retention = duration(
            "CLIENTCREDS_ACTIVITY_COUNT_RETENTION",
            config.count_retention,
        )?;
        if let Some(text) = var("CLIENTCREDS_AUDIT_RETENTION") {
            config.audit_retention = Some(parse_duration(&text).ok_or_else(|| {
                format!("CLIENTCREDS_AUDIT_RETENTION: `{text}` is not a duration like 90d")
            })?);
        }
        config.retention_interval =
            duration("CLIENTCREDS_RETENTION_INTERVAL", config.retention_interval)?;
        if !config.retention_interval.is_positive() {
            return Err("CLIENTCREDS_RETENTION_INTERVAL must be positive".into());
        }
        config.key_rotation.validate().map_err(|e| {
            format!(
                "{e} (CLIENTCREDS_KEY_ROTATE_EVERY, CLIENTCREDS_KEY_PUBLISH_LEAD, \
                 CLIENTCREDS_KEY_REFRESH, CLIENTCREDS_JWKS_MAX_AGE)"
            )
        })?;
        Ok(config)
    }

    /// Defaults for a listen address: in memory, no admins, an ephemeral
    /// master key made at start, the default key rotation.
    #[must_use]
    pub fn for_addr(addr: SocketAddr) -> Self {
        let issuer = format!("http://{addr}");
        Self {
            addr,
            audience: format!("{issuer}/api/v1"),
            issuer,
            root_token: None,
            tenant_admins: Vec::new(),
            trusted_proxies: TrustedProxies::none(),
            master_keys: None,
            database_url: None,
            key_rotation: KeyRotationPolicy::default(),
            warning_interval: Duration::minutes(15),
            smtp_url: None,
            smtp_from: "clientcreds <no-reply@localhost>".to_owned(),
            warning_link: clientcreds_console::warning_link("{issuer}/console"),
            warning_locale: "en".to_owned(),
            warning_domains: Vec::new(),
            warning_tenant_domains: Vec::new(),
            require_scope: false,
            auth_cache_ttl: Duration::seconds(5),
            auth_cache_bytes: clientcreds_store::DEFAULT_MAX_BYTES,
            activity_retention: clientcreds_registry::DEFAULT_ACTIVITY_RETENTION,
            count_retention: clientcreds_registry::DEFAULT_COUNT_RETENTION,
            audit_retention: None,
            retention_interval: Duration::hours(1),
            federated_issuers: Vec::new(),
            assertion_token_endpoint_aud: false,
            danger_loopback_http: false,
            dpop: true,
            dpop_required: false,
            dpop_nonces: false,
            serve_threads: std::thread::available_parallelism()
                .map_or(1, std::num::NonZeroUsize::get)
                .min(MAX_SERVE_THREADS),
        }
    }
}

impl Config {
    /// Refuses admin tokens shorter than [`MIN_ADMIN_TOKEN_CHARS`], naming
    /// the variable (and the tenant), never the token.
    ///
    /// # Errors
    /// What is too short and how to make a good token.
    pub fn check_admin_tokens(&self) -> Result<(), String> {
        let advice = format!(
            "admin tokens are presented online and must have at least {MIN_ADMIN_TOKEN_CHARS} \
             characters; make one with `openssl rand -base64 32`"
        );
        if let Some(root) = &self.root_token {
            let chars = root.chars().count();
            if chars < MIN_ADMIN_TOKEN_CHARS {
                return Err(format!(
                    "CLIENTCREDS_ROOT_TOKEN has {chars} characters: {advice}"
                ));
            }
        }
        for (tenant, token) in &self.tenant_admins {
            let chars = token.chars().count();
            if chars < MIN_ADMIN_TOKEN_CHARS {
                return Err(format!(
                    "CLIENTCREDS_TENANT_ADMINS: the token of tenant `{tenant}` has {chars} \
                     characters: {advice}"
                ));
            }
        }
        Ok(())
    }

    /// The start-up warning when the failure throttle cannot tell callers
    /// apart: the server listens on a loopback address (so callers reach it
    /// through a local proxy) and no proxy is trusted. `None` otherwise.
    #[must_use]
    pub fn proxy_warning(&self) -> Option<String> {
        if !self.trusted_proxies.is_empty() || !self.addr.ip().is_loopback() {
            return None;
        }
        Some(format!(
            "{TRUSTED_PROXIES_VAR} is not set and the server listens on the loopback address \
             {addr}: its callers come through a local proxy, which the failure throttle cannot \
             see past, so it will not count failures per source (only per client id and \
             source, with recent successes exempt). Set {TRUSTED_PROXIES_VAR} to your proxies' \
             addresses or networks (e.g. `127.0.0.1,::1`) and {FORWARDED_HEADER_VAR} to the \
             header they write (`x-forwarded-for`, the default, or `forwarded`)",
            addr = self.addr
        ))
    }
}

/// [`TrustedProxies`] from `CLIENTCREDS_TRUSTED_PROXIES` and
/// `CLIENTCREDS_FORWARDED_HEADER`.
fn trusted_proxies(list: Option<&str>, header: Option<&str>) -> Result<TrustedProxies, String> {
    let proxies = list
        .map_or(Ok(TrustedProxies::none()), TrustedProxies::parse)
        .map_err(|e| format!("{TRUSTED_PROXIES_VAR}: {e}"))?;
    let Some(header) = header else {
        return Ok(proxies);
    };
    let header: ForwardedHeader = header
        .parse()
        .map_err(|e| format!("{FORWARDED_HEADER_VAR}: {e}"))?;
    if proxies.is_empty() {
        return Err(format!(
            "{FORWARDED_HEADER_VAR} is set but {TRUSTED_PROXIES_VAR} is not: name the proxies \
             whose {} header is to be believed",
            header.as_str()
        ));
    }
    Ok(proxies.with_header(header))
}

/// `acme=acme.com,acme.org;globex=globex.com`.
fn tenant_domains(text: &str) -> Result<Vec<(String, Vec<String>)>, String> {
    text.split(';')
        .map(str::trim)
        .filter(|entry| !entry.is_empty())
        .map(|entry| {
            let (tenant, domains) = entry.split_once('=').ok_or_else(|| {
                format!("CLIENTCREDS_WARNING_TENANT_DOMAINS: `{entry}` is not tenant=domain,...")
            })?;
            let domains: Vec<String> = domains
                .split(',')
                .map(|d| d.trim().to_ascii_lowercase())
                .filter(|d| !d.is_empty())
                .collect();
            if tenant.trim().is_empty() || domains.is_empty() {
                return Err(format!(
                    "CLIENTCREDS_WARNING_TENANT_DOMAINS: `{entry}` names no tenant or no domain"
                ));
            }
            Ok((tenant.trim().to_owned(), domains))
        })
        .collect()
}

/// `500ms`, `90s`, `15m`, `24h`, `30d`.
fn parse_duration(text: &str) -> Option<Duration> {
    let text = text.trim();
    let split = text.find(|c: char| !c.is_ascii_digit())?;
    let (number, unit) = text.split_at(split);
    let number: i64 = number.parse().ok()?;
    let seconds_per = match unit {
        "ms" => return Some(Duration::milliseconds(number)),
        "s" => 1,
        "m" => 60,
        "h" => 3_600,
        "d" => 86_400,
        _ => return None,
    };
    number.checked_mul(seconds_per).map(Duration::seconds)
}

/// `CLIENTCREDS_KEY_ALGORITHM`: the algorithm of new signing keys, by its
/// JOSE name; asymmetric only (a resource server verifies with the
/// published key). Unset, `default`.
fn key_algorithm(text: Option<&str>, default: Algorithm) -> Result<Algorithm, String> {
    let Some(text) = text else {
        return Ok(default);
    };
    match Algorithm::from_name(text.trim()) {
        Some(algorithm) if !algorithm.is_symmetric() => Ok(algorithm),
        _ => Err(format!(
            "CLIENTCREDS_KEY_ALGORITHM: `{text}` is not a signing algorithm for published keys: \
             use EdDSA (the default), ES256, ES384, RS256 or PS256"
        )),
    }
}

/// `CLIENTCREDS_SERVE_THREADS`: 1 to [`MAX_SERVE_THREADS`]; unset, `default`.
fn serve_threads(text: Option<&str>, default: usize) -> Result<usize, String> {
    let Some(text) = text else {
        return Ok(default);
    };
    text.trim()
        .parse()
        .ok()
        .filter(|n| (1..=MAX_SERVE_THREADS).contains(n))
        .ok_or_else(|| {
            format!(
                "CLIENTCREDS_SERVE_THREADS: `{text}` is not a number of threads from 1 to \
                 {MAX_SERVE_THREADS} (unset: one per core)"
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_algorithm_from_the_environment() {
        assert_eq!(key_algorithm(None, Algorithm::EdDSA), Ok(Algorithm::EdDSA));
        assert_eq!(
            key_algorithm(Some("ES256"), Algorithm::EdDSA),
            Ok(Algorithm::ES256)
        );
        assert_eq!(
            key_algorithm(Some("RS256"), Algorithm::EdDSA),
            Ok(Algorithm::RS256)
        );
        for bad in ["HS256", "none", "es256", "RSA"] {
            let error = key_algorithm(Some(bad), Algorithm::EdDSA).unwrap_err();
            assert!(
                error.contains("CLIENTCREDS_KEY_ALGORITHM") && error.contains("ES256"),
                "{error}"
            );
        }
    }

    #[test]
    fn serve_threads_from_the_environment() {
        assert_eq!(serve_threads(None, 6), Ok(6));
        assert_eq!(serve_threads(Some("3"), 6), Ok(3));
        assert_eq!(serve_threads(Some("256"), 6), Ok(256));
        for bad in ["0", "257", "-1", "two", ""] {
            let error = serve_threads(Some(bad), 6).unwrap_err();
            assert!(
                error.contains("CLIENTCREDS_SERVE_THREADS") && error.contains("1 to 256"),
                "{error}"
            );
        }
        let default = Config::for_addr("127.0.0.1:8080".parse().unwrap()).serve_threads;
        assert!((1..=MAX_SERVE_THREADS).contains(&default));
    }

    #[test]
    fn trusted_proxies_from_the_environment() {
        let proxies = trusted_proxies(Some("10.0.0.0/8, ::1"), None).unwrap();
        assert!(proxies.trusts("10.2.3.4".parse().unwrap()));
        assert_eq!(proxies.header(), ForwardedHeader::XForwardedFor);
        let proxies = trusted_proxies(Some("10.0.0.0/8"), Some("Forwarded")).unwrap();
        assert_eq!(proxies.header(), ForwardedHeader::Forwarded);
        assert!(trusted_proxies(None, None).unwrap().is_empty());
        for (list, header, says) in [
            (Some("10.0.0.0/33"), None, TRUSTED_PROXIES_VAR),
            (Some("proxy.internal"), None, "proxy.internal"),
            (Some("10.0.0.0/8"), Some("x-real-ip"), FORWARDED_HEADER_VAR),
            (None, Some("forwarded"), TRUSTED_PROXIES_VAR),
        ] {
            let error = trusted_proxies(list, header).unwrap_err();
            assert!(error.contains(says), "{error}");
        }
    }

    #[test]
    fn short_admin_tokens_are_refused_without_being_shown() {
        let mut config = Config::for_addr("127.0.0.1:8080".parse().unwrap());
        assert!(config.check_admin_tokens().is_ok());
        config.root_token = Some(Zeroizing::new("hunter2-hunter2".into()));
        let error = config.check_admin_tokens().unwrap_err();
        assert!(
            error.contains("CLIENTCREDS_ROOT_TOKEN") && error.contains("32"),
            "{error}"
        );
        assert!(!error.contains("hunter2"));
        config.root_token = Some(Zeroizing::new("r".repeat(MIN_ADMIN_TOKEN_CHARS)));
        assert!(config.check_admin_tokens().is_ok());
        config.tenant_admins = vec![(
            TenantId::new("acme").unwrap(),
            Zeroizing::new("acme-secret".into()),
        )];
        let error = config.check_admin_tokens().unwrap_err();
        assert!(
            error.contains("CLIENTCREDS_TENANT_ADMINS") && error.contains("`acme`"),
            "{error}"
        );
        assert!(!error.contains("acme-secret"));
    }

    #[test]
    fn a_loopback_listener_without_trusted_proxies_is_warned_about() {
        let mut config = Config::for_addr("127.0.0.1:8080".parse().unwrap());
        let warning = config.proxy_warning().unwrap();
        assert!(warning.contains(TRUSTED_PROXIES_VAR) && warning.contains("127.0.0.1,::1"));
        config.trusted_proxies = TrustedProxies::parse("127.0.0.1").unwrap();
        assert_eq!(config.proxy_warning(), None);
        let public = Config::for_addr("0.0.0.0:8080".parse().unwrap());
        assert_eq!(public.proxy_warning(), None);
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("500ms"), Some(Duration::milliseconds(500)));
        assert_eq!(parse_duration("90s"), Some(Duration::seconds(90)));
        assert_eq!(parse_duration("15m"), Some(Duration::minutes(15)));
        assert_eq!(parse_duration("30d"), Some(Duration::days(30)));
        for bad in ["", "30", "d", "1w", "-5s", "1.5h"] {
            assert_eq!(parse_duration(bad), None, "{bad}");
        }
    }
}
