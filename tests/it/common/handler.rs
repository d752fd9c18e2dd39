//! A real webhook handler on 127.0.0.1: records every call it receives and answers as the
//! test tells it to (status, delay, body size).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Router;

#[derive(Debug, Clone)]
pub struct Received {
    pub method: Method,
    pub uri: Uri,
    pub headers: HeaderMap,
    pub body: Bytes,
    pub at: Instant,
    /// Calls of the same webhook in flight when this one arrived (including it).
    pub concurrent_same_webhook: usize,
    pub webhook_id: String,
}

#[derive(Clone)]
pub struct Behaviour {
    pub status: u16,
    pub delay: Duration,
    pub body: String,
    /// A `Retry-After` header to answer with.
    pub retry_after: Option<String>,
    /// More headers to answer with (a redirect's `Location`).
    pub headers: Vec<(&'static str, String)>,
}

impl Default for Behaviour {
    fn default() -> Self {
        Behaviour {
            status: 200,
            delay: Duration::ZERO,
            body: "{\"status\": \"ok\"}".to_string(),
            retry_after: None,
            headers: Vec::new(),
        }
    }
}

#[derive(Default)]
struct Inner {
    received: Vec<Received>,
    behaviour: Behaviour,
    in_flight: HashMap<String, usize>,
}

#[derive(Clone)]
pub struct Handler {
    pub addr: SocketAddr,
    inner: Arc<Mutex<Inner>>,
}

/// The webhook ID a call is for, read from the token's claims (without verifying: the
/// tests verify separately).
pub fn webhook_id_of(headers: &HeaderMap) -> String {
    use base64::Engine;
    headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .and_then(|t| t.split('.').nth(1))
        .and_then(|p| base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(p).ok())
        .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
        .and_then(|v| v["webhook_id"].as_str().map(str::to_string))
        .unwrap_or_default()
}

/// The claims of a call's bearer token, verified by `jsonwebtoken` with `secret` (HS256,
/// `exp` required and checked).
pub fn verified_claims(headers: &HeaderMap, secret: &str) -> serde_json::Value {
    use jsonwebtoken::{decode, Algorithm, DecodingKey, Validation};
    let token = headers["authorization"]
        .to_str()
        .expect("an ASCII authorization header")
        .strip_prefix("Bearer ")
        .expect("a bearer token");
    decode::<serde_json::Value>(
        token,
        &DecodingKey::from_secret(secret.as_bytes()),
        &Validation::new(Algorithm::HS256),
    )
    .expect("the token verifies with the webhook's secret")
    .claims
}

async fn handle(State(h): State<Handler>, method: Method, uri: Uri, headers: HeaderMap, body: Bytes) -> Response {
    let webhook_id = webhook_id_of(&headers);
    let (behaviour, concurrent) = {
        let mut inner = h.inner.lock().unwrap();
        let n = inner.in_flight.entry(webhook_id.clone()).or_default();
        *n += 1;
        let concurrent = *n;
        inner.received.push(Received {
            method,
            uri,
            headers,
            body,
            at: Instant::now(),
            concurrent_same_webhook: concurrent,
            webhook_id: webhook_id.clone(),
        });
        (inner.behaviour.clone(), concurrent)
    };
    let _ = concurrent;
    if !behaviour.delay.is_zero() {
        tokio::time::sleep(behaviour.delay).await;
    }
    {
        let mut inner = h.inner.lock().unwrap();
        if let Some(n) = inner.in_flight.get_mut(&webhook_id) {
            *n -= 1;
        }
    }
    let status = StatusCode::from_u16(behaviour.status).unwrap_or(StatusCode::OK);
    let mut response = (status, [("content-type", "application/json")], behaviour.body).into_response();
    if let Some(v) = behaviour.retry_after.and_then(|v| v.parse().ok()) {
        response.headers_mut().insert("retry-after", v);
    }
    for (name, value) in behaviour.headers {
        if let Ok(v) = value.parse() {
            response.headers_mut().insert(name, v);
        }
    }
    response
}

impl Handler {
    pub async fn start() -> Handler {
        Self::start_on("127.0.0.1:0").await
    }

    pub async fn start_on(addr: &str) -> Handler {
        let listener = tokio::net::TcpListener::bind(addr).await.expect("bind handler");
        let addr = listener.local_addr().unwrap();
        let handler = Handler {
            addr,
            inner: Arc::new(Mutex::new(Inner::default())),
        };
        let app = Router::new().fallback(handle).with_state(handler.clone());
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        handler
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    pub fn set(&self, behaviour: Behaviour) {
        self.inner.lock().unwrap().behaviour = behaviour;
    }

    pub fn received(&self) -> Vec<Received> {
        self.inner.lock().unwrap().received.clone()
    }

    pub fn count(&self) -> usize {
        self.inner.lock().unwrap().received.len()
    }

    /// Waits until at least `n` calls arrived (at most 20 s).
    pub async fn wait_for(&self, n: usize) -> Vec<Received> {
        for _ in 0..400 {
            if self.count() >= n {
                return self.received();
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("handler received {} calls, expected {n}", self.count());
    }
}

/// Waits until `check` is true (at most 20 s), polling the database.
pub async fn eventually<F, Fut>(what: &str, check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    within(Duration::from_secs(20), what, check).await
}

/// Waits until `check` is true, at most `deadline`; for behaviour that has a bound (a call
/// that must arrive within so long), not for speed.
pub async fn within<F, Fut>(deadline: Duration, what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let until = Instant::now() + deadline;
    while Instant::now() < until {
        if check().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("not within {deadline:?}: {what}");
}

/// Checks that `check` holds all through `window` (polled every 20 ms), failing at the first
/// moment it does not: for "nothing more happens", which no event can signal.
pub async fn stays<F, Fut>(window: Duration, what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let until = Instant::now() + window;
    loop {
        assert!(check().await, "no longer true: {what}");
        if Instant::now() >= until {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
