//! Product queues: requests per product and object class (fulfillment, listing, billing,
//! usage files, tier config, tier accounts). Creating a request or changing its status is a
//! queue change: in the same transaction it records an event for every webhook watching
//! that product and class, which the delivery task then announces to their handlers.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use sqlx::types::Json;

use crate::delivery::payload::timestamp;
use crate::domain::ObjectClass;
use crate::ids::{AccountId, ProductId, RequestId};

mod status;
pub mod store;
pub mod validation;
pub mod web;

pub use self::status::{transition, RequestAction, RequestStatus, ACTIONS};
pub use self::store::{create, create_request, get, set_status, NewRequest};

/// A kind of request an admin can create in a product's queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RequestKind {
    /// Form value, e.g. `fulfillment_request:purchase`, `tier_config_request:setup:1`.
    pub code: &'static str,
    pub object_class: ObjectClass,
    pub kind: &'static str,
    pub tier_level: Option<i16>,
    pub label: &'static str,
    /// Can start as a draft, which a draft-validation webhook checks.
    pub validated: bool,
}

const fn kind(
    code: &'static str,
    object_class: ObjectClass,
    kind: &'static str,
    tier_level: Option<i16>,
    label: &'static str,
    validated: bool,
) -> RequestKind {
    RequestKind {
        code,
        object_class,
        kind,
        tier_level,
        label,
        validated,
    }
}

/// Every kind of test request, grouped by object class in the type table's order.
pub const KINDS: [RequestKind; 16] = [
    kind(
        "listing_request:new",
        ObjectClass::ListingRequest,
        "new",
        None,
        "Listing request — new listing",
        false,
    ),
    kind(
        "listing_request:update",
        ObjectClass::ListingRequest,
        "update",
        None,
        "Listing request — update",
        false,
    ),
    kind(
        "billing_request:provider",
        ObjectClass::BillingRequest,
        "provider",
        None,
        "Billing request — provider",
        false,
    ),
    kind(
        "billing_request:vendor",
        ObjectClass::BillingRequest,
        "vendor",
        None,
        "Billing request — vendor",
        false,
    ),
    kind(
        "fulfillment_request:purchase",
        ObjectClass::FulfillmentRequest,
        "purchase",
        None,
        "Subscription — Purchase request",
        true,
    ),
    kind(
        "fulfillment_request:change",
        ObjectClass::FulfillmentRequest,
        "change",
        None,
        "Subscription — Change request",
        true,
    ),
    kind(
        "fulfillment_request:suspend",
        ObjectClass::FulfillmentRequest,
        "suspend",
        None,
        "Subscription — Suspend request",
        false,
    ),
    kind(
        "fulfillment_request:resume",
        ObjectClass::FulfillmentRequest,
        "resume",
        None,
        "Subscription — Resume request",
        false,
    ),
    kind(
        "fulfillment_request:cancel",
        ObjectClass::FulfillmentRequest,
        "cancel",
        None,
        "Subscription — Cancel request",
        false,
    ),
    kind(
        "tier_config_request:setup:1",
        ObjectClass::TierConfigRequest,
        "setup",
        Some(1),
        "Tier 1 Config — Setup request",
        true,
    ),
    kind(
        "tier_config_request:update:1",
        ObjectClass::TierConfigRequest,
        "update",
        Some(1),
        "Tier 1 Config — Update request",
        true,
    ),
    kind(
        "tier_config_request:setup:2",
        ObjectClass::TierConfigRequest,
        "setup",
        Some(2),
        "Tier 2 Config — Setup request",
        true,
    ),
    kind(
        "tier_config_request:update:2",
        ObjectClass::TierConfigRequest,
        "update",
        Some(2),
        "Tier 2 Config — Update request",
        true,
    ),
    kind(
        "tier_account_request:update",
        ObjectClass::TierAccountRequest,
        "update",
        None,
        "Tier account request — update",
        false,
    ),
    kind(
        "usage_file:usage",
        ObjectClass::UsageFile,
        "usage",
        None,
        "Usage file",
        false,
    ),
    kind(
        "usage_file:adjustment",
        ObjectClass::UsageFile,
        "adjustment",
        None,
        "Usage file — adjustment",
        false,
    ),
];

impl RequestKind {
    pub fn from_code(code: &str) -> Option<RequestKind> {
        KINDS.iter().copied().find(|k| k.code == code)
    }

    /// The kind of a stored request.
    pub fn of(object_class: ObjectClass, kind: &str, tier_level: Option<i16>) -> Option<RequestKind> {
        KINDS
            .iter()
            .copied()
            .find(|k| k.object_class == object_class && k.kind == kind && k.tier_level == tier_level)
    }

    /// The parameters a new test request starts with.
    pub fn default_params(&self) -> Vec<Param> {
        let p = |id: &str, title: &str, value: &str| Param {
            id: id.to_string(),
            title: title.to_string(),
            value: value.to_string(),
            value_error: None,
        };
        match self.object_class {
            ObjectClass::FulfillmentRequest => vec![
                p("email", "Administrator e-mail", "admin@example.com"),
                p("seats", "Seats", "10"),
            ],
            ObjectClass::TierConfigRequest => vec![
                p("company_name", "Company name", "Example Reseller Ltd."),
                p("tax_id", "Tax ID", "GB123456789"),
            ],
            ObjectClass::ListingRequest => vec![p("marketplace", "Marketplace", "EU")],
            ObjectClass::BillingRequest => vec![p("period", "Billing period", "monthly")],
            ObjectClass::UsageFile => vec![p("records", "Usage records", "25")],
            ObjectClass::TierAccountRequest => vec![p("company_name", "Company name", "Example Customer Inc.")],
        }
    }
}

/// One ordering parameter of a request, as the platform's request objects carry them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Param {
    pub id: String,
    #[serde(default)]
    pub title: String,
    #[serde(default)]
    pub value: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value_error: Option<String>,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Request {
    pub id: RequestId,
    pub account_id: AccountId,
    pub product_id: ProductId,
    pub object_class: ObjectClass,
    pub kind: String,
    pub status: RequestStatus,
    pub params: Json<Value>,
    pub test: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub tier_level: Option<i16>,
    pub validation: Option<Json<Value>>,
}

impl Request {
    pub fn request_kind(&self) -> Option<RequestKind> {
        RequestKind::of(self.object_class, &self.kind, self.tier_level)
    }

    pub fn kind_label(&self) -> String {
        self.request_kind()
            .map(|k| k.label.to_string())
            .unwrap_or_else(|| format!("{} — {}", self.object_class.queue_label(), self.kind))
    }

    /// The parameters, leniently: entries that are not parameter objects are skipped.
    pub fn param_list(&self) -> Vec<Param> {
        match &self.params.0 {
            Value::Array(items) => items
                .iter()
                .filter_map(|v| serde_json::from_value(v.clone()).ok())
                .collect(),
            _ => Vec::new(),
        }
    }

    /// Whether a validation webhook can be asked about this request now, and at which stage.
    pub fn validation_stage(&self) -> Option<validation::Stage> {
        if !self.request_kind()?.validated {
            return None;
        }
        match self.status {
            RequestStatus::Draft => Some(validation::Stage::Draft),
            RequestStatus::Inquiring => Some(validation::Stage::Inquiring),
            _ => None,
        }
    }

    /// The actions its status allows.
    pub fn actions(&self) -> Vec<RequestAction> {
        status::actions_from(self.status)
    }

    /// The request object as the platform API shows it (and as validation webhooks get it).
    pub fn api_json(&self) -> Value {
        let mut object = json!({
            "id": self.id,
            "type": self.kind,
            "status": self.status.as_str(),
            "created": timestamp(self.created_at),
            "updated": timestamp(self.updated_at),
            "asset": {"product": {"id": self.product_id}, "params": self.params.0},
            "marketplace": Value::Null,
            "contract": Value::Null,
            "test": self.test,
        });
        if self.object_class == ObjectClass::TierConfigRequest {
            // Tier configuration requests carry their parameters at the top level.
            object["params"] = self.params.0.clone();
            object["configuration"] = json!({"tier_level": self.tier_level, "product": {"id": self.product_id}});
        }
        object
    }
}
