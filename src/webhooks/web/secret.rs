//! The webhook's secret on the HTTP settings tab: showing it (each time recorded in the audit
//! log) and staged rotation — Prepare (the new secret shown once), Switch, Switch back,
//! Discard. The previous secret goes when its grace period ends (`destroy_expired`).

use axum::extract::{Path, State};
use axum::http::{header, HeaderMap};
use axum::response::{IntoResponse, Response};
use tower_sessions::Session;

use super::details::{details_tab, Tab, TabExtras, TabQuery};
use super::find;
use crate::audit::{Action, Actor, Change, Entry, Object, ObjectKind};
use crate::auth::session::{flash, FlashKind};
use crate::auth::{CurrentUser, Permission};
use crate::dates::datetime;
use crate::error::{AppError, AppResult};
use crate::forms::FormFields;
use crate::layout::Layout;
use crate::state::AppState;
use crate::webhooks::store::secrets;
use crate::webhooks::store::Webhook;
use crate::webhooks::wizard;

/// A rotation step's audit record about `w`.
fn step(w: &Webhook, action: Action) -> Entry {
    Entry::new(action, Object::new(ObjectKind::Webhook, &w.id, &w.label))
}

/// The step's record goes with the step: one commit.
async fn record_and_commit(
    mut tx: sqlx::Transaction<'static, sqlx::Postgres>,
    user: &CurrentUser,
    entry: &Entry,
) -> AppResult<()> {
    crate::audit::store::record(&mut *tx, &user.account_id, &Actor::from(user), entry).await?;
    tx.commit().await?;
    Ok(())
}

/// Back to the HTTP settings tab, saying what the step did.
async fn back_to_the_tab(session: &Session, headers: &HeaderMap, w: &Webhook, message: String) -> AppResult<Response> {
    flash(session, FlashKind::Success, message).await?;
    Ok(wizard::redirect(headers, &Tab::Http.path(&w.id)))
}

fn secret_change(field: &str, before: Option<&str>, after: Option<&str>) -> Change {
    Change {
        field: field.to_string(),
        before: before.map(|k| format!("key {k}")),
        after: after.map(|k| format!("key {k}")),
    }
}

/// `POST /webhooks/{id}/secret/prepare`: a new secret, shown on this answer only.
pub(super) async fn prepare(
    State(state): State<AppState>,
    user: CurrentUser,
    layout: Layout,
    headers: HeaderMap,
    Path(id): Path<String>,
    _form: FormFields,
) -> AppResult<Response> {
    user.require(Permission::EditWebhooks)?;
    let w = find(&state, &user, &id).await?;
    let mut tx = state.pool.begin().await?;
    let Some(prepared) = secrets::prepare(&mut tx, &user.account_id, &w.id).await? else {
        return Err(AppError::Conflict(
            "A new secret is already prepared for this webhook: switch to it, or discard it and prepare another."
                .into(),
        ));
    };
    let entry = step(&w, Action::SecretPrepared)
        .with_changes(vec![secret_change("Prepared secret", None, Some(&prepared.kid))])
        .with_detail(format!("Calls are still signed with key {}.", w.jwt_kid));
    record_and_commit(tx, &user, &entry).await?;
    tracing::info!(webhook = %w.id, user = %user.id, kid = %prepared.kid, "secret prepared");
    let page = details_tab(
        state,
        user,
        layout,
        headers,
        id,
        Tab::Http,
        TabQuery::default(),
        TabExtras {
            new_secret: Some(prepared),
            ..TabExtras::default()
        },
    )
    .await?;
    // The secret is in this page only: no cache may keep it.
    Ok(([(header::CACHE_CONTROL, "no-store")], page).into_response())
}

/// `POST /webhooks/{id}/secret/switch`: calls are signed with the prepared secret from now on.
pub(super) async fn switch(
    State(state): State<AppState>,
    user: CurrentUser,
    session: Session,
    headers: HeaderMap,
    Path(id): Path<String>,
    _form: FormFields,
) -> AppResult<Response> {
    user.require(Permission::EditWebhooks)?;
    let w = find(&state, &user, &id).await?;
    let mut tx = state.pool.begin().await?;
    let Some(done) = secrets::switch(&mut tx, &user.account_id, &w.id, state.config.secret_grace).await? else {
        return Err(AppError::Conflict(
            "No new secret is prepared: prepare one first.".into(),
        ));
    };
    let mut changes = vec![secret_change("JWT secret", Some(&done.previous_kid), Some(&done.kid))];
    if let Some(old) = &done.destroyed_kid {
        changes.push(secret_change("Previous secret", Some(old), Some(&done.previous_kid)));
    }
    let entry = step(&w, Action::SecretSwitched)
        .with_changes(changes)
        .with_detail(format!(
            "Key {} still verifies until {}.",
            done.previous_kid,
            datetime(&done.until)
        ));
    record_and_commit(tx, &user, &entry).await?;
    tracing::info!(webhook = %w.id, user = %user.id, kid = %done.kid, "secret switched");
    back_to_the_tab(&session, &headers, &w, format!(
        "Calls of “{}” are now signed with key {}. The previous key {} keeps verifying until {} — use Switch back if your handler rejects the new one.",
        w.label,
        done.kid,
        done.previous_kid,
        datetime(&done.until)
    )).await
}

/// `POST /webhooks/{id}/secret/switch-back`: the previous secret signs again while it is
/// kept; the newer one waits as the prepared secret.
pub(super) async fn switch_back(
    State(state): State<AppState>,
    user: CurrentUser,
    session: Session,
    headers: HeaderMap,
    Path(id): Path<String>,
    _form: FormFields,
) -> AppResult<Response> {
    user.require(Permission::EditWebhooks)?;
    let w = find(&state, &user, &id).await?;
    let mut tx = state.pool.begin().await?;
    let Some((kid, prepared_kid)) = secrets::switch_back(&mut tx, &user.account_id, &w.id).await? else {
        return Err(AppError::Conflict(if w.next_jwt_kid.is_some() {
            "Another new secret is prepared: discard it before switching back.".into()
        } else {
            "There is no previous secret to switch back to (its grace period has ended).".into()
        }));
    };
    let entry = step(&w, Action::SecretSwitchedBack).with_changes(vec![
        secret_change("JWT secret", Some(&prepared_kid), Some(&kid)),
        secret_change("Prepared secret", None, Some(&prepared_kid)),
    ]);
    record_and_commit(tx, &user, &entry).await?;
    tracing::info!(webhook = %w.id, user = %user.id, kid = %kid, "secret switched back");
    back_to_the_tab(&session, &headers, &w, format!("Calls of “{}” are signed with key {kid} again. Key {prepared_kid} waits as the prepared secret: switch to it when your handler is ready, or discard it.", w.label)).await
}

/// `POST /webhooks/{id}/secret/discard`: the prepared secret is thrown away.
pub(super) async fn discard(
    State(state): State<AppState>,
    user: CurrentUser,
    session: Session,
    headers: HeaderMap,
    Path(id): Path<String>,
    _form: FormFields,
) -> AppResult<Response> {
    user.require(Permission::EditWebhooks)?;
    let w = find(&state, &user, &id).await?;
    let mut tx = state.pool.begin().await?;
    let Some(kid) = secrets::discard(&mut tx, &user.account_id, &w.id).await? else {
        return Err(AppError::Conflict("No new secret is prepared.".into()));
    };
    let entry =
        step(&w, Action::SecretCancelled).with_changes(vec![secret_change("Prepared secret", Some(&kid), None)]);
    record_and_commit(tx, &user, &entry).await?;
    back_to_the_tab(
        &session,
        &headers,
        &w,
        format!(
            "The prepared secret (key {kid}) was discarded. Calls are still signed with key {}.",
            w.jwt_kid
        ),
    )
    .await
}
