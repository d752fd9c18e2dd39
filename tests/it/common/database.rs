//! Per-test databases: cloned from a migrated and seeded template (made once per change of
//! the migrations or the seed, under a lock shared by all test processes) and dropped when the
//! test ends, pass or fail.

use std::hash::{Hash, Hasher};
use std::sync::Arc;

use sqlx::{Connection, PgConnection};

use super::{server_url, test_config, DISTRIBUTOR_EMAIL, OTHER_PASSWORD, VIEWER_EMAIL};

/// A test's database, dropped (with any connections still open) when the last holder goes.
pub struct TestDatabase {
    pub url: String,
    name: String,
}

impl TestDatabase {
    fn named(name: String) -> Arc<TestDatabase> {
        Arc::new(TestDatabase {
            url: format!("{}/{name}", server_url()),
            name,
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let name = self.name.clone();
        // Its own thread and runtime: drop may run inside (or after) the test's runtime.
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
            runtime.block_on(async {
                let mut admin = PgConnection::connect(&format!("{}/postgres", server_url())).await?;
                sqlx::query(&format!("drop database if exists \"{name}\" with (force)"))
                    .execute(&mut admin)
                    .await?;
                Ok::<_, anyhow::Error>(())
            })
        })
        .join();
        if !matches!(dropped, Ok(Ok(()))) {
            eprintln!("could not drop test database {}", self.name);
        }
    }
}

/// A name for a database that does not exist yet: the portal creates it (start-up tests).
pub fn empty_database() -> Arc<TestDatabase> {
    TestDatabase::named(format!("wp_test_{}", uuid::Uuid::new_v4().simple()))
}

/// A database with the migrations run and the demo data seeded (the seeded users other than
/// the admin have [`OTHER_PASSWORD`]), cloned from the template.
pub async fn seeded_database() -> Arc<TestDatabase> {
    let template = template().await;
    let database = empty_database();
    let mut admin = PgConnection::connect(&format!("{}/postgres", server_url()))
        .await
        .expect("connect to the test server");
    sqlx::query(&format!(
        "create database \"{}\" template \"{template}\"",
        database.name()
    ))
    .execute(&mut admin)
    .await
    .expect("clone the template database");
    database
}

/// The template's name changes with the migrations and the seed, so an old one is never used.
fn template_name() -> String {
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    for migration in webhook_portal::db::MIGRATOR.iter() {
        migration.version.hash(&mut hasher);
        migration.checksum.hash(&mut hasher);
    }
    include_str!("../../../src/seed.rs").hash(&mut hasher);
    OTHER_PASSWORD.hash(&mut hasher);
    format!("wp_template_{:016x}", hasher.finish())
}

/// Makes the template if no test process has yet; returns its name.
async fn template() -> String {
    let name = template_name();
    let mut admin = PgConnection::connect(&format!("{}/postgres", server_url()))
        .await
        .expect("connect to the test server");
    // Session lock: one process builds, the others wait and then find it.
    sqlx::query("select pg_advisory_lock(hashtext('webhook-portal test template'))")
        .execute(&mut admin)
        .await
        .expect("lock");
    let exists: bool = sqlx::query_scalar("select exists (select 1 from pg_database where datname = $1)")
        .bind(&name)
        .fetch_one(&mut admin)
        .await
        .expect("look for the template");
    if !exists {
        build_template(&mut admin, &name).await;
    }
    // Note its last use: templates of other versions of the code (another checkout testing on
    // the same server) are only removed once unused for an hour, never from under their runs.
    sqlx::query(&format!(
        "comment on database \"{name}\" is 'used {}'",
        chrono::Utc::now().timestamp()
    ))
    .execute(&mut admin)
    .await
    .expect("note the template's use");
    sqlx::query("select pg_advisory_unlock(hashtext('webhook-portal test template'))")
        .execute(&mut admin)
        .await
        .expect("unlock");
    name
}

async fn build_template(admin: &mut PgConnection, name: &str) {
    // Templates of earlier migrations or seeds unused for an hour are of no use any more, nor
    // is a half-built one left by a test process that died while building (the lock says none
    // is building now).
    let stale: Vec<String> = sqlx::query_scalar(
        "select datname from pg_database
         where datname like 'wp_tpl_building_%'
            or (datname like 'wp_template_%'
                and coalesce(substring(shobj_description(oid, 'pg_database') from '^used ([0-9]+)$')::bigint, 0)
                    < extract(epoch from now()) - 3600)",
    )
    .fetch_all(&mut *admin)
    .await
    .expect("list templates");
    for old in stale {
        let _ = sqlx::query(&format!("drop database if exists \"{old}\" with (force)"))
            .execute(&mut *admin)
            .await;
    }
    let building = format!("wp_tpl_building_{}", uuid::Uuid::new_v4().simple());
    let url = format!("{}/{building}", server_url());
    let config = test_config(&url, &[]);
    let database = webhook_portal::db::open(&config).await.expect("migrate the template");
    webhook_portal::seed::seed_if_empty(&database.pool, &config)
        .await
        .expect("seed the template");
    for email in [VIEWER_EMAIL, DISTRIBUTOR_EMAIL] {
        webhook_portal::auth::users::set_password(&database.pool, email, OTHER_PASSWORD)
            .await
            .expect("set a seeded user's password");
    }
    database.pool.close().await;
    // Built under another name, so that a half-built template is never cloned.
    sqlx::query(&format!("alter database \"{building}\" rename to \"{name}\""))
        .execute(&mut *admin)
        .await
        .expect("name the template");
}
