//! Health at a glance in real Chromium: the list's Health column and the Statistics tab's
//! charts at 1280 and 390 px, with a week of an account's calls; no page scrolls sideways on a
//! phone, axe-core finds no serious or critical violation, the charts' table alternative opens.
//! Saves target/screenshots/health-list.png and charts.png (the README's docs/ pictures).

use chrono::{Duration, Timelike, Utc};
use fantoccini::Locator;
use serde_json::Value;

use crate::browser_a11y::axe_violations;
use crate::common::browser::{sign_in, wait_for, Browser};
use crate::common::*;
use webhook_portal::delivery::store::hour_of;
use webhook_portal::latency::SLOTS;

/// A small, fixed pseudo-random sequence (the pictures are the same on every run).
fn noise(i: i64) -> i64 {
    (i * 7919 + 104_729) % 97
}

/// Writes an hour of figures: `calls` spread over the latency slots from `fastest`.
async fn hour(app: &TestApp, id: &str, hours_ago: i64, calls: i64, failures: i64, fastest: usize) {
    if calls == 0 {
        return;
    }
    let mut latency = vec![0i32; SLOTS];
    let quick = calls * 6 / 10;
    let middle = calls * 3 / 10;
    latency[fastest] = quick as i32;
    latency[fastest + 1] = middle as i32;
    latency[fastest + 2] = (calls - quick - middle) as i32;
    sqlx::query(
        "insert into webhook_hourly_stats (webhook_id, hour, calls, failures, latency) values ($1, $2, $3, $4, $5)",
    )
    .bind(id)
    .bind(hour_of(Utc::now() - Duration::hours(hours_ago)))
    .bind(calls as i32)
    .bind(failures as i32)
    .bind(latency)
    .execute(&app.pool)
    .await
    .unwrap();
}

/// The statistics counters and last success/failure that go with the hours written.
async fn settle(app: &TestApp, id: &str) {
    sqlx::query(
        "update webhooks w set triggers = s.calls, success_triggers = s.calls - s.failures, failure_triggers = s.failures,
             last_success_at = now() - interval '4 minutes',
             last_failure_at = case when s.failures > 0 then s.last_failure end
         from (select sum(calls) calls, sum(failures) failures,
                      max(hour) filter (where failures > 0) + interval '20 minutes' as last_failure
               from webhook_hourly_stats where webhook_id = $1) s
         where w.id = $1",
    )
    .bind(id)
    .execute(&app.pool)
    .await
    .unwrap();
}

/// An account's webhooks with a day (or a week) of calls: steady, flaky, failing, sparse, new.
async fn an_account_with_a_week_of_calls(app: &TestApp) -> String {
    let (plain, _) = plain_and_capable_products(app).await;
    let account = app.vendor_account_id.clone();
    let mut made = Vec::new();
    for (name, kind, class, description) in [
        (
            "Tier accounts (staging)",
            "none",
            "tier_account_request",
            "Created today; not called yet.",
        ),
        (
            "Legacy ERP bridge",
            "failing",
            "fulfillment_request",
            "Old ERP connector, being replaced.",
        ),
        ("Usage file upload", "sparse", "usage_file", "Monthly usage reports."),
        (
            "Billing export",
            "flaky",
            "billing_request",
            "Exports billing requests to finance.",
        ),
        (
            "Listing sync",
            "steady",
            "listing_request",
            "Keeps the marketplace listing in sync.",
        ),
        (
            "Order fulfillment (production)",
            "week",
            "fulfillment_request",
            "Provisions new subscriptions.",
        ),
    ] {
        let id = insert_webhook(app, &account, &plain, name, true).await;
        sqlx::query("update webhooks set object_class = $2, description = $3 where id = $1")
            .bind(&id)
            .bind(class)
            .bind(description)
            .execute(&app.pool)
            .await
            .unwrap();
        made.push((id, kind));
    }
    for (id, kind) in &made {
        match *kind {
            "week" => {
                for h in 0..168 {
                    // A daily rhythm, and an incident two days ago: failures and slow answers.
                    let daily = [
                        8, 6, 5, 5, 6, 9, 14, 22, 30, 36, 40, 42, 41, 40, 38, 36, 34, 30, 26, 22, 18, 14, 12, 10,
                    ];
                    let hour_of_day = (Utc::now() - Duration::hours(h)).hour() as usize;
                    let calls = daily[hour_of_day] + noise(h) % 9;
                    let incident = (46..52).contains(&h);
                    let failures = if incident {
                        calls * (2 + h % 3) / 6
                    } else {
                        i64::from(noise(h) % 23 == 0)
                    };
                    hour(app, id, h, calls, failures, if incident { 8 } else { 4 }).await;
                }
            }
            "steady" => {
                for h in 0..24 {
                    hour(app, id, h, 20 + noise(h) % 15, 0, 3).await;
                }
            }
            "flaky" => {
                for h in 0..24 {
                    hour(app, id, h, 30 + noise(h) % 20, i64::from(noise(h) % 5 == 0), 5).await;
                }
            }
            "failing" => {
                for h in 0..24 {
                    let calls = 6 + noise(h) % 4;
                    hour(app, id, h, calls, if h < 4 { calls } else { 0 }, 6).await;
                }
            }
            "sparse" => {
                for h in [1, 5, 6, 13, 20] {
                    hour(app, id, h, 1 + noise(h) % 3, 0, 4).await;
                }
            }
            _ => {}
        }
        if *kind != "none" {
            settle(app, id).await;
        }
    }
    made.into_iter()
        .find(|(_, kind)| *kind == "week")
        .map(|(id, _)| id)
        .unwrap_or_default()
}

#[tokio::test]
async fn the_health_column_and_the_charts_read_well_on_a_laptop_and_a_phone() {
    let app = spawn_app_with(&[("PORTAL_HEALTH_REFRESH_SECONDS", "1")]).await;
    let week = an_account_with_a_week_of_calls(&app).await;
    let charts = format!("/webhooks/{week}/statistics");

    let browser = Browser::start().await;
    let c = &browser.client;
    sign_in(c, &app).await;
    c.set_window_size(1280, 1200).await.unwrap();
    c.goto(&app.url("/webhooks")).await.unwrap();
    wait_for(c, "#webhook-table").await;
    browser.screenshot("health-list").await;
    let label = c
        .find(Locator::Css(&format!("a[href='/webhooks/{week}']")))
        .await
        .unwrap();
    assert!(label.is_displayed().await.unwrap());
    let sparks = c.find_all(Locator::Css("#webhook-table svg.spark")).await.unwrap();
    assert_eq!(sparks.len(), 5, "every webhook with calls has a sparkline");
    let violations = axe_violations(c).await;
    assert!(violations.is_empty(), "/webhooks: {violations:#?}");

    c.set_window_size(1280, 1400).await.unwrap();
    c.goto(&app.url(&charts)).await.unwrap();
    wait_for(c, "#calls-chart").await;
    browser.screenshot("charts").await;
    // The table alternative opens (a <details>: no script needed) and lists the hours.
    c.find(Locator::Css(".chart-table summary"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let rows = c.find_all(Locator::Css("#hourly-table tbody tr")).await.unwrap();
    assert_eq!(rows.len(), 168);
    assert!(rows[0].is_displayed().await.unwrap());
    let violations = axe_violations(c).await;
    assert!(violations.is_empty(), "{charts}: {violations:#?}");
    browser.close().await;

    let phone = Browser::start_phone().await;
    let c = &phone.client;
    sign_in(c, &app).await;
    for (path, name, part) in [
        ("/webhooks".to_string(), "health-list-phone", "webhook-table"),
        (charts.clone(), "charts-phone", "charts"),
    ] {
        c.goto(&app.url(&path)).await.unwrap();
        wait_for(c, "main").await;
        // The part that matters, as the phone shows it (a page screenshot is of its top).
        let png = c.find(Locator::Id(part)).await.unwrap().screenshot().await.unwrap();
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/screenshots");
        std::fs::write(dir.join(format!("{name}.png")), png).unwrap();
        let widths: Value = c
            .execute(
                "return [document.scrollingElement.scrollWidth, window.innerWidth];",
                vec![],
            )
            .await
            .unwrap();
        assert!(
            widths[0].as_i64() <= widths[1].as_i64(),
            "{path} scrolls sideways: {widths}"
        );
        let violations = axe_violations(c).await;
        assert!(violations.is_empty(), "{path} (390 px): {violations:#?}");
    }
    phone.close().await;
}
