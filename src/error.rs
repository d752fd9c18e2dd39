//! The one error type of the web layer, and how each variant becomes a response:
//! a full error page for normal requests, a small swappable fragment for htmx ones.

use askama::Template;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

/// What a page or API answer says while the database cannot be reached.
pub const DATABASE_UNAVAILABLE: &str =
    "The database is unavailable at the moment. Nothing was changed; please try again in a few seconds.";

/// Whether an error means the database cannot be reached (down, refusing connections, the
/// connection lost), rather than a fault of the query: such requests answer 503, not 500.
pub fn is_unavailable(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_) | sqlx::Error::Tls(_) => true,
        sqlx::Error::Database(db) => {
            let code = db.code().unwrap_or_default();
            // Class 08: connection exception; 57P01–57P03: shut down or starting; 53300: too
            // many connections; 3D000: no such database; 55000 only when connections are refused.
            code.starts_with("08")
                || matches!(code.as_ref(), "57P01" | "57P02" | "57P03" | "53300" | "3D000")
                || (code == "55000" && db.message().contains("accepting connections"))
        }
        _ => false,
    }
}

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("The page or object you asked for does not exist, or belongs to another account.")]
    NotFound,
    #[error("Your role does not allow this change. Ask an admin of your account.")]
    Forbidden,
    /// Not allowed for a reason other than the role, said in the message.
    #[error("{0}")]
    NotAllowed(String),
    #[error("This form has expired or did not come from this portal. Reload the page and try again.")]
    Csrf,
    #[error("{0}")]
    BadRequest(String),
    /// The object is not in a state that allows this (409), said in the message.
    #[error("{0}")]
    Conflict(String),
    #[error("The request body is too large.")]
    PayloadTooLarge,
    #[error("{message}")]
    TooManyRequests { message: String, retry_after_secs: u64 },
    /// The database (or the session store in it) cannot be reached: 503, try again.
    #[error("{DATABASE_UNAVAILABLE}")]
    Unavailable(String),
    #[error("Something went wrong on our side. The error was logged; please try again.")]
    Database(sqlx::Error),
    #[error("Something went wrong on our side. The error was logged; please try again.")]
    Internal(#[from] anyhow::Error),
    #[error("Something went wrong on our side. The error was logged; please try again.")]
    Render(#[from] askama::Error),
}

pub type AppResult<T, E = AppError> = Result<T, E>;

impl From<sqlx::Error> for AppError {
    fn from(e: sqlx::Error) -> Self {
        if is_unavailable(&e) {
            AppError::Unavailable(e.to_string())
        } else {
            AppError::Database(e)
        }
    }
}

impl AppError {
    pub fn status(&self) -> StatusCode {
        match self {
            AppError::NotFound => StatusCode::NOT_FOUND,
            AppError::Forbidden | AppError::NotAllowed(_) | AppError::Csrf => StatusCode::FORBIDDEN,
            AppError::BadRequest(_) => StatusCode::BAD_REQUEST,
            AppError::Conflict(_) => StatusCode::CONFLICT,
            AppError::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            AppError::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            AppError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            AppError::Database(_) | AppError::Internal(_) | AppError::Render(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn title(&self) -> &'static str {
        match self {
            AppError::NotFound => "Not found",
            AppError::Forbidden | AppError::NotAllowed(_) => "Not allowed",
            AppError::Csrf => "Form expired",
            AppError::BadRequest(_) => "Bad request",
            AppError::Conflict(_) => "Not possible now",
            AppError::PayloadTooLarge => "Too large",
            AppError::TooManyRequests { .. } => "Too many attempts",
            AppError::Unavailable(_) => "Database unavailable",
            _ => "Server error",
        }
    }
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage<'a> {
    title: &'a str,
    message: String,
    status: u16,
    /// Offer to reload the page rather than to leave it.
    try_again: bool,
}

#[derive(Template)]
#[template(path = "partials/error_toast.html")]
struct ErrorToast<'a> {
    title: &'a str,
    message: String,
}

/// Marker put into request extensions by the htmx-detection middleware so that errors can be
/// rendered as fragments for htmx requests.
#[derive(Clone, Copy)]
pub struct HtmxRequest;

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let status = self.status();
        if let AppError::Unavailable(cause) = &self {
            tracing::warn!(error = %cause, "request answered 503: database unavailable");
        } else if status.is_server_error() {
            // Logged once here with its cause; the page shows only a generic message.
            tracing::error!(error = ?self, "request failed");
        }
        let message = self.to_string();
        let title = self.title();
        let mut headers = HeaderMap::new();
        let retry_after = match &self {
            AppError::TooManyRequests { retry_after_secs, .. } => Some(*retry_after_secs),
            AppError::Unavailable(_) => Some(5),
            _ => None,
        };
        if let Some(v) = retry_after.and_then(|s| HeaderValue::from_str(&s.to_string()).ok()) {
            headers.insert(header::RETRY_AFTER, v);
        }
        let page = ErrorPage {
            title,
            message,
            status: status.as_u16(),
            try_again: matches!(self, AppError::Unavailable(_)),
        }
        .render()
        .unwrap_or_else(|_| "<h1>Error</h1>".to_string());
        let mut response = (status, headers, axum::response::Html(page)).into_response();
        // Carry a fragment alongside, used by the htmx middleware when the request was htmx.
        let toast = ErrorToast {
            title,
            message: self.to_string(),
        }
        .render()
        .unwrap_or_default();
        response.extensions_mut().insert(HtmxErrorFragment(toast));
        response
    }
}

/// The fragment form of an error, swapped into the page's toast area by htmx.
#[derive(Clone)]
pub struct HtmxErrorFragment(pub String);
