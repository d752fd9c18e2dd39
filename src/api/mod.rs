//! The public API under `/public/v1/`, in the platform's conventions (see shared API.md):
//! `Authorization: ApiKey SU-…:…`, JSON bodies, RQL filters with `limit`/`offset` paging and
//! a `Content-Range` header, and errors as `{"error_code": …, "errors": […]}`.

pub mod requests;
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
    let api = webhooks::router().merge(requests::router()).fallback(|| async {
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

/// `limit`/`offset` and the RQL filters of a list request, parsed from the raw query string
/// (RQL has no `=`, so it is not a form; the platform percent-decodes each part).
pub struct Paging {
    pub limit: i64,
    pub offset: i64,
    pub search: Option<String>,
    pub ordering: Vec<String>,
    pub filters: Vec<rql::Node>,
}

pub const DEFAULT_LIMIT: i64 = 100;
pub const MAX_LIMIT: i64 = 1000;

impl Paging {
    pub fn from_query(raw: Option<&str>) -> Result<Paging, ApiError> {
        let decode = |part: &str| {
            percent_encoding::percent_decode_str(part)
                .decode_utf8_lossy()
                .into_owned()
        };
        let mut paging = Paging {
            limit: DEFAULT_LIMIT,
            offset: 0,
            search: None,
            ordering: Vec::new(),
            filters: Vec::new(),
        };
        for part in raw.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
            if decode(part).contains('\0') {
                return Err(ApiError::rql("NUL characters are not allowed".into()));
            }
            if let Some(v) = part.strip_prefix("limit=") {
                // As the platform: a bad limit is the default, a large one is cut.
                paging.limit = v
                    .parse::<i64>()
                    .ok()
                    .filter(|l| *l >= 0)
                    .unwrap_or(DEFAULT_LIMIT)
                    .min(MAX_LIMIT);
            } else if let Some(v) = part.strip_prefix("offset=") {
                paging.offset = v.parse::<i64>().ok().filter(|o| *o >= 0).unwrap_or(0);
            } else if let Some(v) = part.strip_prefix("search=") {
                paging.search = Some(decode(&v.replace('+', " "))).filter(|s| !s.is_empty());
            } else {
                match rql::parse(&decode(part)).map_err(ApiError::rql)? {
                    rql::Node::Call(op, args) if op == "ordering" => {
                        paging.ordering.extend(args.into_iter().filter_map(|a| match a {
                            rql::Node::Value(f) => Some(f),
                            _ => None,
                        }));
                    }
                    // Every field is always returned.
                    rql::Node::Call(op, _) if op == "select" => {}
                    node => paging.filters.push(node),
                }
            }
        }
        Ok(paging)
    }

    pub fn content_range(&self, returned: usize, total: i64) -> String {
        content_range(self.offset, returned, total)
    }
}

/// `items <first>-<last>/<total>`, exactly as the platform computes it (an empty page is
/// `items <offset>-<offset>/<total>`).
pub fn content_range(offset: i64, returned: usize, total: i64) -> String {
    let last = if returned == 0 {
        offset
    } else {
        offset + returned as i64 - 1
    };
    format!("items {offset}-{last}/{total}")
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
