//! In a real browser: an admin rotates a webhook's secret step by step on the HTTP settings
//! tab (copying the new secret shown once), then finds every step in the webhook's History
//! and on the Audit log page, filtered by action.

use crate::common::browser::{click, sign_in, wait_for, wait_for_text, Browser};
use crate::common::*;

#[tokio::test]
async fn an_admin_rotates_a_secret_and_reads_each_step_in_the_audit_log() {
    let app = spawn_app().await;
    let (product, _) = plain_and_capable_products(&app).await;
    let hook = insert_webhook(&app, &app.vendor_account_id, &product, "Order events", true).await;
    let browser = Browser::start().await;
    let c = &browser.client;
    sign_in(c, &app).await;

    c.goto(&app.url(&format!("/webhooks/{hook}/http"))).await.unwrap();
    wait_for(c, "#rotation").await;
    click(c, "#rotation-prepare").await;
    let secret = wait_for(c, "#new-secret-value").await.text().await.unwrap();
    assert!(secret.starts_with("JWT-"), "{secret}");
    c.execute("document.getElementById('rotation').scrollIntoView()", vec![])
        .await
        .unwrap();
    browser.screenshot("rotation-prepared").await;
    click(c, "#rotation-switch").await;
    wait_for(c, "#previous-key").await;
    wait_for_text(c, ".flash", "now signed with key").await;
    c.execute("document.getElementById('rotation').scrollIntoView()", vec![])
        .await
        .unwrap();
    browser.screenshot("rotation-switched").await;
    let shown = c.source().await.unwrap();
    assert!(!shown.contains(&secret), "the new secret is not shown again");

    click(
        c,
        "a[href='/webhooks/{hook}/history']".replace("{hook}", &hook).as_str(),
    )
    .await;
    wait_for(c, "#audit-records").await;
    wait_for_text(c, "#audit-records", "Rotation: switched to the new secret").await;
    wait_for_text(c, "#audit-records", "Rotation: new secret prepared").await;
    browser.screenshot("history").await;

    click(c, ".sidenav a[href='/audit']").await;
    wait_for(c, "#audit-records").await;
    c.find(fantoccini::Locator::Css("#action option[value='secret.switched']"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    click(c, "form.filters button[type=submit]").await;
    wait_for_text(c, "#audit-records", "Order events").await;
    let rows = c
        .find_all(fantoccini::Locator::Css("#audit-records tbody tr"))
        .await
        .unwrap();
    assert_eq!(rows.len(), 1, "only the switch");
    let url = c.current_url().await.unwrap();
    assert!(
        url.as_str().contains("action=secret.switched"),
        "the filter is in the URL: {url}"
    );
    c.goto(&app.url("/audit")).await.unwrap();
    wait_for(c, "#audit-records").await;
    browser.screenshot("audit-log").await;
    let page = c.source().await.unwrap();
    assert!(
        !page.contains(&secret) && !page.contains(WEBHOOK_SECRET),
        "no secret in the log"
    );
    browser.close().await;
}
