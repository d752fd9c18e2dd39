//! API tokens (Integrations → Tokens): a user who may manage tokens creates a named token for the account, sees
//! it once, and can revoke it. The key is `SU-123-456-789:<secret>`; only a SHA-256 of the
//! secret is stored (the secret is 32 random bytes, so a fast hash is enough).

use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};
use sqlx::PgPool;
use subtle::ConstantTimeEq;

use crate::auth::{AccountKind, CurrentUser, Permission, Permissions};
use crate::ids::{AccountId, TokenId};

pub const NAME_MAX: usize = 100;

#[derive(Debug, Clone)]
pub struct Token {
    pub id: TokenId,
    pub name: String,
    pub created_at: DateTime<Utc>,
    pub created_by_name: Option<String>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
    pub permissions: Permissions,
}

impl Token {
    /// What the token may do besides reading, for the list ("Read only" when nothing).
    pub fn access(&self) -> String {
        let granted: Vec<&str> = self.permissions.granted().iter().map(|p| p.short()).collect();
        if granted.is_empty() {
            "Read only".to_string()
        } else {
            format!("Read, {}", granted.join(", ").to_lowercase())
        }
    }
}

fn hash(secret: &str) -> String {
    Sha256::digest(secret.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

pub async fn list(pool: &PgPool, account_id: &AccountId) -> Result<Vec<Token>, sqlx::Error> {
    let rows = sqlx::query!(
        r#"select t.id as "id: TokenId", t.name, t.created_at, u.name as "created_by_name?", t.last_used_at,
                  t.revoked_at, t.can_create_webhooks, t.can_edit_webhooks, t.can_delete_webhooks
           from api_tokens t left join users u on u.id = t.created_by
           where t.account_id = $1 order by t.revoked_at is not null, t.created_at desc"#,
        account_id.as_str()
    )
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| Token {
            id: r.id,
            name: r.name,
            created_at: r.created_at,
            created_by_name: r.created_by_name,
            last_used_at: r.last_used_at,
            revoked_at: r.revoked_at,
            permissions: webhook_permissions(r.can_create_webhooks, r.can_edit_webhooks, r.can_delete_webhooks),
        })
        .collect())
}

fn webhook_permissions(create: bool, edit: bool, delete: bool) -> Permissions {
    Permissions {
        create_webhooks: create,
        edit_webhooks: edit,
        delete_webhooks: delete,
        ..Permissions::VIEW
    }
}

/// Creates a token with the webhook permissions given (the caller has checked they are the
/// user's own at most) and returns its full key (`SU-…:secret`), which is never shown again.
pub async fn create(
    conn: &mut sqlx::PgConnection,
    user: &CurrentUser,
    name: &str,
    permissions: Permissions,
) -> Result<(TokenId, String), sqlx::Error> {
    let secret = crate::ids::random_token(32);
    loop {
        let id = TokenId::generate();
        let r = sqlx::query!(
            "insert into api_tokens (id, account_id, name, secret_hash, created_by, can_create_webhooks,
                                     can_edit_webhooks, can_delete_webhooks)
             values ($1, $2, $3, $4, $5, $6, $7, $8)
             on conflict (id) do nothing",
            id.as_str(),
            user.account_id.as_str(),
            name.trim(),
            hash(&secret),
            user.id.as_str(),
            permissions.create_webhooks,
            permissions.edit_webhooks,
            permissions.delete_webhooks,
        )
        .execute(&mut *conn)
        .await?;
        // A random id collided: draw another (no error, which would end the transaction).
        if r.rows_affected() == 1 {
            let key = format!("{id}:{secret}");
            return Ok((id, key));
        }
    }
}

/// Revokes the account's token (revoking twice keeps the first time); its name, if it exists.
pub async fn revoke(
    db: impl sqlx::PgExecutor<'_>,
    account_id: &AccountId,
    id: &TokenId,
) -> Result<Option<String>, sqlx::Error> {
    sqlx::query_scalar!(
        "update api_tokens set revoked_at = coalesce(revoked_at, now()) where account_id = $1 and id = $2 returning name",
        account_id.as_str(),
        id.as_str()
    )
    .fetch_optional(db)
    .await
}

/// The account an API request acts for, and what its token may change.
#[derive(Debug, Clone)]
pub struct ApiCaller {
    pub token_id: TokenId,
    pub account_id: AccountId,
    pub account_name: String,
    pub account_kind: AccountKind,
    pub permissions: Permissions,
    /// The address the request came from (the audit log's "from where").
    pub client_ip: Option<std::net::IpAddr>,
}

impl ApiCaller {
    pub fn can(&self, p: Permission) -> bool {
        self.permissions.has(p)
    }
}

/// Checks `ApiKey SU-…:secret` (the `ApiKey ` prefix is optional, as clients differ) and
/// notes the token's last use. A token acts with its own permissions as far as its creator
/// still has them, and stops working while its creator is deactivated (a token whose creator
/// is gone keeps reading only).
pub async fn authenticate(pool: &PgPool, header: &str) -> Result<Option<ApiCaller>, sqlx::Error> {
    let key = header.trim();
    let key = key.strip_prefix("ApiKey ").unwrap_or(key).trim();
    let Some((id, secret)) = key.split_once(':') else {
        return Ok(None);
    };
    let Some(token_id) = TokenId::parse(id) else {
        return Ok(None);
    };
    if secret.is_empty() || secret.len() > 200 {
        return Ok(None);
    }
    let row = sqlx::query!(
        r#"select t.secret_hash, a.id as "account_id: AccountId", a.name as account_name,
                  a.kind as "account_kind: AccountKind",
                  t.can_create_webhooks and coalesce(u.can_create_webhooks, false) as "can_create_webhooks!",
                  t.can_edit_webhooks and coalesce(u.can_edit_webhooks, false) as "can_edit_webhooks!",
                  t.can_delete_webhooks and coalesce(u.can_delete_webhooks, false) as "can_delete_webhooks!"
           from api_tokens t join accounts a on a.id = t.account_id
           left join users u on u.id = t.created_by
           where t.id = $1 and t.revoked_at is null and u.deactivated_at is null"#,
        token_id.as_str()
    )
    .fetch_optional(pool)
    .await?;
    let Some(row) = row else {
        return Ok(None);
    };
    if !bool::from(hash(secret).as_bytes().ct_eq(row.secret_hash.as_bytes())) {
        return Ok(None);
    }
    // At most once a minute, so busy clients don't write on every request.
    sqlx::query!(
        "update api_tokens set last_used_at = now()
         where id = $1 and (last_used_at is null or last_used_at < now() - interval '1 minute')",
        token_id.as_str()
    )
    .execute(pool)
    .await?;
    Ok(Some(ApiCaller {
        token_id,
        account_id: row.account_id,
        account_name: row.account_name,
        account_kind: row.account_kind,
        permissions: webhook_permissions(row.can_create_webhooks, row.can_edit_webhooks, row.can_delete_webhooks),
        client_ip: None,
    }))
}
