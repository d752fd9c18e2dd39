//! An example webhook handler, as the Connect article describes one.
//!
//! On every call it verifies the signed token (HS256 with the webhook's JWT secret), reads
//! `api_url` and `product_id` from it, pulls the product's pending fulfillment requests
//! (`GET {api_url}requests?status=pending&product_id=…`) with an API token and approves each.
//! A validation webhook's call (its body is the request object) is answered with the object:
//! parameters left empty get a `value_error`.
//!
//! ```text
//! WEBHOOK_SECRET='JWT-…' PORTAL_API_KEY='SU-…:…' cargo run --example handler
//! ```
//! then point a webhook at `http://127.0.0.1:8000/hook` (the portal needs
//! `PORTAL_ENDPOINT_ALLOWLIST=127.0.0.0/8` to call a local address).

use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Json, Router};
use jsonwebtoken::{decode, Algorithm, DecodingKey, Validation};
use serde_json::{json, Value};

struct Config {
    secret: String,
    api_key: String,
    client: reqwest::Client,
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let secret = std::env::var("WEBHOOK_SECRET").map_err(|_| "set WEBHOOK_SECRET to the webhook's JWT secret")?;
    let api_key = std::env::var("PORTAL_API_KEY").map_err(|_| "set PORTAL_API_KEY to an API token (Tokens page)")?;
    let addr: SocketAddr = std::env::var("HANDLER_ADDR")
        .unwrap_or_else(|_| "127.0.0.1:8000".into())
        .parse()?;
    let config = Arc::new(Config {
        secret,
        api_key,
        client: reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(10))
            .build()?,
    });
    let app = Router::new().fallback(handle).with_state(config);
    let listener = tokio::net::TcpListener::bind(addr).await?;
    println!("example handler listening on http://{addr}/hook");
    axum::serve(listener, app).await?;
    Ok(())
}

/// The token from `Authorization: Bearer …` (or the `Authentication` header real handlers read).
fn bearer(headers: &HeaderMap) -> Option<&str> {
    ["authorization", "authentication"]
        .iter()
        .find_map(|name| headers.get(*name)?.to_str().ok()?.strip_prefix("Bearer "))
}

async fn handle(State(config): State<Arc<Config>>, headers: HeaderMap, body: Bytes) -> Response {
    let Some(token) = bearer(&headers) else {
        return (StatusCode::UNAUTHORIZED, "no bearer token").into_response();
    };
    // `exp` is checked; the portal sets it to triggered_at + processing_timeout.
    let claims = match decode::<Value>(
        token,
        &DecodingKey::from_secret(config.secret.as_bytes()),
        &Validation::new(Algorithm::HS256),
    ) {
        Ok(data) => data.claims,
        Err(e) => {
            eprintln!("rejected a call: {e}");
            return (StatusCode::UNAUTHORIZED, "invalid token").into_response();
        }
    };
    println!(
        "call from {} ({}) for {}",
        claims["webhook_name"].as_str().unwrap_or("?"),
        claims["webhook_id"].as_str().unwrap_or("?"),
        claims["product_id"].as_str().unwrap_or("?"),
    );
    if let Some(inbound) = claims.get("inbound") {
        println!(
            "  inbound message {} with query {}",
            inbound["message_id"], inbound["query"]
        );
    }

    // A validation call carries the request object: answer it, flagging empty parameters.
    if let Ok(mut object) = serde_json::from_slice::<Value>(&body) {
        if object.get("asset").is_some() && object.get("status").is_some() {
            if let Some(params) = object.pointer_mut("/asset/params").and_then(Value::as_array_mut) {
                for param in params {
                    let empty = param["value"].as_str().is_none_or(|v| v.trim().is_empty());
                    param["value_error"] = if empty {
                        json!("This value is required.")
                    } else {
                        Value::Null
                    };
                }
            }
            println!("  validated {}", object["id"]);
            return Json(object).into_response();
        }
    }

    match approve_pending(&config, &claims).await {
        Ok(approved) => {
            println!("  approved {approved:?}");
            Json(json!({"approved": approved})).into_response()
        }
        Err(e) => {
            // A non-2xx answer makes the portal retry later.
            eprintln!("  failed: {e}");
            (StatusCode::BAD_GATEWAY, e).into_response()
        }
    }
}

/// Pulls the product's pending requests through the portal's API and approves each.
async fn approve_pending(config: &Config, claims: &Value) -> Result<Vec<String>, String> {
    let api_url = claims["api_url"].as_str().ok_or("no api_url in the token")?;
    let product_id = claims["product_id"].as_str().ok_or("no product_id in the token")?;
    let auth = format!("ApiKey {}", config.api_key);
    let pending: Vec<Value> = config
        .client
        .get(format!("{api_url}requests"))
        .query(&[("status", "pending"), ("product_id", product_id)])
        .header("Authorization", &auth)
        .send()
        .await
        .and_then(|r| r.error_for_status())
        .map_err(|e| format!("listing pending requests: {e}"))?
        .json()
        .await
        .map_err(|e| format!("reading pending requests: {e}"))?;
    let mut approved = Vec::new();
    for request in pending {
        let Some(id) = request["id"].as_str() else { continue };
        config
            .client
            .post(format!("{api_url}requests/{id}/approve"))
            .header("Authorization", &auth)
            .send()
            .await
            .and_then(|r| r.error_for_status())
            .map_err(|e| format!("approving {id}: {e}"))?;
        approved.push(id.to_string());
    }
    Ok(approved)
}
