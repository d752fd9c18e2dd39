//! The one error type of the web layer, and how each variant becomes a response:
//! a full error page for normal requests, a small swappable fragment for htmx ones.

use askama::Template;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

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
    #[error("The request body is too large.")]
    PayloadTooLarge,
    #[error("{message}")]
    TooManyRequests { message: String, retry_after_secs: u64 },
    #[error("Something went wrong on our side. The error was logged; please try again.")]
    Database(#[from] sqlx::Error),
    #[error("Something went wrong on our side. The error was logged; please try again.")]
    Internal(#[from] anyhow::Error),
    #[error("Something went wrong on our side. The error was logged; please try again.")]
    Render(#[from] askama::Error),
}

pub type AppResult<T, E = AppError> = Result<T, E>;

impl AppError {
    pub fn status(&self) -> StatusCode {
        match self {
            AppError::NotFound => StatusCode::NOT_FOUND,
            AppError::Forbidden | AppError::NotAllowed(_) | AppError::Csrf => StatusCode::FORBIDDEN,
            AppError::BadRequest(_) => StatusCode::BAD_REQUEST,
            AppError::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            AppError::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            AppError::Database(_) | AppError::Internal(_) | AppError::Render(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn title(&self) -> &'static str {
        match self {
            AppError::NotFound => "Not found",
            AppError::Forbidden | AppError::NotAllowed(_) => "Not allowed",
            AppError::Csrf => "Form expired",
            AppError::BadRequest(_) => "Bad request",
            AppError::PayloadTooLarge => "Too large",
            AppError::TooManyRequests { .. } => "Too many attempts",
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
        if status.is_server_error() {
            // Logged once here with its cause; the page shows only a generic message.
            tracing::error!(error = ?self, "request failed");
        }
        let message = self.to_string();
        let title = self.title();
        let mut headers = HeaderMap::new();
        if let AppError::TooManyRequests { retry_after_secs, .. } = &self {
            if let Ok(v) = HeaderValue::from_str(&retry_after_secs.to_string()) {
                headers.insert(header::RETRY_AFTER, v);
            }
        }
        let page = ErrorPage {
            title,
            message,
            status: status.as_u16(),
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
