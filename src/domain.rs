//! The platform's shared vocabulary, used by every feature: object classes, HTTP methods
//! and why a call failed. Each is stored as text and parsed once, at the edge.

/// The platform's object classes: the queue a webhook watches, a request lives in, an
/// inbound trigger feeds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ObjectClass {
    ListingRequest,
    BillingRequest,
    FulfillmentRequest,
    TierConfigRequest,
    TierAccountRequest,
    UsageFile,
}

impl ObjectClass {
    pub const ALL: [ObjectClass; 6] = [
        ObjectClass::ListingRequest,
        ObjectClass::BillingRequest,
        ObjectClass::FulfillmentRequest,
        ObjectClass::TierConfigRequest,
        ObjectClass::TierAccountRequest,
        ObjectClass::UsageFile,
    ];

    /// The platform API's name, e.g. `fulfillment_request`.
    pub fn as_str(self) -> &'static str {
        match self {
            ObjectClass::ListingRequest => "listing_request",
            ObjectClass::BillingRequest => "billing_request",
            ObjectClass::FulfillmentRequest => "fulfillment_request",
            ObjectClass::TierConfigRequest => "tier_config_request",
            ObjectClass::TierAccountRequest => "tier_account_request",
            ObjectClass::UsageFile => "usage_file",
        }
    }

    pub fn parse(raw: &str) -> Option<ObjectClass> {
        Self::ALL.into_iter().find(|c| c.as_str() == raw)
    }

    /// The name calls to handlers carry (the payload's and token's `object_class`), as the
    /// platform's article shows it: the plural, `fulfillment_requests`. The public API's
    /// webhook object keeps the singular of [`ObjectClass::as_str`].
    pub fn payload_name(self) -> &'static str {
        match self {
            ObjectClass::ListingRequest => "listing_requests",
            ObjectClass::BillingRequest => "billing_requests",
            ObjectClass::FulfillmentRequest => "fulfillment_requests",
            ObjectClass::TierConfigRequest => "tier_config_requests",
            ObjectClass::TierAccountRequest => "tier_account_requests",
            ObjectClass::UsageFile => "usage_files",
        }
    }

    /// A human name for the class's queue.
    pub fn queue_label(self) -> &'static str {
        match self {
            ObjectClass::ListingRequest => "Listing requests",
            ObjectClass::BillingRequest => "Billing requests",
            ObjectClass::FulfillmentRequest => "Fulfillment requests",
            ObjectClass::TierConfigRequest => "Tier configuration requests",
            ObjectClass::TierAccountRequest => "Tier account requests",
            ObjectClass::UsageFile => "Usage files",
        }
    }
}

impl std::fmt::Display for ObjectClass {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

crate::db::text_column!(ObjectClass);

/// The HTTP method a webhook is called with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum HttpMethod {
    Get,
    Post,
    Put,
}

impl HttpMethod {
    pub fn parse(raw: &str) -> Option<HttpMethod> {
        match raw.trim().to_ascii_uppercase().as_str() {
            "GET" => Some(HttpMethod::Get),
            "POST" => Some(HttpMethod::Post),
            "PUT" => Some(HttpMethod::Put),
            _ => None,
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            HttpMethod::Get => "GET",
            HttpMethod::Post => "POST",
            HttpMethod::Put => "PUT",
        }
    }
}

impl std::fmt::Display for HttpMethod {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

crate::db::text_column!(HttpMethod);

impl HttpMethod {
    /// POST and PUT calls carry the payload as a body (and so the custom data); GET has none.
    pub fn sends_body(self) -> bool {
        matches!(self, HttpMethod::Post | HttpMethod::Put)
    }
}

impl From<HttpMethod> for reqwest::Method {
    fn from(method: HttpMethod) -> Self {
        match method {
            HttpMethod::Get => reqwest::Method::GET,
            HttpMethod::Post => reqwest::Method::POST,
            HttpMethod::Put => reqwest::Method::PUT,
        }
    }
}

/// How a call's body carries the payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum PayloadFormat {
    /// The platform's JSON payload (the default).
    Json,
    /// `application/x-www-form-urlencoded`, nested keys as `data[purpose]=demo`.
    Form,
    /// `application/xml`, `<notification>…</notification>`.
    Xml,
}

impl PayloadFormat {
    pub const ALL: [PayloadFormat; 3] = [PayloadFormat::Json, PayloadFormat::Form, PayloadFormat::Xml];

    pub fn as_str(self) -> &'static str {
        match self {
            PayloadFormat::Json => "json",
            PayloadFormat::Form => "form",
            PayloadFormat::Xml => "xml",
        }
    }

    pub fn parse(raw: &str) -> Option<PayloadFormat> {
        let raw = raw.trim().to_ascii_lowercase();
        Self::ALL.into_iter().find(|f| f.as_str() == raw)
    }

    pub fn label(self) -> &'static str {
        match self {
            PayloadFormat::Json => "JSON",
            PayloadFormat::Form => "Form",
            PayloadFormat::Xml => "XML",
        }
    }

    pub fn content_type(self) -> &'static str {
        match self {
            PayloadFormat::Json => "application/json",
            PayloadFormat::Form => "application/x-www-form-urlencoded",
            PayloadFormat::Xml => "application/xml",
        }
    }
}

impl std::fmt::Display for PayloadFormat {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.label())
    }
}

crate::db::text_column!(PayloadFormat);

/// Why a call failed, as attempts record it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    Dns,
    Refused,
    Connect,
    Tls,
    Timeout,
    /// The endpoint policy refused the address.
    Blocked,
    /// A response that is not 2xx.
    Http,
    /// Reading the response failed.
    Body,
    /// A validation webhook answered 2xx with something that is not a request object.
    Answer,
    /// The portal could not make the call (its token could not be signed).
    Internal,
}

impl ErrorKind {
    const ALL: [ErrorKind; 10] = [
        ErrorKind::Dns,
        ErrorKind::Refused,
        ErrorKind::Connect,
        ErrorKind::Tls,
        ErrorKind::Timeout,
        ErrorKind::Blocked,
        ErrorKind::Http,
        ErrorKind::Body,
        ErrorKind::Answer,
        ErrorKind::Internal,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::Dns => "dns",
            ErrorKind::Refused => "refused",
            ErrorKind::Connect => "connect",
            ErrorKind::Tls => "tls",
            ErrorKind::Timeout => "timeout",
            ErrorKind::Blocked => "blocked",
            ErrorKind::Http => "http",
            ErrorKind::Body => "body",
            ErrorKind::Answer => "answer",
            ErrorKind::Internal => "internal",
        }
    }

    pub fn parse(raw: &str) -> Option<ErrorKind> {
        Self::ALL.into_iter().find(|k| k.as_str() == raw)
    }

    pub fn label(self) -> &'static str {
        match self {
            ErrorKind::Dns => "DNS error",
            ErrorKind::Refused => "Connection refused",
            ErrorKind::Connect => "Connection error",
            ErrorKind::Tls => "TLS error",
            ErrorKind::Timeout => "Timeout",
            ErrorKind::Blocked => "Address refused by policy",
            ErrorKind::Http => "Non-2xx response",
            ErrorKind::Body => "Response body error",
            ErrorKind::Answer => "Invalid answer",
            ErrorKind::Internal => "Internal error",
        }
    }
}

crate::db::text_column!(ErrorKind);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for c in ObjectClass::ALL {
            assert_eq!(ObjectClass::parse(c.as_str()), Some(c));
        }
        for k in ErrorKind::ALL {
            assert_eq!(ErrorKind::parse(k.as_str()), Some(k));
        }
        assert_eq!(HttpMethod::parse(" get "), Some(HttpMethod::Get));
        assert_eq!(HttpMethod::parse("put"), Some(HttpMethod::Put));
        assert!(HttpMethod::Put.sends_body() && !HttpMethod::Get.sends_body());
        assert_eq!(ObjectClass::parse("subscription"), None);
    }
}
