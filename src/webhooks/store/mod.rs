//! SQL for webhooks and the products they watch. Every query is scoped by account: a
//! webhook of another account is simply not found. The list ([`list`]), the writes
//! ([`write`]) and the tabs' questions ([`deliveries`]) have modules of their own.

mod deliveries;
mod list;
mod write;

pub use self::deliveries::{
    attempt, attempt_summaries, attempts, delivery_busy, watching_counts, Attempt, AttemptInfo,
};
pub use self::list::{list, Cursor, ListFilter, ListPage, Page};
pub use self::write::{
    delete, insert, insert_for, set_active, update_data, update_general, update_http, update_whole, HttpSettings,
    NewWebhook, WholeUpdate,
};

use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::types::Json;
use sqlx::PgPool;

use super::model::{HttpMethod, WebhookType};
use crate::auth::{AccountKind, CurrentUser};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Product {
    pub id: String,
    pub name: String,
    pub short_description: String,
    pub capabilities: Vec<String>,
}

/// Products the account may use: a vendor's own, or those listed for a distributor.
pub async fn products_for(pool: &PgPool, user: &CurrentUser) -> Result<Vec<Product>, sqlx::Error> {
    products_for_account(pool, &user.account_id, user.account_kind).await
}

pub async fn products_for_account(
    pool: &PgPool,
    account_id: &str,
    kind: AccountKind,
) -> Result<Vec<Product>, sqlx::Error> {
    let sql = match kind {
        AccountKind::Vendor => {
            "select id, name, short_description, capabilities from products where vendor_account_id = $1 order by name, id"
        }
        AccountKind::Distributor => {
            "select p.id, p.name, p.short_description, p.capabilities from products p
             join account_products ap on ap.product_id = p.id where ap.account_id = $1 order by p.name, p.id"
        }
    };
    sqlx::query_as(sql).bind(account_id).fetch_all(pool).await
}

pub async fn product_for(pool: &PgPool, user: &CurrentUser, product_id: &str) -> Result<Option<Product>, sqlx::Error> {
    Ok(products_for(pool, user).await?.into_iter().find(|p| p.id == product_id))
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Webhook {
    pub id: String,
    pub account_id: String,
    pub product_id: String,
    pub product_name: String,
    pub object_class: String,
    #[sqlx(rename = "type")]
    pub api_type: String,
    pub label: String,
    pub description: String,
    pub active: bool,
    pub external_url: String,
    pub jwt_secret: String,
    pub http_method: String,
    pub headers: Json<Vec<(String, String)>>,
    pub data: Json<Value>,
    /// At most this many calls per second, if set.
    pub rate_limit: Option<i32>,
    pub created_at: DateTime<Utc>,
    pub created_by_id: Option<String>,
    pub created_by_name: Option<String>,
    pub created_by_email: Option<String>,
    pub modified_at: DateTime<Utc>,
    pub modified_by_id: Option<String>,
    pub modified_by_name: Option<String>,
    pub modified_by_email: Option<String>,
    pub events: i64,
    pub triggers: i64,
    pub success_triggers: i64,
    pub failure_triggers: i64,
    pub failure_since_last_success: i64,
    pub last_event_at: Option<DateTime<Utc>>,
    pub next_trigger_at: Option<DateTime<Utc>>,
    pub last_success_at: Option<DateTime<Utc>>,
    pub last_failure_at: Option<DateTime<Utc>>,
    pub out_of_order: bool,
    pub last_success_attempt_id: Option<i64>,
    pub last_failure_attempt_id: Option<i64>,
}

impl Webhook {
    pub fn webhook_type(&self) -> Option<WebhookType> {
        WebhookType::from_api(&self.object_class, &self.api_type)
    }
    pub fn type_label(&self) -> &'static str {
        self.webhook_type().map(|t| t.label()).unwrap_or("Unknown type")
    }
    pub fn method(&self) -> HttpMethod {
        HttpMethod::parse(&self.http_method).unwrap_or(HttpMethod::Post)
    }
    pub fn data_pretty(&self) -> String {
        serde_json::to_string_pretty(&self.data.0).unwrap_or_else(|_| "{}".to_string())
    }
    /// The status chip: (CSS class, label, explanation).
    pub fn status(&self) -> (&'static str, &'static str, &'static str) {
        if !self.active {
            ("chip-off", "Disabled", "")
        } else if self.out_of_order {
            (
                "chip-bad",
                "Out of order",
                "Too many consecutive failures: automatic calls stopped",
            )
        } else {
            ("chip-on", "Enabled", "")
        }
    }
    pub fn secret_masked(&self) -> String {
        mask_secret(&self.jwt_secret)
    }
}

/// `JWT-f841*****33da`: the first 8 and last 4 characters, as the Connect UI shows it.
pub fn mask_secret(secret: &str) -> String {
    let chars: Vec<char> = secret.chars().collect();
    if chars.len() <= 12 {
        return "*".repeat(chars.len());
    }
    let head: String = chars[..8].iter().collect();
    let tail: String = chars[chars.len() - 4..].iter().collect();
    format!("{head}*****{tail}")
}

pub(crate) const SELECT: &str =
    "select w.id, w.account_id, w.product_id, p.name as product_name, w.object_class, w.type, w.label,
        w.description, w.active, w.external_url, w.jwt_secret, w.http_method, w.headers, w.data, w.rate_limit,
        w.created_at, cu.id as created_by_id, cu.name as created_by_name, cu.email as created_by_email,
        w.modified_at, mu.id as modified_by_id, mu.name as modified_by_name, mu.email as modified_by_email,
        coalesce(es.events, 0) as events, w.triggers, w.success_triggers, w.failure_triggers,
        w.failure_since_last_success, es.last_event_at,
        (select min(t.due_at) from webhook_triggers t where t.webhook_id = w.id and t.state = 'pending'
            and w.active and (t.manual or not w.out_of_order)) as next_trigger_at,
        w.last_success_at, w.last_failure_at,
        w.out_of_order, w.last_success_attempt_id, w.last_failure_attempt_id
    from webhooks w
    join products p on p.id = w.product_id
    left join users cu on cu.id = w.created_by
    left join users mu on mu.id = w.modified_by
    left join webhook_event_stats es on es.webhook_id = w.id";

pub async fn get(pool: &PgPool, account_id: &str, id: &str) -> Result<Option<Webhook>, sqlx::Error> {
    sqlx::query_as(&format!("{SELECT} where w.account_id = $1 and w.id = $2"))
        .bind(account_id)
        .bind(id)
        .fetch_optional(pool)
        .await
}

/// The account's oldest enabled webhook of `webhook_type` on a product (the one a validation
/// calls).
pub async fn first_enabled_of_type(
    pool: &PgPool,
    account_id: &str,
    product_id: &str,
    webhook_type: WebhookType,
) -> Result<Option<Webhook>, sqlx::Error> {
    let info = webhook_type.info();
    sqlx::query_as(&format!(
        "{SELECT} where w.account_id = $1 and w.product_id = $2 and w.object_class = $3 and w.type = $4 and w.active
         order by w.created_at, w.id limit 1"
    ))
    .bind(account_id)
    .bind(product_id)
    .bind(info.object_class)
    .bind(info.api_type)
    .fetch_optional(pool)
    .await
}

/// The account's webhooks on a product, oldest first.
pub async fn on_product(pool: &PgPool, account_id: &str, product_id: &str) -> Result<Vec<Webhook>, sqlx::Error> {
    sqlx::query_as(&format!(
        "{SELECT} where w.account_id = $1 and w.product_id = $2 order by w.created_at, w.id"
    ))
    .bind(account_id)
    .bind(product_id)
    .fetch_all(pool)
    .await
}
