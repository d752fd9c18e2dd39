//! The list, the details tabs, editing, enable/disable, delete, roles and tenancy.

use crate::common::*;

#[tokio::test]
async fn the_list_shows_rows_and_pages_with_keyset_cursors() {
    let app = spawn_app().await;
    app.login_admin().await;
    let (product, _) = plain_and_capable_products(&app).await;
    let mut ids = Vec::new();
    for i in 0..30 {
        ids.push(
            insert_webhook(
                &app,
                &app.vendor_account_id,
                &product,
                &format!("Hook {i:02}"),
                i % 2 == 0,
            )
            .await,
        );
        // Distinct creation times, newest last.
        sqlx::query("update webhooks set created_at = now() - make_interval(secs => $2) where id = $1")
            .bind(ids.last().unwrap())
            .bind((100 - i) as f64)
            .execute(&app.pool)
            .await
            .unwrap();
    }
    let page1 = app.get_html("/webhooks").await;
    assert_eq!(page1.matches("<tr>").count() - 1, 25, "25 rows and the header row");
    assert!(page1.contains("Hook 29") && !page1.contains("Hook 04"), "newest first");
    assert!(page1.contains("30 webhooks"));
    assert!(page1.contains("Subscription — Fulfillment Requests — Queue Changes"));
    assert!(page1.contains("● Enabled") && page1.contains("● Disabled"));
    let next = page1.split("rel=\"next\"").next().unwrap();
    let href = next
        .rsplit("href=\"")
        .next()
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .replace("&amp;", "&");
    assert!(href.contains("after="), "{href}");
    let page2 = app.get_html(&href).await;
    assert_eq!(page2.matches("<tr>").count() - 1, 5);
    assert!(page2.contains("Hook 04") && page2.contains("Hook 00") && !page2.contains("Hook 29"));
    assert!(!page2.contains("rel=\"next\""), "last page");
    assert!(page2.contains("rel=\"prev\""));
    // A bad cursor is just the first page.
    assert_eq!(app.get("/webhooks?after=garbage").await.status(), 200);
}

#[tokio::test]
async fn the_list_filters_by_status_type_product_and_searches() {
    let app = spawn_app().await;
    app.login_admin().await;
    let (plain, capable) = plain_and_capable_products(&app).await;
    let alpha = insert_webhook(&app, &app.vendor_account_id, &plain, "Alpha orders", true).await;
    let beta = insert_webhook(&app, &app.vendor_account_id, &capable, "Beta usage", false).await;
    sqlx::query("update webhooks set object_class = 'usage_file' where id = $1")
        .bind(&beta)
        .execute(&app.pool)
        .await
        .unwrap();

    let enabled = app.get_html("/webhooks?status=enabled").await;
    assert!(enabled.contains("Alpha orders") && !enabled.contains("Beta usage"));
    let disabled = app.get_html("/webhooks?status=disabled").await;
    assert!(!disabled.contains("Alpha orders") && disabled.contains("Beta usage"));
    let by_type = app.get_html("/webhooks?type=usage_file_queue").await;
    assert!(!by_type.contains("Alpha orders") && by_type.contains("Beta usage"));
    let by_product = app.get_html(&format!("/webhooks?product={plain}")).await;
    assert!(by_product.contains("Alpha orders") && !by_product.contains("Beta usage"));
    let by_name = app.get_html("/webhooks?q=alpha").await;
    assert!(by_name.contains("Alpha orders") && !by_name.contains("Beta usage"));
    let by_id = app.get_html(&format!("/webhooks?q={}", beta.to_lowercase())).await;
    assert!(!by_id.contains("Alpha orders") && by_id.contains("Beta usage"));
    let none = app.get_html("/webhooks?q=%25").await;
    assert!(
        none.contains("No webhooks match these filters"),
        "wildcards are literal"
    );
    let _ = alpha;
}

#[tokio::test]
async fn details_has_five_tabs_each_a_real_url_and_an_htmx_fragment() {
    let app = spawn_app().await;
    app.login_admin().await;
    let (product, _) = plain_and_capable_products(&app).await;
    let id = create_via_wizard(
        &app,
        "Tabbed",
        &product,
        "fulfillment_request_queue",
        "POST",
        r#"{"purpose": "demo"}"#,
    )
    .await;
    let general = text_of(&app.get_html(&format!("/webhooks/{id}")).await);
    for expected in [
        "Tabbed",
        "● Enabled",
        id.as_str(),
        "Subscription — Fulfillment Requests — Queue Changes",
        "Created by a test.",
        "Created",
        "Modified",
        "by Robert Balboa",
    ] {
        assert!(general.contains(expected), "general tab shows {expected}");
    }
    let stats = text_of(&app.get_html(&format!("/webhooks/{id}/statistics")).await);
    for label in [
        "Events —",
        "Triggers —",
        "Success responses —",
        "Failure responses —",
        "Failures since last success —",
        "Last event —",
        "Next trigger —",
        "Last success —",
        "Last failure —",
    ] {
        assert!(stats.contains(label), "statistics show {label}");
    }
    let http = app.get_html(&format!("/webhooks/{id}/http")).await;
    assert!(http.contains("https://handler.example.com/hook"));
    assert!(text_of(&http).contains("JWT-a-lo*****1234"), "secret masked");
    assert!(http.contains("X-Custom-Header") && http.contains("Connect"));
    let revealed = app.get_html(&format!("/webhooks/{id}/http?reveal=1")).await;
    assert!(
        text_of(&revealed).contains("JWT-a-long-enough-secret-1234"),
        "admins can reveal"
    );
    let data = app.get_html(&format!("/webhooks/{id}/data")).await;
    assert!(
        data.contains("&#34;purpose&#34;: &#34;demo&#34;"),
        "pretty-printed JSON"
    );

    let r = app
        .client
        .get(app.url(&format!("/webhooks/{id}/statistics")))
        .header("HX-Request", "true")
        .header("HX-Target", "tabs")
        .send()
        .await
        .unwrap();
    assert!(r
        .headers()
        .get("vary")
        .unwrap()
        .to_str()
        .unwrap()
        .contains("HX-Request"));
    let fragment = r.text().await.unwrap();
    assert!(fragment.starts_with("<div id=\"tabs\">") && !fragment.contains("<html"));
    assert!(fragment.contains("class=\"active\" aria-current=\"page\">Statistics"));
    // The five tabs, each a link to its own URL.
    for (label, path) in [
        ("General", ""),
        ("Statistics", "/statistics"),
        ("HTTP settings", "/http"),
        ("Custom data", "/data"),
        ("Deliveries", "/deliveries"),
    ] {
        assert!(
            fragment.contains(&format!("href=\"/webhooks/{id}{path}\"")),
            "{label} tab links {path}"
        );
        assert!(fragment.contains(label), "{label} tab");
        assert_eq!(app.get(&format!("/webhooks/{id}{path}")).await.status(), 200, "{label}");
    }
}

#[tokio::test]
async fn editing_changes_general_http_and_data_but_never_product_or_type() {
    let app = spawn_app().await;
    app.login_admin().await;
    let (product, capable) = plain_and_capable_products(&app).await;
    let id = create_via_wizard(&app, "Before", &product, "listing_request", "POST", "{}").await;
    sqlx::query("update webhooks set modified_at = now() - interval '1 hour', modified_by = null where id = $1")
        .bind(&id)
        .execute(&app.pool)
        .await
        .unwrap();

    let r = app
        .post_form(
            &format!("/webhooks/{id}/edit/general"),
            &[
                ("name", "After"),
                ("description", "New text"),
                ("action", "save"),
                ("product_id", &capable),
                ("type", "usage_file_queue"),
            ],
        )
        .await;
    assert_eq!(location(&r), format!("/webhooks/{id}"));
    let page = app.get_html(&format!("/webhooks/{id}")).await;
    assert!(page.contains("General of “After” saved."), "confirmation");
    assert!(page.contains("● Disabled"), "unchecked Enabled disables");
    let (label, description, active, product_now, class, modified_by, recent): (String, String, bool, String, String, Option<String>, bool) = sqlx::query_as(
        "select label, description, active, product_id, object_class, modified_by, modified_at > now() - interval '1 minute' from webhooks where id = $1",
    )
    .bind(&id)
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(
        (label.as_str(), description.as_str(), active),
        ("After", "New text", false)
    );
    assert_eq!(
        (product_now, class.as_str()),
        (product.clone(), "listing_request"),
        "product and type unchanged"
    );
    assert!(modified_by.is_some() && recent, "modified time and user updated");

    // Regenerate shows a new secret and the warning, and saves nothing until Save.
    let r = app
        .post_form(
            &format!("/webhooks/{id}/edit/http"),
            &[
                ("external_url", "https://new.example.com/"),
                ("jwt_secret", "JWT-a-long-enough-secret-1234"),
                ("http_method", "GET"),
                ("action", "regenerate_secret"),
            ],
        )
        .await;
    assert_eq!(r.status(), 200);
    let html = r.text().await.unwrap();
    assert!(html.contains("update your handler with the new secret"));
    let new_secret = html
        .split("id=\"jwt_secret\" name=\"jwt_secret\" type=\"text\" value=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_string();
    assert!(new_secret.starts_with("JWT-") && new_secret != "JWT-a-long-enough-secret-1234");
    let stored: String = sqlx::query_scalar("select jwt_secret from webhooks where id = $1")
        .bind(&id)
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(stored, "JWT-a-long-enough-secret-1234", "not saved yet");
    let r = app
        .post_form(
            &format!("/webhooks/{id}/edit/http"),
            &[
                ("external_url", "https://new.example.com/"),
                ("jwt_secret", &new_secret),
                ("http_method", "GET"),
                ("header_name", "X-New"),
                ("header_value", "v"),
                ("action", "save"),
            ],
        )
        .await;
    assert_eq!(location(&r), format!("/webhooks/{id}/http"));
    let (url, secret, method, headers): (String, String, String, serde_json::Value) =
        sqlx::query_as("select external_url, jwt_secret, http_method, headers from webhooks where id = $1")
            .bind(&id)
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(
        (url.as_str(), secret.as_str(), method.as_str()),
        ("https://new.example.com/", new_secret.as_str(), "GET")
    );
    assert_eq!(headers, serde_json::json!([["X-New", "v"]]));

    let r = app
        .post_form(
            &format!("/webhooks/{id}/edit/data"),
            &[("data", r#"{"audience": "partners"}"#), ("action", "save")],
        )
        .await;
    assert_eq!(location(&r), format!("/webhooks/{id}/data"));
    let data: serde_json::Value = sqlx::query_scalar("select data from webhooks where id = $1")
        .bind(&id)
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(data, serde_json::json!({"audience": "partners"}));
    assert_eq!(
        location(&app.get(&format!("/webhooks/{id}/edit")).await),
        format!("/webhooks/{id}/edit/general")
    );
    assert_eq!(
        app.get(&format!("/webhooks/{id}/edit/product")).await.status(),
        404,
        "no product section"
    );
}

#[tokio::test]
async fn enable_disable_and_delete_with_confirmation() {
    let app = spawn_app().await;
    app.login_admin().await;
    let (product, _) = plain_and_capable_products(&app).await;
    let id = insert_webhook(&app, &app.vendor_account_id, &product, "Toggle me", false).await;

    let r = app
        .post_form(&format!("/webhooks/{id}/enable"), &[("back", "list")])
        .await;
    assert_eq!(location(&r), "/webhooks");
    assert!(app.get_html("/webhooks").await.contains("Webhook “Toggle me” enabled."));
    let r = app.post_form(&format!("/webhooks/{id}/disable"), &[]).await;
    assert_eq!(location(&r), format!("/webhooks/{id}"));
    let active: bool = sqlx::query_scalar("select active from webhooks where id = $1")
        .bind(&id)
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert!(!active);

    let confirm = app.get_html(&format!("/webhooks/{id}/delete")).await;
    assert!(confirm.contains("Delete webhook?") && confirm.contains("cannot be undone"));
    let still: i64 = sqlx::query_scalar("select count(*) from webhooks")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(still, 1, "asking is not deleting");
    let r = app.post_form(&format!("/webhooks/{id}/delete"), &[]).await;
    assert_eq!(location(&r), "/webhooks");
    assert!(app
        .get_html("/webhooks")
        .await
        .contains(&format!("Webhook “Toggle me” ({id}) deleted.")));
    assert_eq!(app.get(&format!("/webhooks/{id}")).await.status(), 404);
}

/// Every route that changes a webhook, with the form it needs.
fn change_routes(id: &str) -> Vec<(String, Vec<(&'static str, &'static str)>)> {
    vec![
        (format!("/webhooks/{id}/enable"), vec![]),
        (format!("/webhooks/{id}/ping"), vec![]),
        (format!("/webhooks/{id}/disable"), vec![]),
        (format!("/webhooks/{id}/delete"), vec![]),
        (
            format!("/webhooks/{id}/edit/general"),
            vec![("name", "Hijacked"), ("action", "save")],
        ),
        (
            format!("/webhooks/{id}/edit/http"),
            vec![
                ("external_url", "https://evil.example.com/"),
                ("jwt_secret", "0123456789abcdef"),
                ("http_method", "POST"),
                ("action", "save"),
            ],
        ),
        (
            format!("/webhooks/{id}/edit/data"),
            vec![("data", "{}"), ("action", "save")],
        ),
        (format!("/webhooks/{id}/token-check"), vec![("token", "a.b.c")]),
    ]
}

fn read_routes(id: &str) -> Vec<String> {
    vec![
        format!("/webhooks/{id}"),
        format!("/webhooks/{id}/statistics"),
        format!("/webhooks/{id}/http"),
        format!("/webhooks/{id}/http?reveal=1"),
        format!("/webhooks/{id}/data"),
        format!("/webhooks/{id}/delete"),
        format!("/webhooks/{id}/edit/general"),
        format!("/webhooks/{id}/edit/http"),
        format!("/webhooks/{id}/edit/data"),
        format!("/webhooks/{id}/preview"),
        format!("/webhooks/{id}/token-check"),
    ]
}

#[tokio::test]
async fn viewers_read_but_every_change_is_403() {
    let app = spawn_app().await;
    let (product, _) = plain_and_capable_products(&app).await;
    let id = insert_webhook(&app, &app.vendor_account_id, &product, "Read only", true).await;
    app.login_viewer().await;
    let list = app.get_html("/webhooks").await;
    assert!(list.contains("Read only"));
    assert!(
        !list.contains("Create webhook") && !list.contains("class=\"menu\""),
        "no action buttons"
    );
    let details = app.get_html(&format!("/webhooks/{id}")).await;
    assert!(!details.contains("id=\"edit-webhook\"") && !details.contains("class=\"menu\""));
    let http = app.get_html(&format!("/webhooks/{id}/http")).await;
    assert!(
        !http.contains("JWT-secret-for-tests-0001"),
        "the secret never reaches a viewer's page"
    );
    assert!(http.contains("JWT-secr*****0001") && !http.contains("data-reveal"));

    for path in [
        "/webhooks/new",
        "/webhooks/new/general",
        &format!("/webhooks/{id}/http?reveal=1"),
        &format!("/webhooks/{id}/edit/general"),
        &format!("/webhooks/{id}/delete"),
    ] {
        assert_eq!(app.get(path).await.status(), 403, "GET {path}");
    }
    assert_eq!(
        app.post_form("/webhooks/new/general", &[("name", "x"), ("action", "next")])
            .await
            .status(),
        403
    );
    for (path, form) in change_routes(&id) {
        let r = app.post_form(&path, &form).await;
        assert_eq!(r.status(), 403, "POST {path}");
        assert!(r.text().await.unwrap().contains("Your access does not include"));
    }
    let (label, active): (String, bool) = sqlx::query_as("select label, active from webhooks where id = $1")
        .bind(&id)
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!((label.as_str(), active), ("Read only", true), "nothing changed");
    // htmx requests get the message as a toast.
    let r = app.post_htmx(&format!("/webhooks/{id}/disable"), &[]).await;
    assert_eq!(r.status(), 403);
    assert_eq!(r.headers().get("hx-retarget").unwrap(), "#toasts");
}

#[tokio::test]
async fn another_accounts_webhook_is_404_on_every_route() {
    let app = spawn_app().await;
    let (product, _) = plain_and_capable_products(&app).await;
    // A webhook of the distributor account.
    let foreign = insert_webhook(&app, &app.distributor_account_id, &product, "Not yours", true).await;
    app.login_admin().await;
    for path in read_routes(&foreign) {
        assert_eq!(app.get(&path).await.status(), 404, "GET {path}");
    }
    for (path, form) in change_routes(&foreign) {
        assert_eq!(app.post_form(&path, &form).await.status(), 404, "POST {path}");
    }
    assert!(!app.get_html("/webhooks").await.contains("Not yours"), "not listed");
    assert!(
        !app.get_html(&format!("/webhooks?q={foreign}"))
            .await
            .contains("Not yours"),
        "not found by ID"
    );
    let (label, active): (String, bool) = sqlx::query_as("select label, active from webhooks where id = $1")
        .bind(&foreign)
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!((label.as_str(), active), ("Not yours", true));
    // Malformed IDs are 404 too.
    assert_eq!(app.get("/webhooks/WH-1/statistics").await.status(), 404);
}

#[tokio::test]
async fn big_accounts_get_bounded_pages_counts_stop_at_ten_thousand() {
    let app = spawn_app().await;
    app.login_admin().await;
    let (product, _) = plain_and_capable_products(&app).await;
    // 10,050 webhooks on one product, made the way the seed of a scale test makes them.
    sqlx::query(
        "insert into webhooks (id, account_id, product_id, object_class, type, label, active, external_url,
             jwt_secret, http_method, created_at)
         select 'WH-900-' || to_char(i / 1000, 'FM000') || '-' || to_char(i % 1000, 'FM000'), $1, $2,
                'fulfillment_request', 'event', 'Bulk ' || i, true, 'https://handler.example.com/hook',
                'JWT-0123456789abcdef', 'POST', now() - make_interval(secs => i)
         from generate_series(0, 10049) i",
    )
    .bind(&app.vendor_account_id)
    .bind(&product)
    .execute(&app.pool)
    .await
    .unwrap();

    let list = text_of(&app.get_html("/webhooks").await);
    assert!(list.contains("10,000+ webhooks"), "{list}");
    let found = text_of(&app.get_html("/webhooks?q=Bulk%2010049").await);
    assert!(found.contains("1 webhook") && found.contains("Bulk 10049"), "{found}");

    // The product page lists the newest 10 and links to the rest.
    let page = app.get_html(&format!("/products/{product}")).await;
    let shown = page.matches("/statistics\" class=\"strong\"").count();
    assert_eq!(shown, 10, "the 10 newest webhooks of the product");
    assert!(page.contains("Bulk 0<"), "the newest first");
    assert!(
        page.contains(&format!(
            "href=\"/webhooks?product={product}\" id=\"all-product-webhooks\""
        )),
        "a link to all of them"
    );
    assert!(
        text_of(&page).contains("All 10,000+ webhooks on this product"),
        "{}",
        text_of(&page)
    );
    let products = text_of(&app.get_html("/products").await);
    assert!(products.contains("10,000+"), "{products}");
}

#[tokio::test]
async fn a_distributor_filters_by_the_types_it_can_have() {
    let app = spawn_app().await;
    app.login_distributor().await;
    let page = app.get_html("/webhooks").await;
    assert!(
        page.contains("value=\"fulfillment_request_queue\""),
        "queue changes are offered"
    );
    assert!(
        !page.contains("value=\"purchase_request_draft_validation\""),
        "vendor-only validation types are not"
    );
    let vendor = spawn_app().await;
    vendor.login_admin().await;
    assert!(vendor
        .get_html("/webhooks")
        .await
        .contains("value=\"purchase_request_draft_validation\""));
}
