//! URL-encoded form bodies as an ordered list of fields, so repeated fields (header rows)
//! keep their order and a malformed body is just missing fields, never a 500.

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};

use crate::error::AppError;

/// Larger bodies are refused with 413 (additional data is at most 64 KiB).
pub const MAX_FORM_BYTES: usize = 256 * 1024;

#[derive(Debug, Default, Clone)]
pub struct FormFields(pub Vec<(String, String)>);

impl FormFields {
    pub fn parse(body: &[u8]) -> Self {
        FormFields(
            form_urlencoded::parse(body)
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect(),
        )
    }

    /// The first value of `name`, or "".
    pub fn get(&self, name: &str) -> &str {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .unwrap_or("")
    }

    pub fn has(&self, name: &str) -> bool {
        self.0.iter().any(|(k, _)| k == name)
    }

    /// Every value of `name`, in order.
    pub fn all(&self, name: &str) -> Vec<String> {
        self.0
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .collect()
    }

    /// A checkbox: present and not "false"/"off".
    pub fn checked(&self, name: &str) -> bool {
        self.0
            .iter()
            .any(|(k, v)| k == name && !matches!(v.as_str(), "false" | "off" | "0"))
    }
}

impl<S: Send + Sync> FromRequest<S> for FormFields {
    type Rejection = AppError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let is_form = req
            .headers()
            .get(axum::http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
        let body = Bytes::from_request(req, state)
            .await
            .map_err(|_| AppError::PayloadTooLarge)?;
        if body.len() > MAX_FORM_BYTES {
            return Err(AppError::PayloadTooLarge);
        }
        if !is_form && !body.is_empty() {
            return Err(AppError::BadRequest(
                "Send the form as application/x-www-form-urlencoded.".into(),
            ));
        }
        Ok(FormFields::parse(&body))
    }
}
