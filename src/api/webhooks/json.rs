//! The webhook object as the platform API renders it, with the last success and failure.

use std::collections::HashMap;

use serde_json::{json, Map, Value};

use crate::api::ApiError;
use crate::auth::Permission;
use crate::delivery::payload::timestamp;
use crate::ids::UserId;
use crate::state::AppState;
use crate::tokens::ApiCaller;
use crate::webhooks::store::{AttemptInfo, Webhook};

/// The attempts behind `last_success` / `last_failure`, by id.
pub(super) async fn attempt_infos(
    state: &AppState,
    hooks: &[Webhook],
) -> Result<HashMap<i64, AttemptInfo>, sqlx::Error> {
    let ids: Vec<i64> = hooks
        .iter()
        .flat_map(|w| [w.last_success_attempt_id, w.last_failure_attempt_id])
        .flatten()
        .collect();
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    let rows = crate::webhooks::store::attempt_summaries(&state.pool, &ids).await?;
    Ok(rows.into_iter().map(|a| (a.id, a)).collect())
}

pub(super) fn person(id: &Option<UserId>, name: &Option<String>, email: &Option<String>) -> Value {
    match id {
        Some(id) => json!({"id": id, "name": name, "email": email}),
        None => Value::Null,
    }
}

/// The platform's webhook object.
pub(super) fn to_json(w: &Webhook, caller: &ApiCaller, api_url: &str, attempts: &HashMap<i64, AttemptInfo>) -> Value {
    let last = |at: Option<chrono::DateTime<chrono::Utc>>, id: Option<i64>, status: &str| -> Value {
        match (at, id.and_then(|id| attempts.get(&id))) {
            (Some(at), Some(a)) => json!({
                "time": timestamp(at), "status": status, "status_code": a.status_code,
                "duration": a.duration_ms, "response": {"body": a.body}, "errors": a.error,
            }),
            _ => Value::Null,
        }
    };
    let headers: Map<String, Value> = w
        .headers
        .0
        .iter()
        .map(|(k, v)| (k.clone(), Value::String(v.clone())))
        .collect();
    json!({
        "id": w.id,
        "type": w.api_type,
        "object_class": w.object_class,
        "label": w.label,
        "description": w.description,
        "active": w.active,
        // Why the portal turned it off by itself (410 Gone); null otherwise.
        "disabled_reason": w.disabled_reason,
        "product": {"id": w.product_id, "name": w.product_name, "icon": Value::Null},
        "account": {"id": w.account_id, "name": caller.account_name},
        "external_url": w.external_url,
        "http_method": w.http_method,
        "payload_format": w.payload_format.as_str(),
        "md5_wrap": w.md5_wrap,
        "rate_limit": w.rate_limit,
        // As on the pages: the secret only for those who may edit webhooks.
        "jwt_secret": if caller.can(Permission::EditWebhooks) { w.jwt_secret.clone() } else { w.secret_masked() },
        // The key id of the secret that signs calls now (the `kid` header of every token).
        "jwt_kid": w.jwt_kid,
        "headers": headers,
        "data": w.data.0,
        "api_url": api_url,
        "created_at": timestamp(w.created_at),
        "created_by": person(&w.created_by_id, &w.created_by_name, &w.created_by_email),
        "modified_at": timestamp(w.modified_at),
        "modified_by": person(&w.modified_by_id, &w.modified_by_name, &w.modified_by_email),
        "earliest_possible_trigger": w.next_trigger_at.map(timestamp),
        "stats": {
            "events": w.events, "triggers": w.triggers, "success_triggers": w.success_triggers,
            "failure_triggers": w.failure_triggers, "failure_since_last_success": w.failure_since_last_success,
        },
        "last_event": w.last_event_at.map(timestamp),
        "last_success": last(w.last_success_at, w.last_success_attempt_id, "success"),
        "last_failure": last(w.last_failure_at, w.last_failure_attempt_id, "failure"),
    })
}

pub(super) async fn render_one(state: &AppState, caller: &ApiCaller, w: &Webhook) -> Result<Value, ApiError> {
    let attempts = attempt_infos(state, std::slice::from_ref(w)).await?;
    Ok(to_json(w, caller, &state.config.api_url(), &attempts))
}
