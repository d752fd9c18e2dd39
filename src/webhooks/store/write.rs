//! Creating, changing, enabling and deleting webhooks.

use serde_json::{Map, Value};
use sqlx::types::Json;
use sqlx::PgPool;

use crate::auth::CurrentUser;
use crate::webhooks::model::{HttpMethod, WebhookType};

/// The HTTP settings of a webhook, already validated.
pub struct HttpSettings<'a> {
    pub external_url: &'a str,
    pub jwt_secret: &'a str,
    pub method: HttpMethod,
    pub headers: &'a [(String, String)],
    pub rate_limit: Option<i32>,
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

pub async fn update_general(
    pool: &PgPool,
    user: &CurrentUser,
    id: &str,
    label: &str,
    description: &str,
    active: bool,
) -> Result<bool, sqlx::Error> {
    // Turning a disabled webhook on ends "out of order" and restarts the retry budget.
    let r = sqlx::query(
        "update webhooks set label = $3, description = $4, active = $5, modified_at = now(), modified_by = $6,
             out_of_order = out_of_order and not ($5 and not active),
             failures_since_reset = case when $5 and not active then 0 else failures_since_reset end
         where account_id = $1 and id = $2",
    )
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

/// Everything a webhook's API update may set (a partial PUT merged with what is stored).
pub struct WholeUpdate<'a> {
    pub label: &'a str,
    pub description: &'a str,
    pub active: bool,
    pub http: HttpSettings<'a>,
    pub data: &'a Value,
}

/// Saves an API update (no user: an API token made it). Turning a disabled webhook on ends
/// "out of order" and restarts the retry budget.
pub async fn update_whole(pool: &PgPool, account_id: &str, id: &str, w: &WholeUpdate<'_>) -> Result<bool, sqlx::Error> {
    let r = sqlx::query(
        "update webhooks set label = $3, description = $4, external_url = $5, jwt_secret = $6, http_method = $7,
             headers = $8, data = $9, active = $10, rate_limit = $11, modified_at = now(), modified_by = null,
             out_of_order = out_of_order and not ($10 and not active),
             failures_since_reset = case when $10 and not active then 0 else failures_since_reset end
         where account_id = $1 and id = $2",
    )
    .bind(account_id)
    .bind(id)
    .bind(w.label.trim())
    .bind(w.description)
    .bind(w.http.external_url.trim())
    .bind(w.http.jwt_secret)
    .bind(w.http.method.as_str())
    .bind(Json(w.http.headers))
    .bind(Json(w.data))
    .bind(w.active)
    .bind(w.http.rate_limit)
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
