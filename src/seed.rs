//! Demo data for an empty database: a vendor with an admin and a viewer, a distributor with
//! an admin, and three products (one with dynamic validation of change requests).

use anyhow::Context;
use sqlx::PgPool;

use crate::auth::password;
use crate::config::Config;
use crate::webhooks::model::CAPABILITY_DYNAMIC_VALIDATION;

pub struct SeededLogin {
    pub who: &'static str,
    pub email: String,
    /// Shown only when generated here; `None` when it came from the environment.
    pub password: Option<String>,
}

pub struct SeedReport {
    pub vendor_account_id: String,
    pub distributor_account_id: String,
    pub logins: Vec<SeededLogin>,
}

/// Seeds the demo data if, and only if, there are no accounts yet. Safe when several
/// processes start at once (an advisory lock serialises them).
pub async fn seed_if_empty(pool: &PgPool, config: &Config) -> anyhow::Result<Option<SeedReport>> {
    let mut tx = pool.begin().await?;
    sqlx::query("select pg_advisory_xact_lock(715001)")
        .execute(&mut *tx)
        .await?;
    let accounts: i64 = sqlx::query_scalar("select count(*) from accounts")
        .fetch_one(&mut *tx)
        .await?;
    if accounts > 0 {
        return Ok(None);
    }

    let vendor = crate::ids::vendor_account_id();
    let distributor = crate::ids::distributor_account_id();
    for (id, name, kind) in [
        (&vendor, "Front Street Inc.", "vendor"),
        (&distributor, "Riverside Distribution", "distributor"),
    ] {
        sqlx::query("insert into accounts (id, name, kind) values ($1, $2, $3)")
            .bind(id)
            .bind(name)
            .bind(kind)
            .execute(&mut *tx)
            .await?;
    }

    let products = [
        (
            "Apollo Pulse",
            "The service directly enables secure team messaging and presence for every seat.",
            vec![],
        ),
        (
            "Nimbus Backup",
            "Cloud backup for workstations and servers, billed per protected device.",
            vec![CAPABILITY_DYNAMIC_VALIDATION],
        ),
        (
            "Atlas Mail",
            "Hosted business e-mail with archiving and anti-spam, per mailbox.",
            vec![],
        ),
    ];
    for (name, description, capabilities) in products {
        let id = crate::ids::product_id();
        sqlx::query(
            "insert into products (id, vendor_account_id, name, short_description, capabilities) values ($1, $2, $3, $4, $5)",
        )
        .bind(&id)
        .bind(&vendor)
        .bind(name)
        .bind(description)
        .bind(capabilities.iter().map(|c| c.to_string()).collect::<Vec<_>>())
        .execute(&mut *tx)
        .await?;
        sqlx::query("insert into account_products (account_id, product_id) values ($1, $2)")
            .bind(&distributor)
            .bind(&id)
            .execute(&mut *tx)
            .await?;
    }

    let mut logins = Vec::new();
    let admin_password = config.admin_password.clone();
    let users = [
        (
            "Vendor admin",
            config.admin_email.clone(),
            "Robert Balboa",
            &vendor,
            "admin",
            admin_password,
        ),
        (
            "Vendor viewer (read-only)",
            "viewer@frontstreet.example".to_string(),
            "Maya Lin",
            &vendor,
            "viewer",
            None,
        ),
        (
            "Distributor admin",
            "admin@riverside.example".to_string(),
            "Dana Ortiz",
            &distributor,
            "admin",
            None,
        ),
    ];
    for (who, email, name, account, role, given) in users {
        let (plain, generated) = match given {
            Some(p) => (p, false),
            None => (password::generate(), true),
        };
        let hash = password::hash(plain.clone()).await?;
        sqlx::query(
            "insert into users (id, account_id, email, name, role, password_hash) values ($1, $2, $3, $4, $5, $6)",
        )
        .bind(crate::ids::user_id())
        .bind(account)
        .bind(&email)
        .bind(name)
        .bind(role)
        .bind(hash)
        .execute(&mut *tx)
        .await
        .with_context(|| format!("seeding user {email}"))?;
        logins.push(SeededLogin {
            who,
            email,
            password: generated.then_some(plain),
        });
    }
    tx.commit().await?;
    tracing::info!(vendor = %vendor, distributor = %distributor, "seeded demo accounts, users and products");
    Ok(Some(SeedReport {
        vendor_account_id: vendor,
        distributor_account_id: distributor,
        logins,
    }))
}

impl SeedReport {
    /// The one-time banner printed on first start (to stdout, not to the logs).
    pub fn banner(&self, public_url: &str) -> String {
        let mut out = String::new();
        out.push_str("\n================ Webhook portal: first start ================\n");
        out.push_str(&format!("Demo data created. Sign in at {public_url}login with:\n\n"));
        for login in &self.logins {
            let pw = login
                .password
                .as_deref()
                .unwrap_or("(the PORTAL_ADMIN_PASSWORD you set)");
            out.push_str(&format!("  {:<27} {:<30} password: {}\n", login.who, login.email, pw));
        }
        out.push_str("\nThese generated passwords are shown only now. Change one with\n");
        out.push_str("  webhook-portal user set-password --email <email>\n");
        out.push_str("==============================================================\n");
        out
    }
}
