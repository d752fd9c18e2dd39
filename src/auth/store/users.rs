//! Users and accounts: lookup for sign-in and the current user, and the
//! `webhook-portal user …` commands.

use anyhow::{bail, Context};
use sqlx::{PgConnection, PgPool};

use super::super::permissions::{Permission, Permissions};
use crate::auth::password;
use crate::error::AppError;
use crate::ids::{AccountId, UserId};

/// The two presets of the `user add` command and the demo data: an admin may do everything,
/// a viewer only view.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Admin,
    Viewer,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Viewer => "viewer",
        }
    }
    pub fn parse(raw: &str) -> Option<Role> {
        match raw {
            "admin" => Some(Role::Admin),
            "viewer" => Some(Role::Viewer),
            _ => None,
        }
    }
    pub fn permissions(self) -> Permissions {
        match self {
            Role::Admin => Permissions::ALL,
            Role::Viewer => Permissions::VIEW,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccountKind {
    Vendor,
    Distributor,
}

impl AccountKind {
    pub fn as_str(self) -> &'static str {
        match self {
            AccountKind::Vendor => "vendor",
            AccountKind::Distributor => "distributor",
        }
    }
    pub fn parse(raw: &str) -> Option<AccountKind> {
        match raw {
            "vendor" => Some(AccountKind::Vendor),
            "distributor" => Some(AccountKind::Distributor),
            _ => None,
        }
    }
    pub fn label(self) -> &'static str {
        match self {
            AccountKind::Vendor => "Vendor",
            AccountKind::Distributor => "Distributor",
        }
    }
}

crate::db::text_column!(AccountKind);

/// The signed-in user with their account, loaded once per request.
#[derive(Debug, Clone)]
pub struct CurrentUser {
    pub id: UserId,
    pub email: String,
    pub name: String,
    pub permissions: Permissions,
    pub account_id: AccountId,
    pub account_name: String,
    pub account_kind: AccountKind,
    /// The address the request came from (the audit log's "from where").
    pub client_ip: Option<std::net::IpAddr>,
}

impl CurrentUser {
    pub fn can(&self, p: Permission) -> bool {
        self.permissions.has(p)
    }

    /// Every handler that changes something calls this first: 403 without the permission,
    /// whatever the page showed.
    pub fn require(&self, p: Permission) -> Result<(), AppError> {
        if self.can(p) {
            Ok(())
        } else {
            Err(AppError::NotAllowed(format!(
                "Your access does not include “{}”. Ask someone who manages users in {} to grant it.",
                p.label(),
                self.account_name
            )))
        }
    }

    // For templates, which cannot name enum variants.
    pub fn can_create(&self) -> bool {
        self.can(Permission::CreateWebhooks)
    }
    pub fn can_edit(&self) -> bool {
        self.can(Permission::EditWebhooks)
    }
    pub fn can_delete(&self) -> bool {
        self.can(Permission::DeleteWebhooks)
    }
    pub fn can_manage_tokens(&self) -> bool {
        self.can(Permission::ManageTokens)
    }
    pub fn can_manage_users(&self) -> bool {
        self.can(Permission::ManageUsers)
    }
}

/// The user of a session, if they exist and are active (a deactivated user's sessions end at once).
pub async fn load_current_user(pool: &PgPool, user_id: &UserId) -> Result<Option<CurrentUser>, sqlx::Error> {
    let row = sqlx::query!(
        r#"select u.id as "id: UserId", u.email, u.name, u.can_create_webhooks, u.can_edit_webhooks,
                  u.can_delete_webhooks, u.can_manage_tokens, u.can_manage_users,
                  a.id as "account_id: AccountId", a.name as account_name, a.kind as "account_kind: AccountKind"
           from users u join accounts a on a.id = u.account_id
           where u.id = $1 and u.deactivated_at is null"#,
        user_id.as_str(),
    )
    .fetch_optional(pool)
    .await?;
    Ok(row.map(|r| CurrentUser {
        id: r.id,
        email: r.email,
        name: r.name,
        permissions: Permissions {
            create_webhooks: r.can_create_webhooks,
            edit_webhooks: r.can_edit_webhooks,
            delete_webhooks: r.can_delete_webhooks,
            manage_tokens: r.can_manage_tokens,
            manage_users: r.can_manage_users,
        },
        account_id: r.account_id,
        account_name: r.account_name,
        client_ip: None,
        account_kind: r.account_kind,
    }))
}

/// Notices of the last 30 days `user` has not read (at most 100 are counted), for the bell of
/// a page's header (asked only by pages, not by every request).
pub async fn unread_notifications(pool: &PgPool, user: &CurrentUser) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar!(
        r#"select count(*) as "unread!" from (
               select 1 from notifications n
               where n.account_id = $1 and n.created_at > now() - interval '30 days'
                 and not exists (select 1 from notification_reads r
                                 where r.user_id = $2 and r.notification_id = n.id)
               limit 100) unread"#,
        user.account_id.as_str(),
        user.id.as_str(),
    )
    .fetch_one(pool)
    .await
}

/// What sign-in needs to know of the user with an e-mail.
pub struct Credentials {
    pub user_id: UserId,
    /// `None` until the user has set a password through their link.
    pub password_hash: Option<String>,
    pub active: bool,
}

/// The credentials of an e-mail, case-insensitively.
pub async fn find_credentials(pool: &PgPool, email: &str) -> Result<Option<Credentials>, sqlx::Error> {
    sqlx::query_as!(
        Credentials,
        r#"select id as "user_id: UserId", password_hash, deactivated_at is null as "active!"
           from users where lower(email) = lower($1)"#,
        email
    )
    .fetch_optional(pool)
    .await
}

/// Notes a successful sign-in, shown on the Users page.
pub async fn note_sign_in(pool: &PgPool, user_id: &UserId) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "update users set last_sign_in_at = now() where id = $1",
        user_id.as_str()
    )
    .execute(pool)
    .await?;
    Ok(())
}

pub use crate::credentials::looks_like_email;

/// Why a user could not be added; the messages are the ones a form or the CLI shows.
#[derive(Debug, thiserror::Error)]
pub enum AddUserError {
    #[error("{0:?} is not an e-mail address")]
    NotAnEmail(String),
    #[error("password {0}")]
    WeakPassword(String),
    #[error("there is no account {0}")]
    NoAccount(AccountId),
    #[error("a user with e-mail {0} already exists")]
    EmailTaken(String),
    #[error("could not add the user: {0}")]
    Database(#[from] sqlx::Error),
    #[error("could not add the user: {0}")]
    Internal(#[from] anyhow::Error),
}

/// A user to add: without a password, they sign in once they have set one through a link.
pub struct NewUser<'a> {
    pub email: &'a str,
    pub name: &'a str,
    pub permissions: Permissions,
    pub password: Option<&'a str>,
}

/// Adds a user to an existing account. Used by the seed, `user add` and the Users page.
pub async fn add_user(
    conn: &mut PgConnection,
    account_id: &AccountId,
    new: &NewUser<'_>,
) -> Result<UserId, AddUserError> {
    let email = new.email.trim();
    if !looks_like_email(email) {
        return Err(AddUserError::NotAnEmail(email.to_string()));
    }
    let hash = match new.password {
        Some(plain) => {
            password::check_strength(plain).map_err(|e| AddUserError::WeakPassword(e.to_string()))?;
            Some(password::hash(plain.to_string()).await?)
        }
        None => None,
    };
    let account_exists = sqlx::query_scalar!(
        r#"select exists(select 1 from accounts where id = $1) as "exists!""#,
        account_id.as_str()
    )
    .fetch_one(&mut *conn)
    .await?;
    if !account_exists {
        return Err(AddUserError::NoAccount(account_id.clone()));
    }
    let p = new.permissions;
    // A random id already taken (practically never) is drawn again, and a taken e-mail is
    // found by `on conflict` rather than by catching the error, which would abort a caller's
    // transaction (the seed's).
    for _ in 0..5 {
        let id = UserId::generate();
        let inserted = sqlx::query_scalar!(
            r#"insert into users (id, account_id, email, name, password_hash, can_create_webhooks,
                                  can_edit_webhooks, can_delete_webhooks, can_manage_tokens, can_manage_users)
               values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
               on conflict do nothing
               returning id"#,
            id.as_str(),
            account_id.as_str(),
            email,
            new.name.trim(),
            hash,
            p.create_webhooks,
            p.edit_webhooks,
            p.delete_webhooks,
            p.manage_tokens,
            p.manage_users,
        )
        .fetch_optional(&mut *conn)
        .await?;
        if inserted.is_some() {
            return Ok(id);
        }
        let taken = sqlx::query_scalar!(
            r#"select exists(select 1 from users where lower(email) = lower($1)) as "taken!""#,
            email
        )
        .fetch_one(&mut *conn)
        .await?;
        if taken {
            return Err(AddUserError::EmailTaken(email.to_string()));
        }
    }
    Err(AddUserError::Internal(anyhow::anyhow!("could not allocate a user id")))
}

/// Sets a new password and ends the user's sessions; fails if the user does not exist.
/// Sets a user's password (the command line); returns their account, id and name.
pub async fn set_password(
    pool: &PgPool,
    email: &str,
    password_plain: &str,
) -> anyhow::Result<(AccountId, UserId, String)> {
    password::check_strength(password_plain).map_err(|e| anyhow::anyhow!("password {e}"))?;
    let hash = password::hash(password_plain.to_string()).await?;
    let mut tx = pool.begin().await?;
    let user_id = sqlx::query!(
        r#"update users set password_hash = $2, updated_at = now() where lower(email) = lower($1)
           returning id as "id: UserId", account_id as "account_id: AccountId", name"#,
        email.trim(),
        hash
    )
    .fetch_optional(&mut *tx)
    .await?;
    let Some(user) = user_id else {
        bail!("there is no user with e-mail {email}");
    };
    super::sessions::end_sessions_of(&mut tx, &user.id).await?;
    tx.commit().await?;
    Ok((user.account_id, user.id, user.name))
}

/// Reads a password for the user commands: from a prompt without echo when stdin is a
/// terminal, otherwise the first line of stdin.
pub fn read_password_from_stdin() -> anyhow::Result<String> {
    use std::io::IsTerminal;
    let password = if std::io::stdin().is_terminal() {
        let first = rpassword::prompt_password("New password: ")?;
        let again = rpassword::prompt_password("Repeat it: ")?;
        if first != again {
            bail!("the two passwords differ");
        }
        first
    } else {
        let mut line = String::new();
        std::io::stdin()
            .read_line(&mut line)
            .context("reading the password from stdin")?;
        line.trim_end_matches(['\r', '\n']).to_string()
    };
    if password.is_empty() {
        bail!("no password given (type it at the prompt or pipe it on stdin)");
    }
    Ok(password)
}
