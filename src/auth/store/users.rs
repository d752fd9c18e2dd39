//! Users and accounts: lookup for sign-in and the current user, and the
//! `webhook-portal user …` commands.

use anyhow::{bail, Context};
use sqlx::{PgConnection, PgPool};

use crate::auth::password;
use crate::ids::{AccountId, UserId};

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

crate::db::text_column!(Role);

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
    pub role: Role,
    pub account_id: AccountId,
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

pub async fn load_current_user(pool: &PgPool, user_id: &UserId) -> Result<Option<CurrentUser>, sqlx::Error> {
    sqlx::query_as!(
        CurrentUser,
        r#"select u.id as "id: UserId", u.email, u.name, u.role as "role: Role",
                  a.id as "account_id: AccountId", a.name as account_name, a.kind as "account_kind: AccountKind"
           from users u join accounts a on a.id = u.account_id where u.id = $1"#,
        user_id.as_str(),
    )
    .fetch_optional(pool)
    .await
}

/// `(user id, password hash)` for an e-mail, case-insensitively.
pub async fn find_credentials(pool: &PgPool, email: &str) -> Result<Option<(UserId, String)>, sqlx::Error> {
    let row = sqlx::query!(
        r#"select id as "id: UserId", password_hash from users where lower(email) = lower($1)"#,
        email
    )
    .fetch_optional(pool)
    .await?;
    Ok(row.map(|r| (r.id, r.password_hash)))
}

pub use crate::credentials::looks_like_email;

/// Creates a user in an existing account. Used by the seed and by `user add`.
pub async fn add_user(
    conn: &mut PgConnection,
    account_id: &AccountId,
    email: &str,
    name: &str,
    role: Role,
    password_plain: &str,
) -> anyhow::Result<UserId> {
    if !looks_like_email(email) {
        bail!("{email:?} is not an e-mail address");
    }
    password::check_strength(password_plain).map_err(|e| anyhow::anyhow!("password {e}"))?;
    let account_exists = sqlx::query_scalar!(
        r#"select exists(select 1 from accounts where id = $1) as "exists!""#,
        account_id.as_str()
    )
    .fetch_one(&mut *conn)
    .await?;
    if !account_exists {
        bail!("there is no account {account_id}");
    }
    let hash = password::hash(password_plain.to_string()).await?;
    // A random id already taken (practically never) is drawn again; `on conflict` rather than
    // catching the error, which would abort a caller's transaction (the seed's).
    for _ in 0..5 {
        let id = UserId::generate();
        let result = sqlx::query!(
            "insert into users (id, account_id, email, name, role, password_hash) values ($1, $2, $3, $4, $5, $6)
             on conflict (id) do nothing",
            id.as_str(),
            account_id.as_str(),
            email.trim(),
            name,
            role as Role,
            hash,
        )
        .execute(&mut *conn)
        .await;
        match result {
            Ok(done) if done.rows_affected() == 1 => return Ok(id),
            Ok(_) => continue,
            Err(sqlx::Error::Database(e)) if e.constraint() == Some("users_email_key") => {
                bail!("a user with e-mail {email} already exists")
            }
            Err(e) => return Err(e).context("inserting user"),
        }
    }
    bail!("could not allocate a user id")
}

/// Sets a new password; fails if the user does not exist.
pub async fn set_password(pool: &PgPool, email: &str, password_plain: &str) -> anyhow::Result<()> {
    password::check_strength(password_plain).map_err(|e| anyhow::anyhow!("password {e}"))?;
    let hash = password::hash(password_plain.to_string()).await?;
    let updated = sqlx::query!(
        "update users set password_hash = $2, updated_at = now() where lower(email) = lower($1)",
        email.trim(),
        hash
    )
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
