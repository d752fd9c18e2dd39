//! The public API under `/public/v1/`, in the platform's conventions (see shared API.md):
//! `Authorization: ApiKey SU-…:…`, JSON bodies, RQL filters with `limit`/`offset` paging and
//! a `Content-Range` header, and errors as `{"error_code": …, "errors": […]}`.

pub mod requests;
pub mod webhooks;

use axum::extract::{DefaultBodyLimit, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{header, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::{Json, Router};

use crate::auth::Permission;
use crate::rql;
use crate::state::AppState;
use crate::tokens::ApiCaller;

/// The longest query string a list reads (filters, paging, search), in bytes: with the
/// limits of each RQL expression, this bounds the SQL a filter can make.
pub const MAX_QUERY_BYTES: usize = 16 * 1024;

/// The largest request body the API reads.
pub const MAX_BODY_BYTES: usize = 256 * 1024;

/// Where the API lives; [`json_errors`] answers every error under it in the API's shape.
pub const PREFIX: &str = "/public/";

/// The API's routes, with `features`: routes other parts of the portal serve under it (the
/// inbound messages' bodies), so that the API need not import them.
pub fn router(features: Router<AppState>) -> Router<AppState> {
    let api = webhooks::router()
        .merge(requests::router())
        .merge(features)
        .fallback(|| async { ApiError::no_such_resource() })
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES));
    Router::new().nest("/public/v1", api)
}

/// Every error answered under [`PREFIX`] is JSON with an `error_code`, including those made
/// by layers that know nothing of the API (wrong method, body too large, timeout, a caught
/// panic): their plain-text bodies are replaced. Answers that are JSON already pass as they are.
pub async fn json_errors(request: Request, next: Next) -> Response {
    if !request.uri().path().starts_with(PREFIX) {
        return next.run(request).await;
    }
    let method = request.method().clone();
    let response = next.run(request).await;
    let status = response.status();
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if !(status.is_client_error() || status.is_server_error()) || is_json {
        return response;
    }
    let allow = response
        .headers()
        .get(header::ALLOW)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let retry_after = response.headers().get(header::RETRY_AFTER).cloned();
    let (code, message) = match status {
        StatusCode::BAD_REQUEST => ("VAL_001", "The request is malformed.".to_string()),
        StatusCode::UNAUTHORIZED => ("AUTH_001", "API request is unauthorized.".to_string()),
        StatusCode::FORBIDDEN => ("AUTH_002", "This API token may not do this.".to_string()),
        StatusCode::NOT_FOUND => ("NFND_000", "No such API resource.".to_string()),
        StatusCode::METHOD_NOT_ALLOWED => (
            "HTTP_405",
            match &allow {
                Some(allowed) if !allowed.is_empty() => {
                    format!("Method {method} is not allowed here; allowed: {allowed}.")
                }
                _ => format!("Method {method} is not allowed here."),
            },
        ),
        StatusCode::REQUEST_TIMEOUT => ("HTTP_408", "The request took too long and was stopped.".to_string()),
        StatusCode::PAYLOAD_TOO_LARGE => (
            "HTTP_413",
            format!("The request body is larger than the limit of {MAX_BODY_BYTES} bytes."),
        ),
        StatusCode::UNSUPPORTED_MEDIA_TYPE => ("HTTP_415", "The request body must be JSON.".to_string()),
        StatusCode::TOO_MANY_REQUESTS => ("HTTP_429", "Too many requests; try again later.".to_string()),
        StatusCode::SERVICE_UNAVAILABLE => ("SYS_002", crate::error::DATABASE_UNAVAILABLE.to_string()),
        s if s.is_server_error() => ("SYS_001", "Internal error; it was logged.".to_string()),
        s => ("HTTP_4XX", format!("The request was refused ({s}).")),
    };
    let mut replaced = ApiError {
        status,
        code,
        errors: vec![message],
    }
    .into_response();
    for (name, value) in [
        (header::ALLOW, allow.and_then(|a| a.parse().ok())),
        (header::RETRY_AFTER, retry_after),
    ] {
        if let Some(value) = value {
            replaced.headers_mut().insert(name, value);
        }
    }
    replaced
}

/// An API error, rendered as the platform renders them.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub errors: Vec<String>,
}

impl ApiError {
    pub fn no_such_resource() -> Self {
        ApiError {
            status: StatusCode::NOT_FOUND,
            code: "NFND_000",
            errors: vec!["No such API resource.".into()],
        }
    }
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

/// Refuses with 403 what the caller's token was not given (reading needs nothing).
pub fn require(caller: &ApiCaller, permission: Permission) -> Result<(), ApiError> {
    if caller.can(permission) {
        return Ok(());
    }
    Err(ApiError {
        status: StatusCode::FORBIDDEN,
        code: "AUTH_002",
        errors: vec![format!(
            "This API token may not {}: it was created without that permission.",
            permission.label().to_lowercase()
        )],
    })
}

impl From<rql::RqlError> for ApiError {
    fn from(e: rql::RqlError) -> Self {
        match e {
            rql::RqlError::Syntax(message) => ApiError::rql(message),
            bound => ApiError::validation(vec![bound.to_string()]),
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
    /// A keyset cursor from a previous page's `Link: …; rel="next"` (deep paging).
    pub after: Option<String>,
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
            after: None,
        };
        let raw = raw.unwrap_or("");
        if raw.len() > MAX_QUERY_BYTES {
            if rql::too_deep(&percent_encoding::percent_decode_str(raw).decode_utf8_lossy()) {
                return Err(rql::RqlError::TooDeep.into());
            }
            return Err(ApiError::validation(vec![format!(
                "filter: the query string may have at most {MAX_QUERY_BYTES} bytes; this one has {}",
                raw.len()
            )]));
        }
        for part in raw.split('&').filter(|p| !p.is_empty()) {
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
            } else if let Some(v) = part.strip_prefix("after=") {
                paging.after = Some(decode(v));
            } else if let Some(v) = part.strip_prefix("search=") {
                paging.search = Some(decode(&v.replace('+', " "))).filter(|s| !s.is_empty());
            } else {
                match rql::parse(&decode(part))? {
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
        if crate::error::is_unavailable(&e) {
            tracing::warn!(error = %e, "API request: database unavailable");
            return ApiError {
                status: StatusCode::SERVICE_UNAVAILABLE,
                code: "SYS_002",
                errors: vec![crate::error::DATABASE_UNAVAILABLE.into()],
            };
        }
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
        let unavailable = self.status == StatusCode::SERVICE_UNAVAILABLE;
        let mut response = (
            self.status,
            Json(serde_json::json!({"error_code": self.code, "errors": self.errors})),
        )
            .into_response();
        if unavailable && !response.headers().contains_key(header::RETRY_AFTER) {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, axum::http::HeaderValue::from_static("5"));
        }
        response
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
        let mut caller = crate::tokens::authenticate(&state.pool, header)
            .await?
            .ok_or_else(ApiError::unauthorized)?;
        caller.client_ip = parts
            .extensions
            .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
            .map(|c| c.0.ip());
        Ok(caller)
    }
}

/// Changes made through the API are recorded as the token's.
pub fn actor(caller: &ApiCaller) -> crate::audit::Actor {
    crate::audit::Actor::api_token(caller.token_id.as_str(), caller.client_ip)
}
