//! `GET /public/v1/notifications/inbound-messages/{id}/body`: the body of an inbound trigger's
//! message, exactly as its caller sent it. A call that delivers a message names this URL
//! (`inbound.body_url`) with the body's SHA-256; the handler fetches it with the account's API
//! token (`ApiKey SU-…:…`, tenancy as everywhere: another account's message is 404) or with
//! the call's own token (`Bearer <JWT>`): valid for the message it names, while it has not
//! expired, and only if that message was delivered to the token's webhook.

use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use base64::Engine;
use sha2::{Digest, Sha256};

use super::body::hex_bytes;
use super::store::{self, StoredBody};
use crate::api::ApiError;
use crate::delivery::payload::{claimed_webhook_id, verify_inbound_call};
use crate::ids::WebhookId;
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new().route("/notifications/inbound-messages/{id}/body", get(body))
}

/// Who asks: the account's API token, or a call's token.
enum Credential<'a> {
    ApiKey(&'a str),
    CallToken(&'a str),
}

fn credential(headers: &HeaderMap) -> Option<Credential<'_>> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?.trim();
    match value.split_once(' ') {
        Some((scheme, token)) if scheme.eq_ignore_ascii_case("bearer") => Some(Credential::CallToken(token.trim())),
        _ => Some(Credential::ApiKey(value)),
    }
}

async fn body(State(state): State<AppState>, Path(id): Path<String>, headers: HeaderMap) -> Result<Response, ApiError> {
    let credential = credential(&headers).ok_or_else(ApiError::unauthorized)?;
    let message_id = id.parse::<i64>().ok().filter(|id| *id > 0);
    let stored = match credential {
        Credential::ApiKey(key) => {
            let caller = crate::tokens::authenticate(&state.pool, key)
                .await?
                .ok_or_else(ApiError::unauthorized)?;
            match message_id {
                Some(message_id) => store::message_body(&state.pool, &caller.account_id, message_id).await?,
                None => None,
            }
        }
        Credential::CallToken(token) => {
            let call = verified_call(&state, token).await?;
            match message_id.filter(|id| *id == call.1) {
                Some(message_id) => store::delivered_body(&state.pool, &call.0, message_id).await?,
                None => None,
            }
        }
    };
    let stored = stored.ok_or_else(|| ApiError::not_found(&id))?;
    Ok(respond(stored))
}

/// The webhook and message a call's token names, once verified with that webhook's secret
/// (the current one, or the previous one during a rotation's grace period).
async fn verified_call(state: &AppState, token: &str) -> Result<(WebhookId, i64), ApiError> {
    let webhook_id = claimed_webhook_id(token)
        .and_then(|id| WebhookId::parse(&id))
        .ok_or_else(ApiError::unauthorized)?;
    let keys = store::webhook_keys(&state.pool, &webhook_id).await?;
    let call = verify_inbound_call(token, &keys)
        .filter(|call| call.webhook_id == webhook_id.as_str())
        .ok_or_else(ApiError::unauthorized)?;
    Ok((webhook_id, call.inbound.message_id))
}

/// The exact bytes, with their content type (or `application/octet-stream`), length and
/// SHA-256 (`Repr-Digest` as RFC 9530 writes it, and the older `Digest`).
fn respond(stored: StoredBody) -> Response {
    let content_type = stored
        .content_type
        .as_deref()
        .and_then(|t| HeaderValue::from_str(t).ok())
        .unwrap_or(HeaderValue::from_static("application/octet-stream"));
    // The digest taken when the body arrived (an empty body has none: computed).
    let digest = stored
        .sha256
        .as_deref()
        .and_then(hex_bytes)
        .unwrap_or_else(|| Sha256::digest(&stored.bytes).to_vec());
    let digest = base64::engine::general_purpose::STANDARD.encode(digest);
    let mut response = stored.bytes.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, content_type);
    // Never rendered by a browser from the portal's origin, whatever the caller's type says.
    headers.insert(header::CONTENT_DISPOSITION, HeaderValue::from_static("attachment"));
    for (name, value) in [
        ("repr-digest", format!("sha-256=:{digest}:")),
        ("digest", format!("sha-256={digest}")),
    ] {
        if let Ok(value) = HeaderValue::from_str(&value) {
            headers.insert(name, value);
        }
    }
    response
}
