//! Health at a glance: the hourly figures after known calls (test pings and redeliveries not
//! counted), the list's Health column with its sparkline, the "failing" filter and the sort by
//! health with keyset pages, the Statistics tab's charts and their table, retention of the
//! figures, and `/metrics` after known traffic, guarded by its token or on its own address.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};
use serde_json::json;

use crate::common::handler::{eventually, Behaviour, Handler};
use crate::common::*;
use webhook_portal::delivery::store::hour_of;
use webhook_portal::latency;

/// Local handlers allowed, and no automatic retry within a test: each Trigger now is one call.
const ONE_CALL_A_PRESS: [(&str, &str); 6] = [
    ("PORTAL_ENDPOINT_ALLOWLIST", "127.0.0.0/8"),
    ("PORTAL_RETRY_BASE_MS", "600000"),
    ("PORTAL_RETRY_MAX_MS", "600000"),
    ("PORTAL_REQUEST_TIMEOUT_MS", "2000"),
    ("PORTAL_DELIVERY_POLL_MS", "500"),
    ("PORTAL_HEALTH_REFRESH_SECONDS", "1"),
];

/// Presses Trigger now and waits until the call is recorded (`calls` in the statistics).
async fn press_trigger_now(app: &TestApp, id: &str, calls: i64) {
    let r = app.post_form(&format!("/webhooks/{id}/trigger"), &[]).await;
    assert_eq!(r.status(), 303);
    eventually("the call is recorded", || async {
        stats(&app.pool, id).await.triggers == calls
    })
    .await;
}

async fn point_at(app: &TestApp, id: &str, url: &str) {
    sqlx::query("update webhooks set external_url = $2 where id = $1")
        .bind(id)
        .bind(url)
        .execute(&app.pool)
        .await
        .unwrap();
}

type Hours = BTreeMap<DateTime<Utc>, (i32, i32, Vec<i32>)>;

/// The webhook's hourly figures as stored.
async fn stored_hours(app: &TestApp, id: &str) -> Hours {
    let rows: Vec<(DateTime<Utc>, i32, i32, Vec<i32>)> =
        sqlx::query_as("select hour, calls, failures, latency from webhook_hourly_stats where webhook_id = $1")
            .bind(id)
            .fetch_all(&app.pool)
            .await
            .unwrap();
    rows.into_iter().map(|(h, c, f, l)| (h, (c, f, l))).collect()
}

/// The figures the webhook's recorded calls add up to (its test pings and redeliveries aside).
async fn hours_of_calls(app: &TestApp, id: &str) -> Hours {
    let calls: Vec<(DateTime<Utc>, bool, i32)> = sqlx::query_as(
        "select started_at, success, duration_ms from webhook_attempts
         where webhook_id = $1 and not test and redelivery_of is null",
    )
    .bind(id)
    .fetch_all(&app.pool)
    .await
    .unwrap();
    let mut hours = Hours::new();
    for (started_at, success, ms) in calls {
        let (c, f, l) = hours
            .entry(hour_of(started_at))
            .or_insert_with(|| (0, 0, vec![0; latency::SLOTS]));
        *c += 1;
        *f += i32::from(!success);
        l[latency::slot(ms) as usize] += 1;
    }
    // Slots after the last one with calls are not stored.
    for (_, _, l) in hours.values_mut() {
        while l.last() == Some(&0) {
            l.pop();
        }
    }
    hours
}

/// The list row (`<tr>…</tr>`) of a webhook.
fn row_of<'a>(html: &'a str, id: &str) -> &'a str {
    html.split("<tr>")
        .find(|r| r.contains(&format!("href=\"/webhooks/{id}\"")))
        .unwrap_or_else(|| panic!("{id} is listed"))
}

/// The webhook ids of a list page, in order.
fn listed(html: &str) -> Vec<String> {
    html.split("<a class=\"strong\" href=\"/webhooks/")
        .skip(1)
        .filter_map(|r| r.split('"').next())
        .map(str::to_string)
        .collect()
}

/// A link of the page's pager (`rel="next"` or `"prev"`), unescaped.
fn pager_link(html: &str, rel: &str) -> Option<String> {
    let at = html.find(&format!("rel=\"{rel}\""))?;
    let start = html[..at].rfind("href=\"")? + 6;
    let end = start + html[start..].find('"')?;
    Some(html[start..end].replace("&#38;", "&").replace("&amp;", "&"))
}

/// An hour of figures written as the delivery task writes them: `calls` in latency `slot`.
async fn put_hour(app: &TestApp, id: &str, hour: DateTime<Utc>, calls: i32, failures: i32, slot: usize) {
    let mut latency = vec![0; latency::SLOTS];
    latency[slot] = calls;
    sqlx::query(
        "insert into webhook_hourly_stats (webhook_id, hour, calls, failures, latency) values ($1, $2, $3, $4, $5)",
    )
    .bind(id)
    .bind(hour_of(hour))
    .bind(calls)
    .bind(failures)
    .bind(latency)
    .execute(&app.pool)
    .await
    .unwrap();
}

#[tokio::test]
async fn known_calls_fill_their_hours_and_the_list_shows_each_webhooks_health() {
    let ok = Handler::start().await;
    let broken = Handler::start().await;
    broken.set(Behaviour {
        status: 500,
        ..Behaviour::default()
    });
    let app = spawn_app_with(&ONE_CALL_A_PRESS).await;
    app.login_admin().await;
    let hook = |url: String| {
        let app = &app;
        async move { webhook_calling(app, &url, "POST", json!([]), json!({})).await }
    };
    let steady = hook(ok.url("/steady")).await;
    let failing = hook(broken.url("/failing")).await;
    let mixed = hook(ok.url("/mixed")).await;
    let quiet = hook(ok.url("/quiet")).await;
    for n in 1..=4 {
        press_trigger_now(&app, &steady, n).await;
    }
    for n in 1..=2 {
        press_trigger_now(&app, &failing, n).await;
    }
    for n in 1..=3 {
        press_trigger_now(&app, &mixed, n).await;
    }
    point_at(&app, &mixed, &broken.url("/mixed")).await;
    press_trigger_now(&app, &mixed, 4).await;

    // Each webhook's hours hold exactly its calls: counts, failures and latency slots.
    for (id, calls, failures) in [(&steady, 4, 0), (&failing, 2, 2), (&mixed, 4, 1)] {
        let stored = stored_hours(&app, id).await;
        assert_eq!(stored, hours_of_calls(&app, id).await, "{id}");
        let total = stored.values().fold((0, 0), |(c, f), h| (c + h.0, f + h.1));
        assert_eq!(total, (calls, failures), "{id}");
        for (c, _, latency) in stored.values() {
            assert!(
                latency.len() <= latency::SLOTS && latency.last() != Some(&0),
                "{latency:?}"
            );
            assert_eq!(latency.iter().sum::<i32>(), *c, "every call in one latency slot");
        }
    }
    assert!(stored_hours(&app, &quiet).await.is_empty());

    // A test ping and a redelivery are calls too, but in no statistics: the hours stay.
    let before = stored_hours(&app, &steady).await;
    let r = app.post_form(&format!("/webhooks/{steady}/ping"), &[]).await;
    assert_eq!(r.status(), 303);
    let first_call: i64 = sqlx::query_scalar("select min(id) from webhook_attempts where webhook_id = $1")
        .bind(&steady)
        .fetch_one(&app.pool)
        .await
        .unwrap();
    let r = app
        .post_form(&format!("/webhooks/{steady}/deliveries/{first_call}/redeliver"), &[])
        .await;
    assert_eq!(r.status(), 303);
    eventually("the ping and the redelivery are recorded", || async {
        let n: i64 = sqlx::query_scalar(
            "select count(*) from webhook_attempts where webhook_id = $1 and (test or redelivery_of is not null)",
        )
        .bind(&steady)
        .fetch_one(&app.pool)
        .await
        .unwrap();
        n == 2
    })
    .await;
    assert_eq!(stored_hours(&app, &steady).await, before);

    // The list: the rate, the sparkline's name, failures drawn only where there were some.
    let html = app.get_html("/webhooks").await;
    assert!(
        html.contains("<th class=\"col-health\" aria-sort=\"none\">"),
        "a Health column"
    );
    for (id, rate, label, failed) in [
        (&steady, "100%", "100% of 4 calls succeeded in the last 24 h", false),
        (&failing, "0%", "0% of 2 calls succeeded in the last 24 h", true),
        (&mixed, "75.0%", "75.0% of 4 calls succeeded in the last 24 h", true),
    ] {
        let row = row_of(&html, id);
        assert!(row.contains(&format!(">{rate}</span>")), "{id} shows {rate}: {row}");
        assert!(row.contains(&format!("role=\"img\" aria-label=\"{label}\"")), "{row}");
        assert_eq!(row.contains("class=\"spark-bad\""), failed, "{row}");
        let hours = row.matches("<rect class=\"spark-").count();
        assert!(hours >= 24, "an hour a bar (a failed hour has two parts): {hours}");
    }
    let row = row_of(&html, &quiet);
    assert!(text_of(row).contains("no calls"), "{row}");
    assert!(!row.contains("<svg"), "no sparkline without calls");
    let tone = |id: &str| {
        let row = row_of(&html, id);
        ["ok", "warn", "bad"]
            .into_iter()
            .find(|t| row.contains(&format!("health-rate health-{t}")))
            .map(str::to_string)
    };
    assert_eq!(tone(&steady).as_deref(), Some("ok"));
    assert_eq!(tone(&mixed).as_deref(), Some("bad"));

    // Another account sees none of it; a viewer sees it too.
    let other = app.second_browser();
    other.login_viewer().await;
    let viewer_row = other.get_html("/webhooks").await;
    assert!(row_of(&viewer_row, &mixed).contains("75.0% of 4 calls"));
    let distributor = app.second_browser();
    distributor.login_distributor().await;
    assert!(!distributor.get_html("/webhooks").await.contains(&mixed));
}

#[tokio::test]
async fn the_failing_filter_and_the_sort_by_health_page_by_key() {
    let broken = Handler::start().await;
    broken.set(Behaviour {
        status: 503,
        ..Behaviour::default()
    });
    let app = spawn_app_with(&ONE_CALL_A_PRESS).await;
    app.login_admin().await;
    let (product, _) = plain_and_capable_products(&app).await;
    let account = app.vendor_account_id.clone();

    // Failing now: a failed call a moment ago. Failed two hours ago: not failing.
    let failing = webhook_calling(&app, &broken.url("/now"), "POST", json!([]), json!({})).await;
    press_trigger_now(&app, &failing, 1).await;
    let earlier = insert_webhook(&app, &account, &product, "Failed earlier", true).await;
    sqlx::query("update webhooks set last_failure_at = now() - interval '2 hours' where id = $1")
        .bind(&earlier)
        .execute(&app.pool)
        .await
        .unwrap();
    put_hour(&app, &earlier, Utc::now() - Duration::hours(2), 10, 1, 5).await;
    // 32 more: a spread of rates (ties included) and some without calls.
    let mut known: Vec<(String, Option<i64>)> = vec![(failing.clone(), Some(0)), (earlier.clone(), Some(9000))];
    for i in 0..32 {
        let id = insert_webhook(&app, &account, &product, &format!("Spread {i:02}"), true).await;
        if i % 5 == 4 {
            // A rate from calls that have since left the 24 h: the refresh clears it.
            sqlx::query("update webhooks set health_bp = 5000 where id = $1")
                .bind(&id)
                .execute(&app.pool)
                .await
                .unwrap();
            known.push((id, None));
            continue;
        }
        let failures = (i % 7) * 3;
        put_hour(&app, &id, Utc::now(), 60, failures, 4).await;
        known.push((id, Some(10_000 * i64::from(60 - failures) / 60)));
    }

    let html = app.get_html("/webhooks?health=failing").await;
    assert_eq!(
        listed(&html),
        std::slice::from_ref(&failing),
        "only a failure within the hour counts"
    );
    assert!(text_of(&html).contains("1 webhook"));
    assert!(html.contains("<option value=\"failing\" selected>"));
    let none = app.get_html("/webhooks?health=failing&status=disabled").await;
    assert!(text_of(&none).contains("No webhooks match these filters"));
    // An unknown value is no filter, as the other filters treat theirs.
    let r = app.get("/webhooks?health=sometimes").await;
    assert_eq!(r.status(), 200);
    assert_eq!(listed(&r.text().await.unwrap()).len(), 25);

    // The sort key is refreshed from the hourly figures in the background.
    let with_calls = known.iter().filter(|(_, bp)| bp.is_some()).count() as i64;
    eventually("the rates are refreshed", || async {
        let n: i64 =
            sqlx::query_scalar("select count(*) from webhooks where account_id = $1 and health_bp is not null")
                .bind(&account)
                .fetch_one(&app.pool)
                .await
                .unwrap();
        n == with_calls
    })
    .await;
    let stored: Vec<(String, Option<i32>)> =
        sqlx::query_as("select id, health_bp from webhooks where account_id = $1 order by id")
            .bind(&account)
            .fetch_all(&app.pool)
            .await
            .unwrap();
    let mut expected = known.clone();
    expected.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(
        stored,
        expected
            .iter()
            .map(|(id, bp)| (id.clone(), bp.map(|b| b as i32)))
            .collect::<Vec<_>>(),
        "each rate in basis points, rounded down"
    );

    // Worst first, webhooks without calls last; ties by id. Walked page by page and back.
    let mut worst_first = known.clone();
    worst_first.sort_by_key(|(id, bp)| (bp.unwrap_or(10_001), id.clone()));
    let worst_first: Vec<String> = worst_first.into_iter().map(|(id, _)| id).collect();
    let mut walked = Vec::new();
    let mut path = "/webhooks?sort=health".to_string();
    let mut pages = Vec::new();
    for _ in 0..5 {
        let html = app.get_html(&path).await;
        walked.extend(listed(&html));
        pages.push(html.clone());
        match pager_link(&html, "next") {
            Some(next) => path = next,
            None => break,
        }
    }
    assert_eq!(walked, worst_first);
    assert_eq!(pages.len(), 2);
    let back = pager_link(&pages[1], "prev").expect("a link back");
    assert!(back.contains("sort=health"), "{back}");
    assert_eq!(listed(&app.get_html(&back).await), worst_first[..25]);
    assert!(pages[0].contains("aria-sort=\"ascending\""));
    assert!(pages[0].contains("id=\"sort-health\" href=\"/webhooks?sort=-health\""));
    assert!(
        pages[0].contains("<input type=\"hidden\" name=\"sort\" value=\"health\">"),
        "Apply keeps the sort"
    );

    // Best first, still without calls last.
    let mut best_first = known.clone();
    best_first.sort_by_key(|(id, bp)| (std::cmp::Reverse(bp.unwrap_or(-1)), std::cmp::Reverse(id.clone())));
    let html = app.get_html("/webhooks?sort=-health").await;
    assert_eq!(
        listed(&html),
        best_first.iter().take(25).map(|(id, _)| id.clone()).collect::<Vec<_>>()
    );
    assert!(html.contains("aria-sort=\"descending\""));

    // A filter and the sort together; a cursor of another order or nonsense is the first page.
    let html = app.get_html("/webhooks?health=failing&sort=health").await;
    assert_eq!(listed(&html), std::slice::from_ref(&failing));
    for cursor in ["nonsense", "1700000000000000_WH-123-456-789", "h99999_WH-123-456-789"] {
        let r = app.get(&format!("/webhooks?sort=health&after={cursor}")).await;
        assert_eq!(r.status(), 200, "{cursor}");
        assert_eq!(listed(&r.text().await.unwrap()), worst_first[..25], "{cursor}");
    }
    let default = app.get_html("/webhooks").await;
    assert!(default.contains("id=\"sort-health\" href=\"/webhooks?sort=health\""));
}

#[tokio::test]
async fn the_statistics_tab_charts_7_days_of_hours_with_a_table_alternative() {
    let ok = Handler::start().await;
    let app = spawn_app_with(&ONE_CALL_A_PRESS).await;
    app.login_admin().await;
    let id = webhook_calling(&app, &ok.url("/charted"), "POST", json!([]), json!({})).await;

    // Before any call: no charts, the tab says so as before.
    let tab = app.get_html(&format!("/webhooks/{id}/statistics")).await;
    assert!(!tab.contains("id=\"calls-chart\""));
    for n in 1..=3 {
        press_trigger_now(&app, &id, n).await;
    }
    // Two days earlier, 10 calls of 100–200 ms, 2 failed; and 8 days ago, beyond the charts.
    let earlier = Utc::now() - Duration::hours(50);
    put_hour(&app, &id, earlier, 10, 2, 7).await;
    put_hour(&app, &id, Utc::now() - Duration::days(8), 99, 99, 7).await;

    let tab = app.get_html(&format!("/webhooks/{id}/statistics")).await;
    let live = tab.split("id=\"stats-live\"").nth(1).expect("the live part");
    for part in [
        "<svg class=\"chart-svg\" id=\"calls-chart\"",
        "<title id=\"calls-chart-title\">Calls per hour in the last 7 days, successes and failures stacked</title>",
        "<svg class=\"chart-svg\" id=\"latency-chart\"",
        "<title id=\"latency-chart-title\">Latency per hour in the last 7 days: median (p50) and 95th percentile (p95), on a log scale</title>",
        "<details class=\"chart-table\">",
        "id=\"hourly-table\"",
    ] {
        assert!(live.contains(part), "{part} inside the part that refreshes itself");
    }
    assert!(text_of(live).contains("13 calls in the last 7 days, 2 failed (84.6% succeeded)"));
    // The table: a row per hour with calls, oldest first, matching the stored figures.
    let table = live.split("id=\"hourly-table\"").nth(1).unwrap();
    let rows: Vec<String> = table
        .split("<tr>")
        .skip(2)
        .map(|r| text_of(r.split("</tr>").next().unwrap()))
        .collect();
    let stored = stored_hours(&app, &id).await;
    let recent: Vec<_> = stored
        .iter()
        .filter(|(hour, _)| **hour > Utc::now() - Duration::days(7))
        .collect();
    assert_eq!(rows.len(), recent.len(), "{rows:?}");
    let label = |at: DateTime<Utc>| at.format("%a %m/%d, %-I %p").to_string();
    assert_eq!(rows[0], format!("{} 10 8 2 150 ms 195 ms", label(hour_of(earlier))));
    for (row, (hour, (calls, failures, _))) in rows.iter().zip(&recent).skip(1) {
        assert!(
            row.starts_with(&format!("{} {calls} {} {failures} ", label(**hour), calls - failures)),
            "{row}"
        );
    }
    // The bars: one per hour with calls, failures stacked where there were some.
    let calls_chart = live
        .split("id=\"calls-chart\"")
        .nth(1)
        .unwrap()
        .split("</svg>")
        .next()
        .unwrap();
    assert_eq!(calls_chart.matches("<g><title>").count(), recent.len());
    assert_eq!(calls_chart.matches("class=\"bar-bad\"").count(), 1);
    assert!(calls_chart.contains(&format!(
        "<title>{}: 10 calls, 2 failed</title>",
        label(hour_of(earlier))
    )));

    // A viewer sees the charts; another account's webhook is not found.
    let viewer = app.second_browser();
    viewer.login_viewer().await;
    assert!(viewer
        .get_html(&format!("/webhooks/{id}/statistics"))
        .await
        .contains("id=\"calls-chart\""));
    let distributor = app.second_browser();
    distributor.login_distributor().await;
    assert_eq!(
        distributor.get(&format!("/webhooks/{id}/statistics")).await.status(),
        404
    );

    // Retention: hours that ended before the period go with the calls.
    let forgotten =
        webhook_portal::webhooks::store::retention::forget_before(&app.pool, Utc::now() - Duration::days(7))
            .await
            .unwrap();
    assert_eq!(forgotten.hours, 1);
    assert_eq!(stored_hours(&app, &id).await.len(), recent.len());
}

/// `value` of the first sample line of `name` (with its labels) in a scrape.
fn sample(text: &str, name: &str) -> f64 {
    text.lines()
        .find_map(|l| l.strip_prefix(name).and_then(|rest| rest.strip_prefix(' ')))
        .unwrap_or_else(|| panic!("{name} in\n{text}"))
        .parse()
        .unwrap_or_else(|_| panic!("{name} is a number"))
}

#[tokio::test]
async fn metrics_count_known_traffic_behind_a_bearer_token() {
    const TOKEN: &str = "scrape-token-for-tests-0123";
    let ok = Handler::start().await;
    let mut settings = ONE_CALL_A_PRESS.to_vec();
    settings.push(("PORTAL_METRICS_TOKEN", TOKEN));
    let app = spawn_app_with(&settings).await;
    app.login_admin().await;
    let scraper = reqwest::Client::new();
    let scrape = || async {
        let r = scraper
            .get(app.url("/metrics"))
            .bearer_auth(TOKEN)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        assert_eq!(r.headers()["content-type"], "text/plain; version=0.0.4; charset=utf-8");
        r.text().await.unwrap()
    };

    // Without the token, or with another: 401, and nothing about the portal.
    for auth in [None, Some("Bearer wrong-token-wrong-token"), Some("Basic c2NyYXBl")] {
        let mut request = scraper.get(app.url("/metrics"));
        if let Some(a) = auth {
            request = request.header("authorization", a);
        }
        let r = request.send().await.unwrap();
        assert_eq!(r.status(), 401, "{auth:?}");
        assert_eq!(r.headers()["www-authenticate"], "Bearer realm=\"metrics\"");
        assert!(!r.text().await.unwrap().contains("webhook_portal_"));
    }
    let before = scrape().await;
    assert_eq!(sample(&before, "webhook_portal_calls_total{outcome=\"success\"}"), 0.0);

    // Known traffic: 2 successes and a failure; an inbound message accepted, two refused.
    let id = webhook_calling(&app, &ok.url("/counted"), "POST", json!([]), json!({})).await;
    press_trigger_now(&app, &id, 1).await;
    press_trigger_now(&app, &id, 2).await;
    point_at(&app, &id, "http://127.0.0.1:9/closed").await;
    press_trigger_now(&app, &id, 3).await;
    let (product, _) = plain_and_capable_products(&app).await;
    let trigger = crate::inbound::create_trigger(&app, &product, &[]).await;
    let key = crate::inbound::add_key(&app, &trigger, "Shop", "").await;
    let inbound = |key: Option<&str>, path: String| {
        let mut r = scraper.post(app.url(&path)).body("{}");
        if let Some(k) = key {
            r = r.header("x-api-key", k);
        }
        r.send()
    };
    assert_eq!(
        inbound(Some(&key), format!("/hooks/in/{trigger}"))
            .await
            .unwrap()
            .status(),
        202
    );
    assert_eq!(
        inbound(None, format!("/hooks/in/{trigger}")).await.unwrap().status(),
        401
    );
    assert_eq!(
        inbound(Some(&key), "/hooks/in/IT-000-000-000".into())
            .await
            .unwrap()
            .status(),
        404
    );
    eventually("the message's call is recorded", || async {
        stats(&app.pool, &id).await.triggers == 4
    })
    .await;

    let text = scrape().await;
    let successes: i64 = sqlx::query_scalar("select count(*) from webhook_attempts where success")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(successes, 2, "the message's call failed too (the endpoint is closed)");
    for (name, value) in [
        ("webhook_portal_calls_total{outcome=\"success\"}", 2.0),
        ("webhook_portal_calls_total{outcome=\"failure\"}", 2.0),
        ("webhook_portal_call_duration_seconds_count", 4.0),
        ("webhook_portal_call_duration_seconds_bucket{le=\"+Inf\"}", 4.0),
        ("webhook_portal_inbound_messages_total", 1.0),
        ("webhook_portal_inbound_refused_total{reason=\"unauthorized\"}", 1.0),
        ("webhook_portal_inbound_refused_total{reason=\"not_found\"}", 1.0),
        ("webhook_portal_inbound_refused_total{reason=\"too_large\"}", 0.0),
        ("webhook_portal_due_triggers", 0.0),
        ("webhook_portal_webhooks_out_of_order", 0.0),
    ] {
        assert_eq!(sample(&text, name), value, "{name}");
    }
    // No label names a webhook, an account or a trigger.
    for secret in [id.as_str(), app.vendor_account_id.as_str(), trigger.as_str()] {
        assert!(!text.contains(secret), "{secret} in the metrics");
    }

    // A portal without a token has no /metrics on its address.
    let plain = spawn_app().await;
    let r = scraper
        .get(plain.url("/metrics"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
}

#[tokio::test]
async fn metrics_on_their_own_address_show_the_queue_of_every_process() {
    // A portal that makes no calls: what is due stays due, as when the delivery falls behind.
    let database = seeded_database().await;
    let config = test_config(
        &database.url,
        &[
            ("PORTAL_METRICS_ADDR", "127.0.0.1:0"),
            ("PORTAL_DELIVERY_ENABLED", "false"),
        ],
    );
    let portal = webhook_portal::startup::Application::build(config).await.unwrap();
    let metrics = portal.metrics_addr().expect("a metrics address");
    let addr = portal.local_addr().unwrap();
    let pool = portal.pool().clone();
    tokio::spawn(portal.run_until(std::future::pending()));
    let app = spawn_app_on(&database, &[("PORTAL_DELIVERY_ENABLED", "false")]).await;
    let (product, _) = plain_and_capable_products(&app).await;
    let mut hooks = Vec::new();
    for name in ["Due one", "Due two", "Out of order", "Disabled"] {
        hooks.push(insert_webhook(&app, &app.vendor_account_id, &product, name, name != "Disabled").await);
    }
    sqlx::query("update webhooks set out_of_order = true where id = $1")
        .bind(&hooks[2])
        .execute(&pool)
        .await
        .unwrap();
    for id in &hooks {
        queue_changes(&pool, id, 2).await;
    }
    sqlx::query("update webhook_triggers set due_at = now() - interval '90 seconds' where webhook_id = $1")
        .bind(&hooks[0])
        .execute(&pool)
        .await
        .unwrap();

    let client = reqwest::Client::new();
    let r = client.get(format!("http://{metrics}/metrics")).send().await.unwrap();
    assert_eq!(r.status(), 200, "no token is set: the address is the protection");
    let text = r.text().await.unwrap();
    assert_eq!(sample(&text, "webhook_portal_due_triggers"), 2.0, "{text}");
    assert_eq!(sample(&text, "webhook_portal_webhooks_out_of_order"), 1.0);
    let age = sample(&text, "webhook_portal_oldest_due_trigger_age_seconds");
    assert!((90.0..3600.0).contains(&age), "{age}");
    // The metrics address serves nothing else; the portal's address has no /metrics.
    assert_eq!(
        client
            .get(format!("http://{metrics}/webhooks"))
            .send()
            .await
            .unwrap()
            .status(),
        404
    );
    assert_eq!(
        client
            .get(format!("http://{addr}/metrics"))
            .send()
            .await
            .unwrap()
            .status(),
        404
    );
    // The portal's own page works as ever.
    assert_eq!(
        client
            .get(format!("http://{addr}/healthz"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
}
