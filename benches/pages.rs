//! Page benchmark at a real vendor's scale.
//!
//! `cargo bench --bench pages -- seed` fills a database (BENCH_DATABASE_URL, default
//! `postgres://postgres@127.0.0.1:5432/wp_scale`, dropped and made afresh) with a skewed data
//! set: the demo accounts, BENCH_SCALE_WEBHOOKS (100,000) webhooks over the seeded products and
//! the 18 types, BENCH_SCALE_ATTEMPTS (2,000,000) attempts of which one hot webhook owns half,
//! 500,000 events, 90,000 pending triggers due in the future and 50,000 requests; the attempts'
//! hourly figures, each webhook's last failure and its refreshed 24 h success rate.
//!
//! `cargo bench --bench pages` starts the portal (release build) on that database and prints
//! p50/p99 of every page and API list (BENCH_ROUNDS, 100, sequential requests each after a
//! warm-up), and the portal's memory. `cargo bench --bench pages -- retention` then shows the
//! database staying the same size under a steady load: day after day, a day's calls arrive
//! (BENCH_SCALE_ATTEMPTS / 28) and retention removes those past 28 days.
//! `cargo bench --bench pages -- drop` removes the database.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use sqlx::postgres::PgPoolOptions;
use sqlx::PgPool;
use webhook_portal::webhooks::model::WebhookType;

const BIN: &str = env!("CARGO_BIN_EXE_webhook-portal");
const ADMIN_EMAIL: &str = "admin@frontstreet.example";
const ADMIN_PASSWORD: &str = "scale-benchmark-password";
const METRICS_TOKEN: &str = "scale-benchmark-metrics-token";

fn env_or(name: &str, default: i64) -> i64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn database_url() -> String {
    std::env::var("BENCH_DATABASE_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/wp_scale".into())
}

/// The server's maintenance database and the benchmark database's name.
fn server_and_name(url: &str) -> (String, String) {
    let (server, name) = url.rsplit_once('/').expect("a database URL ends with /name");
    (format!("{server}/postgres"), name.to_string())
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).filter(|a| !a.starts_with('-')).collect();
    match args.first().map(String::as_str) {
        Some("seed") => seed().await,
        Some("drop") => drop_database().await,
        Some("retention") => retention().await,
        _ => measure().await,
    }
}

async fn drop_database() -> anyhow::Result<()> {
    let (server, name) = server_and_name(&database_url());
    let admin = PgPool::connect(&server).await?;
    sqlx::query(&format!("drop database if exists \"{name}\" with (force)"))
        .execute(&admin)
        .await?;
    println!("dropped {name}");
    Ok(())
}

/// A portal process on the benchmark database.
struct Portal {
    child: std::process::Child,
    base: String,
}

impl Portal {
    async fn start(database_url: &str) -> anyhow::Result<Portal> {
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0")?;
            l.local_addr()?.port()
        };
        let child = Command::new(BIN)
            .env("DATABASE_URL", database_url)
            .env("BIND_ADDR", format!("127.0.0.1:{port}"))
            .env("PORTAL_ADMIN_PASSWORD", ADMIN_PASSWORD)
            .env("PORTAL_METRICS_TOKEN", METRICS_TOKEN)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()?;
        let portal = Portal {
            child,
            base: format!("http://127.0.0.1:{port}"),
        };
        let client = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(120);
        while Instant::now() < deadline {
            if let Ok(r) = client.get(format!("{}/healthz", portal.base)).send().await {
                if r.status().is_success() {
                    return Ok(portal);
                }
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        anyhow::bail!("the portal did not answer /healthz within 2 minutes")
    }

    /// (current, peak) resident memory in KiB.
    fn memory_kib(&self) -> (u64, u64) {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap_or_default();
        let field = |name: &str| {
            status
                .lines()
                .find(|l| l.starts_with(name))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
                .unwrap_or(0)
        };
        (field("VmRSS:"), field("VmHWM:"))
    }
}

impl Drop for Portal {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn seed() -> anyhow::Result<()> {
    let url = database_url();
    let (server, name) = server_and_name(&url);
    let webhooks = env_or("BENCH_SCALE_WEBHOOKS", 100_000);
    let attempts = env_or("BENCH_SCALE_ATTEMPTS", 2_000_000);
    drop_database().await?;
    let admin = PgPool::connect(&server).await?;
    sqlx::query(&format!("create database \"{name}\""))
        .execute(&admin)
        .await?;
    // The portal migrates and seeds the demo accounts and products on its first start.
    drop(Portal::start(&url).await?);
    let pool = PgPoolOptions::new().max_connections(2).connect(&url).await?;
    let started = Instant::now();

    let (classes, types): (Vec<&str>, Vec<&str>) = WebhookType::ALL
        .iter()
        .map(|t| {
            let i = t.info();
            (i.object_class.as_str(), i.api_type)
        })
        .unzip();
    // Webhooks: newest first is WH-000-000-000; labels carry a word per 1% (`tag07`) for searches.
    sqlx::query(
        "insert into webhooks (id, account_id, product_id, object_class, type, label, description, active,
             external_url, jwt_secret, http_method, created_at, modified_at, triggers, success_triggers,
             failure_triggers, last_success_at)
         select 'WH-' || to_char(i / 1000000 % 1000, 'FM000') || '-' || to_char(i / 1000 % 1000, 'FM000') || '-'
                    || to_char(i % 1000, 'FM000'),
                a.id, p.ids[1 + i % array_length(p.ids, 1)], t.classes[1 + i % 18], t.types[1 + i % 18],
                'Order sync ' || i || ' tag' || to_char(i % 100, 'FM00'), 'Generated for the scale benchmark',
                i % 10 <> 0, 'https://hooks' || (i % 50) || '.example.com/webhook/' || i, 'JWT-scale-secret-0123456789',
                case when i % 7 = 0 then 'GET' else 'POST' end,
                now() - make_interval(secs => i * 150), now() - make_interval(secs => i * 100),
                10, 9, 1, now() - interval '1 hour'
         from generate_series(0, $1 - 1) i,
              (select id from accounts where kind = 'vendor') a,
              (select array_agg(id order by id) ids from products) p,
              (select $2::text[] classes, $3::text[] types) t",
    )
    .bind(webhooks)
    .bind(&classes)
    .bind(&types)
    .execute(&pool)
    .await?;
    println!("{webhooks} webhooks ({:.0?})", started.elapsed());

    // Attempts over the last 28 days: the hot webhook (the newest) owns half; 1 in 10 failed.
    let hot = "WH-000-000-000";
    for (share, chooser) in [
        (attempts / 2, format!("'{hot}'")),
        (
            attempts - attempts / 2,
            format!(
                "'WH-' || to_char(w / 1000000 % 1000, 'FM000') || '-' || to_char(w / 1000 % 1000, 'FM000') || '-' \
                 || to_char(w % 1000, 'FM000') from (select 1 + (i * 7919) % ({webhooks} - 1) as w) pick"
            ),
        ),
    ] {
        sqlx::query(&format!(
            "insert into webhook_attempts (webhook_id, manual, started_at, duration_ms, success, status_code,
                 error_kind, error, request_method, request_url, request_body, response_body)
             select (select {chooser}), false, now() - make_interval(secs => i::double precision * 2419200 / $1),
                    20 + i % 200, i % 10 <> 0, case when i % 10 <> 0 then 200 else 500 end,
                    case when i % 10 = 0 then 'http' end, case when i % 10 = 0 then 'HTTP 500' end,
                    'POST', 'https://hooks.example.com/webhook', '{{\"webhook_id\": \"x\"}}', '{{\"status\": \"ok\"}}'
             from generate_series(1, $1) i"
        ))
        .bind(share)
        .execute(&pool)
        .await?;
    }
    println!("{attempts} attempts ({:.0?})", started.elapsed());

    // The calls' hourly figures, as the delivery task would have written them, each webhook's
    // last failure, and the 24 h success rates the list sorts by.
    // (As the migration fills them from earlier calls: a call's slot is how many bounds it exceeds.)
    let thresholds: Vec<i32> = webhook_portal::latency::BOUNDS_MS.iter().map(|b| b + 1).collect();
    let slots: Vec<String> = (0..webhook_portal::latency::SLOTS)
        .map(|i| format!("count(*) filter (where slot = {i})"))
        .collect();
    sqlx::query(&format!(
        "insert into webhook_hourly_stats (webhook_id, hour, calls, failures, latency)
         select webhook_id, hour, count(*), count(*) filter (where not success),
                (array[{}]::integer[])[1 : max(slot) + 1]
         from (select webhook_id, date_trunc('hour', started_at at time zone 'UTC') at time zone 'UTC' as hour,
                      success, width_bucket(duration_ms, $1::int[]) as slot
               from webhook_attempts) a
         group by 1, 2",
        slots.join(", ")
    ))
    .bind(&thresholds)
    .execute(&pool)
    .await?;
    println!("hourly figures ({:.0?})", started.elapsed());
    sqlx::query(
        "update webhooks w set last_failure_at = f.at
         from (select webhook_id, max(started_at) as at from webhook_attempts where not success group by 1) f
         where f.webhook_id = w.id",
    )
    .execute(&pool)
    .await?;
    webhook_portal::webhooks::store::health::refresh_rates(&pool, chrono::Utc::now()).await?;
    println!("last failures and health rates ({:.0?})", started.elapsed());

    sqlx::query(
        "insert into webhook_events (webhook_id, source, created_at)
         select 'WH-' || to_char(w / 1000000 % 1000, 'FM000') || '-' || to_char(w / 1000 % 1000, 'FM000') || '-'
                    || to_char(w % 1000, 'FM000'),
                'queue_change', now() - make_interval(secs => i::double precision * 2419200 / 500000)
         from generate_series(1, 500000) i, lateral (select (i::bigint * 104729) % $1 as w) pick",
    )
    .bind(webhooks)
    .execute(&pool)
    .await?;
    sqlx::query(
        "insert into webhook_event_stats (webhook_id, events, last_event_at)
         select webhook_id, count(*), max(created_at) from webhook_events group by webhook_id",
    )
    .execute(&pool)
    .await?;
    // 90,000 pending triggers due in the next days (one per webhook).
    sqlx::query(
        "insert into webhook_triggers (webhook_id, state, due_at, first_event_at)
         select id, 'pending', now() + make_interval(secs => 3600 + (row_number() over ())::double precision * 7),
                now() - interval '1 minute'
         from webhooks order by id limit 90000",
    )
    .execute(&pool)
    .await?;
    sqlx::query(
        "insert into requests (id, account_id, product_id, object_class, kind, status, created_at, updated_at)
         select 'PR-' || to_char(i / 1000000 % 1000, 'FM000') || '-' || to_char(i / 1000 % 1000, 'FM000') || '-'
                    || to_char(i % 1000, 'FM000'),
                p.vendor_account_id, p.id, 'fulfillment_request', 'purchase',
                (array['pending', 'approved', 'failed', 'inquiring', 'draft'])[1 + i % 5],
                now() - make_interval(secs => i * 60), now() - make_interval(secs => i * 60)
         from generate_series(0, 49999) i,
              lateral (select id, vendor_account_id from products order by id offset i % 3 limit 1) p",
    )
    .execute(&pool)
    .await?;
    sqlx::query("vacuum analyze").execute(&pool).await?;
    let size: String = sqlx::query_scalar("select pg_size_pretty(pg_database_size(current_database()))")
        .fetch_one(&pool)
        .await?;
    println!(
        "seeded {name}: 500000 events, 90000 pending triggers, 50000 requests; {size} in {:.0?}",
        started.elapsed()
    );
    Ok(())
}

/// p50 and p99 of `rounds` sequential GETs of `path` (after a warm-up), failing on a non-2xx.
async fn time_page(client: &reqwest::Client, base: &str, path: &str, rounds: usize) -> anyhow::Result<(f64, f64)> {
    let mut times = Vec::with_capacity(rounds);
    for i in 0..rounds + 5 {
        let started = Instant::now();
        let response = client.get(format!("{base}{path}")).send().await?;
        let status = response.status();
        response.bytes().await?;
        if !status.is_success() {
            anyhow::bail!("{path} answered {status}");
        }
        if i >= 5 {
            times.push(started.elapsed().as_secs_f64() * 1000.0);
        }
    }
    times.sort_by(|a, b| a.total_cmp(b));
    let at = |p: f64| times[((times.len() - 1) as f64 * p).round() as usize];
    Ok((at(0.5), at(0.99)))
}

async fn measure() -> anyhow::Result<()> {
    let url = database_url();
    let rounds = env_or("BENCH_ROUNDS", 100) as usize;
    let pool = PgPool::connect(&url)
        .await
        .map_err(|e| anyhow::anyhow!("{e}: seed first with `cargo bench --bench pages -- seed`"))?;
    let portal = Portal::start(&url).await?;
    let base = portal.base.clone();

    // Signed in as the vendor admin (a browser's cookie jar), and an API token.
    let browser = reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()?;
    let login = browser.get(format!("{base}/login")).send().await?.text().await?;
    let csrf = login
        .split("name=\"csrf_token\" value=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .ok_or_else(|| anyhow::anyhow!("no CSRF token on the sign-in page"))?
        .to_string();
    let signed_in = browser
        .post(format!("{base}/login"))
        .form(&[
            ("email", ADMIN_EMAIL),
            ("password", ADMIN_PASSWORD),
            ("csrf_token", &csrf),
        ])
        .send()
        .await?;
    anyhow::ensure!(
        signed_in.status().is_redirection(),
        "sign-in failed: {}",
        signed_in.status()
    );
    let users = webhook_portal::auth::store::users::find_credentials(&pool, ADMIN_EMAIL)
        .await?
        .ok_or_else(|| anyhow::anyhow!("no user {ADMIN_EMAIL}"))?;
    let admin = webhook_portal::auth::store::users::load_current_user(&pool, &users.user_id)
        .await?
        .ok_or_else(|| anyhow::anyhow!("no user {ADMIN_EMAIL}"))?;
    let (_, key) = webhook_portal::tokens::store::create(
        &mut *pool.acquire().await?,
        &admin,
        "Scale benchmark",
        admin.permissions,
    )
    .await?;
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert("authorization", format!("ApiKey {key}").parse()?);
    let api = reqwest::Client::builder().default_headers(headers).build()?;
    // The cursor of the page after offset 89,900, from its Link header.
    let deep = api
        .get(format!(
            "{base}/public/v1/notifications/webhooks?limit=100&offset=89900"
        ))
        .send()
        .await?;
    let cursor_path = deep
        .headers()
        .get("link")
        .and_then(|l| l.to_str().ok())
        .and_then(|l| l.trim_start_matches('<').split('>').next())
        .and_then(|url| url.find("/public/").map(|i| url[i..].to_string()))
        .ok_or_else(|| anyhow::anyhow!("no Link header on a full page"))?;

    let product: String = sqlx::query_scalar("select id from products order by id limit 1")
        .fetch_one(&pool)
        .await?;
    let (hot, cold) = ("WH-000-000-000", "WH-000-050-001");
    let v1 = "/public/v1/notifications/webhooks";
    let pages: Vec<(&str, String)> = vec![
        ("webhook list, first page", "/webhooks".into()),
        ("search, 1% hit", "/webhooks?q=tag07".into()),
        ("search, no match", "/webhooks?q=nothing-like-this".into()),
        ("type filter", "/webhooks?type=usage_file_queue".into()),
        ("sorted by health, worst first", "/webhooks?sort=health".into()),
        ("sorted by health, best first", "/webhooks?sort=-health".into()),
        (
            "failing filter (failure in the last hour)",
            "/webhooks?health=failing".into(),
        ),
        (
            "failing, sorted by health",
            "/webhooks?health=failing&sort=health".into(),
        ),
        ("details (cold)", format!("/webhooks/{cold}")),
        ("statistics tab", format!("/webhooks/{cold}/statistics")),
        (
            "statistics tab (hot: 168 hours charted)",
            format!("/webhooks/{hot}/statistics"),
        ),
        ("HTTP settings tab", format!("/webhooks/{cold}/http")),
        ("custom data tab", format!("/webhooks/{cold}/data")),
        ("deliveries tab (cold)", format!("/webhooks/{cold}/deliveries")),
        ("deliveries tab (hot, 1M calls)", format!("/webhooks/{hot}/deliveries")),
        (
            "deliveries tab (hot, failures)",
            format!("/webhooks/{hot}/deliveries?outcome=failure"),
        ),
        ("product page with its queue", format!("/products/{product}")),
        ("products", "/products".into()),
    ];
    let api_lists: Vec<(&str, String)> = vec![
        ("API list limit=100", format!("{v1}?limit=100")),
        (
            "API RQL ilike(label,*tag07*)",
            format!("{v1}?ilike(label,*tag07*)&limit=100"),
        ),
        ("API RQL eq(active,false)", format!("{v1}?eq(active,false)&limit=100")),
        ("API offset=90000", format!("{v1}?limit=100&offset=90000")),
        ("API cursor page (after=, at 90000)", cursor_path),
        ("API requests list", "/public/v1/requests?limit=100".into()),
    ];

    println!("| page | p50 ms | p99 ms |");
    println!("|---|---:|---:|");
    for (name, path) in &pages {
        let (p50, p99) = time_page(&browser, &base, path, rounds).await?;
        println!("| {name} | {p50:.1} | {p99:.1} |");
    }
    for (name, path) in &api_lists {
        let (p50, p99) = time_page(&api, &base, path, rounds).await?;
        println!("| {name} | {p50:.1} | {p99:.1} |");
    }
    let mut scrape = reqwest::header::HeaderMap::new();
    scrape.insert("authorization", format!("Bearer {METRICS_TOKEN}").parse()?);
    let prometheus = reqwest::Client::builder().default_headers(scrape).build()?;
    let (p50, p99) = time_page(&prometheus, &base, "/metrics", rounds).await?;
    println!("| /metrics (90,000 pending triggers) | {p50:.1} | {p99:.1} |");
    let (rss, peak) = portal.memory_kib();
    let size: String = sqlx::query_scalar("select pg_size_pretty(pg_database_size(current_database()))")
        .fetch_one(&pool)
        .await?;
    println!(
        "portal memory: {} MiB resident, {} MiB peak; database {size}",
        rss / 1024,
        peak / 1024
    );
    Ok(())
}

/// A steady load against retention: each simulated day adds a day's calls (dated that day) and
/// removes those older than 28 days, as the portal's housekeeping does; the attempts table
/// (with its indexes) should stay the same size once the freed space is reused.
async fn retention() -> anyhow::Result<()> {
    let url = database_url();
    let pool = PgPool::connect(&url)
        .await
        .map_err(|e| anyhow::anyhow!("{e}: seed first with `cargo bench --bench pages -- seed`"))?;
    let per_day = env_or("BENCH_SCALE_ATTEMPTS", 2_000_000) / 28;
    let size = |pool: PgPool| async move {
        sqlx::query_scalar::<_, i64>("select pg_total_relation_size('webhook_attempts')")
            .fetch_one(&pool)
            .await
    };
    println!("| day | calls added | calls removed | removed in | attempts table |");
    println!("|---:|---:|---:|---:|---:|");
    println!("| 0 | | | | {} MiB |", size(pool.clone()).await? / 1024 / 1024);
    for day in 1..=10 {
        sqlx::query(
            "insert into webhook_attempts (webhook_id, started_at, duration_ms, success, status_code, request_method,
                 request_url, request_body, response_body)
             select 'WH-000-000-' || to_char(i % 1000, 'FM000'),
                    now() + make_interval(days => $2::int, secs => (i % 86400)::double precision), 20, true, 200,
                    'POST', 'https://hooks.example.com/webhook', '{\"webhook_id\": \"x\"}', '{\"status\": \"ok\"}'
             from generate_series(1, $1) i",
        )
        .bind(per_day)
        .bind(day as i32 - 1)
        .execute(&pool)
        .await?;
        let started = Instant::now();
        let cutoff = chrono::Utc::now() + chrono::Duration::days(day) - chrono::Duration::days(28);
        let removed = webhook_portal::webhooks::store::retention::forget_before(&pool, cutoff).await?;
        let took = started.elapsed();
        // What autovacuum does between two days: the freed space becomes reusable.
        sqlx::query("vacuum webhook_attempts").execute(&pool).await?;
        println!(
            "| {day} | {per_day} | {} | {:.1} s | {} MiB |",
            removed.attempts,
            took.as_secs_f64(),
            size(pool.clone()).await? / 1024 / 1024
        );
    }
    Ok(())
}
