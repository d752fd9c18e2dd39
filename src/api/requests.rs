//! `/public/v1/requests`: the fulfillment request queue a handler pulls after a webhook call
//! (`GET /requests?status=pending&product_id=PRD-…`), and approve / fail, which are queue changes.

use axum::extract::{Path, RawQuery, State};
use axum::http::HeaderValue;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::Value;
use sqlx::{Postgres, QueryBuilder};

use super::rql::{self, Field};
use super::ApiError;
use crate::requests::{self, Request};
use crate::state::AppState;
use crate::tokens::ApiCaller;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/requests", get(list))
        .route("/requests/{id}", get(read))
        .route("/requests/{id}/approve", post(approve))
        .route("/requests/{id}/fail", post(fail))
}

const OBJECT_CLASS: &str = "fulfillment_request";

fn field(name: &str) -> Option<Field> {
    let sql = match name {
        "id" => "id",
        "status" => "status",
        "type" => "kind",
        "product_id" | "product.id" | "asset.product.id" => "product_id",
        _ => return None,
    };
    Some(Field { sql, boolean: false })
}

async fn list(State(state): State<AppState>, caller: ApiCaller, RawQuery(raw): RawQuery) -> Result<Response, ApiError> {
    let paging = super::Paging::from_query(raw.as_deref())?;
    let push_where = |q: &mut QueryBuilder<'_, Postgres>| -> Result<(), ApiError> {
        q.push(" where account_id = ").push_bind(caller.account_id.clone());
        q.push(" and object_class = ").push_bind(OBJECT_CLASS);
        for f in &paging.filters {
            q.push(" and ");
            rql::push_filter(q, f, field).map_err(ApiError::rql)?;
        }
        Ok(())
    };
    let mut count: QueryBuilder<Postgres> = QueryBuilder::new("select count(*) from requests");
    push_where(&mut count)?;
    let total: i64 = count.build_query_scalar().fetch_one(&state.pool).await?;
    let mut q: QueryBuilder<Postgres> = QueryBuilder::new(format!("select {} from requests", requests::COLUMNS));
    push_where(&mut q)?;
    q.push(" order by created_at, id limit ")
        .push_bind(paging.limit)
        .push(" offset ")
        .push_bind(paging.offset);
    let rows: Vec<Request> = if paging.limit > 0 {
        q.build_query_as().fetch_all(&state.pool).await?
    } else {
        Vec::new()
    };
    let body: Vec<Value> = rows.iter().map(Request::api_json).collect();
    let mut response = Json(&body).into_response();
    if let Ok(v) = HeaderValue::from_str(&paging.content_range(body.len(), total)) {
        response.headers_mut().insert("content-range", v);
    }
    Ok(response)
}

async fn find(state: &AppState, caller: &ApiCaller, id: &str) -> Result<Request, ApiError> {
    if !crate::ids::has_shape(id, "PR", 3) {
        return Err(ApiError::not_found(id));
    }
    requests::get(&state.pool, &caller.account_id, id)
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
    action: &str,
    to: &str,
) -> Result<Json<Value>, ApiError> {
    let current = find(state, caller, id).await?;
    if requests::transition(action, &current.status).is_none() {
        return Err(ApiError::validation(vec![format!(
            "status: a {} request cannot become {to}.",
            current.status
        )]));
    }
    let updated = requests::set_status(&state.pool, &caller.account_id, id, &current.status, to)
        .await?
        .ok_or_else(|| {
            ApiError::validation(vec![format!(
                "status: {id} changed meanwhile; it is no longer {}.",
                current.status
            )])
        })?;
    tracing::info!(request = %id, status = to, token = %caller.token_id, "request status changed through the API");
    Ok(Json(updated.api_json()))
}

async fn approve(
    State(state): State<AppState>,
    caller: ApiCaller,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    transition(&state, &caller, &id, "approve", "approved").await
}

async fn fail(
    State(state): State<AppState>,
    caller: ApiCaller,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    transition(&state, &caller, &id, "fail", "failed").await
}
