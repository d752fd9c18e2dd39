//! The SQL of the Users page: an account's users, their permissions, deactivation and
//! password resets. Every change that could leave an account without an active user who
//! manages users is refused, under a lock on the account so that two managers demoting each
//! other at the same moment cannot both succeed.

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgPool, Postgres, Transaction};

use crate::audit::{self, Action, Actor, Entry, Object, ObjectKind, Snapshot};
use crate::auth::store::{password_links, sessions};
use crate::auth::{Permission, Permissions};
use crate::ids::{AccountId, UserId};

/// The most users the page lists (an account has a handful; the bound keeps the page finite).
pub const LIST_MAX: i64 = 1000;

#[derive(Debug, Clone)]
pub struct Member {
    pub id: UserId,
    pub email: String,
    pub name: String,
    pub permissions: Permissions,
    pub created_at: DateTime<Utc>,
    pub last_sign_in_at: Option<DateTime<Utc>>,
    pub deactivated_at: Option<DateTime<Utc>>,
    /// False until the user has set a password through their link.
    pub has_password: bool,
}

impl Member {
    pub fn active(&self) -> bool {
        self.deactivated_at.is_none()
    }

    /// The user as the audit log shows them.
    pub fn snapshot(&self) -> Snapshot {
        let may: Vec<&str> = Permission::ALL
            .into_iter()
            .filter(|p| self.permissions.has(*p))
            .map(|p| p.label())
            .collect();
        vec![
            ("Name", self.name.clone()),
            ("E-mail", self.email.clone()),
            (
                "May",
                if may.is_empty() {
                    "view only".to_string()
                } else {
                    may.join(", ")
                },
            ),
            (
                "Status",
                if self.active() { "Active" } else { "Deactivated" }.to_string(),
            ),
        ]
    }
}

/// Records a change of user `id` (read again in the transaction) against `before`.
async fn record(
    conn: &mut PgConnection,
    account_id: &AccountId,
    actor: &Actor,
    action: Action,
    before: Option<&Member>,
    detail: &str,
) -> Result<(), sqlx::Error> {
    let Some(id) = before.map(|m| m.id.clone()) else {
        return Ok(());
    };
    let after = find(&mut *conn, account_id, &id).await?;
    let changes = match (before, &after) {
        (Some(b), Some(a)) => audit::changes(&b.snapshot(), &a.snapshot()),
        _ => Vec::new(),
    };
    let name = after.as_ref().or(before).map(|m| m.name.clone()).unwrap_or_default();
    let entry = Entry::new(action, Object::new(ObjectKind::User, &id, name))
        .with_changes(changes)
        .with_detail(detail);
    audit::store::record(conn, account_id, actor, &entry).await
}

/// Records a user just added in this transaction, with what they were given.
pub async fn record_added(
    conn: &mut PgConnection,
    account_id: &AccountId,
    actor: &Actor,
    id: &UserId,
    detail: &str,
) -> Result<(), sqlx::Error> {
    let Some(member) = find(&mut *conn, account_id, id).await? else {
        return Ok(());
    };
    let entry = Entry::new(Action::UserAdded, Object::new(ObjectKind::User, id, &member.name))
        .with_changes(audit::created(&member.snapshot()))
        .with_detail(detail);
    audit::store::record(conn, account_id, actor, &entry).await
}

/// Why a change was refused.
#[derive(Debug, thiserror::Error)]
pub enum ChangeError {
    #[error("no such user")]
    NotFound,
    #[error(
        "At least one active user of the account must keep “Manage users”, or nobody could add users or \
         change permissions any more. Give it to another user first."
    )]
    LastUserManager,
    #[error("The e-mail {0} cannot be used: choose another.")]
    EmailTaken(String),
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

macro_rules! member_from_row {
    ($r:expr) => {
        Member {
            id: $r.id,
            email: $r.email,
            name: $r.name,
            permissions: Permissions {
                create_webhooks: $r.can_create_webhooks,
                edit_webhooks: $r.can_edit_webhooks,
                delete_webhooks: $r.can_delete_webhooks,
                manage_tokens: $r.can_manage_tokens,
                manage_users: $r.can_manage_users,
            },
            created_at: $r.created_at,
            last_sign_in_at: $r.last_sign_in_at,
            deactivated_at: $r.deactivated_at,
            has_password: $r.has_password,
        }
    };
}

/// The account's users: active ones first, by name.
pub async fn list(pool: &PgPool, account_id: &AccountId) -> Result<Vec<Member>, sqlx::Error> {
    let rows = sqlx::query!(
        r#"select id as "id: UserId", email, name, can_create_webhooks, can_edit_webhooks, can_delete_webhooks,
                  can_manage_tokens, can_manage_users, created_at, last_sign_in_at, deactivated_at,
                  password_hash is not null as "has_password!"
           from users where account_id = $1
           order by deactivated_at is not null, lower(name), id
           limit $2"#,
        account_id.as_str(),
        LIST_MAX
    )
    .fetch_all(pool)
    .await?;
    Ok(rows.into_iter().map(|r| member_from_row!(r)).collect())
}

/// One user of the account (another account's user is not found).
pub async fn find(
    db: impl sqlx::PgExecutor<'_>,
    account_id: &AccountId,
    id: &UserId,
) -> Result<Option<Member>, sqlx::Error> {
    let row = sqlx::query!(
        r#"select id as "id: UserId", email, name, can_create_webhooks, can_edit_webhooks, can_delete_webhooks,
                  can_manage_tokens, can_manage_users, created_at, last_sign_in_at, deactivated_at,
                  password_hash is not null as "has_password!"
           from users where account_id = $1 and id = $2"#,
        account_id.as_str(),
        id.as_str()
    )
    .fetch_optional(db)
    .await?;
    Ok(row.map(|r| member_from_row!(r)))
}

/// Starts a change of the account's users: serialised per account by a row lock.
async fn begin_change<'a>(pool: &'a PgPool, account_id: &AccountId) -> Result<Transaction<'a, Postgres>, sqlx::Error> {
    let mut tx = pool.begin().await?;
    sqlx::query!("select id from accounts where id = $1 for update", account_id.as_str())
        .fetch_optional(&mut *tx)
        .await?;
    Ok(tx)
}

/// Refuses (by returning the error; the caller drops the transaction) a state with no active
/// user who manages users and can sign in (one still to set their password does not count).
async fn keep_a_user_manager(conn: &mut PgConnection, account_id: &AccountId) -> Result<(), ChangeError> {
    let managers = sqlx::query_scalar!(
        r#"select count(*) as "n!" from users
           where account_id = $1 and can_manage_users and deactivated_at is null and password_hash is not null"#,
        account_id.as_str()
    )
    .fetch_one(conn)
    .await?;
    if managers == 0 {
        return Err(ChangeError::LastUserManager);
    }
    Ok(())
}

/// The user's name, e-mail and permissions.
pub struct Change<'a> {
    pub name: &'a str,
    pub email: &'a str,
    pub permissions: Permissions,
}

pub async fn update(
    pool: &PgPool,
    account_id: &AccountId,
    id: &UserId,
    change: &Change<'_>,
    actor: &Actor,
) -> Result<(), ChangeError> {
    let mut tx = begin_change(pool, account_id).await?;
    let before = find(&mut *tx, account_id, id).await?;
    let email = change.email.trim();
    let taken = sqlx::query_scalar!(
        r#"select exists(select 1 from users where lower(email) = lower($1) and id <> $2) as "taken!""#,
        email,
        id.as_str()
    )
    .fetch_one(&mut *tx)
    .await?;
    if taken {
        return Err(ChangeError::EmailTaken(email.to_string()));
    }
    let p = change.permissions;
    let updated = sqlx::query!(
        "update users set name = $3, email = $4, can_create_webhooks = $5, can_edit_webhooks = $6,
                can_delete_webhooks = $7, can_manage_tokens = $8, can_manage_users = $9, updated_at = now()
         where account_id = $1 and id = $2",
        account_id.as_str(),
        id.as_str(),
        change.name.trim(),
        email,
        p.create_webhooks,
        p.edit_webhooks,
        p.delete_webhooks,
        p.manage_tokens,
        p.manage_users,
    )
    .execute(&mut *tx)
    .await;
    let updated = match updated {
        Ok(done) => done.rows_affected(),
        // Another account took the address at the same moment.
        Err(sqlx::Error::Database(e)) if e.constraint() == Some("users_email_key") => {
            return Err(ChangeError::EmailTaken(email.to_string()))
        }
        Err(e) => return Err(e.into()),
    };
    if updated == 0 {
        return Err(ChangeError::NotFound);
    }
    keep_a_user_manager(&mut tx, account_id).await?;
    record(&mut tx, account_id, actor, Action::UserUpdated, before.as_ref(), "").await?;
    tx.commit().await?;
    Ok(())
}

/// Deactivates (ending every session of the user at once) or reactivates a user.
pub async fn set_active(
    pool: &PgPool,
    account_id: &AccountId,
    id: &UserId,
    active: bool,
    actor: &Actor,
) -> Result<(), ChangeError> {
    let mut tx = begin_change(pool, account_id).await?;
    let before = find(&mut *tx, account_id, id).await?;
    let updated = sqlx::query!(
        "update users set deactivated_at = case when $3 then null else coalesce(deactivated_at, now()) end,
                updated_at = now()
         where account_id = $1 and id = $2",
        account_id.as_str(),
        id.as_str(),
        active
    )
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if updated == 0 {
        return Err(ChangeError::NotFound);
    }
    if !active {
        keep_a_user_manager(&mut tx, account_id).await?;
        sessions::end_sessions_of(&mut tx, id).await?;
        password_links::forget(&mut tx, id).await?;
    }
    let action = if active {
        Action::UserReactivated
    } else {
        Action::UserDeactivated
    };
    record(&mut tx, account_id, actor, action, before.as_ref(), "").await?;
    tx.commit().await?;
    Ok(())
}

/// A password reset: with `Some(hash)` the password is replaced (and unused links stop
/// working); with `None` it is removed and a one-time link to set a new one is returned.
/// Either way the user's sessions end.
pub async fn reset_password(
    pool: &PgPool,
    account_id: &AccountId,
    id: &UserId,
    new_hash: Option<&str>,
    by: &UserId,
    actor: &Actor,
) -> Result<Option<String>, ChangeError> {
    let mut tx = pool.begin().await?;
    let before = find(&mut *tx, account_id, id).await?;
    let updated = sqlx::query!(
        "update users set password_hash = $3, updated_at = now() where account_id = $1 and id = $2",
        account_id.as_str(),
        id.as_str(),
        new_hash
    )
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if updated == 0 {
        return Err(ChangeError::NotFound);
    }
    sessions::end_sessions_of(&mut tx, id).await?;
    let link = match new_hash {
        Some(_) => {
            password_links::forget(&mut tx, id).await?;
            None
        }
        None => Some(password_links::create(&mut tx, id, by).await?),
    };
    let detail = if link.is_some() {
        "Password removed; a one-time link to set a new one was made. Their sessions ended."
    } else {
        "Password replaced. Their sessions ended."
    };
    record(
        &mut tx,
        account_id,
        actor,
        Action::UserPasswordReset,
        before.as_ref(),
        detail,
    )
    .await?;
    tx.commit().await?;
    Ok(link)
}
