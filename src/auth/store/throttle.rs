//! Sign-in throttling: after too many failures for one e-mail or from one IP address
//! within the window, further attempts are refused with 429 until the window moves on.
//!
//! Checking and counting are one step ([`admit`]): under a lock per e-mail and per address,
//! an attempt is either refused or recorded as a failure *before* its password is checked,
//! and turned into a success afterwards ([`settle`]). So concurrent guesses are each counted,
//! and no more than the limit are ever judged.

use chrono::{DateTime, Utc};
use sqlx::PgPool;

pub const WINDOW_MINUTES: i64 = 15;

pub struct Limits {
    pub per_email: i64,
    pub per_ip: i64,
}

/// The outcome of asking to try a password.
pub enum Admission {
    /// Go ahead; the attempt is recorded as a failure until [`settle`] says otherwise.
    Admitted { attempt_id: i64 },
    /// Throttled: the caller may try again at this time.
    Refused { until: DateTime<Utc> },
}

/// Lock namespaces for `pg_advisory_xact_lock(namespace, key)`.
const LOCK_EMAIL: i32 = 0x0074_6801;
const LOCK_IP: i32 = 0x0074_6802;

/// Counts the recent failures for `email` and `ip` and, unless either is at its limit,
/// records this attempt, all under a transaction-scoped lock on both (always taken in the
/// same order, so two attempts cannot deadlock).
pub async fn admit(pool: &PgPool, email: &str, ip: &str, limits: &Limits) -> Result<Admission, sqlx::Error> {
    let mut tx = pool.begin().await?;
    // The lock is held for two short statements; a burst that queues longer is throttled
    // rather than left holding connections.
    sqlx::query!("set local lock_timeout = '2s'").execute(&mut *tx).await?;
    let locked = sqlx::query!(
        "select pg_advisory_xact_lock($1, hashtext(lower($2))) as email_lock,
                pg_advisory_xact_lock($3, hashtext($4)) as ip_lock",
        LOCK_EMAIL,
        email,
        LOCK_IP,
        ip
    )
    .fetch_one(&mut *tx)
    .await;
    match locked {
        Ok(_) => {}
        Err(sqlx::Error::Database(e)) if e.code().as_deref() == Some("55P03") => {
            return Ok(Admission::Refused {
                until: Utc::now() + chrono::Duration::seconds(10),
            });
        }
        Err(e) => return Err(e),
    }
    // Failures for the e-mail count only since its last successful sign-in.
    let recent = sqlx::query!(
        r#"select e.n as "email_failures!", e.oldest as email_oldest, i.n as "ip_failures!", i.oldest as ip_oldest
             from (select count(*) n, min(at) oldest from login_attempts
                   where lower(email) = lower($1) and not succeeded
                     and at > now() - make_interval(mins => $3::int)
                     and at > coalesce((select max(at) from login_attempts
                                        where lower(email) = lower($1) and succeeded), '-infinity')) e,
                  (select count(*) n, min(at) oldest from login_attempts
                   where ip = $2 and not succeeded and at > now() - make_interval(mins => $3::int)) i"#,
        email,
        ip,
        WINDOW_MINUTES as i32
    )
    .fetch_one(&mut *tx)
    .await?;
    let window = chrono::Duration::minutes(WINDOW_MINUTES);
    let mut until: Option<DateTime<Utc>> = None;
    if recent.email_failures >= limits.per_email {
        until = recent.email_oldest.map(|t| t + window);
    }
    if recent.ip_failures >= limits.per_ip {
        until = until.max(recent.ip_oldest.map(|t| t + window));
    }
    if let Some(until) = until {
        tx.commit().await?;
        return Ok(Admission::Refused { until });
    }
    let attempt_id = sqlx::query_scalar!(
        "insert into login_attempts (email, ip, succeeded) values ($1, $2, false) returning id",
        email,
        ip
    )
    .fetch_one(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(Admission::Admitted { attempt_id })
}

/// Keeps the table small: no attempt older than a day matters. Run now and then, not on the
/// sign-in path.
pub async fn forget_old(pool: &PgPool) -> Result<u64, sqlx::Error> {
    let r = sqlx::query!("delete from login_attempts where at < now() - interval '1 day'")
        .execute(pool)
        .await?;
    Ok(r.rows_affected())
}

/// Marks an admitted attempt as successful (a failure stays as recorded).
pub async fn settle(pool: &PgPool, attempt_id: i64, succeeded: bool) -> Result<(), sqlx::Error> {
    if succeeded {
        sqlx::query!("update login_attempts set succeeded = true where id = $1", attempt_id)
            .execute(pool)
            .await?;
    }
    Ok(())
}
