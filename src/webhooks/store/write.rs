//! Creating, changing, enabling and deleting webhooks.

use serde_json::{Map, Value};
use sqlx::types::Json;
use sqlx::{PgConnection, PgExecutor};

use crate::auth::CurrentUser;
use crate::domain::PayloadFormat;
use crate::ids::{AccountId, ProductId, UserId, WebhookId};
use crate::webhooks::model::{HttpMethod, ObjectClass, WebhookType};

/// The HTTP settings of a webhook, already validated.
pub struct HttpSettings<'a> {
    pub external_url: &'a str,
    pub jwt_secret: &'a str,
    pub method: HttpMethod,
    pub payload_format: PayloadFormat,
    pub md5_wrap: bool,
    pub headers: &'a [(String, String)],
    pub rate_limit: Option<i32>,
}

/// Everything needed to create a webhook, already validated.
pub struct NewWebhook {
    pub product_id: ProductId,
    pub webhook_type: WebhookType,
    pub label: String,
    pub description: String,
    pub active: bool,
    pub external_url: String,
    pub jwt_secret: String,
    pub http_method: HttpMethod,
    pub payload_format: PayloadFormat,
    pub md5_wrap: bool,
    pub headers: Vec<(String, String)>,
    pub data: Map<String, Value>,
    pub rate_limit: Option<i32>,
}

pub async fn insert(conn: &mut PgConnection, user: &CurrentUser, new: &NewWebhook) -> Result<WebhookId, sqlx::Error> {
    insert_for(conn, &user.account_id, Some(&user.id), new).await
}

/// Inserts for an account; `user_id` is `None` when an API token creates it.
pub async fn insert_for(
    conn: &mut PgConnection,
    account_id: &AccountId,
    user_id: Option<&UserId>,
    new: &NewWebhook,
) -> Result<WebhookId, sqlx::Error> {
    let info = new.webhook_type.info();
    loop {
        let id = WebhookId::generate();
        let result = sqlx::query!(
            "insert into webhooks (id, account_id, product_id, object_class, type, label, description, active,
                external_url, jwt_secret, http_method, headers, data, created_by, modified_by, rate_limit,
                payload_format, md5_wrap)
             values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $14, $15, $16, $17)
             on conflict (id) do nothing",
            id.as_str(),
            account_id.as_str(),
            new.product_id.as_str(),
            info.object_class as ObjectClass,
            info.api_type,
            new.label.trim(),
            &new.description,
            new.active,
            new.external_url.trim(),
            &new.jwt_secret,
            new.http_method as HttpMethod,
            Json(&new.headers) as _,
            Json(&new.data) as _,
            user_id.map(UserId::as_str),
            new.rate_limit,
            new.payload_format as PayloadFormat,
            new.md5_wrap,
        )
        .execute(&mut *conn)
        .await?;
        // A random ID collided: draw another (without an error, which would end the
        // transaction this runs in).
        if result.rows_affected() == 1 {
            return Ok(id);
        }
    }
}

pub async fn update_general(
    db: impl PgExecutor<'_>,
    user: &CurrentUser,
    id: &WebhookId,
    label: &str,
    description: &str,
    active: bool,
) -> Result<bool, sqlx::Error> {
    // Turning a disabled webhook on ends "out of order" and restarts the retry budget.
    let r = sqlx::query!(
        "update webhooks set label = $3, description = $4, active = $5, modified_at = now(), modified_by = $6,
             disabled_reason = case when $5 = active then disabled_reason end,
             out_of_order = out_of_order and not ($5 and not active),
             failures_since_reset = case when $5 and not active then 0 else failures_since_reset end
         where account_id = $1 and id = $2",
        user.account_id.as_str(),
        id.as_str(),
        label.trim(),
        description,
        active,
        user.id.as_str(),
    )
    .execute(db)
    .await?;
    Ok(r.rows_affected() == 1)
}

pub async fn update_http(
    db: impl PgExecutor<'_>,
    user: &CurrentUser,
    id: &WebhookId,
    http: &HttpSettings<'_>,
) -> Result<bool, sqlx::Error> {
    let r = sqlx::query!(
        "update webhooks set external_url = $3, jwt_secret = $4, http_method = $5, headers = $6,
            modified_at = now(), modified_by = $7, rate_limit = $8, payload_format = $9, md5_wrap = $10,
            jwt_kid = case when jwt_secret = $4 then jwt_kid else $11 end
         where account_id = $1 and id = $2",
        user.account_id.as_str(),
        id.as_str(),
        http.external_url.trim(),
        http.jwt_secret,
        http.method as HttpMethod,
        Json(http.headers) as _,
        user.id.as_str(),
        http.rate_limit,
        http.payload_format as PayloadFormat,
        http.md5_wrap,
        super::secrets::new_kid(),
    )
    .execute(db)
    .await?;
    Ok(r.rows_affected() == 1)
}

pub async fn update_data(
    db: impl PgExecutor<'_>,
    user: &CurrentUser,
    id: &WebhookId,
    data: &Map<String, Value>,
) -> Result<bool, sqlx::Error> {
    let r = sqlx::query!(
        "update webhooks set data = $3, modified_at = now(), modified_by = $4 where account_id = $1 and id = $2",
        user.account_id.as_str(),
        id.as_str(),
        Json(data) as _,
        user.id.as_str(),
    )
    .execute(db)
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
pub async fn update_whole(
    db: impl PgExecutor<'_>,
    account_id: &AccountId,
    id: &WebhookId,
    w: &WholeUpdate<'_>,
) -> Result<bool, sqlx::Error> {
    let r = sqlx::query!(
        "update webhooks set label = $3, description = $4, external_url = $5, jwt_secret = $6, http_method = $7,
             headers = $8, data = $9, active = $10, rate_limit = $11, payload_format = $12, md5_wrap = $13,
             modified_at = now(), modified_by = null,
             jwt_kid = case when jwt_secret = $6 then jwt_kid else $14 end,
             disabled_reason = case when $10 = active then disabled_reason end,
             out_of_order = out_of_order and not ($10 and not active),
             failures_since_reset = case when $10 and not active then 0 else failures_since_reset end
         where account_id = $1 and id = $2",
        account_id.as_str(),
        id.as_str(),
        w.label.trim(),
        w.description,
        w.http.external_url.trim(),
        w.http.jwt_secret,
        w.http.method as HttpMethod,
        Json(w.http.headers) as _,
        Json(w.data) as _,
        w.active,
        w.http.rate_limit,
        w.http.payload_format as PayloadFormat,
        w.http.md5_wrap,
        super::secrets::new_kid(),
    )
    .execute(db)
    .await?;
    Ok(r.rows_affected() == 1)
}

pub async fn set_active(
    db: impl PgExecutor<'_>,
    user: &CurrentUser,
    id: &WebhookId,
    active: bool,
) -> Result<bool, sqlx::Error> {
    // Enabling (again) also ends "out of order" and restarts the retry budget.
    let r = sqlx::query!(
        "update webhooks set active = $3, modified_at = now(), modified_by = $4, disabled_reason = null,
             out_of_order = out_of_order and not $3,
             failures_since_reset = case when $3 then 0 else failures_since_reset end
         where account_id = $1 and id = $2",
        user.account_id.as_str(),
        id.as_str(),
        active,
        user.id.as_str(),
    )
    .execute(db)
    .await?;
    Ok(r.rows_affected() == 1)
}

pub async fn delete(db: impl PgExecutor<'_>, account_id: &AccountId, id: &WebhookId) -> Result<bool, sqlx::Error> {
    let r = sqlx::query!(
        "delete from webhooks where account_id = $1 and id = $2",
        account_id.as_str(),
        id.as_str()
    )
    .execute(db)
    .await?;
    Ok(r.rows_affected() == 1)
}
