//! A vendor admin creates a webhook through the wizard in a real browser (htmx on), opens
//! every tab, reveals and copies the secret. Screenshots go to target/screenshots/.

use crate::common::browser::{click, sign_in, type_into, value_of, wait_for, wait_for_step, wait_for_text, Browser};
use crate::common::*;
use fantoccini::Locator;

#[tokio::test]
async fn an_admin_creates_a_webhook_and_explores_its_tabs_in_a_browser() {
    let app = spawn_app().await;
    let browser = Browser::start().await;
    let c = &browser.client;
    sign_in(c, &app).await;

    click(c, "#empty-state a.btn").await;
    wait_for_step(c, 1).await;
    // Mark the page: if htmx swaps the panels, the mark survives every step.
    c.execute("window.__samePage = true;", vec![]).await.unwrap();

    // An empty name is refused next to the field.
    click(c, "#wizard-next").await;
    wait_for(c, "#name-error").await;
    assert_eq!(
        c.find(Locator::Css("#name-error")).await.unwrap().text().await.unwrap(),
        "Enter a name."
    );
    type_into(c, "#description", "This is a tutorial webhook.").await;
    browser.screenshot("wizard-1-general-error").await;
    type_into(c, "#name", "Tutorial Webhook").await;
    click(c, "label[for=enabled]").await;
    browser.screenshot("wizard-1-general").await;
    click(c, "#wizard-next").await;

    wait_for_step(c, 2).await;
    assert_eq!(
        c.current_url().await.unwrap().path(),
        "/webhooks/new/product",
        "URL follows the step"
    );
    click(c, ".choice").await;
    browser.screenshot("wizard-2-product").await;
    click(c, "#wizard-next").await;

    wait_for_step(c, 3).await;
    click(c, "label[for=type-fulfillment_request_queue]").await;
    browser.screenshot("wizard-3-type").await;
    click(c, "#wizard-next").await;

    wait_for_step(c, 4).await;
    let secret = value_of(c, "#jwt_secret").await;
    assert!(
        secret.starts_with("JWT-") && secret.len() > 20,
        "pre-filled secret: {secret}"
    );
    type_into(c, "#external_url", "https://handler.example.com/hook").await;
    // Regenerate keeps the typed URL and changes the secret.
    click(c, "button[value=regenerate_secret]").await;
    let mut regenerated = secret.clone();
    for _ in 0..300 {
        regenerated = value_of(c, "#jwt_secret").await;
        if regenerated != secret {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(
        regenerated != secret && regenerated.starts_with("JWT-"),
        "Regenerate replaced the secret: {secret} → {regenerated}"
    );
    let secret = regenerated;
    let url = value_of(c, "#external_url").await;
    assert_eq!(url, "https://handler.example.com/hook");
    let names = c.find_all(Locator::Css("input[name=header_name]")).await.unwrap();
    names[0].send_keys("X-Custom-Header").await.unwrap();
    c.find_all(Locator::Css("input[name=header_value]")).await.unwrap()[0]
        .send_keys("Connect")
        .await
        .unwrap();
    browser.screenshot("wizard-4-http").await;
    click(c, "#wizard-next").await;

    wait_for_step(c, 5).await;
    type_into(c, "#data", r#"{"purpose": "demo", "audience": "partners"}"#).await;
    browser.screenshot("wizard-5-data").await;
    // Back keeps everything; Next returns.
    click(c, "button[value=back]").await;
    wait_for_step(c, 4).await;
    let kept = value_of(c, "input[name=header_name]").await;
    assert_eq!(kept, "X-Custom-Header");
    click(c, "#wizard-next").await;
    wait_for_step(c, 5).await;
    let same_page = c.execute("return window.__samePage === true", vec![]).await.unwrap();
    assert_eq!(
        same_page,
        serde_json::Value::Bool(true),
        "steps were swapped by htmx, not reloaded"
    );
    click(c, "#wizard-create").await;

    // Created: the details page with its confirmation.
    wait_for(c, "#webhook-title").await;
    wait_for_text(c, "#flashes", "created").await;
    let id = c.find(Locator::Css("#webhook-id")).await.unwrap().text().await.unwrap();
    assert!(id.starts_with("WH-"));
    assert_eq!(
        c.find(Locator::Css("#status-chip"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap(),
        "● Enabled"
    );
    browser.screenshot("details-1-general").await;

    click(c, ".tabs a[href$='/statistics']").await;
    wait_for(c, "#statistics").await;
    assert!(c.current_url().await.unwrap().path().ends_with("/statistics"));
    browser.screenshot("details-2-statistics").await;

    click(c, ".tabs a[href$='/http']").await;
    wait_for(c, "#jwt-secret").await;
    let masked = c.find(Locator::Css("#jwt-secret")).await.unwrap().text().await.unwrap();
    assert!(
        masked.contains("*****") && !masked.contains(&secret[10..]),
        "masked: {masked}"
    );
    browser.screenshot("details-3-http").await;
    click(c, "#reveal-secret").await;
    wait_for_text(c, "#jwt-secret", &secret).await;
    browser.screenshot("details-3-http-revealed").await;
    click(c, "#copy-secret").await;
    wait_for_text(c, "#copy-secret", "Copied").await;

    click(c, ".tabs a[href$='/data']").await;
    wait_for(c, "#custom-data").await;
    let json = c
        .find(Locator::Css("#custom-data"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(json.contains("\"purpose\": \"demo\""), "{json}");
    browser.screenshot("details-4-custom-data").await;

    // Back to General by tab, then the list.
    click(c, ".tabs a:first-child").await;
    wait_for(c, "#description").await;
    c.goto(&app.url("/webhooks")).await.unwrap();
    wait_for(c, "#webhook-table").await;
    browser.screenshot("list").await;
    let row = c
        .find(Locator::Css("#webhook-table tbody tr"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(row.contains("Tutorial Webhook") && row.contains(&id), "{row}");
    // The ⋮ menu opens.
    click(c, "details.menu summary").await;
    wait_for(c, "details.menu[open] .menu-items").await;
    browser.screenshot("list-menu").await;

    let stored: String = sqlx::query_scalar("select jwt_secret from webhooks where id = $1")
        .bind(&id)
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(stored, secret);
    browser.close().await;
}

#[tokio::test]
async fn trigger_now_in_a_browser_updates_the_statistics_by_itself() {
    let handler = crate::common::handler::Handler::start().await;
    // Generous limits: the browser tests may run beside heavy ones.
    let mut settings = FAST_DELIVERY.to_vec();
    settings.retain(|(k, _)| *k != "PORTAL_REQUEST_TIMEOUT_MS" && *k != "PORTAL_OUT_OF_ORDER_AFTER");
    settings.extend([
        ("PORTAL_REQUEST_TIMEOUT_MS", "15000"),
        ("PORTAL_OUT_OF_ORDER_AFTER", "20"),
    ]);
    let app = spawn_app_with(&settings).await;
    let id = webhook_calling(
        &app,
        &handler.url("/hook"),
        "POST",
        serde_json::json!([["X-Custom-Header", "Connect"]]),
        serde_json::json!({"purpose": "demo"}),
    )
    .await;
    let browser = Browser::start().await;
    let c = &browser.client;
    sign_in(c, &app).await;
    c.goto(&app.url(&format!("/webhooks/{id}"))).await.unwrap();
    wait_for(c, "#trigger-now").await;
    click(c, "#trigger-now").await;
    // Lands on Statistics, which refreshes itself until the call is recorded. First the call
    // itself (so a failure says whether delivery or the page's refresh was slow).
    wait_for(c, "#statistics").await;
    let mut recorded = false;
    for _ in 0..600 {
        if stats(&app.pool, &id).await.success_triggers == 1 {
            recorded = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    if !recorded {
        let triggers: Vec<(String, Option<i64>, Option<chrono::DateTime<chrono::Utc>>)> =
            sqlx::query_as("select state, claimed_by, claimed_until from webhook_triggers")
                .fetch_all(&app.pool)
                .await
                .unwrap();
        let workers: Vec<(i64, chrono::DateTime<chrono::Utc>)> =
            sqlx::query_as("select id, alive_until from delivery_workers")
                .fetch_all(&app.pool)
                .await
                .unwrap();
        panic!(
            "the call was not recorded within 60 s: handler got {} calls; triggers {triggers:?}; workers {workers:?}",
            handler.count()
        );
    }
    wait_for_text(c, "#stat-success", "1").await;
    wait_for_text(c, "#stat-events", "1").await;
    wait_for_text(c, "#stat-triggers", "1").await;
    assert_eq!(handler.count(), 1);
    browser.screenshot("details-2-statistics-after-trigger").await;

    click(c, "#stat-last-success a").await;
    wait_for(c, "#request-headers").await;
    let headers = c
        .find(Locator::Css("#request-headers"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        headers.contains("Bearer [redacted]") && headers.contains("X-Custom-Header"),
        "{headers}"
    );
    browser.screenshot("call-view").await;

    c.goto(&app.url(&format!("/webhooks/{id}/deliveries"))).await.unwrap();
    wait_for(c, "#deliveries").await;
    browser.screenshot("details-5-deliveries").await;
    browser.close().await;
}

#[tokio::test]
async fn send_test_ping_in_a_browser_shows_the_answer_when_it_comes() {
    let handler = crate::common::handler::Handler::start().await;
    // The handler takes a moment, so the page first says the ping is on its way.
    handler.set(crate::common::handler::Behaviour {
        delay: std::time::Duration::from_millis(1500),
        ..Default::default()
    });
    let mut settings = FAST_DELIVERY.to_vec();
    settings.retain(|(k, _)| *k != "PORTAL_REQUEST_TIMEOUT_MS");
    settings.push(("PORTAL_REQUEST_TIMEOUT_MS", "15000"));
    let app = spawn_app_with(&settings).await;
    let id = webhook_calling(
        &app,
        &handler.url("/ping"),
        "POST",
        serde_json::json!([]),
        serde_json::json!({}),
    )
    .await;
    let browser = Browser::start().await;
    let c = &browser.client;
    sign_in(c, &app).await;
    c.goto(&app.url(&format!("/webhooks/{id}"))).await.unwrap();
    click(c, "#send-test-ping").await;
    wait_for_text(c, "#ping-result", "Sending test ping").await;
    // No reload: htmx asks for the panel until the answer is there.
    wait_for_text(c, "#ping-result", "Test ping: 200").await;
    browser.screenshot("ping-result").await;
    assert_eq!(handler.count(), 1);
    browser.close().await;
}
