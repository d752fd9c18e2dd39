//! Send test ping (the seed's "Test" button): the ping payload
//! `{"type": "ping", "epoch_timestamp": …}`, always wrapped with its md5, sent with the
//! webhook's method, format, headers and token. Success is HTTP 200 exactly; anything else,
//! a timeout or a refused connection fails, and a failed ping disables the webhook. The call is
//! recorded as a test: listed with the deliveries, counted in no statistics, never retried.

use std::time::Duration;

use chrono::Utc;
use serde_json::json;

use super::store::ping::{record_ping, SentPing};
use super::store::Webhook;
use crate::delivery::body::encode;
use crate::delivery::http::CallResult;
use crate::delivery::request::Request;
use crate::ids::UserId;
use crate::state::AppState;

/// Someone watches the page for the answer: a ping waits no longer than this (or the
/// portal's request timeout, if shorter).
pub const PING_TIMEOUT: Duration = Duration::from_secs(10);

/// Sends a call built by [`Request`] at once, outside the delivery task: a ping's or a
/// redelivery's (a token that could not be signed is a failed call).
pub(super) async fn call_now(
    state: &AppState,
    request: Result<Request, jsonwebtoken::errors::Error>,
    timeout: Option<Duration>,
) -> CallResult {
    match request {
        Ok(request) => state.caller.call(request, timeout).await,
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
    let request = Request::with_body(
        &webhook.call_settings(),
        &payload,
        started_at,
        webhook.signing_key(),
        body.clone(),
    );
    let result = call_now(&state, request, timeout).await;
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
