//! The console through its router, as a browser drives it: headers on
//! every page, the one-time reveal, CSRF, tenancy, escaping, rotation,
//! deletion, pagination.

mod common;

use axum::http::{StatusCode, header};
use clientcreds_registry::{Actor, ListQuery, NewClient};
use clientcreds_secret::Secret;
use clientcreds_store::TenantId;
use common::{Browser, TestResult, app};

fn acme() -> Result<TenantId, clientcreds_store::InvalidTenantId> {
    TenantId::new("acme")
}

#[tokio::test]
async fn every_page_has_the_security_headers_and_sets_a_strict_cookie() -> TestResult {
    let app = app()?;
    let mut browser = Browser::new(&app, "acme");
    for path in [
        "/console/t/acme/clients",
        "/console/t/acme/clients/new",
        "/console/t/acme/audit",
        "/console/nope",
    ] {
        let page = browser.get(path).await?;
        assert_eq!(page.header(header::CACHE_CONTROL), "no-store", "{path}");
        let csp = page.header(header::CONTENT_SECURITY_POLICY);
        assert!(csp.contains("frame-ancestors 'none'"), "{path}: {csp}");
        assert!(csp.contains("script-src 'self'"), "{path}: {csp}");
        assert!(!csp.contains("unsafe-inline"), "{path}: {csp}");
        assert_eq!(page.header(header::X_FRAME_OPTIONS), "DENY");
        assert_eq!(page.header(header::X_CONTENT_TYPE_OPTIONS), "nosniff");
        // No inline script anywhere: the only script is the asset.
        assert!(!page.body.contains("<script>"), "{path}");
    }
    // The first answer set the cookie; it is HttpOnly and SameSite=Strict.
    let mut fresh = Browser::new(&app, "acme");
    let page = fresh.get("/console/t/acme/clients").await?;
    let cookie = page.header(header::SET_COOKIE);
    assert!(cookie.starts_with("clientcreds_console_csrf="), "{cookie}");
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"),
        "{cookie}"
    );
    assert!(cookie.contains("Path=/console"), "{cookie}");
    // Nobody signed in: 401, still no-store.
    let mut anonymous = Browser::new(&app, "");
    let page = anonymous.get("/console/t/acme/clients").await?;
    assert_eq!(page.status, StatusCode::UNAUTHORIZED);
    assert_eq!(page.header(header::CACHE_CONTROL), "no-store");
    assert!(page.body.contains("Sign in required"));
    Ok(())
}

#[tokio::test]
async fn create_reveals_the_secret_once_and_never_again() -> TestResult {
    let app = app()?;
    let mut browser = Browser::new(&app, "acme");
    let (page, form_id) = browser
        .create("acme", &[("name", "reports"), ("scopes", "read write")])
        .await?;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert_eq!(page.header(header::CACHE_CONTROL), "no-store");
    assert!(page.headers.get(header::LOCATION).is_none());
    let client_id = page.input("reveal-client-id").ok_or("no client id")?;
    let secret = page.input("reveal-client-secret").ok_or("no secret")?;
    // The revealed secret is the client's: it authenticates.
    let authenticated = app
        .registry
        .authenticate(&client_id, &Secret::new(secret.clone()))
        .await?;
    assert_eq!(authenticated.client_id(), client_id);
    // Never in a header (no cookie, no redirect carries it).
    for (_, value) in &page.headers {
        assert!(!value.to_str().unwrap_or_default().contains(&secret));
    }
    // The same form again (back button, reload): refused, no second
    // client, no secret.
    let csrf = browser.csrf("acme").await?;
    let again = browser
        .post(
            "/console/t/acme/clients",
            &[("csrf", &csrf), ("form_id", &form_id), ("name", "reports")],
        )
        .await?;
    assert_eq!(again.status, StatusCode::CONFLICT);
    assert!(!again.body.contains(&secret));
    assert!(again.body.contains("shown once"));
    let actor = Actor::tenant_admin(acme()?, "x");
    let all = app
        .registry
        .list(&actor, &acme()?, ListQuery::default())
        .await?;
    assert_eq!(all.clients.len(), 1);
    // The client's page shows its prefix, never the secret.
    let detail = browser
        .get(&format!("/console/t/acme/clients/{client_id}"))
        .await?;
    assert_eq!(detail.status, StatusCode::OK);
    assert!(!detail.body.contains(&secret));
    assert!(
        detail
            .body
            .contains(&all.clients[0].secrets[0].display_prefix)
    );
    // How it authenticates, and whether its tokens must be DPoP-bound.
    assert!(detail.body.contains("<code>client_secret_basic</code>"));
    assert!(
        detail
            .body
            .contains("DPoP-bound tokens</dt><dd>not required")
    );
    Ok(())
}

#[tokio::test]
async fn state_changes_without_this_browsers_token_are_refused() -> TestResult {
    let app = app()?;
    let actor = Actor::tenant_admin(acme()?, "admin@acme");
    let issued = app
        .registry
        .create(&actor, &acme()?, NewClient::named("victim"))
        .await?;
    let revoke = format!("/console/t/acme/clients/{}/revoke", issued.client.client_id);
    let mut browser = Browser::new(&app, "acme");
    let csrf = browser.csrf("acme").await?;
    // No token.
    let page = browser.post(&revoke, &[("confirm", "1")]).await?;
    assert_eq!(page.status, StatusCode::FORBIDDEN, "{}", page.body);
    // Another browser's token (another cookie).
    let mut other = Browser::new(&app, "acme");
    let other_csrf = other.csrf("acme").await?;
    let page = browser
        .post(&revoke, &[("csrf", &other_csrf), ("confirm", "1")])
        .await?;
    assert_eq!(page.status, StatusCode::FORBIDDEN);
    // Another administrator's token in the same browser.
    let mut root = Browser::new(&app, "root");
    root.cookie.clone_from(&browser.cookie);
    let root_csrf = root.csrf("acme").await?;
    assert_ne!(root_csrf, csrf);
    let page = browser
        .post(&revoke, &[("csrf", &root_csrf), ("confirm", "1")])
        .await?;
    assert_eq!(page.status, StatusCode::FORBIDDEN);
    // The right token, but the browser says the form came from elsewhere.
    let page = browser
        .post_with(
            &revoke,
            &[("csrf", &csrf), ("confirm", "1")],
            &[("sec-fetch-site", "cross-site")],
        )
        .await?;
    assert_eq!(page.status, StatusCode::FORBIDDEN);
    let page = browser
        .post_with(
            &revoke,
            &[("csrf", &csrf), ("confirm", "1")],
            &[("origin", "https://evil.example")],
        )
        .await?;
    assert_eq!(page.status, StatusCode::FORBIDDEN);
    // No cookie at all.
    let mut cookieless = Browser::new(&app, "acme");
    let page = cookieless
        .post(&revoke, &[("csrf", &csrf), ("confirm", "1")])
        .await?;
    assert_eq!(page.status, StatusCode::FORBIDDEN);
    let view = app
        .registry
        .get(&actor, &acme()?, &issued.client.client_id)
        .await?;
    assert_eq!(clientcreds_axum::admin::status_name(view.status), "active");
    // With the token: done, and a 303 back to the client's page.
    let page = browser
        .post(&revoke, &[("csrf", &csrf), ("confirm", "1")])
        .await?;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.body);
    let view = app
        .registry
        .get(&actor, &acme()?, &issued.client.client_id)
        .await?;
    assert_eq!(clientcreds_axum::admin::status_name(view.status), "revoked");
    Ok(())
}

#[tokio::test]
async fn another_tenants_client_looks_missing() -> TestResult {
    let app = app()?;
    let actor = Actor::tenant_admin(acme()?, "admin@acme");
    let issued = app
        .registry
        .create(&actor, &acme()?, NewClient::named("acme-secret-thing"))
        .await?;
    let id = &issued.client.client_id;
    let mut globex = Browser::new(&app, "globex");
    for path in [
        format!("/console/t/acme/clients/{id}"),
        format!("/console/t/globex/clients/{id}"),
        "/console/t/acme/clients".to_owned(),
        "/console/t/acme/audit".to_owned(),
        "/console/t/acme/warnings".to_owned(),
        format!("/console/t/acme/clients/{id}/activity"),
    ] {
        let page = globex.get(&path).await?;
        assert_eq!(page.status, StatusCode::NOT_FOUND, "{path}");
        assert!(!page.body.contains("acme-secret-thing"), "{path}");
    }
    let csrf = globex.csrf("globex").await?;
    let page = globex
        .post(
            &format!("/console/t/acme/clients/{id}/revoke"),
            &[("csrf", &csrf), ("confirm", "1")],
        )
        .await?;
    assert_eq!(page.status, StatusCode::NOT_FOUND);
    // Tenant admins have no tenant picker.
    assert_eq!(
        globex.get("/console/tenants").await?.status,
        StatusCode::FORBIDDEN
    );
    // The platform admin sees it, from the picker.
    let mut root = Browser::new(&app, "root");
    let picked = root.get("/console/tenants?tenant=acme").await?;
    assert_eq!(picked.status, StatusCode::SEE_OTHER);
    assert_eq!(picked.header(header::LOCATION), "/console/t/acme/clients");
    let list = root.get("/console/t/acme/clients").await?;
    assert!(list.body.contains("acme-secret-thing"));
    Ok(())
}

#[tokio::test]
async fn everything_shown_is_escaped() -> TestResult {
    let app = app()?;
    let mut browser = Browser::new(&app, "acme");
    let (page, _) = browser
        .create(
            "acme",
            &[
                ("name", "<script>alert(1)</script>"),
                ("description", "\"><img src=x onerror=alert(1)>"),
            ],
        )
        .await?;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    let list = browser.get("/console/t/acme/clients?q=%3Cscript").await?;
    assert!(list.body.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
    assert!(!list.body.contains("<script>alert"));
    let client_id = page.input("reveal-client-id").ok_or("no id")?;
    let detail = browser
        .get(&format!("/console/t/acme/clients/{client_id}"))
        .await?;
    assert!(!detail.body.contains("<img src=x"));
    assert!(detail.body.contains("&quot;&gt;&lt;img"));
    Ok(())
}

#[tokio::test]
async fn rotating_to_a_new_client_shows_the_expiring_badge_until_revoke_now() -> TestResult {
    let app = app()?;
    let mut browser = Browser::new(&app, "acme");
    let (page, _) = browser
        .create("acme", &[("name", "copilot-studio")])
        .await?;
    let old_id = page.input("reveal-client-id").ok_or("no id")?;
    let detail = browser
        .get(&format!("/console/t/acme/clients/{old_id}"))
        .await?;
    let csrf = detail.field("csrf").ok_or("no csrf")?;
    let form_id = detail.field("form_id").ok_or("no form id")?;
    let rotated = browser
        .post(
            &format!("/console/t/acme/clients/{old_id}/rotate"),
            &[
                ("csrf", &csrf),
                ("form_id", &form_id),
                ("mode", "client"),
                ("grace_days", "7"),
            ],
        )
        .await?;
    assert_eq!(rotated.status, StatusCode::OK, "{}", rotated.body);
    let new_id = rotated.input("reveal-client-id").ok_or("no new id")?;
    assert_ne!(new_id, old_id);
    assert!(rotated.body.contains("keeps issuing tokens"));
    let list = browser
        .get("/console/t/acme/clients?status=expiring")
        .await?;
    assert!(list.body.contains(&old_id));
    assert!(!list.body.contains(&new_id));
    assert!(list.body.contains("expiring"));
    // Seven days after the clock's 2026-12-01 00:00.
    assert!(
        list.body.contains(
            "Expires <time datetime=\"2026-12-08T00:00:00Z\">2026-12-08 00:00 UTC</time>"
        ),
        "{}",
        list.body
    );
    // Revoke now closes the window.
    let ended = browser
        .post(
            &format!("/console/t/acme/clients/{old_id}/end-grace"),
            &[("csrf", &csrf)],
        )
        .await?;
    assert_eq!(ended.status, StatusCode::SEE_OTHER);
    assert_eq!(
        ended.header(header::LOCATION),
        format!("/console/t/acme/clients/{old_id}?done=grace-ended")
    );
    let list = browser
        .get("/console/t/acme/clients?status=expiring")
        .await?;
    assert!(!list.body.contains(&old_id));
    // The audit trail shows both.
    let audit = browser.get("/console/t/acme/audit").await?;
    assert!(
        audit.body.contains("rotate") && audit.body.contains("endgrace"),
        "{}",
        audit.body
    );
    Ok(())
}

#[tokio::test]
async fn delete_needs_the_typed_name() -> TestResult {
    let app = app()?;
    let mut browser = Browser::new(&app, "acme");
    let (page, _) = browser.create("acme", &[("name", "spice-ci")]).await?;
    let id = page.input("reveal-client-id").ok_or("no id")?;
    let csrf = browser.csrf("acme").await?;
    let delete = format!("/console/t/acme/clients/{id}/delete");
    let wrong = browser
        .post(&delete, &[("csrf", &csrf), ("confirm", "spice")])
        .await?;
    assert_eq!(wrong.status, StatusCode::BAD_REQUEST);
    assert!(wrong.body.contains("nothing was deleted"));
    assert_eq!(
        browser
            .get(&format!("/console/t/acme/clients/{id}"))
            .await?
            .status,
        StatusCode::OK
    );
    let right = browser
        .post(&delete, &[("csrf", &csrf), ("confirm", "spice-ci")])
        .await?;
    assert_eq!(right.status, StatusCode::SEE_OTHER);
    assert_eq!(
        browser
            .get(&format!("/console/t/acme/clients/{id}"))
            .await?
            .status,
        StatusCode::NOT_FOUND
    );
    Ok(())
}

#[tokio::test]
async fn deactivate_and_reactivate() -> TestResult {
    let app = app()?;
    let mut browser = Browser::new(&app, "acme");
    let (page, _) = browser.create("acme", &[("name", "b")]).await?;
    let id = page.input("reveal-client-id").ok_or("no id")?;
    let csrf = browser.csrf("acme").await?;
    let status = format!("/console/t/acme/clients/{id}/status");
    assert_eq!(
        browser
            .post(&status, &[("csrf", &csrf), ("to", "inactive")])
            .await?
            .status,
        StatusCode::SEE_OTHER
    );
    let detail = browser
        .get(&format!("/console/t/acme/clients/{id}"))
        .await?;
    assert!(detail.body.contains("badge inactive") && detail.body.contains("Reactivate"));
    assert_eq!(
        browser
            .post(&status, &[("csrf", &csrf), ("to", "active")])
            .await?
            .status,
        StatusCode::SEE_OTHER
    );
    let detail = browser
        .get(&format!("/console/t/acme/clients/{id}"))
        .await?;
    assert!(detail.body.contains("Deactivate"));
    assert_eq!(
        browser
            .post(&status, &[("csrf", &csrf), ("to", "revoked")])
            .await?
            .status,
        StatusCode::BAD_REQUEST
    );
    Ok(())
}

#[tokio::test]
async fn search_filter_and_pages_of_fifty() -> TestResult {
    let app = app()?;
    let actor = Actor::tenant_admin(acme()?, "admin@acme");
    for i in 0..60 {
        app.registry
            .create(&actor, &acme()?, NewClient::named(format!("svc-{i:02}")))
            .await?;
    }
    let mut browser = Browser::new(&app, "acme");
    let first = browser.get("/console/t/acme/clients").await?;
    assert_eq!(first.body.matches("<tr>").count(), 51, "header + 50 rows");
    let start = first
        .body
        .find("rel=\"next\" href=\"")
        .ok_or("no next link")?
        + "rel=\"next\" href=\"".len();
    let end = first
        .body
        .get(start..)
        .and_then(|r| r.find('"'))
        .ok_or("unterminated")?;
    let next = first
        .body
        .get(start..start + end)
        .ok_or("bad link")?
        .replace("&amp;", "&");
    let second = browser.get(&next).await?;
    assert_eq!(second.body.matches("<tr>").count(), 11, "header + 10 rows");
    assert!(!second.body.contains("rel=\"next\""));
    let searched = browser.get("/console/t/acme/clients?q=svc-4").await?;
    assert_eq!(searched.body.matches("<tr>").count(), 11);
    let none = browser
        .get("/console/t/acme/clients?status=revoked")
        .await?;
    assert!(none.body.contains("No clients match."));
    let bad = browser
        .get("/console/t/acme/clients?status=sideways")
        .await?;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    Ok(())
}

#[tokio::test]
async fn a_refused_form_can_be_corrected_and_sent_again() -> TestResult {
    let policy = clientcreds_registry::Policy::default()
        .with_default_grants(clientcreds_registry::Grants::any().with_scopes(["read", "write"]));
    let app = common::app_with(policy)?;
    let mut browser = Browser::new(&app, "acme");
    let form = browser.get("/console/t/acme/clients/new").await?;
    // The tenant's grants are offered as checkboxes.
    assert!(
        form.body
            .contains("type=\"checkbox\" name=\"scopes\" value=\"read\"")
    );
    let csrf = form.field("csrf").ok_or("no csrf")?;
    let form_id = form.field("form_id").ok_or("no form id")?;
    let refused = browser
        .post(
            "/console/t/acme/clients",
            &[
                ("csrf", &csrf),
                ("form_id", &form_id),
                ("name", "x"),
                ("scopes", "admin"),
            ],
        )
        .await?;
    assert_eq!(
        refused.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        refused.body
    );
    let created = browser
        .post(
            "/console/t/acme/clients",
            &[
                ("csrf", &csrf),
                ("form_id", &form_id),
                ("name", "x"),
                ("scopes", "read"),
            ],
        )
        .await?;
    assert_eq!(created.status, StatusCode::OK, "{}", created.body);
    assert!(created.input("reveal-client-secret").is_some());
    Ok(())
}
