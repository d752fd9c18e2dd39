//! Demo data for an empty database: a vendor with an admin and a viewer, a distributor with
//! an admin, and three products (one with dynamic validation of change requests).

use anyhow::Context;
use sqlx::{PgConnection, PgPool};

use crate::auth::password;
use crate::auth::store::{accounts, users};
use crate::auth::{AccountKind, Role};
use crate::config::Config;
use crate::ids::AccountId;
use crate::requests::store::{grant_product, insert_product};
use crate::webhooks::model::CAPABILITY_DYNAMIC_VALIDATION;

pub struct SeededLogin {
    pub who: &'static str,
    pub email: String,
    /// Shown only when generated here; `None` when it came from the environment.
    pub password: Option<String>,
}

pub struct SeedReport {
    pub vendor_account_id: AccountId,
    pub distributor_account_id: AccountId,
    pub logins: Vec<SeededLogin>,
}

/// Seeds the demo data if, and only if, there are no accounts yet. Safe when several
/// processes start at once (an advisory lock serialises them).
pub async fn seed_if_empty(pool: &PgPool, config: &Config) -> anyhow::Result<Option<SeedReport>> {
    let vendor = AccountId::new_vendor();
    let distributor = AccountId::new_distributor();
    let mut tx = pool.begin().await?;
    accounts::lock_for_seeding(&mut tx).await?;
    if accounts::any_account(&mut tx).await? {
        return Ok(None);
    }
    accounts::insert_account(&mut tx, &vendor, "Front Street Inc.", AccountKind::Vendor).await?;
    accounts::insert_account(
        &mut tx,
        &distributor,
        "Riverside Distribution",
        AccountKind::Distributor,
    )
    .await?;

    let products = [
        (
            "Apollo Pulse",
            "The service directly enables secure team messaging and presence for every seat.",
            vec![],
        ),
        (
            "Nimbus Backup",
            "Cloud backup for workstations and servers, billed per protected device.",
            vec![CAPABILITY_DYNAMIC_VALIDATION.to_string()],
        ),
        (
            "Atlas Mail",
            "Hosted business e-mail with archiving and anti-spam, per mailbox.",
            vec![],
        ),
    ];
    for (name, description, capabilities) in products {
        let id = insert_product(&mut tx, &vendor, name, description, &capabilities).await?;
        grant_product(&mut tx, &distributor, &id).await?;
    }
    let logins = seed_users(&mut tx, config, &vendor, &distributor).await?;
    tx.commit().await?;
    tracing::info!(vendor = %vendor, distributor = %distributor, "seeded demo accounts, users and products");
    Ok(Some(SeedReport {
        vendor_account_id: vendor,
        distributor_account_id: distributor,
        logins,
    }))
}

/// The demo users: the configured admin of the vendor, a vendor viewer and a distributor
/// admin, with generated passwords unless one was configured.
async fn seed_users(
    conn: &mut PgConnection,
    config: &Config,
    vendor: &AccountId,
    distributor: &AccountId,
) -> anyhow::Result<Vec<SeededLogin>> {
    let users = [
        (
            "Vendor admin",
            config.admin_email.clone(),
            "Robert Balboa",
            vendor,
            Role::Admin,
            config.admin_password.clone(),
        ),
        (
            "Vendor viewer (read-only)",
            "viewer@frontstreet.example".to_string(),
            "Maya Lin",
            vendor,
            Role::Viewer,
            None,
        ),
        (
            "Distributor admin",
            "admin@riverside.example".to_string(),
            "Dana Ortiz",
            distributor,
            Role::Admin,
            None,
        ),
    ];
    let mut logins = Vec::new();
    for (who, email, name, account, role, given) in users {
        let (plain, generated) = match given {
            Some(p) => (p, false),
            None => (password::generate(), true),
        };
        let new = users::NewUser {
            email: &email,
            name,
            permissions: role.permissions(),
            password: Some(&plain),
        };
        users::add_user(conn, account, &new)
            .await
            .with_context(|| format!("seeding user {email}"))?;
        logins.push(SeededLogin {
            who,
            email,
            password: generated.then_some(plain),
        });
    }
    Ok(logins)
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
        out.push_str("  cargo run --release -- user set-password --email <email>\n");
        out.push_str("(or `webhook-portal user set-password …` with an installed binary)\n");
        out.push_str("==============================================================\n");
        out
    }
}
