//! A real browser signs in through the form and lands on the webhooks page.

use crate::common::browser::{click, type_into, wait_for, Browser};
use crate::common::*;
use fantoccini::Locator;

#[tokio::test]
async fn a_browser_signs_in_and_sees_the_webhooks_page() {
    let app = spawn_app().await;
    let browser = Browser::start().await;
    let c = &browser.client;

    c.goto(&app.url("/webhooks")).await.unwrap();
    // Sent to the sign-in page first.
    wait_for(c, "form[action='/login']").await;
    assert!(c.current_url().await.unwrap().path().starts_with("/login"));
    browser.screenshot("login").await;

    type_into(c, "#email", ADMIN_EMAIL).await;
    type_into(c, "#password", "wrong password!").await;
    click(c, "button[type=submit]").await;
    let error = wait_for(c, "#login-error").await;
    assert_eq!(error.text().await.unwrap(), "Incorrect email or password.");

    type_into(c, "#password", ADMIN_PASSWORD).await;
    click(c, "button[type=submit]").await;
    wait_for(c, "#empty-state").await;
    assert_eq!(c.current_url().await.unwrap().path(), "/webhooks");
    let header = c.find(Locator::Css(".topbar")).await.unwrap().text().await.unwrap();
    assert!(header.contains("Front Street Inc."), "{header}");
    // htmx loaded from our own origin (the CSP would block anything else).
    let htmx_loaded = c
        .execute("return typeof window.htmx === 'object'", vec![])
        .await
        .unwrap();
    assert_eq!(htmx_loaded, serde_json::Value::Bool(true));
    browser.screenshot("webhooks-empty").await;

    // Sign out through the header button.
    click(c, ".topbar form[action='/logout'] button").await;
    wait_for(c, "form[action='/login']").await;
    browser.close().await;
}
