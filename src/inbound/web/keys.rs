//! A trigger's API keys: add (generated or pasted), relabel, delete.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use tower_sessions::Session;

use super::details::{render_details, KeyForm};
use super::{find, NEW_KEY};
use crate::audit::{Action, Actor};
use crate::auth::session::{flash, FlashKind};
use crate::auth::{CurrentUser, Permission};
use crate::error::{AppError, AppResult};
use crate::forms::FormFields;
use crate::layout::Layout;
use crate::state::AppState;

pub(super) fn read_label(fields: &FormFields) -> Result<String, (String, String)> {
    let label: String = fields.get("label").trim().to_string();
    if label.is_empty() {
        return Err((label, "Enter a label that names the caller of this key.".into()));
    }
    if label.chars().count() > crate::inbound::LABEL_MAX {
        let n = label.chars().count();
        return Err((label, crate::webhooks::model::too_long(crate::inbound::LABEL_MAX, n)));
    }
    if label.chars().any(char::is_control) {
        return Err((label, "Control characters are not allowed.".into()));
    }
    Ok(label)
}

pub(super) async fn add_key(
    State(state): State<AppState>,
    user: CurrentUser,
    session: Session,
    layout: Layout,
    Path(id): Path<String>,
    fields: FormFields,
) -> AppResult<Response> {
    let t = find(&state, &user, &id).await?;
    user.require(Permission::EditWebhooks)?;
    let refused = |label: String, message: String| KeyForm {
        new_key: None,
        label,
        error: Some(message),
    };
    let label = match read_label(&fields) {
        Ok(l) => l,
        Err((label, message)) => {
            return render_details(
                &state,
                layout,
                t,
                StatusCode::UNPROCESSABLE_ENTITY,
                refused(label, message),
            )
            .await;
        }
    };
    let pasted = fields.get("key").trim().to_string();
    let (key, generated) = if pasted.is_empty() {
        (crate::inbound::generate_key(), true)
    } else {
        if let Err(message) = crate::inbound::check_pasted_key(&pasted) {
            return render_details(
                &state,
                layout,
                t,
                StatusCode::UNPROCESSABLE_ENTITY,
                refused(label, message),
            )
            .await;
        }
        (pasted, false)
    };
    let mut tx = state.pool.begin().await?;
    let refusal = match crate::inbound::add_key(&mut tx, &t.id, &label, &key).await? {
        crate::inbound::AddKey::Added => None,
        crate::inbound::AddKey::Duplicate => Some("This key is already on this trigger.".to_string()),
        crate::inbound::AddKey::TooMany => Some(format!(
            "A trigger has at most {} keys; delete one first.",
            crate::inbound::KEYS_MAX
        )),
    };
    if let Some(message) = refusal {
        return render_details(&state, layout, t, StatusCode::CONFLICT, refused(label, message)).await;
    }
    let detail = format!(
        "Key “{label}” ({}) added.",
        if generated { "generated" } else { "pasted" }
    );
    let actor = Actor::from(&user);
    let action = Action::TriggerKeyAdded;
    crate::inbound::record_change(&mut tx, &user.account_id, &actor, action, &t.id, Some(&t), &detail).await?;
    tx.commit().await?;
    tracing::info!(trigger = %t.id, user = %user.id, "inbound trigger key added");
    if generated {
        // Kept in the session for the next page only (so a reload cannot add another key).
        session
            .insert(NEW_KEY, (t.id.clone(), key))
            .await
            .map_err(|e| AppError::Internal(e.into()))?;
        return Ok(Redirect::to(&format!("/inbound/{}#keys", t.id)).into_response());
    }
    flash(&session, FlashKind::Success, format!("Key “{label}” added.")).await?;
    Ok(Redirect::to(&format!("/inbound/{}#keys", t.id)).into_response())
}

pub(super) fn key_id(raw: &str) -> AppResult<i64> {
    raw.parse().map_err(|_| AppError::NotFound)
}

pub(super) async fn relabel_key(
    State(state): State<AppState>,
    user: CurrentUser,
    session: Session,
    Path((id, key)): Path<(String, String)>,
    fields: FormFields,
) -> AppResult<Response> {
    let t = find(&state, &user, &id).await?;
    let key = key_id(&key)?;
    user.require(Permission::EditWebhooks)?;
    let label = match read_label(&fields) {
        Ok(l) => l,
        Err((_, message)) => {
            flash(
                &session,
                FlashKind::Error,
                format!("The label was not changed: {message}"),
            )
            .await?;
            return Ok(Redirect::to(&format!("/inbound/{}#keys", t.id)).into_response());
        }
    };
    let mut tx = state.pool.begin().await?;
    if !crate::inbound::relabel_key(&mut *tx, &t.id, key, &label).await? {
        return Err(AppError::NotFound);
    }
    let detail = format!("Key {key} is now labelled “{label}”.");
    let actor = Actor::from(&user);
    let action = Action::TriggerKeyRenamed;
    crate::inbound::record_change(&mut tx, &user.account_id, &actor, action, &t.id, Some(&t), &detail).await?;
    tx.commit().await?;
    flash(&session, FlashKind::Success, format!("Key relabelled “{label}”.")).await?;
    Ok(Redirect::to(&format!("/inbound/{}#keys", t.id)).into_response())
}

pub(super) async fn delete_key(
    State(state): State<AppState>,
    user: CurrentUser,
    session: Session,
    Path((id, key)): Path<(String, String)>,
) -> AppResult<Response> {
    let t = find(&state, &user, &id).await?;
    let key = key_id(&key)?;
    user.require(Permission::EditWebhooks)?;
    let mut tx = state.pool.begin().await?;
    let label = crate::inbound::delete_key(&mut *tx, &t.id, key)
        .await?
        .ok_or(AppError::NotFound)?;
    let detail = format!("Key “{label}” deleted.");
    let actor = Actor::from(&user);
    let action = Action::TriggerKeyDeleted;
    crate::inbound::record_change(&mut tx, &user.account_id, &actor, action, &t.id, Some(&t), &detail).await?;
    tx.commit().await?;
    tracing::info!(trigger = %t.id, user = %user.id, "inbound trigger key deleted");
    flash(
        &session,
        FlashKind::Success,
        format!("Key “{label}” deleted: calls with it get 401 from now on."),
    )
    .await?;
    Ok(Redirect::to(&format!("/inbound/{}#keys", t.id)).into_response())
}
