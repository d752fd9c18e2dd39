//! Test requests in the portal (product page, webhook details) and validation webhooks as
//! request–response: values and errors shown, timeouts and garbage reported and recorded.

use std::time::Duration;

use crate::common::handler::{eventually, stays, verified_claims, Behaviour, Handler};
use crate::common::*;
use serde_json::{json, Value};

async fn request_count(app: &TestApp) -> i64 {
    sqlx::query_scalar("select count(*) from requests")
        .fetch_one(&app.pool)
        .await
        .unwrap()
}

/// The newest request's id.
async fn newest_request(app: &TestApp) -> String {
    sqlx::query_scalar("select id from requests order by created_at desc limit 1")
        .fetch_one(&app.pool)
        .await
        .unwrap()
}

/// A validation webhook of `api_type` on the plain product, calling `url`.
async fn validation_webhook(app: &TestApp, url: &str, object_class: &str, api_type: &str) -> String {
    let id = webhook_calling(app, url, "POST", json!([]), json!({"purpose": "validation"})).await;
    sqlx::query("update webhooks set object_class = $2, type = $3 where id = $1")
        .bind(&id)
        .bind(object_class)
        .bind(api_type)
        .execute(&app.pool)
        .await
        .unwrap();
    id
}

/// Creates a pending purchase request in the product's queue from its page (a queue change).
async fn create_pending_purchase(app: &TestApp, product: &str) {
    let r = app
        .post_form(
            &format!("/products/{product}/requests"),
            &[("kind", "fulfillment_request:purchase"), ("status", "pending")],
        )
        .await;
    assert_eq!(r.status(), 303);
}

#[tokio::test]
async fn a_test_request_fires_the_webhook_shows_in_the_queue_and_its_approval_fires_again() {
    let handler = Handler::start().await;
    let app = spawn_app_with(&FAST_DELIVERY).await;
    app.login_admin().await;
    let hook = webhook_calling(&app, &handler.url("/hook"), "POST", json!([]), json!({})).await;
    let (product, _) = plain_and_capable_products(&app).await;

    let page = app.get_html(&format!("/products/{product}")).await;
    assert!(page.contains("No requests yet"), "empty queue state");
    assert!(page.contains("Delivery test"), "the product lists its webhooks");

    let r = app
        .post_form(
            &format!("/products/{product}/requests"),
            &[
                ("kind", "fulfillment_request:purchase"),
                ("status", "pending"),
                ("params", "seats = 25"),
            ],
        )
        .await;
    assert_eq!(r.status(), 303);
    assert_eq!(location(&r), format!("/products/{product}#queue"));
    let id = newest_request(&app).await;
    let page = app.get_html(&format!("/products/{product}")).await;
    assert!(
        text_of(&page).contains(&format!(
            "Test request {id} created in the Fulfillment requests queue: 1 webhook will be called."
        )),
        "confirmation: {}",
        text_of(&page)
    );
    assert!(
        page.contains(&format!("/requests/{id}/approve")),
        "the queue offers Approve"
    );
    handler.wait_for(1).await;

    let request = app.get_html(&format!("/requests/{id}")).await;
    assert!(text_of(&request).contains("seats 25"), "typed parameter shown");

    let r = app
        .post_form(&format!("/requests/{id}/approve"), &[("back", "product")])
        .await;
    assert_eq!(r.status(), 303);
    let status: String = sqlx::query_scalar("select status from requests where id = $1")
        .bind(&id)
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(status, "approved");
    handler.wait_for(2).await;
    eventually("both calls recorded", || async {
        stats(&app.pool, &hook).await.success_triggers == 2
    })
    .await;
    assert_eq!(stats(&app.pool, &hook).await.events, 2);

    // An approved request cannot be approved again: a clear message, nothing changes.
    app.post_form(&format!("/requests/{id}/approve"), &[]).await;
    let page = app.get_html(&format!("/requests/{id}")).await;
    assert!(text_of(&page).contains(&format!("{id} is approved: it cannot be approved.")));
    assert_eq!(stats(&app.pool, &hook).await.events, 2);
}

#[tokio::test]
async fn create_test_request_on_the_details_page_returns_to_the_statistics() {
    let handler = Handler::start().await;
    let app = spawn_app_with(&FAST_DELIVERY).await;
    app.login_admin().await;
    let hook = webhook_calling(&app, &handler.url("/hook"), "POST", json!([]), json!({})).await;
    let product: String = sqlx::query_scalar("select product_id from webhooks where id = $1")
        .bind(&hook)
        .fetch_one(&app.pool)
        .await
        .unwrap();
    let details = app.get_html(&format!("/webhooks/{hook}")).await;
    assert!(details.contains("id=\"create-test-request\""));
    assert!(details.contains(&format!("name=\"from_webhook\" value=\"{hook}\"")));

    // The button sends only the webhook: the portal picks the request that makes it fire.
    let r = app
        .post_form(&format!("/products/{product}/requests"), &[("from_webhook", &hook)])
        .await;
    assert_eq!(location(&r), format!("/webhooks/{hook}/statistics"));
    handler.wait_for(1).await;
    eventually("the call is in the statistics", || async {
        stats(&app.pool, &hook).await.success_triggers == 1
    })
    .await;
    let events: Vec<(String, Option<String>)> =
        sqlx::query_as("select source, object_id from webhook_events where webhook_id = $1")
            .bind(&hook)
            .fetch_all(&app.pool)
            .await
            .unwrap();
    let request = newest_request(&app).await;
    assert_eq!(events, vec![("queue_change".to_string(), Some(request.clone()))]);
    let (kind, status): (String, String) = sqlx::query_as("select kind, status from requests where id = $1")
        .bind(&request)
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(
        (kind.as_str(), status.as_str()),
        ("purchase", "pending"),
        "a pending purchase for a queue webhook"
    );
}

#[tokio::test]
async fn bad_test_request_input_is_422_keeps_what_was_typed_and_creates_nothing() {
    let app = spawn_app().await;
    app.login_admin().await;
    let (product, _) = plain_and_capable_products(&app).await;
    let path = format!("/products/{product}/requests");
    for (fields, message) in [
        (
            vec![("kind", "nonsense"), ("status", "pending")],
            "Choose the kind of request",
        ),
        (
            vec![("kind", "listing_request:new"), ("status", "draft")],
            "Only purchase, change and tier configuration requests start as drafts",
        ),
        (
            vec![("kind", "usage_file:usage"), ("status", "approved")],
            "Choose Pending, Draft or Inquiring",
        ),
        (
            vec![
                ("kind", "fulfillment_request:purchase"),
                ("status", "pending"),
                ("params", "seats 10"),
            ],
            "Line 1: write each parameter as id = value.",
        ),
        (
            vec![
                ("kind", "fulfillment_request:purchase"),
                ("status", "pending"),
                ("params", "a=1\nbad id=2"),
            ],
            "Line 2: a parameter id is",
        ),
        (
            vec![
                ("kind", "fulfillment_request:purchase"),
                ("status", "pending"),
                ("params", "a=1\na=2"),
            ],
            "“a” is given twice",
        ),
    ] {
        let r = app.post_form(&path, &fields).await;
        assert_eq!(r.status(), 422, "{fields:?}");
        let html = r.text().await.unwrap();
        assert!(text_of(&html).contains(message), "{message}: {}", text_of(&html));
        if let Some((_, params)) = fields.iter().find(|(k, _)| *k == "params") {
            assert!(html.contains(*params), "typed parameters kept");
        }
    }
    let too_many: String = (0..21).map(|i| format!("p{i}=v\n")).collect();
    let r = app
        .post_form(
            &path,
            &[
                ("kind", "usage_file:usage"),
                ("status", "pending"),
                ("params", &too_many),
            ],
        )
        .await;
    assert_eq!(r.status(), 422);
    assert_eq!(request_count(&app).await, 0);
    // A request that does not exist, or an unknown action.
    assert_eq!(
        app.post_form("/requests/PR-000-000-000/approve", &[]).await.status(),
        404
    );
    assert_eq!(app.get("/requests/not-an-id").await.status(), 404);
}

#[tokio::test]
async fn viewers_cannot_change_distributors_do_not_create_and_other_accounts_get_404() {
    let app = spawn_app().await;
    let (product, _) = plain_and_capable_products(&app).await;
    let request = create_request(
        &app,
        &app.vendor_account_id,
        &product,
        "fulfillment_request",
        "purchase",
        "pending",
        json!([]),
    )
    .await;

    app.login_viewer().await;
    assert_eq!(app.get(&format!("/requests/{}", request.id)).await.status(), 200);
    let page = app.get_html(&format!("/products/{product}")).await;
    assert!(!page.contains("id=\"create-request\""), "viewers get no create form");
    let r = app
        .post_form(
            &format!("/products/{product}/requests"),
            &[("kind", "usage_file:usage"), ("status", "pending")],
        )
        .await;
    assert_eq!(r.status(), 403);
    assert_eq!(
        app.post_form(&format!("/requests/{}/approve", request.id), &[])
            .await
            .status(),
        403
    );
    assert_eq!(
        app.post_form(&format!("/requests/{}/validate", request.id), &[])
            .await
            .status(),
        403
    );

    let distributor = app.second_browser();
    distributor.login_distributor().await;
    assert_eq!(
        distributor.get(&format!("/requests/{}", request.id)).await.status(),
        404
    );
    assert_eq!(
        distributor
            .post_form(&format!("/requests/{}/approve", request.id), &[])
            .await
            .status(),
        404
    );
    // The vendor's product is not the distributor's unless listed for it: 404 either way or a
    // clear refusal, never a request in the vendor's queue.
    let r = distributor
        .post_form(
            &format!("/products/{product}/requests"),
            &[("kind", "usage_file:usage"), ("status", "pending")],
        )
        .await;
    assert!(matches!(r.status().as_u16(), 403 | 404), "{}", r.status());
    let listed: String = sqlx::query_scalar("select product_id from account_products where account_id = $1 limit 1")
        .bind(&app.distributor_account_id)
        .fetch_one(&app.pool)
        .await
        .unwrap();
    let r = distributor
        .post_form(
            &format!("/products/{listed}/requests"),
            &[("kind", "usage_file:usage"), ("status", "pending")],
        )
        .await;
    assert_eq!(r.status(), 403);
    assert!(text_of(&r.text().await.unwrap()).contains("Test requests are created by the product's vendor."));
    assert_eq!(request_count(&app).await, 1);
    let status: String = sqlx::query_scalar("select status from requests where id = $1")
        .bind(&request.id)
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(status, "pending");
}

#[tokio::test]
async fn a_draft_is_validated_synchronously_and_the_answer_sets_values_and_errors() {
    let handler = Handler::start().await;
    handler.set(Behaviour {
        body: json!({
            "id": "ignored", "status": "draft",
            "asset": {"params": [
                {"id": "email", "value": "it@frontstreet.example", "value_error": "Use an address of the customer domain."},
                {"id": "seats", "value": 12},
                {"id": "unknown", "value": "ignored"}
            ]}
        })
        .to_string(),
        ..Behaviour::default()
    });
    let app = spawn_app_with(&FAST_DELIVERY).await;
    app.login_admin().await;
    let (product, _) = plain_and_capable_products(&app).await;
    let hook = validation_webhook(&app, &handler.url("/validate"), "fulfillment_request", "validator").await;

    let r = app
        .post_form(
            &format!("/products/{product}/requests"),
            &[
                ("kind", "fulfillment_request:purchase"),
                ("status", "draft"),
                ("params", "email = x@y.z\nseats = 10"),
            ],
        )
        .await;
    assert_eq!(r.status(), 303);
    let id = newest_request(&app).await;
    assert_eq!(location(&r), format!("/requests/{id}"));

    // The handler got the request object, signed like every call.
    let calls = handler.received();
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0].method, "POST");
    let body: Value = serde_json::from_slice(&calls[0].body).unwrap();
    assert_eq!(body["id"], id.as_str());
    assert_eq!(body["status"], "draft");
    assert_eq!(body["asset"]["params"][0]["value"], "x@y.z");
    let claims = verified_claims(&calls[0].headers, WEBHOOK_SECRET);
    assert_eq!(claims["webhook_id"], hook.as_str());
    assert_eq!(claims["data"], json!({"purpose": "validation"}));

    let page = app.get_html(&format!("/requests/{id}")).await;
    let text = text_of(&page);
    assert!(text.contains("Validated: 2 values changed, 1 error."), "{text}");
    assert!(text.contains("it@frontstreet.example"));
    assert!(text.contains("Use an address of the customer domain."));
    assert!(page.contains("id=\"validation-attempt\""));
    // Recorded as the webhook's event and successful call; the draft is not a queue change.
    let s = stats(&app.pool, &hook).await;
    assert_eq!((s.events, s.triggers, s.success_triggers), (1, 1, 1));
    let params: Value = sqlx::query_scalar("select params from requests where id = $1")
        .bind(&id)
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(params[1]["value"], "12");
    assert_eq!(params[0]["value_error"], "Use an address of the customer domain.");

    let deliveries = app.get_html(&format!("/webhooks/{hook}/deliveries")).await;
    assert!(
        deliveries.contains(">Validation</span>"),
        "the call is marked as a validation"
    );

    // Submitting the draft puts it in the queue.
    app.post_form(&format!("/requests/{id}/submit"), &[]).await;
    let status: String = sqlx::query_scalar("select status from requests where id = $1")
        .bind(&id)
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(status, "pending");
}

#[tokio::test]
async fn timeouts_errors_and_garbage_answers_are_shown_clearly_and_recorded() {
    let handler = Handler::start().await;
    let app = spawn_app_with(&FAST_DELIVERY).await;
    app.login_admin().await;
    let (product, _) = plain_and_capable_products(&app).await;
    let hook = validation_webhook(
        &app,
        &handler.url("/validate"),
        "fulfillment_request",
        "inquiring_validator",
    )
    .await;
    let r = app
        .post_form(
            &format!("/products/{product}/requests"),
            &[
                ("kind", "fulfillment_request:purchase"),
                ("status", "inquiring"),
                ("params", "seats = 10"),
            ],
        )
        .await;
    let id = newest_request(&app).await;
    assert_eq!(location(&r), format!("/requests/{id}"));
    let cases: [(Behaviour, &str); 5] = [
        (
            Behaviour {
                status: 500,
                ..Behaviour::default()
            },
            "The handler answered HTTP 500; a validation webhook must answer 200 with the request object.",
        ),
        (
            Behaviour {
                body: "<html>oops</html>".into(),
                ..Behaviour::default()
            },
            "The handler's answer is not JSON",
        ),
        (
            Behaviour {
                body: "[1, 2]".into(),
                ..Behaviour::default()
            },
            "The handler's answer is not a JSON object",
        ),
        (
            Behaviour {
                body: "{\"id\": \"PR-1\"}".into(),
                ..Behaviour::default()
            },
            "The handler's answer has no parameter list (asset.params).",
        ),
        (
            Behaviour {
                delay: Duration::from_secs(3),
                ..Behaviour::default()
            },
            "The handler could not be called:",
        ),
    ];
    // The first validation ran at creation (the default answer has no parameters).
    let page = app.get_html(&format!("/requests/{id}")).await;
    assert!(text_of(&page).contains("has no parameter list"), "{}", text_of(&page));
    for (n, (behaviour, message)) in cases.into_iter().enumerate() {
        handler.set(behaviour);
        let r = app.post_form(&format!("/requests/{id}/validate"), &[]).await;
        assert_eq!(location(&r), format!("/requests/{id}"));
        let page = app.get_html(&format!("/requests/{id}")).await;
        let text = text_of(&page);
        assert!(text.contains("Validation failed"), "{text}");
        assert!(text.contains(message), "case {n}: {message}: {text}");
        let s = stats(&app.pool, &hook).await;
        assert_eq!((s.triggers, s.failure_triggers), (n as i64 + 2, n as i64 + 2));
    }
    // Nothing the handler said was applied; the request is still inquiring.
    let (status, params): (String, Value) = sqlx::query_as("select status, params from requests where id = $1")
        .bind(&id)
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(status, "inquiring");
    assert_eq!(params, json!([{"id": "seats", "title": "seats", "value": "10"}]));
    let timeout: (String, Option<String>) =
        sqlx::query_as("select error_kind, error from webhook_attempts where webhook_id = $1 order by id desc limit 1")
            .bind(&hook)
            .fetch_one(&app.pool)
            .await
            .map(|(k, e): (Option<String>, Option<String>)| (k.unwrap_or_default(), e))
            .unwrap();
    assert_eq!(timeout.0, "timeout");
}

#[tokio::test]
async fn without_a_validation_webhook_the_draft_says_so_and_nothing_is_called() {
    let app = spawn_app().await;
    app.login_admin().await;
    let (product, _) = plain_and_capable_products(&app).await;
    let r = app
        .post_form(
            &format!("/products/{product}/requests"),
            &[("kind", "tier_config_request:setup:2"), ("status", "draft")],
        )
        .await;
    let id = newest_request(&app).await;
    assert_eq!(location(&r), format!("/requests/{id}"));
    let text = text_of(&app.get_html(&format!("/requests/{id}")).await);
    assert!(
        text.contains("no enabled “Tier 2 Config — Setup Request — Draft Validation” webhook exists for this product"),
        "{text}"
    );
    let attempts: i64 = sqlx::query_scalar("select count(*) from webhook_attempts")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(attempts, 0);
}

#[tokio::test]
async fn another_accounts_webhook_on_the_same_product_hears_nothing() {
    let app = spawn_app().await;
    app.login_admin().await;
    let product: String = sqlx::query_scalar("select product_id from account_products where account_id = $1 limit 1")
        .bind(&app.distributor_account_id)
        .fetch_one(&app.pool)
        .await
        .unwrap();
    let vendors = insert_webhook(&app, &app.vendor_account_id, &product, "Vendor's", false).await;
    let distributors = insert_webhook(&app, &app.distributor_account_id, &product, "Distributor's", false).await;
    create_pending_purchase(&app, &product).await;
    assert_eq!(stats(&app.pool, &vendors).await.events, 1);
    assert_eq!(stats(&app.pool, &distributors).await.events, 0);
}

#[tokio::test]
async fn a_queue_change_records_an_event_for_every_webhook_watching_it_and_joins_waiting_calls() {
    let app = spawn_app().await;
    app.login_admin().await;
    let product: String = sqlx::query_scalar("select id from products where vendor_account_id = $1 limit 1")
        .bind(&app.vendor_account_id)
        .fetch_one(&app.pool)
        .await
        .unwrap();
    let fresh = insert_webhook(&app, &app.vendor_account_id, &product, "Fresh", true).await;
    let waiting = insert_webhook(&app, &app.vendor_account_id, &product, "Waiting for its retry", true).await;
    let disabled = insert_webhook(&app, &app.vendor_account_id, &product, "Disabled", false).await;
    // A retry an hour away: the queue change joins it, and must not move it or call at once.
    sqlx::query(
        "insert into webhook_triggers (webhook_id, state, due_at) values ($1, 'pending', now() + interval '1 hour')",
    )
    .bind(&waiting)
    .execute(&app.pool)
    .await
    .unwrap();
    let due_before: chrono::DateTime<chrono::Utc> =
        sqlx::query_scalar("select due_at from webhook_triggers where webhook_id = $1")
            .bind(&waiting)
            .fetch_one(&app.pool)
            .await
            .unwrap();

    create_pending_purchase(&app, &product).await;
    let request = newest_request(&app).await;
    for hook in [&fresh, &waiting, &disabled] {
        let events: Vec<(String, Option<String>)> =
            sqlx::query_as("select source, object_id from webhook_events where webhook_id = $1")
                .bind(hook)
                .fetch_all(&app.pool)
                .await
                .unwrap();
        assert_eq!(
            events,
            vec![("queue_change".to_string(), Some(request.clone()))],
            "{hook}"
        );
        assert_eq!(stats(&app.pool, hook).await.events, 1, "{hook}");
    }
    let calls = |hook: String| {
        let pool = app.pool.clone();
        async move {
            sqlx::query_scalar::<_, i64>(
                "select (select count(*) from webhook_triggers where webhook_id = $1)
                      + (select count(*) from webhook_attempts where webhook_id = $1)",
            )
            .bind(hook)
            .fetch_one(&pool)
            .await
            .unwrap()
        }
    };
    assert!(
        calls(fresh.clone()).await >= 1,
        "the enabled webhook's call is scheduled"
    );
    assert_eq!(
        calls(disabled.clone()).await,
        0,
        "a disabled webhook's event schedules nothing"
    );
    let waiting_triggers: Vec<(String, chrono::DateTime<chrono::Utc>)> =
        sqlx::query_as("select state, due_at from webhook_triggers where webhook_id = $1")
            .bind(&waiting)
            .fetch_all(&app.pool)
            .await
            .unwrap();
    assert_eq!(
        waiting_triggers,
        vec![("pending".to_string(), due_before)],
        "the event joined the waiting retry"
    );
}

#[tokio::test]
async fn a_call_waiting_for_a_queue_change_starts_only_once_the_change_is_committed() {
    let handler = Handler::start().await;
    let app = spawn_app_with(&FAST_DELIVERY).await;
    app.login_admin().await;
    let hook = webhook_calling(&app, &handler.url("/hook"), "POST", json!([]), json!({})).await;
    // A first call held by the handler; meanwhile a change leaves a pending trigger waiting.
    handler.set(Behaviour {
        delay: Duration::from_millis(800),
        ..Behaviour::default()
    });
    queue_changes(&app.pool, &hook, 1).await;
    handler.wait_for(1).await;
    handler.set(Behaviour::default());
    queue_changes(&app.pool, &hook, 1).await;

    // Another change joins that trigger in a transaction still open when the first call ends.
    let mut change = app.pool.begin().await.unwrap();
    let recorded = webhook_portal::events::record_queue_changes(&mut change, &[webhook_id(&hook)], None)
        .await
        .unwrap();
    assert_eq!(recorded, 1);
    eventually("the first call is recorded", || async {
        stats(&app.pool, &hook).await.success_triggers >= 1
    })
    .await;
    // The waiting call would tell the handler to look at a queue that does not show the
    // change yet: it must wait for the commit.
    stays(
        Duration::from_millis(1000),
        "no call before the change commits",
        || async { handler.count() == 1 },
    )
    .await;
    change.commit().await.unwrap();
    handler.wait_for(2).await;
    eventually("the second call is recorded", || async {
        stats(&app.pool, &hook).await.success_triggers == 2
    })
    .await;
    assert_eq!(stats(&app.pool, &hook).await.events, 3);
}
