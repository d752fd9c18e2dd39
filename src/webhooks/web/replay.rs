//! The Deliveries tab's Replay form: **Check** answers how many events a replay would send
//! again; **Confirm replay** queues them and comes back to the Deliveries list with a message.
//! Plain form posts (htmx swaps the tabs when it runs).

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use chrono::Utc;
use tower_sessions::Session;

use super::details::{details_tab, Tab, TabExtras, TabQuery};
use super::find;
use super::panels::ReplayPanel;
use crate::auth::session::{flash, FlashKind};
use crate::auth::{CurrentUser, Permission};
use crate::error::{AppError, AppResult};
use crate::forms::FormFields;
use crate::layout::Layout;
use crate::state::AppState;
use crate::webhooks::replay::{
    check_since, left_out_note, parse_form_since, queued_summary, refusal_message, run, settle, Refusal, ReplayError,
    ReplayRequest,
};
use crate::webhooks::wizard;

/// `POST /webhooks/{id}/replay`: `since`, `only_failed`, and `action` = `check` (the default)
/// or `confirm` (with `events`, the count that was checked: a replay queues only if it is
/// still the count).
pub(super) async fn replay(
    State(state): State<AppState>,
    user: CurrentUser,
    layout: Layout,
    session: Session,
    headers: HeaderMap,
    Path(id): Path<String>,
    form: FormFields,
) -> AppResult<Response> {
    user.require(Permission::EditWebhooks)?;
    let w = find(&state, &user, &id).await?;
    let confirm = form.get("action") == "confirm";
    let only_failed = form.checked("only_failed");
    let mut panel = ReplayPanel::typed(&layout.csrf_token, form.get("since"), only_failed);
    let show = |panel: ReplayPanel, status: StatusCode| {
        let (state, headers, id) = (state.clone(), headers.clone(), id.clone());
        details_tab(
            state,
            user.clone(),
            layout.clone(),
            headers,
            id,
            Tab::Deliveries,
            TabQuery::default(),
            TabExtras {
                replay: Some(panel),
                status,
                ..TabExtras::default()
            },
        )
    };
    let since = match parse_form_since(form.get("since")) {
        Some(since) => since,
        None => {
            panel.since_error =
                Some("Enter the date and time to replay from, in UTC (such as 2026-12-01 10:00).".into());
            return show(panel, StatusCode::UNPROCESSABLE_ENTITY).await;
        }
    };
    if let Err(message) = check_since(since, Utc::now()) {
        panel.since_error = Some(message);
        return show(panel, StatusCode::UNPROCESSABLE_ENTITY).await;
    }
    let expect = if confirm {
        let checked = form.get("events").parse::<i64>().ok().filter(|n| *n >= 0);
        Some(checked.ok_or_else(|| {
            AppError::BadRequest(
                "This confirmation has no count of events: press Check again, then Confirm replay.".into(),
            )
        })?)
    } else {
        None
    };
    let request = ReplayRequest {
        since,
        only_failed,
        dry_run: !confirm,
        expect,
        settle: settle(&state.config.delivery),
    };
    let actor = crate::audit::Actor::from(&user);
    let replayed = match run(&state.pool, &user.account_id, (&w.id, &w.label), &request, &actor).await {
        Ok(replayed) => replayed,
        Err(ReplayError::Refused(Refusal::NotFound)) => return Err(AppError::NotFound),
        Err(ReplayError::Refused(Refusal::TooMany)) => {
            panel.since_error = Some(refusal_message(Refusal::TooMany, &since));
            return show(panel, StatusCode::UNPROCESSABLE_ENTITY).await;
        }
        Err(ReplayError::Refused(refusal)) => {
            panel.refusal = Some(refusal_message(refusal, &since));
            return show(panel, StatusCode::CONFLICT).await;
        }
        Err(ReplayError::Database(e)) => return Err(e.into()),
    };
    if !confirm {
        return show(panel.answered(&replayed, &since, false), StatusCode::OK).await;
    }
    if expect != Some(replayed.events) {
        // Calls were made (or removed) since the check: show the new count to confirm.
        return show(panel.answered(&replayed, &since, true), StatusCode::CONFLICT).await;
    }
    tracing::info!(webhook = %w.id, user = %user.id, since = %since, only_failed, queued = replayed.queued, "replay");
    let mut message = queued_summary(&replayed, &since);
    if let Some(note) = left_out_note(&replayed) {
        message = format!("{message} {note}");
    }
    flash(&session, FlashKind::Success, message).await?;
    Ok(wizard::redirect(&headers, &Tab::Deliveries.path(&w.id)))
}

/// `GET /webhooks/{id}/replay` (a Replay answer's address, reloaded or bookmarked): the
/// Deliveries tab, where the form is.
pub(super) async fn show_deliveries(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<String>,
) -> AppResult<axum::response::Redirect> {
    let w = find(&state, &user, &id).await?;
    Ok(axum::response::Redirect::to(&Tab::Deliveries.path(&w.id)))
}
