//! `POST …/webhooks/{id}/replay`: the Replay form of the Deliveries tab, for API clients.
//! `{"since": "<RFC 3339>", "only_failed": false, "dry_run": true}` → `{"events": 37,
//! "since": …, "only_failed": …, "dry_run": …, "queued": 0|37, "left_out": 0}`.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use chrono::{SecondsFormat, Utc};
use serde_json::{json, Value};

use super::body::object;
use super::find;
use crate::api::ApiError;
use crate::auth::Permission;
use crate::state::AppState;
use crate::tokens::ApiCaller;
use crate::webhooks::replay::{
    check_since, parse_api_since, refusal_message, run, settle, Refusal, ReplayError, ReplayRequest,
};

/// A field that is a boolean when present (`default` when absent or null).
fn flag(m: &serde_json::Map<String, Value>, key: &str, default: bool, errors: &mut Vec<String>) -> bool {
    match m.get(key) {
        None | Some(Value::Null) => default,
        Some(Value::Bool(b)) => *b,
        Some(_) => {
            errors.push(format!("{key}: must be true or false."));
            default
        }
    }
}

pub(super) async fn replay(
    State(state): State<AppState>,
    caller: ApiCaller,
    Path(id): Path<String>,
    body: axum::body::Bytes,
) -> Result<Json<Value>, ApiError> {
    crate::api::require(&caller, Permission::EditWebhooks)?;
    let w = find(&state, &caller, &id).await?;
    let m = object(&body)?;
    let mut errors = Vec::new();
    // A dry run unless asked otherwise: a body that forgets the flag queues nothing.
    let dry_run = flag(&m, "dry_run", true, &mut errors);
    let only_failed = flag(&m, "only_failed", false, &mut errors);
    let since = match m.get("since") {
        None | Some(Value::Null) => {
            errors.push("since: this field is required (an RFC 3339 moment, e.g. 2026-12-01T10:00:00Z).".into());
            None
        }
        Some(Value::String(raw)) => match parse_api_since(raw) {
            Some(since) => Some(since),
            None => {
                errors.push("since: must be an RFC 3339 moment with its offset, e.g. 2026-12-01T10:00:00Z.".into());
                None
            }
        },
        Some(_) => {
            errors.push("since: must be a string (an RFC 3339 moment).".into());
            None
        }
    };
    if let Some(Err(message)) = since.map(|s| check_since(s, Utc::now())) {
        errors.push(format!("since: {message}"));
    }
    let (Some(since), true) = (since, errors.is_empty()) else {
        return Err(ApiError::validation(errors));
    };
    let request = ReplayRequest {
        since,
        only_failed,
        dry_run,
        expect: None,
        settle: settle(&state.config.delivery),
    };
    let replayed = run(
        &state.pool,
        &caller.account_id,
        (&w.id, &w.label),
        &request,
        &crate::api::actor(&caller),
    )
    .await
    .map_err(|e| match e {
        ReplayError::Refused(Refusal::NotFound) => ApiError::not_found(&id),
        ReplayError::Refused(Refusal::TooMany) => {
            ApiError::validation(vec![format!("since: {}", refusal_message(Refusal::TooMany, &since))])
        }
        ReplayError::Refused(refusal @ (Refusal::Disabled | Refusal::OutOfOrder)) => ApiError {
            status: StatusCode::CONFLICT,
            code: "REPLAY_001",
            errors: vec![refusal_message(refusal, &since)],
        },
        ReplayError::Refused(refusal @ Refusal::StillReplaying(_)) => ApiError {
            status: StatusCode::CONFLICT,
            code: "REPLAY_002",
            errors: vec![refusal_message(refusal, &since)],
        },
        ReplayError::Database(e) => e.into(),
    })?;
    if !dry_run {
        tracing::info!(webhook = %w.id, token = %caller.token_id, since = %since, only_failed, queued = replayed.queued, "replay through the API");
    }
    Ok(Json(json!({
        "events": replayed.events,
        "since": since.to_rfc3339_opts(SecondsFormat::AutoSi, true),
        "only_failed": only_failed,
        "dry_run": dry_run,
        "queued": replayed.queued,
        "left_out": replayed.left_out,
    })))
}
