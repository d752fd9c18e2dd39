//! Accounts: the portal does not manage them; the demo seed creates the first ones.

use sqlx::PgConnection;

use crate::auth::AccountKind;
use crate::ids::AccountId;

/// Serialises first-start seeding across processes until the transaction ends.
pub async fn lock_for_seeding(conn: &mut PgConnection) -> Result<(), sqlx::Error> {
    sqlx::query!("select pg_advisory_xact_lock(715001)")
        .execute(conn)
        .await?;
    Ok(())
}

/// Whether any account exists.
pub async fn any_account(conn: &mut PgConnection) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar!(r#"select exists(select 1 from accounts) as "exists!""#)
        .fetch_one(conn)
        .await
}

pub async fn insert_account(
    conn: &mut PgConnection,
    id: &AccountId,
    name: &str,
    kind: AccountKind,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "insert into accounts (id, name, kind) values ($1, $2, $3)",
        id.as_str(),
        name,
        kind as AccountKind,
    )
    .execute(conn)
    .await?;
    Ok(())
}
