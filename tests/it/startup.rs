//! Start-up: database creation, migrations, the one-time seed, configuration errors and the
//! `user` commands of the binary.

use std::io::Write;
use std::process::{Command, Stdio};

use crate::common::*;

const BIN: &str = env!("CARGO_BIN_EXE_webhook-portal");

#[tokio::test]
async fn the_database_is_created_migrated_and_seeded_once() {
    let database = empty_database();
    let app = spawn_app_on(&database, &[]).await;
    let counts = |pool: sqlx::PgPool| async move {
        let accounts: i64 = sqlx::query_scalar("select count(*) from accounts")
            .fetch_one(&pool)
            .await
            .unwrap();
        let users: i64 = sqlx::query_scalar("select count(*) from users")
            .fetch_one(&pool)
            .await
            .unwrap();
        let products: i64 = sqlx::query_scalar("select count(*) from products")
            .fetch_one(&pool)
            .await
            .unwrap();
        (accounts, users, products)
    };
    assert_eq!(counts(app.pool.clone()).await, (2, 3, 3));
    let dynamic: i64 =
        sqlx::query_scalar("select count(*) from products where 'dynamic_validation' = any(capabilities)")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(dynamic, 1, "one product has dynamic validation of change requests");
    let vendor: (String, String) = sqlx::query_as("select id, name from accounts where kind = 'vendor'")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert!(vendor.0.starts_with("VA-") && vendor.1 == "Front Street Inc.");
    let distributor: String = sqlx::query_scalar("select id from accounts where kind = 'distributor'")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert!(distributor.starts_with("PA-"));

    // A second start on the same (no longer empty) database seeds nothing and migrates nothing new.
    let again = spawn_app_on(&database, &[("PORTAL_ADMIN_EMAIL", "someone.else@example.com")]).await;
    assert_eq!(counts(again.pool.clone()).await, (2, 3, 3));
    webhook_portal::db::migrate(&again.pool)
        .await
        .expect("migrations are idempotent");
    assert_eq!(counts(again.pool.clone()).await, (2, 3, 3));
}

#[test]
fn first_start_prints_generated_logins_once() {
    let database = empty_database();
    let url = database.url.clone();
    let run = || {
        let mut child = Command::new(BIN)
            .env("DATABASE_URL", &url)
            .env("BIND_ADDR", "127.0.0.1:0")
            .env_remove("PORTAL_ADMIN_PASSWORD")
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start portal");
        // Read until the banner has been printed (or the first start is over), then stop it.
        let stdout = child.stdout.take().unwrap();
        let reader = std::thread::spawn(move || {
            use std::io::{BufRead, BufReader};
            let mut seen = String::new();
            let mut rules = 0;
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                seen.push_str(&line);
                seen.push('\n');
                rules += usize::from(line.starts_with("======="));
                if rules == 2 {
                    break;
                }
            }
            seen
        });
        std::thread::sleep(std::time::Duration::from_secs(4));
        child.kill().ok();
        child.wait().ok();
        reader.join().unwrap()
    };
    let first = run();
    assert!(first.contains("admin@frontstreet.example"), "{first}");
    assert!(first.contains("password:"), "{first}");
    let second = run();
    assert!(!second.contains("password:"), "no banner on the second start: {second}");
}

#[test]
fn a_bad_setting_stops_start_up_with_one_clear_line() {
    let out = Command::new(BIN)
        .env("BIND_ADDR", "not-an-address")
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("invalid BIND_ADDR"), "{stderr}");
}

fn user_command(url: &str, args: &[&str], stdin: &str) -> std::process::Output {
    let mut child = Command::new(BIN)
        .env("DATABASE_URL", url)
        .env("RUST_LOG", "warn")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run user command");
    child.stdin.take().unwrap().write_all(stdin.as_bytes()).unwrap();
    child.wait_with_output().unwrap()
}

#[tokio::test]
async fn user_commands_add_users_and_set_passwords() {
    let app = spawn_app().await;
    let account = app.vendor_account_id.clone();
    let url = app.database.url.clone();
    let add = tokio::task::spawn_blocking({
        let (url, account) = (url.clone(), account.clone());
        move || {
            user_command(
                &url,
                &[
                    "user",
                    "add",
                    "--email",
                    "new.admin@example.com",
                    "--account",
                    &account,
                    "--role",
                    "admin",
                ],
                "a-new-password-123\n",
            )
        }
    })
    .await
    .unwrap();
    assert!(add.status.success(), "{}", String::from_utf8_lossy(&add.stderr));
    assert_eq!(
        app.login("new.admin@example.com", "a-new-password-123").await.status(),
        303
    );

    let set = tokio::task::spawn_blocking({
        let url = url.clone();
        move || {
            user_command(
                &url,
                &["user", "set-password", "--email", "new.admin@example.com"],
                "changed-password-456\n",
            )
        }
    })
    .await
    .unwrap();
    assert!(set.status.success(), "{}", String::from_utf8_lossy(&set.stderr));
    let fresh = new_client();
    let page = fresh.get(app.url("/login")).send().await.unwrap().text().await.unwrap();
    let csrf = csrf_from(&page).unwrap();
    let r = fresh
        .post(app.url("/login"))
        .form(&[
            ("csrf_token", csrf.as_str()),
            ("email", "new.admin@example.com"),
            ("password", "changed-password-456"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    // Both are in the audit log, as done from the command line, without the passwords.
    let recorded: Vec<(String, String, String)> = sqlx::query_as(
        "select action, actor_name, to_jsonb(a)::text from audit_records a where actor_kind = 'portal' order by id",
    )
    .fetch_all(&app.pool)
    .await
    .unwrap();
    let actions: Vec<&str> = recorded.iter().map(|r| r.0.as_str()).collect();
    assert_eq!(actions, ["user.added", "user.password_reset"]);
    assert!(recorded.iter().all(|r| r.1.starts_with("Command line")));
    assert!(recorded
        .iter()
        .all(|r| !r.2.contains("a-new-password-123") && !r.2.contains("changed-password-456")));

    // Clear errors: unknown account, duplicate e-mail, weak password, unknown user.
    let failures = tokio::task::spawn_blocking(move || {
        vec![
            user_command(
                &url,
                &[
                    "user",
                    "add",
                    "--email",
                    "x@example.com",
                    "--account",
                    "VA-000-000",
                    "--role",
                    "viewer",
                ],
                "long-enough-password\n",
            ),
            user_command(
                &url,
                &[
                    "user",
                    "add",
                    "--email",
                    "new.admin@example.com",
                    "--account",
                    &account,
                    "--role",
                    "viewer",
                ],
                "long-enough-password\n",
            ),
            user_command(
                &url,
                &[
                    "user",
                    "add",
                    "--email",
                    "y@example.com",
                    "--account",
                    &account,
                    "--role",
                    "viewer",
                ],
                "short\n",
            ),
            user_command(
                &url,
                &["user", "set-password", "--email", "nobody@example.com"],
                "long-enough-password\n",
            ),
        ]
    })
    .await
    .unwrap();
    let expected = [
        "no account VA-000-000",
        "already exists",
        "at least 12 characters",
        "no user with e-mail",
    ];
    for (out, want) in failures.iter().zip(expected) {
        assert!(!out.status.success());
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(want), "expected {want:?} in {stderr}");
    }
}

#[tokio::test]
async fn a_viewer_added_by_command_can_only_read() {
    let app = spawn_app().await;
    // The role presets map onto permissions: a viewer has none of them.
    let users: Vec<(String, bool, bool, bool, bool, bool)> = sqlx::query_as(
        "select email, can_create_webhooks, can_edit_webhooks, can_delete_webhooks, can_manage_tokens,
                can_manage_users from users order by email",
    )
    .fetch_all(&app.pool)
    .await
    .unwrap();
    assert!(users.contains(&(VIEWER_EMAIL.to_string(), false, false, false, false, false)));
    assert!(users.contains(&(ADMIN_EMAIL.to_string(), true, true, true, true, true)));
    app.login_viewer().await;
    let html = app.get_html("/webhooks").await;
    assert!(!html.contains("Create webhook"), "viewers get no create button");
}

#[tokio::test]
async fn a_private_cluster_starts_serves_and_stops() {
    assert!(
        webhook_portal::db::find_postgres_bin_dir().is_some(),
        "PostgreSQL server binaries are installed on this machine"
    );
    let dir = std::env::temp_dir().join(format!("wp-cluster-{}", uuid::Uuid::new_v4().simple()));
    let cluster = tokio::task::spawn_blocking({
        let dir = dir.clone();
        move || webhook_portal::db::EmbeddedPostgres::start(&dir).expect("cluster starts")
    })
    .await
    .unwrap();
    let options = cluster.connect_options().database("webhook_portal");
    webhook_portal::db::create_database_if_missing(&options)
        .await
        .expect("database created in the private cluster");
    let pool = sqlx::PgPool::connect_with(options)
        .await
        .expect("connect over the cluster's socket");
    webhook_portal::db::migrate(&pool).await.expect("migrations run");
    pool.close().await;
    tokio::task::spawn_blocking(move || drop(cluster)).await.unwrap();
    // Stopped: the postmaster pid file is gone.
    assert!(!dir.join("postgres.pid").exists() && !dir.join("postmaster.pid").exists());
    let _ = std::fs::remove_dir_all(&dir);
}
