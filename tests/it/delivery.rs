//! The delivery engine against a real handler on 127.0.0.1: the signed call, success and
//! failure statistics, retries, out of order, coalescing, disabled webhooks, caps, redaction.

use std::time::Duration;

use crate::common::handler::{eventually, stays, verified_claims, Behaviour, Handler};
use crate::common::*;
use jsonwebtoken::{decode, decode_header, Algorithm, DecodingKey, Validation};
use serde_json::{json, Value};

const SECRET: &str = WEBHOOK_SECRET;

async fn trigger_now(app: &TestApp, id: &str) {
    let r = app.post_form(&format!("/webhooks/{id}/trigger"), &[]).await;
    assert_eq!(r.status(), 303);
    assert_eq!(location(&r), format!("/webhooks/{id}/statistics"));
}

#[tokio::test]
async fn a_post_call_is_signed_and_carries_the_payload_and_custom_headers() {
    let handler = Handler::start().await;
    let app = spawn_app_with(&FAST_DELIVERY).await;
    app.login_admin().await;
    let id = webhook_calling(
        &app,
        &handler.url("/hook"),
        "POST",
        json!([["X-Custom-Header", "Connect"]]),
        json!({"purpose": "demo", "audience": "partners"}),
    )
    .await;
    trigger_now(&app, &id).await;
    let calls = handler.wait_for(1).await;
    let call = &calls[0];
    assert_eq!(call.method, "POST");
    assert_eq!(call.uri.path(), "/hook");
    assert_eq!(call.headers["content-type"], "application/json");
    assert_eq!(call.headers["x-custom-header"], "Connect");
    assert!(call.headers["user-agent"]
        .to_str()
        .unwrap()
        .starts_with("webhook-portal/"));

    // The token verifies with the shared secret, as a handler's JWT library would check it.
    let token = call.headers["authorization"]
        .to_str()
        .unwrap()
        .strip_prefix("Bearer ")
        .unwrap()
        .to_string();
    assert_eq!(
        call.headers["authentication"].to_str().unwrap(),
        format!("Bearer {token}"),
        "also under the article's header name"
    );
    let header = decode_header(&token).unwrap();
    assert_eq!(header.alg, Algorithm::HS256);
    assert_eq!(header.typ.as_deref(), Some("JWT"));
    let mut validation = Validation::new(Algorithm::HS256);
    validation.leeway = 0;
    validation.set_required_spec_claims(&["exp"]);
    let claims = decode::<Value>(&token, &DecodingKey::from_secret(SECRET.as_bytes()), &validation)
        .expect("token verifies")
        .claims;
    assert!(
        decode::<Value>(
            &token,
            &DecodingKey::from_secret(b"another secret entirely"),
            &validation
        )
        .is_err(),
        "a wrong secret fails"
    );
    let mut keys: Vec<&str> = claims.as_object().unwrap().keys().map(String::as_str).collect();
    keys.sort();
    assert_eq!(
        keys,
        [
            "account_id",
            "api_url",
            "data",
            "exp",
            "last_failure_at",
            "last_success_at",
            "object_class",
            "processing_timeout",
            "product_id",
            "triggered_at",
            "webhook_id",
            "webhook_name"
        ]
    );
    assert_eq!(claims["webhook_id"], id.as_str());
    assert_eq!(claims["webhook_name"], "Delivery test");
    assert_eq!(
        claims["object_class"], "fulfillment_requests",
        "as the article shows handlers"
    );
    assert_eq!(claims["account_id"], app.vendor_account_id.as_str());
    assert_eq!(claims["api_url"], format!("{}/public/v1/", app.base));
    assert_eq!(claims["processing_timeout"], 600);
    assert_eq!(claims["data"], json!({"purpose": "demo", "audience": "partners"}));
    assert_eq!(claims["last_success_at"], Value::Null);
    let triggered_at = chrono::DateTime::parse_from_rfc3339(claims["triggered_at"].as_str().unwrap()).unwrap();
    assert!(claims["triggered_at"].as_str().unwrap().ends_with("+00:00"));
    assert_eq!(claims["exp"].as_i64().unwrap(), triggered_at.timestamp() + 600);

    // The body is the same payload without exp.
    let body: Value = serde_json::from_slice(&call.body).unwrap();
    let mut expected = claims.clone();
    expected.as_object_mut().unwrap().remove("exp");
    assert_eq!(body, expected);

    // Statistics: one event, one trigger, one success.
    eventually("success recorded", || async {
        stats(&app.pool, &id).await.success_triggers == 1
    })
    .await;
    let s = stats(&app.pool, &id).await;
    assert_eq!(
        (
            s.events,
            s.triggers,
            s.success_triggers,
            s.failure_triggers,
            s.failure_since_last_success
        ),
        (1, 1, 1, 0, 0)
    );

    // The stored attempt has the token redacted.
    let (headers, body_stored, status): (Value, Option<String>, Option<i32>) =
        sqlx::query_as("select request_headers, request_body, status_code from webhook_attempts where webhook_id = $1")
            .bind(&id)
            .fetch_one(&app.pool)
            .await
            .unwrap();
    let headers_text = headers.to_string();
    assert!(
        !headers_text.contains(&token) && !headers_text.contains(token.split('.').nth(2).unwrap()),
        "token never stored"
    );
    assert!(headers_text.contains("Bearer [redacted]"));
    assert_eq!(status, Some(200));
    assert_eq!(serde_json::from_str::<Value>(&body_stored.unwrap()).unwrap(), expected);

    // The statistics tab shows it, with a link to the response.
    let tab = app.get_html(&format!("/webhooks/{id}/statistics")).await;
    assert!(tab.contains("id=\"stat-success\">1<"), "success count shown");
    assert!(tab.contains("View response"));
    let attempt_id: i64 = sqlx::query_scalar("select id from webhook_attempts where webhook_id = $1")
        .bind(&id)
        .fetch_one(&app.pool)
        .await
        .unwrap();
    let view = app.get_html(&format!("/webhooks/{id}/deliveries/{attempt_id}")).await;
    assert!(view.contains("Bearer [redacted]") && !view.contains(&token));
    assert!(view.contains("Status 200"));
}

#[tokio::test]
async fn a_get_call_has_no_body() {
    let handler = Handler::start().await;
    let app = spawn_app_with(&FAST_DELIVERY).await;
    app.login_admin().await;
    let id = webhook_calling(
        &app,
        &handler.url("/get-hook?x=1"),
        "GET",
        json!([]),
        json!({"ignored": true}),
    )
    .await;
    trigger_now(&app, &id).await;
    let call = handler.wait_for(1).await.remove(0);
    assert_eq!(call.method, "GET");
    assert_eq!(call.uri.query(), Some("x=1"));
    assert!(call.body.is_empty());
    assert!(call.headers.get("content-type").is_none());
    let claims = verified_claims(&call.headers, SECRET);
    assert_eq!(
        claims["webhook_id"],
        id.as_str(),
        "everything a handler needs is in the token"
    );
}

#[tokio::test]
async fn a_put_call_carries_the_payload_like_post() {
    let handler = Handler::start().await;
    let app = spawn_app_with(&FAST_DELIVERY).await;
    app.login_admin().await;
    let id = webhook_calling(
        &app,
        &handler.url("/put-hook"),
        "PUT",
        json!([["X-Custom-Header", "v1"]]),
        json!({"purpose": "demo"}),
    )
    .await;
    trigger_now(&app, &id).await;
    let call = handler.wait_for(1).await.remove(0);
    assert_eq!(call.method, "PUT");
    assert_eq!(call.headers["content-type"], "application/json");
    assert_eq!(call.headers["x-custom-header"], "v1");
    let body: Value = serde_json::from_slice(&call.body).expect("a JSON body");
    let claims = verified_claims(&call.headers, SECRET);
    assert_eq!(body["webhook_id"], id.as_str());
    assert_eq!(body["data"], json!({"purpose": "demo"}), "custom data travels with PUT");
    assert_eq!(claims["data"], body["data"]);
    assert_eq!(body["object_class"], "fulfillment_requests");
    // The tab says PUT, and the API shows it.
    let tab = app.get_html(&format!("/webhooks/{id}/http")).await;
    assert!(tab.contains(">PUT<"), "the HTTP settings tab shows the method");
}

/// Waits for the n-th attempt and returns its (success, error_kind, error, status).
async fn attempt_n(app: &TestApp, id: &str, n: i64) -> (bool, Option<String>, Option<String>, Option<i32>) {
    eventually(&format!("attempt {n}"), || async {
        let c: i64 = sqlx::query_scalar("select count(*) from webhook_attempts where webhook_id = $1")
            .bind(id)
            .fetch_one(&app.pool)
            .await
            .unwrap();
        c >= n
    })
    .await;
    sqlx::query_as("select success, error_kind, error, status_code from webhook_attempts where webhook_id = $1 order by id offset $2 limit 1")
        .bind(id)
        .bind(n - 1)
        .fetch_one(&app.pool)
        .await
        .unwrap()
}

/// Seconds from the last failure to the scheduled next trigger.
async fn scheduled_delay(app: &TestApp, id: &str) -> f64 {
    sqlx::query_scalar(
        "select extract(epoch from t.due_at - w.last_failure_at)::float8 from webhooks w
         join webhook_triggers t on t.webhook_id = w.id and t.state = 'pending' where w.id = $1",
    )
    .bind(id)
    .fetch_one(&app.pool)
    .await
    .unwrap()
}

#[tokio::test]
async fn failures_schedule_retries_at_growing_intervals() {
    let handler = Handler::start().await;
    handler.set(Behaviour {
        status: 500,
        body: "boom".into(),
        ..Behaviour::default()
    });
    // A long base interval: the retries stay scheduled and Trigger now drives each attempt.
    let mut settings = FAST_DELIVERY.to_vec();
    settings.retain(|(k, _)| !k.starts_with("PORTAL_RETRY") && *k != "PORTAL_OUT_OF_ORDER_AFTER");
    settings.extend([("PORTAL_RETRY_BASE_MS", "300000"), ("PORTAL_RETRY_MAX_MS", "3600000")]);
    let app = spawn_app_with(&settings).await;
    app.login_admin().await;
    let id = webhook_calling(&app, &handler.url("/"), "POST", json!([]), json!({})).await;

    let mut delays = Vec::new();
    for n in 1..=3 {
        trigger_now(&app, &id).await;
        let (success, kind, error, status) = attempt_n(&app, &id, n).await;
        assert!(!success);
        assert_eq!(
            (kind.as_deref(), error.as_deref(), status),
            (Some("http"), Some("HTTP 500"), Some(500))
        );
        eventually("retry scheduled", || async {
            stats(&app.pool, &id).await.failure_triggers == n
        })
        .await;
        delays.push(scheduled_delay(&app, &id).await);
    }
    // At least 5 minutes, then at least 10, then at least 20 (jitter only adds).
    assert!(delays[0] >= 300.0 && delays[0] <= 360.0 + 1.0, "{delays:?}");
    assert!(delays[1] >= 600.0, "{delays:?}");
    assert!(delays[2] >= 1200.0, "{delays:?}");
    let s = stats(&app.pool, &id).await;
    assert_eq!(
        (s.events, s.triggers, s.failure_triggers, s.failure_since_last_success),
        (3, 3, 3, 3)
    );
    let tab = app.get_html(&format!("/webhooks/{id}/statistics")).await;
    assert!(!text_of(&tab).contains("Next trigger —"), "next trigger shown");
    assert_eq!(handler.count(), 3, "no call before the scheduled time");
}

#[tokio::test]
async fn a_retry_happens_by_itself_and_success_resets_the_failure_count() {
    let handler = Handler::start().await;
    handler.set(Behaviour {
        status: 503,
        ..Behaviour::default()
    });
    let app = spawn_app_with(&FAST_DELIVERY).await;
    app.login_admin().await;
    let id = webhook_calling(&app, &handler.url("/"), "POST", json!([]), json!({})).await;
    queue_changes(&app.pool, &id, 1).await;
    attempt_n(&app, &id, 1).await;
    handler.set(Behaviour::default());
    let (success, ..) = attempt_n(&app, &id, 2).await;
    assert!(success, "the automatic retry succeeded");
    eventually("success counted", || async {
        stats(&app.pool, &id).await.success_triggers == 1
    })
    .await;
    let s = stats(&app.pool, &id).await;
    assert_eq!(
        (s.events, s.triggers, s.failure_triggers, s.failure_since_last_success),
        (1, 2, 1, 0)
    );
    // The second call tells the handler when the last failure was.
    let calls = handler.received();
    let body: Value = serde_json::from_slice(&calls[1].body).unwrap();
    assert!(body["last_failure_at"].is_string());
    // The Deliveries tab says which call was the retry; the first one has no label.
    let page = text_of(&app.get_html(&format!("/webhooks/{id}/deliveries")).await);
    assert_eq!(page.matches("Retry 1").count(), 1, "{page}");
    assert!(!page.contains("Retry 2"));
}

#[tokio::test]
async fn timeouts_refused_connections_and_blocked_addresses_fail_clearly() {
    let handler = Handler::start().await;
    handler.set(Behaviour {
        delay: Duration::from_secs(5),
        ..Behaviour::default()
    });
    let app = spawn_app_with(&FAST_DELIVERY).await;
    app.login_admin().await;

    let slow = webhook_calling(&app, &handler.url("/slow"), "POST", json!([]), json!({})).await;
    trigger_now(&app, &slow).await;
    let (success, kind, error, _) = attempt_n(&app, &slow, 1).await;
    assert!(!success);
    assert_eq!(kind.as_deref(), Some("timeout"), "{error:?}");

    // Nothing listens on this port.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let refused = webhook_calling(
        &app,
        &format!("http://127.0.0.1:{closed}/"),
        "POST",
        json!([]),
        json!({}),
    )
    .await;
    trigger_now(&app, &refused).await;
    let (success, kind, error, status) = attempt_n(&app, &refused, 1).await;
    assert!(!success && status.is_none());
    assert_eq!(kind.as_deref(), Some("refused"), "{error:?}");

    // Private and metadata addresses are refused by policy, before any connection.
    for (url, reason) in [
        ("http://10.1.2.3/hook", "private"),
        ("http://169.254.169.254/latest/meta-data", "metadata"),
        ("http://[::1]:9/", "loopback"),
    ] {
        let blocked = webhook_calling(&app, url, "POST", json!([]), json!({})).await;
        trigger_now(&app, &blocked).await;
        let (success, kind, error, _) = attempt_n(&app, &blocked, 1).await;
        assert!(!success);
        assert_eq!(kind.as_deref(), Some("blocked"));
        assert!(error.unwrap().contains(reason), "{url}");
        eventually("retry scheduled", || async {
            stats(&app.pool, &blocked).await.failure_triggers == 1
        })
        .await;
    }
    for id in [&slow, &refused] {
        eventually("failure counted", || async {
            stats(&app.pool, id).await.failure_triggers >= 1
        })
        .await;
    }
    let view = app.get_html(&format!("/webhooks/{refused}/deliveries")).await;
    assert!(view.contains("Connection refused"));
}

#[tokio::test]
async fn the_policy_applies_after_dns_resolution() {
    let handler = Handler::start().await;
    // Default policy: loopback is not allowed.
    let app = spawn_app_with(&[("PORTAL_RETRY_BASE_MS", "60000"), ("PORTAL_REQUEST_TIMEOUT_MS", "2000")]).await;
    app.login_admin().await;
    let url = format!("http://localhost:{}/hook", handler.addr.port());
    let id = webhook_calling(&app, &url, "POST", json!([]), json!({})).await;
    trigger_now(&app, &id).await;
    let (success, kind, error, _) = attempt_n(&app, &id, 1).await;
    assert!(!success);
    assert_eq!(kind.as_deref(), Some("blocked"), "{error:?}");
    assert!(error.unwrap().contains("loopback"));
    assert_eq!(handler.count(), 0, "the handler was never reached");
}

#[tokio::test]
async fn after_the_limit_the_webhook_is_out_of_order_until_trigger_now_succeeds() {
    let handler = Handler::start().await;
    handler.set(Behaviour {
        status: 500,
        ..Behaviour::default()
    });
    let app = spawn_app_with(&FAST_DELIVERY).await; // out of order after 3
    app.login_admin().await;
    let id = webhook_calling(&app, &handler.url("/"), "POST", json!([]), json!({})).await;
    queue_changes(&app.pool, &id, 1).await;
    eventually("out of order", || async { stats(&app.pool, &id).await.out_of_order }).await;
    let s = stats(&app.pool, &id).await;
    assert_eq!((s.triggers, s.failure_since_last_success), (3, 3));
    // No automatic calls any more, even for new events.
    queue_changes(&app.pool, &id, 2).await;
    stays(Duration::from_millis(1500), "no call while out of order", || async {
        handler.count() == 3
    })
    .await;
    assert_eq!(stats(&app.pool, &id).await.events, 3, "events still recorded");
    let list = app.get_html("/webhooks").await;
    assert!(list.contains("Out of order"), "the list says so");
    let details = app.get_html(&format!("/webhooks/{id}/statistics")).await;
    assert!(details.contains("● Out of order") && details.contains("automatic calls have stopped"));
    // The self-refreshing tab also updates the header's status chip (out of band).
    let fragment = app
        .client
        .get(app.url(&format!("/webhooks/{id}/statistics")))
        .header("HX-Request", "true")
        .header("HX-Target", "tabs")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(fragment.contains("id=\"status-chip\"") && fragment.contains("hx-swap-oob=\"true\">● Out of order"));

    // Trigger now still calls; a success ends out of order.
    handler.set(Behaviour::default());
    trigger_now(&app, &id).await;
    eventually("back in order", || async { !stats(&app.pool, &id).await.out_of_order }).await;
    let s = stats(&app.pool, &id).await;
    assert_eq!((s.success_triggers, s.failure_since_last_success), (1, 0));
}

#[tokio::test]
async fn re_enabling_an_out_of_order_webhook_resumes_calls() {
    let handler = Handler::start().await;
    handler.set(Behaviour {
        status: 500,
        ..Behaviour::default()
    });
    let app = spawn_app_with(&FAST_DELIVERY).await;
    app.login_admin().await;
    let id = webhook_calling(&app, &handler.url("/"), "POST", json!([]), json!({})).await;
    queue_changes(&app.pool, &id, 1).await;
    eventually("out of order", || async { stats(&app.pool, &id).await.out_of_order }).await;
    // A queue change while out of order waits; re-enabling delivers it without a new event.
    queue_changes(&app.pool, &id, 1).await;
    stays(
        Duration::from_millis(700),
        "no automatic call while out of order",
        || async { handler.count() == 3 },
    )
    .await;
    handler.set(Behaviour::default());
    let r = app.post_form(&format!("/webhooks/{id}/enable"), &[]).await;
    assert_eq!(r.status(), 303);
    assert!(!stats(&app.pool, &id).await.out_of_order);
    eventually("the waiting event is delivered", || async {
        stats(&app.pool, &id).await.success_triggers == 1
    })
    .await;
    assert_eq!(stats(&app.pool, &id).await.events, 2);
}

#[tokio::test]
async fn events_are_coalesced_into_the_pending_trigger() {
    let handler = Handler::start().await;
    handler.set(Behaviour {
        delay: Duration::from_millis(600),
        ..Behaviour::default()
    });
    let app = spawn_app_with(&FAST_DELIVERY).await;
    let id = webhook_calling(&app, &handler.url("/"), "POST", json!([]), json!({})).await;
    // Five queue changes at once: one call.
    queue_changes(&app.pool, &id, 5).await;
    handler.wait_for(1).await;
    // Seven more while that call is in flight: they wait in one pending trigger.
    for _ in 0..7 {
        queue_changes(&app.pool, &id, 1).await;
    }
    eventually("both calls done", || async {
        stats(&app.pool, &id).await.success_triggers == 2
    })
    .await;
    stays(Duration::from_millis(800), "2 calls", || async { handler.count() == 2 }).await;
    let s = stats(&app.pool, &id).await;
    assert_eq!((s.events, s.triggers), (12, 2), "12 events, 2 calls");
    assert!(
        handler.received().iter().all(|c| c.concurrent_same_webhook == 1),
        "never two calls at once"
    );
}

#[tokio::test]
async fn a_call_is_made_even_behind_hundreds_of_due_triggers_that_wait_for_out_of_order_webhooks() {
    let handler = Handler::start().await;
    let app = spawn_app_with(&FAST_DELIVERY).await;
    let waiting = webhook_calling(&app, &handler.url("/waiting"), "POST", json!([]), json!({})).await;
    // 300 webhooks out of order, each with an event waiting (kept for when it is reset): the
    // first 300 due triggers in the queue are all passed over by every claim.
    sqlx::query(
        "insert into webhooks (id, account_id, product_id, object_class, type, label, active, out_of_order,
                               external_url, jwt_secret, http_method)
         select 'WH-777-' || lpad((i / 1000)::text, 3, '0') || '-' || lpad((i % 1000)::text, 3, '0'),
                account_id, product_id, object_class, type, 'Out of order ' || i, true, true,
                external_url, jwt_secret, http_method
         from webhooks, generate_series(0, 299) i where id = $1",
    )
    .bind(&waiting)
    .execute(&app.pool)
    .await
    .unwrap();
    let blocked: Vec<String> = sqlx::query_scalar("select id from webhooks where out_of_order order by id")
        .fetch_all(&app.pool)
        .await
        .unwrap();
    assert_eq!(blocked.len(), 300);
    queue_change_each(&app.pool, &blocked).await;
    // The one webhook that may be called is due last.
    queue_changes(&app.pool, &waiting, 1).await;
    handler.wait_for(1).await;
    eventually("its call recorded", || async {
        stats(&app.pool, &waiting).await.success_triggers == 1
    })
    .await;
    let kept: i64 = sqlx::query_scalar("select count(*) from webhook_triggers where state = 'pending'")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(kept, 300, "the out-of-order webhooks' events wait, uncalled");
    assert_eq!(handler.count(), 1);
}

#[tokio::test]
async fn deleting_a_webhook_deletes_its_calls_events_and_hours_even_with_a_call_in_flight() {
    let handler = Handler::start().await;
    let app = spawn_app_with(&FAST_DELIVERY).await;
    let id = webhook_calling(&app, &handler.url("/gone"), "POST", json!([]), json!({})).await;
    let other = webhook_calling(&app, &handler.url("/other"), "POST", json!([]), json!({})).await;
    queue_changes(&app.pool, &id, 1).await;
    eventually("a call recorded", || async {
        stats(&app.pool, &id).await.success_triggers == 1
    })
    .await;
    let history = |id: String| {
        let pool = app.pool.clone();
        async move {
            sqlx::query_as::<_, (i64, i64, i64)>(
                "select (select count(*) from webhook_attempts where webhook_id = $1),
                        (select count(*) from webhook_events where webhook_id = $1),
                        (select count(*) from webhook_hourly_stats where webhook_id = $1)",
            )
            .bind(id)
            .fetch_one(&pool)
            .await
            .unwrap()
        }
    };
    assert_eq!(history(id.clone()).await, (1, 1, 1));
    // The next call is in flight when the webhook is deleted.
    handler.set(Behaviour {
        delay: Duration::from_millis(700),
        ..Behaviour::default()
    });
    queue_changes(&app.pool, &id, 1).await;
    handler.wait_for(2).await;
    app.login_admin().await;
    let r = app.post_form(&format!("/webhooks/{id}/delete"), &[]).await;
    assert_eq!(location(&r), "/webhooks");
    assert_eq!(history(id.clone()).await, (0, 0, 0), "its history went with it");
    // The call in flight ends: it is not recorded (nothing is left of the webhook), and
    // delivery goes on for the others.
    stays(
        Duration::from_millis(1200),
        "nothing recorded for the deleted webhook",
        || {
            let id = id.clone();
            let history = &history;
            async move { history(id).await == (0, 0, 0) }
        },
    )
    .await;
    handler.set(Behaviour::default());
    queue_changes(&app.pool, &other, 1).await;
    eventually("another webhook's call recorded", || async {
        stats(&app.pool, &other).await.success_triggers == 1
    })
    .await;
    assert_eq!(app.get(&format!("/webhooks/{id}")).await.status(), 404);
    let left: i64 = sqlx::query_scalar("select count(*) from webhook_triggers")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(left, 0);
}

#[tokio::test]
async fn disabled_webhooks_record_events_but_never_call() {
    let handler = Handler::start().await;
    let app = spawn_app_with(&FAST_DELIVERY).await;
    app.login_admin().await;
    let id = webhook_calling(&app, &handler.url("/"), "POST", json!([]), json!({})).await;
    sqlx::query("update webhooks set active = false where id = $1")
        .bind(&id)
        .execute(&app.pool)
        .await
        .unwrap();
    queue_changes(&app.pool, &id, 3).await;
    let r = app.post_form(&format!("/webhooks/{id}/trigger"), &[]).await;
    assert_eq!(r.status(), 303);
    let page = app.get_html(&format!("/webhooks/{id}/statistics")).await;
    assert!(page.contains("is disabled, so nothing was sent. Use “Enable and trigger” to call the handler now."));
    stays(
        Duration::from_millis(1000),
        "a disabled webhook is never called",
        || async { handler.count() == 0 },
    )
    .await;
    let s = stats(&app.pool, &id).await;
    assert_eq!((s.events, s.triggers), (4, 0));

    // The page offers "Enable and trigger" instead, on the details page and in the list's menu.
    let details = app.get_html(&format!("/webhooks/{id}")).await;
    assert!(details.contains("Enable and trigger") && !details.contains(">Trigger now<"));
    assert!(app.get_html("/webhooks").await.contains("Enable and trigger"));
    let r = app
        .post_form(&format!("/webhooks/{id}/trigger"), &[("enable", "1")])
        .await;
    assert_eq!(r.status(), 303);
    let page = app.get_html(&format!("/webhooks/{id}/statistics")).await;
    assert!(page.contains("enabled and triggered: the call is on its way"), "{page}");
    eventually("the handler is called once enabled", || async { handler.count() == 1 }).await;
    let active: bool = sqlx::query_scalar("select active from webhooks where id = $1")
        .bind(&id)
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert!(active);
}

#[tokio::test]
async fn a_response_body_over_the_cap_is_cut() {
    let handler = Handler::start().await;
    handler.set(Behaviour {
        body: "x".repeat(5000),
        ..Behaviour::default()
    });
    let mut settings = FAST_DELIVERY.to_vec();
    settings.push(("PORTAL_RESPONSE_BODY_CAP", "1024"));
    let app = spawn_app_with(&settings).await;
    app.login_admin().await;
    let id = webhook_calling(&app, &handler.url("/"), "POST", json!([]), json!({})).await;
    trigger_now(&app, &id).await;
    attempt_n(&app, &id, 1).await;
    let (body, truncated, success): (String, bool, bool) =
        sqlx::query_as("select response_body, response_truncated, success from webhook_attempts where webhook_id = $1")
            .bind(&id)
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(body.len(), 1024);
    assert!(truncated && success);
    let attempt_id: i64 = sqlx::query_scalar("select id from webhook_attempts where webhook_id = $1")
        .bind(&id)
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert!(app
        .get_html(&format!("/webhooks/{id}/deliveries/{attempt_id}"))
        .await
        .contains("cut at the size limit"));
}

#[tokio::test]
async fn a_response_body_with_nul_bytes_is_recorded_once_with_them_replaced() {
    // Postgres text cannot hold a NUL byte: such a body must not fail its record (and with it
    // the batch), or the call would be made again when its lease ends.
    let answers_ok = Handler::start().await;
    answers_ok.set(Behaviour {
        body: "ok\u{0}done".to_string(),
        ..Behaviour::default()
    });
    let answers_500 = Handler::start().await;
    answers_500.set(Behaviour {
        status: 500,
        body: "\u{0}\u{0}broken".to_string(),
        ..Behaviour::default()
    });
    let app = spawn_app_with(&FAST_DELIVERY).await;
    app.login_admin().await;
    let ok_id = webhook_calling(&app, &answers_ok.url("/"), "POST", json!([]), json!({})).await;
    let failing_id = webhook_calling(&app, &answers_500.url("/"), "POST", json!([]), json!({})).await;
    trigger_now(&app, &ok_id).await;
    trigger_now(&app, &failing_id).await;
    attempt_n(&app, &ok_id, 1).await;
    attempt_n(&app, &failing_id, 1).await;
    for (id, expected, success) in [
        (&ok_id, "ok\u{fffd}done", true),
        (&failing_id, "\u{fffd}\u{fffd}broken", false),
    ] {
        let (body, recorded_success): (String, bool) = sqlx::query_as(
            "select response_body, success from webhook_attempts where webhook_id = $1 order by id limit 1",
        )
        .bind(id)
        .fetch_one(&app.pool)
        .await
        .unwrap();
        assert_eq!((body.as_str(), recorded_success), (expected, success), "{id}");
    }
    stays(Duration::from_millis(500), "the successful call made once", || async {
        answers_ok.count() == 1
    })
    .await;
}

#[tokio::test]
async fn the_deliveries_log_filters_and_pages() {
    let handler = Handler::start().await;
    let app = spawn_app_with(&FAST_DELIVERY).await;
    app.login_admin().await;
    let id = webhook_calling(&app, &handler.url("/"), "POST", json!([]), json!({})).await;
    // 30 attempts recorded directly: 20 successes, 10 failures.
    for i in 0..30 {
        sqlx::query(
            "insert into webhook_attempts (webhook_id, started_at, duration_ms, success, status_code, request_method, request_url)
             values ($1, now(), 5, $2, $3, 'POST', 'http://127.0.0.1/')",
        )
        .bind(&id)
        .bind(i % 3 != 0)
        .bind(if i % 3 != 0 { 200 } else { 500 })
        .execute(&app.pool)
        .await
        .unwrap();
    }
    let all = app.get_html(&format!("/webhooks/{id}/deliveries")).await;
    assert_eq!(all.matches("class=\"mono\">WHA-").count(), 25);
    let next = all
        .split("rel=\"next\"")
        .next()
        .unwrap()
        .rsplit("href=\"")
        .next()
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .replace("&amp;", "&");
    let older = app.get_html(&next).await;
    assert_eq!(older.matches("class=\"mono\">WHA-").count(), 5);
    let failures = app
        .get_html(&format!("/webhooks/{id}/deliveries?outcome=failure"))
        .await;
    assert_eq!(failures.matches("class=\"mono\">WHA-").count(), 10);
    assert!(!failures.contains("chip chip-on\">Success"));
    let successes = app
        .get_html(&format!("/webhooks/{id}/deliveries?outcome=success"))
        .await;
    assert_eq!(successes.matches("class=\"mono\">WHA-").count(), 20);
    // Another webhook's attempt is not reachable through this one.
    let other = webhook_calling(&app, &handler.url("/"), "POST", json!([]), json!({})).await;
    let attempt: i64 = sqlx::query_scalar("select min(id) from webhook_attempts")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(
        app.get(&format!("/webhooks/{other}/deliveries/{attempt}"))
            .await
            .status(),
        404
    );
    assert_eq!(
        app.get(&format!("/webhooks/{id}/deliveries/not-a-number"))
            .await
            .status(),
        404
    );
}

#[tokio::test]
async fn trigger_now_is_for_admins_of_the_account_only() {
    let handler = Handler::start().await;
    let app = spawn_app_with(&FAST_DELIVERY).await;
    let id = webhook_calling(&app, &handler.url("/"), "POST", json!([]), json!({})).await;
    let (product, _) = plain_and_capable_products(&app).await;
    let foreign = insert_webhook(&app, &app.distributor_account_id, &product, "Foreign", true).await;
    app.login_viewer().await;
    assert_eq!(
        app.post_form(&format!("/webhooks/{id}/trigger"), &[]).await.status(),
        403
    );
    assert!(
        !app.get_html(&format!("/webhooks/{id}"))
            .await
            .contains("id=\"trigger-now\""),
        "viewers see no button"
    );
    let admin = app.second_browser();
    admin.login_admin().await;
    assert_eq!(
        admin
            .post_form(&format!("/webhooks/{foreign}/trigger"), &[])
            .await
            .status(),
        404
    );
    assert_eq!(
        admin.get(&format!("/webhooks/{foreign}/deliveries")).await.status(),
        404
    );
    stays(Duration::from_millis(500), "nothing called", || async {
        handler.count() == 0
    })
    .await;
    assert_eq!(stats(&app.pool, &id).await.events, 0);
}

/// The md5 of a wrapped body, checked as the README tells handlers to: Some(payload bytes)
/// when the digest matches.
fn md5_checked(content_type: &str, raw: &[u8]) -> Option<Vec<u8>> {
    use md5::{Digest, Md5};
    let hex = |b: &[u8]| -> String { Md5::digest(b).iter().map(|x| format!("{x:02x}")).collect() };
    let (payload, digest): (&[u8], String) = match content_type {
        "application/json" => {
            let body: Value = serde_json::from_slice(raw).ok()?;
            (&raw[11..raw.len() - 42], body["md5"].as_str()?.to_string())
        }
        "application/x-www-form-urlencoded" => {
            let at = raw.windows(5).rposition(|w| w == b"&md5=")?;
            (&raw[..at], String::from_utf8(raw[at + 5..].to_vec()).ok()?)
        }
        "application/xml" => {
            let text = std::str::from_utf8(raw).ok()?;
            let start = text.find("<payload>")?;
            let end = text.find("</payload>")? + "</payload>".len();
            let digest = text[end..].strip_prefix("<md5>")?.split('<').next()?.to_string();
            (&raw[start..end], digest)
        }
        _ => return None,
    };
    (hex(payload) == digest).then(|| payload.to_vec())
}

#[tokio::test]
async fn each_payload_format_with_and_without_md5_reaches_the_handler_checkably() {
    let handler = Handler::start().await;
    let app = spawn_app_with(&FAST_DELIVERY).await;
    app.login_admin().await;
    let key = app.api_key("Formats").await;
    let (product, _) = plain_and_capable_products(&app).await;
    let client = reqwest::Client::new();
    let url = app.url("/public/v1/notifications/webhooks");
    let cases = [
        ("json", false, "application/json"),
        ("json", true, "application/json"),
        ("form", false, "application/x-www-form-urlencoded"),
        ("form", true, "application/x-www-form-urlencoded"),
        ("xml", false, "application/xml"),
        ("xml", true, "application/xml"),
    ];
    for (n, (format, wrap, content_type)) in cases.into_iter().enumerate() {
        let created: Value = client
            .post(&url)
            .header("Authorization", &key)
            .json(&json!({"label": format!("{format} {wrap}"), "product_id": product, "object_class": "fulfillment_request",
                          "external_url": handler.url("/formats"), "jwt_secret": SECRET, "active": true,
                          "http_method": if n % 2 == 0 { "POST" } else { "PUT" },
                          "payload_format": format, "md5_wrap": wrap, "data": {"purpose": "demo <&>"}}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(
            (created["payload_format"].as_str(), created["md5_wrap"].as_bool()),
            (Some(format), Some(wrap))
        );
        let id = created["id"].as_str().unwrap().to_string();
        let r = client
            .post(format!("{url}/{id}/trigger"))
            .header("Authorization", &key)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        let call = handler.wait_for(n + 1).await.remove(n);
        assert_eq!(call.headers["content-type"], content_type, "{format}");
        let claims = verified_claims(&call.headers, SECRET);
        assert_eq!(
            claims["webhook_id"],
            id.as_str(),
            "the token is sent whatever the format"
        );
        let text = String::from_utf8(call.body.to_vec()).unwrap();
        let payload = if wrap {
            String::from_utf8(md5_checked(content_type, &call.body).unwrap_or_else(|| panic!("md5 of {text}"))).unwrap()
        } else {
            assert!(!text.contains("md5"), "{text}");
            text.clone()
        };
        match format {
            "json" => {
                let p: Value = serde_json::from_str(&payload).unwrap();
                assert_eq!(
                    (p["webhook_id"].as_str(), p["data"]["purpose"].as_str()),
                    (Some(id.as_str()), Some("demo <&>"))
                );
            }
            "form" => {
                let pairs: Vec<(String, String)> = form_urlencoded::parse(payload.as_bytes()).into_owned().collect();
                let name = |k: &str| if wrap { format!("payload[{k}]") } else { k.to_string() };
                assert!(pairs.contains(&(name("webhook_id"), id.clone())), "{pairs:?}");
                let purpose = if wrap {
                    "payload[data][purpose]"
                } else {
                    "data[purpose]"
                };
                assert!(
                    pairs.contains(&(purpose.to_string(), "demo <&>".to_string())),
                    "{pairs:?}"
                );
            }
            _ => {
                assert!(payload.contains(&format!("<webhook_id>{id}</webhook_id>")), "{payload}");
                assert!(payload.contains("<purpose>demo &lt;&amp;&gt;</purpose>"), "{payload}");
                assert!(text.starts_with("<?xml") && text.contains("<notification>"), "{text}");
            }
        }
    }
}

#[tokio::test]
async fn retry_after_on_429_and_503_sets_the_next_retry_no_sooner_within_the_maximum() {
    let handler = Handler::start().await;
    handler.set(Behaviour {
        status: 429,
        retry_after: Some("600".into()),
        ..Behaviour::default()
    });
    let mut settings = FAST_DELIVERY.to_vec();
    settings.retain(|(k, _)| !k.starts_with("PORTAL_RETRY") && *k != "PORTAL_OUT_OF_ORDER_AFTER");
    settings.extend([("PORTAL_RETRY_BASE_MS", "60000"), ("PORTAL_RETRY_MAX_MS", "3600000")]);
    let app = spawn_app_with(&settings).await;
    app.login_admin().await;
    let id = webhook_calling(&app, &handler.url("/"), "POST", json!([]), json!({})).await;
    queue_changes(&app.pool, &id, 1).await;
    attempt_n(&app, &id, 1).await;
    eventually("the retry is scheduled", || async {
        sqlx::query_scalar::<_, i64>(
            "select count(*) from webhook_triggers where webhook_id = $1 and state = 'pending'",
        )
        .bind(&id)
        .fetch_one(&app.pool)
        .await
        .unwrap()
            == 1
    })
    .await;
    let delay = scheduled_delay(&app, &id).await;
    assert!(
        (599.0..=601.0).contains(&delay),
        "asked for 600 s, backoff 60 s: {delay}"
    );

    // An HTTP date far away is capped by the longest interval.
    handler.set(Behaviour {
        status: 503,
        retry_after: Some("Fri, 31 Dec 2100 23:59:59 GMT".into()),
        ..Behaviour::default()
    });
    trigger_now(&app, &id).await;
    attempt_n(&app, &id, 2).await;
    eventually("the second retry is scheduled", || async {
        scheduled_delay_opt(&app, &id).await.is_some_and(|d| d > 3000.0)
    })
    .await;
    let delay = scheduled_delay(&app, &id).await;
    assert!((3599.0..=3601.0).contains(&delay), "capped at the maximum: {delay}");

    // Other answers' Retry-After is not a request to wait: the backoff applies.
    handler.set(Behaviour {
        status: 500,
        retry_after: Some("3000".into()),
        ..Behaviour::default()
    });
    trigger_now(&app, &id).await;
    attempt_n(&app, &id, 3).await;
    eventually("the third retry is scheduled", || async {
        scheduled_delay_opt(&app, &id).await.is_some_and(|d| d < 1000.0)
    })
    .await;
    let delay = scheduled_delay(&app, &id).await;
    assert!(
        (240.0..=290.0).contains(&delay),
        "third failure: 4 × 60 s (+ jitter): {delay}"
    );
}

async fn scheduled_delay_opt(app: &TestApp, id: &str) -> Option<f64> {
    sqlx::query_scalar(
        "select extract(epoch from t.due_at - w.last_failure_at)::float8 from webhooks w
         join webhook_triggers t on t.webhook_id = w.id and t.state = 'pending' where w.id = $1",
    )
    .bind(id)
    .fetch_optional(&app.pool)
    .await
    .unwrap()
}

#[tokio::test]
async fn a_410_gone_turns_the_webhook_off_at_once_and_says_why() {
    let handler = Handler::start().await;
    handler.set(Behaviour {
        status: 410,
        ..Behaviour::default()
    });
    let app = spawn_app_with(&FAST_DELIVERY).await;
    app.login_admin().await;
    let id = webhook_calling(&app, &handler.url("/"), "POST", json!([]), json!({})).await;
    queue_changes(&app.pool, &id, 1).await;
    attempt_n(&app, &id, 1).await;
    eventually("turned off", || async {
        !sqlx::query_scalar::<_, bool>("select active from webhooks where id = $1")
            .bind(&id)
            .fetch_one(&app.pool)
            .await
            .unwrap()
    })
    .await;
    let details = app.get_html(&format!("/webhooks/{id}")).await;
    assert!(details.contains("id=\"disabled-reason\"") && details.contains("the handler answered 410 Gone"));
    assert!(
        app.get_html("/webhooks")
            .await
            .contains("the handler answered 410 Gone"),
        "the chip's title says why"
    );
    let key = app.api_key("Reader").await;
    let api: Value = app
        .client
        .get(app.url(&format!("/public/v1/notifications/webhooks/{id}")))
        .header("authorization", key)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(api["active"], json!(false));
    assert!(
        api["disabled_reason"].as_str().unwrap_or("").contains("410 Gone"),
        "{api}"
    );
    let pending: i64 = sqlx::query_scalar("select count(*) from webhook_triggers where webhook_id = $1")
        .bind(&id)
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(pending, 0, "nothing is retried");
    queue_changes(&app.pool, &id, 2).await;
    stays(Duration::from_millis(1500), "no more calls", || async {
        handler.count() == 1
    })
    .await;

    // Enabling it clears the reason and calls again.
    handler.set(Behaviour::default());
    assert_eq!(
        app.post_form(&format!("/webhooks/{id}/enable"), &[]).await.status(),
        303
    );
    assert!(!app
        .get_html(&format!("/webhooks/{id}"))
        .await
        .contains("id=\"disabled-reason\""));
    trigger_now(&app, &id).await;
    eventually("called again", || async { handler.count() == 2 }).await;
}

#[tokio::test]
async fn a_call_can_be_copied_as_curl_and_repeated_from_a_shell() {
    let handler = Handler::start().await;
    let app = spawn_app_with(&FAST_DELIVERY).await;
    app.login_admin().await;
    let id = webhook_calling(
        &app,
        &handler.url("/hook?team=ops"),
        "POST",
        json!([["X-Note", "it's \"quoted\" $HOME"]]),
        json!({"shop": "O'Brien & Sons"}),
    )
    .await;
    trigger_now(&app, &id).await;
    // The call is recorded after the handler answered: wait for the record, not the call.
    attempt_n(&app, &id, 1).await;
    let attempt: i64 = sqlx::query_scalar("select id from webhook_attempts where webhook_id = $1")
        .bind(&id)
        .fetch_one(&app.pool)
        .await
        .unwrap();
    let page = app.get_html(&format!("/webhooks/{id}/deliveries/{attempt}")).await;
    // As a browser shows it (and copies it): the element's text.
    let document = scraper::Html::parse_document(&page);
    let selector = scraper::Selector::parse("#curl-command").unwrap();
    let command: String = document
        .select(&selector)
        .next()
        .expect("the curl command is shown")
        .text()
        .collect();
    assert!(
        command.contains("Bearer $TOKEN") && !command.contains("[redacted]"),
        "{command}"
    );
    // Run as printed, with a token of the webhook's: the handler gets the same request.
    let token = jsonwebtoken::encode(
        &jsonwebtoken::Header::default(),
        &json!({"webhook_id": id, "exp": chrono::Utc::now().timestamp() + 300}),
        &jsonwebtoken::EncodingKey::from_secret(WEBHOOK_SECRET.as_bytes()),
    )
    .unwrap();
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new("bash")
            .arg("-c")
            .arg(format!("{command} --silent --show-error --fail"))
            .env("TOKEN", token)
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let calls = handler.received();
    assert_eq!(calls.len(), 2);
    assert_eq!(calls[1].body, calls[0].body, "the same body");
    assert_eq!(calls[1].headers["x-note"], calls[0].headers["x-note"]);
    assert_eq!(calls[1].headers["content-type"], calls[0].headers["content-type"]);
    assert!(calls[1].headers["authorization"]
        .to_str()
        .unwrap()
        .starts_with("Bearer ey"));
}

#[tokio::test]
async fn a_call_is_redelivered_with_a_fresh_token_and_linked_even_out_of_order() {
    let handler = Handler::start().await;
    handler.set(Behaviour {
        status: 500,
        ..Behaviour::default()
    });
    let app = spawn_app_with(&FAST_DELIVERY).await;
    app.login_admin().await;
    let id = webhook_calling(&app, &handler.url("/"), "POST", json!([]), json!({"k": 1})).await;
    queue_changes(&app.pool, &id, 1).await;
    attempt_n(&app, &id, 1).await;
    let original: i64 = sqlx::query_scalar("select min(id) from webhook_attempts where webhook_id = $1")
        .bind(&id)
        .fetch_one(&app.pool)
        .await
        .unwrap();
    // Out of order, and the handler fixed: a redelivery calls anyway, and changes neither.
    sqlx::query("update webhooks set out_of_order = true where id = $1")
        .bind(&id)
        .execute(&app.pool)
        .await
        .unwrap();
    handler.set(Behaviour::default());
    let before = stats(&app.pool, &id).await;
    let calls_before = handler.count();
    let page = app.get_html(&format!("/webhooks/{id}/deliveries/{original}")).await;
    assert!(page.contains("id=\"redeliver\""));
    let r = app
        .post_form(&format!("/webhooks/{id}/deliveries/{original}/redeliver"), &[])
        .await;
    assert_eq!(r.status(), 303);
    assert_eq!(location(&r), format!("/webhooks/{id}/deliveries"));
    eventually("the redelivery is recorded", || async {
        sqlx::query_scalar::<_, i64>("select count(*) from webhook_attempts where redelivery_of = $1")
            .bind(original)
            .fetch_one(&app.pool)
            .await
            .unwrap()
            == 1
    })
    .await;
    assert_eq!(handler.count(), calls_before + 1);
    let calls = handler.received();
    let first = verified_claims(&calls[0].headers, WEBHOOK_SECRET);
    let again = verified_claims(&calls.last().unwrap().headers, WEBHOOK_SECRET);
    assert_eq!(again["webhook_id"], first["webhook_id"]);
    assert_eq!(again["data"], json!({"k": 1}));
    assert_ne!(
        calls.last().unwrap().headers["authorization"],
        calls[0].headers["authorization"],
        "a fresh token"
    );
    let (redelivery, success): (i64, bool) =
        sqlx::query_as("select id, success from webhook_attempts where redelivery_of = $1")
            .bind(original)
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert!(success);
    let list = text_of(&app.get_html(&format!("/webhooks/{id}/deliveries")).await);
    assert!(list.contains(&format!("Redelivery of WHA-{original}")), "{list}");
    let page = app.get_html(&format!("/webhooks/{id}/deliveries/{redelivery}")).await;
    assert!(
        page.contains(&format!("href=\"/webhooks/{id}/deliveries/{original}\"")),
        "linked back"
    );
    assert_eq!(stats(&app.pool, &id).await, before, "no statistics change");
    let out_of_order: bool = sqlx::query_scalar("select out_of_order from webhooks where id = $1")
        .bind(&id)
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert!(out_of_order, "it stays out of order");

    // Only those who may edit webhooks redeliver.
    let viewer = app.second_browser();
    viewer.login_viewer().await;
    assert!(!viewer
        .get_html(&format!("/webhooks/{id}/deliveries/{original}"))
        .await
        .contains("id=\"redeliver\""));
    assert_eq!(
        viewer
            .post_form(&format!("/webhooks/{id}/deliveries/{original}/redeliver"), &[])
            .await
            .status(),
        403
    );
}
