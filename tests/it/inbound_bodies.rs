//! Inbound bodies of any type: binary and large bodies are kept by the portal and fetched by
//! the handler through the API (`inbound.body_url`, checked against `inbound.body_sha256`),
//! small text is still inlined, a body over the limit is refused whole, and the body endpoint
//! keeps to its account and to the message a call's token names.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::Router;
use base64::Engine;
use jsonwebtoken::{encode, Algorithm, DecodingKey, EncodingKey, Header, Validation};
use rand::RngCore;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use tokio::sync::mpsc;

use crate::common::handler::Handler;
use crate::common::*;
use crate::inbound::{add_key, claims_of, create_trigger, setup};

fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

fn sha256_b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(Sha256::digest(bytes))
}

/// One body fetch: status, headers and bytes.
#[derive(Debug)]
struct Fetch {
    status: u16,
    headers: reqwest::header::HeaderMap,
    bytes: Vec<u8>,
}

async fn fetch(url: &str, authorization: &str) -> Fetch {
    let r = reqwest::Client::new()
        .get(url)
        .header("Authorization", authorization)
        .send()
        .await
        .expect("GET the body");
    Fetch {
        status: r.status().as_u16(),
        headers: r.headers().clone(),
        bytes: r.bytes().await.expect("the body's bytes").to_vec(),
    }
}

/// What the handler saw: the verified claims and the body fetched with the call's own token
/// and with the account's API key.
#[derive(Debug)]
struct Seen {
    claims: Value,
    call_body: Bytes,
    by_token: Fetch,
    by_key: Fetch,
}

struct FetchingHandler {
    api_key: String,
    seen: mpsc::UnboundedSender<Result<Seen, String>>,
}

/// A handler as the README describes one: verifies the token with the webhook's secret,
/// reads `body_url` from it and fetches the body, during the call.
async fn fetch_during_the_call(State(h): State<Arc<FetchingHandler>>, headers: HeaderMap, body: Bytes) -> StatusCode {
    let token = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or_default()
        .to_string();
    let verified = jsonwebtoken::decode::<Value>(
        &token,
        &DecodingKey::from_secret(WEBHOOK_SECRET.as_bytes()),
        &Validation::new(Algorithm::HS256),
    );
    let claims = match verified {
        Ok(data) => data.claims,
        Err(e) => {
            let _ = h.seen.send(Err(format!("the token does not verify: {e}")));
            return StatusCode::UNAUTHORIZED;
        }
    };
    let Some(url) = claims["inbound"]["body_url"].as_str().map(str::to_string) else {
        let _ = h.seen.send(Err(format!("no body_url in {claims}")));
        return StatusCode::BAD_REQUEST;
    };
    let by_token = fetch(&url, &format!("Bearer {token}")).await;
    let by_key = fetch(&url, &h.api_key).await;
    let _ = h.seen.send(Ok(Seen {
        claims,
        call_body: body,
        by_token,
        by_key,
    }));
    StatusCode::OK
}

async fn seen(rx: &mut mpsc::UnboundedReceiver<Result<Seen, String>>) -> Seen {
    match tokio::time::timeout(Duration::from_secs(20), rx.recv()).await {
        Ok(Some(Ok(seen))) => seen,
        Ok(Some(Err(e))) => panic!("the handler failed: {e}"),
        other => panic!("the handler was not called: {other:?}"),
    }
}

#[tokio::test]
async fn a_binary_mebibyte_reaches_the_handler_through_the_api_with_its_digest() {
    // The handler fetches the body during the call: give it time on a busy machine.
    let mut settings = FAST_DELIVERY.to_vec();
    settings.push(("PORTAL_REQUEST_TIMEOUT_MS", "60000"));
    let app = spawn_app_with(&settings).await;
    app.login_admin().await;
    let (tx, mut rx) = mpsc::unbounded_channel();
    let handler = Arc::new(FetchingHandler {
        api_key: app.api_key("Handler").await,
        seen: tx,
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let handler_url = format!("http://{}/hook", listener.local_addr().unwrap());
    let router = Router::new().fallback(fetch_during_the_call).with_state(handler);
    tokio::spawn(async move { axum::serve(listener, router).await });
    let hook = webhook_calling(&app, &handler_url, "POST", json!([]), json!({})).await;
    let (product, _) = plain_and_capable_products(&app).await;
    let trigger = create_trigger(&app, &product, &[]).await;
    let key = add_key(&app, &trigger, "Scanner", "").await;

    // Exactly the default limit, random, with NUL and bytes that are no UTF-8.
    let mut sent = vec![0u8; 1024 * 1024];
    rand::thread_rng().fill_bytes(&mut sent);
    sent[..4].copy_from_slice(&[0x00, 0xff, 0x00, 0xfe]);
    let r = reqwest::Client::new()
        .post(app.url(&format!("/hooks/in/{trigger}")))
        .header("X-Api-Key", &key)
        .header("Content-Type", "application/octet-stream")
        .body(sent.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202, "{}", r.text().await.unwrap_or_default());
    let accepted: Value = r.json().await.unwrap();

    let seen = seen(&mut rx).await;
    let inbound = &seen.claims["inbound"];
    assert_eq!(seen.claims["webhook_id"], hook.as_str());
    assert_eq!(inbound["message_id"], accepted["message_id"]);
    assert_eq!(inbound["content_type"], "application/octet-stream");
    assert_eq!(inbound["body"], Value::Null, "binary is never inlined");
    assert_eq!(inbound["body_size"], 1024 * 1024);
    assert_eq!(inbound["body_sha256"], sha256_hex(&sent).as_str());
    let body_url = format!(
        "{}/public/v1/notifications/inbound-messages/{}/body",
        app.base, accepted["message_id"]
    );
    assert_eq!(inbound["body_url"], body_url.as_str());
    let call_body: Value = serde_json::from_slice(&seen.call_body).unwrap();
    assert_eq!(&call_body["inbound"], inbound, "the POST body carries the same claim");

    for (how, fetched) in [("the call's token", &seen.by_token), ("the API key", &seen.by_key)] {
        assert_eq!(
            fetched.status,
            200,
            "with {how}: {}",
            String::from_utf8_lossy(&fetched.bytes)
        );
        assert!(fetched.bytes == sent, "with {how}: the exact bytes");
        assert_eq!(sha256_hex(&fetched.bytes), inbound["body_sha256"].as_str().unwrap());
        assert_eq!(fetched.headers["content-type"], "application/octet-stream");
        assert_eq!(fetched.headers["content-length"], "1048576");
        assert_eq!(
            fetched.headers["repr-digest"].to_str().unwrap(),
            format!("sha-256=:{}:", sha256_b64(&sent))
        );
        assert_eq!(
            fetched.headers["digest"].to_str().unwrap(),
            format!("sha-256={}", sha256_b64(&sent))
        );
    }

    // The trigger's page shows what the body is, not its bytes.
    let page = text_of(&app.get_html(&format!("/inbound/{trigger}")).await);
    assert!(
        page.contains(&format!(
            "Binary · application/octet-stream · 1.0 MiB · sha-256 {}…",
            &sha256_hex(&sent)[..12]
        )),
        "{page}"
    );
}

#[tokio::test]
async fn small_text_is_inlined_as_before_and_other_bodies_are_linked() {
    let (app, handler, _hook, _, trigger) = setup(&[("params", "region = eu\norder")]).await;
    let key = add_key(&app, &trigger, "Caller", "").await;
    let api_key = app.api_key("Handler").await;
    let url = app.url(&format!("/hooks/in/{trigger}"));
    let client = reqwest::Client::new();
    let post = |query: &str, content_type: Option<&str>, body: Vec<u8>| {
        let mut request = client
            .post(format!("{url}{query}"))
            .header("X-Api-Key", &key)
            .body(body);
        if let Some(t) = content_type {
            request = request.header("Content-Type", t);
        }
        request.send()
    };
    let cases: Vec<(String, Option<&str>, Vec<u8>)> = vec![
        // Small JSON: inlined as JSON, as before, and linked too.
        ("?order=1".into(), Some("application/json"), br#"{"lines": 3}"#.to_vec()),
        // Small, but no UTF-8: accepted now, never inlined.
        ("?order=2".into(), None, vec![0xff, 0xfe, 0x00, 0x41]),
        // Text over 4 KiB: linked only.
        ("?order=3".into(), Some("text/plain"), "é".repeat(3000).into_bytes()),
        // Text that fits alone but not beside a long query: linked only.
        (
            format!("?order=4&region={}", "r".repeat(200)),
            Some("text/plain"),
            "\"".repeat(3000).into_bytes(),
        ),
    ];
    for (n, (query, content_type, body)) in cases.iter().enumerate() {
        let r = post(query, *content_type, body.clone()).await.unwrap();
        assert_eq!(r.status(), 202, "case {n}: {}", r.text().await.unwrap_or_default());
        let accepted: Value = r.json().await.unwrap();
        let calls = handler.wait_for(n + 1).await;
        let call = calls
            .iter()
            .map(claims_of)
            .find(|c| c["inbound"]["message_id"] == accepted["message_id"])
            .expect("the message's call");
        let inbound = &call["inbound"];
        assert_eq!(inbound["body_size"], body.len(), "case {n}");
        assert_eq!(inbound["body_sha256"], sha256_hex(body).as_str(), "case {n}");
        let expected = if n == 0 { json!({"lines": 3}) } else { Value::Null };
        assert_eq!(inbound["body"], expected, "case {n}: inlined only when small text");
        let fetched = fetch(inbound["body_url"].as_str().expect("a body_url"), &api_key).await;
        assert_eq!(fetched.status, 200, "case {n}");
        assert!(&fetched.bytes == body, "case {n}: the exact bytes");
        let served_type = content_type.unwrap_or("application/octet-stream");
        assert_eq!(fetched.headers["content-type"], served_type, "case {n}");
    }

    // A call without a body names none.
    let r = client
        .get(format!("{url}?order=5"))
        .header("X-Api-Key", &key)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202);
    let calls = handler.wait_for(cases.len() + 1).await;
    let last = claims_of(calls.last().unwrap());
    assert_eq!(
        (
            &last["inbound"]["body"],
            &last["inbound"]["body_size"],
            &last["inbound"]["body_url"]
        ),
        (&Value::Null, &json!(0), &Value::Null)
    );

    // The page shows text as text and the rest by size, type and digest.
    let page = text_of(&app.get_html(&format!("/inbound/{trigger}")).await);
    assert!(page.contains("{&#34;lines&#34;: 3}"), "JSON text, escaped: {page}");
    assert!(page.contains("Binary · no content type · 4 bytes · sha-256"), "{page}");
    assert!(page.contains("text/plain · 5.9 KiB"), "{page}");
    assert!(page.contains("No body"), "{page}");
    assert!(!page.contains('\u{fffd}'), "no mangled bytes on the page");
}

#[tokio::test]
async fn a_body_over_the_limit_is_refused_whole_and_nothing_is_recorded() {
    let (app, handler, _hook, product, trigger) = setup(&[]).await;
    let key = add_key(&app, &trigger, "Caller", "").await;
    let url = app.url(&format!("/hooks/in/{trigger}"));
    let client = reqwest::Client::new();
    let r = client
        .post(&url)
        .header("X-Api-Key", &key)
        .header("Content-Type", "application/octet-stream")
        .body(vec![0u8; 1024 * 1024 + 1])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 413);
    let e: Value = r.json().await.unwrap();
    assert_eq!(e["error_code"], "VAL_002");
    assert_eq!(
        e["errors"][0],
        "The body is larger than the limit of 1048576 bytes (1.0 MiB)."
    );

    // The query alone must still fit in the signed call: 20 parameters of 200 quotes each.
    let params: Vec<String> = (0..20).map(|i| format!("p{i}")).collect();
    let many = create_trigger(&app, &product, &[("params", &params.join("\n"))]).await;
    let many_key = add_key(&app, &many, "Caller", "").await;
    let query: Vec<String> = params.iter().map(|p| format!("{p}={}", "%22".repeat(200))).collect();
    let r = client
        .post(app.url(&format!("/hooks/in/{many}?{}", query.join("&"))))
        .header("X-Api-Key", &many_key)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 413);
    let e: Value = r.json().await.unwrap();
    let message = e["errors"][0].as_str().unwrap();
    assert!(message.contains("at most 5120 travel in the signed call"), "{message}");

    let (messages, triggers): (i64, i64) =
        sqlx::query_as("select (select count(*) from inbound_messages), (select count(*) from webhook_triggers)")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!((messages, triggers), (0, 0), "nothing recorded, nothing to call");
    assert_eq!(handler.count(), 0);
}

#[tokio::test]
async fn a_configured_limit_is_the_one_enforced() {
    let handler = Handler::start().await;
    let mut settings = FAST_DELIVERY.to_vec();
    settings.push(("PORTAL_INBOUND_BODY_MAX_BYTES", "5000"));
    let app = spawn_app_with(&settings).await;
    app.login_admin().await;
    webhook_calling(&app, &handler.url("/hook"), "POST", json!([]), json!({})).await;
    let (product, _) = plain_and_capable_products(&app).await;
    let trigger = create_trigger(&app, &product, &[]).await;
    let key = add_key(&app, &trigger, "Caller", "").await;
    let send = |size: usize| {
        reqwest::Client::new()
            .post(app.url(&format!("/hooks/in/{trigger}")))
            .header("X-Api-Key", &key)
            .body(vec![b'x'; size])
            .send()
    };
    let r = send(5001).await.unwrap();
    assert_eq!(r.status(), 413);
    let e: Value = r.json().await.unwrap();
    assert_eq!(
        e["errors"][0],
        "The body is larger than the limit of 5000 bytes (4.9 KiB)."
    );
    assert_eq!(send(5000).await.unwrap().status(), 202);
    let page = text_of(&app.get_html(&format!("/inbound/{trigger}")).await);
    assert!(page.contains("of up to 4.9 KiB"), "the page says the limit: {page}");
}

/// A token as the portal signs calls, with these claims, signed with `secret`.
fn call_token(secret: &str, webhook_id: &str, message_id: &Value, exp: i64) -> String {
    encode(
        &Header::new(Algorithm::HS256),
        &json!({"webhook_id": webhook_id, "inbound": {"message_id": message_id}, "exp": exp}),
        &EncodingKey::from_secret(secret.as_bytes()),
    )
    .unwrap()
}

#[tokio::test]
async fn the_body_endpoint_keeps_to_its_account_and_to_the_message_a_token_names() {
    let (app, handler, hook, product, trigger) = setup(&[]).await;
    let key = add_key(&app, &trigger, "Caller", "").await;
    let r = reqwest::Client::new()
        .post(app.url(&format!("/hooks/in/{trigger}")))
        .header("X-Api-Key", &key)
        .body(vec![7u8; 10])
        .send()
        .await
        .unwrap();
    let accepted: Value = r.json().await.unwrap();
    let message_id = &accepted["message_id"];
    let url = app.url(&format!("/public/v1/notifications/inbound-messages/{message_id}/body"));
    let call = handler.wait_for(1).await.remove(0);
    let delivered_token = call.headers["authorization"].to_str().unwrap().to_string();
    let vendor_key = app.api_key("Vendor").await;
    let distributor = app.second_browser();
    distributor.login_distributor().await;
    let distributor_key = distributor.api_key("Distributor").await;
    // A webhook of the same account and secret that the message was not delivered to.
    let (_, other_product) = plain_and_capable_products(&app).await;
    assert_ne!(other_product, product);
    let bystander = insert_webhook(&app, &app.vendor_account_id, &other_product, "Bystander", true).await;
    let later = chrono::Utc::now().timestamp() + 600;

    for (authorization, status, code) in [
        (Some(vendor_key.clone()), 200, None),
        (Some(delivered_token.clone()), 200, None),
        (
            Some(format!(
                "Bearer {}",
                call_token(WEBHOOK_SECRET, &hook, message_id, later)
            )),
            200,
            None,
        ),
        (None, 401, Some("AUTH_001")),
        (
            Some("ApiKey SU-000-000-000:not-a-key".to_string()),
            401,
            Some("AUTH_001"),
        ),
        (Some("Bearer not-a-token".to_string()), 401, Some("AUTH_001")),
        (
            Some(format!(
                "Bearer {}",
                call_token("JWT-another-secret-0001", &hook, message_id, later)
            )),
            401,
            Some("AUTH_001"),
        ),
        (
            Some(format!(
                "Bearer {}",
                call_token(WEBHOOK_SECRET, &hook, message_id, later - 1200)
            )),
            401,
            Some("AUTH_001"),
        ),
        (Some(distributor_key.clone()), 404, Some("NFND_000")),
        (
            Some(format!(
                "Bearer {}",
                call_token(WEBHOOK_SECRET, &bystander, message_id, later)
            )),
            404,
            Some("NFND_000"),
        ),
        (
            Some(format!(
                "Bearer {}",
                call_token(WEBHOOK_SECRET, &hook, &json!(999_999), later)
            )),
            404,
            Some("NFND_000"),
        ),
    ] {
        let mut request = reqwest::Client::new().get(&url);
        if let Some(a) = &authorization {
            request = request.header("Authorization", a);
        }
        let r = request.send().await.unwrap();
        assert_eq!(r.status(), status, "{authorization:?}");
        match code {
            None => assert_eq!(r.bytes().await.unwrap().to_vec(), vec![7u8; 10]),
            Some(code) => {
                let e: Value = r.json().await.unwrap();
                assert_eq!(e["error_code"], code, "{authorization:?}: {e}");
            }
        }
    }
    for path in ["999999/body", "nonsense/body", "-1/body"] {
        let r = reqwest::Client::new()
            .get(app.url(&format!("/public/v1/notifications/inbound-messages/{path}")))
            .header("Authorization", &vendor_key)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 404, "{path}");
    }
    // A token names one message: not another of the same webhook.
    let r = reqwest::Client::new()
        .post(app.url(&format!("/hooks/in/{trigger}")))
        .header("X-Api-Key", &key)
        .body("second")
        .send()
        .await
        .unwrap();
    let second: Value = r.json().await.unwrap();
    let r = reqwest::Client::new()
        .get(app.url(&format!(
            "/public/v1/notifications/inbound-messages/{}/body",
            second["message_id"]
        )))
        .header("Authorization", &delivered_token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
}
