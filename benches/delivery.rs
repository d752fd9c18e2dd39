//! Delivery benchmark: a portal process (release build) on a fresh database, N webhooks
//! pointing at a local handler, then
//!
//! 1. latency: events recorded one at a time, not saturating; event commit → call arrival;
//! 2. throughput: events flooded for a fixed time; successful calls per second, all recorded;
//!
//! 3. fairness: a second portal (concurrency 8) with BENCH_HUNG (1,000) webhooks of one
//!    account calling an endpoint that never answers, and another account's webhook fired
//!    20 times meanwhile: how long its calls take to arrive;
//!
//! and the portal's peak memory (VmHWM), the CPU time Postgres and the portal spent per call
//! during the flood, and the rows written per call (from `pg_stat_user_tables`, per table).
//! Run with `cargo bench --bench delivery`.
//! Settings: BENCH_WEBHOOKS (500), BENCH_SECONDS (10), BENCH_LATENCY_EVENTS (300),
//! BENCH_HUNG (1000), BENCH_CONCURRENCY (the portal's default, 48), BENCH_EVENTS_ONE_BY_ONE (set: the flood records
//! each event by a statement of its own, as older portals could only). The benchmark's databases are dropped at the end.

use std::collections::HashMap;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::http::HeaderMap;
use axum::Router;
use sqlx::PgPool;
use webhook_portal::ids::WebhookId;

const BIN: &str = env!("CARGO_BIN_EXE_webhook-portal");

#[derive(Default)]
struct Seen {
    calls: u64,
    /// When the latest call for each webhook arrived.
    arrivals: HashMap<String, Instant>,
}

fn env_or(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn webhook_id_of(headers: &HeaderMap) -> String {
    use base64::Engine;
    headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .and_then(|t| t.split('.').nth(1))
        .and_then(|p| base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(p).ok())
        .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
        .and_then(|v| v["webhook_id"].as_str().map(str::to_string))
        .unwrap_or_default()
}

/// User + system CPU time of a process from `/proc/<pid>/stat`, with its reaped children's
/// when `children` (the postmaster's children are the backends that have exited).
fn cpu_of(stat: &str, children: bool) -> Option<Duration> {
    // The fields after the command name in parentheses: utime is the 12th, then stime,
    // cutime and cstime, in clock ticks (100 a second on Linux).
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let ticks = |i: usize| fields.get(i).and_then(|f| f.parse::<u64>().ok());
    let own = ticks(11)? + ticks(12)?;
    let reaped = if children { ticks(13)? + ticks(14)? } else { 0 };
    Some(Duration::from_millis((own + reaped) * 10))
}

fn process_cpu(pid: u32) -> Duration {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| cpu_of(&s, false))
        .unwrap_or_default()
}

/// The CPU time of every Postgres process on the machine, backends that have exited included.
fn postgres_cpu() -> Duration {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Duration::ZERO;
    };
    entries
        .flatten()
        .filter_map(|e| std::fs::read_to_string(e.path().join("stat")).ok())
        .filter(|s| s.contains(" (postgres) "))
        .filter_map(|s| cpu_of(&s, true))
        .sum()
}

/// Rows inserted, updated and deleted so far, per table (as the statistics collector has them).
async fn row_writes(pool: &PgPool) -> anyhow::Result<HashMap<String, i64>> {
    let rows: Vec<(String, i64)> =
        sqlx::query_as("select relname::text, (n_tup_ins + n_tup_upd + n_tup_del)::bigint from pg_stat_user_tables")
            .fetch_all(pool)
            .await?;
    Ok(rows.into_iter().collect())
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i]
}

fn peak_memory_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    let webhooks = env_or("BENCH_WEBHOOKS", 500);
    let seconds = env_or("BENCH_SECONDS", 10) as u64;
    let latency_events = env_or("BENCH_LATENCY_EVENTS", 300);
    let server = std::env::var("TEST_DATABASE_SERVER").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".into());
    let database_url = format!("{server}/wp_bench_{}", uuid::Uuid::new_v4().simple());

    // The handler: answers 200 at once, notes arrivals, and (during the flood) asks for the
    // next event of that webhook, so every webhook always has work waiting.
    let seen = Arc::new(Mutex::new(Seen::default()));
    let (again_tx, mut again_rx) = tokio::sync::mpsc::unbounded_channel::<String>();
    let flooding = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let handler_addr = listener.local_addr()?;
    let app = Router::new().fallback({
        let seen = seen.clone();
        let flooding = flooding.clone();
        move |headers: HeaderMap| {
            let seen = seen.clone();
            let again = again_tx.clone();
            let flooding = flooding.clone();
            async move {
                let id = webhook_id_of(&headers);
                {
                    let mut s = seen.lock().unwrap();
                    s.calls += 1;
                    s.arrivals.insert(id.clone(), Instant::now());
                }
                if flooding.load(std::sync::atomic::Ordering::Relaxed) {
                    let _ = again.send(id);
                }
                "ok"
            }
        }
    });
    tokio::spawn(async move { axum::serve(listener, app).await });

    // The portal under test.
    let _database = DroppedAtEnd::new(&server, &database_url);
    // The portal's default concurrency unless BENCH_CONCURRENCY says otherwise (always passed:
    // a PORTAL_DELIVERY_CONCURRENCY in the environment must not change the benchmark unseen).
    let concurrency = std::env::var("BENCH_CONCURRENCY").unwrap_or_else(|_| "48".into());
    let mut portal = start_portal(
        &database_url,
        &[
            ("PORTAL_REQUEST_TIMEOUT_MS", "5000"),
            ("PORTAL_DELIVERY_CONCURRENCY", concurrency.as_str()),
        ],
    )?;
    let pool = wait_for_database(&database_url).await?;

    let (account, product): (String, String) =
        sqlx::query_as("select a.id, p.id from accounts a join products p on p.vendor_account_id = a.id where a.kind = 'vendor' limit 1")
            .fetch_one(&pool)
            .await?;
    let mut ids = Vec::with_capacity(webhooks);
    for i in 0..webhooks {
        let id = format!("WH-{:03}-{:03}-{:03}", i / 1_000_000 % 1000, i / 1000 % 1000, i % 1000);
        sqlx::query(
            "insert into webhooks (id, account_id, product_id, object_class, type, label, active, external_url, jwt_secret, http_method)
             values ($1, $2, $3, 'fulfillment_request', 'event', $4, true, $5, 'bench-secret-0123456789', 'POST')",
        )
        .bind(&id)
        .bind(&account)
        .bind(&product)
        .bind(format!("Bench {i}"))
        .bind(format!("http://{handler_addr}/hook"))
        .execute(&pool)
        .await?;
        ids.push(id);
    }
    println!(
        "portal pid {}, {webhooks} webhooks, concurrency {concurrency}, handler at {handler_addr}",
        portal.0.id()
    );

    // 1. Latency, one event at a time.
    let mut latencies = Vec::with_capacity(latency_events);
    for i in 0..latency_events {
        let id = &ids[i % ids.len()];
        let before = seen.lock().unwrap().calls;
        queue_changes_one_by_one(&pool, std::slice::from_ref(id)).await?;
        let committed = Instant::now();
        let deadline = committed + Duration::from_secs(5);
        loop {
            {
                let s = seen.lock().unwrap();
                if s.calls > before {
                    if let Some(at) = s.arrivals.get(id) {
                        if *at >= committed {
                            latencies.push(*at - committed);
                            break;
                        }
                        latencies.push(Duration::ZERO);
                        break;
                    }
                }
            }
            if Instant::now() > deadline {
                anyhow::bail!("event {i} was not delivered within 5 s");
            }
            tokio::time::sleep(Duration::from_micros(200)).await;
        }
    }
    latencies.sort();
    wait_until_idle(&pool).await?;

    // 2. Throughput: keep every webhook busy for `seconds`. Idle backends report their row
    // counts within 10 s: wait for that, so the counts before are complete.
    tokio::time::sleep(Duration::from_millis(10_500)).await;
    let writes_before = row_writes(&pool).await?;
    let (postgres_cpu_before, portal_cpu_before) = (postgres_cpu(), process_cpu(portal.0.id()));
    let attempts_before: i64 = sqlx::query_scalar("select count(*) from webhook_attempts")
        .fetch_one(&pool)
        .await?;
    let calls_before = seen.lock().unwrap().calls;
    let started = Instant::now();
    flooding.store(true, std::sync::atomic::Ordering::Relaxed);
    // Every webhook gets an event; then each call that arrives makes the next queue change
    // for its webhook (up to 50 webhooks' at a time, in one statement as a queue change that
    // many webhooks watch is recorded; or, with BENCH_EVENTS_ONE_BY_ONE, one statement per
    // event in a transaction of up to 50), so every webhook always has a call waiting and no
    // event is wasted on coalescing.
    let one_by_one = std::env::var_os("BENCH_EVENTS_ONE_BY_ONE").is_some();
    queue_changes_one_by_one(&pool, &ids).await?;
    let mut events = ids.len() as u64;
    while started.elapsed() < Duration::from_secs(seconds) {
        let Ok(Some(first)) = tokio::time::timeout(Duration::from_millis(100), again_rx.recv()).await else {
            continue;
        };
        let mut batch = vec![first];
        while batch.len() < 50 {
            match again_rx.try_recv() {
                Ok(id) => batch.push(id),
                Err(_) => break,
            }
        }
        batch.sort();
        batch.dedup();
        if one_by_one {
            queue_changes_one_by_one(&pool, &batch).await?;
            events += batch.len() as u64;
        } else {
            let hooks: Vec<WebhookId> = batch.iter().map(|id| webhook_id(id)).collect();
            let mut conn = pool.acquire().await?;
            events += webhook_portal::events::record_queue_changes(&mut conn, &hooks, None).await? as u64;
        }
    }
    flooding.store(false, std::sync::atomic::Ordering::Relaxed);
    let flood = started.elapsed();
    let calls_in_window = seen.lock().unwrap().calls - calls_before;
    let postgres_cpu_flood = postgres_cpu().saturating_sub(postgres_cpu_before);
    let portal_cpu_flood = process_cpu(portal.0.id()).saturating_sub(portal_cpu_before);
    wait_until_idle(&pool).await?;
    let drained = started.elapsed();
    let calls_total = seen.lock().unwrap().calls - calls_before;
    let attempts_after: i64 = sqlx::query_scalar("select count(*) from webhook_attempts")
        .fetch_one(&pool)
        .await?;
    let attempts = attempts_after - attempts_before;
    let successes: i64 = sqlx::query_scalar("select count(*) from webhook_attempts where success")
        .fetch_one(&pool)
        .await?;
    let peak = peak_memory_kib(portal.0.id());
    portal.stop();
    // The portal's backends have exited and so reported their counts; the benchmark's own
    // are reported by closing its pool.
    pool.close().await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let pool = PgPool::connect(&database_url).await?;
    let writes_after = row_writes(&pool).await?;
    let mut writes: Vec<(String, i64)> = writes_after
        .iter()
        .map(|(table, n)| (table.clone(), n - writes_before.get(table).copied().unwrap_or(0)))
        .filter(|(_, n)| *n > 0)
        .collect();
    writes.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));

    println!();
    println!(
        "latency (event commit → call at handler, {} events, one at a time):",
        latencies.len()
    );
    println!(
        "  p50 {:.2} ms   p99 {:.2} ms   max {:.2} ms",
        percentile(&latencies, 0.50).as_secs_f64() * 1000.0,
        percentile(&latencies, 0.99).as_secs_f64() * 1000.0,
        latencies.last().copied().unwrap_or_default().as_secs_f64() * 1000.0
    );
    println!(
        "throughput ({webhooks} webhooks flooded for {:.1} s, {events} events):",
        flood.as_secs_f64()
    );
    println!(
        "  {:.0} successful calls/s during the flood ({calls_in_window} calls)",
        calls_in_window as f64 / flood.as_secs_f64()
    );
    println!(
        "  {calls_total} calls until drained after {:.1} s; {attempts} attempts recorded ({} successes overall)",
        drained.as_secs_f64(),
        successes
    );
    println!(
        "  every call recorded: {}",
        if attempts as u64 == calls_total { "yes" } else { "NO" }
    );
    let per_call = |d: Duration| d.as_secs_f64() * 1000.0 / calls_in_window.max(1) as f64;
    println!(
        "  CPU per call during the flood: Postgres {:.3} ms, portal {:.3} ms",
        per_call(postgres_cpu_flood),
        per_call(portal_cpu_flood)
    );
    let total: i64 = writes.iter().map(|(_, n)| n).sum();
    let calls = calls_total.max(1) as f64;
    println!(
        "  rows written per call: {:.2} ({})",
        total as f64 / calls,
        writes
            .iter()
            .map(|(table, n)| format!("{table} {:.2}", *n as f64 / calls))
            .collect::<Vec<_>>()
            .join(", ")
    );
    if let Some(kib) = peak {
        println!("portal peak memory (VmHWM): {:.1} MiB", kib as f64 / 1024.0);
    }
    pool.close().await;

    fairness(&server, env_or("BENCH_HUNG", 1000), handler_addr, seen).await
}

/// A portal process, stopped when dropped (also when the benchmark fails half-way).
struct Portal(std::process::Child);

impl Portal {
    fn stop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Drop for Portal {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A benchmark database, dropped when this is (after its portal, declared later, stopped),
/// whether the benchmark finished or failed.
struct DroppedAtEnd {
    server: String,
    database_url: String,
}

impl DroppedAtEnd {
    fn new(server: &str, database_url: &str) -> Self {
        DroppedAtEnd {
            server: server.to_string(),
            database_url: database_url.to_string(),
        }
    }
}

impl Drop for DroppedAtEnd {
    fn drop(&mut self) {
        let (server, url) = (self.server.clone(), self.database_url.clone());
        // Drop cannot await inside the benchmark's runtime: a runtime of its own, on a thread.
        let dropped = std::thread::spawn(move || {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(anyhow::Error::from)
                .and_then(|rt| rt.block_on(drop_database(&server, &url)))
        })
        .join();
        if !matches!(dropped, Ok(Ok(()))) {
            eprintln!("could not drop {}", self.database_url);
        }
    }
}

/// A release portal on `database_url` that may call local handlers.
fn start_portal(database_url: &str, settings: &[(&str, &str)]) -> std::io::Result<Portal> {
    Command::new(BIN)
        .env("DATABASE_URL", database_url)
        .env("BIND_ADDR", "127.0.0.1:0")
        .env("PORTAL_ADMIN_PASSWORD", "bench-password-0000")
        .env("PORTAL_ENDPOINT_ALLOWLIST", "127.0.0.0/8")
        .env("RUST_LOG", "warn")
        .envs(settings.iter().copied())
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .map(Portal)
}

/// Drops a benchmark database (its portal has stopped).
async fn drop_database(server: &str, database_url: &str) -> anyhow::Result<()> {
    let name = database_url.rsplit('/').next().unwrap_or_default();
    let admin = PgPool::connect(&format!("{server}/postgres")).await?;
    sqlx::query(&format!("drop database if exists \"{name}\" with (force)"))
        .execute(&admin)
        .await?;
    admin.close().await;
    Ok(())
}

/// Phase 3: `hung` webhooks of account A call an endpoint that never answers; account B's
/// webhook is fired 20 times meanwhile, and each call's event-to-arrival time is measured.
async fn fairness(
    server: &str,
    hung: usize,
    handler_addr: std::net::SocketAddr,
    seen: Arc<Mutex<Seen>>,
) -> anyhow::Result<()> {
    let hung_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let hung_addr = hung_listener.local_addr()?;
    let waiting = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let hang = Router::new().fallback({
        let waiting = waiting.clone();
        move || {
            let waiting = waiting.clone();
            async move {
                waiting.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                tokio::time::sleep(Duration::from_secs(600)).await;
                "late"
            }
        }
    });
    tokio::spawn(async move { axum::serve(hung_listener, hang).await });

    let database_url = format!("{server}/wp_bench_{}", uuid::Uuid::new_v4().simple());
    let _database = DroppedAtEnd::new(server, &database_url);
    let mut portal = start_portal(
        &database_url,
        &[
            ("PORTAL_DELIVERY_CONCURRENCY", "8"),
            ("PORTAL_REQUEST_TIMEOUT_MS", "300000"),
        ],
    )?;
    let pool = wait_for_database(&database_url).await?;
    let (vendor, product): (String, String) =
        sqlx::query_as("select a.id, p.id from accounts a join products p on p.vendor_account_id = a.id where a.kind = 'vendor' limit 1")
            .fetch_one(&pool)
            .await?;
    let other: String = sqlx::query_scalar("select id from accounts where kind = 'distributor' limit 1")
        .fetch_one(&pool)
        .await?;
    sqlx::query(
        "insert into webhooks (id, account_id, product_id, object_class, type, label, active, external_url, jwt_secret, http_method)
         select 'WH-900-' || lpad((i / 1000)::text, 3, '0') || '-' || lpad((i % 1000)::text, 3, '0'), $1, $2,
                'fulfillment_request', 'event', 'Hung ' || i, true, $3 || i, 'bench-secret-0123456789', 'POST'
         from generate_series(0, $4 - 1) i",
    )
    .bind(&vendor)
    .bind(&product)
    .bind(format!("http://{hung_addr}/hung/"))
    .bind(hung as i64)
    .execute(&pool)
    .await?;
    let b = "WH-901-000-000";
    sqlx::query(
        "insert into webhooks (id, account_id, product_id, object_class, type, label, active, external_url, jwt_secret, http_method)
         values ($1, $2, $3, 'fulfillment_request', 'event', 'Other account', true, $4, 'bench-secret-0123456789', 'POST')",
    )
    .bind(b)
    .bind(&other)
    .bind(&product)
    .bind(format!("http://{handler_addr}/b"))
    .execute(&pool)
    .await?;
    let hung_ids: Vec<String> = sqlx::query_scalar("select id from webhooks where label like 'Hung %'")
        .fetch_all(&pool)
        .await?;
    queue_changes_one_by_one(&pool, &hung_ids).await?;
    // Let A's calls fill every slot and turn slow.
    while waiting.load(std::sync::atomic::Ordering::Relaxed) < 8 {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    let mut latencies = Vec::new();
    for _ in 0..20 {
        let before = seen.lock().unwrap().arrivals.get(b).copied();
        queue_changes_one_by_one(&pool, &[b.to_string()]).await?;
        let committed = Instant::now();
        loop {
            let arrived = seen.lock().unwrap().arrivals.get(b).copied();
            if arrived.is_some() && arrived != before {
                latencies.push(arrived.unwrap_or(committed).saturating_duration_since(committed));
                break;
            }
            if committed.elapsed() > Duration::from_secs(60) {
                anyhow::bail!("account B's call did not arrive within 60 s");
            }
            tokio::time::sleep(Duration::from_micros(500)).await;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    latencies.sort();
    println!(
        "fairness (concurrency 8, {hung} webhooks of one account calling a hung endpoint, {} of those calls hanging):",
        waiting.load(std::sync::atomic::Ordering::Relaxed)
    );
    println!(
        "  the other account's call arrives after p50 {:.2} ms, max {:.2} ms (20 events)",
        percentile(&latencies, 0.50).as_secs_f64() * 1000.0,
        latencies.last().copied().unwrap_or_default().as_secs_f64() * 1000.0
    );
    portal.stop();
    pool.close().await;
    Ok(())
}

async fn wait_for_database(url: &str) -> anyhow::Result<PgPool> {
    for _ in 0..300 {
        if let Ok(pool) = sqlx::postgres::PgPoolOptions::new()
            .max_connections(16)
            .connect(url)
            .await
        {
            let seeded: Result<i64, _> = sqlx::query_scalar("select count(*) from products")
                .fetch_one(&pool)
                .await;
            let delivery_ready: Result<i64, _> = sqlx::query_scalar("select count(*) from webhook_triggers")
                .fetch_one(&pool)
                .await;
            if matches!(seeded, Ok(n) if n > 0) && delivery_ready.is_ok() {
                // Give the delivery task a moment to start listening.
                tokio::time::sleep(Duration::from_millis(500)).await;
                return Ok(pool);
            }
            pool.close().await;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    anyhow::bail!("the portal did not prepare the database in time")
}

async fn wait_until_idle(pool: &PgPool) -> anyhow::Result<()> {
    for _ in 0..600 {
        let busy: i64 =
            sqlx::query_scalar("select count(*) from webhook_triggers where state in ('pending', 'in_flight')")
                .fetch_one(pool)
                .await?;
        if busy == 0 {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    anyhow::bail!("deliveries did not drain")
}

/// A webhook id the benchmark got from the portal.
/// Records a queue change for each of `ids` by a statement of its own, in one transaction.
async fn queue_changes_one_by_one(pool: &PgPool, ids: &[String]) -> anyhow::Result<()> {
    let mut tx = pool.begin().await?;
    for id in ids {
        webhook_portal::events::record(
            &mut tx,
            &webhook_id(id),
            webhook_portal::events::Source::QueueChange,
            None,
        )
        .await?;
    }
    tx.commit().await?;
    Ok(())
}

fn webhook_id(id: &str) -> WebhookId {
    WebhookId::parse(id).expect("a webhook id")
}
