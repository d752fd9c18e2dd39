//! Writing and reading audit records. There is no update or delete here, on purpose.

use chrono::{DateTime, Utc};
use sqlx::types::Json;
use sqlx::PgExecutor;

use super::{Action, Actor, Change, Entry, ObjectKind};
use crate::ids::AccountId;

/// Records `entry` as done by `actor`. Call it in the transaction of the change.
pub async fn record(
    db: impl PgExecutor<'_>,
    account_id: &AccountId,
    actor: &Actor,
    entry: &Entry,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "insert into audit_records
             (account_id, actor_kind, actor_id, actor_name, ip, action, object_kind, object_id, object_name,
              changes, detail)
         values ($1, $2, $3, $4, $5::text::inet, $6, $7, $8, $9, $10, $11)",
        account_id.as_str(),
        actor.kind.as_str(),
        actor.id,
        actor.name,
        actor.ip.map(|ip| ip.to_string()),
        entry.action.as_str(),
        entry.object.kind as ObjectKind,
        entry.object.id,
        entry.object.name,
        Json(&entry.changes) as _,
        entry.detail,
    )
    .execute(db)
    .await?;
    Ok(())
}

/// Records several entries by one actor in one statement (an API list that shows secrets).
pub async fn record_many(
    db: impl PgExecutor<'_>,
    account_id: &AccountId,
    actor: &Actor,
    entries: &[Entry],
) -> Result<(), sqlx::Error> {
    let actions: Vec<&str> = entries.iter().map(|e| e.action.as_str()).collect();
    let kinds: Vec<ObjectKind> = entries.iter().map(|e| e.object.kind).collect();
    let ids: Vec<&str> = entries.iter().map(|e| e.object.id.as_str()).collect();
    let names: Vec<&str> = entries.iter().map(|e| e.object.name.as_str()).collect();
    let details: Vec<&str> = entries.iter().map(|e| e.detail.as_str()).collect();
    sqlx::query!(
        "insert into audit_records
             (account_id, actor_kind, actor_id, actor_name, ip, action, object_kind, object_id, object_name, detail)
         select $1, $2, $3, $4, $5::text::inet, e.action, e.kind, e.id, e.name, e.detail
         from unnest($6::text[], $7::text[], $8::text[], $9::text[], $10::text[]) as e(action, kind, id, name, detail)",
        account_id.as_str(),
        actor.kind.as_str(),
        actor.id,
        actor.name,
        actor.ip.map(|ip| ip.to_string()),
        &actions as &[&str],
        &kinds as &[ObjectKind],
        &ids as &[&str],
        &names as &[&str],
        &details as &[&str],
    )
    .execute(db)
    .await?;
    Ok(())
}

/// One record as the log shows it.
#[derive(Debug, Clone)]
pub struct Record {
    pub id: i64,
    pub at: DateTime<Utc>,
    pub actor_kind: String,
    pub actor_id: Option<String>,
    pub actor_name: String,
    pub ip: Option<String>,
    pub action: String,
    pub object_kind: ObjectKind,
    pub object_id: String,
    pub object_name: String,
    pub changes: Json<Vec<Change>>,
    pub detail: String,
}

impl Record {
    pub fn action_label(&self) -> String {
        Action::parse(&self.action)
            .map(|a| a.label().to_string())
            .unwrap_or_else(|| self.action.clone())
    }
    pub fn object_href(&self) -> Option<String> {
        self.object_kind.href(&self.object_id)
    }
}

/// What the log is narrowed to. Empty filters match everything.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    pub object_kind: Option<ObjectKind>,
    pub object_id: Option<String>,
    pub actor_id: Option<String>,
    pub action: Option<Action>,
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
    /// Keyset paging: records older than this id.
    pub before: Option<i64>,
}

pub const PAGE: i64 = 50;

/// A page of records, newest first, and whether older ones match too.
///
/// Each filter has an index whose walk in id order stops after a page: the query leads with
/// the most selective filter given (object, then actor, then action) and checks the others on
/// the way. A time range becomes an id range first (records are appended in time order), so a
/// filter far in the past does not walk the newer records.
pub async fn page(
    db: &sqlx::PgPool,
    account_id: &AccountId,
    filter: &Filter,
) -> Result<(Vec<Record>, bool), sqlx::Error> {
    let (low, high) = id_range(db, account_id, filter).await?;
    let high = match (high, filter.before) {
        (Some(h), Some(b)) => Some(h.min(b - 1)),
        (h, b) => h.or(b.map(|b| b - 1)),
    };
    let kind = filter.object_kind.map(|k| k.as_str());
    let action = filter.action.map(|a| a.as_str());
    let limit = PAGE + 1;
    let mut rows = if let Some(object_id) = filter.object_id.as_deref() {
        sqlx::query_as!(
            Record,
            r#"select id, at, actor_kind, actor_id, actor_name, host(ip) as ip, action,
                      object_kind as "object_kind: ObjectKind", object_id, object_name,
                      changes as "changes: Json<Vec<Change>>", detail
               from audit_records
               where account_id = $1 and object_id = $3 and ($2::text is null or object_kind = $2)
                 and ($4::text is null or actor_id = $4) and ($5::text is null or action = $5)
                 and id >= coalesce($6::bigint, 0) and id <= coalesce($7, 9223372036854775807)
               order by id desc limit $8"#,
            account_id.as_str(),
            kind,
            object_id,
            filter.actor_id,
            action,
            low,
            high,
            limit,
        )
        .fetch_all(db)
        .await?
    } else if let Some(actor_id) = filter.actor_id.as_deref() {
        sqlx::query_as!(
            Record,
            r#"select id, at, actor_kind, actor_id, actor_name, host(ip) as ip, action,
                      object_kind as "object_kind: ObjectKind", object_id, object_name,
                      changes as "changes: Json<Vec<Change>>", detail
               from audit_records
               where account_id = $1 and actor_id = $2
                 and ($3::text is null or object_kind = $3) and ($4::text is null or action = $4)
                 and id >= coalesce($5::bigint, 0) and id <= coalesce($6, 9223372036854775807)
               order by id desc limit $7"#,
            account_id.as_str(),
            actor_id,
            kind,
            action,
            low,
            high,
            limit,
        )
        .fetch_all(db)
        .await?
    } else if let Some(action) = action {
        sqlx::query_as!(
            Record,
            r#"select id, at, actor_kind, actor_id, actor_name, host(ip) as ip, action,
                      object_kind as "object_kind: ObjectKind", object_id, object_name,
                      changes as "changes: Json<Vec<Change>>", detail
               from audit_records
               where account_id = $1 and action = $2 and ($3::text is null or object_kind = $3)
                 and id >= coalesce($4::bigint, 0) and id <= coalesce($5, 9223372036854775807)
               order by id desc limit $6"#,
            account_id.as_str(),
            action,
            kind,
            low,
            high,
            limit,
        )
        .fetch_all(db)
        .await?
    } else {
        sqlx::query_as!(
            Record,
            r#"select id, at, actor_kind, actor_id, actor_name, host(ip) as ip, action,
                      object_kind as "object_kind: ObjectKind", object_id, object_name,
                      changes as "changes: Json<Vec<Change>>", detail
               from audit_records
               where account_id = $1 and ($2::text is null or object_kind = $2)
                 and id >= coalesce($3::bigint, 0) and id <= coalesce($4, 9223372036854775807)
               order by id desc limit $5"#,
            account_id.as_str(),
            kind,
            low,
            high,
            limit,
        )
        .fetch_all(db)
        .await?
    };
    let more = rows.len() as i64 > PAGE;
    rows.truncate(PAGE as usize);
    Ok((rows, more))
}

/// The ids between which the records of a time range lie (`None`: unbounded).
async fn id_range(
    db: &sqlx::PgPool,
    account_id: &AccountId,
    filter: &Filter,
) -> Result<(Option<i64>, Option<i64>), sqlx::Error> {
    let low = match filter.from {
        Some(from) => Some(
            sqlx::query_scalar!(
                "select id from audit_records where account_id = $1 and at >= $2 order by at, id limit 1",
                account_id.as_str(),
                from
            )
            .fetch_optional(db)
            .await?
            .unwrap_or(i64::MAX),
        ),
        None => None,
    };
    let high = match filter.to {
        Some(to) => Some(
            sqlx::query_scalar!(
                "select id from audit_records where account_id = $1 and at < $2 order by at desc, id desc limit 1",
                account_id.as_str(),
                to
            )
            .fetch_optional(db)
            .await?
            .unwrap_or(0),
        ),
        None => None,
    };
    Ok((low, high))
}

/// Who appears in the account's log (for the "who" filter): users and tokens, by name.
pub async fn actors(db: &sqlx::PgPool, account_id: &AccountId) -> Result<Vec<(String, String)>, sqlx::Error> {
    let rows = sqlx::query!(
        r#"select u.id as "id!", u.name || ' <' || u.email || '>' as "name!" from users u where u.account_id = $1
           union all
           select t.id, 'API token ' || t.id || ' (' || t.name || ')' from api_tokens t where t.account_id = $1
           order by 2 limit 2000"#,
        account_id.as_str()
    )
    .fetch_all(db)
    .await?;
    Ok(rows.into_iter().map(|r| (r.id, r.name)).collect())
}
