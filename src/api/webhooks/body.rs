//! Request bodies: a JSON object, its editable fields as typed values, and the form rules
//! with the API's field names.

use serde_json::{Map, Value};

use crate::api::ApiError;
use crate::domain::PayloadFormat;
use crate::webhooks::model::{self, FieldErrors};

/// Reads a JSON object body; anything else is a clear 400.
pub(super) fn object(body: &[u8]) -> Result<Map<String, Value>, ApiError> {
    if body.windows(6).any(|w| w == b"\\u0000") {
        return Err(ApiError::validation(vec![
            "NUL characters (\\u0000) are not allowed.".into()
        ]));
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(m)) => Ok(m),
        Ok(_) => Err(ApiError::validation(vec!["The body must be a JSON object.".into()])),
        Err(e) => Err(ApiError::validation(vec![format!("The body is not valid JSON: {e}.")])),
    }
}

/// The editable fields, as typed values; `errors` collects type mistakes.
#[derive(Default)]
pub(super) struct Fields {
    pub(super) label: Option<String>,
    pub(super) description: Option<String>,
    pub(super) active: Option<bool>,
    pub(super) external_url: Option<String>,
    pub(super) jwt_secret: Option<String>,
    pub(super) http_method: Option<String>,
    pub(super) headers: Option<Vec<(String, String)>>,
    pub(super) data: Option<Map<String, Value>>,
    /// `Some(None)`: `null`, no limit.
    pub(super) rate_limit: Option<Option<i32>>,
    pub(super) payload_format: Option<PayloadFormat>,
    pub(super) md5_wrap: Option<bool>,
}

pub(super) fn read_fields(m: &Map<String, Value>, errors: &mut Vec<String>) -> Fields {
    let mut f = Fields::default();
    let mut string = |key: &str| -> Option<String> {
        match m.get(key) {
            None => None,
            Some(Value::String(s)) => Some(s.clone()),
            Some(Value::Null) if key == "description" => Some(String::new()),
            Some(_) => {
                errors.push(format!("{key}: must be a string."));
                None
            }
        }
    };
    f.label = string("label");
    f.description = string("description");
    f.external_url = string("external_url");
    f.jwt_secret = string("jwt_secret");
    f.http_method = string("http_method");
    match m.get("rate_limit") {
        None => {}
        Some(Value::Null) => f.rate_limit = Some(None),
        Some(v) => match v.as_i64() {
            Some(n) if (1..=i64::from(model::RATE_LIMIT_MAX)).contains(&n) => f.rate_limit = Some(Some(n as i32)),
            _ => errors.push(format!(
                "rate_limit: must be a whole number of calls per second from 1 to {}, or null for no limit.",
                model::RATE_LIMIT_MAX
            )),
        },
    }
    match m.get("active") {
        None => {}
        Some(Value::Bool(b)) => f.active = Some(*b),
        Some(_) => errors.push("active: must be true or false.".into()),
    }
    match m.get("payload_format") {
        None => {}
        Some(v) => match v.as_str().and_then(PayloadFormat::parse) {
            Some(format) => f.payload_format = Some(format),
            None => errors.push("payload_format: must be \"json\", \"form\" or \"xml\".".into()),
        },
    }
    match m.get("md5_wrap") {
        None => {}
        Some(Value::Bool(b)) => f.md5_wrap = Some(*b),
        Some(_) => errors.push("md5_wrap: must be true or false.".into()),
    }
    match m.get("headers") {
        None | Some(Value::Null) => {}
        Some(Value::Object(h)) => {
            let mut pairs = Vec::new();
            for (k, v) in h {
                match v {
                    Value::String(s) => pairs.push((k.clone(), s.clone())),
                    _ => errors.push(format!("headers: the value of {k} must be a string.")),
                }
            }
            f.headers = Some(pairs);
        }
        Some(_) => errors.push("headers: must be an object of header names to values.".into()),
    }
    match m.get("data") {
        None | Some(Value::Null) => {}
        Some(Value::Object(d)) => {
            if serde_json::to_string(d).map(|s| s.len()).unwrap_or(0) > model::DATA_MAX_BYTES {
                errors.push(format!(
                    "data: use at most {} KiB of JSON.",
                    model::DATA_MAX_BYTES / 1024
                ));
            } else {
                f.data = Some(d.clone());
            }
        }
        Some(_) => errors.push("data: must be a JSON object.".into()),
    }
    f
}

/// The form rules, with the API's field names.
pub(super) fn validate(
    label: &str,
    description: &str,
    url: &str,
    secret: &str,
    method: &str,
    headers: &[(String, String)],
    errors: &mut Vec<String>,
) {
    let mut e = FieldErrors::default();
    model::validate_name(label, &mut e);
    model::validate_description(description, &mut e);
    model::validate_http(url, secret, method, headers, &mut e);
    for (field, message) in e.0 {
        let field = match field.as_str() {
            "name" => "label".to_string(),
            f if f.starts_with("header_") => "headers".to_string(),
            f => f.to_string(),
        };
        errors.push(format!("{field}: {message}"));
    }
}
