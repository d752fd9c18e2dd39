//! The five-step creation wizard, with plain form posts and as htmx drives it.

use crate::common::*;
use serde_json::json;

#[tokio::test]
async fn a_post_webhook_is_created_through_the_five_steps() {
    let app = spawn_app().await;
    app.login_admin().await;
    let (product, _) = plain_and_capable_products(&app).await;

    // Step 1 is where a new wizard starts.
    let r = app.get("/webhooks/new").await;
    assert_eq!(location(&r), "/webhooks/new/general");
    let html = app.get_html("/webhooks/new/general").await;
    assert!(html.contains("Create webhook – Step 1"));
    assert!(
        html.contains("keep the switch disabled"),
        "the article's note on Enabled"
    );
    assert!(
        !html.contains("name=\"enabled\" type=\"checkbox\" value=\"on\" checked"),
        "Enabled defaults to off"
    );
    assert!(
        html.contains("for=\"name\"") && html.contains("id=\"name\""),
        "labels are tied to inputs"
    );

    let id = create_via_wizard(
        &app,
        "Tutorial Webhook",
        &product,
        "fulfillment_request_queue",
        "POST",
        r#"{"purpose": "demo", "audience": "partners"}"#,
    )
    .await;
    assert!(webhook_portal::ids::has_shape(&id, "WH", 3), "{id}");

    let row: (String, String, String, bool, String, String, serde_json::Value, serde_json::Value, String) = sqlx::query_as(
        "select label, object_class, type, active, external_url, http_method, headers, data, product_id from webhooks where id = $1",
    )
    .bind(&id)
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(row.0, "Tutorial Webhook");
    assert_eq!((row.1.as_str(), row.2.as_str()), ("fulfillment_request", "event"));
    assert!(row.3);
    assert_eq!(row.4, "https://handler.example.com/hook");
    assert_eq!(row.5, "POST");
    assert_eq!(row.6, json!([["X-Custom-Header", "Connect"]]));
    assert_eq!(row.7, json!({"purpose": "demo", "audience": "partners"}));
    assert_eq!(row.8, product);

    let details = app.get_html(&format!("/webhooks/{id}")).await;
    assert!(
        details.contains("Webhook “Tutorial Webhook” created"),
        "confirmation flash"
    );
    assert!(details.contains("Subscription — Fulfillment Requests — Queue Changes"));
    // The draft is gone: a new wizard starts empty at step 1.
    let r = app.get("/webhooks/new").await;
    assert_eq!(location(&r), "/webhooks/new/general");
    assert!(!app.get_html("/webhooks/new/general").await.contains("Tutorial Webhook"));
}

#[tokio::test]
async fn a_get_webhook_skips_additional_data() {
    let app = spawn_app().await;
    app.login_admin().await;
    let (product, _) = plain_and_capable_products(&app).await;
    for (step, fields) in [
        ("general", vec![("name", "GET hook"), ("action", "next")]),
        ("product", vec![("product_id", product.as_str()), ("action", "next")]),
        ("type", vec![("type", "usage_file_queue"), ("action", "next")]),
        (
            "http",
            vec![
                ("external_url", "http://handler.example.com/"),
                ("jwt_secret", "0123456789abcdef"),
                ("http_method", "GET"),
                ("action", "next"),
            ],
        ),
    ] {
        assert_eq!(
            app.post_form(&format!("/webhooks/new/{step}"), &fields).await.status(),
            303
        );
    }
    let step5 = app.get_html("/webhooks/new/data").await;
    assert!(
        step5.contains("Additional data is sent only with the POST and PUT methods"),
        "the step says it is not used"
    );
    assert!(!step5.contains("name=\"data\""));
    let r = app.post_form("/webhooks/new/data", &[("action", "create")]).await;
    assert_eq!(r.status(), 303);
    let id = location(&r).trim_start_matches("/webhooks/").to_string();
    let (method, data, active): (String, serde_json::Value, bool) =
        sqlx::query_as("select http_method, data, active from webhooks where id = $1")
            .bind(&id)
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(method, "GET");
    assert_eq!(data, json!({}));
    assert!(!active, "Enabled defaults to off");
}

#[tokio::test]
async fn back_and_next_keep_everything_typed() {
    let app = spawn_app().await;
    app.login_admin().await;
    let (product, _) = plain_and_capable_products(&app).await;
    app.post_form(
        "/webhooks/new/general",
        &[
            ("name", "Kept name"),
            ("description", "Kept description"),
            ("enabled", "on"),
            ("action", "next"),
        ],
    )
    .await;
    app.post_form("/webhooks/new/product", &[("product_id", &product), ("action", "next")])
        .await;
    // Back from step 3 (nothing chosen yet) to step 2: the product is still selected.
    let r = app
        .post_form("/webhooks/new/type", &[("type", "listing_request"), ("action", "back")])
        .await;
    assert_eq!(location(&r), "/webhooks/new/product");
    let html = app.get_html("/webhooks/new/product").await;
    assert!(html.contains(&format!("value=\"{product}\" checked")), "product kept");
    // Back again: step 1 shows what was typed.
    let r = app
        .post_form("/webhooks/new/product", &[("product_id", &product), ("action", "back")])
        .await;
    assert_eq!(location(&r), "/webhooks/new/general");
    let html = app.get_html("/webhooks/new/general").await;
    assert!(html.contains("value=\"Kept name\""));
    assert!(html.contains("Kept description"));
    assert!(html.contains("checked"), "Enabled kept");
    // Forward again: the type typed before going back is still chosen.
    app.post_form(
        "/webhooks/new/general",
        &[
            ("name", "Kept name"),
            ("description", "Kept description"),
            ("enabled", "on"),
            ("action", "next"),
        ],
    )
    .await;
    app.post_form("/webhooks/new/product", &[("product_id", &product), ("action", "next")])
        .await;
    let html = app.get_html("/webhooks/new/type").await;
    assert!(html.contains("value=\"listing_request\" checked"));
    // The HTTP step's values survive Back too, including the secret and headers.
    app.post_form("/webhooks/new/type", &[("type", "listing_request"), ("action", "next")])
        .await;
    let secret_page = app.get_html("/webhooks/new/http").await;
    assert!(
        secret_page.contains("value=\"JWT-"),
        "secret pre-filled with a random value"
    );
    app.post_form(
        "/webhooks/new/http",
        &[
            ("external_url", "https://kept.example.com/"),
            ("jwt_secret", "kept-secret-0123456789"),
            ("http_method", "GET"),
            ("header_name", "X-Kept"),
            ("header_value", "yes"),
            ("action", "back"),
        ],
    )
    .await;
    app.post_form("/webhooks/new/type", &[("type", "listing_request"), ("action", "next")])
        .await;
    let html = app.get_html("/webhooks/new/http").await;
    for kept in [
        "https://kept.example.com/",
        "kept-secret-0123456789",
        "value=\"GET\" selected",
        "value=\"X-Kept\"",
        "value=\"yes\"",
    ] {
        assert!(html.contains(kept), "{kept} kept");
    }
}

#[tokio::test]
async fn steps_cannot_be_skipped_by_posting_ahead() {
    let app = spawn_app().await;
    app.login_admin().await;
    let (product, _) = plain_and_capable_products(&app).await;
    let r = app.get("/webhooks/new/http").await;
    assert_eq!(location(&r), "/webhooks/new/general");
    // Posting a later step directly does not create anything.
    let r = app
        .post_form("/webhooks/new/data", &[("data", "{}"), ("action", "create")])
        .await;
    assert_eq!(location(&r), "/webhooks/new/general");
    let r = app
        .post_form("/webhooks/new/type", &[("type", "listing_request"), ("action", "next")])
        .await;
    assert_eq!(location(&r), "/webhooks/new/general");
    // After step 1, step 2 is open but step 3 is not.
    app.post_form("/webhooks/new/general", &[("name", "Ordered"), ("action", "next")])
        .await;
    assert_eq!(app.get("/webhooks/new/product").await.status(), 200);
    assert_eq!(location(&app.get("/webhooks/new/type").await), "/webhooks/new/product");
    // Going back and breaking step 1 closes the later steps again.
    app.post_form("/webhooks/new/product", &[("product_id", &product), ("action", "next")])
        .await;
    let r = app
        .post_form("/webhooks/new/general", &[("name", ""), ("action", "next")])
        .await;
    assert_eq!(r.status(), 422);
    assert_eq!(location(&app.get("/webhooks/new/type").await), "/webhooks/new/general");
    let count: i64 = sqlx::query_scalar("select count(*) from webhooks")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(count, 0);
}

#[tokio::test]
async fn htmx_swaps_the_step_panel_and_redirects_after_create() {
    let app = spawn_app().await;
    app.login_admin().await;
    let (product, _) = plain_and_capable_products(&app).await;
    let r = app
        .post_htmx("/webhooks/new/general", &[("name", "Via htmx"), ("action", "next")])
        .await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers().get("hx-push-url").unwrap(), "/webhooks/new/product");
    let panel = r.text().await.unwrap();
    assert!(panel.starts_with("<div id=\"wizard\""), "only the panel, not the page");
    assert!(!panel.contains("<html"));
    assert!(panel.contains("Select product"));

    let r = app.post_htmx("/webhooks/new/product", &[("action", "next")]).await;
    assert_eq!(r.status(), 422, "errors are swapped in too");
    assert!(r
        .text()
        .await
        .unwrap()
        .contains("Select the product this webhook works with."));

    app.post_htmx("/webhooks/new/product", &[("product_id", &product), ("action", "next")])
        .await;
    app.post_htmx(
        "/webhooks/new/type",
        &[("type", "tier_account_request_queue"), ("action", "next")],
    )
    .await;
    // Regenerate and header rows are server round trips that keep what was typed.
    let r = app
        .post_htmx(
            "/webhooks/new/http",
            &[
                ("external_url", "https://typed.example.com/"),
                ("jwt_secret", "old-secret-0123456789"),
                ("http_method", "POST"),
                ("action", "regenerate_secret"),
            ],
        )
        .await;
    let html = r.text().await.unwrap();
    assert!(
        !html.contains("old-secret-0123456789") && html.contains("value=\"JWT-"),
        "a new secret"
    );
    assert!(html.contains("https://typed.example.com/"));
    let r = app
        .post_htmx(
            "/webhooks/new/http",
            &[
                ("external_url", "https://typed.example.com/"),
                ("jwt_secret", "new-secret-0123456789"),
                ("http_method", "POST"),
                ("header_name", "X-One"),
                ("header_value", "1"),
                ("action", "add_header"),
            ],
        )
        .await;
    let html = r.text().await.unwrap();
    assert_eq!(
        html.matches("name=\"header_name\"").count(),
        3,
        "the row, the added row and the spare row"
    );
    let r = app
        .post_htmx(
            "/webhooks/new/http",
            &[
                ("external_url", "https://typed.example.com/"),
                ("jwt_secret", "new-secret-0123456789"),
                ("http_method", "POST"),
                ("header_name", "X-One"),
                ("header_value", "1"),
                ("header_name", "X-Two"),
                ("header_value", "2"),
                ("action", "remove_header:0"),
            ],
        )
        .await;
    let html = r.text().await.unwrap();
    assert!(!html.contains("value=\"X-One\"") && html.contains("value=\"X-Two\""));
    app.post_htmx(
        "/webhooks/new/http",
        &[
            ("external_url", "https://typed.example.com/"),
            ("jwt_secret", "new-secret-0123456789"),
            ("http_method", "POST"),
            ("header_name", "X-Two"),
            ("header_value", "2"),
            ("action", "next"),
        ],
    )
    .await;
    let r = app
        .post_htmx("/webhooks/new/data", &[("data", "{\"a\": 1}"), ("action", "create")])
        .await;
    assert_eq!(r.status(), 200);
    let target = r.headers().get("hx-redirect").unwrap().to_str().unwrap().to_string();
    assert!(target.starts_with("/webhooks/WH-"));
    let (secret, headers): (String, serde_json::Value) =
        sqlx::query_as("select jwt_secret, headers from webhooks where id = $1")
            .bind(target.trim_start_matches("/webhooks/"))
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(secret, "new-secret-0123456789");
    assert_eq!(headers, json!([["X-Two", "2"]]));
}

#[tokio::test]
async fn cancel_forgets_the_draft() {
    let app = spawn_app().await;
    app.login_admin().await;
    app.post_form(
        "/webhooks/new/general",
        &[("name", "To be cancelled"), ("action", "next")],
    )
    .await;
    let r = app.post_form("/webhooks/new/product", &[("action", "cancel")]).await;
    assert_eq!(location(&r), "/webhooks");
    assert!(app.get_html("/webhooks").await.contains("nothing was saved"));
    assert_eq!(location(&app.get("/webhooks/new").await), "/webhooks/new/general");
    assert!(!app.get_html("/webhooks/new/general").await.contains("To be cancelled"));
}

#[tokio::test]
async fn distributors_are_not_offered_vendor_only_types_and_cannot_force_them() {
    let app = spawn_app().await;
    app.login_distributor().await;
    let (product, _) = plain_and_capable_products(&app).await; // listed for the distributor
    app.post_form(
        "/webhooks/new/general",
        &[("name", "Distributor hook"), ("action", "next")],
    )
    .await;
    assert_eq!(
        app.post_form("/webhooks/new/product", &[("product_id", &product), ("action", "next")])
            .await
            .status(),
        303
    );
    let html = app.get_html("/webhooks/new/type").await;
    assert!(html.contains("Subscription — Fulfillment Requests — Queue Changes"));
    assert!(!html.contains("Draft Validation"), "vendor-only types are not offered");
    assert!(!html.contains("Inquiring Validation"));
    let r = app
        .post_form(
            "/webhooks/new/type",
            &[("type", "purchase_request_draft_validation"), ("action", "next")],
        )
        .await;
    assert_eq!(r.status(), 422);
    assert!(r.text().await.unwrap().contains("Available for vendors only."));
    assert_eq!(
        app.post_form(
            "/webhooks/new/type",
            &[("type", "fulfillment_request_queue"), ("action", "next")]
        )
        .await
        .status(),
        303
    );
}

#[tokio::test]
async fn a_type_needing_a_capability_is_disabled_with_the_reason() {
    let app = spawn_app().await;
    app.login_admin().await;
    let (plain, capable) = plain_and_capable_products(&app).await;
    app.post_form("/webhooks/new/general", &[("name", "Capability"), ("action", "next")])
        .await;
    app.post_form("/webhooks/new/product", &[("product_id", &plain), ("action", "next")])
        .await;
    let html = app.get_html("/webhooks/new/type").await;
    assert!(
        html.contains("value=\"change_request_draft_validation\"  disabled")
            || html.contains("value=\"change_request_draft_validation\" disabled"),
        "shown disabled"
    );
    assert!(html.contains("Requires the “Dynamic validation of change requests” capability"));
    let r = app
        .post_form(
            "/webhooks/new/type",
            &[("type", "change_request_draft_validation"), ("action", "next")],
        )
        .await;
    assert_eq!(r.status(), 422, "refused by the server too");
    // With the capable product it is allowed.
    app.post_form("/webhooks/new/type", &[("action", "back")]).await;
    app.post_form("/webhooks/new/product", &[("product_id", &capable), ("action", "next")])
        .await;
    assert_eq!(
        app.post_form(
            "/webhooks/new/type",
            &[("type", "change_request_draft_validation"), ("action", "next")]
        )
        .await
        .status(),
        303
    );
}

#[tokio::test]
async fn a_product_of_another_vendor_is_refused() {
    let app = spawn_app().await;
    app.login_admin().await;
    app.post_form(
        "/webhooks/new/general",
        &[("name", "Foreign product"), ("action", "next")],
    )
    .await;
    for bad in ["PRD-000-000-000", "not-a-product", ""] {
        let r = app
            .post_form("/webhooks/new/product", &[("product_id", bad), ("action", "next")])
            .await;
        assert_eq!(r.status(), 422, "{bad:?}");
    }
}

#[tokio::test]
async fn the_type_step_lists_all_eighteen_types_for_a_vendor() {
    let app = spawn_app().await;
    app.login_admin().await;
    let (_, capable) = plain_and_capable_products(&app).await;
    app.post_form("/webhooks/new/general", &[("name", "Types"), ("action", "next")])
        .await;
    app.post_form("/webhooks/new/product", &[("product_id", &capable), ("action", "next")])
        .await;
    let html = app.get_html("/webhooks/new/type").await;
    assert_eq!(html.matches("name=\"type\"").count(), 18);
    assert!(!html.contains(" style=\""), "no inline styles (the CSP forbids them)");
    let labels: Vec<&str> = webhook_portal::webhooks::model::WebhookType::ALL
        .iter()
        .map(|t| t.label())
        .collect();
    let mut last = 0;
    for label in labels {
        let at = html.find(label).unwrap_or_else(|| panic!("{label} listed"));
        assert!(at >= last, "{label} in the article's order");
        last = at;
    }
}
