//! Input Postgres cannot store (NUL characters) and other hostile values get a clear 4xx,
//! never a 500, and change nothing.

use crate::common::*;

#[tokio::test]
async fn nul_characters_never_cause_a_server_error() {
    let app = spawn_app().await;
    // Sign-in with a NUL in the e-mail: just a wrong login.
    let page = app.get_html("/login").await;
    let csrf = csrf_from(&page).unwrap();
    let r = app
        .client
        .post(app.url("/login"))
        .form(&[
            ("csrf_token", csrf.as_str()),
            ("email", "admin\0@frontstreet.example"),
            ("password", "x"),
        ])
        .send()
        .await
        .unwrap();
    assert!(
        r.status().is_client_error() || r.status().is_redirection(),
        "{}",
        r.status()
    );
    app.login_admin().await;
    assert_eq!(app.get("/webhooks?q=a%00b&product=P%00").await.status(), 200);
    // Form fields with a NUL are refused next to the field.
    let r = app
        .post_form(
            "/webhooks/new/general",
            &[("name", "Nul\0name"), ("description", "d\0"), ("action", "next")],
        )
        .await;
    assert_eq!(r.status(), 422);
    assert!(r.text().await.unwrap().contains("NUL characters are not allowed."));
    let r = app.post_form("/tokens", &[("name", "t\0")]).await;
    assert_eq!(r.status(), 422);
    // JSON data with \u0000 is refused next to the field.
    let (product, _) = plain_and_capable_products(&app).await;
    let id = create_via_wizard(&app, "Data", &product, "listing_request", "POST", "{}").await;
    let r = app
        .post_form(
            &format!("/webhooks/{id}/edit/data"),
            &[("data", r#"{"a": "\u0000"}"#), ("action", "save")],
        )
        .await;
    assert_eq!(r.status(), 422);
    assert!(r.text().await.unwrap().contains("NUL characters"));
    assert_eq!(app.post_form("/tokens/SU-%00/revoke", &[]).await.status(), 404);

    let key = app.api_key("NUL").await;
    let client = reqwest::Client::new();
    let api = app.url("/public/v1");
    let r = client
        .post(format!("{api}/notifications/webhooks"))
        .header("Authorization", &key)
        .header("Content-Type", "application/json")
        .body(r#"{"label": "a\u0000b"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let r = client
        .get(format!("{api}/notifications/webhooks?eq(label,a%00b)"))
        .header("Authorization", &key)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let r = client
        .get(format!("{api}/requests/PR-%00"))
        .header("Authorization", &key)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    let label: String = sqlx::query_scalar("select label from webhooks where id = $1")
        .bind(&id)
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(label, "Data");
}

#[tokio::test]
async fn an_empty_out_of_order_filter_says_no_match() {
    let app = spawn_app().await;
    app.login_admin().await;
    let (product, _) = plain_and_capable_products(&app).await;
    insert_webhook(&app, &app.vendor_account_id, &product, "Healthy", true).await;
    let html = app.get_html("/webhooks?status=out_of_order").await;
    assert!(html.contains("No webhooks match these filters"));
}
