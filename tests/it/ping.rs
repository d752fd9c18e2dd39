//! Send test ping: the seed's ping payload, wrapped with md5, with the webhook's settings and
//! token; 200 leaves the webhook as it was, anything else disables it and says why; the call
//! is listed as a test and counted in no statistics.

use std::time::Duration;

use serde_json::Value;

use crate::common::handler::{verified_claims, Behaviour, Handler};
use crate::common::*;

/// Presses "Send test ping" and waits for the panel to show the answer; returns its text.
async fn ping(app: &TestApp, id: &str) -> String {
    let r = app.post_form(&format!("/webhooks/{id}/ping"), &[]).await;
    assert_eq!(r.status(), 303, "back to the details page");
    let page = app.get_html(&format!("/webhooks/{id}")).await;
    assert!(page.contains("id=\"ping-result\""), "the page shows the ping panel");
    let until = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        let shown = text_of(&app.get_html(&format!("/webhooks/{id}/ping")).await);
        if !shown.contains("Sending test ping") {
            return shown;
        }
        assert!(std::time::Instant::now() < until, "no answer shown: {shown}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn active(app: &TestApp, id: &str) -> bool {
    sqlx::query_scalar("select active from webhooks where id = $1")
        .bind(id)
        .fetch_one(&app.pool)
        .await
        .unwrap()
}

#[tokio::test]
async fn a_ping_answered_200_leaves_the_webhook_as_it_was_and_counts_nothing() {
    let handler = Handler::start().await;
    let app = spawn_app_with(&FAST_DELIVERY).await;
    app.login_admin().await;
    let id = webhook_calling(
        &app,
        &handler.url("/ping"),
        "POST",
        serde_json::json!([]),
        serde_json::json!({}),
    )
    .await;
    let before = stats(&app.pool, &id).await;

    let shown = ping(&app, &id).await;
    assert!(shown.contains("Test ping: 200"), "{shown}");
    assert!(active(&app, &id).await, "still enabled");
    assert_eq!(stats(&app.pool, &id).await, before, "a ping is in no statistics");

    let call = handler.wait_for(1).await.remove(0);
    assert_eq!(call.method, "POST");
    let claims = verified_claims(&call.headers, WEBHOOK_SECRET);
    assert_eq!(claims["webhook_id"], id.as_str(), "the webhook's token");
    // Always wrapped: {"payload":{"type":"ping","epoch_timestamp":…},"md5":"…"}.
    let raw = call.body.to_vec();
    let body: Value = serde_json::from_slice(&raw).unwrap();
    assert_eq!(body["payload"]["type"], "ping");
    assert!(body["payload"]["epoch_timestamp"].as_i64().unwrap() > 1_700_000_000);
    use md5::{Digest, Md5};
    let digest: String = Md5::digest(&raw[11..raw.len() - 42])
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(body["md5"], digest);

    let deliveries = text_of(&app.get_html(&format!("/webhooks/{id}/deliveries")).await);
    assert!(deliveries.contains("Test ping"), "listed as a test: {deliveries}");
    let pending: i64 = sqlx::query_scalar("select count(*) from webhook_triggers where webhook_id = $1")
        .bind(&id)
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(pending, 0, "nothing scheduled");
}

#[tokio::test]
async fn a_ping_not_answered_200_disables_the_webhook_and_says_why() {
    let handler = Handler::start().await;
    let app = spawn_app_with(&FAST_DELIVERY).await;
    app.login_admin().await;
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}/nobody", l.local_addr().unwrap())
    };
    let cases: [(Behaviour, Option<String>, &str); 4] = [
        (
            Behaviour {
                status: 201,
                ..Behaviour::default()
            },
            None,
            "HTTP 201: a test ping must be answered with 200",
        ),
        (
            Behaviour {
                status: 500,
                ..Behaviour::default()
            },
            None,
            "HTTP 500",
        ),
        (
            Behaviour {
                delay: Duration::from_secs(3),
                ..Behaviour::default()
            },
            None,
            "no response within the request timeout",
        ),
        (Behaviour::default(), Some(closed), "connection refused"),
    ];
    for (behaviour, url, reason) in cases {
        handler.set(behaviour);
        let url = url.unwrap_or_else(|| handler.url("/ping"));
        let id = webhook_calling(&app, &url, "PUT", serde_json::json!([]), serde_json::json!({})).await;
        assert!(active(&app, &id).await);
        let shown = ping(&app, &id).await;
        assert!(
            shown.contains("Test ping failed") && shown.contains(reason),
            "{reason}: {shown}"
        );
        assert!(shown.contains("A failed test ping disables the webhook"), "{shown}");
        assert!(!active(&app, &id).await, "{reason}: disabled");
        let chip = text_of(&app.get_html(&format!("/webhooks/{id}")).await);
        assert!(chip.contains("Disabled"), "the page says so");
        assert_eq!(stats(&app.pool, &id).await.triggers, 0, "no statistics");
    }
    handler.set(Behaviour::default());
}
