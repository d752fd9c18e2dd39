//! The whole story in a real browser with the example handler shipped in `examples/`: a vendor
//! admin creates an API token and a webhook, presses "Create test request", and the handler
//! receives the signed call, pulls the pending request through the API and approves it — the
//! statistics tell the story.

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::common::browser::{click, sign_in, type_into, value_of, wait_for, wait_for_step, wait_for_text, Browser};
use crate::common::*;
use fantoccini::Locator;

/// The example handler as a child process, stopped when dropped.
struct ExampleHandler(Child);

impl Drop for ExampleHandler {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The example's binary, built by `cargo test` (and by `.ci/run`) with the tests, or built
/// here without blocking the portal that runs in this test's runtime.
async fn example_binary() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target"));
    let binary = target.join("debug").join("examples").join("handler");
    if !binary.is_file() {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let status = tokio::process::Command::new(cargo)
            .args(["build", "--example", "handler"])
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .status()
            .await
            .expect("cargo build --example handler");
        assert!(status.success());
    }
    binary
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

#[tokio::test]
async fn an_admin_watches_the_example_handler_approve_a_test_request() {
    let mut settings = FAST_DELIVERY.to_vec();
    settings.retain(|(k, _)| *k != "PORTAL_REQUEST_TIMEOUT_MS");
    settings.push(("PORTAL_REQUEST_TIMEOUT_MS", "15000"));
    let app = spawn_app_with(&settings).await;
    let browser = Browser::start().await;
    let c = &browser.client;
    sign_in(c, &app).await;

    // An API token for the handler.
    c.goto(&app.url("/tokens")).await.unwrap();
    type_into(c, "#name", "Example handler").await;
    click(c, "#create-token").await;
    let api_key = wait_for(c, "#token-value").await.text().await.unwrap();

    // A fulfillment queue webhook calling the handler's port.
    let port = free_port();
    c.goto(&app.url("/webhooks/new")).await.unwrap();
    wait_for_step(c, 1).await;
    type_into(c, "#name", "Fulfillment handler").await;
    click(c, "label[for=enabled]").await;
    click(c, "#wizard-next").await;
    wait_for_step(c, 2).await;
    click(c, ".choice").await;
    click(c, "#wizard-next").await;
    wait_for_step(c, 3).await;
    click(c, "label[for=type-fulfillment_request_queue]").await;
    click(c, "#wizard-next").await;
    wait_for_step(c, 4).await;
    let secret = value_of(c, "#jwt_secret").await;
    type_into(c, "#external_url", &format!("http://127.0.0.1:{port}/hook")).await;
    click(c, "#wizard-next").await;
    wait_for_step(c, 5).await;
    click(c, "#wizard-create").await;
    wait_for(c, "#webhook-title").await;

    let _handler = ExampleHandler(
        Command::new(example_binary().await)
            .env("WEBHOOK_SECRET", &secret)
            .env("PORTAL_API_KEY", &api_key)
            .env("HANDLER_ADDR", format!("127.0.0.1:{port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start the example handler"),
    );
    for _ in 0..100 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // Create test request → the statistics tab, which refreshes itself: the creation's call
    // (the handler approves) and the approval's call (nothing left to approve).
    click(c, "#create-test-request").await;
    wait_for(c, "#statistics").await;
    wait_for_text(c, "#flashes", "1 webhook will be called").await;
    wait_for_text(c, "#stat-events", "2").await;
    wait_for_text(c, "#stat-success", "2").await;
    browser.screenshot("loop-1-statistics").await;

    let (request, status): (String, String) = sqlx::query_as("select id, status from requests")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(status, "approved", "the handler approved it through the API");

    // The product's queue shows it approved.
    let product: String = sqlx::query_scalar("select product_id from requests")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    c.goto(&app.url(&format!("/products/{product}"))).await.unwrap();
    wait_for(c, "#requests").await;
    let row = c
        .find(Locator::Css("#requests tbody tr"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(row.contains(&request) && row.contains("approved"), "{row}");
    browser.screenshot("loop-2-product-queue").await;
    c.goto(&app.url(&format!("/requests/{request}"))).await.unwrap();
    wait_for(c, "#params").await;
    browser.screenshot("loop-3-request").await;
    browser.close().await;
}

#[tokio::test]
async fn an_admin_sets_up_an_inbound_trigger_and_sees_its_messages() {
    let handler = crate::common::handler::Handler::start().await;
    let app = spawn_app_with(&FAST_DELIVERY).await;
    webhook_calling(
        &app,
        &handler.url("/hook"),
        "POST",
        serde_json::json!([]),
        serde_json::json!({}),
    )
    .await;
    let browser = Browser::start().await;
    let c = &browser.client;
    sign_in(c, &app).await;
    c.goto(&app.url("/inbound")).await.unwrap();
    wait_for(c, "#create-trigger").await;
    browser.screenshot("inbound-1-empty").await;
    click(c, "#create-trigger").await;
    wait_for(c, "#trigger-form").await;
    type_into(c, "#name", "Web shop orders").await;
    let product: String = sqlx::query_scalar("select product_id from webhooks")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    c.find(Locator::Css(&format!("#product option[value='{product}']")))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    click(c, "input[name=ordered]").await;
    type_into(c, "#params", "region = eu\norder_id").await;
    browser.screenshot("inbound-2-form").await;
    click(c, "#save-trigger").await;
    wait_for(c, "#no-keys").await;
    type_into(c, "#label", "Web shop (production)").await;
    click(c, "#add-key-submit").await;
    let key = wait_for(c, "#key-value").await.text().await.unwrap();
    let endpoint = c
        .find(Locator::Css("#endpoint-url"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let r = reqwest::Client::new()
        .post(format!("{endpoint}?order_id=WO-1001"))
        .header("X-Api-Key", &key)
        .header("Content-Type", "application/json")
        .body(r#"{"customer": "Acme", "lines": 3}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202);
    handler.wait_for(1).await;
    c.goto(&endpoint.replace("/hooks/in/", "/inbound/")).await.unwrap();
    wait_for_text(c, "#messages", "Delivered").await;
    assert!(!c.source().await.unwrap().contains(&key), "the key is shown only once");
    browser.screenshot("inbound-3-details").await;
    browser.close().await;
}
