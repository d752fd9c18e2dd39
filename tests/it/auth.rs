//! Sign-in, sign-out, sessions, throttling, CSRF and the headers every page carries.

use crate::common::*;

#[tokio::test]
async fn admin_signs_in_and_sees_the_webhooks_page() {
    let app = spawn_app().await;
    let r = app.login(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    assert_eq!(r.status(), 303);
    assert_eq!(location(&r), "/webhooks");
    let html = app.get_html("/webhooks").await;
    assert!(html.contains("Front Street Inc."), "account name in the header");
    assert!(html.contains("Vendor"), "account type in the header");
    assert!(html.contains("Robert Balboa"));
    assert!(html.contains("No webhooks yet"), "empty state");
    assert!(
        html.contains("href=\"/webhooks/new\""),
        "empty state leads to the wizard"
    );
}

#[tokio::test]
async fn wrong_password_and_unknown_email_get_the_same_message() {
    let app = spawn_app().await;
    let wrong = app.login(ADMIN_EMAIL, "not-the-password").await;
    assert_eq!(wrong.status(), 401);
    let wrong_html = wrong.text().await.unwrap();
    let unknown = app.login("nobody@example.com", "not-the-password").await;
    assert_eq!(unknown.status(), 401);
    let unknown_html = unknown.text().await.unwrap();
    assert!(wrong_html.contains("Incorrect email or password."));
    assert!(unknown_html.contains("Incorrect email or password."));
    assert!(
        wrong_html.contains("value=\"admin@frontstreet.example\""),
        "typed e-mail kept"
    );
    // Still signed out.
    let r = app.get("/webhooks").await;
    assert_eq!(r.status(), 303);
}

#[tokio::test]
async fn five_failures_for_one_email_throttle_it_with_429() {
    let app = spawn_app().await;
    for _ in 0..5 {
        assert_eq!(app.login(ADMIN_EMAIL, "wrong-password").await.status(), 401);
    }
    // Even the right password is refused while throttled.
    let r = app.login(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    assert_eq!(r.status(), 429);
    assert!(r.headers().get("retry-after").is_some());
    let html = r.text().await.unwrap();
    assert!(
        html.contains("Too many failed sign-in attempts. Try again in"),
        "{html}"
    );
    // Another user is not affected.
    assert_eq!(app.login(VIEWER_EMAIL, OTHER_PASSWORD).await.status(), 303);
}

#[tokio::test]
async fn twenty_failures_from_one_ip_throttle_it() {
    let app = spawn_app().await;
    for i in 0..20 {
        let r = app.login(&format!("user{i}@example.com"), "wrong-password").await;
        assert_eq!(r.status(), 401);
    }
    assert_eq!(app.login(VIEWER_EMAIL, OTHER_PASSWORD).await.status(), 429);
}

#[tokio::test]
async fn a_success_resets_the_email_failure_count() {
    let app = spawn_app().await;
    for _ in 0..4 {
        app.login(ADMIN_EMAIL, "wrong-password").await;
    }
    assert_eq!(app.login(ADMIN_EMAIL, ADMIN_PASSWORD).await.status(), 303);
    let fresh = TestAppClient::new(&app);
    assert_eq!(fresh.login(ADMIN_EMAIL, "wrong-password").await, 401);
    assert_eq!(fresh.login(ADMIN_EMAIL, ADMIN_PASSWORD).await, 303);
}

/// A second browser against the same app.
struct TestAppClient<'a> {
    app: &'a TestApp,
    client: reqwest::Client,
}

impl<'a> TestAppClient<'a> {
    fn new(app: &'a TestApp) -> Self {
        TestAppClient {
            app,
            client: new_client(),
        }
    }
    async fn login(&self, email: &str, password: &str) -> u16 {
        let page = self
            .client
            .get(self.app.url("/login"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let csrf = csrf_from(&page).unwrap();
        self.client
            .post(self.app.url("/login"))
            .form(&[("csrf_token", csrf.as_str()), ("email", email), ("password", password)])
            .send()
            .await
            .unwrap()
            .status()
            .as_u16()
    }
}

#[tokio::test]
async fn logout_ends_the_session() {
    let app = spawn_app().await;
    app.login_admin().await;
    assert_eq!(app.get("/webhooks").await.status(), 200);
    let r = app.post_form("/logout", &[]).await;
    assert_eq!(r.status(), 303);
    assert_eq!(location(&r), "/login");
    let login = app.get_html("/login").await;
    assert!(login.contains("You have signed out."));
    assert_eq!(app.get("/webhooks").await.status(), 303);
}

#[tokio::test]
async fn protected_pages_redirect_to_login_and_back() {
    let app = spawn_app().await;
    for path in [
        "/",
        "/webhooks",
        "/webhooks?status=enabled",
        "/webhooks/new",
        "/webhooks/WH-111-222-333",
    ] {
        let r = app.get(path).await;
        assert_eq!(r.status(), 303, "{path}");
        assert!(location(&r).starts_with("/login?next="), "{path} → {}", location(&r));
    }
    // The next parameter brings the user back after sign-in.
    let page = app.get_html("/login?next=%2Fwebhooks%3Fstatus%3Denabled").await;
    assert!(page.contains("value=\"/webhooks?status=enabled\""));
    let csrf = csrf_from(&page).unwrap();
    let r = app
        .client
        .post(app.url("/login"))
        .form(&[
            ("csrf_token", csrf.as_str()),
            ("email", ADMIN_EMAIL),
            ("password", ADMIN_PASSWORD),
            ("next", "/webhooks?status=enabled"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(location(&r), "/webhooks?status=enabled");
    // htmx requests get HX-Redirect instead of a 303 they cannot follow as a page.
    let anon = new_client();
    let r = anon
        .get(app.url("/webhooks"))
        .header("HX-Request", "true")
        .send()
        .await
        .unwrap();
    assert!(r
        .headers()
        .get("hx-redirect")
        .unwrap()
        .to_str()
        .unwrap()
        .starts_with("/login"));
    // Public paths stay public.
    assert_eq!(anon.get(app.url("/healthz")).send().await.unwrap().status(), 200);
    assert_eq!(anon.get(app.url("/static/app.css")).send().await.unwrap().status(), 200);
    assert_eq!(
        anon.get(app.url("/static/htmx.min.js")).send().await.unwrap().status(),
        200
    );
}

#[tokio::test]
async fn open_redirects_are_refused() {
    let app = spawn_app().await;
    for evil in [
        "https://evil.example/",
        "//evil.example",
        "/\\evil.example",
        "javascript:alert(1)",
        "/\t/evil.example",
    ] {
        let client = new_client();
        let page = client
            .get(app.url("/login"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let csrf = csrf_from(&page).unwrap();
        let r = client
            .post(app.url("/login"))
            .form(&[
                ("csrf_token", csrf.as_str()),
                ("email", ADMIN_EMAIL),
                ("password", ADMIN_PASSWORD),
                ("next", evil),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 303);
        assert_eq!(location(&r), "/webhooks", "next={evil}");
    }
}

#[tokio::test]
async fn state_changes_without_a_valid_csrf_token_get_403() {
    let app = spawn_app().await;
    // Login form without a token.
    let r = app
        .client
        .post(app.url("/login"))
        .form(&[("email", ADMIN_EMAIL), ("password", ADMIN_PASSWORD)])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    let html = r.text().await.unwrap();
    assert!(html.contains("Form expired"), "a clear page: {html}");
    app.login_admin().await;
    // Missing token.
    let r = app
        .client
        .post(app.url("/logout"))
        .form(&[("x", "y")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    // Wrong token, as a form field and as the htmx header.
    let r = app
        .client
        .post(app.url("/logout"))
        .form(&[("csrf_token", "forged")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    let r = app
        .client
        .post(app.url("/logout"))
        .header("X-CSRF-Token", "forged")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    // JSON bodies can't carry the form field.
    let r = app
        .client
        .post(app.url("/logout"))
        .json(&serde_json::json!({"csrf_token": "x"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    // Still signed in: nothing happened.
    assert_eq!(app.get("/webhooks").await.status(), 200);
    // The htmx header with the right token works.
    let token = app.csrf().await;
    let r = app
        .client
        .post(app.url("/logout"))
        .header("X-CSRF-Token", token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
}

#[tokio::test]
async fn session_cookie_flags_and_id_cycling() {
    let app = spawn_app().await;
    let r = app.get("/login").await;
    let before = r
        .headers()
        .get("set-cookie")
        .expect("login page sets a session cookie")
        .to_str()
        .unwrap()
        .to_string();
    assert!(before.contains("HttpOnly"), "{before}");
    assert!(before.contains("SameSite=Lax"), "{before}");
    assert!(!before.contains("Secure"), "plain http: no Secure flag: {before}");
    let csrf = csrf_from(&r.text().await.unwrap()).unwrap();
    let r = app
        .client
        .post(app.url("/login"))
        .form(&[
            ("csrf_token", csrf.as_str()),
            ("email", ADMIN_EMAIL),
            ("password", ADMIN_PASSWORD),
        ])
        .send()
        .await
        .unwrap();
    let after = r
        .headers()
        .get("set-cookie")
        .expect("sign-in sets a new cookie")
        .to_str()
        .unwrap()
        .to_string();
    let id = |c: &str| c.split(';').next().unwrap().to_string();
    assert_ne!(id(&before), id(&after), "session id is cycled at sign-in");
}

#[tokio::test]
async fn cookies_are_secure_when_served_over_https() {
    let app = spawn_app_with(&[("PUBLIC_URL", "https://portal.example.com")]).await;
    let r = app.get("/login").await;
    let cookie = r.headers().get("set-cookie").unwrap().to_str().unwrap();
    assert!(cookie.contains("Secure"), "{cookie}");
}

#[tokio::test]
async fn every_page_carries_security_headers() {
    let app = spawn_app().await;
    for path in ["/login", "/webhooks", "/healthz", "/static/app.css", "/no-such-page"] {
        let r = app.get(path).await;
        let h = r.headers();
        let csp = h
            .get("content-security-policy")
            .unwrap_or_else(|| panic!("CSP on {path}"))
            .to_str()
            .unwrap();
        assert!(
            csp.contains("script-src 'self'") && !csp.contains("unsafe-inline"),
            "{csp}"
        );
        assert!(csp.contains("frame-ancestors 'none'"));
        assert_eq!(h.get("x-content-type-options").unwrap(), "nosniff");
        assert_eq!(h.get("x-frame-options").unwrap(), "DENY");
        assert!(h.get("referrer-policy").is_some());
    }
}

#[tokio::test]
async fn pages_have_no_inline_script() {
    let app = spawn_app().await;
    let login = app.get_html("/login").await;
    app.login_admin().await;
    let list = app.get_html("/webhooks").await;
    for html in [login, list] {
        for (i, _) in html.match_indices("<script") {
            let tag = &html[i..i + html[i..].find('>').unwrap()];
            assert!(tag.contains("src="), "inline script: {tag}");
        }
    }
}

#[tokio::test]
async fn healthz_checks_the_database() {
    let app = spawn_app().await;
    let r = app.get("/healthz").await;
    assert_eq!(r.status(), 200);
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["database"], "ok");
}

#[tokio::test]
async fn unknown_pages_get_a_404_page() {
    let app = spawn_app().await;
    app.login_admin().await;
    let r = app.get("/no-such-page").await;
    assert_eq!(r.status(), 404);
    assert!(r.text().await.unwrap().contains("Not found"));
}
