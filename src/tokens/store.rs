//! API tokens (Integrations → Tokens): an admin creates a named token for the account, sees
//! it once, and can revoke it. The key is `SU-123-456-789:<secret>`; only a SHA-256 of the
//! secret is stored (the secret is 32 random bytes, so a fast hash is enough).

use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};
use sqlx::PgPool;
use subtle::ConstantTimeEq;

use crate::auth::{AccountKind, CurrentUser};

pub const NAME_MAX: usize = 100;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Token {
    pub id: String,
    pub name: String,
    pub created_at: DateTime<Utc>,
    pub created_by_name: Option<String>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
}

fn hash(secret: &str) -> String {
    Sha256::digest(secret.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

pub async fn list(pool: &PgPool, account_id: &str) -> Result<Vec<Token>, sqlx::Error> {
    sqlx::query_as(
        "select t.id, t.name, t.created_at, u.name as created_by_name, t.last_used_at, t.revoked_at
         from api_tokens t left join users u on u.id = t.created_by
         where t.account_id = $1 order by t.revoked_at is not null, t.created_at desc",
    )
    .bind(account_id)
    .fetch_all(pool)
    .await
}

/// Creates a token and returns its full key (`SU-…:secret`), which is never shown again.
pub async fn create(pool: &PgPool, user: &CurrentUser, name: &str) -> Result<(String, String), sqlx::Error> {
    let secret = crate::ids::random_token(32);
    loop {
        let id = crate::ids::random_id("SU", 3);
        let r = sqlx::query(
            "insert into api_tokens (id, account_id, name, secret_hash, created_by) values ($1, $2, $3, $4, $5)",
        )
        .bind(&id)
        .bind(&user.account_id)
        .bind(name.trim())
        .bind(hash(&secret))
        .bind(&user.id)
        .execute(pool)
        .await;
        match r {
            Ok(_) => return Ok((id.clone(), format!("{id}:{secret}"))),
            Err(sqlx::Error::Database(e)) if e.constraint() == Some("api_tokens_pkey") => continue,
            Err(e) => return Err(e),
        }
    }
}

pub async fn revoke(pool: &PgPool, account_id: &str, id: &str) -> Result<Option<String>, sqlx::Error> {
    sqlx::query_scalar(
        "update api_tokens set revoked_at = coalesce(revoked_at, now()) where account_id = $1 and id = $2 returning name",
    )
    .bind(account_id)
    .bind(id)
    .fetch_optional(pool)
    .await
}

/// The account an API request acts for.
#[derive(Debug, Clone)]
pub struct ApiCaller {
    pub token_id: String,
    pub account_id: String,
    pub account_name: String,
    pub account_kind: AccountKind,
}

/// Checks `ApiKey SU-…:secret` (the `ApiKey ` prefix is optional, as clients differ) and
/// notes the token's last use.
pub async fn authenticate(pool: &PgPool, header: &str) -> Result<Option<ApiCaller>, sqlx::Error> {
    let key = header.trim();
    let key = key.strip_prefix("ApiKey ").unwrap_or(key).trim();
    let Some((id, secret)) = key.split_once(':') else {
        return Ok(None);
    };
    if !crate::ids::has_shape(id, "SU", 3) || secret.is_empty() || secret.len() > 200 {
        return Ok(None);
    }
    let row: Option<(String, String, String, String)> = sqlx::query_as(
        "select t.secret_hash, a.id, a.name, a.kind from api_tokens t join accounts a on a.id = t.account_id
         where t.id = $1 and t.revoked_at is null",
    )
    .bind(id)
    .fetch_optional(pool)
    .await?;
    let Some((stored, account_id, account_name, kind)) = row else {
        return Ok(None);
    };
    if !bool::from(hash(secret).as_bytes().ct_eq(stored.as_bytes())) {
        return Ok(None);
    }
    // At most once a minute, so busy clients don't write on every request.
    sqlx::query(
        "update api_tokens set last_used_at = now() where id = $1 and (last_used_at is null or last_used_at < now() - interval '1 minute')",
    )
    .bind(id)
    .execute(pool)
    .await?;
    Ok(AccountKind::parse(&kind).map(|account_kind| ApiCaller {
        token_id: id.to_string(),
        account_id,
        account_name,
        account_kind,
    }))
}
