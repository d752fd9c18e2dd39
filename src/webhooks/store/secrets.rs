//! Staged secret rotation: prepare a new secret (shown once), switch calls to it while the
//! previous one keeps verifying for a grace period, switch back, and destroy the previous
//! one when its grace period ends. Each step is one statement on the webhook row, checked
//! against the state it expects, so two admins pressing buttons at once cannot mix steps.

use chrono::{DateTime, Utc};
use sqlx::PgConnection;

use crate::ids::{AccountId, WebhookId};

/// A new key id: `k_` and 12 random characters. Names a secret without saying anything of it.
pub fn new_kid() -> String {
    let raw = crate::ids::random_token(9);
    format!("k_{}", raw.replace(['-', '_'], "x"))
}

/// A prepared secret, to show once.
pub struct Prepared {
    pub kid: String,
    pub secret: String,
}

/// Prepares a new secret unless one is already prepared (`None`: nothing changed).
pub async fn prepare(
    conn: &mut PgConnection,
    account_id: &AccountId,
    id: &WebhookId,
) -> Result<Option<Prepared>, sqlx::Error> {
    let prepared = Prepared {
        kid: new_kid(),
        secret: crate::webhooks::model::generate_secret(),
    };
    let r = sqlx::query!(
        "update webhooks set next_jwt_secret = $3, next_jwt_kid = $4, next_secret_prepared_at = now()
         where account_id = $1 and id = $2 and next_jwt_secret is null",
        account_id.as_str(),
        id.as_str(),
        prepared.secret,
        prepared.kid,
    )
    .execute(conn)
    .await?;
    Ok((r.rows_affected() == 1).then_some(prepared))
}

/// What a switch did: the key now signing, and the one kept until `until`.
pub struct Switched {
    pub kid: String,
    pub previous_kid: String,
    pub until: DateTime<Utc>,
    /// A previous secret still in its grace period that this switch destroyed early.
    pub destroyed_kid: Option<String>,
}

/// Calls are signed with the prepared secret from now on; the current one becomes the
/// previous one for `grace`. `None` when no secret is prepared.
pub async fn switch(
    conn: &mut PgConnection,
    account_id: &AccountId,
    id: &WebhookId,
    grace: std::time::Duration,
) -> Result<Option<Switched>, sqlx::Error> {
    let row = sqlx::query!(
        r#"update webhooks w set jwt_secret = w.next_jwt_secret, jwt_kid = w.next_jwt_kid,
               previous_jwt_secret = w.jwt_secret, previous_jwt_kid = w.jwt_kid,
               previous_secret_until = now() + make_interval(secs => $3),
               next_jwt_secret = null, next_jwt_kid = null, next_secret_prepared_at = null,
               modified_at = now()
           from (select id, case when previous_secret_until > now() then previous_jwt_kid end as destroyed_kid
                 from webhooks where account_id = $1 and id = $2 for update) old
           where w.id = old.id and w.next_jwt_secret is not null
           returning w.jwt_kid, w.previous_jwt_kid as "previous_kid!", w.previous_secret_until as "until!",
                     old.destroyed_kid"#,
        account_id.as_str(),
        id.as_str(),
        grace.as_secs_f64(),
    )
    .fetch_optional(conn)
    .await?;
    Ok(row.map(|r| Switched {
        kid: r.jwt_kid,
        previous_kid: r.previous_kid,
        until: r.until,
        destroyed_kid: r.destroyed_kid,
    }))
}

/// Back to the previous secret while it is in its grace period; the newer one becomes the
/// prepared secret again (Switch uses it once more). Returns (signing kid, prepared kid).
pub async fn switch_back(
    conn: &mut PgConnection,
    account_id: &AccountId,
    id: &WebhookId,
) -> Result<Option<(String, String)>, sqlx::Error> {
    let row = sqlx::query!(
        r#"update webhooks set jwt_secret = previous_jwt_secret, jwt_kid = previous_jwt_kid,
               next_jwt_secret = jwt_secret, next_jwt_kid = jwt_kid, next_secret_prepared_at = now(),
               previous_jwt_secret = null, previous_jwt_kid = null, previous_secret_until = null,
               modified_at = now()
           where account_id = $1 and id = $2 and previous_secret_until > now() and next_jwt_secret is null
           returning jwt_kid, next_jwt_kid as "next_kid!""#,
        account_id.as_str(),
        id.as_str(),
    )
    .fetch_optional(conn)
    .await?;
    Ok(row.map(|r| (r.jwt_kid, r.next_kid)))
}

/// Discards a prepared secret. Returns its kid, `None` when none was prepared.
pub async fn discard(
    conn: &mut PgConnection,
    account_id: &AccountId,
    id: &WebhookId,
) -> Result<Option<String>, sqlx::Error> {
    sqlx::query_scalar!(
        r#"update webhooks w set next_jwt_secret = null, next_jwt_kid = null, next_secret_prepared_at = null
           from (select id, next_jwt_kid from webhooks where account_id = $1 and id = $2 for update) old
           where w.id = old.id and w.next_jwt_secret is not null
           returning old.next_jwt_kid as "kid!""#,
        account_id.as_str(),
        id.as_str(),
    )
    .fetch_optional(conn)
    .await
}

/// Destroys the previous secrets whose grace period has ended (at most `limit`), each with an
/// audit record by the portal. Returns how many went.
pub async fn destroy_expired(pool: &sqlx::PgPool, limit: i64) -> Result<u64, sqlx::Error> {
    let r = sqlx::query!(
        r#"with gone as (
               update webhooks w set previous_jwt_secret = null, previous_jwt_kid = null, previous_secret_until = null
               from (select id, previous_jwt_kid from webhooks
                     where previous_secret_until <= now() order by previous_secret_until limit $1
                     for update skip locked) old
               where w.id = old.id
               returning w.account_id, w.id, w.label, old.previous_jwt_kid)
           insert into audit_records (account_id, actor_kind, actor_name, action, object_kind, object_id,
               object_name, changes, detail)
           select account_id, 'portal', 'Webhook portal', 'secret.destroyed', 'webhook', id, label,
                  jsonb_build_array(jsonb_build_object('field', 'Previous secret', 'before', 'key ' || previous_jwt_kid,
                                                       'after', null)),
                  'The grace period ended: tokens signed with key ' || previous_jwt_kid || ' no longer verify.'
           from gone"#,
        limit
    )
    .execute(pool)
    .await?;
    Ok(r.rows_affected())
}
