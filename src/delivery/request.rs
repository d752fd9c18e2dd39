//! The request a call makes, built in one place: method, URL, every header (the token in
//! `Authorization` and `Authentication`, the custom headers, `Content-Type`, `User-Agent`),
//! body and token. The delivery task, test pings, redeliveries and validation calls send what
//! [`Request`] builds; the request preview and the curl command show the same value, so what
//! is shown cannot drift from what is sent.

use chrono::{DateTime, Utc};
use reqwest::header::{HeaderName, HeaderValue, ACCEPT, AUTHORIZATION, CONTENT_TYPE, USER_AGENT};
use serde::Serialize;

use super::body::{encode, Body};
use super::payload::{sign_claims, Payload, SigningKey};
use crate::domain::{HttpMethod, PayloadFormat};

pub const PORTAL_USER_AGENT: &str = concat!("webhook-portal/", env!("CARGO_PKG_VERSION"), " (+delivery)");

/// The `Accept` the HTTP client sends unless a custom header says otherwise.
const ANY_TYPE: &str = "*/*";

/// What records and pages show instead of the token.
pub const REDACTED: &str = "Bearer [redacted]";

/// The headers that carry the token: Connect's article and real handlers read either name.
pub const TOKEN_HEADERS: [&str; 2] = ["authorization", "authentication"];

/// Headers the portal sets itself (and `Accept` and `User-Agent` unless a custom header sets
/// them): a recorded call's custom headers are the others.
const PORTAL_HEADERS: [&str; 3] = ["authorization", "authentication", "content-type"];

/// A webhook's settings that shape its calls.
#[derive(Debug, Clone, Copy)]
pub struct CallSettings<'a> {
    pub method: HttpMethod,
    pub url: &'a str,
    pub custom_headers: &'a [(String, String)],
    pub payload_format: PayloadFormat,
    pub md5_wrap: bool,
}

/// A call ready to send, exactly as it goes out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    pub method: HttpMethod,
    pub url: String,
    /// Every header in the order sent, the token in clear.
    pub headers: Vec<(String, String)>,
    pub body: Option<Body>,
    pub token: String,
}

impl Request {
    /// The call that delivers `payload`: for POST and PUT its body is the payload in the
    /// webhook's format; the token is the payload signed with `key`, `exp` =
    /// `triggered_at` + `processing_timeout`.
    pub fn for_payload(
        settings: &CallSettings<'_>,
        payload: &Payload,
        triggered_at: DateTime<Utc>,
        key: SigningKey<'_>,
    ) -> Result<Request, jsonwebtoken::errors::Error> {
        let body = if settings.method.sends_body() {
            serde_json::to_value(payload)
                .ok()
                .map(|p| encode(&p, settings.payload_format, settings.md5_wrap))
        } else {
            None
        };
        Self::with_body(settings, payload, triggered_at, key, body)
    }

    /// The same call with a body of its own (a test ping's, a validation call's request object).
    pub fn with_body(
        settings: &CallSettings<'_>,
        payload: &Payload,
        triggered_at: DateTime<Utc>,
        key: SigningKey<'_>,
        body: Option<Body>,
    ) -> Result<Request, jsonwebtoken::errors::Error> {
        let exp = triggered_at.timestamp() + payload.processing_timeout;
        Self::signed(
            settings.method,
            settings.url,
            settings.custom_headers,
            body,
            payload,
            exp,
            key,
        )
    }

    /// A call of any claims (the payload of a recorded call, re-signed), with its `exp`.
    pub fn signed<C: Serialize>(
        method: HttpMethod,
        url: &str,
        custom_headers: &[(String, String)],
        body: Option<Body>,
        claims: &C,
        exp: i64,
        key: SigningKey<'_>,
    ) -> Result<Request, jsonwebtoken::errors::Error> {
        let token = sign_claims(claims, exp, key)?;
        Ok(Request {
            method,
            url: url.to_string(),
            headers: headers(&token, custom_headers, body.as_ref()),
            body,
            token,
        })
    }

    /// The headers as a call's record keeps them: the token redacted.
    pub fn recorded_headers(&self) -> Vec<(String, String)> {
        self.headers
            .iter()
            .map(|(name, value)| {
                if TOKEN_HEADERS.contains(&name.as_str()) {
                    (name.clone(), REDACTED.to_string())
                } else {
                    (name.clone(), value.clone())
                }
            })
            .collect()
    }
}

/// Every header of a call, in the order sent: the token (twice), the custom headers (those
/// that cannot be sent are left out: they were validated when saved), the body's type, and
/// `Accept: */*` and the portal's user agent unless custom headers name others.
fn headers(token: &str, custom: &[(String, String)], body: Option<&Body>) -> Vec<(String, String)> {
    let bearer = format!("Bearer {token}");
    let mut all: Vec<(String, String)> = Vec::new();
    if HeaderValue::from_str(&bearer).is_ok() {
        for name in [AUTHORIZATION.as_str(), TOKEN_HEADERS[1]] {
            all.push((name.to_string(), bearer.clone()));
        }
    }
    for (name, value) in custom {
        if HeaderName::from_bytes(name.as_bytes()).is_ok() && HeaderValue::from_str(value).is_ok() {
            all.push((name.clone(), value.clone()));
        }
    }
    if let Some(body) = body {
        all.push((CONTENT_TYPE.as_str().to_string(), body.content_type.to_string()));
    }
    // The HTTP client's own defaults, written out so that the request shown is the one sent.
    for (name, value) in [(ACCEPT.as_str(), ANY_TYPE), (USER_AGENT.as_str(), PORTAL_USER_AGENT)] {
        if !all.iter().any(|(custom, _)| custom.eq_ignore_ascii_case(name)) {
            all.push((name.to_string(), value.to_string()));
        }
    }
    all
}

/// The custom headers among a recorded call's headers (those the portal does not set).
pub fn custom_headers_of(recorded: &[(String, String)]) -> Vec<(String, String)> {
    recorded
        .iter()
        .filter(|(name, value)| {
            let name = name.to_ascii_lowercase();
            let client_default = (name == USER_AGENT.as_str() && value.starts_with("webhook-portal/"))
                || (name == ACCEPT.as_str() && value == ANY_TYPE);
            !PORTAL_HEADERS.contains(&name.as_str()) && !client_default
        })
        .cloned()
        .collect()
}

/// The body of a recorded call, with the content type it was sent with.
pub fn recorded_body(recorded_headers: &[(String, String)], text: Option<&str>) -> Option<Body> {
    let sent_type = recorded_headers
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case("content-type"))
        .map(|(_, value)| value.as_str());
    let content_type = PayloadFormat::ALL
        .into_iter()
        .map(PayloadFormat::content_type)
        .find(|t| Some(*t) == sent_type)
        .unwrap_or(PayloadFormat::Json.content_type());
    text.map(|text| Body {
        content_type,
        text: text.to_string(),
    })
}

/// A call as a curl command (bash quoting). With `token`: as sent. Without (a recorded call,
/// whose token is not kept): the token headers read `$TOKEN` from the shell.
pub fn curl(method: &str, url: &str, headers: &[(String, String)], body: Option<&str>, token: bool) -> String {
    fn quoted(s: &str) -> String {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
    let mut parts = vec![format!("curl -X {method} {}", quoted(url))];
    for (name, value) in headers {
        if !token && TOKEN_HEADERS.contains(&name.to_ascii_lowercase().as_str()) {
            // In double quotes, so that the shell fills in $TOKEN.
            parts.push(format!("-H \"{name}: Bearer $TOKEN\""));
        } else {
            parts.push(format!("-H {}", quoted(&format!("{name}: {value}"))));
        }
    }
    if let Some(body) = body {
        parts.push(format!("--data-binary {}", quoted(body)));
    }
    parts.join(" \\\n  ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_carry_the_token_twice_then_custom_type_and_client_defaults() {
        let custom = vec![
            ("X-Team".to_string(), "ops".to_string()),
            ("Bad\nName".to_string(), "x".to_string()),
        ];
        let body = Body {
            content_type: "application/json",
            text: "{}".into(),
        };
        let request = Request::signed(
            HttpMethod::Post,
            "https://h.example.com/hook",
            &custom,
            Some(body),
            &serde_json::json!({"a": 1}),
            2_000_000_000,
            SigningKey {
                secret: "secret-0123456789",
                kid: "k_test",
            },
        )
        .unwrap();
        let names: Vec<&str> = request.headers.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(
            names,
            [
                "authorization",
                "authentication",
                "X-Team",
                "content-type",
                "accept",
                "user-agent"
            ]
        );
        assert_eq!(request.headers[0].1, format!("Bearer {}", request.token));
        let custom_accept = vec![("Accept".to_string(), "application/json".to_string())];
        let own = Request::signed(
            HttpMethod::Get,
            "http://h/",
            &custom_accept,
            None,
            &serde_json::json!({}),
            1,
            SigningKey { secret: "s", kid: "k" },
        )
        .unwrap();
        let accepts: Vec<&str> = own
            .headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case("accept"))
            .map(|(_, v)| v.as_str())
            .collect();
        assert_eq!(accepts, ["application/json"], "a custom Accept replaces the default");
        let recorded = request.recorded_headers();
        assert_eq!(recorded[1].1, REDACTED);
        assert_eq!(
            custom_headers_of(&recorded),
            [("X-Team".to_string(), "ops".to_string())]
        );
        assert_eq!(
            recorded_body(&recorded, Some("{}")).map(|b| b.content_type),
            Some("application/json")
        );
    }

    #[test]
    fn curl_quotes_for_bash_and_reads_a_missing_token_from_the_shell() {
        let headers = vec![
            ("authorization".to_string(), REDACTED.to_string()),
            ("X-Note".to_string(), "it's $HOME".to_string()),
        ];
        let command = curl("POST", "http://h/x?a=1&b=2", &headers, Some("{\"k\":\"O'B\"}"), false);
        assert_eq!(
            command,
            "curl -X POST 'http://h/x?a=1&b=2' \\\n  -H \"authorization: Bearer $TOKEN\" \\\n  -H 'X-Note: it'\\''s $HOME' \\\n  --data-binary '{\"k\":\"O'\\''B\"}'"
        );
        let signed = curl(
            "GET",
            "http://h/",
            &[("authorization".into(), "Bearer ey.x.y".into())],
            None,
            true,
        );
        assert_eq!(
            signed,
            "curl -X GET 'http://h/' \\\n  -H 'authorization: Bearer ey.x.y'"
        );
    }
}
