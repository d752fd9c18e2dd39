//! The public API's conventions: API-key auth, Content-Range paging, RQL filters, error
//! bodies, validation like the forms, tenancy.

use crate::common::*;
use serde_json::{json, Value};

async fn api_key(app: &TestApp) -> String {
    app.login_admin().await;
    app.api_key("API test").await
}

fn body(product: &str, label: &str) -> Value {
    json!({"label": label, "product_id": product, "external_url": "https://handler.example.com/", "object_class": "fulfillment_request",
           "jwt_secret": "JWT-0123456789abcdef", "active": true, "description": "", "http_method": "POST"})
}

#[tokio::test]
async fn paging_filters_and_content_range() {
    let app = spawn_app().await;
    let key = api_key(&app).await;
    let (product, _) = plain_and_capable_products(&app).await;
    let client = reqwest::Client::new();
    let url = app.url("/public/v1/notifications/webhooks");
    for i in 0..5 {
        let r = client
            .post(&url)
            .header("Authorization", &key)
            .json(&body(&product, &format!("Hook {i}")))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201);
    }
    let r = client
        .get(format!("{url}?limit=2&offset=1"))
        .header("Authorization", &key)
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["content-range"], "items 1-2/5");
    assert_eq!(r.headers()["content-type"], "application/json");
    assert_eq!(r.json::<Vec<Value>>().await.unwrap().len(), 2);
    let r = client
        .get(format!("{url}?limit=0&offset=0"))
        .header("Authorization", &key)
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["content-range"], "items 0-0/5");
    let r = client
        .get(format!("{url}?offset=99"))
        .header("Authorization", &key)
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["content-range"], "items 99-99/5");
    assert!(r.json::<Vec<Value>>().await.unwrap().is_empty());
    let r = client
        .get(format!("{url}?eq(label,Hook%203)"))
        .header("Authorization", &key)
        .send()
        .await
        .unwrap();
    let found: Vec<Value> = r.json().await.unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!(found[0]["label"], "Hook 3");
    for bad in [
        "eq(label,x",
        "frob(label,x)",
        "eq(secret_stuff,x)",
        "ordering(jwt_secret)",
        "eq(active,maybe)",
    ] {
        let r = client
            .get(format!("{url}?{bad}"))
            .header("Authorization", &key)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 400, "{bad}");
        let e: Value = r.json().await.unwrap();
        assert_eq!(e["error_code"], "RQL_001");
        assert!(e["errors"][0].as_str().unwrap().starts_with("Invalid RQL filter"));
    }
}

#[tokio::test]
async fn errors_are_json_with_codes_and_tenancy_holds() {
    let app = spawn_app().await;
    let key = api_key(&app).await;
    let (product, _) = plain_and_capable_products(&app).await;
    let client = reqwest::Client::new();
    let url = app.url("/public/v1/notifications/webhooks");
    // No key, a bad key.
    for auth in [None, Some("ApiKey SU-000-000-000:nope")] {
        let mut req = client.get(&url);
        if let Some(a) = auth {
            req = req.header("Authorization", a);
        }
        let r = req.send().await.unwrap();
        assert_eq!(r.status(), 401);
        assert_eq!(
            r.json::<Value>().await.unwrap(),
            json!({"error_code": "AUTH_001", "errors": ["API request is unauthorized."]})
        );
    }
    // Validation: the same rules as the forms, every message named by field.
    let mut bad = body(&product, "");
    bad["external_url"] = json!("ftp://x");
    bad["headers"] = json!({"Host": "evil"});
    bad["data"] = json!([1]);
    let r = client
        .post(&url)
        .header("Authorization", &key)
        .json(&bad)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let e: Value = r.json().await.unwrap();
    assert_eq!(e["error_code"], "VAL_001");
    let messages: Vec<&str> = e["errors"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    for prefix in ["label:", "external_url:", "headers:", "data:"] {
        assert!(
            messages.iter().any(|m| m.starts_with(prefix)),
            "{prefix} in {messages:?}"
        );
    }
    let r = client
        .post(&url)
        .header("Authorization", &key)
        .body("not json")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let mut foreign_product = body("PRD-000-000-000", "x");
    foreign_product["type"] = json!("event");
    assert_eq!(
        client
            .post(&url)
            .header("Authorization", &key)
            .json(&foreign_product)
            .send()
            .await
            .unwrap()
            .status(),
        400
    );
    let count: i64 = sqlx::query_scalar("select count(*) from webhooks")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(count, 0, "nothing created");

    // Another account's webhook is 404 on every route.
    let foreign = insert_webhook(&app, &app.distributor_account_id, &product, "Not yours", true).await;
    let item = format!("{url}/{foreign}");
    for r in [
        client.get(&item).header("Authorization", &key).send().await.unwrap(),
        client
            .put(&item)
            .header("Authorization", &key)
            .json(&json!({"active": false}))
            .send()
            .await
            .unwrap(),
        client.delete(&item).header("Authorization", &key).send().await.unwrap(),
        client
            .post(format!("{item}/trigger"))
            .header("Authorization", &key)
            .send()
            .await
            .unwrap(),
    ] {
        assert_eq!(r.status(), 404);
        assert_eq!(r.json::<Value>().await.unwrap()["error_code"], "NFND_000");
    }
    let active: bool = sqlx::query_scalar("select active from webhooks where id = $1")
        .bind(&foreign)
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert!(active);
    // Type and product cannot change.
    let created: Value = client
        .post(&url)
        .header("Authorization", &key)
        .json(&body(&product, "Mine"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = created["id"].as_str().unwrap();
    let r = client
        .put(format!("{url}/{id}"))
        .header("Authorization", &key)
        .json(&json!({"object_class": "usage_file"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    // The API is exempt from CSRF (it has no cookies) but not from authentication.
    let r = client
        .post(format!("{url}/{id}/trigger"))
        .header("Authorization", &key)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.json::<Value>().await.unwrap()["status"], "scheduled");
}

#[tokio::test]
async fn deep_pages_follow_a_keyset_cursor_in_the_link_header() {
    let app = spawn_app().await;
    let key = api_key(&app).await;
    let (product, _) = plain_and_capable_products(&app).await;
    let client = reqwest::Client::new();
    let url = app.url("/public/v1/notifications/webhooks");
    for i in 0..7 {
        let r = client
            .post(&url)
            .header("Authorization", &key)
            .json(&body(&product, &format!("Paged {i}")))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201);
    }
    // Filters travel with the cursor; each page is the next three, newest first.
    let mut next = Some(format!("{url}?eq(active,true)&limit=3&offset=2"));
    let mut seen: Vec<String> = Vec::new();
    let mut pages = 0;
    while let Some(page) = next.take() {
        let r = client.get(&page).header("Authorization", &key).send().await.unwrap();
        assert_eq!(r.status(), 200, "{page}");
        next = r.headers().get("link").map(|l| {
            let l = l.to_str().unwrap();
            assert!(l.ends_with(">; rel=\"next\""), "{l}");
            assert!(l.contains("eq(active,true)") && !l.contains("offset="), "{l}");
            l.trim_start_matches('<').split('>').next().unwrap().to_string()
        });
        let cursor_page = page.contains("after=");
        assert_eq!(r.headers().contains_key("content-range"), !cursor_page, "{page}");
        let rows: Vec<Value> = r.json().await.unwrap();
        seen.extend(rows.iter().map(|w| w["label"].as_str().unwrap().to_string()));
        pages += 1;
    }
    assert_eq!(pages, 2, "offset 2, then a cursor page");
    let expected: Vec<String> = (0..5).rev().map(|i| format!("Paged {i}")).collect();
    assert_eq!(seen, expected, "every row once, in order, from the offset on");

    for bad in [
        "after=nonsense",
        "after=1700000000000000_WH-123-456-789&ordering(label)",
    ] {
        let r = client
            .get(format!("{url}?{bad}"))
            .header("Authorization", &key)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 400, "{bad}");
        let e: Value = r.json().await.unwrap();
        assert_eq!(e["error_code"], "VAL_001", "{e}");
    }
}

#[tokio::test]
async fn put_is_a_method_other_verbs_are_refused() {
    let app = spawn_app().await;
    let key = api_key(&app).await;
    let (product, _) = plain_and_capable_products(&app).await;
    let client = reqwest::Client::new();
    let url = app.url("/public/v1/notifications/webhooks");
    let mut put = body(&product, "With PUT");
    put["http_method"] = json!("PUT");
    put["data"] = json!({"k": "v"});
    let r = client
        .post(&url)
        .header("Authorization", &key)
        .json(&put)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let created: Value = r.json().await.unwrap();
    assert_eq!(created["http_method"], "PUT");
    assert_eq!(created["data"], json!({"k": "v"}));

    let mut delete = body(&product, "With DELETE");
    delete["http_method"] = json!("DELETE");
    let r = client
        .post(&url)
        .header("Authorization", &key)
        .json(&delete)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let e: Value = r.json().await.unwrap();
    assert!(e["errors"].to_string().contains("GET, POST or PUT"), "{e}");
    let count: i64 = sqlx::query_scalar("select count(*) from webhooks where label = 'With DELETE'")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(count, 0, "nothing created");
}
