//! The audit log: each change and each call someone asks for leaves one record (who, when,
//! from where, what, before → after) written with the change; no record carries a secret;
//! no route and no SQL changes or removes one; the log page filters and pages, keeps to its
//! account and to those who manage users; a webhook's History tab shows its own records.

use std::time::Duration;

use serde_json::{json, Value};

use crate::common::handler::{eventually, Behaviour, Handler};
use crate::common::*;
use crate::inbound::{add_key, create_trigger};

#[derive(Debug, sqlx::FromRow)]
struct Row {
    actor_kind: String,
    actor_id: Option<String>,
    actor_name: String,
    ip: Option<String>,
    action: String,
    object_kind: String,
    object_id: String,
    changes: Value,
    detail: String,
}

async fn records(app: &TestApp) -> Vec<Row> {
    sqlx::query_as(
        "select actor_kind, actor_id, actor_name, host(ip) as ip, action, object_kind, object_id, changes, detail
         from audit_records order by id",
    )
    .fetch_all(&app.pool)
    .await
    .unwrap()
}

/// The one record of `action` on `object` (the newest if several).
async fn record(app: &TestApp, action: &str, object: &str) -> Row {
    let mut all: Vec<Row> = records(app)
        .await
        .into_iter()
        .filter(|r| r.action == action && r.object_id == object)
        .collect();
    all.pop().unwrap_or_else(|| panic!("no {action} record for {object}"))
}

fn change<'a>(row: &'a Row, field: &str) -> (&'a Value, &'a Value) {
    let c = row
        .changes
        .as_array()
        .and_then(|a| a.iter().find(|c| c["field"] == field))
        .unwrap_or_else(|| panic!("{} has no change of {field}: {}", row.action, row.changes));
    (&c["before"], &c["after"])
}

async fn admin_id(app: &TestApp) -> String {
    sqlx::query_scalar("select id from users where email = $1")
        .bind(ADMIN_EMAIL)
        .fetch_one(&app.pool)
        .await
        .unwrap()
}

#[tokio::test]
async fn every_change_and_every_requested_call_is_recorded_without_a_secret() {
    let handler = Handler::start().await;
    let app = spawn_app_with(&FAST_DELIVERY).await;
    app.login_admin().await;
    let admin = admin_id(&app).await;
    let mut secrets: Vec<String> = vec![WEBHOOK_SECRET.to_string(), ADMIN_PASSWORD.to_string()];

    // Webhooks through the pages: create, edit each section, disable, enable, reveal.
    let (product, _) = plain_and_capable_products(&app).await;
    let hook = create_via_wizard(
        &app,
        "Audited hook",
        &product,
        "fulfillment_request_queue",
        "POST",
        "{}",
    )
    .await;
    let created = record(&app, "webhook.created", &hook).await;
    assert_eq!(created.object_kind, "webhook");
    assert_eq!(
        (
            created.actor_kind.as_str(),
            created.actor_id.as_deref(),
            created.ip.as_deref()
        ),
        ("user", Some(admin.as_str()), Some("127.0.0.1"))
    );
    assert!(created.actor_name.contains(ADMIN_EMAIL));
    assert_eq!(change(&created, "Name").1, "Audited hook");
    secrets.push("JWT-a-long-enough-secret-1234".to_string());
    let r = app
        .post_form(
            &format!("/webhooks/{hook}/edit/general"),
            &[
                ("name", "Audited hook 2"),
                ("description", "now described"),
                ("enabled", "on"),
            ],
        )
        .await;
    assert_eq!(r.status(), 303);
    let updated = record(&app, "webhook.updated", &hook).await;
    assert_eq!(
        change(&updated, "Name"),
        (&json!("Audited hook"), &json!("Audited hook 2"))
    );
    assert_eq!(
        change(&updated, "Description"),
        (&json!("Created by a test."), &json!("now described"))
    );
    assert_eq!(updated.changes.as_array().unwrap().len(), 2, "only what changed");
    let typed = "typed-by-hand-secret-000001";
    secrets.push(typed.to_string());
    let r = app
        .post_form(
            &format!("/webhooks/{hook}/edit/http"),
            &[
                ("external_url", &handler.url("/hook2")),
                ("jwt_secret", typed),
                ("http_method", "POST"),
                ("payload_format", "json"),
                ("rate_limit", "5"),
            ],
        )
        .await;
    assert_eq!(r.status(), 303, "{}", r.text().await.unwrap_or_default());
    let http = record(&app, "webhook.updated", &hook).await;
    assert_eq!(change(&http, "URL").1, handler.url("/hook2").as_str());
    assert_eq!(change(&http, "Rate limit"), (&json!("none"), &json!("5/s")));
    let (old_kid, new_kid) = change(&http, "JWT secret");
    assert!(old_kid.as_str().unwrap().starts_with("key k_") && new_kid != old_kid);
    let r = app
        .post_form(
            &format!("/webhooks/{hook}/edit/data"),
            &[("data", r#"{"region": "eu"}"#)],
        )
        .await;
    assert_eq!(r.status(), 303);
    assert_eq!(
        change(&record(&app, "webhook.updated", &hook).await, "Custom data").1,
        r#"{"region": "eu"}"#
    );
    for (path, action) in [("disable", "webhook.disabled"), ("enable", "webhook.enabled")] {
        assert_eq!(
            app.post_form(&format!("/webhooks/{hook}/{path}"), &[]).await.status(),
            303
        );
        record(&app, action, &hook).await;
    }
    let before = records(&app).await.len();
    app.get_html(&format!("/webhooks/{hook}/http")).await;
    assert_eq!(records(&app).await.len(), before, "the masked secret is no reveal");
    let shown = app.get_html(&format!("/webhooks/{hook}/http?reveal=1")).await;
    assert!(shown.contains(typed));
    app.get_html(&format!("/webhooks/{hook}/edit/http")).await;
    let reveals: Vec<Row> = records(&app)
        .await
        .into_iter()
        .filter(|r| r.action == "secret.revealed")
        .collect();
    assert_eq!(reveals.len(), 2, "the tab's Show and the edit form");

    // Calls someone asks for: Trigger now, a test ping, a redelivery.
    assert_eq!(
        app.post_form(&format!("/webhooks/{hook}/trigger"), &[]).await.status(),
        303
    );
    record(&app, "webhook.triggered", &hook).await;
    handler.wait_for(1).await;
    assert_eq!(
        app.post_form(&format!("/webhooks/{hook}/ping"), &[]).await.status(),
        303
    );
    record(&app, "webhook.test_ping", &hook).await;
    let attempt: i64 = {
        let pool = app.pool.clone();
        let hook = hook.clone();
        let mut id = 0;
        eventually("the call is recorded", || {
            let (pool, hook) = (pool.clone(), hook.clone());
            async move {
                sqlx::query_scalar::<_, i64>(
                    "select id from webhook_attempts where webhook_id = $1 and not test limit 1",
                )
                .bind(&hook)
                .fetch_optional(&pool)
                .await
                .unwrap()
                .is_some()
            }
        })
        .await;
        id +=
            sqlx::query_scalar::<_, i64>("select id from webhook_attempts where webhook_id = $1 and not test limit 1")
                .bind(&hook)
                .fetch_one(&app.pool)
                .await
                .unwrap();
        id
    };
    let r = app
        .post_form(&format!("/webhooks/{hook}/deliveries/{attempt}/redeliver"), &[])
        .await;
    assert_eq!(r.status(), 303);
    assert!(record(&app, "webhook.redelivered", &hook)
        .await
        .detail
        .contains(&attempt.to_string()));
    // A page that hands out a working token is recorded too (the token never is).
    assert_eq!(app.get(&format!("/webhooks/{hook}/preview")).await.status(), 200);
    record(&app, "request.previewed", &hook).await;
    let r = app
        .post_form(&format!("/webhooks/{hook}/deliveries/{attempt}/curl"), &[])
        .await;
    assert_eq!(r.status(), 200);
    let curl = r.text().await.unwrap();
    let token = curl
        .split("Bearer ")
        .nth(1)
        .and_then(|t| t.split(['\'', '"', ' ', '<', '&']).next())
        .expect("a token in the command")
        .to_string();
    assert!(token.len() > 40, "{token}");
    secrets.push(token);
    assert!(record(&app, "request.copied", &hook)
        .await
        .detail
        .contains(&format!("WHA-{attempt}")));

    // Rotation steps.
    let html = app
        .post_form(&format!("/webhooks/{hook}/secret/prepare"), &[])
        .await
        .text()
        .await
        .unwrap();
    let prepared = html
        .split("id=\"new-secret-value\">")
        .nth(1)
        .and_then(|s| s.split('<').next())
        .unwrap()
        .to_string();
    secrets.push(prepared);
    record(&app, "secret.prepared", &hook).await;
    app.post_form(&format!("/webhooks/{hook}/secret/switch"), &[]).await;
    record(&app, "secret.switched", &hook).await;
    app.post_form(&format!("/webhooks/{hook}/secret/switch-back"), &[])
        .await;
    record(&app, "secret.switched_back", &hook).await;
    app.post_form(&format!("/webhooks/{hook}/secret/discard"), &[]).await;
    record(&app, "secret.cancelled", &hook).await;

    // The handler says 410 Gone: the portal turns the webhook off and says so.
    handler.set(Behaviour {
        status: 410,
        ..Behaviour::default()
    });
    app.post_form(&format!("/webhooks/{hook}/trigger"), &[]).await;
    let pool = app.pool.clone();
    let gone_hook = hook.clone();
    eventually("410 disables the webhook", || {
        let (pool, hook) = (pool.clone(), gone_hook.clone());
        async move {
            sqlx::query_scalar::<_, i64>(
                "select count(*) from audit_records where action = 'webhook.gone' and object_id = $1",
            )
            .bind(&hook)
            .fetch_one(&pool)
            .await
            .unwrap()
                == 1
        }
    })
    .await;
    let gone = record(&app, "webhook.gone", &hook).await;
    assert_eq!((gone.actor_kind.as_str(), gone.ip.as_deref()), ("portal", None));
    assert_eq!(change(&gone, "Status"), (&json!("Enabled"), &json!("Disabled")));
    assert!(gone.detail.contains("410"));

    // Tokens, and the API acting as a token (a list that shows secrets is a reveal).
    let key = app.api_key("CI").await;
    secrets.push(key.trim_start_matches("ApiKey ").to_string());
    let token_id = key.trim_start_matches("ApiKey ").split(':').next().unwrap().to_string();
    assert_eq!(
        change(&record(&app, "api_token.created", &token_id).await, "Name").1,
        "CI"
    );
    let api = reqwest::Client::new();
    let r = api
        .post(app.url("/public/v1/notifications/webhooks"))
        .header("Authorization", &key)
        .json(
            &json!({"label": "From the API", "product_id": product, "object_class": "fulfillment_request",
                      "type": "event", "external_url": handler.url("/api"), "jwt_secret": "api-chosen-secret-00001"}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap_or_default());
    secrets.push("api-chosen-secret-00001".into());
    let api_hook: String = sqlx::query_scalar("select id from webhooks where label = 'From the API'")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    let by_token = record(&app, "webhook.created", &api_hook).await;
    assert_eq!(
        (
            by_token.actor_kind.as_str(),
            by_token.actor_id.as_deref(),
            by_token.ip.as_deref()
        ),
        ("api_token", Some(token_id.as_str()), Some("127.0.0.1"))
    );
    let r = api
        .put(app.url(&format!("/public/v1/notifications/webhooks/{api_hook}")))
        .header("Authorization", &key)
        .json(&json!({"description": "changed by the API"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(
        change(&record(&app, "webhook.updated", &api_hook).await, "Description").1,
        "changed by the API"
    );
    let r = api
        .post(app.url(&format!("/public/v1/notifications/webhooks/{api_hook}/trigger")))
        .header("Authorization", &key)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    record(&app, "webhook.triggered", &api_hook).await;
    let r = api
        .get(app.url(&format!("/public/v1/notifications/webhooks/{api_hook}")))
        .header("Authorization", &key)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(record(&app, "secret.revealed", &api_hook).await.actor_kind, "api_token");
    let r = api
        .delete(app.url(&format!("/public/v1/notifications/webhooks/{api_hook}")))
        .header("Authorization", &key)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    record(&app, "webhook.deleted", &api_hook).await;
    assert_eq!(
        app.post_form(&format!("/tokens/{token_id}/revoke"), &[]).await.status(),
        303
    );
    record(&app, "api_token.revoked", &token_id).await;

    // Users: add (with a link), the link used, changed, deactivated, reactivated, reset.
    let r = app
        .post_form(
            "/users",
            &[
                ("email", "erin@frontstreet.example"),
                ("name", "Erin"),
                ("create_webhooks", "on"),
                ("password_mode", "link"),
            ],
        )
        .await;
    assert_eq!(r.status(), 201);
    let page = r.text().await.unwrap();
    let link = page
        .split("/set-password/")
        .nth(1)
        .and_then(|s| s.split(['"', '<']).next())
        .unwrap()
        .to_string();
    secrets.push(link.clone());
    let erin: String = sqlx::query_scalar("select id from users where email = 'erin@frontstreet.example'")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(
        change(&record(&app, "user.added", &erin).await, "May").1,
        "Create webhooks"
    );
    let erin_browser = app.second_browser();
    let form = erin_browser.get_html(&format!("/set-password/{link}")).await;
    let password = "erins-own-password-0001";
    secrets.push(password.into());
    let r = erin_browser
        .client
        .post(erin_browser.url("/set-password"))
        .form(&[
            ("csrf_token", csrf_from(&form).unwrap().as_str()),
            ("token", link.as_str()),
            ("password", password),
            ("password_again", password),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    let set = record(&app, "user.password_set", &erin).await;
    assert_eq!(
        (set.actor_id.as_deref(), set.ip.as_deref()),
        (Some(erin.as_str()), Some("127.0.0.1"))
    );
    let r = app
        .post_form(
            &format!("/users/{erin}"),
            &[
                ("email", "erin@frontstreet.example"),
                ("name", "Erin Example"),
                ("create_webhooks", "on"),
                ("edit_webhooks", "on"),
            ],
        )
        .await;
    assert_eq!(r.status(), 303, "{}", r.text().await.unwrap_or_default());
    let changed = record(&app, "user.updated", &erin).await;
    assert_eq!(change(&changed, "Name"), (&json!("Erin"), &json!("Erin Example")));
    assert_eq!(change(&changed, "May").1, "Create webhooks, Edit webhooks");
    for (path, action) in [("deactivate", "user.deactivated"), ("reactivate", "user.reactivated")] {
        assert_eq!(app.post_form(&format!("/users/{erin}/{path}"), &[]).await.status(), 303);
        record(&app, action, &erin).await;
    }
    let typed_password = "a-new-password-for-erin-01";
    secrets.push(typed_password.into());
    let r = app
        .post_form(
            &format!("/users/{erin}/password"),
            &[("password_mode", "set"), ("password", typed_password)],
        )
        .await;
    assert!(r.status().is_success() || r.status().is_redirection(), "{}", r.status());
    record(&app, "user.password_reset", &erin).await;

    // Inbound triggers and their keys.
    let trigger = create_trigger(&app, &product, &[]).await;
    record(&app, "inbound_trigger.created", &trigger).await;
    let inbound_key = add_key(&app, &trigger, "Shop", "").await;
    secrets.push(inbound_key);
    assert!(record(&app, "inbound_trigger.key_added", &trigger)
        .await
        .detail
        .contains("Shop"));
    let key_id: i64 = sqlx::query_scalar("select id from inbound_trigger_keys where trigger_id = $1")
        .bind(&trigger)
        .fetch_one(&app.pool)
        .await
        .unwrap();
    app.post_form(&format!("/inbound/{trigger}/keys/{key_id}"), &[("label", "Web shop")])
        .await;
    record(&app, "inbound_trigger.key_renamed", &trigger).await;
    app.post_form(&format!("/inbound/{trigger}/keys/{key_id}/delete"), &[])
        .await;
    record(&app, "inbound_trigger.key_deleted", &trigger).await;
    let r = app
        .post_form(
            &format!("/inbound/{trigger}/edit"),
            &[
                ("name", "Renamed orders"),
                ("product", &product),
                ("object_class", "fulfillment_request"),
                ("max_wait", "5"),
            ],
        )
        .await;
    assert_eq!(r.status(), 303, "{}", r.text().await.unwrap_or_default());
    assert_eq!(
        change(&record(&app, "inbound_trigger.updated", &trigger).await, "Name").1,
        "Renamed orders"
    );
    for (path, action) in [
        ("disable", "inbound_trigger.disabled"),
        ("enable", "inbound_trigger.enabled"),
    ] {
        app.post_form(&format!("/inbound/{trigger}/{path}"), &[]).await;
        record(&app, action, &trigger).await;
    }
    app.post_form(&format!("/inbound/{trigger}/delete"), &[]).await;
    record(&app, "inbound_trigger.deleted", &trigger).await;

    // Finally: no record holds any secret, password, key or link.
    let all: Vec<String> = sqlx::query_scalar("select to_jsonb(a)::text from audit_records a")
        .fetch_all(&app.pool)
        .await
        .unwrap();
    assert!(all.len() > 30);
    for text in &all {
        for secret in &secrets {
            assert!(!text.contains(secret.as_str()), "a record holds a secret: {text}");
        }
    }
}

#[tokio::test]
async fn records_cannot_be_changed_or_removed_by_any_route_or_statement() {
    let app = spawn_app().await;
    app.login_admin().await;
    let (product, _) = plain_and_capable_products(&app).await;
    let hook = insert_webhook(&app, &app.vendor_account_id, &product, "Kept", true).await;
    app.post_form(&format!("/webhooks/{hook}/disable"), &[]).await;
    let before: Vec<String> = sqlx::query_scalar("select to_jsonb(a)::text from audit_records a order by id")
        .fetch_all(&app.pool)
        .await
        .unwrap();
    assert_eq!(before.len(), 1);
    let id: i64 = sqlx::query_scalar("select id from audit_records")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    for sql in [
        "update audit_records set actor_name = 'someone else'",
        "delete from audit_records",
        "truncate audit_records",
    ] {
        let e = sqlx::query(sql).execute(&app.pool).await.expect_err(sql);
        assert!(e.to_string().contains("cannot be changed or deleted"), "{sql}: {e}");
    }
    let csrf = app.csrf().await;
    for path in ["/audit", &format!("/audit/{id}"), &format!("/audit?id={id}")] {
        for method in [
            reqwest::Method::POST,
            reqwest::Method::PUT,
            reqwest::Method::DELETE,
            reqwest::Method::PATCH,
        ] {
            let r = app
                .client
                .request(method.clone(), app.url(path))
                .header("x-csrf-token", &csrf)
                .form(&[("csrf_token", csrf.as_str())])
                .send()
                .await
                .unwrap();
            assert!(
                matches!(r.status().as_u16(), 404 | 405),
                "{method} {path}: {}",
                r.status()
            );
        }
    }
    let page = app.get_html("/audit").await;
    assert_eq!(page.matches("action=\"/audit").count(), 1, "one form: the filters");
    assert!(page.contains("method=\"get\" action=\"/audit\""), "and it only reads");
    let after: Vec<String> = sqlx::query_scalar("select to_jsonb(a)::text from audit_records a order by id")
        .fetch_all(&app.pool)
        .await
        .unwrap();
    assert_eq!(before, after);
}

#[tokio::test]
async fn the_log_filters_pages_and_keeps_to_its_account_and_to_user_managers() {
    let app = spawn_app().await;
    app.login_admin().await;
    let (product, _) = plain_and_capable_products(&app).await;
    let one = insert_webhook(&app, &app.vendor_account_id, &product, "First hook", true).await;
    let two = insert_webhook(&app, &app.vendor_account_id, &product, "Second hook", true).await;
    // 60 reveals of one webhook, then a disable of the other: more than a page.
    for _ in 0..60 {
        app.get(&format!("/webhooks/{one}/http?reveal=1")).await;
    }
    app.post_form(&format!("/webhooks/{two}/disable"), &[]).await;

    let page = app.get_html("/audit").await;
    assert!(page.contains("Webhook disabled") && page.contains("Secret shown"));
    assert_eq!(page.matches("<tr id=\"audit-").count(), 50, "a page is 50 records");
    let older = page
        .split("rel=\"next\"")
        .next()
        .and_then(|s| s.rsplit("href=\"").next())
        .and_then(|s| s.split('"').next())
        .expect("an Older link")
        .replace("&amp;", "&");
    let page2 = app.get_html(&older).await;
    assert_eq!(page2.matches("<tr id=\"audit-").count(), 11);
    assert!(page2.contains("rel=\"prev\""), "a way back to the newest");

    // Each filter narrows.
    let disabled = app.get_html("/audit?action=webhook.disabled").await;
    assert_eq!(disabled.matches("<tr id=\"audit-").count(), 1);
    assert!(disabled.contains("Second hook"));
    let of_two = app.get_html(&format!("/audit?object={two}")).await;
    assert_eq!(of_two.matches("<tr id=\"audit-").count(), 1);
    let admin = admin_id(&app).await;
    let by_admin = app.get_html(&format!("/audit?who={admin}&kind=webhook")).await;
    assert_eq!(by_admin.matches("<tr id=\"audit-").count(), 50);
    let future = app.get_html("/audit?from=2999-01-01T00:00").await;
    assert!(future.contains("id=\"audit-empty\"") && future.contains("No records match"));
    let past = app.get_html("/audit?to=2000-01-01T00:00").await;
    assert!(past.contains("id=\"audit-empty\""));
    let today = app
        .get_html("/audit?from=2000-01-01T00:00&to=2999-01-01T00:00&action=webhook.disabled")
        .await;
    assert_eq!(today.matches("<tr id=\"audit-").count(), 1);
    for bad in [
        "/audit?action=webhook.exploded",
        "/audit?kind=planet",
        "/audit?from=yesterday",
        "/audit?before=-3",
    ] {
        assert_eq!(app.get(bad).await.status(), 400, "{bad}");
    }

    // The webhook's History tab: its own records only.
    let history = app.get_html(&format!("/webhooks/{two}/history")).await;
    assert_eq!(history.matches("<tr id=\"audit-").count(), 1);
    assert!(history.contains("Webhook disabled") && history.contains("Status"));
    let history = app.get_html(&format!("/webhooks/{one}/history")).await;
    assert!(history.contains("rel=\"next\""), "paged too");

    // Those who do not manage users, and other accounts, see nothing of it.
    let viewer = app.second_browser();
    viewer.login_viewer().await;
    assert_eq!(viewer.get("/audit").await.status(), 403);
    assert!(!viewer.get_html("/webhooks").await.contains("href=\"/audit\""));
    assert!(app.get_html("/webhooks").await.contains("href=\"/audit\""));
    let distributor = app.second_browser();
    distributor.login_distributor().await;
    let theirs = distributor.get_html("/audit").await;
    assert!(theirs.contains("Nothing recorded yet") && !theirs.contains("First hook"));
    assert_eq!(distributor.get(&format!("/webhooks/{two}/history")).await.status(), 404);
    tokio::time::sleep(Duration::from_millis(1)).await;
}
