//! Every answer's security headers, the CSRF cookie, the administrator
//! behind a request, and the static assets.

use axum::extract::{FromRequestParts, NestedPath, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use clientcreds_registry::Actor;

use crate::csrf::COOKIE;
use crate::error::ErrorPage;
use crate::{Console, Error};

/// The console's Content-Security-Policy: its own stylesheet and script
/// only, no inline script or style, no framing, forms post to itself.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; \
     style-src 'self'; img-src 'self'; connect-src 'none'; form-action 'self'; \
     frame-ancestors 'none'; base-uri 'none'";

const STYLESHEET: &str = include_str!("../assets/console.css");
const SCRIPT: &str = include_str!("../assets/console.js");

/// This browser's CSRF cookie value (`fresh`: made for this request, so
/// the browser sent none).
/// Its `Debug` never shows the value.
#[derive(Clone)]
pub(crate) struct CsrfCookie {
    value: String,
    fresh: bool,
}

impl std::fmt::Debug for CsrfCookie {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CsrfCookie")
            .field("fresh", &self.fresh)
            .finish_non_exhaustive()
    }
}

/// The console's mount point (`""` at the root), for links.
#[derive(Debug, Clone)]
pub(crate) struct Base(pub(crate) String);

/// Sets the CSRF cookie when the browser has none, and the security
/// headers on every answer; turns error answers into full pages.
pub(crate) async fn headers(
    State(console): State<Console>,
    mut request: Request,
    next: Next,
) -> Response {
    let base = request
        .extensions()
        .get::<NestedPath>()
        .map(|p| p.as_str().trim_end_matches('/').to_owned())
        .unwrap_or_default();
    let cookie = match cookie_value(request.headers()) {
        Some(value) => CsrfCookie {
            value: value.to_owned(),
            fresh: false,
        },
        None => match console.inner.csrf.random_value() {
            Ok(value) => CsrfCookie { value, fresh: true },
            Err(error) => return finish(error.into_response(), &base),
        },
    };
    request.extensions_mut().insert(Base(base.clone()));
    request.extensions_mut().insert(cookie.clone());
    let mut response = next.run(request).await;
    if cookie.fresh {
        let secure = if console.inner.secure_cookies {
            "; Secure"
        } else {
            ""
        };
        let path = if base.is_empty() { "/" } else { base.as_str() };
        let set = format!(
            "{COOKIE}={}; Path={path}; HttpOnly; SameSite=Strict{secure}",
            cookie.value
        );
        if let Ok(value) = HeaderValue::from_str(&set) {
            response.headers_mut().append(header::SET_COOKIE, value);
        }
    }
    finish(response, &base)
}

fn finish(mut response: Response, base: &str) -> Response {
    if let Some(ErrorPage(message)) = response.extensions().get::<ErrorPage>().cloned() {
        let status = response.status();
        let headers = std::mem::take(response.headers_mut());
        response = (status, crate::layout::error_page(base, status, &message)).into_response();
        for (name, value) in &headers {
            if name == header::SET_COOKIE {
                response.headers_mut().append(name, value.clone());
            }
        }
    }
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONTENT_SECURITY_POLICY),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    response
}

fn cookie_value(headers: &HeaderMap) -> Option<&str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE)
        .map(|(_, value)| value)
        .filter(|value| crate::csrf::is_form_id(value))
}

/// The administrator behind a request, and what pages need to link and to
/// build forms: 401 when the host's [`AdminAuth`](clientcreds_axum::AdminAuth)
/// names nobody; for a state change, 403 when the browser says it comes
/// from another site.
/// Its `Debug` never shows the CSRF token.
#[derive(Clone)]
pub(crate) struct Ctx {
    pub(crate) actor: Actor,
    /// The mount point, for links.
    pub(crate) base: String,
    /// The CSRF token for this browser's forms.
    pub(crate) csrf: String,
    cookie: CsrfCookie,
}

impl std::fmt::Debug for Ctx {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ctx")
            .field("actor", &self.actor)
            .field("base", &self.base)
            .field("cookie", &self.cookie)
            .finish_non_exhaustive()
    }
}

impl Ctx {
    /// Whether the actor is a platform administrator.
    pub(crate) fn platform(&self) -> bool {
        matches!(self.actor, Actor::PlatformAdmin { .. } | Actor::System)
    }

    /// The identity the CSRF token is bound to.
    fn identity(actor: &Actor) -> String {
        match actor {
            Actor::TenantAdmin { tenant, user } => format!("tenant\0{tenant}\0{user}"),
            Actor::PlatformAdmin { user } => format!("platform\0{user}"),
            Actor::System => "system".to_owned(),
        }
    }

    /// Checks the CSRF token a form sent.
    pub(crate) fn check_token(
        &self,
        console: &Console,
        presented: Option<&str>,
    ) -> Result<(), Error> {
        if self.cookie.fresh {
            return Err(Error::Forbidden {
                reason: "this browser sent no console cookie with the form; reload the page and \
                         try again"
                    .into(),
            });
        }
        let valid = presented.is_some_and(|token| {
            console
                .inner
                .csrf
                .verify(&self.cookie.value, &Self::identity(&self.actor), token)
        });
        if valid {
            Ok(())
        } else {
            Err(Error::Forbidden {
                reason: "the form's CSRF token is missing or is not this browser's; reload the \
                         page and try again"
                    .into(),
            })
        }
    }
}

impl FromRequestParts<Console> for Ctx {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, console: &Console) -> Result<Self, Error> {
        let actor = console
            .inner
            .auth
            .actor(parts)
            .await
            .ok_or(Error::Unauthorized)?;
        if parts.method != Method::GET && parts.method != Method::HEAD {
            same_origin(&parts.headers)?;
        }
        let cookie = parts
            .extensions
            .get::<CsrfCookie>()
            .cloned()
            .ok_or(Error::Unavailable)?;
        let base = parts
            .extensions
            .get::<Base>()
            .map(|b| b.0.clone())
            .unwrap_or_default();
        let csrf = console
            .inner
            .csrf
            .token(&cookie.value, &Self::identity(&actor));
        Ok(Self {
            actor,
            base,
            csrf,
            cookie,
        })
    }
}

/// Refuses a state change the browser marks as cross-site
/// (`Sec-Fetch-Site`, which every current browser sends) or, from a
/// browser that does not send it, whose `Origin` is not the `Host` it was
/// sent to.
fn same_origin(headers: &HeaderMap) -> Result<(), Error> {
    let refused = |what: &str| Error::Forbidden {
        reason: format!("a form from another site may not change anything here ({what})"),
    };
    if let Some(site) = headers.get("sec-fetch-site") {
        return if matches!(site.as_bytes(), b"same-origin" | b"none") {
            Ok(())
        } else {
            Err(refused("Sec-Fetch-Site"))
        };
    }
    if let (Some(origin), Some(host)) = (headers.get(header::ORIGIN), headers.get(header::HOST)) {
        let origin = origin.to_str().unwrap_or_default();
        let authority = origin
            .split_once("://")
            .map_or(origin, |(_, rest)| rest)
            .trim_end_matches('/');
        if origin == "null" || !authority.eq_ignore_ascii_case(host.to_str().unwrap_or_default()) {
            return Err(refused("Origin"));
        }
    }
    Ok(())
}

fn asset(content_type: &'static str, body: &'static str) -> Response {
    let mut response = body.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=3600"),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    response
}

/// `GET /assets/console.css`.
pub(crate) async fn stylesheet() -> Response {
    asset("text/css; charset=utf-8", STYLESHEET)
}

/// `GET /assets/console.js`: copy buttons and confirm dialogs.
pub(crate) async fn script() -> Response {
    asset("text/javascript; charset=utf-8", SCRIPT)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.insert(*name, HeaderValue::from_static(value));
        }
        map
    }

    #[test]
    fn cross_site_posts_are_refused() {
        assert!(same_origin(&headers(&[])).is_ok());
        assert!(same_origin(&headers(&[("sec-fetch-site", "same-origin")])).is_ok());
        assert!(same_origin(&headers(&[("sec-fetch-site", "cross-site")])).is_err());
        assert!(same_origin(&headers(&[("sec-fetch-site", "same-site")])).is_err());
        // Sec-Fetch-Site decides when present (a same-origin form may
        // carry `Origin: null` under some referrer policies).
        let null_same = [("origin", "null"), ("sec-fetch-site", "same-origin")];
        assert!(same_origin(&headers(&null_same)).is_ok());
        let same = [
            ("origin", "http://127.0.0.1:8080"),
            ("host", "127.0.0.1:8080"),
        ];
        assert!(same_origin(&headers(&same)).is_ok());
        let other = [
            ("origin", "http://evil.example"),
            ("host", "127.0.0.1:8080"),
        ];
        assert!(same_origin(&headers(&other)).is_err());
        let null = [("origin", "null"), ("host", "127.0.0.1:8080")];
        assert!(same_origin(&headers(&null)).is_err());
    }

    #[test]
    fn the_cookie_is_read_only_when_well_formed() {
        let good = "clientcreds_console_csrf=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
        let mut map = HeaderMap::new();
        map.insert(header::COOKIE, HeaderValue::from_static(good));
        assert!(cookie_value(&map).is_some());
        map.insert(
            header::COOKIE,
            HeaderValue::from_static("a=b; clientcreds_console_csrf=<script>"),
        );
        assert!(cookie_value(&map).is_none());
    }
}
