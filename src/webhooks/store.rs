//! SQL for webhooks and the products they watch. Every query is scoped by account: a
//! webhook of another account is simply not found.

use chrono::{DateTime, Utc};
use serde_json::{Map, Value};
use sqlx::types::Json;
use sqlx::{PgPool, Postgres, QueryBuilder};

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

#[derive(Debug, Default, Clone)]
pub struct ListFilter {
    pub active: Option<bool>,
    pub out_of_order: bool,
    pub webhook_type: Option<WebhookType>,
    pub product_id: Option<String>,
    /// Case-insensitive part of the name, or an exact ID.
    pub search: Option<String>,
}

/// A position in the list: the (created_at, id) of a row.
#[derive(Debug, Clone, PartialEq)]
pub struct Cursor {
    pub created_at: DateTime<Utc>,
    pub id: String,
}

impl Cursor {
    pub fn encode(&self) -> String {
        format!("{}_{}", self.created_at.timestamp_micros(), self.id)
    }
    pub fn decode(raw: &str) -> Option<Cursor> {
        let (micros, id) = raw.split_once('_')?;
        let created_at = DateTime::from_timestamp_micros(micros.parse().ok()?)?;
        crate::ids::has_shape(id, "WH", 3).then(|| Cursor {
            created_at,
            id: id.to_string(),
        })
    }
}

pub enum Page {
    First,
    After(Cursor),
    Before(Cursor),
}

pub struct ListPage {
    pub rows: Vec<Webhook>,
    pub next: Option<Cursor>,
    pub prev: Option<Cursor>,
    pub total: i64,
}

fn push_filters(q: &mut QueryBuilder<'_, Postgres>, account_id: &str, filter: &ListFilter) {
    q.push(" where w.account_id = ").push_bind(account_id.to_string());
    if let Some(active) = filter.active {
        q.push(" and w.active = ").push_bind(active);
    }
    if filter.out_of_order {
        q.push(" and w.out_of_order");
    }
    if let Some(t) = filter.webhook_type {
        let i = t.info();
        q.push(" and w.object_class = ").push_bind(i.object_class);
        q.push(" and w.type = ").push_bind(i.api_type);
    }
    if let Some(product) = &filter.product_id {
        q.push(" and w.product_id = ").push_bind(product.clone());
    }
    if let Some(search) = &filter.search {
        let pattern = format!("%{}%", crate::db::escape_like(search));
        q.push(" and (w.label ilike ")
            .push_bind(pattern)
            .push(" or upper(w.id) = ")
            .push_bind(search.to_uppercase())
            .push(")");
    }
}

/// One page of the account's webhooks, newest first, with keyset paging.
pub async fn list(
    pool: &PgPool,
    account_id: &str,
    filter: &ListFilter,
    page: Page,
    limit: usize,
) -> Result<ListPage, sqlx::Error> {
    let mut q: QueryBuilder<Postgres> = QueryBuilder::new(SELECT);
    push_filters(&mut q, account_id, filter);
    let backwards = matches!(page, Page::Before(_));
    match &page {
        Page::First => {}
        Page::After(c) => {
            q.push(" and (w.created_at, w.id) < (")
                .push_bind(c.created_at)
                .push(", ")
                .push_bind(c.id.clone())
                .push(")");
        }
        Page::Before(c) => {
            q.push(" and (w.created_at, w.id) > (")
                .push_bind(c.created_at)
                .push(", ")
                .push_bind(c.id.clone())
                .push(")");
        }
    }
    q.push(if backwards {
        " order by w.created_at asc, w.id asc"
    } else {
        " order by w.created_at desc, w.id desc"
    });
    q.push(" limit ").push_bind((limit + 1) as i64);
    let mut rows: Vec<Webhook> = q.build_query_as().fetch_all(pool).await?;
    let more = rows.len() > limit;
    rows.truncate(limit);
    if backwards {
        rows.reverse();
    }
    let cursor = |w: &Webhook| Cursor {
        created_at: w.created_at,
        id: w.id.clone(),
    };
    let (next, prev) = match page {
        Page::First => (if more { rows.last().map(cursor) } else { None }, None),
        Page::After(_) => (
            if more { rows.last().map(cursor) } else { None },
            rows.first().map(cursor),
        ),
        Page::Before(_) => (
            rows.last().map(cursor),
            if more { rows.first().map(cursor) } else { None },
        ),
    };

    let mut count: QueryBuilder<Postgres> = QueryBuilder::new("select count(*) from webhooks w");
    push_filters(&mut count, account_id, filter);
    let total: i64 = count.build_query_scalar().fetch_one(pool).await?;
    Ok(ListPage {
        rows,
        next,
        prev,
        total,
    })
}

/// The HTTP settings of a webhook, already validated.
pub struct HttpSettings<'a> {
    pub external_url: &'a str,
    pub jwt_secret: &'a str,
    pub method: HttpMethod,
    pub headers: &'a [(String, String)],
    pub rate_limit: Option<i32>,
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

/// Everything needed to create a webhook, already validated.
pub struct NewWebhook {
    pub product_id: String,
    pub webhook_type: WebhookType,
    pub label: String,
    pub description: String,
    pub active: bool,
    pub external_url: String,
    pub jwt_secret: String,
    pub http_method: HttpMethod,
    pub headers: Vec<(String, String)>,
    pub data: Map<String, Value>,
    pub rate_limit: Option<i32>,
}

pub async fn insert(pool: &PgPool, user: &CurrentUser, new: &NewWebhook) -> Result<String, sqlx::Error> {
    insert_for(pool, &user.account_id, Some(&user.id), new).await
}

/// Inserts for an account; `user_id` is `None` when an API token creates it.
pub async fn insert_for(
    pool: &PgPool,
    account_id: &str,
    user_id: Option<&str>,
    new: &NewWebhook,
) -> Result<String, sqlx::Error> {
    let info = new.webhook_type.info();
    loop {
        let id = crate::ids::webhook_id();
        let result = sqlx::query(
            "insert into webhooks (id, account_id, product_id, object_class, type, label, description, active,
                external_url, jwt_secret, http_method, headers, data, created_by, modified_by, rate_limit)
             values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $14, $15)",
        )
        .bind(&id)
        .bind(account_id)
        .bind(&new.product_id)
        .bind(info.object_class)
        .bind(info.api_type)
        .bind(new.label.trim())
        .bind(&new.description)
        .bind(new.active)
        .bind(new.external_url.trim())
        .bind(&new.jwt_secret)
        .bind(new.http_method.as_str())
        .bind(Json(&new.headers))
        .bind(Json(&new.data))
        .bind(user_id)
        .bind(new.rate_limit)
        .execute(pool)
        .await;
        match result {
            Ok(_) => return Ok(id),
            // A random ID collided: draw another.
            Err(sqlx::Error::Database(e)) if e.constraint() == Some("webhooks_pkey") => continue,
            Err(e) => return Err(e),
        }
    }
}

/// The columns to set when a save may turn a disabled webhook on (`active` is the parameter
/// holding the new value): that ends "out of order" and restarts the retry budget.
pub(crate) fn enabling_resets(active: &str) -> String {
    format!(
        "out_of_order = out_of_order and not ({active} and not active),
         failures_since_reset = case when {active} and not active then 0 else failures_since_reset end"
    )
}

pub async fn update_general(
    pool: &PgPool,
    user: &CurrentUser,
    id: &str,
    label: &str,
    description: &str,
    active: bool,
) -> Result<bool, sqlx::Error> {
    let r = sqlx::query(&format!(
        "update webhooks set label = $3, description = $4, active = $5, modified_at = now(), modified_by = $6,
             {}
         where account_id = $1 and id = $2",
        enabling_resets("$5")
    ))
    .bind(&user.account_id)
    .bind(id)
    .bind(label.trim())
    .bind(description)
    .bind(active)
    .bind(&user.id)
    .execute(pool)
    .await?;
    Ok(r.rows_affected() == 1)
}

pub async fn update_http(
    pool: &PgPool,
    user: &CurrentUser,
    id: &str,
    http: &HttpSettings<'_>,
) -> Result<bool, sqlx::Error> {
    let r = sqlx::query(
        "update webhooks set external_url = $3, jwt_secret = $4, http_method = $5, headers = $6,
            modified_at = now(), modified_by = $7, rate_limit = $8
         where account_id = $1 and id = $2",
    )
    .bind(&user.account_id)
    .bind(id)
    .bind(http.external_url.trim())
    .bind(http.jwt_secret)
    .bind(http.method.as_str())
    .bind(Json(http.headers))
    .bind(&user.id)
    .bind(http.rate_limit)
    .execute(pool)
    .await?;
    Ok(r.rows_affected() == 1)
}

pub async fn update_data(
    pool: &PgPool,
    user: &CurrentUser,
    id: &str,
    data: &Map<String, Value>,
) -> Result<bool, sqlx::Error> {
    let r = sqlx::query(
        "update webhooks set data = $3, modified_at = now(), modified_by = $4 where account_id = $1 and id = $2",
    )
    .bind(&user.account_id)
    .bind(id)
    .bind(Json(data))
    .bind(&user.id)
    .execute(pool)
    .await?;
    Ok(r.rows_affected() == 1)
}

pub async fn set_active(pool: &PgPool, user: &CurrentUser, id: &str, active: bool) -> Result<bool, sqlx::Error> {
    let r = sqlx::query(
        // Enabling (again) also ends "out of order" and restarts the retry budget.
        "update webhooks set active = $3, modified_at = now(), modified_by = $4,
             out_of_order = out_of_order and not $3,
             failures_since_reset = case when $3 then 0 else failures_since_reset end
         where account_id = $1 and id = $2",
    )
    .bind(&user.account_id)
    .bind(id)
    .bind(active)
    .bind(&user.id)
    .execute(pool)
    .await?;
    Ok(r.rows_affected() == 1)
}

pub async fn delete(pool: &PgPool, account_id: &str, id: &str) -> Result<bool, sqlx::Error> {
    let r = sqlx::query("delete from webhooks where account_id = $1 and id = $2")
        .bind(account_id)
        .bind(id)
        .execute(pool)
        .await?;
    Ok(r.rows_affected() == 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursor_round_trips() {
        let c = Cursor {
            created_at: DateTime::from_timestamp_micros(1_700_000_000_123_456).unwrap(),
            id: "WH-123-456-789".into(),
        };
        assert_eq!(Cursor::decode(&c.encode()), Some(c));
        assert_eq!(Cursor::decode("nonsense"), None);
        assert_eq!(Cursor::decode("12_WH-1"), None);
    }

    #[test]
    fn secrets_are_masked_like_connect() {
        assert_eq!(mask_secret("JWT-f8416c0e-6a3f-33da"), "JWT-f841*****33da");
        assert_eq!(mask_secret("short"), "*****");
    }
}

/// How many queue-change webhooks of the account watch the product's queue: (enabled, all).
pub async fn watching_counts(
    pool: &PgPool,
    account_id: &str,
    product_id: &str,
    object_class: &str,
) -> Result<(i64, i64), sqlx::Error> {
    sqlx::query_as(
        "select count(*) filter (where active), count(*) from webhooks
         where account_id = $1 and product_id = $2 and object_class = $3 and type = 'event'",
    )
    .bind(account_id)
    .bind(product_id)
    .bind(object_class)
    .fetch_one(pool)
    .await
}

/// Whether a call is pending or in flight, and whether that is soon (for the auto-refresh).
pub async fn delivery_busy(pool: &PgPool, webhook_id: &str) -> Result<Option<bool>, sqlx::Error> {
    let row: Option<(bool,)> = sqlx::query_as(
        "select bool_or(t.state = 'in_flight' or t.due_at <= now() + interval '60 seconds')
         from webhook_triggers t join webhooks w on w.id = t.webhook_id
         where t.webhook_id = $1 and (t.state = 'in_flight' or (w.active and (t.manual or not w.out_of_order)))
         having count(*) > 0",
    )
    .bind(webhook_id)
    .fetch_optional(pool)
    .await?;
    Ok(row.map(|r| r.0))
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Attempt {
    pub id: i64,
    pub manual: bool,
    pub started_at: DateTime<Utc>,
    pub duration_ms: i32,
    pub success: bool,
    pub status_code: Option<i32>,
    pub error_kind: Option<String>,
    pub error: Option<String>,
    pub request_method: String,
    pub request_url: String,
    pub request_headers: Json<Vec<(String, String)>>,
    pub request_body: Option<String>,
    pub response_headers: Json<Vec<(String, String)>>,
    pub response_body: Option<String>,
    pub response_truncated: bool,
    /// None for a validation call (made while someone waited, not from the queue).
    pub trigger_id: Option<i64>,
    pub message_id: Option<i64>,
}

impl Attempt {
    /// Why the call was made, when it was not an ordinary queue-change trigger.
    pub fn cause(&self) -> Option<String> {
        if self.trigger_id.is_none() {
            Some("Validation".to_string())
        } else if let Some(m) = self.message_id {
            Some(format!("Inbound message #{m}"))
        } else if self.manual {
            Some("Trigger now".to_string())
        } else {
            None
        }
    }

    pub fn error_kind_label(&self) -> &'static str {
        match self.error_kind.as_deref() {
            Some("dns") => "DNS error",
            Some("refused") => "Connection refused",
            Some("connect") => "Connection error",
            Some("tls") => "TLS error",
            Some("timeout") => "Timeout",
            Some("blocked") => "Address refused by policy",
            Some("http") => "Non-2xx response",
            Some("body") => "Response body error",
            Some(_) => "Error",
            None => "",
        }
    }
    pub fn pretty_request_body(&self) -> String {
        pretty(self.request_body.as_deref().unwrap_or(""))
    }
    pub fn pretty_response_body(&self) -> String {
        pretty(self.response_body.as_deref().unwrap_or(""))
    }
}

/// Pretty-prints JSON bodies; leaves anything else as it is.
fn pretty(body: &str) -> String {
    serde_json::from_str::<Value>(body)
        .ok()
        .and_then(|v| serde_json::to_string_pretty(&v).ok())
        .unwrap_or_else(|| body.to_string())
}

const ATTEMPT_COLUMNS: &str = "id, manual, started_at, duration_ms, success, status_code, error_kind, error,
    request_method, request_url, request_headers, request_body, response_headers, response_body, response_truncated,
    trigger_id, message_id";

/// A page of attempts, newest first, before the attempt `before` (keyset on id).
pub async fn attempts(
    pool: &PgPool,
    webhook_id: &str,
    success: Option<bool>,
    before: Option<i64>,
    limit: i64,
) -> Result<Vec<Attempt>, sqlx::Error> {
    sqlx::query_as(&format!(
        "select {ATTEMPT_COLUMNS} from webhook_attempts
         where webhook_id = $1 and ($2::boolean is null or success = $2) and ($3::bigint is null or id < $3)
         order by id desc limit $4"
    ))
    .bind(webhook_id)
    .bind(success)
    .bind(before)
    .bind(limit)
    .fetch_all(pool)
    .await
}

pub async fn attempt(pool: &PgPool, webhook_id: &str, attempt_id: i64) -> Result<Option<Attempt>, sqlx::Error> {
    sqlx::query_as(&format!(
        "select {ATTEMPT_COLUMNS} from webhook_attempts where webhook_id = $1 and id = $2"
    ))
    .bind(webhook_id)
    .bind(attempt_id)
    .fetch_optional(pool)
    .await
}
