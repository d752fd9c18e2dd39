//! `/public/v1/requests`: the fulfillment request queue a handler pulls after a webhook call
//! (`GET /requests?status=pending&product_id=PRD-…`), and approve / fail, which are queue changes.

use axum::extract::{Path, RawQuery, State};
use axum::http::HeaderValue;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::Value;

use super::ApiError;
use crate::auth::Permission;
use crate::domain::ObjectClass;
use crate::ids::RequestId;
use crate::requests::store::ListError;
use crate::requests::{self, Request, RequestAction};
use crate::state::AppState;
use crate::tokens::ApiCaller;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/requests", get(list))
        .route("/requests/{id}", get(read))
        .route("/requests/{id}/approve", post(approve))
        .route("/requests/{id}/fail", post(fail))
}

/// The API shows fulfillment requests only.
const OBJECT_CLASS: ObjectClass = ObjectClass::FulfillmentRequest;

async fn list(State(state): State<AppState>, caller: ApiCaller, RawQuery(raw): RawQuery) -> Result<Response, ApiError> {
    let paging = super::Paging::from_query(raw.as_deref())?;
    let (total, rows) = requests::store::api_page(
        &state.pool,
        &caller.account_id,
        OBJECT_CLASS,
        &paging.filters,
        paging.limit,
        paging.offset,
    )
    .await
    .map_err(|e| match e {
        ListError::Filter(message) => ApiError::rql(message),
        ListError::Database(e) => e.into(),
    })?;
    let body: Vec<Value> = rows.iter().map(Request::api_json).collect();
    let mut response = Json(&body).into_response();
    if let Ok(v) = HeaderValue::from_str(&paging.content_range(body.len(), total)) {
        response.headers_mut().insert("content-range", v);
    }
    Ok(response)
}

async fn find(state: &AppState, caller: &ApiCaller, id: &str) -> Result<Request, ApiError> {
    let Some(request_id) = RequestId::parse(id) else {
        return Err(ApiError::not_found(id));
    };
    requests::get(&state.pool, &caller.account_id, &request_id)
        .await?
        .filter(|r| r.object_class == OBJECT_CLASS)
        .ok_or_else(|| ApiError::not_found(id))
}

async fn read(
    State(state): State<AppState>,
    caller: ApiCaller,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(find(&state, &caller, &id).await?.api_json()))
}

async fn transition(
    state: &AppState,
    caller: &ApiCaller,
    id: &str,
    action: RequestAction,
) -> Result<Json<Value>, ApiError> {
    crate::api::require(caller, Permission::EditWebhooks)?;
    let current = find(state, caller, id).await?;
    let Some(to) = requests::transition(action, current.status) else {
        return Err(ApiError::validation(vec![format!(
            "status: a {} request cannot become {}.",
            current.status,
            action.target()
        )]));
    };
    let updated = requests::set_status(&state.pool, &caller.account_id, &current.id, current.status, to)
        .await?
        .ok_or_else(|| {
            ApiError::validation(vec![format!(
                "status: {id} changed meanwhile; it is no longer {}.",
                current.status
            )])
        })?;
    tracing::info!(request = %id, status = %to, token = %caller.token_id, "request status changed through the API");
    Ok(Json(updated.api_json()))
}

async fn approve(
    State(state): State<AppState>,
    caller: ApiCaller,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    transition(&state, &caller, &id, RequestAction::Approve).await
}

async fn fail(
    State(state): State<AppState>,
    caller: ApiCaller,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    transition(&state, &caller, &id, RequestAction::Fail).await
}
