//! The validation rules every form and API call shares: limits, and what each field accepts.

use serde_json::{Map, Value};
use url::Url;

use super::HttpMethod;
use crate::domain::PayloadFormat;

// Limits (each has a test in tests/it/webhooks_validation.rs).
pub const NAME_MAX: usize = 128;
pub const DESCRIPTION_MAX: usize = 4000;
pub const URL_MAX: usize = 2048;
pub const SECRET_MIN: usize = 16;
pub const SECRET_MAX: usize = 256;
pub const HEADERS_MAX: usize = 20;
pub const HEADER_NAME_MAX: usize = 128;
pub const HEADER_VALUE_MAX: usize = 2048;
pub const DATA_MAX_BYTES: usize = 64 * 1024;
/// Headers the portal sets itself; a webhook may not override them.
pub const RESERVED_HEADERS: [&str; 6] = [
    "authorization",
    "authentication",
    "content-type",
    "content-length",
    "host",
    "transfer-encoding",
];

/// Field-level error messages, keyed by form field name.
#[derive(Debug, Default, Clone)]
pub struct FieldErrors(pub Vec<(String, String)>);

impl FieldErrors {
    pub fn add(&mut self, field: impl Into<String>, message: impl Into<String>) {
        self.0.push((field.into(), message.into()));
    }
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
    /// The first message for `field`, for showing next to it.
    pub fn get(&self, field: &str) -> Option<&str> {
        self.0.iter().find(|(f, _)| f == field).map(|(_, m)| m.as_str())
    }
    pub fn has(&self, field: &str) -> bool {
        self.get(field).is_some()
    }
    /// Whether `field` gets the focus (`autofocus`): the first refused field, or, when nothing
    /// was refused, the form's `usual` first field. A refused step thus brings the reader to
    /// its first error, with or without JavaScript (htmx honours `autofocus` after a swap).
    pub fn focus(&self, field: &str, usual: bool) -> bool {
        match self.0.first() {
            Some((first, _)) => first == field,
            None => usual,
        }
    }
    /// The message for `field`, or "" (for templates).
    pub fn msg(&self, field: &str) -> &str {
        self.get(field).unwrap_or("")
    }
    /// The message for header row `index`'s `kind` ("name" or "value"), or "".
    pub fn header(&self, kind: &str, index: &usize) -> &str {
        self.msg(&format!("header_{kind}_{index}"))
    }
    pub fn messages(&self) -> Vec<String> {
        self.0.iter().map(|(f, m)| format!("{f}: {m}")).collect()
    }
}

/// Postgres cannot store NUL characters in text; they are never meant anyway.
const NUL_MESSAGE: &str = "NUL characters are not allowed.";

/// The message for a text over its limit: the limit and the real length, so the admin knows
/// how much to cut (the field keeps what was typed).
pub fn too_long(max: usize, n: usize) -> String {
    format!("Use at most {max} characters (this has {n}).")
}

/// The highest per-webhook rate limit, in calls per second.
pub const RATE_LIMIT_MAX: i32 = 1000;

/// The payload format as chosen: `json`, `form` or `xml`; none chosen is JSON, the default
/// (a form posted without the field keeps today's payload).
pub fn parse_payload_format(raw: &str, errors: &mut FieldErrors) -> Option<PayloadFormat> {
    if raw.trim().is_empty() {
        return Some(PayloadFormat::Json);
    }
    let format = PayloadFormat::parse(raw);
    if format.is_none() {
        errors.add("payload_format", "Choose JSON, Form or XML.");
    }
    format
}

/// The optional rate limit as typed: empty means none; otherwise calls per second, 1–1000.
pub fn parse_rate_limit(raw: &str, errors: &mut FieldErrors) -> Option<i32> {
    let raw = raw.trim();
    if raw.is_empty() {
        return None;
    }
    match raw.parse::<i32>() {
        Ok(n) if (1..=RATE_LIMIT_MAX).contains(&n) => Some(n),
        _ => {
            errors.add(
                "rate_limit",
                format!("Enter a whole number of calls per second from 1 to {RATE_LIMIT_MAX}, or leave it empty for no limit."),
            );
            None
        }
    }
}

pub fn validate_name(name: &str, errors: &mut FieldErrors) {
    let n = name.trim().chars().count();
    if name.contains('\0') {
        errors.add("name", NUL_MESSAGE);
    } else if n == 0 {
        errors.add("name", "Enter a name.");
    } else if n > NAME_MAX {
        errors.add("name", too_long(NAME_MAX, n));
    }
}

pub fn validate_description(description: &str, errors: &mut FieldErrors) {
    let n = description.chars().count();
    if description.contains('\0') {
        errors.add("description", NUL_MESSAGE);
    } else if n > DESCRIPTION_MAX {
        errors.add("description", too_long(DESCRIPTION_MAX, n));
    }
}

pub fn validate_url(raw: &str, errors: &mut FieldErrors) {
    let raw = raw.trim();
    if raw.contains('\0') {
        errors.add("external_url", NUL_MESSAGE);
        return;
    }
    if raw.is_empty() {
        errors.add("external_url", "Enter the endpoint URL of your handler.");
        return;
    }
    if raw.chars().count() > URL_MAX {
        errors.add("external_url", too_long(URL_MAX, raw.chars().count()));
        return;
    }
    match Url::parse(raw) {
        Ok(url) if matches!(url.scheme(), "http" | "https") && url.host_str().is_some_and(|h| !h.is_empty()) => {
            if !url.username().is_empty() || url.password().is_some() {
                errors.add("external_url", "Put credentials in a header, not in the URL.");
            }
        }
        Ok(_) => errors.add("external_url", "Use an absolute http:// or https:// URL with a host."),
        Err(_) => errors.add(
            "external_url",
            "This is not a valid URL; use e.g. https://handler.example.com/hook.",
        ),
    }
}

pub fn validate_secret(secret: &str, errors: &mut FieldErrors) {
    let n = secret.chars().count();
    if n < SECRET_MIN {
        errors.add("jwt_secret", format!("Use at least {SECRET_MIN} characters."));
    } else if n > SECRET_MAX {
        errors.add("jwt_secret", too_long(SECRET_MAX, n));
    } else if secret.chars().any(char::is_control) {
        errors.add("jwt_secret", "Control characters are not allowed.");
    }
}

/// RFC 9110 `token` characters.
fn is_tchar(c: char) -> bool {
    c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c)
}

/// The HTTP settings' rules (endpoint URL, JWT secret, method, headers), shared by the wizard,
/// the edit form and the API; the method when it is valid.
pub fn validate_http(
    url: &str,
    secret: &str,
    method: &str,
    headers: &[(String, String)],
    errors: &mut FieldErrors,
) -> Option<HttpMethod> {
    validate_url(url, errors);
    validate_secret(secret, errors);
    let method = HttpMethod::parse(method);
    if method.is_none() {
        errors.add("http_method", "Choose GET, POST or PUT.");
    }
    validate_headers(headers, errors);
    method
}

/// Validates ordered headers; field names are `header_name_<i>` / `header_value_<i>`.
pub fn validate_headers(headers: &[(String, String)], errors: &mut FieldErrors) {
    if headers.len() > HEADERS_MAX {
        errors.add(
            "headers",
            format!("Use at most {HEADERS_MAX} headers (this has {}).", headers.len()),
        );
    }
    let mut seen: Vec<String> = Vec::new();
    for (i, (name, value)) in headers.iter().enumerate() {
        let field = format!("header_name_{i}");
        if name.is_empty() {
            errors.add(&field, "Enter a header name.");
        } else if name.chars().count() > HEADER_NAME_MAX {
            errors.add(&field, too_long(HEADER_NAME_MAX, name.chars().count()));
        } else if !name.chars().all(is_tchar) {
            errors.add(&field, "Header names may only use letters, digits and !#$%&'*+-.^_`|~.");
        } else if RESERVED_HEADERS.contains(&name.to_ascii_lowercase().as_str()) {
            errors.add(&field, format!("{name} is set by the portal and cannot be overridden."));
        } else if seen.contains(&name.to_ascii_lowercase()) {
            errors.add(&field, "This header is already listed.");
        }
        seen.push(name.to_ascii_lowercase());
        let vfield = format!("header_value_{i}");
        if value.chars().count() > HEADER_VALUE_MAX {
            errors.add(&vfield, too_long(HEADER_VALUE_MAX, value.chars().count()));
        } else if value.contains(['\r', '\n', '\0']) {
            errors.add(&vfield, "Line breaks and NUL characters are not allowed.");
        } else if value.chars().any(|c| c.is_control() && c != '\t') {
            errors.add(&vfield, "Control characters are not allowed.");
        }
    }
}

/// Parses the additional data: empty means `{}`; otherwise a JSON object of at most 64 KiB.
pub fn parse_data(raw: &str, errors: &mut FieldErrors) -> Option<Map<String, Value>> {
    if raw.len() > DATA_MAX_BYTES {
        errors.add(
            "data",
            format!(
                "Use at most {} KiB of JSON (this has {:.1} KiB).",
                DATA_MAX_BYTES / 1024,
                raw.len() as f64 / 1024.0
            ),
        );
        return None;
    }
    if raw.trim().is_empty() {
        return Some(Map::new());
    }
    match serde_json::from_str::<Value>(raw) {
        // Postgres cannot store a NUL character in JSON.
        Ok(Value::Object(_)) if raw.contains("\\u0000") => {
            errors.add("data", "NUL characters (\\u0000) are not allowed.");
            None
        }
        Ok(Value::Object(map)) => Some(map),
        Ok(_) => {
            errors.add("data", "Enter a JSON object, e.g. {\"purpose\": \"demo\"}.");
            None
        }
        Err(e) => {
            errors.add("data", format!("This is not valid JSON: {e}."));
            None
        }
    }
}

/// A strong random JWT secret in the platform's style.
pub fn generate_secret() -> String {
    format!("JWT-{}", crate::ids::random_token(24))
}
