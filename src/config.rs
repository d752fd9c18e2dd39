//! Settings read from the environment, each with a documented default.
//!
//! A bad value stops start-up with one line naming the variable (see [`ConfigError`]).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use url::Url;

/// The default of `PORTAL_INBOUND_BODY_MAX_BYTES` (1 MiB) and its upper bound (16 MiB): a body
/// is held in memory while it is received and stored as one value.
pub const DEFAULT_INBOUND_BODY_MAX: u64 = 1024 * 1024;
pub const INBOUND_BODY_MAX_LIMIT: u64 = 16 * 1024 * 1024;

/// Default database when `DATABASE_URL` is unset: the local server, database `webhook_portal`.
pub const DEFAULT_DATABASE_URL: &str = "postgres://postgres@127.0.0.1:5432/webhook_portal";
pub const DEFAULT_BIND_ADDR: &str = "127.0.0.1:8080";
pub const DEFAULT_ADMIN_EMAIL: &str = "admin@frontstreet.example";
pub const DEFAULT_LOG: &str = "webhook_portal=info,tower_http=info";

#[derive(Debug, thiserror::Error)]
#[error("invalid {var}: {reason}")]
pub struct ConfigError {
    pub var: &'static str,
    pub reason: String,
}

fn bad(var: &'static str, reason: impl Into<String>) -> ConfigError {
    ConfigError {
        var,
        reason: reason.into(),
    }
}

#[derive(Clone)]
pub struct Config {
    /// `DATABASE_URL`; `None` means "the default, or a private cluster if none answers".
    pub database_url: Option<String>,
    /// `BIND_ADDR`
    pub bind_addr: SocketAddr,
    /// `PUBLIC_URL`: how browsers and handlers reach the portal (default `http://BIND_ADDR`).
    pub public_url: Url,
    /// `PORTAL_ADMIN_EMAIL` / `PORTAL_ADMIN_PASSWORD`: the first admin, seeded on an empty database.
    pub admin_email: String,
    pub admin_password: Option<String>,
    /// `RUST_LOG` (or `PORTAL_LOG`): tracing filter.
    pub log_filter: String,
    /// `PORTAL_DATA_DIR`: where the private Postgres cluster lives when one is needed.
    pub data_dir: PathBuf,
    /// `PORTAL_SESSION_IDLE_MINUTES`: sign out after this much inactivity.
    pub session_idle: Duration,
    /// `PORTAL_SESSION_MAX_HOURS`: sign out this long after sign-in, active or not.
    pub session_max_age: Duration,
    /// `PORTAL_LOGIN_MAX_FAILURES_PER_EMAIL` / `_PER_IP`: throttle limits per 15 minutes.
    pub login_max_failures_per_email: i64,
    pub login_max_failures_per_ip: i64,
    /// `PORTAL_RETENTION_DAYS`: calls (attempts) and events older than this are removed.
    pub retention_days: u32,
    /// `PORTAL_SECRET_GRACE_HOURS`: after a secret rotation's switch, the previous secret
    /// still verifies for this long, then it is destroyed.
    pub secret_grace: Duration,
    /// Early warnings: see [`NotifyConfig`].
    pub notify: NotifyConfig,
    /// `PORTAL_INBOUND_BODY_MAX_BYTES`: the largest body an inbound trigger accepts (413 above).
    pub inbound_body_max: usize,
    /// `PORTAL_METRICS_TOKEN`: `/metrics` on the portal's address answers only with
    /// `Authorization: Bearer <this>` (without it: 404 there).
    pub metrics_token: Option<String>,
    /// `PORTAL_METRICS_ADDR`: a listener of its own that serves only `/metrics` (with the token
    /// too, if one is set).
    pub metrics_addr: Option<SocketAddr>,
    /// `PORTAL_HEALTH_REFRESH_SECONDS`: how often each webhook's 24 h success rate, which the
    /// list sorts by, is refreshed.
    pub health_refresh: Duration,
    /// Everything about calling handlers (`PORTAL_DELIVERY_*`, `PORTAL_RETRY_*`, …).
    pub delivery: DeliveryConfig,
}

/// Delivery settings. Intervals are in milliseconds so tests can run them fast.
#[derive(Debug, Clone)]
pub struct DeliveryConfig {
    /// `PORTAL_DELIVERY_ENABLED` (default true): run the delivery task in this process.
    pub enabled: bool,
    /// `PORTAL_DELIVERY_CONCURRENCY`: calls in flight at once, per process.
    pub concurrency: usize,
    /// `PORTAL_REQUEST_TIMEOUT_MS`: a call that takes longer fails as a timeout.
    pub request_timeout: Duration,
    /// `PORTAL_CONNECT_TIMEOUT_MS`
    pub connect_timeout: Duration,
    /// `PORTAL_RETRY_BASE_MS` / `PORTAL_RETRY_MAX_MS`: first retry interval and its cap.
    pub retry_base: Duration,
    pub retry_max: Duration,
    /// `PORTAL_OUT_OF_ORDER_AFTER`: consecutive failures before the webhook is out of order.
    pub out_of_order_after: i32,
    /// `PORTAL_PROCESSING_TIMEOUT`: seconds, sent to handlers and added to the token's `exp`.
    pub processing_timeout: i64,
    /// `PORTAL_RESPONSE_BODY_CAP`: bytes of a response body kept.
    pub response_body_cap: usize,
    /// `PORTAL_DELIVERY_POLL_MS`: safety-net poll when no notification arrives.
    pub poll_interval: Duration,
    /// `PORTAL_ENDPOINT_ALLOWLIST`: networks (CIDR) that may be called although private,
    /// loopback or link-local, e.g. `127.0.0.0/8,::1/128` for local development.
    pub allowlist: Vec<crate::net::IpNet>,
}

impl std::fmt::Debug for Config {
    // Hand-written so the admin password never reaches a log line.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("database_url", &self.database_url.as_deref().map(redact_url))
            .field("bind_addr", &self.bind_addr)
            .field("public_url", &self.public_url.as_str())
            .field("admin_email", &self.admin_email)
            .field("admin_password", &self.admin_password.as_ref().map(|_| "<redacted>"))
            .field("data_dir", &self.data_dir)
            .finish_non_exhaustive()
    }
}

/// Early warnings and their e-mails.
#[derive(Clone)]
pub struct NotifyConfig {
    /// `PORTAL_WARN_AFTER`: failures in a row before a webhook is reported as failing.
    pub warn_after: i32,
    /// `PORTAL_SMTP_URL`: where e-mails go (`smtp://host:port`, `smtps://user:pass@host`);
    /// without it notices are in-app only.
    pub smtp_url: Option<String>,
    /// `PORTAL_SMTP_FROM`: the sender of those e-mails.
    pub smtp_from: String,
    /// `PORTAL_NOTIFY_POLL_MS`: how often the watcher compares the webhooks' counters.
    pub poll: Duration,
}

impl std::fmt::Debug for NotifyConfig {
    // The SMTP URL may carry a password.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NotifyConfig")
            .field("warn_after", &self.warn_after)
            .field("smtp_url", &self.smtp_url.as_deref().map(redact_url))
            .field("smtp_from", &self.smtp_from)
            .field("poll", &self.poll)
            .finish()
    }
}

/// A database URL with any password replaced, for logs.
pub fn redact_url(raw: &str) -> String {
    match Url::parse(raw) {
        Ok(mut url) if url.password().is_some() => {
            let _ = url.set_password(Some("****"));
            url.to_string()
        }
        Ok(url) => url.to_string(),
        Err(_) => "<unparseable url>".to_string(),
    }
}

impl Config {
    /// Reads the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads settings through `lookup`, so tests can supply their own environment.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let get = |name: &str| lookup(name).map(|v| v.trim().to_string()).filter(|v| !v.is_empty());

        let database_url = match get("DATABASE_URL") {
            Some(raw) => {
                let parsed = Url::parse(&raw).map_err(|e| bad("DATABASE_URL", e.to_string()))?;
                if !matches!(parsed.scheme(), "postgres" | "postgresql") {
                    return Err(bad("DATABASE_URL", "must start with postgres:// or postgresql://"));
                }
                Some(raw)
            }
            None => None,
        };

        let bind_raw = get("BIND_ADDR").unwrap_or_else(|| DEFAULT_BIND_ADDR.to_string());
        let bind_addr: SocketAddr = bind_raw.parse().map_err(|_| {
            bad(
                "BIND_ADDR",
                format!("{bind_raw:?} is not an address like 127.0.0.1:8080"),
            )
        })?;

        let public_url = match get("PUBLIC_URL") {
            Some(raw) => {
                let url = Url::parse(&raw).map_err(|e| bad("PUBLIC_URL", e.to_string()))?;
                if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
                    return Err(bad("PUBLIC_URL", "must be an absolute http:// or https:// URL"));
                }
                url
            }
            None => Url::parse(&format!("http://{bind_addr}/")).map_err(|e| bad("BIND_ADDR", e.to_string()))?,
        };

        let admin_email = get("PORTAL_ADMIN_EMAIL").unwrap_or_else(|| DEFAULT_ADMIN_EMAIL.to_string());
        if !crate::credentials::looks_like_email(&admin_email) {
            return Err(bad("PORTAL_ADMIN_EMAIL", "is not an e-mail address"));
        }
        let admin_password = get("PORTAL_ADMIN_PASSWORD");
        if let Some(pw) = &admin_password {
            crate::credentials::check_strength(pw).map_err(|e| bad("PORTAL_ADMIN_PASSWORD", e))?;
        }

        let log_filter = get("RUST_LOG")
            .or_else(|| get("PORTAL_LOG"))
            .unwrap_or_else(|| DEFAULT_LOG.to_string());
        tracing_subscriber::EnvFilter::try_new(&log_filter).map_err(|e| bad("RUST_LOG", e.to_string()))?;

        let data_dir = PathBuf::from(get("PORTAL_DATA_DIR").unwrap_or_else(|| "./.data".to_string()));

        let number = |var: &'static str, default: u64, min: u64, max: u64| -> Result<u64, ConfigError> {
            match get(var) {
                None => Ok(default),
                Some(raw) => match raw.parse::<u64>() {
                    Ok(n) if (min..=max).contains(&n) => Ok(n),
                    _ => Err(bad(var, format!("{raw:?} is not a whole number from {min} to {max}"))),
                },
            }
        };
        let session_idle = Duration::from_secs(60 * number("PORTAL_SESSION_IDLE_MINUTES", 120, 1, 60 * 24 * 30)?);
        let session_max_age = Duration::from_secs(3600 * number("PORTAL_SESSION_MAX_HOURS", 12, 1, 24 * 90)?);
        let login_max_failures_per_email = number("PORTAL_LOGIN_MAX_FAILURES_PER_EMAIL", 5, 1, 1000)? as i64;
        let login_max_failures_per_ip = number("PORTAL_LOGIN_MAX_FAILURES_PER_IP", 20, 1, 100_000)? as i64;
        let retention_days = number("PORTAL_RETENTION_DAYS", 30, 1, 3650)? as u32;
        let secret_grace = Duration::from_secs(number("PORTAL_SECRET_GRACE_HOURS", 24, 1, 720)? * 3600);
        let smtp_url = match get("PORTAL_SMTP_URL").filter(|v| !v.trim().is_empty()) {
            None => None,
            Some(raw) => {
                let url = Url::parse(raw.trim()).map_err(|e| bad("PORTAL_SMTP_URL", e.to_string()))?;
                if !matches!(url.scheme(), "smtp" | "smtps") || url.host_str().is_none() {
                    return Err(bad("PORTAL_SMTP_URL", "must be smtp://host:port or smtps://host:port"));
                }
                Some(raw.trim().to_string())
            }
        };
        let notify = NotifyConfig {
            warn_after: number("PORTAL_WARN_AFTER", 5, 1, 1000)? as i32,
            smtp_url,
            smtp_from: get("PORTAL_SMTP_FROM")
                .unwrap_or_else(|| "Webhook Portal <webhook-portal@localhost>".to_string()),
            poll: Duration::from_millis(number("PORTAL_NOTIFY_POLL_MS", 2000, 50, 600_000)?),
        };
        let inbound_body_max = number(
            "PORTAL_INBOUND_BODY_MAX_BYTES",
            DEFAULT_INBOUND_BODY_MAX,
            1,
            INBOUND_BODY_MAX_LIMIT,
        )? as usize;

        let metrics_token = match get("PORTAL_METRICS_TOKEN") {
            Some(token) if !(16..=256).contains(&token.len()) || !token.bytes().all(|b| b.is_ascii_graphic()) => {
                return Err(bad(
                    "PORTAL_METRICS_TOKEN",
                    "must be 16 to 256 visible ASCII characters (no spaces)",
                ))
            }
            token => token,
        };
        let metrics_addr = match get("PORTAL_METRICS_ADDR") {
            Some(raw) => Some(raw.parse::<SocketAddr>().map_err(|_| {
                bad(
                    "PORTAL_METRICS_ADDR",
                    format!("{raw:?} is not an address like 127.0.0.1:9090"),
                )
            })?),
            None => None,
        };
        let health_refresh = Duration::from_secs(number("PORTAL_HEALTH_REFRESH_SECONDS", 60, 1, 3600)?);

        let ms = |var: &'static str, default: u64, min: u64, max: u64| -> Result<Duration, ConfigError> {
            number(var, default, min, max).map(Duration::from_millis)
        };
        let allowlist = match get("PORTAL_ENDPOINT_ALLOWLIST") {
            None => Vec::new(),
            Some(raw) => raw
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(|s| s.parse().map_err(|e: String| bad("PORTAL_ENDPOINT_ALLOWLIST", e)))
                .collect::<Result<_, _>>()?,
        };
        let enabled = match get("PORTAL_DELIVERY_ENABLED").as_deref() {
            None | Some("true") | Some("1") | Some("yes") => true,
            Some("false") | Some("0") | Some("no") => false,
            Some(other) => {
                return Err(bad(
                    "PORTAL_DELIVERY_ENABLED",
                    format!("{other:?} is not true or false"),
                ))
            }
        };
        let retry_base = ms("PORTAL_RETRY_BASE_MS", 300_000, 1, 86_400_000)?;
        let retry_max = ms("PORTAL_RETRY_MAX_MS", 6 * 3_600_000, 1, 7 * 86_400_000)?;
        if retry_max < retry_base {
            return Err(bad("PORTAL_RETRY_MAX_MS", "must not be below PORTAL_RETRY_BASE_MS"));
        }
        let delivery = DeliveryConfig {
            enabled,
            concurrency: number("PORTAL_DELIVERY_CONCURRENCY", 48, 1, 1024)? as usize,
            request_timeout: ms("PORTAL_REQUEST_TIMEOUT_MS", 300_000, 10, 3_600_000)?,
            connect_timeout: ms("PORTAL_CONNECT_TIMEOUT_MS", 10_000, 10, 600_000)?,
            retry_base,
            retry_max,
            out_of_order_after: number("PORTAL_OUT_OF_ORDER_AFTER", 20, 1, 10_000)? as i32,
            processing_timeout: number("PORTAL_PROCESSING_TIMEOUT", 600, 1, 86_400)? as i64,
            response_body_cap: number("PORTAL_RESPONSE_BODY_CAP", 64 * 1024, 0, 10 * 1024 * 1024)? as usize,
            poll_interval: ms("PORTAL_DELIVERY_POLL_MS", 30_000, 10, 3_600_000)?,
            allowlist,
        };

        Ok(Config {
            delivery,
            database_url,
            bind_addr,
            public_url,
            admin_email,
            admin_password,
            log_filter,
            data_dir,
            session_idle,
            session_max_age,
            login_max_failures_per_email,
            login_max_failures_per_ip,
            retention_days,
            secret_grace,
            notify,
            inbound_body_max,
            metrics_token,
            metrics_addr,
            health_refresh,
        })
    }

    /// The API base handlers are told to call (`api_url` in every payload).
    pub fn api_url(&self) -> String {
        format!("{}/public/v1/", self.public_url.as_str().trim_end_matches('/'))
    }

    /// Cookies get `Secure` when the portal is served over https.
    pub fn secure_cookies(&self) -> bool {
        self.public_url.scheme() == "https"
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn config(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let map: HashMap<String, String> = vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        Config::from_lookup(|name| map.get(name).cloned())
    }

    #[test]
    fn defaults_apply_when_nothing_is_set() {
        let c = config(&[]).expect("defaults are valid");
        assert_eq!(c.bind_addr.to_string(), DEFAULT_BIND_ADDR);
        assert_eq!(c.public_url.as_str(), "http://127.0.0.1:8080/");
        assert!(c.database_url.is_none());
        assert!(!c.secure_cookies());
        assert_eq!(c.api_url(), "http://127.0.0.1:8080/public/v1/");
        assert_eq!(c.delivery.out_of_order_after, 20);
        assert_eq!(c.delivery.processing_timeout, 600);
        assert_eq!(c.inbound_body_max, 1024 * 1024);
    }

    #[test]
    fn the_inbound_body_limit_is_bounded() {
        let limit = |v: &str| config(&[("PORTAL_INBOUND_BODY_MAX_BYTES", v)]);
        assert_eq!(limit("5000").unwrap().inbound_body_max, 5000);
        assert_eq!(limit("16777216").unwrap().inbound_body_max, 16 * 1024 * 1024);
        for bad in ["0", "16777217", "1MiB", "-1"] {
            let e = limit(bad).unwrap_err();
            assert_eq!(e.var, "PORTAL_INBOUND_BODY_MAX_BYTES", "{bad}");
            assert!(e.to_string().contains("from 1 to 16777216"), "{e}");
        }
    }

    #[test]
    fn a_bad_value_names_its_variable() {
        let e = config(&[("BIND_ADDR", "nonsense")]).unwrap_err();
        assert_eq!(e.var, "BIND_ADDR");
        assert!(e.to_string().starts_with("invalid BIND_ADDR"));
        assert_eq!(
            config(&[("DATABASE_URL", "mysql://x")]).unwrap_err().var,
            "DATABASE_URL"
        );
        assert_eq!(config(&[("PUBLIC_URL", "ftp://x")]).unwrap_err().var, "PUBLIC_URL");
        assert_eq!(
            config(&[("PORTAL_ADMIN_PASSWORD", "short")]).unwrap_err().var,
            "PORTAL_ADMIN_PASSWORD"
        );
        assert_eq!(
            config(&[("PORTAL_SESSION_IDLE_MINUTES", "0")]).unwrap_err().var,
            "PORTAL_SESSION_IDLE_MINUTES"
        );
    }

    #[test]
    fn metrics_settings_are_checked() {
        let c = config(&[
            ("PORTAL_METRICS_TOKEN", "a-scrape-token-0123"),
            ("PORTAL_METRICS_ADDR", "127.0.0.1:9464"),
        ]);
        let c = c.unwrap();
        assert_eq!(c.metrics_token.as_deref(), Some("a-scrape-token-0123"));
        assert_eq!(
            (c.metrics_addr.map(|a| a.port()), c.health_refresh),
            (Some(9464), Duration::from_secs(60))
        );
        assert!(!format!("{c:?}").contains("a-scrape-token"));
        for (var, value) in [
            ("PORTAL_METRICS_TOKEN", "short"),
            ("PORTAL_METRICS_TOKEN", "has a space, long enough"),
            ("PORTAL_METRICS_ADDR", "9464"),
            ("PORTAL_HEALTH_REFRESH_SECONDS", "0"),
        ] {
            assert_eq!(config(&[(var, value)]).unwrap_err().var, var, "{value}");
        }
    }

    #[test]
    fn https_public_url_turns_on_secure_cookies() {
        assert!(config(&[("PUBLIC_URL", "https://portal.example.com")])
            .unwrap()
            .secure_cookies());
    }

    #[test]
    fn debug_output_hides_secrets() {
        let c = config(&[
            ("PORTAL_ADMIN_PASSWORD", "a-very-secret-password"),
            ("DATABASE_URL", "postgres://u:hunter2hunter2@db/x"),
        ])
        .unwrap();
        let shown = format!("{c:?}");
        assert!(!shown.contains("a-very-secret-password"));
        assert!(!shown.contains("hunter2hunter2"));
    }
}
