//! Hostile input, crashes, busy tenants and a lost database: bounded parsing, errors in the
//! API's shape, the atomic sign-in throttle, outgoing calls that ignore proxy variables, crash
//! recovery within a minute, a fair share of the delivery slots, and a clear 503 while the
//! database is unreachable.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::common::handler::{eventually, stays, within, Behaviour, Handler};
use crate::common::process::Portal;
use crate::common::*;
use serde_json::{json, Value};

async fn api_key(app: &TestApp) -> String {
    app.login_admin().await;
    app.api_key("Hardening").await
}

#[tokio::test]
async fn deeply_nested_rql_is_refused_and_the_portal_keeps_serving() {
    let app = spawn_app().await;
    let key = api_key(&app).await;
    let client = reqwest::Client::new();
    let url = app.url("/public/v1/notifications/webhooks");
    // The validation message a filter is refused with.
    let refused = |query: String| {
        let request = client.get(format!("{url}?{query}")).header("Authorization", &key);
        async move {
            let r = request.send().await.unwrap();
            assert_eq!(r.status(), 400);
            let e: Value = r.json().await.unwrap();
            assert_eq!(e["error_code"], "VAL_001", "{e}");
            e["errors"][0].as_str().unwrap().to_string()
        }
    };
    for attack in ["(".repeat(5_000), "not(".repeat(10_000), "a=".repeat(1_000)] {
        let message = refused(attack).await;
        assert!(message.contains("nesting deeper than 32"), "{message}");
    }
    // Many long filters: the query string is bounded as a whole (the SQL it makes stays small).
    let list = format!("in(label,({}))", vec!["a"; 1_900].join(","));
    let message = refused([list.as_str(); 5].join("&")).await;
    assert!(message.contains("at most 16384 bytes"), "{message}");
    let message = refused(format!("eq(label,{})", "x".repeat(5_000))).await;
    assert!(message.contains("this one has 5010"), "{message}");
    // Still alive for everybody.
    let r = client.get(&url).header("Authorization", &key).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(app.get("/webhooks").await.status(), 200);
}

async fn json_error(r: reqwest::Response) -> (u16, Value) {
    let status = r.status().as_u16();
    let content_type = r
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    assert!(content_type.starts_with("application/json"), "{status}: {content_type}");
    let body: Value = r.json().await.unwrap();
    assert!(body["error_code"].as_str().is_some_and(|c| !c.is_empty()), "{body}");
    assert!(body["errors"][0].as_str().is_some(), "{body}");
    (status, body)
}

#[tokio::test]
async fn every_api_error_is_json_with_an_error_code() {
    let app = spawn_app().await;
    let key = api_key(&app).await;
    let client = reqwest::Client::new();
    let list = app.url("/public/v1/notifications/webhooks");

    let (status, body) = json_error(client.get(&list).send().await.unwrap()).await;
    assert_eq!((status, body["error_code"].as_str()), (401, Some("AUTH_001")));

    for path in [
        "/public/v1/nothing/here",
        "/public/v2/notifications/webhooks",
        "/public/",
    ] {
        let r = client
            .get(app.url(path))
            .header("Authorization", &key)
            .send()
            .await
            .unwrap();
        let (status, body) = json_error(r).await;
        assert_eq!((status, body["error_code"].as_str()), (404, Some("NFND_000")), "{path}");
    }

    let r = client.patch(&list).header("Authorization", &key).send().await.unwrap();
    assert!(r.headers().get("allow").is_some(), "405 says what is allowed");
    let (status, body) = json_error(r).await;
    assert_eq!(status, 405);
    assert!(body["errors"][0].as_str().unwrap().contains("PATCH"), "{body}");

    let huge = format!("{{\"label\": \"{}\"}}", "x".repeat(300 * 1024));
    let r = client
        .post(&list)
        .header("Authorization", &key)
        .header("content-type", "application/json")
        .body(huge)
        .send()
        .await
        .unwrap();
    let (status, body) = json_error(r).await;
    assert_eq!(status, 413);
    assert!(body["errors"][0].as_str().unwrap().contains("262144 bytes"), "{body}");

    // The inbound endpoint answers in the same shape: wrong method, a body over the limit.
    let (product, _) = plain_and_capable_products(&app).await;
    let r = app
        .post_form(
            "/inbound/new",
            &[
                ("name", "Shop"),
                ("product", &product),
                ("object_class", "fulfillment_request"),
                ("max_wait", "5"),
            ],
        )
        .await;
    let trigger = location(&r).trim_start_matches("/inbound/").to_string();
    let hook = app.url(&format!("/hooks/in/{trigger}"));
    let (status, _) = json_error(client.put(&hook).send().await.unwrap()).await;
    assert_eq!(status, 405);
    app.post_form(
        &format!("/inbound/{trigger}/keys"),
        &[("label", "Shop"), ("key", "shop-key-0123456789")],
    )
    .await;
    let r = client
        .post(&hook)
        .header("X-Api-Key", "shop-key-0123456789")
        .body(vec![0xff; 1024 * 1024 + 1])
        .send()
        .await
        .unwrap();
    let (status, _) = json_error(r).await;
    assert_eq!(status, 413);
    // Nothing was recorded by any of these.
    let webhooks: i64 = sqlx::query_scalar("select count(*) from webhooks")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    let messages: i64 = sqlx::query_scalar("select count(*) from inbound_messages")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!((webhooks, messages), (0, 0));
}

#[tokio::test]
async fn concurrent_wrong_passwords_are_each_counted() {
    let app = spawn_app().await;
    // 25 browsers, each with its sign-in form open.
    let mut browsers = Vec::new();
    for _ in 0..25 {
        let browser = app.second_browser();
        let csrf = csrf_from(&browser.get_html("/login").await).unwrap();
        browsers.push((browser, csrf));
    }
    let mut guesses = tokio::task::JoinSet::new();
    for (browser, csrf) in browsers {
        guesses.spawn(async move {
            browser
                .client
                .post(browser.url("/login"))
                .form(&[
                    ("csrf_token", csrf.as_str()),
                    ("email", ADMIN_EMAIL),
                    ("password", "a-wrong-guess"),
                ])
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        });
    }
    let mut statuses = Vec::new();
    while let Some(status) = guesses.join_next().await {
        statuses.push(status.unwrap());
    }
    let judged = statuses.iter().filter(|s| **s == 401).count();
    let refused = statuses.iter().filter(|s| **s == 429).count();
    assert_eq!(judged + refused, 25, "{statuses:?}");
    assert!(judged <= 5, "at most the limit of 5 guesses were checked: {statuses:?}");
    let recorded: i64 = sqlx::query_scalar("select count(*) from login_attempts where email = $1")
        .bind(ADMIN_EMAIL)
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(recorded as usize, judged);
    // The right password is refused too while throttled.
    assert_eq!(app.login(ADMIN_EMAIL, ADMIN_PASSWORD).await.status(), 429);
}

/// A forward proxy that records every request head it gets and answers 200 itself.
async fn recording_proxy() -> (String, std::sync::Arc<std::sync::Mutex<Vec<String>>>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let log = seen.clone();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let log = log.clone();
            tokio::spawn(async move {
                let mut head = vec![0u8; 8192];
                let n = socket.read(&mut head).await.unwrap_or(0);
                log.lock().unwrap().push(
                    String::from_utf8_lossy(&head[..n])
                        .lines()
                        .next()
                        .unwrap_or("")
                        .to_string(),
                );
                let _ = socket
                    .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 7\r\nconnection: close\r\n\r\nproxied")
                    .await;
            });
        }
    });
    (url, seen)
}

#[tokio::test]
async fn outgoing_calls_ignore_proxy_variables() {
    let app = spawn_app_with(&[("PORTAL_DELIVERY_ENABLED", "false")]).await;
    let handler = Handler::start().await;
    let (proxy, proxied) = recording_proxy().await;
    // `localhost` resolves to a loopback address, which the policy forbids: through a proxy
    // (which resolves names itself) the call would get there anyway.
    let private = webhook_calling(
        &app,
        &format!("http://localhost:{}/private", handler.addr.port()),
        "POST",
        json!([]),
        json!({}),
    )
    .await;
    let mut settings: Vec<(&str, &str)> = FAST_DELIVERY
        .iter()
        .copied()
        .filter(|(k, _)| *k != "PORTAL_ENDPOINT_ALLOWLIST")
        .collect();
    for var in [
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "ALL_PROXY",
        "http_proxy",
        "https_proxy",
        "all_proxy",
    ] {
        settings.push((var, proxy.as_str()));
    }
    let _portal = Portal::start(&app.database.url, &settings);
    queue_changes(&app.pool, &private, 1).await;
    eventually("the blocked call is recorded", || async {
        stats(&app.pool, &private).await.failure_triggers == 1
    })
    .await;
    let error_kind: Option<String> =
        sqlx::query_scalar("select error_kind from webhook_attempts where webhook_id = $1")
            .bind(&private)
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(error_kind.as_deref(), Some("blocked"));
    assert!(proxied.lock().unwrap().is_empty(), "{:?}", proxied.lock().unwrap());
    assert_eq!(handler.count(), 0);
}

#[tokio::test]
async fn a_killed_process_gives_its_call_back_within_a_minute_whatever_the_request_timeout() {
    let app = spawn_app_with(&[("PORTAL_DELIVERY_ENABLED", "false")]).await;
    let handler = Handler::start().await;
    handler.set(Behaviour {
        delay: Duration::from_secs(600),
        ..Default::default()
    });
    let id = webhook_calling(&app, &handler.url("/hook"), "POST", json!([]), json!({})).await;
    // The default request timeout (5 minutes) and lease stay in force.
    let settings = [
        ("PORTAL_ENDPOINT_ALLOWLIST", "127.0.0.0/8"),
        ("PORTAL_DELIVERY_POLL_MS", "500"),
    ];
    let first = Portal::start(&app.database.url, &settings);
    queue_changes(&app.pool, &id, 1).await;
    handler.wait_for(1).await;
    first.kill_9();
    let killed_at = Instant::now();
    handler.set(Behaviour::default());
    let _second = Portal::start(&app.database.url, &settings);
    within(
        Duration::from_secs(60),
        "the call is made again after the crash",
        || async { handler.count() >= 2 },
    )
    .await;
    eventually("the call is recorded", || async {
        stats(&app.pool, &id).await.success_triggers == 1
    })
    .await;
    println!("called again {:?} after kill -9", killed_at.elapsed());
    stays(
        Duration::from_millis(500),
        "once before the crash, once after",
        || async { handler.count() == 2 },
    )
    .await;
    let s = stats(&app.pool, &id).await;
    assert_eq!(
        (s.events, s.triggers, s.success_triggers, s.failure_triggers),
        (1, 1, 1, 0)
    );
}

/// One endpoint host shared by many: `/hung/…` never answers, `/ok` answers at once.
/// Returns its base URL, the number of hung calls and of answered calls.
async fn shared_host() -> (String, Arc<AtomicUsize>, Arc<AtomicUsize>) {
    let hanging = Arc::new(AtomicUsize::new(0));
    let answered = Arc::new(AtomicUsize::new(0));
    let (h, a) = (hanging.clone(), answered.clone());
    let app = axum::Router::new()
        .route(
            "/hung/{n}",
            axum::routing::any(move || {
                let h = h.clone();
                async move {
                    h.fetch_add(1, Ordering::SeqCst);
                    tokio::time::sleep(Duration::from_secs(600)).await;
                    "late"
                }
            }),
        )
        .route(
            "/ok",
            axum::routing::any(move || {
                let a = a.clone();
                async move {
                    a.fetch_add(1, Ordering::SeqCst);
                    "ok"
                }
            }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (base, hanging, answered)
}

async fn point(app: &TestApp, id: &str, url: &str) {
    sqlx::query("update webhooks set external_url = $2 where id = $1")
        .bind(id)
        .bind(url)
        .execute(&app.pool)
        .await
        .unwrap();
}

#[tokio::test]
async fn hung_endpoints_of_one_account_leave_room_for_another() {
    let (shared, hanging, answered) = shared_host().await;
    let elsewhere = Handler::start().await;
    let app = spawn_app_with(&[
        ("PORTAL_ENDPOINT_ALLOWLIST", "127.0.0.0/8"),
        ("PORTAL_DELIVERY_CONCURRENCY", "8"),
        ("PORTAL_REQUEST_TIMEOUT_MS", "120000"),
    ])
    .await;
    let (product, _) = plain_and_capable_products(&app).await;
    // Account A: 40 webhooks whose endpoints (on a host others use too) never answer.
    let mut stuck = Vec::new();
    for n in 0..40 {
        let id = insert_webhook(&app, &app.vendor_account_id, &product, &format!("Hung {n}"), true).await;
        point(&app, &id, &format!("{shared}/hung/{n}")).await;
        stuck.push(id);
    }
    queue_change_each(&app.pool, &stuck).await;
    // A's calls fill every slot.
    within(Duration::from_secs(20), "A's calls fill the 8 slots", || async {
        hanging.load(Ordering::SeqCst) >= 8
    })
    .await;

    // Account B's webhook on the same host fires: its call must not wait for A's.
    let other = insert_webhook(&app, &app.distributor_account_id, &product, "Other account", true).await;
    point(&app, &other, &format!("{shared}/ok")).await;
    let fired = Instant::now();
    queue_changes(&app.pool, &other, 1).await;
    within(Duration::from_secs(5), "account B's call arrives", || async {
        answered.load(Ordering::SeqCst) == 1
    })
    .await;
    println!(
        "B called {:?} after its event, with {} of A's calls hanging",
        fired.elapsed(),
        hanging.load(Ordering::SeqCst)
    );

    // A's own webhook on another host is not held up by A's broken one either.
    let healthy = insert_webhook(&app, &app.vendor_account_id, &product, "A, other host", true).await;
    point(&app, &healthy, &elsewhere.url("/a")).await;
    queue_changes(&app.pool, &healthy, 1).await;
    within(
        Duration::from_secs(5),
        "A's call to its healthy host arrives",
        || async { elsewhere.count() == 1 },
    )
    .await;
    // A holds no more than its share on the host: the concurrency (8) in flight.
    stays(
        Duration::from_millis(1500),
        "A has 8 calls in flight to the hung host",
        || async { hanging.load(Ordering::SeqCst) == 8 },
    )
    .await;
}

#[tokio::test]
async fn slow_calls_of_many_accounts_never_hold_up_the_rest() {
    // Concurrency 1: one starting call, a backlog of 4 calls awaiting their record, and each
    // account up to 2 calls in flight. Three accounts with hung endpoints on two hosts each
    // hold 6 slow calls, more than the backlog: slow calls must not keep places in it.
    let hosts = [shared_host().await, shared_host().await];
    let healthy = Handler::start().await;
    let app = spawn_app_with(&[
        ("PORTAL_ENDPOINT_ALLOWLIST", "127.0.0.0/8"),
        ("PORTAL_DELIVERY_CONCURRENCY", "1"),
        ("PORTAL_REQUEST_TIMEOUT_MS", "120000"),
    ])
    .await;
    let (product, _) = plain_and_capable_products(&app).await;
    let mut stuck = Vec::new();
    for account in ["VA-900-001", "VA-900-002", "VA-900-003"] {
        sqlx::query("insert into accounts (id, name, kind) values ($1, $1, 'vendor')")
            .bind(account)
            .execute(&app.pool)
            .await
            .unwrap();
        for (n, (base, _, _)) in hosts.iter().enumerate() {
            let id = insert_webhook(&app, account, &product, &format!("Hung {account} {n}"), true).await;
            point(&app, &id, &format!("{base}/hung/{n}")).await;
            stuck.push(id);
        }
    }
    queue_change_each(&app.pool, &stuck).await;
    let hanging = || hosts.iter().map(|(_, h, _)| h.load(Ordering::SeqCst)).sum::<usize>();
    within(Duration::from_secs(20), "all six hung calls are made", || async {
        hanging() == 6
    })
    .await;

    let other = insert_webhook(&app, &app.vendor_account_id, &product, "Healthy", true).await;
    point(&app, &other, &healthy.url("/hook")).await;
    queue_changes(&app.pool, &other, 1).await;
    within(Duration::from_secs(5), "the healthy webhook's call arrives", || async {
        healthy.count() == 1
    })
    .await;
    eventually("its call is recorded", || async {
        stats(&app.pool, &other).await.success_triggers == 1
    })
    .await;
}

async fn admin_pool() -> sqlx::PgPool {
    sqlx::PgPool::connect(&format!("{}/postgres", server_url()))
        .await
        .unwrap()
}

/// Makes the test's database refuse connections and drops the ones open; never touches the
/// shared server.
async fn cut_off(admin: &sqlx::PgPool, database: &str, allow: bool) {
    sqlx::query(&format!("alter database \"{database}\" allow_connections {allow}"))
        .execute(admin)
        .await
        .unwrap();
    if !allow {
        sqlx::query("select pg_terminate_backend(pid) from pg_stat_activity where datname = $1")
            .bind(database)
            .execute(admin)
            .await
            .unwrap();
    }
}

#[tokio::test]
async fn an_unreachable_database_answers_503_quickly_and_service_resumes_by_itself() {
    let handler = Handler::start().await;
    let app = spawn_app_with(&FAST_DELIVERY).await;
    let key = api_key(&app).await;
    let hook = webhook_calling(&app, &handler.url("/hook"), "POST", json!([]), json!({})).await;
    let database = app.database.name().to_string();
    let admin = admin_pool().await;
    let signed_out = app.second_browser();

    cut_off(&admin, &database, false).await;
    let quick = Duration::from_secs(5);
    for (browser, path) in [(&signed_out, "/login"), (&app, "/webhooks"), (&app, "/products")] {
        let r = tokio::time::timeout(quick, browser.get(path))
            .await
            .unwrap_or_else(|_| panic!("{path} answered within 5 s"));
        assert_eq!(r.status(), 503, "{path}");
        assert!(r.headers().get("retry-after").is_some());
        let html = r.text().await.unwrap();
        assert!(html.contains("Database unavailable"), "{path}: {html}");
        assert!(html.contains("/static/app.css"), "a styled page: {html}");
    }
    let r = tokio::time::timeout(
        quick,
        reqwest::Client::new()
            .get(app.url("/public/v1/notifications/webhooks"))
            .header("Authorization", &key)
            .send(),
    )
    .await
    .expect("the API answers within 5 s")
    .unwrap();
    let (status, body) = json_error(r).await;
    assert_eq!((status, body["error_code"].as_str()), (503, Some("SYS_002")));
    let r = tokio::time::timeout(quick, app.get("/healthz")).await.unwrap();
    assert_eq!(r.status(), 503);
    assert_eq!(r.json::<Value>().await.unwrap()["database"], "unreachable");
    // The delivery task waits meanwhile.
    tokio::time::sleep(Duration::from_secs(2)).await;

    cut_off(&admin, &database, true).await;
    let back = Instant::now();
    within(Duration::from_secs(10), "pages answer again", || async {
        app.get("/webhooks").await.status() == 200
    })
    .await;
    println!("service resumed {:?} after the database came back", back.elapsed());
    assert_eq!(signed_out.get("/login").await.status(), 200);
    assert_eq!(app.get("/healthz").await.status(), 200);
    // Delivery resumed too: an event now is called exactly once.
    queue_changes(&app.pool, &hook, 1).await;
    handler.wait_for(1).await;
    eventually("recorded", || async {
        stats(&app.pool, &hook).await.success_triggers == 1
    })
    .await;
    stays(Duration::from_millis(500), "called once", || async {
        handler.count() == 1
    })
    .await;
}

#[tokio::test]
async fn a_call_in_flight_when_the_database_goes_away_is_recorded_once_when_it_returns() {
    let handler = Handler::start().await;
    handler.set(Behaviour {
        delay: Duration::from_millis(1500),
        ..Default::default()
    });
    let mut settings = FAST_DELIVERY.to_vec();
    settings.retain(|(k, _)| *k != "PORTAL_REQUEST_TIMEOUT_MS");
    settings.push(("PORTAL_REQUEST_TIMEOUT_MS", "10000"));
    let app = spawn_app_with(&settings).await;
    let hook = webhook_calling(&app, &handler.url("/hook"), "POST", json!([]), json!({})).await;
    let database = app.database.name().to_string();
    let admin = admin_pool().await;
    queue_changes(&app.pool, &hook, 1).await;
    handler.wait_for(1).await;
    // The call is in flight; the database goes away for a few seconds.
    cut_off(&admin, &database, false).await;
    tokio::time::sleep(Duration::from_secs(5)).await;
    cut_off(&admin, &database, true).await;
    eventually("the call is recorded", || async {
        sqlx::query_scalar::<_, i64>("select success_triggers from webhooks where id = $1")
            .bind(&hook)
            .fetch_one(&app.pool)
            .await
            .is_ok_and(|n| n == 1)
    })
    .await;
    stays(Duration::from_secs(3), "never called twice", || async {
        handler.count() == 1
    })
    .await;
    let s = stats(&app.pool, &hook).await;
    assert_eq!(
        (s.events, s.triggers, s.success_triggers, s.failure_triggers),
        (1, 1, 1, 0)
    );
    let left: i64 = sqlx::query_scalar("select count(*) from webhook_triggers")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(left, 0);
}

#[tokio::test]
async fn an_over_long_name_states_the_limit_and_its_length_and_keeps_the_text() {
    let app = spawn_app().await;
    app.login_admin().await;
    let long = "n".repeat(10_000);
    app.get("/webhooks/new").await;
    let html = app
        .post_form(
            "/webhooks/new/general",
            &[("name", &long), ("description", ""), ("action", "next")],
        )
        .await
        .text()
        .await
        .unwrap();
    assert!(html.contains("Use at most 128 characters (this has 10000)."), "{html}");
    assert!(html.contains(&long), "the typed name is kept");
    let id = insert_webhook(
        &app,
        &app.vendor_account_id,
        &plain_and_capable_products(&app).await.0,
        "Short",
        true,
    )
    .await;
    let html = app
        .post_form(
            &format!("/webhooks/{id}/edit/general"),
            &[("name", &long), ("description", "")],
        )
        .await
        .text()
        .await
        .unwrap();
    assert!(html.contains("Use at most 128 characters (this has 10000)."), "{html}");
    assert!(html.contains(&long));
    let label: String = sqlx::query_scalar("select label from webhooks where id = $1")
        .bind(&id)
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(label, "Short", "nothing saved");
}

mod fuzz {
    //! Property tests: whatever a token holder or a signed-in admin sends (RQL filters, JSON
    //! bodies, form bodies), the answer is 2xx, 3xx or 4xx: never a 5xx, never a crash.

    use std::cell::RefCell;
    use std::collections::BTreeMap;

    use super::*;
    use proptest::prelude::*;
    use proptest::test_runner::{Config, TestRunner};

    fn rql() -> impl Strategy<Value = String> {
        let words = prop::sample::select(vec![
            "(",
            ")",
            ",",
            "=",
            "not(",
            "and(",
            "or(",
            "eq(",
            "ne(",
            "in(",
            "out(",
            "like(",
            "ilike(",
            "label",
            "active",
            "type",
            "product.id",
            "true",
            "*x*",
            "null()",
            "empty()",
            "ordering(",
            "-created_at",
            "select(",
            "%28",
            "%",
            "&",
            "limit=",
            "offset=",
            "search=",
            "\u{0}",
            "é",
        ]);
        // Valid filters among the noise, so that the answers are sure to include a 200 (the
        // requests really reach the list) however the random ones fall.
        let valid = prop::sample::select(vec![
            "eq(active,true)",
            "ilike(label,*x*)",
            "ordering(-created_at)",
            "limit=5&offset=1",
            "and(eq(active,true),ne(type,x))",
            "select(id)&eq(product.name,x)",
        ])
        .prop_map(str::to_string);
        prop_oneof![
            1 => valid,
            1 => prop::collection::vec(words, 0..60).prop_map(|w| w.concat()),
            1 => any::<String>(),
            1 => (
                1usize..3000,
                prop::sample::select(vec!["(", "not(", "a=", "and(eq(a,b),"])
            )
                .prop_map(|(n, w)| w.repeat(n)),
        ]
    }

    fn json() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::from),
            any::<i64>().prop_map(Value::from),
            any::<f64>().prop_map(|f| serde_json::Number::from_f64(f)
                .map(Value::Number)
                .unwrap_or(Value::Null)),
            any::<String>().prop_map(Value::from),
            prop::sample::select(vec![
                "https://handler.example.com/h",
                "GET",
                "POST",
                "PRD-1",
                "event",
                ""
            ])
            .prop_map(Value::from),
        ];
        let keys = prop::sample::select(vec![
            "label",
            "description",
            "active",
            "external_url",
            "jwt_secret",
            "http_method",
            "headers",
            "data",
            "product",
            "type",
            "object_class",
            "id",
            "x",
        ]);
        leaf.prop_recursive(6, 64, 8, move |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..8).prop_map(Value::Array),
                prop::collection::vec((keys.clone(), inner), 0..8)
                    .prop_map(|kv| Value::Object(kv.into_iter().map(|(k, v)| (k.to_string(), v)).collect())),
            ]
        })
    }

    fn form() -> impl Strategy<Value = Vec<(String, String)>> {
        let keys = prop::sample::select(vec![
            "name",
            "description",
            "enabled",
            "product_id",
            "type",
            "external_url",
            "jwt_secret",
            "http_method",
            "header_name",
            "header_value",
            "data",
            "action",
            "product",
            "object_class",
            "max_wait",
            "params",
            "label",
            "key",
            "kind",
            "status",
            "ordered",
            "request_response",
            "rate_limit",
        ]);
        let values = prop_oneof![
            any::<String>(),
            prop::sample::select(vec![
                "next",
                "back",
                "add_header",
                "remove_header_0",
                "regenerate_secret",
                "on",
                "GET",
                "POST",
                "{}",
                "[1]",
                "http://127.0.0.1/"
            ])
            .prop_map(str::to_string),
            (1usize..20_000).prop_map(|n| "x".repeat(n)),
        ];
        prop::collection::vec((keys.prop_map(str::to_string), values), 0..12)
    }

    fn config(cases: u32) -> Config {
        Config {
            cases,
            failure_persistence: None,
            ..Config::default()
        }
    }

    /// Sends `cases` random inputs with `send` (the status, or `None` when the client could not
    /// even build the request) and checks that none is answered with a 5xx; returns how many
    /// answers of each status came back.
    fn never_a_5xx<S>(cases: u32, strategy: S, send: impl Fn(&S::Value) -> Option<u16>) -> BTreeMap<u16, usize>
    where
        S: Strategy,
        S::Value: std::fmt::Debug,
    {
        let seen = RefCell::new(BTreeMap::new());
        TestRunner::new(config(cases))
            .run(&strategy, |input| {
                if let Some(status) = send(&input) {
                    prop_assert!(status < 500, "{input:?} answered {status}");
                    *seen.borrow_mut().entry(status).or_default() += 1;
                }
                Ok(())
            })
            .unwrap();
        seen.into_inner()
    }

    #[test]
    fn any_input_is_answered_without_a_server_error() {
        let runtime = tokio::runtime::Runtime::new().unwrap();
        let (app, key, webhook, product, trigger) = runtime.block_on(async {
            let app = spawn_app().await;
            let key = api_key(&app).await;
            let (product, _) = plain_and_capable_products(&app).await;
            let webhook = insert_webhook(&app, &app.vendor_account_id, &product, "Fuzzed", true).await;
            let r = app
                .post_form(
                    "/inbound/new",
                    &[
                        ("name", "Fuzz"),
                        ("product", &product),
                        ("object_class", "fulfillment_request"),
                        ("max_wait", "5"),
                    ],
                )
                .await;
            let trigger = location(&r).trim_start_matches("/inbound/").to_string();
            (app, key, webhook, product, trigger)
        });
        let api = reqwest::Client::new();
        let list = app.url("/public/v1/notifications/webhooks");
        let item = format!("{list}/{webhook}");
        let status = |request: reqwest::RequestBuilder| {
            runtime.block_on(async { request.send().await.ok().map(|r| r.status().as_u16()) })
        };

        let answers = never_a_5xx(96, rql(), |filter| {
            status(api.get(format!("{list}?{filter}")).header("Authorization", &key))
        });
        println!("RQL answers by status: {answers:?}");
        assert!(answers.contains_key(&200) && answers.contains_key(&400), "{answers:?}");

        never_a_5xx(96, (json(), any::<bool>()), |(body, create)| {
            let request = if *create { api.post(&list) } else { api.put(&item) };
            status(request.header("Authorization", &key).json(body))
        });
        never_a_5xx(48, prop::collection::vec(any::<u8>(), 0..2048), |bytes| {
            status(
                api.post(&list)
                    .header("Authorization", &key)
                    .header("content-type", "application/json")
                    .body(bytes.clone()),
            )
        });

        let forms = [
            "/webhooks/new/general".to_string(),
            "/webhooks/new/product".to_string(),
            "/webhooks/new/type".to_string(),
            "/webhooks/new/http".to_string(),
            "/webhooks/new/data".to_string(),
            format!("/webhooks/{webhook}/edit/general"),
            format!("/webhooks/{webhook}/edit/http"),
            format!("/webhooks/{webhook}/edit/data"),
            "/tokens".to_string(),
            "/inbound/new".to_string(),
            format!("/inbound/{trigger}/edit"),
            format!("/inbound/{trigger}/keys"),
            format!("/products/{product}/requests"),
        ];
        let csrf = runtime.block_on(async {
            app.get("/webhooks/new").await;
            app.csrf().await
        });
        let answers = never_a_5xx(160, (prop::sample::select(forms.to_vec()), form()), |(path, fields)| {
            let mut fields = fields.clone();
            fields.push(("csrf_token".to_string(), csrf.clone()));
            status(app.client.post(app.url(path)).form(&fields))
        });
        // The forms were really judged (not all stopped at the CSRF check).
        println!("form answers by status: {answers:?}");
        assert!(answers.keys().any(|s| [200, 303, 422].contains(s)), "{answers:?}");
        // Still serving.
        runtime.block_on(async {
            assert_eq!(app.get("/webhooks").await.status(), 200);
        });
    }
}

#[tokio::test]
async fn a_rate_limit_is_set_in_the_forms_and_the_api_and_the_dispatcher_keeps_to_it() {
    let handler = Handler::start().await;
    let app = spawn_app_with(&FAST_DELIVERY).await;
    app.login_admin().await;
    let id = webhook_calling(&app, &handler.url("/limited"), "POST", json!([]), json!({})).await;
    let http = |rate: &'static str| {
        vec![
            ("external_url", "https://new.example.com/"),
            ("jwt_secret", "JWT-a-long-enough-secret-1234"),
            ("http_method", "POST"),
            ("rate_limit", rate),
            ("action", "save"),
        ]
    };
    // Bad values are refused next to the field and nothing is saved.
    for bad in ["0", "1001", "two", "-3"] {
        let r = app.post_form(&format!("/webhooks/{id}/edit/http"), &http(bad)).await;
        assert_eq!(r.status(), 422, "{bad}");
        let html = r.text().await.unwrap();
        assert!(html.contains("from 1 to 1000"), "{html}");
        assert!(html.contains("aria-invalid=\"true\""));
    }
    let r = app.post_form(&format!("/webhooks/{id}/edit/http"), &http("2")).await;
    assert_eq!(r.status(), 303);
    let tab = app.get_html(&format!("/webhooks/{id}/http")).await;
    assert!(
        text_of(&tab).contains("At most 2 calls per second"),
        "{}",
        text_of(&tab)
    );

    // The API reads and writes it.
    let key = app.api_key("Rate").await;
    let api = reqwest::Client::new();
    let item = app.url(&format!("/public/v1/notifications/webhooks/{id}"));
    let got: Value = api
        .get(&item)
        .header("Authorization", &key)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(got["rate_limit"], 2);
    let r = api
        .put(&item)
        .header("Authorization", &key)
        .json(&json!({"rate_limit": 0}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let r = api
        .put(&item)
        .header("Authorization", &key)
        .json(&json!({"rate_limit": null, "external_url": handler.url("/limited")}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.json::<Value>().await.unwrap()["rate_limit"], Value::Null);
    let r = api
        .put(&item)
        .header("Authorization", &key)
        .json(&json!({"rate_limit": 2}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);

    // Five messages wait for the webhook: they are called no faster than 2 per second.
    sqlx::query(
        "with m as (insert into inbound_messages (method) select 'POST' from generate_series(1, 5) returning id)
         insert into webhook_triggers (webhook_id, state, due_at, message_id) select $1, 'pending', now(), id from m",
    )
    .bind(&id)
    .execute(&app.pool)
    .await
    .unwrap();
    let calls = handler.wait_for(5).await;
    for pair in calls.windows(2) {
        let gap = pair[1].at.duration_since(pair[0].at);
        assert!(gap >= Duration::from_millis(450), "calls {gap:?} apart");
    }
}

#[tokio::test]
async fn the_wizard_takes_an_optional_rate_limit() {
    let app = spawn_app().await;
    app.login_admin().await;
    let (product, _) = plain_and_capable_products(&app).await;
    app.get("/webhooks/new").await;
    for (step, fields) in [
        (
            "general",
            vec![("name", "Limited"), ("description", ""), ("action", "next")],
        ),
        ("product", vec![("product_id", product.as_str()), ("action", "next")]),
        ("type", vec![("type", "listing_request"), ("action", "next")]),
    ] {
        assert_eq!(
            app.post_form(&format!("/webhooks/new/{step}"), &fields).await.status(),
            303
        );
    }
    let http = |rate: &'static str| {
        vec![
            ("external_url", "https://handler.example.com/hook"),
            ("jwt_secret", "JWT-a-long-enough-secret-1234"),
            ("http_method", "POST"),
            ("rate_limit", rate),
            ("action", "next"),
        ]
    };
    let r = app.post_form("/webhooks/new/http", &http("fast")).await;
    assert_eq!(r.status(), 422);
    let html = r.text().await.unwrap();
    assert!(html.contains("from 1 to 1000"), "{html}");
    assert!(html.contains("value=\"fast\""), "what was typed is kept");
    assert_eq!(app.post_form("/webhooks/new/http", &http("5")).await.status(), 303);
    let r = app
        .post_form("/webhooks/new/data", &[("data", "{}"), ("action", "create")])
        .await;
    let id = location(&r).trim_start_matches("/webhooks/").to_string();
    let rate: Option<i32> = sqlx::query_scalar("select rate_limit from webhooks where id = $1")
        .bind(&id)
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(rate, Some(5));
}
