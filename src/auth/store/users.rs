//! Users and accounts: lookup for sign-in and the current user, and the
//! `webhook-portal user …` commands.

use anyhow::{bail, Context};
use sqlx::PgPool;

use crate::auth::password;

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
    pub fn label(self) -> &'static str {
        match self {
            Role::Admin => "Admin",
            Role::Viewer => "Viewer",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccountKind {
    Vendor,
    Distributor,
}

impl AccountKind {
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

/// The signed-in user with their account, loaded once per request.
#[derive(Debug, Clone)]
pub struct CurrentUser {
    pub id: String,
    pub email: String,
    pub name: String,
    pub role: Role,
    pub account_id: String,
    pub account_name: String,
    pub account_kind: AccountKind,
}

impl CurrentUser {
    pub fn is_admin(&self) -> bool {
        self.role == Role::Admin
    }

    /// Admin-only actions call this first; viewers get 403.
    pub fn require_admin(&self) -> Result<(), crate::error::AppError> {
        if self.is_admin() {
            Ok(())
        } else {
            Err(crate::error::AppError::Forbidden)
        }
    }
}

#[derive(sqlx::FromRow)]
struct CurrentUserRow {
    id: String,
    email: String,
    name: String,
    role: String,
    account_id: String,
    account_name: String,
    account_kind: String,
}

pub async fn load_current_user(pool: &PgPool, user_id: &str) -> Result<Option<CurrentUser>, sqlx::Error> {
    let row: Option<CurrentUserRow> = sqlx::query_as(
        "select u.id, u.email, u.name, u.role, a.id as account_id, a.name as account_name, a.kind as account_kind
         from users u join accounts a on a.id = u.account_id where u.id = $1",
    )
    .bind(user_id)
    .fetch_optional(pool)
    .await?;
    Ok(row.and_then(|r| {
        Some(CurrentUser {
            role: Role::parse(&r.role)?,
            account_kind: AccountKind::parse(&r.account_kind)?,
            id: r.id,
            email: r.email,
            name: r.name,
            account_id: r.account_id,
            account_name: r.account_name,
        })
    }))
}

/// `(user id, password hash)` for an e-mail, case-insensitively.
pub async fn find_credentials(pool: &PgPool, email: &str) -> Result<Option<(String, String)>, sqlx::Error> {
    sqlx::query_as("select id, password_hash from users where lower(email) = lower($1)")
        .bind(email)
        .fetch_optional(pool)
        .await
}

pub use crate::credentials::looks_like_email;

/// Creates a user in an existing account. Used by the seed and by `user add`.
pub async fn add_user(
    pool: &PgPool,
    account_id: &str,
    email: &str,
    name: &str,
    role: Role,
    password_plain: &str,
) -> anyhow::Result<String> {
    if !looks_like_email(email) {
        bail!("{email:?} is not an e-mail address");
    }
    password::check_strength(password_plain).map_err(|e| anyhow::anyhow!("password {e}"))?;
    let account_exists: bool = sqlx::query_scalar("select exists(select 1 from accounts where id = $1)")
        .bind(account_id)
        .fetch_one(pool)
        .await?;
    if !account_exists {
        bail!("there is no account {account_id}");
    }
    let hash = password::hash(password_plain.to_string()).await?;
    for _ in 0..5 {
        let id = crate::ids::user_id();
        let result = sqlx::query(
            "insert into users (id, account_id, email, name, role, password_hash) values ($1, $2, $3, $4, $5, $6)",
        )
        .bind(&id)
        .bind(account_id)
        .bind(email.trim())
        .bind(name)
        .bind(role.as_str())
        .bind(&hash)
        .execute(pool)
        .await;
        match result {
            Ok(_) => return Ok(id),
            Err(sqlx::Error::Database(e)) if e.constraint() == Some("users_email_key") => {
                bail!("a user with e-mail {email} already exists")
            }
            Err(sqlx::Error::Database(e)) if e.constraint() == Some("users_pkey") => continue,
            Err(e) => return Err(e).context("inserting user"),
        }
    }
    bail!("could not allocate a user id")
}

/// Sets a new password; fails if the user does not exist.
pub async fn set_password(pool: &PgPool, email: &str, password_plain: &str) -> anyhow::Result<()> {
    password::check_strength(password_plain).map_err(|e| anyhow::anyhow!("password {e}"))?;
    let hash = password::hash(password_plain.to_string()).await?;
    let updated = sqlx::query("update users set password_hash = $2, updated_at = now() where lower(email) = lower($1)")
        .bind(email.trim())
        .bind(hash)
        .execute(pool)
        .await?
        .rows_affected();
    if updated == 0 {
        bail!("there is no user with e-mail {email}");
    }
    Ok(())
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
