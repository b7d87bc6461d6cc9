//! The admin console in a real browser: headless Chromium, driven over
//! `WebDriver` (`scripts/with-chromium.sh` starts chromedriver and exports
//! `CLIENTCREDS_TEST_WEBDRIVER_URL`), against the reference server.
//!
//! One browser walks every flow in turn, product by product: A (rotate to
//! a new client with a 7-day grace, the expiring badge, "Revoke now",
//! the activity that confirms the cutover), B/E (rotate in place), C
//! (roles at creation), D (delete, and a token minted before stops working
//! at the demo API), E (a 180-day secret, its expiry and its warnings), a
//! platform admin switching tenants and seeing the signing keys, a tenant
//! admin failing to see another tenant's client, a forged cross-site POST
//! refused, and the reveal not coming back through the back button.
//!
//! Screenshots are taken on the way; with `CLIENTCREDS_UPDATE_SCREENSHOTS=1`
//! they replace the ones in docs/console/ that the README shows.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use base64::Engine;
use clientcreds_registry::Actor;
use clientcreds_server::{Config, Server};
use clientcreds_store::TenantId;
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{Value, json};

const ROOT: &str = "console-root-token-0123456789abcdef0123";
const ACME: &str = "console-acme-token-0123456789abcdef0123";
const GLOBEX: &str = "console-globex-token-0123456789abcdef01";

struct World {
    browser: Client,
    server: Server,
    base: String,
    http: reqwest::Client,
    shots: PathBuf,
}

async fn start() -> World {
    let webdriver = std::env::var("CLIENTCREDS_TEST_WEBDRIVER_URL").expect(
        "CLIENTCREDS_TEST_WEBDRIVER_URL is not set: run the tests through scripts/with-chromium.sh \
         (scripts/test.sh does)",
    );
    let chromium = std::env::var("CLIENTCREDS_TEST_CHROMIUM").unwrap_or_else(|_| "chromium".into());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let mut config = Config::for_addr(addr);
    config.root_token = Some(zeroize::Zeroizing::new(ROOT.into()));
    config.tenant_admins = vec![
        (
            TenantId::new("acme").unwrap(),
            zeroize::Zeroizing::new(ACME.into()),
        ),
        (
            TenantId::new("globex").unwrap(),
            zeroize::Zeroizing::new(GLOBEX.into()),
        ),
    ];
    let server = Server::new(config).await.unwrap();
    let app = server.router();
    tokio::spawn(async move {
        axum::serve(
            listener,
            app.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .await
        .unwrap();
    });
    let mut capabilities = serde_json::Map::new();
    capabilities.insert(
        "goog:chromeOptions".into(),
        json!({
            "binary": chromium,
            "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                     "--window-size=1280,900", "--force-device-scale-factor=1"]
        }),
    );
    let browser = ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
        .capabilities(capabilities)
        .connect(&webdriver)
        .await
        .expect("a WebDriver session on chromedriver");
    let shots = if std::env::var_os("CLIENTCREDS_UPDATE_SCREENSHOTS").is_some() {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../docs/console")
    } else {
        std::env::temp_dir().join(format!("clientcreds-console-shots-{}", std::process::id()))
    };
    std::fs::create_dir_all(&shots).unwrap();
    World {
        browser,
        server,
        base: format!("http://{addr}"),
        http: reqwest::Client::new(),
        shots,
    }
}

impl World {
    async fn go(&self, path: &str) {
        self.browser
            .goto(&format!("{}{path}", self.base))
            .await
            .unwrap();
    }

    async fn page(&self) -> String {
        self.browser.source().await.unwrap()
    }

    async fn path(&self) -> String {
        let url = self.browser.current_url().await.unwrap();
        match url.query() {
            Some(q) => format!("{}?{q}", url.path()),
            None => url.path().to_owned(),
        }
    }

    async fn fill(&self, id: &str, text: &str) {
        let field = self.browser.find(Locator::Id(id)).await.unwrap();
        field.clear().await.unwrap();
        field.send_keys(text).await.unwrap();
    }

    async fn click(&self, css: &str) {
        self.browser
            .find(Locator::Css(css))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
    }

    /// Clicks what submits a form or follows a link, and waits until the
    /// next page has replaced this one.
    async fn click_away(&self, css: &str) {
        let old = self.browser.find(Locator::Css("html")).await.unwrap();
        self.click(css).await;
        self.wait_gone(old).await;
    }

    async fn wait_gone(&self, old: fantoccini::elements::Element) {
        for _ in 0..100 {
            if old.tag_name().await.is_err() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("the page did not change");
    }

    /// Clicks a submit button whose form asks `confirm()` first, and
    /// accepts the dialog.
    async fn click_confirmed(&self, css: &str) {
        let old = self.browser.find(Locator::Css("html")).await.unwrap();
        self.click(css).await;
        self.browser.accept_alert().await.unwrap();
        self.wait_gone(old).await;
    }

    async fn value(&self, id: &str) -> String {
        self.browser
            .find(Locator::Id(id))
            .await
            .unwrap()
            .prop("value")
            .await
            .unwrap()
            .unwrap_or_default()
    }

    async fn screenshot(&self, name: &str) {
        let png = self.browser.screenshot().await.unwrap();
        assert!(png.starts_with(b"\x89PNG"), "a PNG");
        std::fs::write(self.shots.join(format!("{name}.png")), png).unwrap();
    }

    async fn sign_in(&self, token: &str) {
        self.go("/console").await;
        assert_eq!(
            self.path().await,
            "/console/sign-in",
            "the console asks to sign in"
        );
        self.fill("token", token).await;
        self.click_away("button[type=submit]").await;
    }

    async fn sign_out(&self) {
        self.click_away("nav.sidebar form button").await;
        assert_eq!(self.path().await, "/console/sign-in");
    }

    /// Fills the create form and submits it; returns (`client_id`, secret)
    /// from the reveal.
    async fn create(&self, tenant: &str, fields: &[(&str, &str)]) -> (String, String) {
        self.go(&format!("/console/t/{tenant}/clients/new")).await;
        for (id, text) in fields {
            self.fill(id, text).await;
        }
        self.click_away("main form button[type=submit]").await;
        let page = self.page().await;
        assert!(page.contains("One-time reveal"), "{page}");
        let id = self.value("reveal-client-id").await;
        let secret = self.value("reveal-client-secret").await;
        assert!(!self.path().await.contains(&secret), "never in a URL");
        (id, secret)
    }

    /// Ticks "I have saved this secret" and dismisses the reveal.
    async fn dismiss(&self) {
        self.click("#saved").await;
        self.click_away("#dismiss").await;
    }

    /// Rotates the client whose page is open.
    async fn rotate(&self, mode: &str, grace_days: &str) -> (String, String) {
        self.click(&format!("input[name=mode][value={mode}]")).await;
        self.fill("grace_days", grace_days).await;
        self.click_confirmed("form[action$='/rotate'] button[type=submit]")
            .await;
        let page = self.page().await;
        assert!(page.contains("One-time reveal"), "{page}");
        (
            self.value("reveal-client-id").await,
            self.value("reveal-client-secret").await,
        )
    }

    /// A token for these credentials from the token endpoint: `Ok(token)`
    /// or `Err(status)`.
    async fn token(&self, id: &str, secret: &str, scope: Option<&str>) -> Result<String, u16> {
        let mut form = vec![("grant_type", "client_credentials")];
        if let Some(scope) = scope {
            form.push(("scope", scope));
        }
        let response = self
            .http
            .post(format!("{}/oauth/token", self.base))
            .basic_auth(id, Some(secret))
            .form(&form)
            .send()
            .await
            .unwrap();
        if response.status().is_success() {
            let body: Value = response.json().await.unwrap();
            Ok(body["access_token"].as_str().unwrap().to_owned())
        } else {
            Err(response.status().as_u16())
        }
    }
}

#[tokio::test]
async fn the_console_in_chromium() {
    let world = start().await;
    product_a(&world).await;
    products_b_and_e(&world).await;
    product_c(&world).await;
    product_d(&world).await;
    forged_cross_site_post(&world).await;
    world.sign_out().await;
    tenant_admin_sees_only_its_tenant(&world).await;
    world.sign_out().await;
    platform_admin_switches_tenants(&world).await;
    world.browser.clone().close().await.unwrap();
}

/// Product A: create, the one-time reveal (not back through the back
/// button), rotate to a new client with a 7-day grace, the expiring badge
/// and its date, the cutover in the activity, "Revoke now".
async fn product_a(world: &World) {
    world.sign_in(ACME).await;
    assert_eq!(
        world.path().await,
        "/console/t/acme/clients",
        "{}",
        world.page().await
    );
    let (old_id, old_secret) = world.create("acme", &[("name", "copilot-studio")]).await;
    world.screenshot("reveal").await;
    assert!(world.token(&old_id, &old_secret, None).await.is_ok());
    world.dismiss().await;
    assert!(
        world
            .path()
            .await
            .starts_with(&format!("/console/t/acme/clients/{old_id}"))
    );
    // Back to the reveal: the browser may not show it again from its
    // cache (no-store), and resubmitting the form is refused.
    world.browser.back().await.unwrap();
    let back = world.page().await;
    assert!(
        !back.contains(&old_secret),
        "the back button brought the secret back"
    );
    assert!(!back.contains("One-time reveal"), "{back}");
    world.browser.refresh().await.ok();
    let _ = world.browser.accept_alert().await;
    let again = world.page().await;
    assert!(
        !again.contains(&old_secret),
        "a reload brought the secret back"
    );
    assert!(again.contains("already submitted"), "{again}");
    world.go(&format!("/console/t/acme/clients/{old_id}")).await;

    let (new_id, new_secret) = world.rotate("client", "7").await;
    assert_ne!(new_id, old_id);
    assert!(world.page().await.contains("keeps issuing tokens"));
    world.dismiss().await;
    // The old client keeps minting during the grace window; the new one
    // mints too.
    assert!(world.token(&old_id, &old_secret, None).await.is_ok());
    assert!(world.token(&new_id, &new_secret, None).await.is_ok());
    world.go("/console/t/acme/clients").await;
    let list = world.page().await;
    let old_row = list
        .split("<tr>")
        .find(|row| row.contains(&old_id))
        .unwrap();
    assert!(
        old_row.contains("badge expiring") && old_row.contains("Expires"),
        "{old_row}"
    );
    world.screenshot("clients").await;
    // Confirm the cutover in the activity log of the new client.
    world
        .go(&format!("/console/t/acme/clients/{new_id}/activity"))
        .await;
    assert!(world.page().await.contains("token issued"));
    // Revoke now: the old client stops minting at once.
    world.go(&format!("/console/t/acme/clients/{old_id}")).await;
    world.screenshot("client").await;
    world
        .click_confirmed("form[action$='/end-grace'] button")
        .await;
    assert!(world.page().await.contains("can no longer mint tokens"));
    assert_eq!(world.token(&old_id, &old_secret, None).await, Err(401));
    assert!(world.token(&new_id, &new_secret, None).await.is_ok());
}

/// Products B and E: a 180-day secret shows its expiry and its next
/// warning; rotating in place keeps the client id, and with no grace the
/// old secret stops at once.
async fn products_b_and_e(world: &World) {
    let (id, secret) = world
        .create(
            "acme",
            &[
                ("name", "breeze"),
                ("owner", "ops@example.com"),
                ("secret_days", "180"),
            ],
        )
        .await;
    assert!(world.page().await.contains("This secret expires"));
    world.dismiss().await;
    let page = world.page().await;
    let expires = (time::OffsetDateTime::now_utc() + time::Duration::days(180)).date();
    assert!(
        page.contains(&expires.to_string()),
        "the 180-day expiry {expires} is shown"
    );
    let warning = (time::OffsetDateTime::now_utc() + time::Duration::days(150)).date();
    assert!(
        page.contains(&warning.to_string()),
        "the 30-day warning {warning} is due"
    );
    world.go("/console/t/acme/warnings").await;
    let warnings = world.page().await;
    assert!(warnings.contains("breeze") && warnings.contains(&warning.to_string()));
    world.screenshot("warnings").await;
    world.go(&format!("/console/t/acme/clients/{id}")).await;
    let (same_id, new_secret) = world.rotate("secret", "0").await;
    assert_eq!(same_id, id, "rotated in place");
    world.dismiss().await;
    assert_eq!(world.token(&id, &secret, None).await, Err(401));
    assert!(world.token(&id, &new_secret, None).await.is_ok());
}

/// Product C: roles chosen at creation end up in the token.
async fn product_c(world: &World) {
    let (id, secret) = world
        .create(
            "acme",
            &[("name", "vectara-app"), ("roles", "admin, viewer")],
        )
        .await;
    world.dismiss().await;
    assert!(world.page().await.contains("admin, viewer"));
    let token = world.token(&id, &secret, None).await.unwrap();
    let payload = token.split('.').nth(1).unwrap();
    let claims: Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload)
            .unwrap(),
    )
    .unwrap();
    assert_eq!(claims["roles"], json!(["admin", "viewer"]));
}

/// Product D: delete, with the typed confirmation; a token minted before
/// stops working at the demo API.
async fn product_d(world: &World) {
    let (id, secret) = world
        .create("acme", &[("name", "spice-ci"), ("scopes", "echo")])
        .await;
    world.dismiss().await;
    let token = world.token(&id, &secret, Some("echo")).await.unwrap();
    let whoami = || async {
        world
            .http
            .get(format!("{}/api/v1/whoami", world.base))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap()
            .status()
            .as_u16()
    };
    assert_eq!(whoami().await, 200);
    world.fill("delete-confirm", "spice").await;
    world.click_away("form[action$='/delete'] button").await;
    assert!(world.page().await.contains("nothing was deleted"));
    world.go(&format!("/console/t/acme/clients/{id}")).await;
    world.fill("delete-confirm", "spice-ci").await;
    world.click_away("form[action$='/delete'] button").await;
    assert_eq!(world.path().await, "/console/t/acme/clients?done=deleted");
    // The demo API's live check caches for a few seconds.
    let mut status = whoami().await;
    for _ in 0..40 {
        if status == 401 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
        status = whoami().await;
    }
    assert_eq!(status, 401, "the deleted client's token still works");
}

/// A page on another site posts a form to the console: refused, nothing
/// changes.
async fn forged_cross_site_post(world: &World) {
    let actor = Actor::tenant_admin(TenantId::new("acme").unwrap(), "admin@acme");
    let tenant = TenantId::new("acme").unwrap();
    let victim = world
        .server
        .registry()
        .create(
            &actor,
            &tenant,
            clientcreds_registry::NewClient::named("victim"),
        )
        .await
        .unwrap();
    let target = format!(
        "{}/console/t/acme/clients/{}/revoke",
        world.base, victim.client.client_id
    );
    let evil = format!(
        "<!DOCTYPE html><html><body><form id=f method=post action='{target}'>\
         <input name=confirm value=1><input name=csrf value=guess></form>\
         <script>document.getElementById('f').submit()</script></body></html>"
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let app = axum::Router::new().route(
        "/evil",
        axum::routing::get(move || {
            let evil = evil.clone();
            async move { axum::response::Html(evil) }
        }),
    );
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    // `localhost` is another site than `127.0.0.1`.
    world
        .browser
        .goto(&format!("http://localhost:{port}/evil"))
        .await
        .unwrap();
    // The form was posted (the page left the evil site) and refused: the
    // session cookie (SameSite=Strict) did not go with it, so the console
    // answered "sign in" (and without SameSite, the cross-site
    // Sec-Fetch-Site and the missing CSRF token would each refuse it).
    for _ in 0..100 {
        if world.browser.current_url().await.unwrap().port() != Some(port) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let landed = world.page().await;
    assert!(
        world.path().await == "/console/sign-in" || landed.contains("Refused"),
        "the forged POST was not refused: {landed}"
    );
    let view = world
        .server
        .registry()
        .get(&actor, &tenant, &victim.client.client_id)
        .await
        .unwrap();
    assert_eq!(
        clientcreds_axum::admin::status_name(view.status),
        "active",
        "the forged POST revoked the client"
    );
    world.go("/console/t/acme/clients").await;
}

/// A tenant admin of globex cannot see acme's clients, by any path.
async fn tenant_admin_sees_only_its_tenant(world: &World) {
    world.sign_in(GLOBEX).await;
    assert_eq!(world.path().await, "/console/t/globex/clients");
    let actor = Actor::tenant_admin(TenantId::new("acme").unwrap(), "admin@acme");
    let acme = world
        .server
        .registry()
        .list(&actor, &TenantId::new("acme").unwrap(), Default::default())
        .await
        .unwrap();
    let id = &acme.clients[0].client_id;
    for path in [
        format!("/console/t/acme/clients/{id}"),
        format!("/console/t/globex/clients/{id}"),
        "/console/t/acme/clients".to_owned(),
    ] {
        world.go(&path).await;
        let page = world.page().await;
        assert!(page.contains("Not found"), "{path}: {page}");
        assert!(!page.contains("copilot-studio"), "{path}");
    }
    world.go("/console/t/globex/clients").await;
}

/// The platform admin picks a tenant, switches to another, and sees the
/// signing keys.
async fn platform_admin_switches_tenants(world: &World) {
    world.sign_in(ROOT).await;
    assert_eq!(world.path().await, "/console/tenants");
    world
        .click_away("ul.tenants a[href$='/t/acme/clients']")
        .await;
    assert!(world.page().await.contains("copilot-studio"));
    world.go("/console/tenants").await;
    world.fill("tenant", "globex").await;
    world.click_away("main form button").await;
    assert_eq!(world.path().await, "/console/t/globex/clients");
    assert!(!world.page().await.contains("copilot-studio"));
    world.go("/console/keys").await;
    let keys = world.page().await;
    assert!(keys.contains("badge active\">signing"), "{keys}");
    world.screenshot("keys").await;
    let published = keys.matches("<tr>").count();
    world
        .click_away("form[action$='/keys/rotate'] button")
        .await;
    let keys = world.page().await;
    assert!(keys.contains("The next signing key is published"), "{keys}");
    assert_eq!(keys.matches("<tr>").count(), published + 1, "one more key");
}
