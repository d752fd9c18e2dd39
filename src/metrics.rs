//! `/metrics` for Prometheus: this process's counters ([`crate::telemetry`]) and the queue's
//! gauges, read from Postgres at each scrape. On the portal's own address it answers only a
//! bearer token (`PORTAL_METRICS_TOKEN`; without one it is not there: 404); on an address of
//! its own (`PORTAL_METRICS_ADDR`) it answers anyone who reaches that address, or only the
//! token if one is set.

use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use subtle::ConstantTimeEq;

use crate::state::AppState;
use crate::telemetry::CONTENT_TYPE;

/// `/metrics` on the portal's address: only with the token.
pub async fn on_portal(State(state): State<AppState>, headers: HeaderMap) -> Response {
    match state.config.metrics_token.as_deref() {
        None => (StatusCode::NOT_FOUND, "Not found\n").into_response(),
        Some(token) => guarded(&state, &headers, token).await,
    }
}

/// The router of the metrics address: `/metrics` and nothing else.
pub fn own_router(state: AppState) -> Router {
    Router::new()
        .route("/metrics", get(on_own_address))
        .fallback(|| async { (StatusCode::NOT_FOUND, "Not found: this address serves /metrics only\n") })
        .with_state(state)
}

async fn on_own_address(State(state): State<AppState>, headers: HeaderMap) -> Response {
    match state.config.metrics_token.as_deref() {
        None => scrape(&state).await,
        Some(token) => guarded(&state, &headers, token).await,
    }
}

async fn guarded(state: &AppState, headers: &HeaderMap, token: &str) -> Response {
    let presented = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or_default();
    if bool::from(presented.as_bytes().ct_eq(token.as_bytes())) {
        scrape(state).await
    } else {
        let mut r = (
            StatusCode::UNAUTHORIZED,
            "Send the metrics token as `Authorization: Bearer <token>`.\n",
        )
            .into_response();
        r.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Bearer realm=\"metrics\""),
        );
        r
    }
}

async fn scrape(state: &AppState) -> Response {
    let queue = match crate::delivery::store::queue_figures(&state.pool).await {
        Ok(q) => q,
        Err(e) => {
            tracing::warn!(error = %e, "metrics: reading the queue failed");
            return (
                StatusCode::SERVICE_UNAVAILABLE,
                "The database is unavailable: the queue cannot be read.\n",
            )
                .into_response();
        }
    };
    match state.telemetry.render(queue) {
        Ok(text) => ([(header::CONTENT_TYPE, CONTENT_TYPE)], text).into_response(),
        Err(_) => (StatusCode::INTERNAL_SERVER_ERROR, "The metrics could not be written.\n").into_response(),
    }
}
