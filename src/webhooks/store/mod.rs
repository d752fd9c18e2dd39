//! SQL for webhooks and the products they watch. Every query is scoped by account: a
//! webhook of another account is simply not found. The list ([`list`]), the writes
//! ([`write`]), the tabs' questions ([`deliveries`]) and replays ([`replay`]) have modules of
//! their own.

pub mod audited;
pub mod deliveries;
pub mod health;
mod list;
pub mod ping;
mod query;
pub mod replay;
pub mod retention;
pub mod secrets;
mod write;

pub use self::deliveries::{
    attempt, attempt_summaries, attempts, delivery_busy, label_retries, watching_counts, Attempt, AttemptInfo,
};
pub use self::list::{list, Cursor, ListCursor, ListFilter, ListPage, Page, Sort};
pub use self::query::{api_list, ApiQuery, ApiQueryError};
pub use self::write::{
    delete, insert, insert_for, set_active, update_data, update_general, update_http, update_whole, HttpSettings,
    NewWebhook, WholeUpdate,
};

use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::types::Json;
use sqlx::PgPool;

use super::model::{HttpMethod, ObjectClass, WebhookType};
use crate::auth::{AccountKind, CurrentUser};
use crate::db::COUNT_CAP;
use crate::delivery::payload::{timestamp, Payload};
use crate::delivery::request::{CallSettings, Request};
use crate::domain::PayloadFormat;
use crate::ids::{AccountId, ProductId, UserId, WebhookId};

#[derive(Debug, Clone)]
pub struct Product {
    pub id: ProductId,
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
    account_id: &AccountId,
    kind: AccountKind,
) -> Result<Vec<Product>, sqlx::Error> {
    match kind {
        AccountKind::Vendor => {
            sqlx::query_as!(
                Product,
                r#"select id as "id: ProductId", name, short_description, capabilities from products
                   where vendor_account_id = $1 order by name, id"#,
                account_id.as_str()
            )
            .fetch_all(pool)
            .await
        }
        AccountKind::Distributor => {
            sqlx::query_as!(
                Product,
                r#"select p.id as "id: ProductId", p.name, p.short_description, p.capabilities from products p
                   join account_products ap on ap.product_id = p.id where ap.account_id = $1 order by p.name, p.id"#,
                account_id.as_str()
            )
            .fetch_all(pool)
            .await
        }
    }
}

pub async fn product_for(
    pool: &PgPool,
    user: &CurrentUser,
    product_id: &ProductId,
) -> Result<Option<Product>, sqlx::Error> {
    Ok(products_for(pool, user)
        .await?
        .into_iter()
        .find(|p| p.id == *product_id))
}

#[derive(Debug, Clone)]
pub struct Webhook {
    pub id: WebhookId,
    pub account_id: AccountId,
    pub product_id: ProductId,
    pub product_name: String,
    pub object_class: ObjectClass,
    /// The API's `type` (`event`, `validator`, …); with the object class, the webhook type.
    pub api_type: String,
    pub label: String,
    pub description: String,
    pub active: bool,
    pub external_url: String,
    pub jwt_secret: String,
    /// The key id of `jwt_secret`: every token carries it in its `kid` header.
    pub jwt_kid: String,
    /// A rotation's new secret, prepared and not yet used (its value is shown once).
    pub next_jwt_kid: Option<String>,
    pub next_secret_prepared_at: Option<DateTime<Utc>>,
    /// After a switch, the secret calls were signed with before, until its grace period ends
    /// (then destroyed; an expired one reads as none).
    pub previous_jwt_kid: Option<String>,
    pub previous_jwt_secret: Option<String>,
    pub previous_secret_until: Option<DateTime<Utc>>,
    pub http_method: HttpMethod,
    pub payload_format: PayloadFormat,
    pub md5_wrap: bool,
    pub headers: Json<Vec<(String, String)>>,
    pub data: Json<Value>,
    /// At most this many calls per second, if set.
    pub rate_limit: Option<i32>,
    pub created_at: DateTime<Utc>,
    pub created_by_id: Option<UserId>,
    pub created_by_name: Option<String>,
    pub created_by_email: Option<String>,
    pub modified_at: DateTime<Utc>,
    pub modified_by_id: Option<UserId>,
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
    /// Why the portal turned it off by itself (a 410 Gone), until it is enabled again.
    pub disabled_reason: Option<String>,
    /// The 24 h success rate in basis points as last refreshed (what the list sorts by).
    pub health_bp: Option<i32>,
}

impl Webhook {
    pub fn webhook_type(&self) -> Option<WebhookType> {
        WebhookType::from_api(self.object_class, &self.api_type)
    }
    pub fn type_label(&self) -> &'static str {
        self.webhook_type().map(|t| t.label()).unwrap_or("Unknown type")
    }
    /// The label in two parts for a narrow column: ("Subscription", "Fulfillment Requests —
    /// Queue Changes"); a label without a group is all second part.
    pub fn type_parts(&self) -> (&'static str, &'static str) {
        let label = self.type_label();
        label.split_once(" — ").unwrap_or(("", label))
    }
    pub fn data_pretty(&self) -> String {
        serde_json::to_string_pretty(&self.data.0).unwrap_or_else(|_| "{}".to_string())
    }
    /// The status chip: (CSS class, label, explanation).
    pub fn status(&self) -> (&'static str, &'static str, String) {
        if !self.active {
            ("chip-off", "Disabled", self.disabled_reason.clone().unwrap_or_default())
        } else if self.out_of_order {
            (
                "chip-bad",
                "Out of order",
                "Too many consecutive failures: automatic calls stopped".to_string(),
            )
        } else {
            ("chip-on", "Enabled", String::new())
        }
    }
    /// The payload (and token claims) of a call of this webhook made `at`.
    pub fn payload(&self, api_url: String, processing_timeout: i64, at: DateTime<Utc>) -> Payload {
        Payload {
            webhook_id: self.id.clone(),
            webhook_name: self.label.clone(),
            object_class: self.object_class,
            account_id: self.account_id.clone(),
            product_id: self.product_id.clone(),
            api_url,
            triggered_at: timestamp(at),
            last_success_at: self.last_success_at.map(timestamp),
            last_failure_at: self.last_failure_at.map(timestamp),
            processing_timeout,
            data: self.data.0.clone(),
            inbound: None,
        }
    }
    /// The settings that shape this webhook's calls.
    pub fn call_settings(&self) -> CallSettings<'_> {
        CallSettings {
            method: self.http_method,
            url: &self.external_url,
            custom_headers: &self.headers.0,
            payload_format: self.payload_format,
            md5_wrap: self.md5_wrap,
        }
    }
    /// The call a queue change makes `at`, built as the delivery task builds it: what a
    /// redelivery sends and the request preview shows.
    pub fn call_at(
        &self,
        api_url: String,
        processing_timeout: i64,
        at: DateTime<Utc>,
    ) -> Result<Request, jsonwebtoken::errors::Error> {
        let payload = self.payload(api_url, processing_timeout, at);
        Request::for_payload(&self.call_settings(), &payload, at, self.signing_key())
    }
    pub fn secret_masked(&self) -> String {
        mask_secret(&self.jwt_secret)
    }
    /// What signs this webhook's calls now.
    pub fn signing_key(&self) -> crate::delivery::payload::SigningKey<'_> {
        crate::delivery::payload::SigningKey {
            secret: &self.jwt_secret,
            kid: &self.jwt_kid,
        }
    }

    /// The secrets a token of this webhook may be signed with now: the current one and,
    /// during a rotation's grace period, the previous one.
    pub fn verification_keys(&self) -> Vec<VerificationKey> {
        let mut keys = vec![VerificationKey {
            role: KeyRole::Current,
            kid: self.jwt_kid.clone(),
            secret: self.jwt_secret.clone(),
        }];
        if let (Some(kid), Some(secret)) = (&self.previous_jwt_kid, &self.previous_jwt_secret) {
            keys.push(VerificationKey {
                role: KeyRole::Previous,
                kid: kid.clone(),
                secret: secret.clone(),
            });
        }
        keys
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyRole {
    Current,
    Previous,
}

/// A secret that verifies this webhook's tokens, and the key id that names it.
#[derive(Debug, Clone)]
pub struct VerificationKey {
    pub role: KeyRole,
    pub kid: String,
    pub secret: String,
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

pub async fn get(pool: &PgPool, account_id: &AccountId, id: &WebhookId) -> Result<Option<Webhook>, sqlx::Error> {
    Ok(get_many(pool, account_id, std::slice::from_ref(id)).await?.pop())
}

/// The account's webhooks among `ids`, oldest first; ids of other accounts are not found.
/// Their statistics count every call recorded so far (the waiting tallies are added first).
pub async fn get_many(pool: &PgPool, account_id: &AccountId, ids: &[WebhookId]) -> Result<Vec<Webhook>, sqlx::Error> {
    crate::delivery::store::add_tallies_for_reading(pool).await;
    sqlx::query_as!(
        Webhook,
        r#"select w.id as "id: WebhookId", w.account_id as "account_id: AccountId",
              w.product_id as "product_id: ProductId", p.name as product_name,
              w.object_class as "object_class: ObjectClass", w.type as api_type, w.label, w.description, w.active,
              w.external_url, w.jwt_secret, w.jwt_kid, w.next_jwt_kid, w.next_secret_prepared_at,
              case when w.previous_secret_until > now() then w.previous_jwt_kid end as previous_jwt_kid,
              case when w.previous_secret_until > now() then w.previous_jwt_secret end as previous_jwt_secret,
              case when w.previous_secret_until > now() then w.previous_secret_until end as previous_secret_until,
              w.http_method as "http_method: HttpMethod",
              w.payload_format as "payload_format: PayloadFormat", w.md5_wrap,
              w.headers as "headers: Json<Vec<(String, String)>>", w.data as "data: Json<Value>", w.rate_limit,
              w.created_at, cu.id as "created_by_id?: UserId", cu.name as "created_by_name?",
              cu.email as "created_by_email?", w.modified_at, mu.id as "modified_by_id?: UserId",
              mu.name as "modified_by_name?", mu.email as "modified_by_email?",
              coalesce(es.events, 0) as "events!", w.triggers, w.success_triggers, w.failure_triggers,
              w.failure_since_last_success, es.last_event_at as "last_event_at?",
              (select min(t.due_at) from webhook_triggers t where t.webhook_id = w.id and t.state = 'pending'
                  and w.active and (t.manual or not w.out_of_order)) as next_trigger_at,
              w.last_success_at, w.last_failure_at,
              w.out_of_order, w.last_success_attempt_id, w.last_failure_attempt_id, w.disabled_reason,
              w.health_bp
           from webhooks w
           join products p on p.id = w.product_id
           left join users cu on cu.id = w.created_by
           left join users mu on mu.id = w.modified_by
           left join webhook_event_stats es on es.webhook_id = w.id
           where w.account_id = $1 and w.id = any($2)
           order by w.created_at, w.id"#,
        account_id.as_str(),
        ids as &[WebhookId],
    )
    .fetch_all(pool)
    .await
}

/// The account's oldest enabled webhook of `webhook_type` on a product (the one a validation
/// calls).
pub async fn first_enabled_of_type(
    pool: &PgPool,
    account_id: &AccountId,
    product_id: &ProductId,
    webhook_type: WebhookType,
) -> Result<Option<Webhook>, sqlx::Error> {
    let info = webhook_type.info();
    let id = sqlx::query_scalar!(
        r#"select id as "id: WebhookId" from webhooks
           where account_id = $1 and product_id = $2 and object_class = $3 and type = $4 and active
           order by created_at, id limit 1"#,
        account_id.as_str(),
        product_id.as_str(),
        info.object_class as ObjectClass,
        info.api_type,
    )
    .fetch_optional(pool)
    .await?;
    match id {
        Some(id) => get(pool, account_id, &id).await,
        None => Ok(None),
    }
}

/// The account's `limit` newest webhooks on a product, newest first, and how many it has there
/// (counted up to just past [`COUNT_CAP`]).
pub async fn newest_on_product(
    pool: &PgPool,
    account_id: &AccountId,
    product_id: &ProductId,
    limit: i64,
) -> Result<(Vec<Webhook>, i64), sqlx::Error> {
    let ids = sqlx::query_scalar!(
        r#"select id as "id: WebhookId" from webhooks where account_id = $1 and product_id = $2
           order by created_at desc, id desc limit $3"#,
        account_id.as_str(),
        product_id.as_str(),
        limit,
    )
    .fetch_all(pool)
    .await?;
    let count = sqlx::query_scalar!(
        r#"select count(*) as "count!" from (select from webhooks where account_id = $1 and product_id = $2
           limit $3) capped"#,
        account_id.as_str(),
        product_id.as_str(),
        COUNT_CAP + 1,
    )
    .fetch_one(pool)
    .await?;
    Ok((list::in_order_of(&ids, get_many(pool, account_id, &ids).await?), count))
}
