//! Sessions in Postgres: the `tower-sessions` store of the portal.
//!
//! Written here rather than taken from `tower-sessions-sqlx-store`: that crate turns on sqlx's
//! `time` feature, and with it the compile-checked queries of the whole portal would read every
//! `timestamptz` as `time::OffsetDateTime` instead of the `chrono` types the portal uses.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::PgPool;
use tower_sessions::session::{Id, Record};
use tower_sessions::session_store::{self, ExpiredDeletion, SessionStore};

use crate::ids::UserId;

#[derive(Debug, Clone)]
pub struct PostgresSessions {
    pool: PgPool,
}

impl PostgresSessions {
    pub fn new(pool: PgPool) -> Self {
        PostgresSessions { pool }
    }
}

/// A store that cannot reach the database answers `Backend` (the portal shows 503).
fn backend(e: sqlx::Error) -> session_store::Error {
    session_store::Error::Backend(e.to_string())
}

/// The session's data as JSON text (not `jsonb`, which refuses the `\u0000` a form may carry).
fn encode(record: &Record) -> session_store::Result<String> {
    serde_json::to_string(&record.data).map_err(|e| session_store::Error::Encode(e.to_string()))
}

fn expiry(record: &Record) -> session_store::Result<DateTime<Utc>> {
    let at = record.expiry_date;
    DateTime::from_timestamp(at.unix_timestamp(), at.nanosecond())
        .ok_or_else(|| session_store::Error::Encode(format!("expiry out of range: {at}")))
}

#[async_trait]
impl SessionStore for PostgresSessions {
    async fn create(&self, record: &mut Record) -> session_store::Result<()> {
        // A new random id that is taken already (practically never) is drawn again.
        loop {
            let inserted = sqlx::query!(
                "insert into sessions (id, data, expires_at) values ($1, $2, $3) on conflict (id) do nothing",
                record.id.to_string(),
                encode(record)?,
                expiry(record)?,
            )
            .execute(&self.pool)
            .await
            .map_err(backend)?;
            if inserted.rows_affected() == 1 {
                return Ok(());
            }
            record.id = Id::default();
        }
    }

    /// Updates the session if it still exists: a session ended meanwhile (its user was
    /// deactivated or their password changed) is not brought back by a request that was
    /// already running. New sessions go through `create`.
    async fn save(&self, record: &Record) -> session_store::Result<()> {
        sqlx::query!(
            "update sessions set data = $2, expires_at = $3 where id = $1",
            record.id.to_string(),
            encode(record)?,
            expiry(record)?,
        )
        .execute(&self.pool)
        .await
        .map_err(backend)?;
        Ok(())
    }

    async fn load(&self, id: &Id) -> session_store::Result<Option<Record>> {
        let row = sqlx::query!(
            "select data, expires_at from sessions where id = $1 and expires_at > now()",
            id.to_string(),
        )
        .fetch_optional(&self.pool)
        .await
        .map_err(backend)?;
        let Some(row) = row else { return Ok(None) };
        let expiry_date = time::OffsetDateTime::from_unix_timestamp(row.expires_at.timestamp())
            .map_err(|e| session_store::Error::Decode(e.to_string()))?;
        Ok(Some(Record {
            id: *id,
            data: serde_json::from_str(&row.data).map_err(|e| session_store::Error::Decode(e.to_string()))?,
            expiry_date,
        }))
    }

    async fn delete(&self, id: &Id) -> session_store::Result<()> {
        sqlx::query!("delete from sessions where id = $1", id.to_string())
            .execute(&self.pool)
            .await
            .map_err(backend)?;
        Ok(())
    }
}

#[async_trait]
impl ExpiredDeletion for PostgresSessions {
    async fn delete_expired(&self) -> session_store::Result<()> {
        sqlx::query!("delete from sessions where expires_at < now()")
            .execute(&self.pool)
            .await
            .map_err(backend)?;
        Ok(())
    }
}

/// Ends every session of a user (deactivated, or their password was changed). Sessions are
/// JSON text; the user's id appears unescaped as `"user_id":"UR-…"` only in the signed-in
/// state, since any such text inside a value would have its quotes escaped.
pub async fn end_sessions_of(conn: &mut sqlx::PgConnection, user_id: &UserId) -> Result<u64, sqlx::Error> {
    let needle = format!("\"user_id\":\"{user_id}\"");
    Ok(sqlx::query!("delete from sessions where strpos(data, $1) > 0", needle)
        .execute(conn)
        .await?
        .rows_affected())
}
