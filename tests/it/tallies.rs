//! Successful calls reach the statistics through tallies (one row per recorded batch, added up
//! a few times a second): a read shows every recorded call, and each is counted exactly once
//! however many processes add the tallies at the same moment.

use chrono::{DateTime, Duration, Utc};
use serde_json::{json, Value};
use webhook_portal::delivery::store::{add_tallies, hour_of, record_successes, Success};
use webhook_portal::domain::HttpMethod;

use crate::common::*;

/// A successful call of `webhook` as the delivery task would record it (its trigger long gone).
fn success(webhook: &str, trigger_id: i64, started_at: DateTime<Utc>, duration_ms: i32) -> Success {
    Success {
        webhook_id: webhook_id(webhook),
        trigger_id,
        claimed_until: started_at,
        manual: false,
        started_at,
        duration_ms,
        status_code: Some(200),
        method: HttpMethod::Post,
        url: "https://handler.example.com/hook".into(),
        request_headers: json!([]),
        request_body: Some("{}".into()),
        response_headers: json!([]),
        response_body: Some("ok".into()),
        response_truncated: false,
        message_id: None,
        replay_of: None,
    }
}

async fn counters(app: &TestApp, id: &str) -> (i64, i64, Option<i64>) {
    sqlx::query_as("select triggers, success_triggers, last_success_attempt_id from webhooks where id = $1")
        .bind(id)
        .fetch_one(&app.pool)
        .await
        .unwrap()
}

#[tokio::test]
async fn the_api_shows_a_recorded_call_whose_tally_is_still_waiting() {
    let app = spawn_app().await;
    app.login_admin().await;
    let key = app.api_key("Statistics").await;
    let (product, _) = plain_and_capable_products(&app).await;
    let hook = insert_webhook(&app, &app.vendor_account_id, &product, "Tallied", true).await;
    let at = Utc::now() - Duration::seconds(5);
    record_successes(&app.pool, 1, &[success(&hook, 1, at, 12)])
        .await
        .unwrap();
    assert_eq!(counters(&app, &hook).await, (0, 0, None), "the tally waits");

    let r = reqwest::Client::new()
        .get(app.url(&format!("/public/v1/notifications/webhooks/{hook}")))
        .header("Authorization", &key)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["stats"]["triggers"], 1, "{body}");
    assert_eq!(body["stats"]["success_triggers"], 1, "{body}");
    assert_eq!(body["last_success"]["status_code"], 200, "{body}");

    // The read added the tally: once, and into the call's hour too.
    let attempt: i64 = sqlx::query_scalar("select id from webhook_attempts where webhook_id = $1")
        .bind(&hook)
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(counters(&app, &hook).await, (1, 1, Some(attempt)));
    assert_eq!(add_tallies(&app.pool).await.unwrap(), 0, "nothing left to add");
    let hour: (i32, i32) =
        sqlx::query_as("select calls, failures from webhook_hourly_stats where webhook_id = $1 and hour = $2")
            .bind(&hook)
            .bind(hour_of(at))
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(hour, (1, 0));
}

#[tokio::test]
async fn every_call_is_counted_once_however_many_add_the_tallies_at_once() {
    let app = spawn_app().await;
    let (product, _) = plain_and_capable_products(&app).await;
    let mut hooks = Vec::new();
    for i in 0..8 {
        hooks.push(insert_webhook(&app, &app.vendor_account_id, &product, &format!("Busy {i}"), true).await);
    }
    const BATCHES: usize = 60;
    let start = Utc::now() - Duration::minutes(10);
    // Batches are recorded while four adders keep adding whatever is waiting.
    let recording = {
        let pool = app.pool.clone();
        let hooks = hooks.clone();
        tokio::spawn(async move {
            for b in 0..BATCHES {
                let batch: Vec<Success> = hooks
                    .iter()
                    .enumerate()
                    .map(|(i, h)| {
                        success(
                            h,
                            (b * 100 + i + 1) as i64,
                            start + Duration::milliseconds(b as i64 * 10),
                            (b % 7) as i32 * 3,
                        )
                    })
                    .collect();
                record_successes(&pool, 1, &batch).await.unwrap();
            }
        })
    };
    let adders: Vec<_> = (0..4)
        .map(|_| {
            let pool = app.pool.clone();
            tokio::spawn(async move {
                let mut added = 0;
                for _ in 0..40 {
                    added += add_tallies(&pool).await.unwrap();
                }
                added
            })
        })
        .collect();
    recording.await.unwrap();
    let mut added = 0;
    for adder in adders {
        added += adder.await.unwrap();
    }
    added += add_tallies(&app.pool).await.unwrap();
    assert_eq!(added, (BATCHES * hooks.len()) as i64, "every call added once in all");

    for hook in &hooks {
        let latest: i64 = sqlx::query_scalar("select max(id) from webhook_attempts where webhook_id = $1")
            .bind(hook)
            .fetch_one(&app.pool)
            .await
            .unwrap();
        assert_eq!(
            counters(&app, hook).await,
            (BATCHES as i64, BATCHES as i64, Some(latest)),
            "{hook}: each call counted once; the last success is the latest call"
        );
        let hours: (i64, i64) = sqlx::query_as(
            "select sum(calls)::bigint, sum((select sum(x) from unnest(latency) x))::bigint
             from webhook_hourly_stats where webhook_id = $1",
        )
        .bind(hook)
        .fetch_one(&app.pool)
        .await
        .unwrap();
        assert_eq!(hours, (BATCHES as i64, BATCHES as i64), "{hook}: hours and histogram");
    }
    let waiting: i64 = sqlx::query_scalar("select count(*) from webhook_call_tallies")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(waiting, 0);
}
