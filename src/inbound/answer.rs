//! Request–response: the caller of an inbound trigger waits for the first handler's answer
//! and gets it back as its own.

use std::time::Duration;

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::store::{self, Answer};
use super::InboundTrigger;
use crate::domain::ErrorKind;
use crate::state::AppState;

/// Waits for the first call made for the message and answers with the handler's response.
/// The delivery task may run in another process, so the answer is read from Postgres: a
/// short poll, growing from 10 ms to 200 ms, bounded by the trigger's maximum wait.
pub(super) async fn wait_for_answer(
    state: &AppState,
    trigger: &InboundTrigger,
    message_id: i64,
) -> Result<Response, sqlx::Error> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(trigger.max_wait_seconds.max(1) as u64);
    let mut pause = Duration::from_millis(10);
    loop {
        let answer = store::first_answer(&state.pool, message_id).await?;
        if let Some(answer) = answer {
            return Ok(relay(answer, message_id));
        }
        let now = tokio::time::Instant::now();
        if now >= deadline {
            return Ok((
                StatusCode::GATEWAY_TIMEOUT,
                axum::Json(json!({
                    "error_code": "INB_504",
                    "errors": [format!("No answer from the handler within {} s. The message is kept and will be delivered; do not send it again.", trigger.max_wait_seconds)],
                    "message_id": message_id,
                })),
            )
                .into_response());
        }
        tokio::time::sleep(pause.min(deadline - now)).await;
        pause = (pause * 2).min(Duration::from_millis(200));
    }
}

/// The handler's response as the caller's: its status, content type and body; a call that
/// got no response at all is a 502 naming the error.
fn relay(answer: Answer, message_id: i64) -> Response {
    let mut response = match answer.status_code.and_then(|s| StatusCode::from_u16(s as u16).ok()) {
        Some(status) => {
            let mut r = (status, answer.response_body.unwrap_or_default()).into_response();
            let content_type = answer
                .response_headers
                .0
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case("content-type"))
                .and_then(|(_, v)| HeaderValue::from_str(v).ok());
            if let Some(ct) = content_type {
                r.headers_mut().insert(header::CONTENT_TYPE, ct);
            }
            r
        }
        None => (
            StatusCode::BAD_GATEWAY,
            axum::Json(json!({
                "error_code": "INB_502",
                "errors": [format!("The handler could not be called ({}). The message will be retried.", answer.error_kind.map_or("error", ErrorKind::as_str))],
                "message_id": message_id,
            })),
        )
            .into_response(),
    };
    let headers = response.headers_mut();
    if let Ok(v) = HeaderValue::from_str(answer.webhook_id.as_str()) {
        headers.insert("x-webhook-id", v);
    }
    headers.insert("x-message-id", HeaderValue::from(message_id));
    if !answer.success {
        headers.insert("x-delivery", HeaderValue::from_static("failed; will be retried"));
    }
    response
}
