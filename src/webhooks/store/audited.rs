//! Webhook changes with their audit record: the fields before and after, read in the
//! transaction of the change, so the record says exactly what the change did.

use sqlx::{PgConnection, PgPool, Postgres, Transaction};

use crate::audit::{self, Action, Actor, Entry, Object, ObjectKind, Snapshot};
use crate::ids::{AccountId, WebhookId};

/// The longest value a record keeps of one field (custom data can be 64 KiB).
const VALUE_MAX: usize = 1_000;

fn bounded(mut value: String) -> String {
    if value.len() > VALUE_MAX {
        let mut end = VALUE_MAX;
        while !value.is_char_boundary(end) {
            end -= 1;
        }
        value.truncate(end);
        value.push('…');
    }
    value
}

/// The webhook's name and its fields as the audit log shows them, the row locked until the
/// transaction ends. The secret is named by its key id.
pub async fn snapshot(
    conn: &mut PgConnection,
    account_id: &AccountId,
    id: &WebhookId,
) -> Result<Option<(String, Snapshot)>, sqlx::Error> {
    let row = sqlx::query!(
        r#"select label, description, active, external_url, http_method, payload_format, md5_wrap,
                  headers::text as "headers!", data::text as "data!", rate_limit, jwt_kid
           from webhooks where account_id = $1 and id = $2 for update"#,
        account_id.as_str(),
        id.as_str()
    )
    .fetch_optional(conn)
    .await?;
    Ok(row.map(|r| {
        let fields: Snapshot = vec![
            ("Name", r.label.clone()),
            ("Description", r.description),
            ("Status", if r.active { "Enabled" } else { "Disabled" }.to_string()),
            ("URL", r.external_url),
            ("Method", r.http_method),
            ("Payload format", r.payload_format),
            ("MD5 envelope", if r.md5_wrap { "on" } else { "off" }.to_string()),
            ("Headers", r.headers),
            (
                "Rate limit",
                r.rate_limit.map_or("none".to_string(), |n| format!("{n}/s")),
            ),
            ("Custom data", r.data),
            ("JWT secret", format!("key {}", r.jwt_kid)),
        ];
        (r.label, fields.into_iter().map(|(f, v)| (f, bounded(v))).collect())
    }))
}

/// A change of one webhook in progress: begun with the fields as they are, committed with a
/// record of what changed.
pub struct AuditedChange {
    tx: Transaction<'static, Postgres>,
    account_id: AccountId,
    id: WebhookId,
    before: Option<(String, Snapshot)>,
}

impl AuditedChange {
    pub async fn begin(pool: &PgPool, account_id: &AccountId, id: &WebhookId) -> Result<Self, sqlx::Error> {
        let mut tx = pool.begin().await?;
        let before = snapshot(&mut tx, account_id, id).await?;
        Ok(AuditedChange {
            tx,
            account_id: account_id.clone(),
            id: id.clone(),
            before,
        })
    }

    /// False when the webhook is not the account's (or is gone): nothing to change.
    pub fn found(&self) -> bool {
        self.before.is_some()
    }

    pub fn conn(&mut self) -> &mut PgConnection {
        &mut self.tx
    }

    /// Records `action` with the fields that changed and commits. An update that changed
    /// nothing is not recorded.
    pub async fn commit(mut self, actor: &Actor, action: Action, detail: &str) -> Result<(), sqlx::Error> {
        let after = if action == Action::WebhookDeleted {
            None
        } else {
            snapshot(&mut self.tx, &self.account_id, &self.id).await?
        };
        let name = after
            .as_ref()
            .or(self.before.as_ref())
            .map(|(name, _)| name.clone())
            .unwrap_or_default();
        let changes = match (&self.before, &after) {
            (Some((_, b)), Some((_, a))) => audit::changes(b, a),
            (None, Some((_, a))) => audit::created(a),
            _ => Vec::new(),
        };
        if !(action == Action::WebhookUpdated && changes.is_empty()) {
            let entry = Entry::new(action, Object::new(ObjectKind::Webhook, &self.id, name))
                .with_changes(changes)
                .with_detail(detail);
            audit::store::record(&mut *self.tx, &self.account_id, actor, &entry).await?;
        }
        self.tx.commit().await
    }
}

/// Records something done to a webhook that changes none of its fields (Trigger now, a test
/// ping, a redelivery, a secret shown).
pub async fn record_action(
    db: impl sqlx::PgExecutor<'_>,
    account_id: &AccountId,
    actor: &Actor,
    id: &WebhookId,
    name: &str,
    action: Action,
    detail: &str,
) -> Result<(), sqlx::Error> {
    let entry = Entry::new(action, Object::new(ObjectKind::Webhook, id, name)).with_detail(detail);
    audit::store::record(db, account_id, actor, &entry).await
}

/// Records a webhook just inserted in this transaction, with every field it was created with.
pub async fn record_created(
    conn: &mut PgConnection,
    account_id: &AccountId,
    actor: &Actor,
    id: &WebhookId,
) -> Result<(), sqlx::Error> {
    let Some((name, fields)) = snapshot(conn, account_id, id).await? else {
        return Ok(());
    };
    let entry = Entry::new(Action::WebhookCreated, Object::new(ObjectKind::Webhook, id, name))
        .with_changes(audit::created(&fields));
    audit::store::record(conn, account_id, actor, &entry).await
}

/// Records that a webhook's secret was shown (`where_`: which page or answer).
pub async fn record_reveal(
    db: impl sqlx::PgExecutor<'_>,
    actor: &Actor,
    w: &super::Webhook,
    where_: &str,
) -> Result<(), sqlx::Error> {
    let detail = format!("Key {} shown {where_}.", w.jwt_kid);
    record_action(
        db,
        &w.account_id,
        actor,
        &w.id,
        &w.label,
        Action::SecretRevealed,
        &detail,
    )
    .await
}
