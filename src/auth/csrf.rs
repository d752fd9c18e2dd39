//! CSRF protection: a per-session synchronizer token that every state-changing request
//! must carry, in the `csrf_token` form field or the `X-CSRF-Token` header (htmx sends
//! the header, set once on `<body hx-headers>`).
//!
//! Hand-written rather than a crate: the token lives in the server-side session we
//! already have (no extra cookie), and the check is a constant-time comparison.

use axum::body::{to_bytes, Body};
use axum::extract::Request;
use axum::http::{header, Method};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use subtle::ConstantTimeEq;
use tower_sessions::Session;

use super::session::stored_csrf_token;
use crate::error::AppError;

pub const FIELD: &str = "csrf_token";
pub const HEADER: &str = "x-csrf-token";
/// Bodies are read in full to find the field; larger ones are refused.
pub const MAX_FORM_BYTES: usize = 512 * 1024;

/// Paths that authenticate per request with an API key, not a session cookie.
fn exempt(path: &str) -> bool {
    path.starts_with("/public/") || path.starts_with("/hooks/in/")
}

pub async fn verify_csrf(session: Session, request: Request, next: Next) -> Response {
    if matches!(*request.method(), Method::GET | Method::HEAD | Method::OPTIONS) || exempt(request.uri().path()) {
        return next.run(request).await;
    }
    match check(&session, request).await {
        Ok(request) => next.run(request).await,
        Err(e) => e.into_response(),
    }
}

async fn check(session: &Session, request: Request) -> Result<Request, AppError> {
    let expected = stored_csrf_token(session).await?.ok_or(AppError::Csrf)?;
    if let Some(sent) = request.headers().get(HEADER) {
        return if tokens_match(sent.as_bytes(), expected.as_bytes()) {
            Ok(request)
        } else {
            Err(AppError::Csrf)
        };
    }
    let is_form = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    if !is_form {
        return Err(AppError::Csrf);
    }
    let (parts, body) = request.into_parts();
    let bytes = to_bytes(body, MAX_FORM_BYTES)
        .await
        .map_err(|_| AppError::PayloadTooLarge)?;
    let sent = form_urlencoded::parse(&bytes)
        .find(|(k, _)| k == FIELD)
        .map(|(_, v)| v.into_owned());
    match sent {
        Some(sent) if tokens_match(sent.as_bytes(), expected.as_bytes()) => {
            Ok(Request::from_parts(parts, Body::from(bytes)))
        }
        _ => Err(AppError::Csrf),
    }
}

fn tokens_match(sent: &[u8], expected: &[u8]) -> bool {
    sent.len() == expected.len() && bool::from(sent.ct_eq(expected))
}
