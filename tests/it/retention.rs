//! Retention: calls, events and inbound messages older than `PORTAL_RETENTION_DAYS` go, in batches; newer ones
//! and the statistics counters stay, and so do a webhook's last success and last failure.

use chrono::{Duration, Utc};
use webhook_portal::webhooks::store::retention::forget_before;

use crate::common::*;

/// `n` attempts of `webhook`, `age_days` old (spread over the hour before), `success` or not.
async fn attempts(app: &TestApp, webhook: &str, n: i64, age_days: i64, success: bool) -> Vec<i64> {
    sqlx::query_scalar(
        "insert into webhook_attempts (webhook_id, started_at, duration_ms, success, status_code, request_method,
             request_url)
         select $1, now() - make_interval(days => $3::int, secs => i::double precision / 10), 12, $4,
                case when $4 then 200 else 500 end, 'POST', 'https://handler.example.com/hook'
         from generate_series(1, $2) i
         returning id",
    )
    .bind(webhook)
    .bind(n)
    .bind(age_days)
    .bind(success)
    .fetch_all(&app.pool)
    .await
    .expect("insert attempts")
}

async fn events(app: &TestApp, webhook: &str, n: i64, age_days: i64) {
    sqlx::query(
        "insert into webhook_events (webhook_id, source, created_at)
         select $1, 'queue_change', now() - make_interval(days => $3::int) from generate_series(1, $2)",
    )
    .bind(webhook)
    .bind(n)
    .bind(age_days)
    .execute(&app.pool)
    .await
    .expect("insert events");
}

async fn count(app: &TestApp, sql: &str, webhook: &str) -> i64 {
    sqlx::query_scalar(sql)
        .bind(webhook)
        .fetch_one(&app.pool)
        .await
        .expect("count")
}

#[tokio::test]
async fn old_calls_and_events_go_in_batches_newer_ones_and_the_counters_stay() {
    let app = spawn_app().await;
    app.login_admin().await;
    let (product, _) = plain_and_capable_products(&app).await;
    let id = insert_webhook(&app, &app.vendor_account_id, &product, "Busy", true).await;
    let other = insert_webhook(&app, &app.vendor_account_id, &product, "Quiet", true).await;

    // 12,000 old calls (more than two batches), an old failure that is the last failure, and
    // recent calls; old and recent events; counters as the delivery task keeps them.
    attempts(&app, &id, 12_000, 45, true).await;
    let last_failure = attempts(&app, &id, 1, 40, false).await[0];
    let recent = attempts(&app, &id, 30, 2, true).await;
    let last_success = *recent.last().expect("recent calls");
    attempts(&app, &other, 5, 29, true).await;
    events(&app, &id, 7_000, 45).await;
    events(&app, &id, 20, 1).await;
    sqlx::query(
        "update webhooks set triggers = 12031, success_triggers = 12030, failure_triggers = 1,
             last_success_attempt_id = $2, last_failure_attempt_id = $3 where id = $1",
    )
    .bind(&id)
    .bind(last_success)
    .bind(last_failure)
    .execute(&app.pool)
    .await
    .unwrap();
    sqlx::query("insert into webhook_event_stats (webhook_id, events, last_event_at) values ($1, 7020, now())")
        .bind(&id)
        .execute(&app.pool)
        .await
        .unwrap();
    let before = stats(&app.pool, &id).await;

    let forgotten = forget_before(&app.pool, Utc::now() - Duration::days(30))
        .await
        .expect("retention");
    assert_eq!(forgotten.attempts, 12_000, "every old call but the last failure");
    assert_eq!(forgotten.events, 7_000);

    let attempts_sql = "select count(*) from webhook_attempts where webhook_id = $1";
    assert_eq!(
        count(&app, attempts_sql, &id).await,
        31,
        "30 recent calls and the last failure"
    );
    assert_eq!(
        count(&app, attempts_sql, &other).await,
        5,
        "calls within the period stay"
    );
    assert_eq!(
        count(&app, "select count(*) from webhook_events where webhook_id = $1", &id).await,
        20
    );
    assert_eq!(
        stats(&app.pool, &id).await,
        before,
        "the statistics are counters: they stay"
    );

    // The Statistics tab's links to the last answers still work; the Deliveries tab says how
    // far back calls go.
    let failure = app.get(&format!("/webhooks/{id}/deliveries/{last_failure}")).await;
    assert_eq!(failure.status(), 200);
    let tab = app.get_html(&format!("/webhooks/{id}/deliveries")).await;
    assert!(
        text_of(&tab).contains("Calls are kept for 30 days"),
        "{}",
        text_of(&tab)
    );

    // A second run finds nothing more to remove.
    let again = forget_before(&app.pool, Utc::now() - Duration::days(30))
        .await
        .expect("retention");
    assert_eq!((again.attempts, again.events), (0, 0));
}

#[tokio::test]
async fn the_retention_period_is_a_setting() {
    let app = spawn_app_with(&[("PORTAL_RETENTION_DAYS", "7")]).await;
    app.login_admin().await;
    let (product, _) = plain_and_capable_products(&app).await;
    let id = insert_webhook(&app, &app.vendor_account_id, &product, "Weekly", true).await;
    let tab = app.get_html(&format!("/webhooks/{id}/deliveries")).await;
    assert!(text_of(&tab).contains("Calls are kept for 7 days"), "{}", text_of(&tab));
    let bad =
        webhook_portal::config::Config::from_lookup(|name| (name == "PORTAL_RETENTION_DAYS").then(|| "0".to_string()));
    assert_eq!(bad.map(|_| ()).unwrap_err().var, "PORTAL_RETENTION_DAYS");
}

#[tokio::test]
async fn old_inbound_messages_go_with_their_bodies_unless_a_call_for_them_is_pending() {
    let app = spawn_app().await;
    let (product, _) = plain_and_capable_products(&app).await;
    let webhook = insert_webhook(&app, &app.vendor_account_id, &product, "Fed", true).await;
    // 6,000 old messages with a body (over one batch), one old message still waiting for its
    // call, and a recent one.
    let message = |age_days: i32, n: i64| {
        let pool = app.pool.clone();
        let account = app.vendor_account_id.clone();
        async move {
            sqlx::query_scalar::<_, i64>(
                "insert into inbound_messages (method, received_at, account_id, body_bytes, body_size, body_sha256)
                 select 'POST', now() - make_interval(days => $1), $2, '\\x00ff'::bytea, 2,
                        encode(sha256('\\x00ff'::bytea), 'hex')
                 from generate_series(1, $3)
                 returning id",
            )
            .bind(age_days)
            .bind(account)
            .bind(n)
            .fetch_all(&pool)
            .await
            .expect("insert messages")
        }
    };
    message(45, 6_000).await;
    let waiting = message(45, 1).await[0];
    let recent = message(2, 1).await[0];
    sqlx::query(
        "insert into webhook_triggers (webhook_id, state, due_at, message_id) values ($1, 'pending', now(), $2)",
    )
    .bind(&webhook)
    .bind(waiting)
    .execute(&app.pool)
    .await
    .unwrap();

    let removed = webhook_portal::inbound::store::forget_messages_before(&app.pool, Utc::now() - Duration::days(30))
        .await
        .unwrap();
    assert_eq!(removed, 6_000);
    let left: Vec<i64> = sqlx::query_scalar("select id from inbound_messages order by id")
        .fetch_all(&app.pool)
        .await
        .unwrap();
    assert_eq!(left, vec![waiting, recent]);
}
