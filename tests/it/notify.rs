//! Early warnings against a real handler and a real SMTP server: a notice and an e-mail at the
//! 5th failure in a row and on recovery, out of order, the bell's count, reading notices,
//! tenancy, and in-app only without an SMTP server.

use serde_json::json;

use crate::common::handler::{eventually, Behaviour, Handler};
use crate::common::smtp::SmtpServer;
use crate::common::*;

async fn notices(app: &TestApp) -> Vec<(String, String, String)> {
    sqlx::query_as("select kind, title, email_state from notifications order by id")
        .fetch_all(&app.pool)
        .await
        .unwrap()
}

async fn failures(app: &TestApp, hook: &str) -> i32 {
    sqlx::query_scalar("select failures_since_reset from webhooks where id = $1")
        .bind(hook)
        .fetch_one(&app.pool)
        .await
        .unwrap()
}

/// A message as a reader sees it: folded header lines joined, quoted-printable decoded.
fn readable(data: &str) -> String {
    let unfolded = data.replace("\n ", " ").replace("=\n", "");
    let bytes = unfolded.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes.get(i + 1..i + 3).and_then(|h| std::str::from_utf8(h).ok());
        match (bytes[i], hex.and_then(|h| u8::from_str_radix(h, 16).ok())) {
            (b'=', Some(b)) => {
                out.push(b);
                i += 3;
            }
            (c, _) => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn bell(html: &str) -> Option<String> {
    html.split("id=\"bell-count\">")
        .nth(1)
        .and_then(|s| s.split('<').next())
        .map(str::to_string)
}

#[tokio::test]
async fn the_fifth_failure_in_a_row_and_the_recovery_are_told_in_the_portal_and_by_email() {
    let handler = Handler::start().await;
    let smtp = SmtpServer::start().await;
    let url = smtp.url();
    let mut config = FAST_DELIVERY.to_vec();
    config.retain(|(k, _)| *k != "PORTAL_OUT_OF_ORDER_AFTER");
    config.extend([
        ("PORTAL_OUT_OF_ORDER_AFTER", "20"),
        ("PORTAL_SMTP_URL", url.as_str()),
        ("PORTAL_SMTP_FROM", "Webhook Portal <alerts@frontstreet.example>"),
        ("PORTAL_NOTIFY_POLL_MS", "100"),
        ("PORTAL_RETRY_MAX_MS", "400"),
    ]);
    let app = spawn_app_with(&config).await;
    app.login_admin().await;
    handler.set(Behaviour {
        status: 500,
        ..Behaviour::default()
    });
    let hook = webhook_calling(&app, &handler.url("/hook"), "POST", json!([]), json!({})).await;
    assert_eq!(
        app.post_form(&format!("/webhooks/{hook}/trigger"), &[]).await.status(),
        303
    );

    // Four failures: nothing to tell yet.
    eventually("four failures in a row", || async { failures(&app, &hook).await >= 4 }).await;
    if failures(&app, &hook).await == 4 {
        assert!(notices(&app).await.is_empty(), "no notice before the 5th failure");
    }
    eventually("a notice at the 5th failure", || async {
        !notices(&app).await.is_empty()
    })
    .await;
    assert!(failures(&app, &hook).await >= 5);
    let made = notices(&app).await;
    assert_eq!(made[0].0, "failing");
    assert!(made[0].1.contains("Delivery test") && made[0].1.contains("failing"));

    // In the portal: the bell counts it, the page says what to do and links to the calls.
    let page = app.get_html("/webhooks").await;
    assert_eq!(bell(&page).as_deref(), Some("1"));
    let list = app.get_html("/notifications").await;
    assert!(list.contains("is failing") && list.contains("Deliveries tab"));
    assert!(list.contains(&format!("value=\"/webhooks/{hook}/deliveries\"")));

    // By e-mail, to the users who may edit webhooks.
    let mails = smtp.wait_for(1).await;
    assert_eq!(mails[0].to, [ADMIN_EMAIL]);
    assert!(mails[0].from.contains("alerts@frontstreet.example"));
    let mail = readable(&mails[0].data);
    assert!(
        mail.contains("Subject: [Front Street Inc.]") && mail.contains("is failing"),
        "{mail}"
    );
    assert!(mail.contains("calls of “Delivery test” failed"), "{mail}");
    assert!(mail.contains(&format!("/webhooks/{hook}/deliveries")), "{mail}");

    // The handler is fixed: the next retry succeeds, and that is told too, once.
    handler.set(Behaviour::default());
    eventually("a recovery notice", || async {
        notices(&app).await.iter().any(|n| n.0 == "recovered")
    })
    .await;
    let mails = smtp.wait_for(2).await;
    let mail = readable(&mails[1].data);
    assert!(
        mail.contains("has recovered") && mail.contains("answered successfully again"),
        "{mail}"
    );
    eventually("both e-mails are marked sent", || async {
        notices(&app).await.iter().all(|n| n.2 == "sent")
    })
    .await;
    let kinds: Vec<String> = notices(&app).await.into_iter().map(|n| n.0).collect();
    assert_eq!(kinds, ["failing", "recovered"], "one notice each");
    assert_eq!(bell(&app.get_html("/webhooks").await).as_deref(), Some("2"));

    // Read one (following it to the calls), then all.
    let first: i64 = sqlx::query_scalar("select min(id) from notifications")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    let r = app
        .post_form(
            &format!("/notifications/{first}/read"),
            &[("go", &format!("/webhooks/{hook}/deliveries"))],
        )
        .await;
    assert_eq!(r.status(), 303);
    assert_eq!(location(&r), format!("/webhooks/{hook}/deliveries"));
    assert_eq!(bell(&app.get_html("/webhooks").await).as_deref(), Some("1"));
    let r = app
        .post_form(
            &format!("/notifications/{first}/read"),
            &[("go", "https://evil.example/")],
        )
        .await;
    assert_eq!(
        location(&r),
        "/notifications",
        "only the portal's own pages are followed"
    );
    assert_eq!(app.post_form("/notifications/read-all", &[]).await.status(), 303);
    assert_eq!(bell(&app.get_html("/webhooks").await), None);

    // Another account sees none of it and cannot mark it; a form without CSRF is refused.
    let other = app.second_browser();
    other.login_distributor().await;
    assert!(other.get_html("/notifications").await.contains("id=\"no-notices\""));
    assert_eq!(
        other
            .post_form(&format!("/notifications/{first}/read"), &[])
            .await
            .status(),
        404
    );
    let r = app
        .client
        .post(app.url("/notifications/read-all"))
        .form(&[("x", "y")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
}

#[tokio::test]
async fn out_of_order_is_told_and_without_smtp_notices_stay_in_the_portal() {
    let handler = Handler::start().await;
    let mut config = FAST_DELIVERY.to_vec();
    config.push(("PORTAL_NOTIFY_POLL_MS", "100"));
    // FAST_DELIVERY: out of order after 3 failures, before the 5th that would warn.
    let app = spawn_app_with(&config).await;
    app.login_admin().await;
    handler.set(Behaviour {
        status: 503,
        ..Behaviour::default()
    });
    let hook = webhook_calling(&app, &handler.url("/hook"), "POST", json!([]), json!({})).await;
    app.post_form(&format!("/webhooks/{hook}/trigger"), &[]).await;
    eventually("an out-of-order notice", || async { !notices(&app).await.is_empty() }).await;
    let made = notices(&app).await;
    assert_eq!(made.len(), 1);
    assert_eq!(made[0].0, "out_of_order");
    assert_eq!(made[0].2, "skipped", "no SMTP server: in the portal only");
    let list = app.get_html("/notifications").await;
    assert!(list.contains("is out of order") && list.contains("Trigger now"));
    let viewer = app.second_browser();
    viewer.login_viewer().await;
    assert_eq!(
        bell(&viewer.get_html("/webhooks").await).as_deref(),
        Some("1"),
        "everyone sees the bell"
    );
}

#[tokio::test]
async fn the_bell_and_the_notifications_page_in_a_browser() {
    use crate::common::browser::{click, sign_in, wait_for, wait_until_gone, Browser};
    let app = spawn_app().await;
    let (product, _) = plain_and_capable_products(&app).await;
    let hook = insert_webhook(&app, &app.vendor_account_id, &product, "Order events", true).await;
    for (kind, title, body) in [
        ("failing", "“Order events” is failing", "The last 5 calls of “Order events” failed. Open its Deliveries tab to see why (each failed call says its likely cause). The portal keeps retrying; after 20 failures in a row it stops calling (out of order)."),
        ("recovered", "“Order events” has recovered", "“Order events” answered successfully again: calls are being delivered. Nothing more to do."),
    ] {
        sqlx::query("insert into notifications (account_id, webhook_id, kind, title, body, email_state) values ($1, $2, $3, $4, $5, 'skipped')")
            .bind(&app.vendor_account_id)
            .bind(&hook)
            .bind(kind)
            .bind(title)
            .bind(body)
            .execute(&app.pool)
            .await
            .unwrap();
    }
    let browser = Browser::start().await;
    let c = &browser.client;
    sign_in(c, &app).await;
    let count = wait_for(c, "#bell-count").await.text().await.unwrap();
    assert_eq!(count, "2");
    click(c, "#bell").await;
    wait_for(c, "#notices").await;
    browser.screenshot("notifications").await;
    click(c, "#read-all").await;
    // The page after the form: without unread notices it has no "Mark all as read".
    wait_until_gone(c, "#read-all").await;
    wait_for(c, "#notices").await;
    assert!(
        c.find(fantoccini::Locator::Css("#bell-count")).await.is_err(),
        "all read"
    );
    browser.close().await;
}
