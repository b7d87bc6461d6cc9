//! A console over an in-memory registry, driven with `oneshot`, as a
//! browser would: it keeps the CSRF cookie and reads each form's fields.
#![allow(dead_code, unreachable_pub)]

use std::sync::Arc;

use async_trait::async_trait;
use axum::Router;
use axum::body::Body;
use axum::http::request::Parts;
use axum::http::{HeaderMap, Request, StatusCode, header};
use clientcreds_axum::AdminAuth;
use clientcreds_console::Console;
use clientcreds_registry::{Actor, ManualClock, Policy, Registry};
use clientcreds_secret::{PepperKey, SecretHasher};
use clientcreds_store::{MemoryStore, TenantId};
use http_body_util::BodyExt;
use tower::ServiceExt;

pub type TestResult = Result<(), Box<dyn std::error::Error>>;

/// `x-test-admin: root` is the platform admin; `x-test-admin: acme` (any
/// other word) that tenant's admin.
pub struct HeaderAuth;

#[async_trait]
impl AdminAuth for HeaderAuth {
    async fn actor(&self, request: &Parts) -> Option<Actor> {
        let who = request.headers.get("x-test-admin")?.to_str().ok()?;
        if who == "root" {
            Some(Actor::platform_admin("root"))
        } else {
            Some(Actor::tenant_admin(
                TenantId::new(who).ok()?,
                format!("admin@{who}"),
            ))
        }
    }
}

pub struct App {
    pub router: Router,
    pub registry: Arc<Registry>,
    pub clock: Arc<ManualClock>,
}

pub fn app() -> Result<App, Box<dyn std::error::Error>> {
    app_with(Policy::default())
}

pub fn app_with(policy: Policy) -> Result<App, Box<dyn std::error::Error>> {
    let hasher = SecretHasher::hmac_sha256(PepperKey::new("k1", &[7; 32])?)?;
    let clock = Arc::new(ManualClock::new(
        time::OffsetDateTime::UNIX_EPOCH + time::Duration::days(20_788),
    ));
    let registry = Arc::new(
        Registry::new(Arc::new(MemoryStore::new()), hasher, policy)?.with_clock(clock.clone()),
    );
    let console = Console::new(registry.clone(), HeaderAuth)?
        .with_tenants([TenantId::new("acme")?, TenantId::new("globex")?]);
    Ok(App {
        router: Router::new().nest("/console", console.router()),
        registry,
        clock,
    })
}

/// One answer: status, headers, body text.
pub struct Page {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: String,
}

impl Page {
    /// The value of `<input ... name="NAME" value="...">` (first one).
    pub fn field(&self, name: &str) -> Option<String> {
        let marker = format!("name=\"{name}\" value=\"");
        let start = self.body.find(&marker)? + marker.len();
        let end = self.body.get(start..)?.find('"')?;
        self.body.get(start..start + end).map(str::to_owned)
    }

    /// The value of the input with `id`.
    pub fn input(&self, id: &str) -> Option<String> {
        let marker = format!("id=\"{id}\"");
        let start = self.body.find(&marker)?;
        let rest = self.body.get(start..)?;
        let value = rest.find("value=\"")? + "value=\"".len();
        let end = rest.get(value..)?.find('"')?;
        rest.get(value..value + end).map(str::to_owned)
    }

    pub fn header(&self, name: header::HeaderName) -> &str {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
    }
}

/// A browser of one administrator: keeps the console's cookie.
pub struct Browser<'a> {
    pub app: &'a App,
    pub admin: &'a str,
    pub cookie: Option<String>,
}

impl<'a> Browser<'a> {
    pub fn new(app: &'a App, admin: &'a str) -> Self {
        Self {
            app,
            admin,
            cookie: None,
        }
    }

    pub async fn send(
        &mut self,
        request: Request<Body>,
    ) -> Result<Page, Box<dyn std::error::Error>> {
        let response = self.app.router.clone().oneshot(request).await?;
        let status = response.status();
        let headers = response.headers().clone();
        if let Some(set) = headers.get(header::SET_COOKIE) {
            let set = set.to_str()?;
            if let Some(pair) = set.split(';').next() {
                self.cookie = Some(pair.to_owned());
            }
        }
        let bytes = response.into_body().collect().await?.to_bytes();
        Ok(Page {
            status,
            headers,
            body: String::from_utf8(bytes.to_vec())?,
        })
    }

    fn request(&self, method: &str, path: &str) -> axum::http::request::Builder {
        let mut builder = Request::builder()
            .method(method)
            .uri(path)
            .header("x-test-admin", self.admin)
            .header(header::HOST, "console.test");
        if let Some(cookie) = &self.cookie {
            builder = builder.header(header::COOKIE, cookie);
        }
        builder
    }

    pub async fn get(&mut self, path: &str) -> Result<Page, Box<dyn std::error::Error>> {
        let request = self.request("GET", path).body(Body::empty())?;
        self.send(request).await
    }

    /// Posts `fields` (form-encoded) with extra headers.
    pub async fn post_with(
        &mut self,
        path: &str,
        fields: &[(&str, &str)],
        extra: &[(&str, &str)],
    ) -> Result<Page, Box<dyn std::error::Error>> {
        let body: String = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(fields)
            .finish();
        let mut builder = self
            .request("POST", path)
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
        for (name, value) in extra {
            builder = builder.header(*name, *value);
        }
        self.send(builder.body(Body::from(body))?).await
    }

    pub async fn post(
        &mut self,
        path: &str,
        fields: &[(&str, &str)],
    ) -> Result<Page, Box<dyn std::error::Error>> {
        self.post_with(path, fields, &[("origin", "http://console.test")])
            .await
    }

    /// Opens the create form and submits it with `fields`: the answer (the
    /// reveal, on success) and the form's id.
    pub async fn create(
        &mut self,
        tenant: &str,
        fields: &[(&str, &str)],
    ) -> Result<(Page, String), Box<dyn std::error::Error>> {
        let form = self
            .get(&format!("/console/t/{tenant}/clients/new"))
            .await?;
        assert_eq!(form.status, StatusCode::OK, "{}", form.body);
        let csrf = form.field("csrf").ok_or("no csrf field")?;
        let form_id = form.field("form_id").ok_or("no form_id field")?;
        let mut all = vec![("csrf", csrf.as_str()), ("form_id", form_id.as_str())];
        all.extend_from_slice(fields);
        let page = self
            .post(&format!("/console/t/{tenant}/clients"), &all)
            .await?;
        Ok((page, form_id))
    }

    /// The CSRF token of this browser's forms.
    pub async fn csrf(&mut self, tenant: &str) -> Result<String, Box<dyn std::error::Error>> {
        let page = self
            .get(&format!("/console/t/{tenant}/clients/new"))
            .await?;
        Ok(page.field("csrf").ok_or("no csrf field")?)
    }
}
