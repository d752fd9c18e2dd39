//! Replay since a time: a webhook's deliveries since a moment (inbound messages, queue-change
//! notifications, Trigger now, failed calls) are counted by a dry run, in the Deliveries tab
//! and the API, and sent again on confirmation through the normal delivery, one by one in
//! their order, each signed; test pings, redeliveries and earlier replays are not replayed; a
//! delivery still being retried is skipped, and one whose message retention removed is left
//! out and said so; every refusal changes nothing.

use std::time::Duration;

use chrono::{DateTime, SubsecRound, Utc};
use serde_json::{json, Value};

use crate::common::handler::{eventually, verified_claims, Behaviour, Handler, Received};
use crate::common::*;
use crate::inbound::{add_key, create_trigger};

/// A webhook calling a real handler, fed by an inbound trigger (with its key) as well as by
/// queue changes.
struct Setup {
    app: TestApp,
    handler: Handler,
    hook: String,
    trigger: String,
    key: String,
}

async fn setup(extra: &[(&str, &str)]) -> Setup {
    let handler = Handler::start().await;
    let mut config: Vec<(&str, &str)> = FAST_DELIVERY.to_vec();
    config.extend_from_slice(extra);
    let app = spawn_app_with(&config).await;
    app.login_admin().await;
    let hook = webhook_calling(&app, &handler.url("/hook"), "POST", json!([]), json!({})).await;
    let (product, _) = plain_and_capable_products(&app).await;
    let trigger = create_trigger(&app, &product, &[]).await;
    let key = add_key(&app, &trigger, "Shop", "").await;
    Setup {
        app,
        handler,
        hook,
        trigger,
        key,
    }
}

impl Setup {
    /// Sends an inbound message with `body`; returns its id.
    async fn message(&self, body: &str) -> i64 {
        let r = reqwest::Client::new()
            .post(self.app.url(&format!("/hooks/in/{}", self.trigger)))
            .header("X-Api-Key", &self.key)
            .header("Content-Type", "text/plain")
            .body(body.to_string())
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 202);
        r.json::<Value>().await.unwrap()["message_id"].as_i64().unwrap()
    }

    /// Waits until the webhook has `n` recorded calls (each recorded after its answer).
    async fn calls_recorded(&self, n: i64) {
        let (pool, hook) = (self.app.pool.clone(), self.hook.clone());
        eventually(&format!("{n} calls recorded"), || {
            let (pool, hook) = (pool.clone(), hook.clone());
            async move { calls(&pool, &hook).await == n }
        })
        .await;
    }

    async fn api(&self, key: &str, hook: &str, body: Value) -> (u16, Value) {
        let r = self
            .app
            .client
            .post(
                self.app
                    .url(&format!("/public/v1/notifications/webhooks/{hook}/replay")),
            )
            .header("authorization", key)
            .json(&body)
            .send()
            .await
            .unwrap();
        (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
    }

    /// Presses Check (or Confirm replay with the checked count): the status and the page.
    async fn form(&self, hook: &str, fields: &[(&str, &str)]) -> (u16, String) {
        let r = self.app.post_form(&format!("/webhooks/{hook}/replay"), fields).await;
        (r.status().as_u16(), r.text().await.unwrap())
    }
}

async fn calls(pool: &sqlx::PgPool, hook: &str) -> i64 {
    sqlx::query_scalar("select count(*) from webhook_attempts where webhook_id = $1")
        .bind(hook)
        .fetch_one(pool)
        .await
        .unwrap()
}

/// Replay triggers waiting or in flight, for every webhook.
async fn replay_triggers(pool: &sqlx::PgPool) -> i64 {
    sqlx::query_scalar("select count(*) from webhook_triggers where replay_of is not null")
        .fetch_one(pool)
        .await
        .unwrap()
}

/// A moment as the page writes it, read as text (no-break spaces as spaces).
fn said(t: &DateTime<Utc>) -> String {
    webhook_portal::webhooks::replay::moment(t).replace('\u{a0}', " ")
}

/// A moment as the form's `datetime-local` field sends it (to the second).
fn field(t: &DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S").to_string()
}

fn rfc3339(t: &DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// The text of the element with `id` in `html` (up to its first tag's end).
fn summary(html: &str) -> String {
    text_of(
        html.split("id=\"replay-summary\">")
            .nth(1)
            .and_then(|rest| rest.split("</p>").next())
            .unwrap_or(""),
    )
}

/// The message a call carries (`None` for a queue-change or Trigger now call), verifying its
/// token with the webhook's secret.
fn message_of(call: &Received) -> Option<i64> {
    verified_claims(&call.headers, WEBHOOK_SECRET)["inbound"]["message_id"].as_i64()
}

/// The first call of each delivery since `since` in the database, in order: the calls a
/// replay must repeat.
async fn first_calls(pool: &sqlx::PgPool, hook: &str, since: DateTime<Utc>) -> Vec<(i64, Option<i64>)> {
    sqlx::query_as(
        "select min(id), min(message_id) from webhook_attempts
         where webhook_id = $1 and trigger_id is not null and not test and redelivery_of is null
           and replay_of is null
         group by trigger_id having min(started_at) >= $2 order by min(started_at)",
    )
    .bind(hook)
    .bind(since)
    .fetch_all(pool)
    .await
    .unwrap()
}

#[tokio::test]
async fn a_replay_sends_every_delivery_since_a_time_again_in_order_as_the_dry_run_counted() {
    let s = setup(&[]).await;
    let (app, handler, hook) = (&s.app, &s.handler, s.hook.as_str());

    // A call before `since`: not replayed.
    queue_changes(&app.pool, hook, 1).await;
    s.calls_recorded(1).await;
    let first: DateTime<Utc> = sqlx::query_scalar("select started_at from webhook_attempts where webhook_id = $1")
        .bind(hook)
        .fetch_one(&app.pool)
        .await
        .unwrap();
    let since = first.trunc_subsecs(0) + chrono::Duration::seconds(1);
    while Utc::now() <= since {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // Since then: two messages, a queue change, Trigger now; a test ping and a redelivery
    // (neither is replayed).
    let m1 = s.message("first order").await;
    s.calls_recorded(2).await;
    queue_changes(&app.pool, hook, 1).await;
    s.calls_recorded(3).await;
    let m2 = s.message("second order").await;
    s.calls_recorded(4).await;
    assert_eq!(
        app.post_form(&format!("/webhooks/{hook}/trigger"), &[]).await.status(),
        303
    );
    s.calls_recorded(5).await;
    assert_eq!(
        app.post_form(&format!("/webhooks/{hook}/ping"), &[]).await.status(),
        303
    );
    s.calls_recorded(6).await;
    let queue_call: i64 = sqlx::query_scalar(
        "select id from webhook_attempts where webhook_id = $1 and message_id is null and not manual order by id desc limit 1",
    )
    .bind(hook)
    .fetch_one(&app.pool)
    .await
    .unwrap();
    let r = app
        .post_form(&format!("/webhooks/{hook}/deliveries/{queue_call}/redeliver"), &[])
        .await;
    assert_eq!(r.status(), 303);
    s.calls_recorded(7).await;

    // The handler fails: a queue change is called three times, each a notification of its
    // own that never succeeds, and the webhook goes out of order.
    handler.set(Behaviour {
        status: 500,
        ..Behaviour::default()
    });
    queue_changes(&app.pool, hook, 1).await;
    eventually("out of order after 3 failures", || async {
        stats(&app.pool, hook).await.out_of_order
    })
    .await;
    s.calls_recorded(10).await;

    // Out of order: refused until it is enabled again.
    let (status, page) = s.form(hook, &[("since", &field(&since)), ("action", "check")]).await;
    assert_eq!(status, 409);
    assert!(
        text_of(&page).contains("out of order: enable it first"),
        "{}",
        text_of(&page)
    );
    let (status, body) = s
        .api(&app.api_key("Replays").await, hook, json!({"since": rfc3339(&since)}))
        .await;
    assert_eq!((status, body["error_code"].as_str()), (409, Some("REPLAY_001")));

    handler.set(Behaviour::default());
    assert_eq!(
        app.post_form(&format!("/webhooks/{hook}/enable"), &[]).await.status(),
        303
    );
    let m3 = s.message("third order").await;
    s.calls_recorded(11).await;

    // Eight deliveries: m1, the queue change, m2, Trigger now, three failed notifications, m3.
    let expected = first_calls(&app.pool, hook, since).await;
    let expected_messages: Vec<Option<i64>> = expected.iter().map(|c| c.1).collect();
    assert_eq!(
        expected_messages,
        [Some(m1), None, Some(m2), None, None, None, None, Some(m3)]
    );

    // The dry runs, in the page and the API.
    let (status, page) = s
        .form(
            hook,
            &[("since", &field(&since)), ("only_failed", "on"), ("action", "check")],
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        summary(&page),
        format!("3 events since {} would be sent again.", said(&since))
    );
    let key = app.api_key("Replays 2").await;
    let (status, body) = s
        .api(&key, hook, json!({"since": rfc3339(&since), "dry_run": true}))
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body,
        json!({"events": 8, "since": rfc3339(&since), "only_failed": false, "dry_run": true, "queued": 0, "left_out": 0})
    );
    let (_, body) = s
        .api(
            &key,
            hook,
            json!({"since": rfc3339(&since), "only_failed": true, "dry_run": true}),
        )
        .await;
    assert_eq!((body["events"].as_i64(), body["queued"].as_i64()), (Some(3), Some(0)));
    let (status, page) = s.form(hook, &[("since", &field(&since)), ("action", "check")]).await;
    assert_eq!(status, 200);
    assert_eq!(
        summary(&page),
        format!("8 events since {} would be sent again.", said(&since))
    );
    assert!(page.contains("id=\"confirm-replay\""), "Confirm replay is offered");
    assert_eq!(replay_triggers(&app.pool).await, 0, "a dry run queues nothing");
    let before = stats(&app.pool, hook).await;

    // Confirm: exactly the counted calls arrive, in the original order, each signed.
    let r = app
        .post_form(
            &format!("/webhooks/{hook}/replay"),
            &[("since", &field(&since)), ("events", "8"), ("action", "confirm")],
        )
        .await;
    assert_eq!(r.status(), 303);
    assert_eq!(location(&r), format!("/webhooks/{hook}/deliveries"));
    let list = app.get_html(&format!("/webhooks/{hook}/deliveries")).await;
    assert!(
        text_of(&list).contains("8 events queued for replay."),
        "the flash says so"
    );
    // Recorded in the audit log (a dry run is not: it changes nothing).
    let replays: Vec<(String, String)> = sqlx::query_as(
        "select actor_kind, detail from audit_records where action = 'webhook.replayed' and object_id = $1",
    )
    .bind(hook)
    .fetch_all(&app.pool)
    .await
    .unwrap();
    assert_eq!(replays.len(), 1, "{replays:?}");
    assert!(replays[0].1.starts_with("8 events queued for replay"), "{replays:?}");
    s.calls_recorded(19).await;
    eventually("the replay finished", || async {
        replay_triggers(&app.pool).await == 0
    })
    .await;
    let received = handler.received();
    assert_eq!(received.len(), 19, "exactly 8 more calls");
    let replayed: Vec<Option<i64>> = received[11..].iter().map(message_of).collect();
    assert_eq!(replayed, expected_messages, "in the original order");
    let bodies: Vec<String> = received[11..]
        .iter()
        .filter_map(|c| {
            verified_claims(&c.headers, WEBHOOK_SECRET)["inbound"]["body"]
                .as_str()
                .map(str::to_string)
        })
        .collect();
    assert_eq!(bodies, ["first order", "second order", "third order"]);
    assert!(
        received[11..].iter().all(|c| c.concurrent_same_webhook == 1),
        "one at a time"
    );
    // Named as replays of the originals, in the list and on each call's page; counted as calls.
    let originals: Vec<i64> = sqlx::query_scalar(
        "select replay_of from webhook_attempts where webhook_id = $1 and replay_of is not null order by id",
    )
    .bind(hook)
    .fetch_all(&app.pool)
    .await
    .unwrap();
    assert_eq!(originals, expected.iter().map(|c| c.0).collect::<Vec<_>>());
    let list = text_of(&app.get_html(&format!("/webhooks/{hook}/deliveries")).await);
    assert!(list.contains(&format!("Replay of WHA-{}", originals[7])), "{list}");
    let replay_call: i64 = sqlx::query_scalar("select max(id) from webhook_attempts where webhook_id = $1")
        .bind(hook)
        .fetch_one(&app.pool)
        .await
        .unwrap();
    let call_page = app
        .get_html(&format!("/webhooks/{hook}/deliveries/{replay_call}"))
        .await;
    assert!(call_page.contains(&format!(
        "<a href=\"/webhooks/{hook}/deliveries/{}\" id=\"original-call\">Replay of WHA-{}</a>",
        originals[7], originals[7]
    )));
    let after = stats(&app.pool, hook).await;
    assert_eq!(
        (after.triggers, after.success_triggers, after.events),
        (before.triggers + 8, before.success_triggers + 8, before.events),
        "replayed calls count as calls (no new events)"
    );

    // Earlier replays are not replayed: the count is the same; only failed ones, through the API.
    let (_, body) = s.api(&key, hook, json!({"since": rfc3339(&since)})).await;
    assert_eq!(body["events"], 8);
    let (status, body) = s
        .api(
            &key,
            hook,
            json!({"since": rfc3339(&since), "only_failed": true, "dry_run": false}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!((body["events"].as_i64(), body["queued"].as_i64()), (Some(3), Some(3)));
    let by_token: i64 = sqlx::query_scalar(
        "select count(*) from audit_records where action = 'webhook.replayed' and actor_kind = 'api_token'",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(by_token, 1, "the API's replay is recorded as the token's");
    s.calls_recorded(22).await;
    eventually("the second replay finished", || async {
        replay_triggers(&app.pool).await == 0
    })
    .await;
    let received = handler.received();
    assert_eq!(received.len(), 22);
    assert!(
        received[19..].iter().all(|c| message_of(c).is_none()),
        "the failed notifications"
    );
}

#[tokio::test]
async fn a_delivery_still_being_retried_is_skipped_and_a_running_replay_holds_off_the_next() {
    // Retries a minute apart: a failed call stays pending while the test runs.
    let s = setup(&[("PORTAL_RETRY_BASE_MS", "60000"), ("PORTAL_RETRY_MAX_MS", "60000")]).await;
    let (app, handler, hook) = (&s.app, &s.handler, s.hook.as_str());
    let since = Utc::now().trunc_subsecs(0) - chrono::Duration::seconds(1);
    let key = app.api_key("Replays").await;
    queue_changes(&app.pool, hook, 1).await;
    s.calls_recorded(1).await;
    queue_changes(&app.pool, hook, 1).await;
    s.calls_recorded(2).await;
    handler.set(Behaviour {
        status: 500,
        ..Behaviour::default()
    });
    s.message("waits for its retry").await;
    s.calls_recorded(3).await;

    let (_, body) = s.api(&key, hook, json!({"since": rfc3339(&since)})).await;
    assert_eq!(body["events"], 2, "the message is still being delivered: {body}");

    // The replay's first call fails and waits a minute for its retry; the second waits for it.
    let (status, body) = s
        .api(&key, hook, json!({"since": rfc3339(&since), "dry_run": false}))
        .await;
    assert_eq!((status, body["queued"].as_i64()), (200, Some(2)), "{body}");
    s.calls_recorded(4).await;
    let states: Vec<String> =
        sqlx::query_scalar("select state from webhook_triggers where replay_of is not null order by id")
            .fetch_all(&app.pool)
            .await
            .unwrap();
    assert_eq!(states, ["pending", "queued"]);

    let (status, body) = s
        .api(&key, hook, json!({"since": rfc3339(&since), "dry_run": false}))
        .await;
    assert_eq!(status, 409);
    assert_eq!(body["error_code"], "REPLAY_002");
    assert!(
        body["errors"][0]
            .as_str()
            .unwrap()
            .contains("still has 2 calls waiting"),
        "{body}"
    );
    let (status, page) = s.form(hook, &[("since", &field(&since)), ("action", "check")]).await;
    assert_eq!(status, 409);
    assert!(text_of(&page).contains("still has 2 calls waiting"));
    assert_eq!(replay_triggers(&app.pool).await, 2, "nothing more was queued");
}

#[tokio::test]
async fn a_delivery_whose_message_retention_removed_is_left_out_and_said_so() {
    let s = setup(&[]).await;
    let app = &s.app;
    let hook = s.hook.as_str();
    let since = Utc::now().trunc_subsecs(0) - chrono::Duration::seconds(1);
    s.message("kept a while").await;
    s.calls_recorded(1).await;
    queue_changes(&app.pool, hook, 1).await;
    s.calls_recorded(2).await;
    // Retention removes the message (its calls stay until their own time comes).
    let removed = webhook_portal::inbound::store::forget_messages_before(&app.pool, Utc::now())
        .await
        .unwrap();
    assert_eq!(removed, 1);

    let (status, page) = s.form(hook, &[("since", &field(&since)), ("action", "check")]).await;
    assert_eq!(status, 200);
    assert_eq!(
        summary(&page),
        format!("1 event since {} would be sent again.", said(&since))
    );
    assert!(
        text_of(&page).contains("1 delivery of an inbound message was left out: retention has removed the message.")
    );
    let (_, body) = s
        .api(&app.api_key("Replays").await, hook, json!({"since": rfc3339(&since)}))
        .await;
    assert_eq!((body["events"].as_i64(), body["left_out"].as_i64()), (Some(1), Some(1)));

    // A confirmation of another count than the replay finds queues nothing and shows the count.
    let (status, page) = s
        .form(
            hook,
            &[("since", &field(&since)), ("events", "2"), ("action", "confirm")],
        )
        .await;
    assert_eq!(status, 409);
    assert!(text_of(&page).contains("The count changed since you checked; nothing was queued."));
    assert_eq!(
        summary(&page),
        format!("1 event since {} would be sent again.", said(&since))
    );
    assert_eq!(replay_triggers(&app.pool).await, 0);
    let r = app
        .post_form(
            &format!("/webhooks/{hook}/replay"),
            &[("since", &field(&since)), ("events", "1"), ("action", "confirm")],
        )
        .await;
    assert_eq!(r.status(), 303);
    s.calls_recorded(3).await;
    assert_eq!(
        message_of(&s.handler.received()[2]),
        None,
        "the queue change, sent again"
    );
}

/// `n` deliveries made a minute ago, one call each (a busy webhook's history, written directly).
async fn past_deliveries(app: &TestApp, hook: &str, first_trigger: i64, n: i64) {
    sqlx::query(
        "insert into webhook_attempts (webhook_id, trigger_id, started_at, duration_ms, success, request_method, request_url)
         select $1, $2 + g, now() - interval '60 seconds' + g * interval '1 microsecond', 5, true, 'POST',
                'https://handler.example.com/hook'
         from generate_series(1, $3) g",
    )
    .bind(hook)
    .bind(first_trigger)
    .bind(n)
    .execute(&app.pool)
    .await
    .unwrap();
}

#[tokio::test]
async fn every_refusal_says_why_and_queues_nothing() {
    let s = setup(&[]).await;
    let app = &s.app;
    let hook = s.hook.as_str();
    let key = app.api_key("Replays").await;
    let since = Utc::now().trunc_subsecs(0) - chrono::Duration::minutes(10);
    let since_field = field(&since);
    let check = |since: &str| vec![("since", since.to_string()), ("action", "check".to_string())];
    let form = |fields: Vec<(&'static str, String)>| {
        let s = &s;
        async move {
            let fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
            s.form(hook, &fields).await
        }
    };

    // `since` unreadable, too long, or still to come: next to the field, 422; 400 in the API.
    for bad in ["", "yesterday", "2026-02-30T10:00", &"2".repeat(1000)] {
        let (status, page) = form(check(bad)).await;
        assert_eq!(status, 422, "{bad:.20}");
        assert!(page.contains("id=\"replay-since-error\""), "{bad:.20}");
        assert!(page.contains("aria-invalid=\"true\""));
    }
    let future = Utc::now() + chrono::Duration::hours(1);
    let (status, page) = form(check(&field(&future))).await;
    assert_eq!(status, 422);
    assert!(text_of(&page).contains("is still to come: choose a moment in the past"));
    for body in [
        json!({}),
        json!({"since": "yesterday"}),
        json!({"since": "2026-12-01T10:00:00"}),
        json!({"since": 1764583200}),
        json!({"since": rfc3339(&future)}),
        json!({"since": rfc3339(&since), "only_failed": "yes"}),
        json!({"since": rfc3339(&since), "dry_run": 0}),
        json!([rfc3339(&since)]),
    ] {
        let (status, answer) = s.api(&key, hook, body.clone()).await;
        assert_eq!(
            (status, answer["error_code"].as_str()),
            (400, Some("VAL_001")),
            "{body}"
        );
    }
    // The form's address, opened: the Deliveries tab.
    let r = app.get(&format!("/webhooks/{hook}/replay")).await;
    assert_eq!(
        (r.status().as_u16(), location(&r)),
        (303, format!("/webhooks/{hook}/deliveries"))
    );
    // A confirmation without the count it confirms.
    let (status, _) = s.form(hook, &[("since", &since_field), ("action", "confirm")]).await;
    assert_eq!(status, 400);

    // 10,000 deliveries may be replayed; one more is refused: choose a later time.
    past_deliveries(app, hook, 1_000_000, 10_000).await;
    let (status, answer) = s.api(&key, hook, json!({"since": rfc3339(&since)})).await;
    assert_eq!((status, answer["events"].as_i64()), (200, Some(10_000)), "{answer}");
    past_deliveries(app, hook, 2_000_000, 1).await;
    let (status, page) = form(check(&since_field)).await;
    assert_eq!(status, 422);
    assert!(text_of(&page).contains(&format!(
        "More than 10,000 events since {}: choose a later time.",
        said(&since)
    )));
    let (status, answer) = s
        .api(&key, hook, json!({"since": rfc3339(&since), "dry_run": false}))
        .await;
    assert_eq!((status, answer["error_code"].as_str()), (400, Some("VAL_001")));
    assert!(answer["errors"][0]
        .as_str()
        .unwrap()
        .starts_with("since: More than 10,000 events"));
    // Later, none of them.
    let (_, answer) = s
        .api(&key, hook, json!({"since": rfc3339(&Utc::now().trunc_subsecs(0))}))
        .await;
    assert_eq!(answer["events"], 0);

    // Disabled: enable it first.
    assert_eq!(
        app.post_form(&format!("/webhooks/{hook}/disable"), &[]).await.status(),
        303
    );
    let (status, page) = form(check(&since_field)).await;
    assert_eq!(status, 409);
    assert!(text_of(&page).contains("This webhook is disabled: enable it first"));
    let (status, answer) = s.api(&key, hook, json!({"since": rfc3339(&since)})).await;
    assert_eq!((status, answer["error_code"].as_str()), (409, Some("REPLAY_001")));
    assert_eq!(
        app.post_form(&format!("/webhooks/{hook}/enable"), &[]).await.status(),
        303
    );

    // Without the CSRF token: 403.
    let r = app
        .client
        .post(app.url(&format!("/webhooks/{hook}/replay")))
        .form(&[("since", since_field.as_str()), ("action", "check")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);

    // Another account's webhook is not found, in the page and the API.
    let (product, _) = plain_and_capable_products(app).await;
    let theirs = insert_webhook(app, &app.distributor_account_id, &product, "Theirs", true).await;
    let (status, _) = s.form(&theirs, &[("since", &since_field), ("action", "check")]).await;
    assert_eq!(status, 404);
    let (status, answer) = s.api(&key, &theirs, json!({"since": rfc3339(&since)})).await;
    assert_eq!((status, answer["error_code"].as_str()), (404, Some("NFND_000")));

    // A token that may not edit webhooks: 403 AUTH_002.
    let html = app
        .post_form(
            "/tokens",
            &[("name", "Read only"), ("access_given", "1"), ("create_webhooks", "on")],
        )
        .await
        .text()
        .await
        .unwrap();
    let read_only = format!("ApiKey {}", shown_token(&html));
    let (status, answer) = s.api(&read_only, hook, json!({"since": rfc3339(&since)})).await;
    assert_eq!((status, answer["error_code"].as_str()), (403, Some("AUTH_002")));

    // A viewer sees no Replay form and may not replay.
    let viewer = app.second_browser();
    viewer.login_viewer().await;
    let page = viewer.get_html(&format!("/webhooks/{hook}/deliveries")).await;
    assert!(!page.contains("id=\"replay\""), "no Replay form for a viewer");
    let r = viewer
        .post_form(
            &format!("/webhooks/{hook}/replay"),
            &[("since", &since_field), ("action", "check")],
        )
        .await;
    assert_eq!(r.status(), 403);

    assert_eq!(replay_triggers(&app.pool).await, 0, "no refusal queued anything");
    assert_eq!(s.handler.count(), 0, "and nothing was called");
}

#[tokio::test]
async fn the_replay_form_checks_and_confirms_in_a_browser_on_a_laptop_and_a_phone() {
    use crate::common::browser::{click, sign_in, type_into, wait_for, wait_for_text, Browser};

    let s = setup(&[]).await;
    let (app, hook) = (&s.app, s.hook.as_str());
    let since = Utc::now().trunc_subsecs(0) - chrono::Duration::seconds(1);
    s.message("an order").await;
    queue_changes(&app.pool, hook, 1).await;
    s.calls_recorded(2).await;

    // The phone only checks: the laptop's replay, once confirmed, holds off further ones.
    for (name, phone) in [("phone", true), ("laptop", false)] {
        let browser = if phone {
            Browser::start_phone().await
        } else {
            Browser::start().await
        };
        let c = &browser.client;
        if !phone {
            c.set_window_size(1280, 900).await.unwrap();
        }
        sign_in(c, app).await;
        c.goto(&app.url(&format!("/webhooks/{hook}/deliveries"))).await.unwrap();
        wait_for(c, "#replay-since").await;
        browser.screenshot(&format!("replay-{name}-form")).await;
        // The field holds a `datetime-local` value; typing replaces it as the browser reads it.
        c.execute(
            "document.getElementById('replay-since').value = arguments[0];",
            vec![json!(since.format("%Y-%m-%dT%H:%M:%S").to_string())],
        )
        .await
        .unwrap();
        click(c, "#replay-check").await;
        wait_for_text(c, "#replay-summary", "2 events since").await;
        browser.screenshot(&format!("replay-{name}-checked")).await;
        if phone {
            let width: i64 = c
                .execute("return document.documentElement.scrollWidth;", vec![])
                .await
                .unwrap()
                .as_i64()
                .unwrap();
            assert!(width <= 390, "the page fits the phone: {width}px");
            // A refused moment, said next to the field.
            type_into(c, "#replay-since", "").await;
            click(c, "#replay-check").await;
            wait_for(c, "#replay-since-error").await;
            browser.screenshot("replay-phone-refused").await;
        } else {
            click(c, "#confirm-replay").await;
            wait_for_text(c, "main", "2 events queued for replay.").await;
            // The list refreshes itself while calls are pending: the replayed calls appear.
            wait_for_text(c, "#deliveries", "Replay of WHA-").await;
            browser.screenshot("replay-laptop-queued").await;
        }
        browser.close().await;
    }
    s.calls_recorded(4).await;
}
