//! The public API under `/public/v1/`, in the platform's conventions (see shared API.md):
//! `Authorization: ApiKey SU-…:…`, JSON bodies, RQL filters with `limit`/`offset` paging and
//! a `Content-Range` header, and errors as `{"error_code": …, "errors": […]}`.

pub mod rql;
pub mod webhooks;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::{Json, Router};

use crate::app::AppState;
use crate::tokens::ApiCaller;

pub fn router() -> Router<AppState> {
    let api = webhooks::router().fallback(|| async {
        ApiError {
            status: StatusCode::NOT_FOUND,
            code: "NFND_000",
            errors: vec!["No such API resource.".into()],
        }
    });
    Router::new().nest("/public/v1", api)
}

/// An API error, rendered as the platform renders them.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub errors: Vec<String>,
}

impl ApiError {
    pub fn unauthorized() -> Self {
        ApiError {
            status: StatusCode::UNAUTHORIZED,
            code: "AUTH_001",
            errors: vec!["API request is unauthorized.".into()],
        }
    }
    pub fn not_found(id: &str) -> Self {
        ApiError {
            status: StatusCode::NOT_FOUND,
            code: "NFND_000",
            errors: vec![format!("Object `{id}` not found.")],
        }
    }
    pub fn validation(errors: Vec<String>) -> Self {
        ApiError {
            status: StatusCode::BAD_REQUEST,
            code: "VAL_001",
            errors,
        }
    }
    pub fn rql(message: String) -> Self {
        ApiError {
            status: StatusCode::BAD_REQUEST,
            code: "RQL_001",
            errors: vec![format!("Invalid RQL filter: {message}")],
        }
    }
}

impl From<sqlx::Error> for ApiError {
    fn from(e: sqlx::Error) -> Self {
        tracing::error!(error = %e, "API request failed");
        ApiError {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            code: "SYS_001",
            errors: vec!["Internal error; it was logged.".into()],
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (
            self.status,
            Json(serde_json::json!({"error_code": self.code, "errors": self.errors})),
        )
            .into_response()
    }
}

impl FromRequestParts<AppState> for ApiCaller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let header = parts
            .headers
            .get(axum::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .ok_or_else(ApiError::unauthorized)?;
        crate::tokens::authenticate(&state.pool, header)
            .await?
            .ok_or_else(ApiError::unauthorized)
    }
}
