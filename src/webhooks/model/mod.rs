//! The webhook model: the 18 types (one table) and the HTTP method; the validation rules
//! every form and API call shares are in [`rules`].

mod rules;

pub use self::rules::{
    generate_secret, parse_data, parse_payload_format, parse_rate_limit, too_long, validate_description,
    validate_headers, validate_http, validate_name, validate_secret, validate_url, FieldErrors, DATA_MAX_BYTES,
    DESCRIPTION_MAX, HEADERS_MAX, HEADER_NAME_MAX, HEADER_VALUE_MAX, NAME_MAX, RATE_LIMIT_MAX, RESERVED_HEADERS,
    SECRET_MAX, SECRET_MIN, URL_MAX,
};

pub use crate::domain::{HttpMethod, ObjectClass};

use crate::auth::AccountKind;

/// One row of the type table.
pub struct TypeInfo {
    /// Stable code used in forms and URLs.
    pub code: &'static str,
    pub label: &'static str,
    pub object_class: ObjectClass,
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
            ListingRequest => t("listing_request", "Listing Request", ObjectClass::ListingRequest, "event", false, None,
                "Triggered on any change in the listing requests queue, e.g. a new listing has been created or an existing listing has changed status."),
            BillingRequestQueue => t("billing_request_queue", "Subscription — Billing Request — Queue Changes", ObjectClass::BillingRequest, "event", false, None,
                "Triggered on any change in the billing requests queue."),
            ChangeRequestDraftValidation => t("change_request_draft_validation", "Subscription — Change Request — Draft Validation", ObjectClass::FulfillmentRequest, "change_validator", true, DYNAMIC_VALIDATION,
                "Triggered when a draft subscription Change request needs real-time validation, e.g. by the shopping cart of a commerce system before the order is placed."),
            ChangeRequestInquiringValidation => t("change_request_inquiring_validation", "Subscription — Change Request — Inquiring Validation", ObjectClass::FulfillmentRequest, "change_inquiring_validator", true, None,
                "Triggered when the Subscription Change Request Inquiring form needs real-time validation. New values and errors are set without changing the request status."),
            FulfillmentRequestQueue => t("fulfillment_request_queue", "Subscription — Fulfillment Requests — Queue Changes", ObjectClass::FulfillmentRequest, "event", false, None,
                "Triggered on any change in the fulfillment requests queue, e.g. a new request has been created or an existing request has changed status."),
            PurchaseRequestDraftValidation => t("purchase_request_draft_validation", "Subscription — Purchase Request — Draft Validation", ObjectClass::FulfillmentRequest, "validator", true, None,
                "Triggered when a draft subscription Purchase request needs real-time validation, e.g. by the shopping cart of a commerce system before the order is placed."),
            PurchaseRequestInquiringValidation => t("purchase_request_inquiring_validation", "Subscription — Purchase Request — Inquiring Validation", ObjectClass::FulfillmentRequest, "inquiring_validator", true, None,
                "Triggered when the Subscription Purchase Request Inquiring form needs real-time validation. New values and errors are set without changing the request status."),
            Tier1SetupDraftValidation => t("tier1_setup_draft_validation", "Tier 1 Config — Setup Request — Draft Validation", ObjectClass::TierConfigRequest, "draft_tcr_t1_val", true, None,
                TIER_DRAFT),
            Tier1SetupInquiringValidation => t("tier1_setup_inquiring_validation", "Tier 1 Config — Setup Request — Inquiring Validation", ObjectClass::TierConfigRequest, "tcr_setup_t1_inq_val", true, None,
                "Triggered when a real-time validation of the inquiring Tier 1 Configuration Request in the queue is needed."),
            Tier1UpdateDraftValidation => t("tier1_update_draft_validation", "Tier 1 Config — Update Request — Draft Validation", ObjectClass::TierConfigRequest, "tcr_update_t1_validator", true, None,
                TIER_DRAFT),
            Tier1UpdateInquiringValidation => t("tier1_update_inquiring_validation", "Tier 1 Config — Update Request — Inquiring Validation", ObjectClass::TierConfigRequest, "tcr_update_t1_inq_val", true, None,
                "Triggered when a real-time validation of the inquiring Tier 1 Configuration Request in the queue is needed."),
            Tier2SetupDraftValidation => t("tier2_setup_draft_validation", "Tier 2 Config — Setup Request — Draft Validation", ObjectClass::TierConfigRequest, "draft_tcr_t2_val", true, None,
                "Triggered when a real-time validation of the draft Tier 2 Configuration Request in the queue is needed."),
            Tier2SetupInquiringValidation => t("tier2_setup_inquiring_validation", "Tier 2 Config — Setup Request — Inquiring Validation", ObjectClass::TierConfigRequest, "tcr_setup_t2_inq_val", true, None,
                "Triggered when a real-time validation of the inquiring Tier 2 Configuration Request in the queue is needed."),
            Tier2UpdateDraftValidation => t("tier2_update_draft_validation", "Tier 2 Config — Update Request — Draft Validation", ObjectClass::TierConfigRequest, "tcr_update_t2_validator", true, None,
                "Triggered when a real-time validation of the draft Tier 2 Configuration Request in the queue is needed."),
            Tier2UpdateInquiringValidation => t("tier2_update_inquiring_validation", "Tier 2 Config — Update Request — Inquiring Validation", ObjectClass::TierConfigRequest, "tcr_update_t2_inq_val", true, None,
                "Triggered when a real-time validation of the inquiring Tier 2 Configuration Request in the queue is needed."),
            TierAccountRequestQueue => t("tier_account_request_queue", "Tier Account Request — Queue Changes", ObjectClass::TierAccountRequest, "event", false, None,
                "Triggered on any change in the tier account requests queue."),
            TierConfigRequestQueue => t("tier_config_request_queue", "Tier Configuration Request — Queue Changes", ObjectClass::TierConfigRequest, "event", false, None,
                "Triggered on any change in the tier config requests queue."),
            UsageFileQueue => t("usage_file_queue", "Usage File — Queue Changes", ObjectClass::UsageFile, "event", false, None,
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
    pub fn from_api(object_class: ObjectClass, api_type: &str) -> Option<WebhookType> {
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
