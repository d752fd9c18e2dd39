//! `/public/v1/notifications/webhooks`: the webhooks resource, with the object shape,
//! filters, paging and errors of the platform API. The object's JSON is built in [`json`],
//! request bodies are read in [`body`]; [`replay`] sends a webhook's deliveries again.

mod body;
mod json;
mod replay;

use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{json, Value};

use self::body::{object, read_fields, validate};
use self::json::{attempt_infos, render_one, to_json};
use super::ApiError;
use crate::audit::Action;
use crate::auth::Permission;
use crate::domain::PayloadFormat;
use crate::ids::WebhookId;
use crate::state::AppState;
use crate::tokens::ApiCaller;
use crate::webhooks::model::{self, HttpMethod, ObjectClass, WebhookType};
use crate::webhooks::store::{self, NewWebhook, Webhook};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/notifications/webhooks", get(list).post(create))
        .route("/notifications/webhooks/{id}", get(read).put(update).delete(delete))
        .route("/notifications/webhooks/{id}/trigger", post(trigger))
        .route("/notifications/webhooks/{id}/replay", post(replay::replay))
}

async fn find(state: &AppState, caller: &ApiCaller, id: &str) -> Result<Webhook, ApiError> {
    let Some(webhook_id) = WebhookId::parse(id) else {
        return Err(ApiError::not_found(id));
    };
    store::get(&state.pool, &caller.account_id, &webhook_id)
        .await?
        .ok_or_else(|| ApiError::not_found(id))
}

/// A read that answers secrets in clear (to a token that may edit webhooks) is a reveal:
/// one audit record per webhook shown.
async fn record_secrets_read(state: &AppState, caller: &ApiCaller, rows: &[Webhook]) -> Result<(), ApiError> {
    if !caller.can(Permission::EditWebhooks) || rows.is_empty() {
        return Ok(());
    }
    let entries: Vec<crate::audit::Entry> = rows
        .iter()
        .map(|w| {
            crate::audit::Entry::new(
                Action::SecretRevealed,
                crate::audit::Object::new(crate::audit::ObjectKind::Webhook, &w.id, &w.label),
            )
            .with_detail(format!("Read through the API (key {}).", w.jwt_kid))
        })
        .collect();
    crate::audit::store::record_many(&state.pool, &caller.account_id, &crate::api::actor(caller), &entries).await?;
    Ok(())
}

/// `GET …/webhooks?<rql>&limit=&offset=&search=`
async fn list(State(state): State<AppState>, caller: ApiCaller, RawQuery(raw): RawQuery) -> Result<Response, ApiError> {
    let super::Paging {
        limit,
        offset,
        search,
        ordering,
        filters,
        after,
    } = super::Paging::from_query(raw.as_deref())?;
    let after = match after.as_deref() {
        None => None,
        Some(_) if !ordering.is_empty() => {
            return Err(ApiError::validation(vec![
                "after: a cursor pages the default order only, not ordering()".into(),
            ]))
        }
        Some(raw) => Some(
            store::Cursor::decode(raw)
                .ok_or_else(|| ApiError::validation(vec![format!("after: {raw} is not a cursor of this list")]))?,
        ),
    };
    let query = store::ApiQuery {
        filters: &filters,
        search: search.as_deref(),
        ordering: &ordering,
        limit,
        offset,
        after: after.as_ref(),
    };
    let (rows, total) = store::api_list(&state.pool, &caller.account_id, &query)
        .await
        .map_err(|e| match e {
            store::ApiQueryError::Query(message) => ApiError::rql(message),
            store::ApiQueryError::Database(e) => e.into(),
        })?;
    let attempts = attempt_infos(&state, &rows).await?;
    let api_url = state.config.api_url();
    let body: Vec<Value> = rows.iter().map(|w| to_json(w, &caller, &api_url, &attempts)).collect();
    record_secrets_read(&state, &caller, &rows).await?;
    let mut response = Json(body).into_response();
    // Offset paging as the platform (Content-Range); a cursor page has no offset to state.
    if let Some(total) = total {
        if let Ok(v) = HeaderValue::from_str(&super::content_range(offset, rows.len(), total)) {
            response.headers_mut().insert("content-range", v);
        }
    }
    // Beside it, a cursor to the next page in the default order: deep pages cost no more
    // than the first.
    let full_page = limit > 0 && rows.len() as i64 == limit;
    if let (true, true, Some(last)) = (ordering.is_empty(), full_page, rows.last()) {
        let cursor = store::Cursor {
            created_at: last.created_at,
            id: last.id.clone(),
        };
        let kept = raw
            .as_deref()
            .unwrap_or("")
            .split('&')
            .filter(|p| !p.is_empty() && !p.starts_with("offset=") && !p.starts_with("after="));
        let next: Vec<String> = kept
            .map(str::to_string)
            .chain([format!("after={}", cursor.encode())])
            .collect();
        let link = format!("<{api_url}notifications/webhooks?{}>; rel=\"next\"", next.join("&"));
        if let Ok(v) = HeaderValue::from_str(&link) {
            response.headers_mut().insert("link", v);
        }
    }
    Ok(response)
}

async fn read(
    State(state): State<AppState>,
    caller: ApiCaller,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let w = find(&state, &caller, &id).await?;
    record_secrets_read(&state, &caller, std::slice::from_ref(&w)).await?;
    Ok(Json(render_one(&state, &caller, &w).await?))
}

async fn create(
    State(state): State<AppState>,
    caller: ApiCaller,
    body: axum::body::Bytes,
) -> Result<Response, ApiError> {
    crate::api::require(&caller, Permission::CreateWebhooks)?;
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
    let webhook_type = ObjectClass::parse(&object_class).and_then(|class| WebhookType::from_api(class, &api_type));
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
    let (Some(product), Some(webhook_type), true) = (product, webhook_type, errors.is_empty()) else {
        return Err(ApiError::validation(errors));
    };
    let new = NewWebhook {
        product_id: product.id.clone(),
        webhook_type,
        label,
        description,
        active: f.active.unwrap_or(false),
        external_url: url,
        jwt_secret: secret,
        http_method: HttpMethod::parse(&method).unwrap_or(HttpMethod::Post),
        payload_format: f.payload_format.unwrap_or(PayloadFormat::Json),
        md5_wrap: f.md5_wrap.unwrap_or(false),
        headers,
        data: f.data.unwrap_or_default(),
        rate_limit: f.rate_limit.flatten(),
    };
    let mut tx = state.pool.begin().await?;
    let id = store::insert_for(&mut tx, &caller.account_id, None, &new).await?;
    store::audited::record_created(&mut tx, &caller.account_id, &crate::api::actor(&caller), &id).await?;
    tx.commit().await?;
    tracing::info!(webhook = %id, token = %caller.token_id, "webhook created through the API");
    let w = find(&state, &caller, id.as_str()).await?;
    Ok((StatusCode::CREATED, Json(render_one(&state, &caller, &w).await?)).into_response())
}

/// PUT merges: fields left out keep their values (as real clients send partial bodies).
async fn update(
    State(state): State<AppState>,
    caller: ApiCaller,
    Path(id): Path<String>,
    body: axum::body::Bytes,
) -> Result<Json<Value>, ApiError> {
    crate::api::require(&caller, Permission::EditWebhooks)?;
    let w = find(&state, &caller, &id).await?;
    let m = object(&body)?;
    let mut errors = Vec::new();
    let f = read_fields(&m, &mut errors);
    for (key, current) in [
        ("object_class", w.object_class.as_str()),
        ("type", w.api_type.as_str()),
        ("product_id", w.product_id.as_str()),
    ] {
        if let Some(v) = m.get(key) {
            if v.as_str() != Some(current) {
                errors.push(format!("{key}: cannot be changed after creation."));
            }
        }
    }
    let label = f.label.unwrap_or(w.label.clone());
    let description = f.description.unwrap_or(w.description.clone());
    let url = f.external_url.unwrap_or(w.external_url.clone());
    let secret = f.jwt_secret.unwrap_or(w.jwt_secret.clone());
    let method = f.http_method.unwrap_or_else(|| w.http_method.as_str().to_string());
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
            payload_format: f.payload_format.unwrap_or(w.payload_format),
            md5_wrap: f.md5_wrap.unwrap_or(w.md5_wrap),
            headers: &headers,
            rate_limit,
        },
        data: &data,
    };
    let mut change = store::audited::AuditedChange::begin(&state.pool, &caller.account_id, &w.id).await?;
    store::update_whole(change.conn(), &caller.account_id, &w.id, &update).await?;
    change
        .commit(&crate::api::actor(&caller), Action::WebhookUpdated, "")
        .await?;
    tracing::info!(webhook = %id, token = %caller.token_id, "webhook updated through the API");
    let w = find(&state, &caller, &id).await?;
    Ok(Json(render_one(&state, &caller, &w).await?))
}

async fn delete(
    State(state): State<AppState>,
    caller: ApiCaller,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    crate::api::require(&caller, Permission::DeleteWebhooks)?;
    let w = find(&state, &caller, &id).await?;
    let mut change = store::audited::AuditedChange::begin(&state.pool, &caller.account_id, &w.id).await?;
    store::delete(change.conn(), &caller.account_id, &w.id).await?;
    change
        .commit(&crate::api::actor(&caller), Action::WebhookDeleted, "")
        .await?;
    tracing::info!(webhook = %id, token = %caller.token_id, "webhook deleted through the API");
    Ok(StatusCode::NO_CONTENT)
}

/// Like Trigger now: records an event and calls at once (unless disabled).
async fn trigger(
    State(state): State<AppState>,
    caller: ApiCaller,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    crate::api::require(&caller, Permission::EditWebhooks)?;
    let w = find(&state, &caller, &id).await?;
    let mut tx = state.pool.begin().await?;
    let outcome = crate::events::record(&mut tx, &w.id, crate::events::Source::TriggerNow, None).await?;
    let actor = crate::api::actor(&caller);
    store::audited::record_action(
        &mut *tx,
        &caller.account_id,
        &actor,
        &w.id,
        &w.label,
        Action::WebhookTriggered,
        "",
    )
    .await?;
    tx.commit().await?;
    let status = match outcome {
        crate::events::Outcome::Scheduled => "scheduled",
        crate::events::Outcome::RecordedDisabled => "recorded_disabled",
        crate::events::Outcome::RecordedOutOfOrder => "recorded_out_of_order",
    };
    Ok(Json(json!({"id": id, "status": status})))
}
