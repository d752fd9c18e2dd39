//! Every validation rule of the wizard and the edit forms: a clear 4xx with the message next
//! to the field, the typed values kept, and nothing saved.

use crate::common::*;

/// Walks a fresh wizard up to (not including) `stop_at`, with valid values.
async fn wizard_until(app: &TestApp, stop_at: &str) {
    let (product, _) = plain_and_capable_products(app).await;
    let steps: Vec<(&str, Vec<(&str, &str)>)> = vec![
        ("general", vec![("name", "Valid"), ("action", "next")]),
        ("product", vec![("product_id", product.as_str()), ("action", "next")]),
        ("type", vec![("type", "fulfillment_request_queue"), ("action", "next")]),
        (
            "http",
            vec![
                ("external_url", "https://ok.example.com/"),
                ("jwt_secret", "0123456789abcdef"),
                ("http_method", "POST"),
                ("action", "next"),
            ],
        ),
    ];
    for (step, fields) in steps {
        if step == stop_at {
            return;
        }
        assert_eq!(
            app.post_form(&format!("/webhooks/new/{step}"), &fields).await.status(),
            303,
            "{step}"
        );
    }
}

async fn expect_rejected(app: &TestApp, step: &str, fields: &[(&str, &str)], message: &str, kept: &str) {
    let r = app.post_form(&format!("/webhooks/new/{step}"), fields).await;
    assert_eq!(r.status(), 422, "{step} {fields:?}");
    let html = r.text().await.unwrap();
    assert!(html.contains(message), "message {message:?} for {fields:?}");
    assert!(html.contains("class=\"error\""), "shown next to the field");
    if !kept.is_empty() {
        assert!(html.contains(kept), "typed value kept: {kept:?}");
    }
    let count: i64 = sqlx::query_scalar("select count(*) from webhooks")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(count, 0, "nothing saved");
}

#[tokio::test]
async fn general_step_rules() {
    let app = spawn_app().await;
    app.login_admin().await;
    expect_rejected(
        &app,
        "general",
        &[("name", ""), ("description", "kept text"), ("action", "next")],
        "Enter a name.",
        "kept text",
    )
    .await;
    expect_rejected(
        &app,
        "general",
        &[("name", "   "), ("action", "next")],
        "Enter a name.",
        "",
    )
    .await;
    let long_name = "n".repeat(129);
    expect_rejected(
        &app,
        "general",
        &[("name", &long_name), ("action", "next")],
        "at most 128 characters",
        "",
    )
    .await;
    let long_description = "d".repeat(4001);
    expect_rejected(
        &app,
        "general",
        &[("name", "Fine"), ("description", &long_description), ("action", "next")],
        "at most 4000 characters",
        "value=\"Fine\"",
    )
    .await;
    // The limits themselves are fine.
    let max_name = "n".repeat(128);
    let max_description = "d".repeat(4000);
    assert_eq!(
        app.post_form(
            "/webhooks/new/general",
            &[
                ("name", &max_name),
                ("description", &max_description),
                ("action", "next")
            ]
        )
        .await
        .status(),
        303
    );
}

#[tokio::test]
async fn endpoint_url_rules() {
    let app = spawn_app().await;
    app.login_admin().await;
    wizard_until(&app, "http").await;
    let base = |url: &'static str| {
        vec![
            ("external_url", url),
            ("jwt_secret", "0123456789abcdef"),
            ("http_method", "POST"),
            ("action", "next"),
        ]
    };
    expect_rejected(&app, "http", &base(""), "Enter the endpoint URL", "").await;
    expect_rejected(
        &app,
        "http",
        &base("/relative/path"),
        "not a valid URL",
        "/relative/path",
    )
    .await;
    expect_rejected(
        &app,
        "http",
        &base("ftp://files.example.com/"),
        "absolute http:// or https:// URL",
        "ftp://files.example.com/",
    )
    .await;
    expect_rejected(
        &app,
        "http",
        &base("mailto:someone@example.com"),
        "absolute http:// or https:// URL",
        "",
    )
    .await;
    expect_rejected(
        &app,
        "http",
        &base("https://user:pw@example.com/"),
        "not in the URL",
        "",
    )
    .await;
    let long = format!("https://example.com/{}", "a".repeat(2030));
    let mut fields = base("");
    fields[0].1 = &long;
    expect_rejected(&app, "http", &fields, "at most 2048 characters", "").await;
    // Addresses a call would refuse are refused here already, DNS included, saying why.
    for (url, why) in [
        ("http://192.168.1.20/hook", "192.168.1.20 is a private address"),
        ("http://127.0.0.1:8080/", "127.0.0.1 is a loopback address"),
        ("http://169.254.169.254/latest/meta-data", "a cloud metadata address"),
        ("http://[::1]/", "::1 is a loopback address"),
        ("http://localhost:9000/hook", "localhost resolves to"),
    ] {
        expect_rejected(&app, "http", &base(url), why, url).await;
    }
    // A host that does not resolve now is accepted, with a warning on the next step.
    let r = app
        .post_form("/webhooks/new/http", &base("https://not-yet-in-dns.invalid/hook"))
        .await;
    assert_eq!(r.status(), 303);
    let data = app.get_html("/webhooks/new/data").await;
    assert!(data.contains("id=\"endpoint-note\"") && data.contains("not-yet-in-dns.invalid could not be found"));
}

#[tokio::test]
async fn an_allow_listed_network_is_accepted_and_edits_are_checked_like_the_wizard() {
    let app = spawn_app_with(&[("PORTAL_ENDPOINT_ALLOWLIST", "127.0.0.0/8")]).await;
    app.login_admin().await;
    wizard_until(&app, "http").await;
    let r = app
        .post_form(
            "/webhooks/new/http",
            &[
                ("external_url", "http://127.0.0.1:9/hook"),
                ("jwt_secret", "0123456789abcdef"),
                ("http_method", "POST"),
                ("action", "next"),
            ],
        )
        .await;
    assert_eq!(r.status(), 303, "allow-listed loopback is accepted");

    let (product, _) = plain_and_capable_products(&app).await;
    let id = insert_webhook(&app, &app.vendor_account_id, &product, "Edited", true).await;
    let edit = |url: &'static str| {
        vec![
            ("external_url", url),
            ("jwt_secret", "0123456789abcdef"),
            ("http_method", "POST"),
            ("payload_format", "json"),
            ("action", "save"),
        ]
    };
    let r = app
        .post_form(&format!("/webhooks/{id}/edit/http"), &edit("http://10.9.8.7/"))
        .await;
    assert_eq!(r.status(), 422);
    let html = r.text().await.unwrap();
    assert!(html.contains("10.9.8.7 is a private address") && html.contains("http://10.9.8.7/"));
    let saved: String = sqlx::query_scalar("select external_url from webhooks where id = $1")
        .bind(&id)
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_ne!(saved, "http://10.9.8.7/", "nothing saved");
    let r = app
        .post_form(
            &format!("/webhooks/{id}/edit/http"),
            &edit("https://later.invalid/hook"),
        )
        .await;
    assert_eq!(r.status(), 303);
    let page = app.get_html(&location(&r)).await;
    assert!(
        page.contains("About the endpoint: later.invalid could not be found"),
        "warned"
    );
}

#[tokio::test]
async fn jwt_secret_and_method_rules() {
    let app = spawn_app().await;
    app.login_admin().await;
    wizard_until(&app, "http").await;
    let short = "s".repeat(15);
    expect_rejected(
        &app,
        "http",
        &[
            ("external_url", "https://kept.example.com/"),
            ("jwt_secret", &short),
            ("http_method", "POST"),
            ("action", "next"),
        ],
        "at least 16 characters",
        "https://kept.example.com/",
    )
    .await;
    let long = "s".repeat(257);
    expect_rejected(
        &app,
        "http",
        &[
            ("external_url", "https://ok.example.com/"),
            ("jwt_secret", &long),
            ("http_method", "POST"),
            ("action", "next"),
        ],
        "at most 256 characters",
        "",
    )
    .await;
    expect_rejected(
        &app,
        "http",
        &[
            ("external_url", "https://ok.example.com/"),
            ("jwt_secret", "0123456789abcdef"),
            ("http_method", "DELETE"),
            ("action", "next"),
        ],
        "Choose GET, POST or PUT.",
        "",
    )
    .await;
    expect_rejected(
        &app,
        "http",
        &[
            ("external_url", "https://ok.example.com/"),
            ("jwt_secret", "0123456789abcdef"),
            ("http_method", "POST"),
            ("payload_format", "yaml"),
            ("action", "next"),
        ],
        "Choose JSON, Form or XML.",
        "",
    )
    .await;
    let exact_min = "s".repeat(16);
    assert_eq!(
        app.post_form(
            "/webhooks/new/http",
            &[
                ("external_url", "https://ok.example.com/"),
                ("jwt_secret", &exact_min),
                ("http_method", "GET"),
                ("action", "next")
            ]
        )
        .await
        .status(),
        303
    );
}

#[tokio::test]
async fn header_rules() {
    let app = spawn_app().await;
    app.login_admin().await;
    wizard_until(&app, "http").await;
    let with_header = |name: String, value: String| {
        vec![
            ("external_url".to_string(), "https://ok.example.com/".to_string()),
            ("jwt_secret".to_string(), "0123456789abcdef".to_string()),
            ("http_method".to_string(), "POST".to_string()),
            ("header_name".to_string(), name),
            ("header_value".to_string(), value),
            ("action".to_string(), "next".to_string()),
        ]
    };
    let cases: Vec<(String, String, &str)> = vec![
        ("Bad Name".into(), "v".into(), "Header names may only use"),
        ("X-Ünicode".into(), "v".into(), "Header names may only use"),
        (
            "X-Long-".to_string() + &"a".repeat(125),
            "v".into(),
            "at most 128 characters",
        ),
        ("X-Value".into(), "v".repeat(2049), "at most 2048 characters"),
        (
            "X-Crlf".into(),
            "a\r\nInjected: yes".into(),
            "Line breaks and NUL characters are not allowed.",
        ),
        (
            "X-Lf".into(),
            "a\nb".into(),
            "Line breaks and NUL characters are not allowed.",
        ),
        (
            "X-Nul".into(),
            "a\0b".into(),
            "Line breaks and NUL characters are not allowed.",
        ),
        ("".into(), "value without a name".into(), "Enter a header name."),
        ("Authorization".into(), "Bearer x".into(), "set by the portal"),
        ("content-type".into(), "text/plain".into(), "set by the portal"),
        ("Content-Length".into(), "1".into(), "set by the portal"),
        ("Host".into(), "evil.example".into(), "set by the portal"),
        ("Transfer-Encoding".into(), "chunked".into(), "set by the portal"),
    ];
    for (name, value, message) in cases {
        let fields = with_header(name.clone(), value);
        let refs: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        expect_rejected(&app, "http", &refs, message, "").await;
    }
    // Duplicates and more than 20 headers.
    let mut fields = with_header("X-Dup".into(), "1".into());
    fields.push(("header_name".into(), "x-dup".into()));
    fields.push(("header_value".into(), "2".into()));
    let refs: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    expect_rejected(&app, "http", &refs, "already listed", "").await;
    let mut many: Vec<(String, String)> = with_header("X-H0".into(), "v".into());
    for i in 1..21 {
        many.push(("header_name".into(), format!("X-H{i}")));
        many.push(("header_value".into(), "v".into()));
    }
    let refs: Vec<(&str, &str)> = many.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    expect_rejected(&app, "http", &refs, "at most 20 headers", "").await;
    // Twenty is fine.
    let mut twenty = with_header("X-H0".into(), "v".into());
    for i in 1..20 {
        twenty.push(("header_name".into(), format!("X-H{i}")));
        twenty.push(("header_value".into(), "v".into()));
    }
    let refs: Vec<(&str, &str)> = twenty.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    assert_eq!(app.post_form("/webhooks/new/http", &refs).await.status(), 303);
}

#[tokio::test]
async fn additional_data_rules() {
    let app = spawn_app().await;
    app.login_admin().await;
    wizard_until(&app, "data").await;
    expect_rejected(
        &app,
        "data",
        &[("data", "[1, 2, 3]"), ("action", "create")],
        "Enter a JSON object",
        "[1, 2, 3]",
    )
    .await;
    expect_rejected(
        &app,
        "data",
        &[("data", "\"just a string\""), ("action", "create")],
        "Enter a JSON object",
        "",
    )
    .await;
    expect_rejected(
        &app,
        "data",
        &[("data", "{\"unclosed\": "), ("action", "create")],
        "not valid JSON",
        "{&#34;unclosed&#34;: ",
    )
    .await;
    let big = format!("{{\"blob\": \"{}\"}}", "x".repeat(64 * 1024));
    expect_rejected(
        &app,
        "data",
        &[("data", &big), ("action", "create")],
        "at most 64 KiB",
        "",
    )
    .await;
    // Empty means {}.
    let r = app
        .post_form("/webhooks/new/data", &[("data", ""), ("action", "create")])
        .await;
    assert_eq!(r.status(), 303);
}

#[tokio::test]
async fn oversized_and_malformed_bodies_get_4xx_not_500() {
    let app = spawn_app().await;
    app.login_admin().await;
    let csrf = app.csrf().await;
    // Far over every limit.
    let huge = "x".repeat(2 * 1024 * 1024);
    let r = app
        .client
        .post(app.url("/webhooks/new/general"))
        .header("X-CSRF-Token", &csrf)
        .form(&[("name", huge.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 413);
    // Not a form at all.
    let r = app
        .client
        .post(app.url("/webhooks/new/general"))
        .header("X-CSRF-Token", &csrf)
        .header("Content-Type", "application/json")
        .body("{\"name\": 1}")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    // Garbage percent-encoding is just missing fields.
    let r = app
        .client
        .post(app.url("/webhooks/new/general"))
        .header("X-CSRF-Token", &csrf)
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body("name=%ZZ%&&=&action=next")
        .send()
        .await
        .unwrap();
    assert!(
        r.status().is_client_error() || r.status().is_redirection(),
        "{}",
        r.status()
    );
    // Unknown step.
    assert_eq!(app.get("/webhooks/new/nonsense").await.status(), 404);
}

/// (section, fields, expected message, typed value kept)
type EditCase = (
    &'static str,
    Vec<(&'static str, &'static str)>,
    &'static str,
    &'static str,
);

#[tokio::test]
async fn edit_forms_apply_the_same_rules_and_keep_typed_values() {
    let app = spawn_app().await;
    app.login_admin().await;
    let (product, _) = plain_and_capable_products(&app).await;
    let id = create_via_wizard(&app, "Editable", &product, "listing_request", "POST", "{}").await;
    let cases: Vec<EditCase> = vec![
        (
            "general",
            vec![("name", ""), ("description", "still here")],
            "Enter a name.",
            "still here",
        ),
        (
            "http",
            vec![
                ("external_url", "ftp://x.example.com/"),
                ("jwt_secret", "0123456789abcdef"),
                ("http_method", "POST"),
            ],
            "absolute http:// or https:// URL",
            "ftp://x.example.com/",
        ),
        (
            "http",
            vec![
                ("external_url", "https://ok.example.com/"),
                ("jwt_secret", "short"),
                ("http_method", "POST"),
            ],
            "at least 16 characters",
            "",
        ),
        (
            "http",
            vec![
                ("external_url", "https://ok.example.com/"),
                ("jwt_secret", "0123456789abcdef"),
                ("http_method", "POST"),
                ("header_name", "Host"),
                ("header_value", "x"),
            ],
            "set by the portal",
            "value=\"Host\"",
        ),
        ("data", vec![("data", "[]")], "Enter a JSON object", "[]"),
    ];
    for (section, fields, message, kept) in cases {
        let mut all = fields.clone();
        all.push(("action", "save"));
        let r = app.post_form(&format!("/webhooks/{id}/edit/{section}"), &all).await;
        assert_eq!(r.status(), 422, "{section}");
        let html = r.text().await.unwrap();
        assert!(html.contains(message), "{message}");
        if !kept.is_empty() {
            assert!(html.contains(kept), "{kept}");
        }
    }
    let (label, url, data): (String, String, serde_json::Value) =
        sqlx::query_as("select label, external_url, data from webhooks where id = $1")
            .bind(&id)
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(
        (label.as_str(), url.as_str(), data),
        ("Editable", "https://handler.example.com/hook", serde_json::json!({})),
        "nothing changed"
    );
}
