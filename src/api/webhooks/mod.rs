//! `/public/v1/notifications/webhooks`: the webhooks resource, with the object shape,
//! filters, paging and errors of the platform API. The object's JSON is built in [`json`],
//! request bodies are read in [`body`].

mod body;
mod json;

use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{json, Value};
use sqlx::{Postgres, QueryBuilder};

use self::body::{object, read_fields, validate};
use self::json::{attempt_infos, render_one, to_json};
use super::rql::{self, Field};
use super::ApiError;
use crate::state::AppState;
use crate::tokens::ApiCaller;
use crate::webhooks::model::{self, HttpMethod, WebhookType};
use crate::webhooks::store::{self, NewWebhook, Webhook};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/notifications/webhooks", get(list).post(create))
        .route("/notifications/webhooks/{id}", get(read).put(update).delete(delete))
        .route("/notifications/webhooks/{id}/trigger", post(trigger))
}

fn field(name: &str) -> Option<Field> {
    let (sql, boolean) = match name {
        "id" => ("w.id", false),
        "label" => ("w.label", false),
        "description" => ("w.description", false),
        "active" => ("w.active", true),
        "type" => ("w.type", false),
        "object_class" => ("w.object_class", false),
        "product.id" => ("w.product_id", false),
        "product.name" => ("p.name", false),
        "external_url" => ("w.external_url", false),
        "http_method" => ("w.http_method", false),
        _ => return None,
    };
    Some(Field { sql, boolean })
}

fn order_field(name: &str) -> Option<&'static str> {
    match name {
        "created_at" => Some("w.created_at"),
        "modified_at" => Some("w.modified_at"),
        "label" => Some("w.label"),
        "active" => Some("w.active"),
        "type" => Some("w.type"),
        "id" => Some("w.id"),
        _ => None,
    }
}

async fn find(state: &AppState, caller: &ApiCaller, id: &str) -> Result<Webhook, ApiError> {
    if !crate::ids::has_shape(id, "WH", 3) {
        return Err(ApiError::not_found(id));
    }
    store::get(&state.pool, &caller.account_id, id)
        .await?
        .ok_or_else(|| ApiError::not_found(id))
}

/// `GET …/webhooks?<rql>&limit=&offset=&search=`
async fn list(State(state): State<AppState>, caller: ApiCaller, RawQuery(raw): RawQuery) -> Result<Response, ApiError> {
    let super::Paging {
        limit,
        offset,
        search,
        ordering,
        filters,
    } = super::Paging::from_query(raw.as_deref())?;
    let push_where = |q: &mut QueryBuilder<'_, Postgres>| -> Result<(), ApiError> {
        q.push(" where w.account_id = ").push_bind(caller.account_id.clone());
        for f in &filters {
            q.push(" and ");
            rql::push_filter(q, f, field).map_err(ApiError::rql)?;
        }
        if let Some(s) = &search {
            let pattern = format!("%{}%", crate::db::escape_like(s));
            q.push(" and (w.label ilike ")
                .push_bind(pattern.clone())
                .push(" or w.id ilike ")
                .push_bind(pattern)
                .push(")");
        }
        Ok(())
    };

    let mut count: QueryBuilder<Postgres> =
        QueryBuilder::new("select count(*) from webhooks w join products p on p.id = w.product_id");
    push_where(&mut count)?;
    let total: i64 = count.build_query_scalar().fetch_one(&state.pool).await?;

    let mut rows: Vec<Webhook> = Vec::new();
    if limit > 0 {
        let mut q: QueryBuilder<Postgres> = QueryBuilder::new(store::SELECT);
        push_where(&mut q)?;
        q.push(" order by ");
        for o in &ordering {
            let (desc, name) = match o.strip_prefix('-') {
                Some(n) => (true, n),
                None => (false, o.trim_start_matches('+')),
            };
            let col = order_field(name).ok_or_else(|| ApiError::rql(format!("cannot order by {name}")))?;
            q.push(col).push(if desc { " desc, " } else { " asc, " });
        }
        q.push("w.created_at desc, w.id desc limit ")
            .push_bind(limit)
            .push(" offset ")
            .push_bind(offset);
        rows = q.build_query_as().fetch_all(&state.pool).await?;
    }
    let attempts = attempt_infos(&state, &rows).await?;
    let api_url = state.config.api_url();
    let body: Vec<Value> = rows.iter().map(|w| to_json(w, &caller, &api_url, &attempts)).collect();
    let mut response = Json(body).into_response();
    if let Ok(v) = HeaderValue::from_str(&super::content_range(offset, rows.len(), total)) {
        response.headers_mut().insert("content-range", v);
    }
    Ok(response)
}

async fn read(
    State(state): State<AppState>,
    caller: ApiCaller,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let w = find(&state, &caller, &id).await?;
    Ok(Json(render_one(&state, &caller, &w).await?))
}

async fn create(
    State(state): State<AppState>,
    caller: ApiCaller,
    body: axum::body::Bytes,
) -> Result<Response, ApiError> {
    let m = object(&body)?;
    let mut errors = Vec::new();
    let f = read_fields(&m, &mut errors);
    let text = |k: &str| m.get(k).and_then(Value::as_str).unwrap_or_default().to_string();
    let (object_class, api_type, product_id) = (
        text("object_class"),
        m.get("type").and_then(Value::as_str).unwrap_or("event").to_string(),
        text("product_id"),
    );
    for (key, value) in [("object_class", &object_class), ("product_id", &product_id)] {
        if value.is_empty() {
            errors.push(format!("{key}: this field is required."));
        }
    }
    for key in ["label", "external_url"] {
        if !m.contains_key(key) {
            errors.push(format!("{key}: this field is required."));
        }
    }
    let products = store::products_for_account(&state.pool, &caller.account_id, caller.account_kind).await?;
    let product = products.iter().find(|p| p.id == product_id);
    if !product_id.is_empty() && product.is_none() {
        errors.push(format!("product_id: {product_id} is not a product of this account."));
    }
    let webhook_type = WebhookType::from_api(&object_class, &api_type);
    match webhook_type {
        None if !object_class.is_empty() => errors.push(format!(
            "type: {api_type} is not a webhook type for object class {object_class}."
        )),
        Some(t) => {
            if let Some(reason) = t.unavailable_reason(
                caller.account_kind,
                &product.map(|p| p.capabilities.clone()).unwrap_or_default(),
            ) {
                errors.push(format!("type: {} is not available: {reason}", t.label()));
            }
        }
        None => {}
    }
    let label = f.label.clone().unwrap_or_default();
    let description = f.description.clone().unwrap_or_default();
    let url = f.external_url.clone().unwrap_or_default();
    let secret = f.jwt_secret.clone().unwrap_or_else(model::generate_secret);
    let method = f.http_method.clone().unwrap_or_else(|| "POST".into());
    let headers = f.headers.clone().unwrap_or_default();
    validate(&label, &description, &url, &secret, &method, &headers, &mut errors);
    let (Some(webhook_type), true) = (webhook_type, errors.is_empty()) else {
        return Err(ApiError::validation(errors));
    };
    let new = NewWebhook {
        product_id,
        webhook_type,
        label,
        description,
        active: f.active.unwrap_or(false),
        external_url: url,
        jwt_secret: secret,
        http_method: HttpMethod::parse(&method).unwrap_or(HttpMethod::Post),
        headers,
        data: f.data.unwrap_or_default(),
        rate_limit: f.rate_limit.flatten(),
    };
    let id = store::insert_for(&state.pool, &caller.account_id, None, &new).await?;
    tracing::info!(webhook = %id, token = %caller.token_id, "webhook created through the API");
    let w = find(&state, &caller, &id).await?;
    Ok((StatusCode::CREATED, Json(render_one(&state, &caller, &w).await?)).into_response())
}

/// PUT merges: fields left out keep their values (as real clients send partial bodies).
async fn update(
    State(state): State<AppState>,
    caller: ApiCaller,
    Path(id): Path<String>,
    body: axum::body::Bytes,
) -> Result<Json<Value>, ApiError> {
    let w = find(&state, &caller, &id).await?;
    let m = object(&body)?;
    let mut errors = Vec::new();
    let f = read_fields(&m, &mut errors);
    for (key, current) in [
        ("object_class", &w.object_class),
        ("type", &w.api_type),
        ("product_id", &w.product_id),
    ] {
        if let Some(v) = m.get(key) {
            if v.as_str() != Some(current.as_str()) {
                errors.push(format!("{key}: cannot be changed after creation."));
            }
        }
    }
    let label = f.label.unwrap_or(w.label.clone());
    let description = f.description.unwrap_or(w.description.clone());
    let url = f.external_url.unwrap_or(w.external_url.clone());
    let secret = f.jwt_secret.unwrap_or(w.jwt_secret.clone());
    let method = f.http_method.unwrap_or(w.http_method.clone());
    let headers = f.headers.unwrap_or(w.headers.0.clone());
    let data = f.data.map(Value::Object).unwrap_or(w.data.0.clone());
    let active = f.active.unwrap_or(w.active);
    let rate_limit = f.rate_limit.unwrap_or(w.rate_limit);
    validate(&label, &description, &url, &secret, &method, &headers, &mut errors);
    if !errors.is_empty() {
        return Err(ApiError::validation(errors));
    }
    let update = store::WholeUpdate {
        label: &label,
        description: &description,
        active,
        http: store::HttpSettings {
            external_url: &url,
            jwt_secret: &secret,
            method: HttpMethod::parse(&method).unwrap_or(HttpMethod::Post),
            headers: &headers,
            rate_limit,
        },
        data: &data,
    };
    store::update_whole(&state.pool, &caller.account_id, &id, &update).await?;
    tracing::info!(webhook = %id, token = %caller.token_id, "webhook updated through the API");
    let w = find(&state, &caller, &id).await?;
    Ok(Json(render_one(&state, &caller, &w).await?))
}

async fn delete(
    State(state): State<AppState>,
    caller: ApiCaller,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    find(&state, &caller, &id).await?;
    store::delete(&state.pool, &caller.account_id, &id).await?;
    tracing::info!(webhook = %id, token = %caller.token_id, "webhook deleted through the API");
    Ok(StatusCode::NO_CONTENT)
}

/// Like Trigger now: records an event and calls at once (unless disabled).
async fn trigger(
    State(state): State<AppState>,
    caller: ApiCaller,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    find(&state, &caller, &id).await?;
    let mut tx = state.pool.begin().await?;
    let outcome = crate::events::record(&mut tx, &id, crate::events::Source::TriggerNow, None).await?;
    tx.commit().await?;
    let status = match outcome {
        crate::events::Outcome::Scheduled => "scheduled",
        crate::events::Outcome::RecordedDisabled => "recorded_disabled",
        crate::events::Outcome::RecordedOutOfOrder => "recorded_out_of_order",
    };
    Ok(Json(json!({"id": id, "status": status})))
}
