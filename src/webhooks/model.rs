//! The webhook model: the 18 types (one table), HTTP method, headers, and the validation
//! rules every form and API call shares.

use serde_json::{Map, Value};
use url::Url;

use crate::auth::AccountKind;

/// Object classes, as the platform API names them.
pub const OBJECT_CLASSES: [&str; 6] = [
    "listing_request",
    "billing_request",
    "fulfillment_request",
    "tier_config_request",
    "tier_account_request",
    "usage_file",
];

/// One row of the type table.
pub struct TypeInfo {
    /// Stable code used in forms and URLs.
    pub code: &'static str,
    pub label: &'static str,
    pub object_class: &'static str,
    /// The API's `type` value (`event` for queue changes, a validator kind otherwise).
    pub api_type: &'static str,
    pub vendors_only: bool,
    /// Capability code the product must have, with its human name.
    pub capability: Option<(&'static str, &'static str)>,
    pub description: &'static str,
}

/// The webhook types, in the Connect article's order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WebhookType {
    ListingRequest,
    BillingRequestQueue,
    ChangeRequestDraftValidation,
    ChangeRequestInquiringValidation,
    FulfillmentRequestQueue,
    PurchaseRequestDraftValidation,
    PurchaseRequestInquiringValidation,
    Tier1SetupDraftValidation,
    Tier1SetupInquiringValidation,
    Tier1UpdateDraftValidation,
    Tier1UpdateInquiringValidation,
    Tier2SetupDraftValidation,
    Tier2SetupInquiringValidation,
    Tier2UpdateDraftValidation,
    Tier2UpdateInquiringValidation,
    TierAccountRequestQueue,
    TierConfigRequestQueue,
    UsageFileQueue,
}

/// Capability code of "Dynamic validation of change requests", which change-request
/// validation webhooks need on their product.
pub const CAPABILITY_DYNAMIC_VALIDATION: &str = "dynamic_validation";

const DYNAMIC_VALIDATION: Option<(&str, &str)> =
    Some((CAPABILITY_DYNAMIC_VALIDATION, "Dynamic validation of change requests"));

const TIER_DRAFT: &str =
    "Triggered when a real-time validation of the draft Tier 1 Configuration Request in the queue is needed.";

impl WebhookType {
    pub const ALL: [WebhookType; 18] = [
        WebhookType::ListingRequest,
        WebhookType::BillingRequestQueue,
        WebhookType::ChangeRequestDraftValidation,
        WebhookType::ChangeRequestInquiringValidation,
        WebhookType::FulfillmentRequestQueue,
        WebhookType::PurchaseRequestDraftValidation,
        WebhookType::PurchaseRequestInquiringValidation,
        WebhookType::Tier1SetupDraftValidation,
        WebhookType::Tier1SetupInquiringValidation,
        WebhookType::Tier1UpdateDraftValidation,
        WebhookType::Tier1UpdateInquiringValidation,
        WebhookType::Tier2SetupDraftValidation,
        WebhookType::Tier2SetupInquiringValidation,
        WebhookType::Tier2UpdateDraftValidation,
        WebhookType::Tier2UpdateInquiringValidation,
        WebhookType::TierAccountRequestQueue,
        WebhookType::TierConfigRequestQueue,
        WebhookType::UsageFileQueue,
    ];

    pub fn info(self) -> TypeInfo {
        use WebhookType::*;
        let t = |code, label, object_class, api_type, vendors_only, capability, description| TypeInfo {
            code,
            label,
            object_class,
            api_type,
            vendors_only,
            capability,
            description,
        };
        match self {
            ListingRequest => t("listing_request", "Listing Request", "listing_request", "event", false, None,
                "Triggered on any change in the listing requests queue, e.g. a new listing has been created or an existing listing has changed status."),
            BillingRequestQueue => t("billing_request_queue", "Subscription — Billing Request — Queue Changes", "billing_request", "event", false, None,
                "Triggered on any change in the billing requests queue."),
            ChangeRequestDraftValidation => t("change_request_draft_validation", "Subscription — Change Request — Draft Validation", "fulfillment_request", "change_validator", true, DYNAMIC_VALIDATION,
                "Triggered when a draft subscription Change request needs real-time validation, e.g. by the shopping cart of a commerce system before the order is placed."),
            ChangeRequestInquiringValidation => t("change_request_inquiring_validation", "Subscription — Change Request — Inquiring Validation", "fulfillment_request", "change_inquiring_validator", true, None,
                "Triggered when the Subscription Change Request Inquiring form needs real-time validation. New values and errors are set without changing the request status."),
            FulfillmentRequestQueue => t("fulfillment_request_queue", "Subscription — Fulfillment Requests — Queue Changes", "fulfillment_request", "event", false, None,
                "Triggered on any change in the fulfillment requests queue, e.g. a new request has been created or an existing request has changed status."),
            PurchaseRequestDraftValidation => t("purchase_request_draft_validation", "Subscription — Purchase Request — Draft Validation", "fulfillment_request", "validator", true, None,
                "Triggered when a draft subscription Purchase request needs real-time validation, e.g. by the shopping cart of a commerce system before the order is placed."),
            PurchaseRequestInquiringValidation => t("purchase_request_inquiring_validation", "Subscription — Purchase Request — Inquiring Validation", "fulfillment_request", "inquiring_validator", true, None,
                "Triggered when the Subscription Purchase Request Inquiring form needs real-time validation. New values and errors are set without changing the request status."),
            Tier1SetupDraftValidation => t("tier1_setup_draft_validation", "Tier 1 Config — Setup Request — Draft Validation", "tier_config_request", "draft_tcr_t1_val", true, None,
                TIER_DRAFT),
            Tier1SetupInquiringValidation => t("tier1_setup_inquiring_validation", "Tier 1 Config — Setup Request — Inquiring Validation", "tier_config_request", "tcr_setup_t1_inq_val", true, None,
                "Triggered when a real-time validation of the inquiring Tier 1 Configuration Request in the queue is needed."),
            Tier1UpdateDraftValidation => t("tier1_update_draft_validation", "Tier 1 Config — Update Request — Draft Validation", "tier_config_request", "tcr_update_t1_validator", true, None,
                TIER_DRAFT),
            Tier1UpdateInquiringValidation => t("tier1_update_inquiring_validation", "Tier 1 Config — Update Request — Inquiring Validation", "tier_config_request", "tcr_update_t1_inq_val", true, None,
                "Triggered when a real-time validation of the inquiring Tier 1 Configuration Request in the queue is needed."),
            Tier2SetupDraftValidation => t("tier2_setup_draft_validation", "Tier 2 Config — Setup Request — Draft Validation", "tier_config_request", "draft_tcr_t2_val", true, None,
                "Triggered when a real-time validation of the draft Tier 2 Configuration Request in the queue is needed."),
            Tier2SetupInquiringValidation => t("tier2_setup_inquiring_validation", "Tier 2 Config — Setup Request — Inquiring Validation", "tier_config_request", "tcr_setup_t2_inq_val", true, None,
                "Triggered when a real-time validation of the inquiring Tier 2 Configuration Request in the queue is needed."),
            Tier2UpdateDraftValidation => t("tier2_update_draft_validation", "Tier 2 Config — Update Request — Draft Validation", "tier_config_request", "tcr_update_t2_validator", true, None,
                "Triggered when a real-time validation of the draft Tier 2 Configuration Request in the queue is needed."),
            Tier2UpdateInquiringValidation => t("tier2_update_inquiring_validation", "Tier 2 Config — Update Request — Inquiring Validation", "tier_config_request", "tcr_update_t2_inq_val", true, None,
                "Triggered when a real-time validation of the inquiring Tier 2 Configuration Request in the queue is needed."),
            TierAccountRequestQueue => t("tier_account_request_queue", "Tier Account Request — Queue Changes", "tier_account_request", "event", false, None,
                "Triggered on any change in the tier account requests queue."),
            TierConfigRequestQueue => t("tier_config_request_queue", "Tier Configuration Request — Queue Changes", "tier_config_request", "event", false, None,
                "Triggered on any change in the tier config requests queue."),
            UsageFileQueue => t("usage_file_queue", "Usage File — Queue Changes", "usage_file", "event", false, None,
                "Triggered on any change in the usage file queue."),
        }
    }

    pub fn code(self) -> &'static str {
        self.info().code
    }
    pub fn label(self) -> &'static str {
        self.info().label
    }

    pub fn from_code(code: &str) -> Option<WebhookType> {
        Self::ALL.into_iter().find(|t| t.code() == code)
    }

    /// The type stored as the API's `(object_class, type)` pair.
    pub fn from_api(object_class: &str, api_type: &str) -> Option<WebhookType> {
        Self::ALL.into_iter().find(|t| {
            let i = t.info();
            i.object_class == object_class && i.api_type == api_type
        })
    }

    /// Queue-change notifications (as opposed to request–response validation).
    pub fn is_notification(self) -> bool {
        self.info().api_type == "event"
    }

    /// Why an account may not create this type on a product, if it may not.
    pub fn unavailable_reason(self, account: AccountKind, product_capabilities: &[String]) -> Option<String> {
        let info = self.info();
        if info.vendors_only && account != AccountKind::Vendor {
            return Some("Available for vendors only.".to_string());
        }
        if let Some((code, name)) = info.capability {
            if !product_capabilities.iter().any(|c| c == code) {
                return Some(format!("Requires the “{name}” capability on the selected product."));
            }
        }
        None
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HttpMethod {
    Get,
    Post,
}

impl HttpMethod {
    pub fn parse(raw: &str) -> Option<HttpMethod> {
        match raw.trim().to_ascii_uppercase().as_str() {
            "GET" => Some(HttpMethod::Get),
            "POST" => Some(HttpMethod::Post),
            _ => None,
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            HttpMethod::Get => "GET",
            HttpMethod::Post => "POST",
        }
    }
}

// Limits (each has a test in tests/webhooks_validation.rs).
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
        errors.add("http_method", "Choose GET or POST.");
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_type_table_is_complete_and_consistent() {
        assert_eq!(WebhookType::ALL.len(), 18);
        for t in WebhookType::ALL {
            let i = t.info();
            assert_eq!(WebhookType::from_code(i.code), Some(t));
            assert_eq!(WebhookType::from_api(i.object_class, i.api_type), Some(t), "{}", i.code);
            assert!(OBJECT_CLASSES.contains(&i.object_class));
        }
        let notifications = WebhookType::ALL.iter().filter(|t| t.is_notification()).count();
        assert_eq!(notifications, 6);
    }

    #[test]
    fn distributors_and_capabilities() {
        let none: Vec<String> = vec![];
        assert!(WebhookType::PurchaseRequestDraftValidation
            .unavailable_reason(AccountKind::Distributor, &none)
            .is_some());
        assert!(WebhookType::FulfillmentRequestQueue
            .unavailable_reason(AccountKind::Distributor, &none)
            .is_none());
        assert!(WebhookType::ChangeRequestDraftValidation
            .unavailable_reason(AccountKind::Vendor, &none)
            .is_some());
        let caps = vec![CAPABILITY_DYNAMIC_VALIDATION.to_string()];
        assert!(WebhookType::ChangeRequestDraftValidation
            .unavailable_reason(AccountKind::Vendor, &caps)
            .is_none());
    }

    #[test]
    fn header_rules() {
        let mut e = FieldErrors::default();
        validate_headers(&[("X-Ok".into(), "fine".into())], &mut e);
        assert!(e.is_empty());
        for (name, value) in [("Bad Name", "v"), ("Host", "v"), ("X-A", "a\r\nb"), ("", "v")] {
            let mut e = FieldErrors::default();
            validate_headers(&[(name.into(), value.into())], &mut e);
            assert!(!e.is_empty(), "{name:?} {value:?}");
        }
    }

    #[test]
    fn data_must_be_an_object() {
        let mut e = FieldErrors::default();
        assert!(parse_data("", &mut e).is_some());
        assert!(parse_data("[1]", &mut e).is_none());
        assert!(parse_data("{", &mut e).is_none());
        assert_eq!(e.0.len(), 2);
    }
}
