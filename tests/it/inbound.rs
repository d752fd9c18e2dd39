//! Inbound triggers: `POST|GET /hooks/in/{id}` guarded by labelled keys, query parameters with
//! defaults passed on in the signed call, ordered delivery, request–response and its timeout,
//! and the admin pages' bad input, roles and tenancy.

use std::time::Duration;

use crate::common::handler::{eventually, verified_claims, Behaviour, Handler};
use crate::common::*;
use serde_json::{json, Value};

/// Creates a trigger through the form and returns its id.
pub(crate) async fn create_trigger(app: &TestApp, product: &str, extra: &[(&str, &str)]) -> String {
    let mut fields = vec![
        ("name", "Web shop orders"),
        ("product", product),
        ("object_class", "fulfillment_request"),
    ];
    fields.extend_from_slice(extra);
    if !extra.iter().any(|(k, _)| *k == "max_wait") {
        fields.push(("max_wait", "5"));
    }
    let r = app.post_form("/inbound/new", &fields).await;
    assert_eq!(r.status(), 303, "{}", r.text().await.unwrap_or_default());
    location(&r).trim_start_matches("/inbound/").to_string()
}

/// Adds a key through the details page: generated when `key` is empty. Returns the key.
pub(crate) async fn add_key(app: &TestApp, trigger: &str, label: &str, key: &str) -> String {
    let r = app
        .post_form(&format!("/inbound/{trigger}/keys"), &[("label", label), ("key", key)])
        .await;
    assert_eq!(r.status(), 303);
    if key.is_empty() {
        assert_eq!(location(&r), format!("/inbound/{trigger}#keys"));
        let html = app.get_html(&format!("/inbound/{trigger}")).await;
        html.split("id=\"key-value\">")
            .nth(1)
            .and_then(|r| r.split('<').next())
            .expect("the new key is shown once")
            .to_string()
    } else {
        key.to_string()
    }
}

pub(crate) fn claims_of(received: &crate::common::handler::Received) -> Value {
    verified_claims(&received.headers, WEBHOOK_SECRET)
}

pub(crate) async fn setup(extra: &[(&str, &str)]) -> (TestApp, Handler, String, String, String) {
    let handler = Handler::start().await;
    let app = spawn_app_with(&FAST_DELIVERY).await;
    app.login_admin().await;
    let hook = webhook_calling(&app, &handler.url("/hook"), "POST", json!([]), json!({})).await;
    let (product, _) = plain_and_capable_products(&app).await;
    let trigger = create_trigger(&app, &product, extra).await;
    (app, handler, hook, product, trigger)
}

#[tokio::test]
async fn keys_guard_the_endpoint_and_the_message_reaches_the_handler_signed() {
    let (app, handler, hook, _, trigger) = setup(&[("params", "region = eu\norder")]).await;
    let page = app.get_html(&format!("/inbound/{trigger}")).await;
    assert!(
        page.contains("id=\"no-keys\""),
        "a trigger without keys says calls are refused"
    );
    let url = app.url(&format!("/hooks/in/{trigger}"));
    let client = reqwest::Client::new();

    // No key, a wrong key: 401 with a clear body, nothing recorded.
    let r = client.post(&url).send().await.unwrap();
    assert_eq!(r.status(), 401);
    assert_eq!(r.headers()["www-authenticate"], "ApiKey");
    let body: Value = r.json().await.unwrap();
    assert!(body["errors"][0].as_str().unwrap().contains("X-Api-Key"));
    let generated = add_key(&app, &trigger, "Web shop", "").await;
    let r = client
        .post(&url)
        .header("X-Api-Key", "wrong-key-0123456789")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);

    // A valid key: 202, one signed call carrying the message.
    let r = client
        .post(format!("{url}?order=WO-1001"))
        .header("X-Api-Key", &generated)
        .header("Content-Type", "application/json")
        .body(r#"{"lines": 3}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202);
    let accepted: Value = r.json().await.unwrap();
    assert_eq!(accepted["webhooks"], 1);
    let calls = handler.wait_for(1).await;
    let claims = claims_of(&calls[0]);
    assert_eq!(claims["webhook_id"], hook.as_str());
    assert_eq!(claims["inbound"]["trigger_id"], trigger.as_str());
    assert_eq!(claims["inbound"]["message_id"], accepted["message_id"]);
    assert_eq!(claims["inbound"]["method"], "POST");
    assert_eq!(claims["inbound"]["query"], json!({"region": "eu", "order": "WO-1001"}));
    assert_eq!(
        claims["inbound"]["body"],
        json!({"lines": 3}),
        "a JSON body is passed on as JSON"
    );
    let body: Value = serde_json::from_slice(&calls[0].body).unwrap();
    assert_eq!(body["inbound"], claims["inbound"]);

    // A pasted key (shared with another trigger) works as `Authorization: ApiKey`, over GET.
    let pasted = add_key(&app, &trigger, "ERP", "shared-key-from-the-erp-0001").await;
    let r = client
        .get(format!("{url}?order=7&region=us"))
        .header("Authorization", format!("ApiKey {pasted}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202);
    let calls = handler.wait_for(2).await;
    assert_eq!(
        claims_of(&calls[1])["inbound"]["query"],
        json!({"region": "us", "order": "7"})
    );
    assert_eq!(claims_of(&calls[1])["inbound"]["body"], Value::Null);

    // Relabel and delete keys; a deleted key gets 401.
    let keys: Vec<(i64, String)> = sqlx::query_as("select id, label from inbound_trigger_keys order by id")
        .fetch_all(&app.pool)
        .await
        .unwrap();
    let r = app
        .post_form(
            &format!("/inbound/{trigger}/keys/{}", keys[1].0),
            &[("label", "ERP (prod)")],
        )
        .await;
    assert_eq!(r.status(), 303);
    let page = app.get_html(&format!("/inbound/{trigger}")).await;
    assert!(page.contains("value=\"ERP (prod)\""));
    assert!(!page.contains(&generated), "a generated key is never shown again");
    let r = app
        .post_form(&format!("/inbound/{trigger}/keys/{}/delete", keys[1].0), &[])
        .await;
    assert_eq!(r.status(), 303);
    let r = client
        .get(format!("{url}?order=8"))
        .header("X-Api-Key", &pasted)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);

    let deliveries = app.get_html(&format!("/webhooks/{hook}/deliveries")).await;
    assert!(
        deliveries.contains(&format!(">Inbound message #{}</span>", accepted["message_id"])),
        "the call names its message"
    );

    // The page lists the messages and the statistics count them.
    let page = app.get_html(&format!("/inbound/{trigger}")).await;
    assert!(text_of(&page).contains("order=WO-1001"));
    eventually("both calls recorded", || async {
        stats(&app.pool, &hook).await.success_triggers == 2
    })
    .await;
    assert_eq!(stats(&app.pool, &hook).await.events, 2);
}

#[tokio::test]
async fn bad_calls_get_clear_4xx_and_record_nothing() {
    let (app, _handler, _, _, trigger) = setup(&[("params", "region = eu\norder")]).await;
    let key = add_key(&app, &trigger, "Caller", "").await;
    let url = app.url(&format!("/hooks/in/{trigger}"));
    let client = reqwest::Client::new();
    let call = |query: &str| client.post(format!("{url}{query}")).header("X-Api-Key", &key);
    for (request, status, message) in [
        (call(""), 400, "Query parameter `order` is required."),
        (
            call("?order=1&color=red"),
            400,
            "Unknown query parameter `color`: this trigger accepts region, order.",
        ),
        (call("?order=1&order=2"), 400, "Query parameter `order` is given twice."),
        (
            call("?order=%ZZ"),
            400,
            "The query string has an invalid percent-encoding in `%ZZ`.",
        ),
        (
            call("?order=%FF"),
            400,
            "The query string is not UTF-8 once decoded (`%FF`).",
        ),
        (
            // Written whole before the answer is read: the 413 arrives, not a broken pipe.
            call("?order=1").body(vec![b'x'; 10 * 1024 * 1024]),
            413,
            "The body is larger than the limit of 1048576 bytes (1.0 MiB).",
        ),
    ] {
        let r = request.send().await.unwrap();
        assert_eq!(r.status(), status, "{message}");
        let body: Value = r.json().await.unwrap();
        assert!(body["errors"][0].as_str().unwrap().starts_with(message), "{body}");
    }
    // HEAD would be routed like GET: refused, nothing fired.
    let r = client
        .head(format!("{url}?order=1"))
        .header("X-Api-Key", &key)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 405);
    let messages: i64 = sqlx::query_scalar("select count(*) from inbound_messages")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(messages, 0);

    // Unknown and disabled triggers are 404, key or not.
    assert_eq!(
        client
            .post(app.url("/hooks/in/IT-000-000-000"))
            .header("X-Api-Key", &key)
            .send()
            .await
            .unwrap()
            .status(),
        404
    );
    assert_eq!(
        client.get(app.url("/hooks/in/nonsense")).send().await.unwrap().status(),
        404
    );
    assert_eq!(
        app.post_form(&format!("/inbound/{trigger}/disable"), &[])
            .await
            .status(),
        303
    );
    let r = call("?order=1").send().await.unwrap();
    assert_eq!(r.status(), 404);
    app.post_form(&format!("/inbound/{trigger}/enable"), &[]).await;
    assert_eq!(call("?order=1").send().await.unwrap().status(), 202);
}

#[tokio::test]
async fn ordered_delivery_keeps_arrival_order_one_at_a_time_even_across_failures() {
    let (app, handler, hook, _, trigger) = setup(&[("ordered", "true")]).await;
    let key = add_key(&app, &trigger, "Caller", "").await;
    let url = app.url(&format!("/hooks/in/{trigger}"));
    let client = reqwest::Client::new();

    // The first message fails twice before the handler recovers; later ones must wait.
    handler.set(Behaviour {
        status: 500,
        ..Behaviour::default()
    });
    let first: Value = client
        .post(&url)
        .header("X-Api-Key", &key)
        .body("first")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    handler.wait_for(1).await;
    // Twenty more, sent concurrently.
    let mut sends = tokio::task::JoinSet::new();
    for i in 0..20 {
        let request = client.post(&url).header("X-Api-Key", &key).body(format!("m{i}"));
        sends.spawn(async move { request.send().await.unwrap().status() });
    }
    while let Some(status) = sends.join_next().await {
        assert_eq!(status.unwrap(), 202);
    }
    handler.wait_for(2).await;
    handler.set(Behaviour {
        delay: Duration::from_millis(20),
        ..Behaviour::default()
    });
    eventually("all 21 messages delivered", || async {
        stats(&app.pool, &hook).await.success_triggers == 21
    })
    .await;

    let calls = handler.received();
    let ids: Vec<i64> = calls
        .iter()
        .map(|c| claims_of(c)["inbound"]["message_id"].as_i64().unwrap())
        .collect();
    let first_id = first["message_id"].as_i64().unwrap();
    // Every call before the later messages is the first message, tried until it succeeded.
    let retries = ids.iter().take_while(|id| **id == first_id).count();
    assert!(
        retries >= 2,
        "the first message was retried before anything else: {ids:?}"
    );
    let delivered: Vec<i64> = ids[retries..].to_vec();
    assert_eq!(delivered.len(), 20, "each later message delivered once: {ids:?}");
    let arrival: Vec<i64> = sqlx::query_scalar("select id from inbound_messages where id <> $1 order by id")
        .bind(first_id)
        .fetch_all(&app.pool)
        .await
        .unwrap();
    assert_eq!(delivered, arrival, "strictly in arrival order");
    assert!(calls.iter().all(|c| c.concurrent_same_webhook == 1), "one at a time");
}

#[tokio::test]
async fn request_response_returns_the_handlers_answer_or_504_after_the_maximum_wait() {
    let (app, handler, hook, _, trigger) = setup(&[("request_response", "true"), ("max_wait", "1")]).await;
    let key = add_key(&app, &trigger, "Caller", "").await;
    let url = app.url(&format!("/hooks/in/{trigger}"));
    let client = reqwest::Client::new();
    handler.set(Behaviour {
        status: 201,
        body: r#"{"work_order": "WO-77"}"#.into(),
        ..Behaviour::default()
    });
    let r = client
        .post(&url)
        .header("X-Api-Key", &key)
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    assert_eq!(r.headers()["x-webhook-id"], hook.as_str());
    assert_eq!(r.headers()["content-type"], "application/json");
    assert_eq!(r.text().await.unwrap(), r#"{"work_order": "WO-77"}"#);

    // Slower than the maximum wait (but within the call timeout): 504 at once, delivered later.
    handler.set(Behaviour {
        delay: Duration::from_millis(1300),
        ..Behaviour::default()
    });
    let r = client.post(&url).header("X-Api-Key", &key).send().await.unwrap();
    assert_eq!(r.status(), 504);
    let body: Value = r.json().await.unwrap();
    assert!(body["errors"][0]
        .as_str()
        .unwrap()
        .contains("will be delivered; do not send it again"));
    eventually("the slow call still succeeded", || async {
        stats(&app.pool, &hook).await.success_triggers == 2
    })
    .await;

    // A handler error is passed back as it is.
    handler.set(Behaviour {
        status: 503,
        body: r#"{"error": "ERP down"}"#.into(),
        ..Behaviour::default()
    });
    let r = client.post(&url).header("X-Api-Key", &key).send().await.unwrap();
    assert_eq!(r.status(), 503);
    assert_eq!(r.headers()["x-delivery"], "failed; will be retried");
    assert_eq!(r.text().await.unwrap(), r#"{"error": "ERP down"}"#);
}

#[tokio::test]
async fn the_forms_refuse_bad_settings_viewers_cannot_change_and_other_accounts_get_404() {
    let app = spawn_app().await;
    app.login_admin().await;
    let (product, _) = plain_and_capable_products(&app).await;
    let page = app.get_html("/inbound").await;
    assert!(page.contains("No inbound triggers yet"));
    for (fields, message) in [
        (
            vec![
                ("name", ""),
                ("product", product.as_str()),
                ("object_class", "usage_file"),
            ],
            "Enter a name",
        ),
        (
            vec![
                ("name", "x"),
                ("product", "PRD-000-000-000"),
                ("object_class", "usage_file"),
            ],
            "Choose one of your products.",
        ),
        (
            vec![("name", "x"), ("product", product.as_str()), ("object_class", "nope")],
            "Choose the queue",
        ),
        (
            vec![
                ("name", "x"),
                ("product", product.as_str()),
                ("object_class", "usage_file"),
                ("request_response", "true"),
                ("max_wait", "600"),
            ],
            "Enter whole seconds from 1 to 30.",
        ),
        (
            vec![
                ("name", "x"),
                ("product", product.as_str()),
                ("object_class", "usage_file"),
                ("params", "a b"),
            ],
            "Line 1: a parameter name is",
        ),
    ] {
        let r = app.post_form("/inbound/new", &fields).await;
        assert_eq!(r.status(), 422, "{message}");
        assert!(text_of(&r.text().await.unwrap()).contains(message), "{message}");
    }
    let long = "n".repeat(129);
    let r = app
        .post_form(
            "/inbound/new",
            &[("name", &long), ("product", &product), ("object_class", "usage_file")],
        )
        .await;
    assert_eq!(r.status(), 422);
    let count: i64 = sqlx::query_scalar("select count(*) from inbound_triggers")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(count, 0);

    let trigger = create_trigger(&app, &product, &[]).await;
    // Bad keys: empty label, short pasted key, the same key twice.
    for (label, key, status, message) in [
        ("", "", 422, "Enter a label"),
        ("Shop", "short", 422, "A key is 16–200 characters"),
        ("Shop", "same-key-0123456789", 303, ""),
        (
            "Shop again",
            "same-key-0123456789",
            409,
            "This key is already on this trigger.",
        ),
    ] {
        let r = app
            .post_form(&format!("/inbound/{trigger}/keys"), &[("label", label), ("key", key)])
            .await;
        assert_eq!(r.status(), status, "{message}");
        if !message.is_empty() {
            assert!(text_of(&r.text().await.unwrap()).contains(message), "{message}");
        }
    }
    // Edit keeps product and class, validates like create.
    let r = app
        .post_form(
            &format!("/inbound/{trigger}/edit"),
            &[("name", "Renamed"), ("ordered", "true"), ("max_wait", "3")],
        )
        .await;
    assert_eq!(r.status(), 303);
    let (name, ordered, class): (String, bool, String) =
        sqlx::query_as("select name, ordered, object_class from inbound_triggers where id = $1")
            .bind(&trigger)
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(
        (name.as_str(), ordered, class.as_str()),
        ("Renamed", true, "fulfillment_request")
    );

    let viewer = app.second_browser();
    viewer.login_viewer().await;
    assert_eq!(viewer.get(&format!("/inbound/{trigger}")).await.status(), 200);
    for path in [
        format!("/inbound/{trigger}/edit"),
        format!("/inbound/{trigger}/disable"),
        format!("/inbound/{trigger}/delete"),
        format!("/inbound/{trigger}/keys"),
    ] {
        assert_eq!(
            viewer.post_form(&path, &[("label", "x"), ("name", "x")]).await.status(),
            403,
            "{path}"
        );
    }
    let distributor = app.second_browser();
    distributor.login_distributor().await;
    for path in [
        format!("/inbound/{trigger}"),
        format!("/inbound/{trigger}/edit"),
        format!("/inbound/{trigger}/delete"),
    ] {
        assert_eq!(distributor.get(&path).await.status(), 404, "{path}");
    }
    assert_eq!(
        distributor
            .post_form(&format!("/inbound/{trigger}/delete"), &[])
            .await
            .status(),
        404
    );
    // Delete with confirmation; the URL then answers 404.
    let confirm = app.get_html(&format!("/inbound/{trigger}/delete")).await;
    assert!(confirm.contains("id=\"confirm-delete\""));
    assert_eq!(
        app.post_form(&format!("/inbound/{trigger}/delete"), &[]).await.status(),
        303
    );
    let r = reqwest::Client::new()
        .post(app.url(&format!("/hooks/in/{trigger}")))
        .header("X-Api-Key", "same-key-0123456789")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
}

#[tokio::test]
async fn a_full_backlog_is_refused_with_503_until_it_drains() {
    let (app, _handler, hook, _, trigger) = setup(&[]).await;
    let key = add_key(&app, &trigger, "Caller", "").await;
    // The handler has been failing: the webhook is out of order with 1,000 messages waiting.
    sqlx::query("update webhooks set out_of_order = true where id = $1")
        .bind(&hook)
        .execute(&app.pool)
        .await
        .unwrap();
    sqlx::query(
        "with m as (insert into inbound_messages (trigger_id, method) select $1, 'POST' from generate_series(1, 1000) returning id)
         insert into webhook_triggers (webhook_id, state, due_at, message_id) select $2, 'pending', now(), id from m",
    )
    .bind(&trigger)
    .bind(&hook)
    .execute(&app.pool)
    .await
    .unwrap();
    let url = app.url(&format!("/hooks/in/{trigger}"));
    let r = reqwest::Client::new()
        .post(&url)
        .header("X-Api-Key", &key)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 503);
    assert_eq!(r.headers()["retry-after"], "60");
    sqlx::query("delete from webhook_triggers where id in (select id from webhook_triggers limit 1)")
        .execute(&app.pool)
        .await
        .unwrap();
    let r = reqwest::Client::new()
        .post(&url)
        .header("X-Api-Key", &key)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202);
}

#[tokio::test]
async fn the_backlog_counts_messages_not_deliveries() {
    let (app, _handler, hook, product, trigger) = setup(&[]).await;
    let key = add_key(&app, &trigger, "Caller", "").await;
    // Ten webhooks watch the trigger (nine more beside the setup's), all out of order.
    for n in 0..9 {
        insert_webhook(&app, &app.vendor_account_id, &product, &format!("Watcher {n}"), true).await;
    }
    sqlx::query("update webhooks set out_of_order = true")
        .execute(&app.pool)
        .await
        .unwrap();
    let watching: i64 = sqlx::query_scalar("select count(*) from webhooks where product_id = $1")
        .bind(&product)
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert!(watching >= 10, "{watching} webhooks, {hook} among them");
    // 999 messages wait, each for every webhook: 9,990 deliveries.
    sqlx::query(
        "with m as (insert into inbound_messages (trigger_id, method) select $1, 'POST' from generate_series(1, 999) returning id)
         insert into webhook_triggers (webhook_id, state, due_at, message_id)
         select w.id, 'pending', now() + interval '1 hour', m.id from m cross join webhooks w where w.product_id = $2",
    )
    .bind(&trigger)
    .bind(&product)
    .execute(&app.pool)
    .await
    .unwrap();
    let url = app.url(&format!("/hooks/in/{trigger}"));
    let send = || reqwest::Client::new().post(&url).header("X-Api-Key", &key).send();
    assert_eq!(send().await.unwrap().status(), 202, "the 1,000th message is accepted");
    let r = send().await.unwrap();
    assert_eq!(r.status(), 503, "the 1,001st waits for the backlog to drain");
    let e: Value = r.json().await.unwrap();
    assert!(e["errors"][0].as_str().unwrap().contains("1000 messages"), "{e}");
}

#[tokio::test]
async fn an_open_trigger_takes_calls_without_a_key_but_not_with_a_wrong_one() {
    let (app, handler, hook, _product, trigger) = setup(&[("open", "true")]).await;
    let client = reqwest::Client::new();
    let url = app.url(&format!("/hooks/in/{trigger}"));

    let r = client
        .post(&url)
        .header("content-type", "application/json")
        .body("{\"order\": 7}")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202, "no key needed");
    let call = handler.wait_for(1).await.remove(0);
    assert_eq!(claims_of(&call)["webhook_id"], hook.as_str());
    assert_eq!(claims_of(&call)["inbound"]["body"], json!({"order": 7}));

    let r = client.post(&url).header("X-Api-Key", "ik_wrong").send().await.unwrap();
    assert_eq!(r.status(), 401, "a key that is sent must be valid");

    // The pages warn, in the list and on the trigger.
    let list = text_of(&app.get_html("/inbound").await);
    assert!(list.contains("Open"), "{list}");
    let page = app.get_html(&format!("/inbound/{trigger}")).await;
    assert!(page.contains("id=\"open-warning\"") && !page.contains("id=\"no-keys\""));

    // Closed again, calls without a key are refused.
    let r = app
        .post_form(
            &format!("/inbound/{trigger}/edit"),
            &[("name", "Web shop orders"), ("max_wait", "5")],
        )
        .await;
    assert_eq!(r.status(), 303);
    let r = client.post(&url).send().await.unwrap();
    assert_eq!(r.status(), 401);
}

#[tokio::test]
async fn a_trigger_answers_at_its_readable_url_too() {
    let (app, handler, _hook, product, trigger) = setup(&[("path_name", "CreateCustomerRecord")]).await;
    let key = add_key(&app, &trigger, "Shop", "").await;
    let client = reqwest::Client::new();
    let readable = app.url(&format!("/hooks/in/{}/CreateCustomerRecord", app.vendor_account_id));
    let page = app.get_html(&format!("/inbound/{trigger}")).await;
    assert!(page.contains(&readable), "the page shows the readable URL");

    let r = client.post(&readable).header("X-Api-Key", &key).send().await.unwrap();
    assert_eq!(r.status(), 202);
    handler.wait_for(1).await;
    let r = client.post(&readable).send().await.unwrap();
    assert_eq!(r.status(), 401, "the same checks as by ID");
    for unknown in [
        format!("/hooks/in/{}/NoSuchName", app.vendor_account_id),
        format!("/hooks/in/{}/CreateCustomerRecord", app.distributor_account_id),
        "/hooks/in/not-an-account/CreateCustomerRecord".to_string(),
    ] {
        let r = client
            .post(app.url(&unknown))
            .header("X-Api-Key", &key)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 404, "{unknown}");
    }

    // Unique in the account, and a name a URL can carry.
    for (name, message) in [
        (
            "CreateCustomerRecord",
            "Another trigger of this account has this name in its URL.",
        ),
        (
            "has space",
            "Use 1–64 letters, digits, - and _, starting with a letter or digit.",
        ),
    ] {
        let r = app
            .post_form(
                "/inbound/new",
                &[
                    ("name", "Second"),
                    ("product", product.as_str()),
                    ("object_class", "fulfillment_request"),
                    ("path_name", name),
                    ("max_wait", "5"),
                ],
            )
            .await;
        assert_eq!(r.status(), 422, "{name}");
        assert!(r.text().await.unwrap().contains(message), "{name}");
    }
    // Its own name is not "taken" when the trigger is saved again.
    let r = app
        .post_form(
            &format!("/inbound/{trigger}/edit"),
            &[
                ("name", "Web shop orders"),
                ("path_name", "CreateCustomerRecord"),
                ("max_wait", "5"),
            ],
        )
        .await;
    assert_eq!(r.status(), 303);
}
