//! The loop of the Connect article: a queue change fires the webhook, the handler verifies the
//! token, pulls the pending requests through the API and approves them.

use std::sync::{Arc, Mutex};

use crate::common::handler::{eventually, verified_claims};
use crate::common::*;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::Router;
use serde_json::{json, Value};

#[derive(Clone, Default)]
struct Seen {
    calls: Arc<Mutex<u32>>,
    approved: Arc<Mutex<Vec<String>>>,
    api_key: Arc<Mutex<String>>,
}

/// The handler of the article: check the token, pull `status=pending` for the product,
/// approve each request.
async fn handle(State(seen): State<Seen>, headers: HeaderMap, body: Bytes) -> &'static str {
    let claims = verified_claims(&headers, WEBHOOK_SECRET);
    let payload: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(payload["webhook_id"], claims["webhook_id"]);
    *seen.calls.lock().unwrap() += 1;
    let api = claims["api_url"].as_str().unwrap().to_string();
    let product = claims["product_id"].as_str().unwrap().to_string();
    let key = seen.api_key.lock().unwrap().clone();
    let client = reqwest::Client::new();
    let pending: Vec<Value> = client
        .get(format!("{api}requests?status=pending&product_id={product}"))
        .header("Authorization", &key)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    for request in pending {
        let id = request["id"].as_str().unwrap().to_string();
        let r = client
            .post(format!("{api}requests/{id}/approve"))
            .header("Authorization", &key)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        seen.approved.lock().unwrap().push(id);
    }
    "ok"
}

#[tokio::test]
async fn a_queue_change_fires_the_webhook_and_the_handler_approves_through_the_api() {
    let app = spawn_app_with(&FAST_DELIVERY).await;
    app.login_admin().await;
    let key = app.api_key("Handler").await;

    let seen = Seen::default();
    *seen.api_key.lock().unwrap() = key;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    let router = Router::new().fallback(handle).with_state(seen.clone());
    tokio::spawn(async move { axum::serve(listener, router).await });

    let id = webhook_calling(&app, &url, "POST", json!([]), json!({})).await;
    let product: String = sqlx::query_scalar("select product_id from webhooks where id = $1")
        .bind(&id)
        .fetch_one(&app.pool)
        .await
        .unwrap();
    // A test purchase request lands in the product's fulfillment queue.
    let request = create_request(
        &app,
        &app.vendor_account_id,
        &product,
        "fulfillment_request",
        "purchase",
        "pending",
        json!([{"id": "seats", "value": "10"}]),
    )
    .await;

    eventually("the handler approved the request", || async {
        seen.approved.lock().unwrap().len() == 1
    })
    .await;
    assert_eq!(seen.approved.lock().unwrap()[0], request.id);
    let status: String = sqlx::query_scalar("select status from requests where id = $1")
        .bind(&request.id)
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(status, "approved");
    // The approval is a queue change too: a second call, which finds nothing pending.
    eventually("two successful calls", || async {
        stats(&app.pool, &id).await.success_triggers == 2
    })
    .await;
    let s = stats(&app.pool, &id).await;
    assert_eq!((s.events, s.triggers, s.success_triggers), (2, 2, 2));
    assert_eq!(*seen.calls.lock().unwrap(), 2);
    let sources: Vec<(String, Option<String>)> =
        sqlx::query_as("select source, object_id from webhook_events where webhook_id = $1 order by id")
            .bind(&id)
            .fetch_all(&app.pool)
            .await
            .unwrap();
    assert_eq!(
        sources,
        vec![("queue_change".to_string(), Some(request.id.to_string())); 2]
    );
}

#[tokio::test]
async fn the_requests_api_filters_pages_and_guards_transitions() {
    let app = spawn_app().await;
    app.login_admin().await;
    let key = app.api_key("API").await;
    let (plain, capable) = plain_and_capable_products(&app).await;
    for (product, status) in [
        (&plain, "pending"),
        (&plain, "pending"),
        (&plain, "approved"),
        (&capable, "pending"),
    ] {
        create_request(
            &app,
            &app.vendor_account_id,
            product,
            "fulfillment_request",
            "purchase",
            status,
            json!([]),
        )
        .await;
    }
    let listing = create_request(
        &app,
        &app.vendor_account_id,
        &plain,
        "listing_request",
        "new",
        "pending",
        json!([]),
    )
    .await;
    let client = reqwest::Client::new();
    let api = app.url("/public/v1");
    let r = client
        .get(format!("{api}/requests?status=pending&product_id={plain}"))
        .header("Authorization", &key)
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["content-range"], "items 0-1/2");
    let pending: Vec<Value> = r.json().await.unwrap();
    assert!(pending
        .iter()
        .all(|p| p["status"] == "pending" && p["asset"]["product"]["id"] == plain.as_str()));
    let r = client
        .get(format!("{api}/requests?limit=1&offset=1"))
        .header("Authorization", &key)
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["content-range"], "items 1-1/4", "fulfillment requests only");
    // Listing requests are not in /requests.
    assert_eq!(
        client
            .get(format!("{api}/requests/{}", listing.id))
            .header("Authorization", &key)
            .send()
            .await
            .unwrap()
            .status(),
        404
    );
    // Approving twice is refused with a clear message.
    let id = pending[0]["id"].as_str().unwrap();
    assert_eq!(
        client
            .post(format!("{api}/requests/{id}/approve"))
            .header("Authorization", &key)
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    let r = client
        .post(format!("{api}/requests/{id}/fail"))
        .header("Authorization", &key)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert!(r.json::<Value>().await.unwrap()["errors"][0]
        .as_str()
        .unwrap()
        .contains("approved request cannot become failed"));
    // Another account's token sees none of them.
    let other = app.second_browser();
    other.login_distributor().await;
    let other_key = other.api_key("Other").await;
    let r = client
        .get(format!("{api}/requests"))
        .header("Authorization", &other_key)
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["content-range"], "items 0-0/0");
    assert_eq!(
        client
            .post(format!("{api}/requests/{id}/approve"))
            .header("Authorization", &other_key)
            .send()
            .await
            .unwrap()
            .status(),
        404
    );
}
