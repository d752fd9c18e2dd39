//! Sign-in throttling: after too many failures for one e-mail or from one IP address
//! within the window, further attempts are refused with 429 until the window moves on.

use chrono::{DateTime, Utc};
use sqlx::PgPool;

pub const WINDOW_MINUTES: i64 = 15;

pub struct Limits {
    pub per_email: i64,
    pub per_ip: i64,
}

/// When the caller may try again, if they are throttled now.
pub async fn blocked_until(
    pool: &PgPool,
    email: &str,
    ip: &str,
    limits: &Limits,
) -> Result<Option<DateTime<Utc>>, sqlx::Error> {
    // Failures for the e-mail count only since its last successful sign-in.
    let (email_failures, email_oldest): (i64, Option<DateTime<Utc>>) = sqlx::query_as(
        "select count(*), min(at) from login_attempts
         where lower(email) = lower($1) and not succeeded
           and at > now() - make_interval(mins => $2::int)
           and at > coalesce((select max(at) from login_attempts where lower(email) = lower($1) and succeeded), '-infinity')",
    )
    .bind(email)
    .bind(WINDOW_MINUTES as i32)
    .fetch_one(pool)
    .await?;
    let (ip_failures, ip_oldest): (i64, Option<DateTime<Utc>>) = sqlx::query_as(
        "select count(*), min(at) from login_attempts
         where ip = $1 and not succeeded and at > now() - make_interval(mins => $2::int)",
    )
    .bind(ip)
    .bind(WINDOW_MINUTES as i32)
    .fetch_one(pool)
    .await?;
    let window = chrono::Duration::minutes(WINDOW_MINUTES);
    let mut until = None;
    if email_failures >= limits.per_email {
        until = email_oldest.map(|t| t + window);
    }
    if ip_failures >= limits.per_ip {
        until = until.max(ip_oldest.map(|t| t + window));
    }
    Ok(until)
}

pub async fn record(pool: &PgPool, email: &str, ip: &str, succeeded: bool) -> Result<(), sqlx::Error> {
    // Keep the table small: nothing older than a day matters.
    sqlx::query("delete from login_attempts where at < now() - interval '1 day'")
        .execute(pool)
        .await?;
    sqlx::query("insert into login_attempts (email, ip, succeeded) values ($1, $2, $3)")
        .bind(email)
        .bind(ip)
        .bind(succeeded)
        .execute(pool)
        .await?;
    Ok(())
}
