//! Durability across processes: the portal runs as child processes on one database; one is
//! killed with SIGKILL mid-work, two share the work.

use std::process::Command;
use std::time::Duration;

use crate::common::handler::{eventually, stays, within, Handler};
use crate::common::*;
use serde_json::json;

use crate::common::process::Portal;

async fn attempts(app: &TestApp, id: &str) -> i64 {
    sqlx::query_scalar("select count(*) from webhook_attempts where webhook_id = $1")
        .bind(id)
        .fetch_one(&app.pool)
        .await
        .unwrap()
}

#[tokio::test]
async fn a_pending_trigger_survives_kill_9_and_is_called_once_after_restart() {
    // The test's own portal only serves the database; the child processes deliver.
    let app = spawn_app_with(&[("PORTAL_DELIVERY_ENABLED", "false")]).await;
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let id = webhook_calling(
        &app,
        &format!("http://127.0.0.1:{port}/hook"),
        "POST",
        json!([]),
        json!({}),
    )
    .await;
    let mut settings = FAST_DELIVERY.to_vec();
    settings.retain(|(k, _)| !k.starts_with("PORTAL_RETRY"));
    settings.extend([("PORTAL_RETRY_BASE_MS", "1500"), ("PORTAL_RETRY_MAX_MS", "1500")]);

    let first = Portal::start(&app.database.url, &settings);
    // Nothing listens yet: the call is refused and a retry is scheduled.
    queue_changes(&app.pool, &id, 1).await;
    eventually("first attempt recorded", || async { attempts(&app, &id).await == 1 }).await;
    eventually("retry scheduled", || async {
        stats(&app.pool, &id).await.failure_triggers == 1
    })
    .await;
    first.kill_9();

    // While no portal runs, another event arrives; it joins the pending retry.
    queue_changes(&app.pool, &id, 1).await;
    let handler = Handler::start_on(&format!("127.0.0.1:{port}")).await;
    let _second = Portal::start(&app.database.url, &settings);
    handler.wait_for(1).await;
    eventually("success recorded", || async {
        stats(&app.pool, &id).await.success_triggers == 1
    })
    .await;
    stays(
        Duration::from_millis(2000),
        "called exactly once after the restart",
        || async { handler.count() == 1 },
    )
    .await;
    let s = stats(&app.pool, &id).await;
    assert_eq!(
        (s.events, s.triggers, s.success_triggers, s.failure_triggers),
        (2, 2, 1, 1)
    );
}

#[tokio::test]
async fn two_processes_on_one_database_make_each_call_exactly_once() {
    let app = spawn_app_with(&[("PORTAL_DELIVERY_ENABLED", "false")]).await;
    let handler = Handler::start().await;
    handler.set(crate::common::handler::Behaviour {
        delay: Duration::from_millis(20),
        ..Default::default()
    });
    let mut ids = Vec::new();
    for _ in 0..40 {
        ids.push(webhook_calling(&app, &handler.url("/"), "POST", json!([]), json!({})).await);
    }
    // Fewer slots than a round has calls, so that one process cannot take a whole round.
    let mut settings = FAST_DELIVERY.to_vec();
    settings.push(("PORTAL_DELIVERY_CONCURRENCY", "32"));
    let _a = Portal::start(&app.database.url, &settings);
    let _b = Portal::start(&app.database.url, &settings);
    for round in 1..=3i64 {
        queue_change_each(&app.pool, &ids).await;
        eventually(&format!("round {round} delivered"), || async {
            let done: i64 = sqlx::query_scalar("select count(*) from webhooks where success_triggers = $1")
                .bind(round)
                .fetch_one(&app.pool)
                .await
                .unwrap();
            done == ids.len() as i64
        })
        .await;
    }
    stays(Duration::from_millis(1000), "no call twice", || async {
        handler.count() == 120
    })
    .await;
    let received = handler.received();
    assert_eq!(received.len(), 120, "3 rounds × 40 webhooks, no call twice");
    for id in &ids {
        assert_eq!(received.iter().filter(|c| &c.webhook_id == id).count(), 3, "{id}");
    }
    assert!(
        received.iter().all(|c| c.concurrent_same_webhook == 1),
        "never two calls of one webhook at once"
    );
    let recorded: i64 = sqlx::query_scalar("select count(*) from webhook_attempts")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(recorded, 120, "every call recorded once");
    let workers: i64 = sqlx::query_scalar("select count(distinct worker) from webhook_attempts")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(workers, 2, "both processes delivered");
}

#[tokio::test]
async fn sigterm_lets_a_call_in_flight_finish_and_records_it() {
    let app = spawn_app_with(&[("PORTAL_DELIVERY_ENABLED", "false")]).await;
    let handler = Handler::start().await;
    handler.set(crate::common::handler::Behaviour {
        delay: Duration::from_millis(1500),
        ..Default::default()
    });
    let id = webhook_calling(&app, &handler.url("/slow"), "POST", json!([]), json!({})).await;
    let mut settings = FAST_DELIVERY.to_vec();
    settings.retain(|(k, _)| *k != "PORTAL_REQUEST_TIMEOUT_MS");
    settings.push(("PORTAL_REQUEST_TIMEOUT_MS", "5000"));
    let portal = Portal::start(&app.database.url, &settings);
    queue_changes(&app.pool, &id, 1).await;
    handler.wait_for(1).await;
    // The call is in flight: ask the process to stop.
    let pid = portal.0.id().to_string();
    let status = Command::new("kill").args(["-TERM", &pid]).status().unwrap();
    assert!(status.success());
    let mut portal = portal;
    let exit = tokio::task::spawn_blocking(move || portal.0.wait().unwrap())
        .await
        .unwrap();
    assert!(exit.success(), "a clean exit after SIGTERM: {exit:?}");
    // The call finished and was recorded before the process exited; nothing is left in flight.
    let s = stats(&app.pool, &id).await;
    assert_eq!((s.triggers, s.success_triggers), (1, 1));
    let left: i64 = sqlx::query_scalar("select count(*) from webhook_triggers")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(left, 0);
    assert_eq!(handler.count(), 1);
}

#[tokio::test]
async fn kill_9_in_the_middle_of_a_batch_loses_nothing_and_repeats_only_the_calls_in_flight() {
    let app = spawn_app_with(&[("PORTAL_DELIVERY_ENABLED", "false")]).await;
    // Twenty endpoints answer at once; twenty others hold their calls until the process dies.
    let fast = Handler::start().await;
    let slow = Handler::start().await;
    slow.set(crate::common::handler::Behaviour {
        delay: Duration::from_secs(60),
        ..Default::default()
    });
    let mut fast_ids = Vec::new();
    let mut slow_ids = Vec::new();
    for _ in 0..20 {
        fast_ids.push(webhook_calling(&app, &fast.url("/"), "POST", json!([]), json!({})).await);
        slow_ids.push(webhook_calling(&app, &slow.url("/"), "POST", json!([]), json!({})).await);
    }
    let mut settings = FAST_DELIVERY.to_vec();
    settings.retain(|(k, _)| *k != "PORTAL_REQUEST_TIMEOUT_MS");
    settings.extend([
        ("PORTAL_REQUEST_TIMEOUT_MS", "30000"),
        ("PORTAL_DELIVERY_CONCURRENCY", "64"),
    ]);
    let first = Portal::start(&app.database.url, &settings);
    // One transaction of 40 events: the process claims them together (one or a few claims).
    queue_change_each(&app.pool, fast_ids.iter().chain(&slow_ids)).await;
    // Midway: the fast calls are made and recorded, the slow ones are in flight.
    fast.wait_for(20).await;
    slow.wait_for(20).await;
    eventually("the fast calls recorded", || async {
        let recorded: i64 = sqlx::query_scalar("select count(*) from webhook_attempts")
            .fetch_one(&app.pool)
            .await
            .unwrap();
        recorded == 20
    })
    .await;
    first.kill_9();

    // Another process takes over once the dead one's liveness runs out, and makes the calls
    // that were in flight again, and only those.
    slow.set(crate::common::handler::Behaviour::default());
    let _second = Portal::start(&app.database.url, &settings);
    within(Duration::from_secs(45), "every webhook's call recorded", || async {
        let done: i64 = sqlx::query_scalar("select count(*) from webhooks where success_triggers = 1")
            .fetch_one(&app.pool)
            .await
            .unwrap();
        done == 40
    })
    .await;
    stays(Duration::from_millis(1500), "nothing more is called", || async {
        fast.count() == 20 && slow.count() == 40
    })
    .await;
    for id in &fast_ids {
        let calls = fast.received().iter().filter(|c| &c.webhook_id == id).count();
        assert_eq!(calls, 1, "{id}: recorded before the kill, not called again");
    }
    for id in &slow_ids {
        let calls = slow.received().iter().filter(|c| &c.webhook_id == id).count();
        assert_eq!(calls, 2, "{id}: in flight at the kill, called once more");
    }
    for id in fast_ids.iter().chain(&slow_ids) {
        let s = stats(&app.pool, id).await;
        assert_eq!(
            (s.events, s.triggers, s.success_triggers, s.failure_triggers),
            (1, 1, 1, 0),
            "{id}"
        );
        assert_eq!(attempts(&app, id).await, 1, "{id}: one attempt recorded");
    }
    let left: i64 = sqlx::query_scalar("select count(*) from webhook_triggers")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(left, 0, "no trigger left behind");
}
