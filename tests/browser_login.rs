//! A real browser signs in through the form and lands on the webhooks page.

mod common;

use common::browser::{wait_for, Browser};
use common::*;
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

    c.find(Locator::Css("#email"))
        .await
        .unwrap()
        .send_keys(ADMIN_EMAIL)
        .await
        .unwrap();
    c.find(Locator::Css("#password"))
        .await
        .unwrap()
        .send_keys("wrong password!")
        .await
        .unwrap();
    c.find(Locator::Css("button[type=submit]"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let error = wait_for(c, "#login-error").await;
    assert_eq!(error.text().await.unwrap(), "Incorrect email or password.");

    c.find(Locator::Css("#password"))
        .await
        .unwrap()
        .send_keys(ADMIN_PASSWORD)
        .await
        .unwrap();
    c.find(Locator::Css("button[type=submit]"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
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
    c.find(Locator::Css(".topbar form[action='/logout'] button"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    wait_for(c, "form[action='/login']").await;
    browser.close().await;
}
