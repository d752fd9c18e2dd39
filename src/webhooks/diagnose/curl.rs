//! A recorded call as a curl command with a freshly signed token: its method, URL, custom
//! headers and body as recorded, and the token of its payload signed again now with the
//! webhook's current secret (tokens are never kept).

use chrono::{DateTime, Utc};
use serde_json::Value;

use crate::delivery::request::{curl, custom_headers_of, recorded_body, Request};
use crate::domain::HttpMethod;
use crate::webhooks::store::{Attempt, Webhook};

/// The command, and until when its token is valid.
#[derive(Debug, Clone)]
pub struct SignedCurl {
    pub command: String,
    pub expires_at: DateTime<Utc>,
}

/// The curl command of `attempt` with a token signed now, valid for `processing_timeout`
/// seconds. Every command that shows a token comes from here.
pub fn curl_command(
    w: &Webhook,
    attempt: &Attempt,
    api_url: String,
    processing_timeout: i64,
    now: DateTime<Utc>,
) -> Result<SignedCurl, jsonwebtoken::errors::Error> {
    let request = attempt_request(w, attempt, api_url, processing_timeout, now)?;
    let expires_at = now + chrono::Duration::seconds(processing_timeout);
    Ok(SignedCurl {
        command: curl(
            request.method.as_str(),
            &request.url,
            &request.headers,
            request.body.as_ref().map(|b| b.text.as_str()),
            true,
        ),
        expires_at,
    })
}

/// The recorded call, built again by [`Request`] with a token signed `now`.
pub fn attempt_request(
    w: &Webhook,
    attempt: &Attempt,
    api_url: String,
    processing_timeout: i64,
    now: DateTime<Utc>,
) -> Result<Request, jsonwebtoken::errors::Error> {
    let recorded = &attempt.request_headers.0;
    Request::signed(
        HttpMethod::parse(&attempt.request_method).unwrap_or(w.http_method),
        &attempt.request_url,
        &custom_headers_of(recorded),
        recorded_body(recorded, attempt.request_body.as_deref()),
        &call_claims(w, attempt, api_url, processing_timeout),
        now.timestamp() + processing_timeout,
        w.signing_key(),
    )
}

/// The claims the call carried, less `exp`: its JSON body's payload (wrapped with md5 or not)
/// when the body carries this webhook's payload; otherwise (GET, form, XML, a test ping's or
/// validation call's body) the webhook's payload rebuilt for the moment of the call.
fn call_claims(w: &Webhook, attempt: &Attempt, api_url: String, processing_timeout: i64) -> Value {
    let from_body = attempt
        .request_body
        .as_deref()
        .and_then(|body| serde_json::from_str::<Value>(body).ok())
        .map(|body| match (body.get("payload"), body.get("md5")) {
            (Some(payload), Some(_)) => payload.clone(),
            _ => body,
        })
        .filter(|payload| payload["webhook_id"].as_str() == Some(w.id.as_str()));
    from_body.unwrap_or_else(|| {
        serde_json::to_value(w.payload(api_url, processing_timeout, attempt.started_at)).unwrap_or_default()
    })
}
