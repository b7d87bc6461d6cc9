//! The reference server's console sign-in over plain HTTP: the session
//! cookie's attributes, wrong tokens, sign-out, and the expiry-warning link
//! opening the client's console page.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::net::SocketAddr;

use clientcreds_registry::{Actor, NewClient};
use clientcreds_server::{Config, Server};
use clientcreds_store::TenantId;
use reqwest::StatusCode;
use reqwest::header::{CACHE_CONTROL, COOKIE, LOCATION, SET_COOKIE};

const ACME: &str = "sign-in-acme-token-0123456789abcdef01234";

async fn serve(config: Config, listener: tokio::net::TcpListener) -> Server {
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
    server
}

fn no_redirects() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

#[tokio::test]
async fn sign_in_gives_a_strict_session_cookie_and_the_warning_link_opens_the_client() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let mut config = Config::for_addr(addr);
    config.tenant_admins = vec![(
        TenantId::new("acme").unwrap(),
        zeroize::Zeroizing::new(ACME.into()),
    )];
    let link_template = config.warning_link.replace("{issuer}", &config.issuer);
    let server = serve(config, listener).await;
    let base = format!("http://{addr}");
    let http = no_redirects();

    // Not signed in: the console sends the browser to the sign-in page.
    let response = http.get(format!("{base}/console")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(response.headers()[LOCATION], "/console/sign-in");
    let page = http
        .get(format!("{base}/console/sign-in"))
        .send()
        .await
        .unwrap();
    assert_eq!(page.headers()[CACHE_CONTROL], "no-store");
    assert!(page.text().await.unwrap().contains("type=\"password\""));

    // A wrong token: 401, no cookie.
    let wrong = http
        .post(format!("{base}/console/sign-in"))
        .form(&[("token", "not-a-token-of-anybody-0123456789abcdef")])
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    assert!(wrong.headers().get(SET_COOKIE).is_none());

    // The right one: a session cookie, HttpOnly, SameSite=Strict, scoped
    // to the console, not Secure on plain HTTP.
    let signed_in = http
        .post(format!("{base}/console/sign-in"))
        .form(&[("token", ACME)])
        .send()
        .await
        .unwrap();
    assert_eq!(signed_in.status(), StatusCode::SEE_OTHER);
    let cookie = signed_in.headers()[SET_COOKIE].to_str().unwrap().to_owned();
    assert!(cookie.starts_with("clientcreds_session="), "{cookie}");
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"),
        "{cookie}"
    );
    assert!(
        cookie.contains("Path=/console") && !cookie.contains("Secure"),
        "{cookie}"
    );
    assert!(!cookie.contains(ACME), "the token is not the session id");
    let session = cookie.split(';').next().unwrap().to_owned();

    // The expiry-warning e-mail's link opens the client's console page.
    let tenant = TenantId::new("acme").unwrap();
    let actor = Actor::tenant_admin(tenant.clone(), "admin@acme");
    let issued = server
        .registry()
        .create(&actor, &tenant, NewClient::named("breeze-sync"))
        .await
        .unwrap();
    let link = link_template
        .replace("{tenant}", "acme")
        .replace("{client_id}", &issued.client.client_id);
    assert!(
        link.starts_with(&format!("{base}/console/t/acme/clients/")),
        "{link}"
    );
    let page = http
        .get(&link)
        .header(COOKIE, &session)
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    assert!(page.text().await.unwrap().contains("breeze-sync"));

    // Signing out ends the session on the server, not only in the browser.
    let out = http
        .post(format!("{base}/console/sign-out"))
        .header(COOKIE, &session)
        .send()
        .await
        .unwrap();
    assert_eq!(out.status(), StatusCode::SEE_OTHER);
    assert!(
        out.headers()[SET_COOKIE]
            .to_str()
            .unwrap()
            .contains("Max-Age=0")
    );
    let after = http
        .get(&link)
        .header(COOKIE, &session)
        .send()
        .await
        .unwrap();
    assert_eq!(after.status(), StatusCode::SEE_OTHER);
    assert_eq!(after.headers()[LOCATION], "/console/sign-in");
}

#[tokio::test]
async fn behind_https_the_session_cookie_is_secure() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let mut config = Config::for_addr(listener.local_addr().unwrap());
    config.issuer = "https://auth.example.com".into();
    config.tenant_admins = vec![(
        TenantId::new("acme").unwrap(),
        zeroize::Zeroizing::new(ACME.into()),
    )];
    let addr = listener.local_addr().unwrap();
    let _server = serve(config, listener).await;
    let response = no_redirects()
        .post(format!("http://{addr}/console/sign-in"))
        .form(&[("token", ACME)])
        .send()
        .await
        .unwrap();
    let cookie = response.headers()[SET_COOKIE].to_str().unwrap();
    assert!(cookie.contains("; Secure"), "{cookie}");
}

#[tokio::test]
async fn repeated_wrong_tokens_are_throttled_and_the_right_one_still_works() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let mut config = Config::for_addr(addr);
    config.tenant_admins = vec![(
        TenantId::new("acme").unwrap(),
        zeroize::Zeroizing::new(ACME.into()),
    )];
    let _server = serve(config, listener).await;
    let http = no_redirects();
    let sign_in = |token: &'static str| {
        let http = http.clone();
        async move {
            http.post(format!("http://{addr}/console/sign-in"))
                .form(&[("token", token)])
                .send()
                .await
                .unwrap()
                .status()
        }
    };
    let mut statuses = Vec::new();
    for _ in 0..12 {
        statuses.push(sign_in("the-same-wrong-token-0123456789abcdef").await);
    }
    assert_eq!(statuses[0], StatusCode::UNAUTHORIZED);
    assert_eq!(statuses[11], StatusCode::TOO_MANY_REQUESTS, "{statuses:?}");
    assert_eq!(sign_in(ACME).await, StatusCode::SEE_OTHER);
}
