//! Test harness: each test gets its own fresh database and its own portal on 127.0.0.1:0,
//! driven over real HTTP by a reqwest client with a cookie store.
#![allow(dead_code)]

pub mod browser;
pub mod database;
pub mod handler;
pub mod process;
pub mod smtp;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;

use sqlx::PgPool;
use webhook_portal::config::Config;
use webhook_portal::startup::Application;

pub const ADMIN_EMAIL: &str = "admin@frontstreet.example";
pub const ADMIN_PASSWORD: &str = "admin-password-for-tests";
pub const VIEWER_EMAIL: &str = "viewer@frontstreet.example";
pub const DISTRIBUTOR_EMAIL: &str = "admin@riverside.example";
/// Tests give the seeded users other than the admin this password.
/// The JWT secret of webhooks made by [`insert_webhook`].
pub const WEBHOOK_SECRET: &str = "JWT-secret-for-tests-0001";
pub const OTHER_PASSWORD: &str = "other-password-for-tests";

/// The server holding per-test databases (trust auth on this machine and in CI).
pub fn server_url() -> String {
    std::env::var("TEST_DATABASE_SERVER").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".to_string())
}

pub use database::{empty_database, seeded_database, TestDatabase};

pub struct TestApp {
    pub addr: SocketAddr,
    pub base: String,
    pub pool: PgPool,
    /// Dropped with the last clone of this app: the test's database goes with it.
    pub database: Arc<TestDatabase>,
    pub client: reqwest::Client,
    pub vendor_account_id: String,
    pub distributor_account_id: String,
}

pub fn test_config(database_url: &str, extra: &[(&str, &str)]) -> Config {
    let mut vars: HashMap<String, String> = HashMap::from([
        ("DATABASE_URL".to_string(), database_url.to_string()),
        ("BIND_ADDR".to_string(), "127.0.0.1:0".to_string()),
        ("PORTAL_ADMIN_PASSWORD".to_string(), ADMIN_PASSWORD.to_string()),
        ("RUST_LOG".to_string(), "warn".to_string()),
    ]);
    for (k, v) in extra {
        vars.insert(k.to_string(), v.to_string());
    }
    Config::from_lookup(|name| vars.get(name).cloned()).expect("test config is valid")
}

pub fn new_client() -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(&[]).await
}

pub async fn spawn_app_with(extra: &[(&str, &str)]) -> TestApp {
    let database = seeded_database().await;
    spawn_app_on(&database, extra).await
}

/// The portal on `database` (created and seeded by the portal itself if it is empty).
pub async fn spawn_app_on(database: &Arc<TestDatabase>, extra: &[(&str, &str)]) -> TestApp {
    let config = test_config(&database.url, extra);
    let app = Application::build(config).await.expect("app builds");
    let addr = app.local_addr().expect("bound");
    let pool = app.pool().clone();
    tokio::spawn(app.run_until(std::future::pending()));
    let vendor_account_id: String =
        sqlx::query_scalar("select id from accounts where kind = 'vendor' order by created_at limit 1")
            .fetch_one(&pool)
            .await
            .expect("seeded vendor");
    let distributor_account_id: String =
        sqlx::query_scalar("select id from accounts where kind = 'distributor' order by created_at limit 1")
            .fetch_one(&pool)
            .await
            .expect("seeded distributor");
    TestApp {
        addr,
        base: format!("http://{addr}"),
        pool,
        database: database.clone(),
        client: new_client(),
        vendor_account_id,
        distributor_account_id,
    }
}

/// The value of the first `name="csrf_token"` hidden input in `html`.
pub fn csrf_from(html: &str) -> Option<String> {
    let at = html.find("name=\"csrf_token\" value=\"")?;
    let rest = &html[at + "name=\"csrf_token\" value=\"".len()..];
    Some(rest[..rest.find('"')?].to_string())
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client.get(self.url(path)).send().await.expect("GET")
    }

    pub async fn get_html(&self, path: &str) -> String {
        self.get(path).await.text().await.expect("body")
    }

    /// Signs in through the form, as a browser would.
    pub async fn login(&self, email: &str, password: &str) -> reqwest::Response {
        let page = self.get_html("/login").await;
        let csrf = csrf_from(&page).expect("login form has a CSRF token");
        self.client
            .post(self.url("/login"))
            .form(&[
                ("csrf_token", csrf.as_str()),
                ("email", email),
                ("password", password),
                ("next", "/webhooks"),
            ])
            .send()
            .await
            .expect("POST /login")
    }

    pub async fn login_admin(&self) {
        let r = self.login(ADMIN_EMAIL, ADMIN_PASSWORD).await;
        assert_eq!(r.status(), 303, "admin sign-in should redirect");
    }

    pub async fn login_viewer(&self) {
        let r = self.login(VIEWER_EMAIL, OTHER_PASSWORD).await;
        assert_eq!(r.status(), 303, "viewer sign-in should redirect");
    }

    pub async fn login_distributor(&self) {
        let r = self.login(DISTRIBUTOR_EMAIL, OTHER_PASSWORD).await;
        assert_eq!(r.status(), 303, "distributor sign-in should redirect");
    }

    /// The session's CSRF token, read from a signed-in page.
    pub async fn csrf(&self) -> String {
        let html = self.get_html("/webhooks").await;
        csrf_from(&html).expect("page has a CSRF token")
    }

    /// Posts a form with the session's CSRF token added.
    pub async fn post_form(&self, path: &str, fields: &[(&str, &str)]) -> reqwest::Response {
        let csrf = self.csrf().await;
        let mut all: Vec<(&str, &str)> = vec![("csrf_token", csrf.as_str())];
        all.extend_from_slice(fields);
        self.client.post(self.url(path)).form(&all).send().await.expect("POST")
    }

    /// Posts a form as htmx does: the token in the X-CSRF-Token header and HX-Request set.
    pub async fn post_htmx(&self, path: &str, fields: &[(&str, &str)]) -> reqwest::Response {
        let csrf = self.csrf().await;
        self.client
            .post(self.url(path))
            .header("X-CSRF-Token", csrf)
            .header("HX-Request", "true")
            .form(fields)
            .send()
            .await
            .expect("POST")
    }
}

pub fn location(r: &reqwest::Response) -> String {
    r.headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string()
}

/// The seeded vendor products: (id, name, capabilities).
pub async fn vendor_products(app: &TestApp) -> Vec<(String, String, Vec<String>)> {
    sqlx::query_as("select id, name, capabilities from products where vendor_account_id = $1 order by name")
        .bind(&app.vendor_account_id)
        .fetch_all(&app.pool)
        .await
        .expect("products")
}

/// A product without the dynamic-validation capability, and one with it.
pub async fn plain_and_capable_products(app: &TestApp) -> (String, String) {
    let products = vendor_products(app).await;
    let plain = products
        .iter()
        .find(|p| p.2.is_empty())
        .expect("plain product")
        .0
        .clone();
    let capable = products
        .iter()
        .find(|p| !p.2.is_empty())
        .expect("capable product")
        .0
        .clone();
    (plain, capable)
}

/// Inserts a webhook directly (for list, paging and tenancy tests that need many or foreign rows).
pub async fn insert_webhook(app: &TestApp, account_id: &str, product_id: &str, label: &str, active: bool) -> String {
    let id = format!(
        "WH-{:03}-{:03}-{:03}",
        rand_u16() % 1000,
        rand_u16() % 1000,
        rand_u16() % 1000
    );
    sqlx::query(
        "insert into webhooks (id, account_id, product_id, object_class, type, label, description, active, external_url, jwt_secret, http_method)
         values ($1, $2, $3, 'fulfillment_request', 'event', $4, 'seeded for a test', $5, 'https://handler.example.com/hook', $6, 'POST')",
    )
    .bind(&id)
    .bind(account_id)
    .bind(product_id)
    .bind(label)
    .bind(active)
    .bind(WEBHOOK_SECRET)
    .execute(&app.pool)
    .await
    .expect("insert webhook");
    id
}

fn rand_u16() -> u16 {
    let b = uuid::Uuid::new_v4().into_bytes();
    u16::from_le_bytes([b[0], b[1]])
}

/// The HTML text with tags removed and whitespace collapsed, for "the page says X" checks.
pub fn text_of(html: &str) -> String {
    let mut out = String::new();
    let mut in_tag = false;
    for c in html.chars() {
        match c {
            '<' => in_tag = true,
            '>' => {
                in_tag = false;
                out.push(' ');
            }
            _ if !in_tag => out.push(c),
            _ => {}
        }
    }
    out.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .replace("&#39;", "'")
        .replace("&quot;", "\"")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

/// Walks the wizard with plain form posts and returns the new webhook's ID.
pub async fn create_via_wizard(
    app: &TestApp,
    name: &str,
    product_id: &str,
    type_code: &str,
    method: &str,
    data: &str,
) -> String {
    let steps: Vec<(&str, Vec<(&str, &str)>)> = vec![
        (
            "general",
            vec![
                ("name", name),
                ("description", "Created by a test."),
                ("enabled", "on"),
                ("action", "next"),
            ],
        ),
        ("product", vec![("product_id", product_id), ("action", "next")]),
        ("type", vec![("type", type_code), ("action", "next")]),
        (
            "http",
            vec![
                ("external_url", "https://handler.example.com/hook"),
                ("jwt_secret", "JWT-a-long-enough-secret-1234"),
                ("http_method", method),
                ("header_name", "X-Custom-Header"),
                ("header_value", "Connect"),
                ("action", "next"),
            ],
        ),
    ];
    for (step, fields) in steps {
        let r = app.post_form(&format!("/webhooks/new/{step}"), &fields).await;
        assert_eq!(r.status(), 303, "step {step}: {}", r.text().await.unwrap_or_default());
    }
    let r = app
        .post_form("/webhooks/new/data", &[("data", data), ("action", "create")])
        .await;
    assert_eq!(r.status(), 303, "create");
    let loc = location(&r);
    loc.strip_prefix("/webhooks/")
        .expect("redirect to the details page")
        .to_string()
}

/// Delivery settings that make retries and timeouts take milliseconds, with local
/// handlers allowed.
pub const FAST_DELIVERY: [(&str, &str); 7] = [
    ("PORTAL_ENDPOINT_ALLOWLIST", "127.0.0.0/8"),
    ("PORTAL_RETRY_BASE_MS", "200"),
    ("PORTAL_RETRY_MAX_MS", "1000"),
    ("PORTAL_REQUEST_TIMEOUT_MS", "1500"),
    ("PORTAL_CONNECT_TIMEOUT_MS", "1000"),
    ("PORTAL_DELIVERY_POLL_MS", "500"),
    ("PORTAL_OUT_OF_ORDER_AFTER", "3"),
];

/// A webhook of the vendor account calling `url`.
pub async fn webhook_calling(
    app: &TestApp,
    url: &str,
    method: &str,
    headers: serde_json::Value,
    data: serde_json::Value,
) -> String {
    let (product, _) = plain_and_capable_products(app).await;
    let id = insert_webhook(app, &app.vendor_account_id, &product, "Delivery test", true).await;
    sqlx::query("update webhooks set external_url = $2, http_method = $3, headers = $4, data = $5 where id = $1")
        .bind(&id)
        .bind(url)
        .bind(method)
        .bind(headers)
        .bind(data)
        .execute(&app.pool)
        .await
        .expect("configure webhook");
    id
}

/// The statistics counters of a webhook.
#[derive(Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct Stats {
    pub events: i64,
    pub triggers: i64,
    pub success_triggers: i64,
    pub failure_triggers: i64,
    pub failure_since_last_success: i64,
    pub out_of_order: bool,
}

/// A webhook's statistics as the portal shows them (the waiting tallies of recorded calls added).
pub async fn stats(pool: &PgPool, id: &str) -> Stats {
    webhook_portal::delivery::store::add_tallies(pool)
        .await
        .expect("add tallies");
    sqlx::query_as(
        "select coalesce(es.events, 0) as events, triggers, success_triggers, failure_triggers, failure_since_last_success, out_of_order
         from webhooks w left join webhook_event_stats es on es.webhook_id = w.id where w.id = $1",
    )
    .bind(id)
    .fetch_one(pool)
    .await
    .expect("stats")
}

/// A webhook id the test got from the portal.
pub fn webhook_id(id: &str) -> webhook_portal::ids::WebhookId {
    webhook_portal::ids::WebhookId::parse(id).expect("a webhook id")
}

/// Creates a request in a product's queue as a queue change would (`class`, `status` as the
/// platform names them).
pub async fn create_request(
    app: &TestApp,
    account_id: &str,
    product_id: &str,
    class: &str,
    kind: &str,
    status: &str,
    params: serde_json::Value,
) -> webhook_portal::requests::Request {
    webhook_portal::requests::create(
        &app.pool,
        &webhook_portal::ids::AccountId::parse(account_id).expect("an account id"),
        &webhook_portal::ids::ProductId::parse(product_id).expect("a product id"),
        webhook_portal::domain::ObjectClass::parse(class).expect("an object class"),
        kind,
        webhook_portal::requests::RequestStatus::parse(status).expect("a request status"),
        params,
    )
    .await
    .expect("create request")
}

/// Records events as a queue change would, in one transaction.
pub async fn queue_changes(pool: &PgPool, id: &str, n: usize) {
    let mut tx = pool.begin().await.unwrap();
    for _ in 0..n {
        webhook_portal::events::record(
            &mut tx,
            &webhook_id(id),
            webhook_portal::events::Source::QueueChange,
            Some(&webhook_portal::ids::RequestId::generate()),
        )
        .await
        .expect("record event");
    }
    tx.commit().await.unwrap();
}

/// Records one queue change for each webhook, all in one transaction (as a change that many
/// webhooks watch is recorded).
pub async fn queue_change_each<S: AsRef<str>>(pool: &PgPool, ids: impl IntoIterator<Item = S>) {
    let mut tx = pool.begin().await.unwrap();
    for id in ids {
        webhook_portal::events::record(
            &mut tx,
            &webhook_id(id.as_ref()),
            webhook_portal::events::Source::QueueChange,
            None,
        )
        .await
        .expect("record event");
    }
    tx.commit().await.unwrap();
}

impl TestApp {
    /// Another browser on the same portal, signed out.
    pub fn second_browser(&self) -> TestApp {
        TestApp {
            addr: self.addr,
            base: self.base.clone(),
            pool: self.pool.clone(),
            database: self.database.clone(),
            client: new_client(),
            vendor_account_id: self.vendor_account_id.clone(),
            distributor_account_id: self.distributor_account_id.clone(),
        }
    }

    /// Creates an API token through the Tokens page (signed in as an admin) and returns the
    /// `Authorization` value for it.
    pub async fn api_key(&self, name: &str) -> String {
        let html = self
            .post_form("/tokens", &[("name", name)])
            .await
            .text()
            .await
            .expect("tokens page");
        format!("ApiKey {}", shown_token(&html))
    }
}

/// The key shown once on the Tokens page after creating one.
pub fn shown_token(html: &str) -> String {
    html.split("id=\"token-value\">")
        .nth(1)
        .and_then(|r| r.split('<').next())
        .expect("the new key is shown")
        .to_string()
}
