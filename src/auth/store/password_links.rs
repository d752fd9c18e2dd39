//! One-time links to set a password: a new user's first one, or a reset by someone who
//! manages users. The token is 32 random bytes, shown once in the link; only its SHA-256 is
//! kept. A new link replaces the user's unused ones; using a link ends the user's sessions.

use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};
use sqlx::{PgConnection, PgPool};

use crate::ids::UserId;

/// How long a link may be used.
pub const VALID_HOURS: i64 = 72;

/// The longest token that is looked up (a real one has 43 characters).
const TOKEN_MAX: usize = 100;

fn hash(token: &str) -> String {
    Sha256::digest(token.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Makes the user's unused links stop working.
pub async fn forget(conn: &mut PgConnection, user_id: &UserId) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "delete from password_links where user_id = $1 and used_at is null",
        user_id.as_str()
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Makes a link token for the user (their unused ones stop working) and returns it.
pub async fn create(conn: &mut PgConnection, user_id: &UserId, created_by: &UserId) -> Result<String, sqlx::Error> {
    forget(&mut *conn, user_id).await?;
    let token = crate::ids::random_token(32);
    sqlx::query!(
        "insert into password_links (token_hash, user_id, created_by, expires_at)
         values ($1, $2, $3, now() + make_interval(hours => $4))",
        hash(&token),
        user_id.as_str(),
        created_by.as_str(),
        VALID_HOURS as i32,
    )
    .execute(&mut *conn)
    .await?;
    Ok(token)
}

/// Whom a usable link is for.
#[derive(Debug, Clone)]
pub struct LinkHolder {
    pub email: String,
    pub name: String,
    pub account_name: String,
    pub expires_at: DateTime<Utc>,
}

/// The holder of a link that is unused, unexpired and for an active user.
pub async fn find(pool: &PgPool, token: &str) -> Result<Option<LinkHolder>, sqlx::Error> {
    if token.is_empty() || token.len() > TOKEN_MAX {
        return Ok(None);
    }
    sqlx::query_as!(
        LinkHolder,
        r#"select u.email, u.name, a.name as account_name, l.expires_at
           from password_links l join users u on u.id = l.user_id join accounts a on a.id = u.account_id
           where l.token_hash = $1 and l.used_at is null and l.expires_at > now() and u.deactivated_at is null"#,
        hash(token)
    )
    .fetch_optional(pool)
    .await
}

/// Uses the link: sets the password hash and ends the user's sessions, all or nothing.
/// `None` when the link is not usable (any more).
pub async fn consume(
    pool: &PgPool,
    token: &str,
    password_hash: &str,
    ip: std::net::IpAddr,
) -> Result<Option<UserId>, sqlx::Error> {
    if token.is_empty() || token.len() > TOKEN_MAX {
        return Ok(None);
    }
    let mut tx = pool.begin().await?;
    let user_id = sqlx::query_scalar!(
        r#"update password_links l set used_at = now()
           from users u
           where l.token_hash = $1 and l.used_at is null and l.expires_at > now()
             and u.id = l.user_id and u.deactivated_at is null
           returning l.user_id as "user_id: UserId""#,
        hash(token)
    )
    .fetch_optional(&mut *tx)
    .await?;
    let Some(user_id) = user_id else {
        return Ok(None);
    };
    sqlx::query!(
        "update users set password_hash = $2, updated_at = now() where id = $1",
        user_id.as_str(),
        password_hash
    )
    .execute(&mut *tx)
    .await?;
    super::sessions::end_sessions_of(&mut tx, &user_id).await?;
    // The audit record, by the user themselves (written here: sign-in sits below the audit log).
    sqlx::query!(
        "insert into audit_records (account_id, actor_kind, actor_id, actor_name, ip, action, object_kind,
             object_id, object_name, detail)
         select account_id, 'user', id, name || ' <' || email || '>', $2::text::inet, 'user.password_set', 'user',
                id, name, 'With their one-time link; their other sessions ended.'
         from users where id = $1",
        user_id.as_str(),
        ip.to_string(),
    )
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(Some(user_id))
}
