//! Send test ping (the seed's "Test" button): the ping payload
//! `{"type": "ping", "epoch_timestamp": …}`, always wrapped with its md5, sent with the
//! webhook's method, format, headers and token. Success is HTTP 200 exactly; anything else,
//! a timeout or a refused connection fails, and a failed ping disables the webhook. The call is
//! recorded as a test: listed with the deliveries, counted in no statistics, never retried.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::json;

use super::store::ping::{record_ping, SentPing};
use super::store::Webhook;
use crate::delivery::body::{encode, Body};
use crate::delivery::http::{CallResult, OutgoingCall};
use crate::delivery::payload::{sign, Payload};
use crate::ids::UserId;
use crate::state::AppState;

/// Someone watches the page for the answer: a ping waits no longer than this (or the
/// portal's request timeout, if shorter).
pub const PING_TIMEOUT: Duration = Duration::from_secs(10);

/// Signs `payload` with the webhook's secret and calls its endpoint at once, with its method
/// and headers: the call a ping or a redelivery makes outside the delivery task.
pub(super) async fn call_now(
    state: &AppState,
    webhook: &Webhook,
    payload: &Payload,
    at: DateTime<Utc>,
    body: Option<Body>,
    timeout: Option<Duration>,
) -> CallResult {
    match sign(payload, at, &webhook.jwt_secret, &webhook.jwt_kid) {
        Ok(token) => {
            state
                .caller
                .call(OutgoingCall {
                    method: webhook.http_method,
                    url: &webhook.external_url,
                    token: &token,
                    custom_headers: &webhook.headers.0,
                    body,
                    timeout,
                })
                .await
        }
        Err(e) => CallResult::unsigned(e),
    }
}

/// Sends the ping and records its answer; runs in the background.
pub async fn send(state: AppState, webhook: Webhook, user: UserId) {
    let started_at = Utc::now();
    let ping = json!({"type": "ping", "epoch_timestamp": started_at.timestamp()});
    let body = webhook
        .http_method
        .sends_body()
        .then(|| encode(&ping, webhook.payload_format, true));
    let payload = webhook.payload(
        state.config.api_url(),
        state.config.delivery.processing_timeout,
        started_at,
    );
    let timeout = Some(PING_TIMEOUT.min(state.config.delivery.request_timeout));
    let result = call_now(&state, &webhook, &payload, started_at, body.clone(), timeout).await;
    let refusal = match (result.status_code, &result.error) {
        (Some(200), _) => None,
        (Some(code), _) => Some(format!("HTTP {code}: a test ping must be answered with 200")),
        (None, Some(error)) => Some(error.clone()),
        (None, None) => Some("no answer".to_string()),
    };
    let sent = SentPing {
        method: webhook.http_method,
        url: &webhook.external_url,
        body: body.as_ref().map(|b| b.text.as_str()),
        started_at,
    };
    match record_ping(&state.pool, &webhook.id, &user, &sent, &result, refusal.as_deref()).await {
        Ok(disabled) => tracing::info!(webhook = %webhook.id, ok = refusal.is_none(), disabled, "test ping answered"),
        Err(e) => tracing::error!(webhook = %webhook.id, error = %e, "recording a test ping failed"),
    }
}
