//! Redeliver (an attempt's page, "Redeliver"): the call made again now, with the webhook's
//! current settings and a fresh token, recorded as a new call that names the one it repeats.
//! Like a test ping it runs in the background, is never retried and counts in no statistics;
//! it works on a disabled or out-of-order webhook and turns neither back on.

use chrono::Utc;

use super::store::deliveries::{record_redelivery, Redelivery};
use super::store::Webhook;
use crate::state::AppState;

/// Makes the call again and records it; runs in the background.
pub async fn send(state: AppState, webhook: Webhook, original: i64) {
    let started_at = Utc::now();
    let request = webhook.call_at(
        state.config.api_url(),
        state.config.delivery.processing_timeout,
        started_at,
    );
    let body = request.as_ref().ok().and_then(|r| r.body.clone());
    let result = super::ping::call_now(&state, request, None).await;
    let sent = Redelivery {
        original,
        method: webhook.http_method,
        url: &webhook.external_url,
        body: body.as_ref().map(|b| b.text.as_str()),
        started_at,
    };
    match record_redelivery(&state.pool, &webhook.id, &sent, &result).await {
        Ok(id) => tracing::info!(webhook = %webhook.id, original, attempt = id, ok = result.success, "redelivered"),
        Err(e) => tracing::error!(webhook = %webhook.id, error = %e, "recording a redelivery failed"),
    }
}
