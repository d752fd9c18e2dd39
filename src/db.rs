//! Connecting to Postgres: create the database if it is missing, run the embedded
//! migrations, and — when nothing is configured and nothing answers — start a private
//! cluster from the installed PostgreSQL binaries.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::str::FromStr;
use std::time::Duration;

use anyhow::{bail, Context};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{ConnectOptions, Connection, PgPool};

use crate::config::{Config, DEFAULT_DATABASE_URL};

pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// Lists and summaries count no further than this, so that their work stays bounded however
/// many rows an account has; pages say "10,000+".
pub const COUNT_CAP: i64 = 10_000;

/// How long a request waits for a database connection before answering 503.
pub const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(3);

/// Whether the database answers a trivial query (health check, outage probe).
pub async fn ping(pool: &PgPool) -> Result<(), sqlx::Error> {
    sqlx::query_scalar!(r#"select 1 as "one!""#)
        .fetch_one(pool)
        .await
        .map(|_| ())
}

/// The database the portal uses, and the private cluster behind it if one was started.
pub struct Database {
    pub pool: PgPool,
    pub embedded: Option<EmbeddedPostgres>,
}

/// Opens (creating if needed) and migrates the configured database.
pub async fn open(config: &Config) -> anyhow::Result<Database> {
    let (options, embedded) = match &config.database_url {
        Some(url) => (PgConnectOptions::from_str(url).context("parsing DATABASE_URL")?, None),
        None => {
            let options = PgConnectOptions::from_str(DEFAULT_DATABASE_URL)?;
            if server_answers("127.0.0.1:5432").await {
                (options, None)
            } else {
                let cluster = EmbeddedPostgres::start(&config.data_dir.join("postgres"))?;
                let options = cluster.connect_options().database("webhook_portal");
                (options, Some(cluster))
            }
        }
    };
    create_database_if_missing(&options).await?;
    let pool = PgPoolOptions::new()
        .max_connections(20)
        // When the database is unreachable a page says so within a few seconds (503).
        .acquire_timeout(ACQUIRE_TIMEOUT)
        // No JIT: the portal's queries are short, and compiling one costs more than it saves.
        .connect_with(
            options
                .clone()
                .options([("jit", "off")])
                .log_statements(tracing::log::LevelFilter::Debug),
        )
        .await
        .with_context(|| format!("connecting to database {:?}", options.get_database().unwrap_or("?")))?;
    migrate(&pool).await?;
    Ok(Database { pool, embedded })
}

/// Runs the embedded migrations; running them twice changes nothing.
pub async fn migrate(pool: &PgPool) -> anyhow::Result<()> {
    MIGRATOR.run(pool).await.context("running database migrations")?;
    Ok(())
}

async fn server_answers(addr: &str) -> bool {
    matches!(
        tokio::time::timeout(Duration::from_secs(2), tokio::net::TcpStream::connect(addr)).await,
        Ok(Ok(_))
    )
}

/// Creates the target database through the `postgres` maintenance database when it is missing.
pub async fn create_database_if_missing(options: &PgConnectOptions) -> anyhow::Result<()> {
    let name = options.get_database().unwrap_or("webhook_portal").to_string();
    let maintenance = options.clone().database("postgres");
    let mut conn = sqlx::PgConnection::connect_with(&maintenance)
        .await
        .context("connecting to the Postgres server (is it running? is DATABASE_URL right?)")?;
    let exists = sqlx::query_scalar!(
        r#"select exists(select 1 from pg_database where datname = $1) as "exists!""#,
        name
    )
    .fetch_one(&mut conn)
    .await?;
    if !exists {
        let quoted = format!("\"{}\"", name.replace('"', "\"\""));
        // A name cannot be a parameter: this one statement is built, from the quoted name.
        match sqlx::query(&format!("create database {quoted}"))
            .execute(&mut conn)
            .await
        {
            Ok(_) => tracing::info!(database = %name, "created database"),
            // Another process created it at the same moment: fine.
            Err(sqlx::Error::Database(e)) if e.code().as_deref() == Some("42P04") => {}
            Err(e) => return Err(e).context(format!("creating database {name}")),
        }
    }
    conn.close().await.ok();
    Ok(())
}

/// A private PostgreSQL cluster in a data folder, listening only on a Unix socket inside
/// that folder, stopped when the portal exits.
pub struct EmbeddedPostgres {
    data_dir: PathBuf,
    bin_dir: PathBuf,
    run_as_postgres: bool,
}

impl EmbeddedPostgres {
    /// Initialises the cluster on first use, then starts it.
    pub fn start(data_dir: &Path) -> anyhow::Result<Self> {
        let bin_dir = find_postgres_bin_dir().context(
            "no Postgres server answers at 127.0.0.1:5432 and no PostgreSQL binaries (initdb, pg_ctl) \
             were found; install PostgreSQL or set DATABASE_URL",
        )?;
        std::fs::create_dir_all(data_dir).with_context(|| format!("creating {}", data_dir.display()))?;
        let data_dir = data_dir.canonicalize()?;
        // initdb refuses to run as root; then the cluster belongs to the `postgres` user.
        let run_as_postgres = is_root();
        let cluster = EmbeddedPostgres {
            data_dir,
            bin_dir,
            run_as_postgres,
        };
        if cluster.run_as_postgres {
            let status = Command::new("chown")
                .arg("-R")
                .arg("postgres:")
                .arg(&cluster.data_dir)
                .status()?;
            if !status.success() {
                bail!("could not hand {} to the postgres user", cluster.data_dir.display());
            }
        }
        if !cluster.data_dir.join("PG_VERSION").exists() {
            tracing::info!(dir = %cluster.data_dir.display(), "initialising a private PostgreSQL cluster");
            cluster.run(
                "initdb",
                &[
                    "-D",
                    path_str(&cluster.data_dir)?,
                    "-U",
                    "postgres",
                    "-A",
                    "trust",
                    "-E",
                    "UTF8",
                ],
            )?;
        }
        let socket_opts = format!(
            "-c listen_addresses='' -c unix_socket_directories='{}'",
            path_str(&cluster.data_dir)?
        );
        let log = cluster.data_dir.join("server.log");
        cluster.run(
            "pg_ctl",
            &[
                "-D",
                path_str(&cluster.data_dir)?,
                "-l",
                path_str(&log)?,
                "-o",
                &socket_opts,
                "-w",
                "start",
            ],
        )?;
        tracing::info!(dir = %cluster.data_dir.display(), "started a private PostgreSQL cluster (stopped on exit)");
        Ok(cluster)
    }

    pub fn connect_options(&self) -> PgConnectOptions {
        PgConnectOptions::new().socket(&self.data_dir).username("postgres")
    }

    /// Stops the cluster (fast shutdown); called on exit.
    pub fn stop(&self) {
        match path_str(&self.data_dir).and_then(|d| self.run("pg_ctl", &["-D", d, "-m", "fast", "-w", "stop"])) {
            Ok(()) => tracing::info!("stopped the private PostgreSQL cluster"),
            Err(e) => tracing::warn!(error = %e, "could not stop the private PostgreSQL cluster"),
        }
    }

    fn run(&self, program: &str, args: &[&str]) -> anyhow::Result<()> {
        let exe = self.bin_dir.join(program);
        let output = if self.run_as_postgres {
            Command::new("runuser")
                .args(["-u", "postgres", "--"])
                .arg(&exe)
                .args(args)
                .output()
        } else {
            Command::new(&exe).args(args).output()
        }
        .with_context(|| format!("running {}", exe.display()))?;
        if !output.status.success() {
            bail!("{program} failed: {}", String::from_utf8_lossy(&output.stderr).trim());
        }
        Ok(())
    }
}

impl Drop for EmbeddedPostgres {
    fn drop(&mut self) {
        self.stop();
    }
}

fn path_str(path: &Path) -> anyhow::Result<&str> {
    path.to_str().context("the data folder path is not valid UTF-8")
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

/// `initdb` and `pg_ctl` on PATH, or in the newest `/usr/lib/postgresql/*/bin`.
pub fn find_postgres_bin_dir() -> Option<PathBuf> {
    let on_path = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths).find(|dir| dir.join("initdb").is_file() && dir.join("pg_ctl").is_file())
    });
    if on_path.is_some() {
        return on_path;
    }
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|entry| {
            let entry = entry.ok()?;
            let version: u32 = entry.file_name().to_str()?.parse().ok()?;
            let bin = entry.path().join("bin");
            (bin.join("initdb").is_file() && bin.join("pg_ctl").is_file()).then_some((version, bin))
        })
        .collect();
    versions.sort();
    versions.pop().map(|(_, bin)| bin)
}

/// `text` with LIKE's wildcards and escape character escaped, to match literally.
pub fn escape_like(text: &str) -> String {
    text.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_")
}

/// Stores an enum in a `text` column through its `as_str` and `parse`: binds as text and
/// refuses to decode a value it does not know. Hand-written because sqlx's derive maps enums
/// to Postgres enum types by name, while these columns are text (launchbadge/sqlx#3630).
macro_rules! text_column {
    ($ty:ty) => {
        impl sqlx::Type<sqlx::Postgres> for $ty {
            fn type_info() -> sqlx::postgres::PgTypeInfo {
                <&str as sqlx::Type<sqlx::Postgres>>::type_info()
            }
            fn compatible(ty: &sqlx::postgres::PgTypeInfo) -> bool {
                <&str as sqlx::Type<sqlx::Postgres>>::compatible(ty)
            }
        }
        impl sqlx::postgres::PgHasArrayType for $ty {
            fn array_type_info() -> sqlx::postgres::PgTypeInfo {
                <&str as sqlx::postgres::PgHasArrayType>::array_type_info()
            }
        }
        impl<'q> sqlx::Encode<'q, sqlx::Postgres> for $ty {
            fn encode_by_ref(
                &self,
                buf: &mut sqlx::postgres::PgArgumentBuffer,
            ) -> Result<sqlx::encode::IsNull, sqlx::error::BoxDynError> {
                <&str as sqlx::Encode<sqlx::Postgres>>::encode(self.as_str(), buf)
            }
        }
        impl<'r> sqlx::Decode<'r, sqlx::Postgres> for $ty {
            fn decode(value: sqlx::postgres::PgValueRef<'r>) -> Result<Self, sqlx::error::BoxDynError> {
                let raw = <&str as sqlx::Decode<sqlx::Postgres>>::decode(value)?;
                <$ty>::parse(raw).ok_or_else(|| format!("unknown {} {raw:?}", stringify!($ty)).into())
            }
        }
    };
}
pub(crate) use text_column;

/// Rows a housekeeping statement removes at once (see [`in_batches`]).
pub const BATCH: i64 = 5_000;
/// A breath between batches, so that deliveries and pages keep their share of the database.
const BATCH_PAUSE: std::time::Duration = std::time::Duration::from_millis(20);

/// Runs `batch` (which removes at most [`BATCH`] rows) until a batch comes up short, with a
/// pause between batches; returns how many rows went. No statement holds locks for long.
pub async fn in_batches<F, Fut>(mut batch: F) -> Result<u64, sqlx::Error>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<u64, sqlx::Error>>,
{
    let mut removed = 0;
    loop {
        let n = batch().await?;
        removed += n;
        if n < BATCH as u64 {
            return Ok(removed);
        }
        tokio::time::sleep(BATCH_PAUSE).await;
    }
}
