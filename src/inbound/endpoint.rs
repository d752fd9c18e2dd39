//! `POST|GET /hooks/in/{id}`: an outside system calls an inbound trigger. The call is checked
//! (enabled trigger, valid key, known query parameters, a body of any type within the
//! configured limit), stored as a message, and in the same transaction recorded as an event with its own trigger for every
//! webhook of the product and object class. Without request–response the caller gets 202 at
//! once; with it, the caller waits (up to the trigger's maximum) for the first handler's answer
//! and gets that answer back.

use std::sync::atomic::{AtomicUsize, Ordering};

use axum::body::{Body, Bytes};
use axum::extract::{Path, RawQuery, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Map, Value};

use super::answer::wait_for_answer;
use super::body::inline_text;
use super::query::{check_query_encoding, resolve_query};
use super::store;
use super::{find, key_hash, size_text, BodyFacts, InboundTrigger, BACKLOG_MAX, MESSAGE_MAX, WAITERS_MAX};
use crate::api::ApiError;
use crate::events;
use crate::ids::{AccountId, TriggerId};
use crate::state::AppState;
use crate::telemetry::InboundRefusal;

/// Marks the answers of [`refuse`]: calls that were not accepted, counted by their status.
#[derive(Clone, Copy)]
struct Refused;

/// A refusal, with the API's error body.
fn refuse(status: StatusCode, code: &'static str, message: impl Into<String>) -> Response {
    let mut response = ApiError {
        status,
        code,
        errors: vec![message.into()],
    }
    .into_response();
    if status == StatusCode::UNAUTHORIZED {
        response
            .headers_mut()
            .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("ApiKey"));
    }
    response.extensions_mut().insert(Refused);
    response
}

/// The key the caller presents: `X-Api-Key: <key>` or `Authorization: ApiKey|Bearer <key>`.
fn presented_key(headers: &HeaderMap) -> Option<&str> {
    if let Some(key) = headers.get("x-api-key").and_then(|v| v.to_str().ok()) {
        return Some(key.trim());
    }
    let auth = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, key) = auth.trim().split_once(' ')?;
    (scheme.eq_ignore_ascii_case("apikey") || scheme.eq_ignore_ascii_case("bearer")).then_some(key.trim())
}

/// A body past the limit is still read (and thrown away) up to this much beyond it, so that a
/// client that writes its whole body before reading the answer gets its 413, not a broken pipe.
const DRAIN_BEYOND: usize = 16 * 1024 * 1024;

/// The body, or `None` when it is over `max` bytes (read on and discarded up to
/// [`DRAIN_BEYOND`] past `max`).
async fn read_bounded(mut body: Body, max: usize) -> Result<Option<Bytes>, axum::Error> {
    use http_body_util::BodyExt;
    let drain = max.saturating_add(DRAIN_BEYOND);
    let mut kept = Vec::new();
    let mut total = 0usize;
    while let Some(frame) = body.frame().await {
        if let Ok(data) = frame?.into_data() {
            total = total.saturating_add(data.len());
            if total <= max {
                kept.extend_from_slice(&data);
            } else if total > drain {
                break;
            } else if !kept.is_empty() {
                kept = Vec::new();
            }
        }
    }
    Ok((total <= max).then(|| Bytes::from(kept)))
}

pub async fn receive(
    State(state): State<AppState>,
    Path(id): Path<String>,
    method: Method,
    headers: HeaderMap,
    RawQuery(raw_query): RawQuery,
    body: Body,
) -> Response {
    let trigger = match TriggerId::parse(&id) {
        Some(trigger_id) => find(&state.pool, &trigger_id).await,
        None => Ok(None),
    };
    respond(&state, &id, trigger, method, &headers, raw_query.as_deref(), body).await
}

/// `/hooks/in/{account}/{name}`: the same call, by the trigger's readable URL.
pub async fn receive_named(
    State(state): State<AppState>,
    Path((account, name)): Path<(String, String)>,
    method: Method,
    headers: HeaderMap,
    RawQuery(raw_query): RawQuery,
    body: Body,
) -> Response {
    let trigger = match AccountId::parse(&account) {
        Some(account_id) => store::find_named(&state.pool, &account_id, &name).await,
        None => Ok(None),
    };
    let shown = format!("{account}/{name}");
    respond(&state, &shown, trigger, method, &headers, raw_query.as_deref(), body).await
}

async fn respond(
    state: &AppState,
    id: &str,
    trigger: Result<Option<InboundTrigger>, sqlx::Error>,
    method: Method,
    headers: &HeaderMap,
    raw_query: Option<&str>,
    body: Body,
) -> Response {
    let handled = match trigger {
        Ok(trigger) => handle(state, id, trigger, method, headers, raw_query, body).await,
        Err(e) => Err(e),
    };
    match handled {
        Ok(response) => {
            if let Some(reason) = response
                .extensions()
                .get::<Refused>()
                .and_then(|_| InboundRefusal::of_status(response.status().as_u16()))
            {
                state.telemetry.inbound_refused(reason);
            }
            response
        }
        Err(e) if crate::error::is_unavailable(&e) => {
            tracing::warn!(trigger = %id, error = %e, "inbound call refused: database unavailable");
            state.telemetry.inbound_refused(InboundRefusal::Error);
            ApiError::from(e).into_response()
        }
        Err(e) => {
            tracing::error!(trigger = %id, error = %e, "inbound call failed");
            state.telemetry.inbound_refused(InboundRefusal::Error);
            refuse(
                StatusCode::INTERNAL_SERVER_ERROR,
                "INB_500",
                "The call could not be recorded; nothing was delivered. Try again.",
            )
        }
    }
}

/// Any method but GET and POST (PUT, DELETE, …): 405 in the API's shape.
pub async fn wrong_method(State(state): State<AppState>) -> Response {
    state.telemetry.inbound_refused(InboundRefusal::Invalid);
    method_not_allowed()
}

fn method_not_allowed() -> Response {
    let mut r = refuse(
        StatusCode::METHOD_NOT_ALLOWED,
        "VAL_004",
        "Call an inbound trigger with POST or GET.",
    );
    r.headers_mut()
        .insert(header::ALLOW, HeaderValue::from_static("GET, POST"));
    r
}

async fn handle(
    state: &AppState,
    id: &str,
    trigger: Option<InboundTrigger>,
    method: Method,
    headers: &HeaderMap,
    raw_query: Option<&str>,
    body: Body,
) -> Result<Response, sqlx::Error> {
    if method != Method::GET && method != Method::POST {
        // HEAD would otherwise reach the GET route and fire the webhooks.
        return Ok(method_not_allowed());
    }
    let not_found = || {
        refuse(
            StatusCode::NOT_FOUND,
            "NFND_000",
            format!("Inbound trigger `{id}` not found or disabled."),
        )
    };
    let Some(trigger) = trigger.filter(|t| t.active) else {
        return Ok(not_found());
    };
    // An open trigger takes calls without a key; a key that is sent must still be valid.
    let key_id = match presented_key(headers).filter(|k| !k.is_empty()) {
        None if trigger.open => None,
        None => {
            return Ok(refuse(
                StatusCode::UNAUTHORIZED,
                "AUTH_001",
                "Send the trigger's API key as `X-Api-Key: <key>` or `Authorization: ApiKey <key>`.",
            ))
        }
        Some(key) => match store::use_key(&state.pool, &trigger.id, &key_hash(key)).await? {
            Some(key_id) => Some(key_id),
            None => {
                return Ok(refuse(
                    StatusCode::UNAUTHORIZED,
                    "AUTH_001",
                    "The API key is not valid for this trigger.",
                ))
            }
        },
    };
    if let Err(message) = check_query_encoding(raw_query.unwrap_or("")) {
        return Ok(refuse(StatusCode::BAD_REQUEST, "VAL_001", message));
    }
    let query = match resolve_query(&trigger, raw_query) {
        Ok(q) => q,
        Err(message) => return Ok(refuse(StatusCode::BAD_REQUEST, "VAL_001", message)),
    };
    let limit = state.config.inbound_body_max;
    let bytes: Bytes = match read_bounded(body, limit).await {
        Ok(Some(b)) => b,
        Ok(None) => {
            return Ok(refuse(
                StatusCode::PAYLOAD_TOO_LARGE,
                "VAL_002",
                format!(
                    "The body is larger than the limit of {limit} bytes ({}).",
                    size_text(limit as u64)
                ),
            ))
        }
        Err(_) => {
            return Ok(refuse(
                StatusCode::BAD_REQUEST,
                "VAL_002",
                "The body could not be read to its end.",
            ))
        }
    };
    // The query always travels in the signed call; a small text body too, when both fit.
    let encoded = |body: Option<&str>| json!({"query": query, "body": body}).to_string().len();
    let query_only = encoded(None);
    if query_only > MESSAGE_MAX {
        return Ok(refuse(
            StatusCode::PAYLOAD_TOO_LARGE,
            "VAL_002",
            format!(
                "The query parameters are {query_only} bytes encoded; at most {MESSAGE_MAX} travel in the signed call."
            ),
        ));
    }
    let facts = BodyFacts::of(&bytes);
    let inline = inline_text(&bytes, &facts).filter(|text| encoded(Some(text)) <= MESSAGE_MAX);

    // A handler that is down must not make the queue grow without bound. Messages are
    // counted, not message × webhook deliveries.
    let waiting = store::backlog(&state.pool, &trigger.id, BACKLOG_MAX).await?;
    if waiting >= BACKLOG_MAX {
        let mut r = refuse(
            StatusCode::SERVICE_UNAVAILABLE,
            "INB_503",
            format!("{BACKLOG_MAX} messages of this trigger are waiting for delivery; try again later."),
        );
        r.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static("60"));
        return Ok(r);
    }
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| v.chars().take(200).collect::<String>());

    let body = ReceivedBody {
        bytes: &bytes,
        facts: &facts,
        inline,
    };
    let (message_id, delivering) = record(state, &trigger, key_id, &method, query, content_type, body).await?;
    state.telemetry.inbound_accepted();
    tracing::info!(trigger = %trigger.id, message = message_id, webhooks = delivering, "inbound message accepted");
    if !trigger.request_response || delivering == 0 {
        let note = if delivering == 0 {
            "No enabled webhook watches this product and object class: the message is recorded, nothing is called."
        } else {
            "Accepted: the webhooks are called."
        };
        return Ok((
            StatusCode::ACCEPTED,
            axum::Json(json!({"message_id": message_id, "webhooks": delivering, "status": "accepted", "detail": note})),
        )
            .into_response());
    }
    // Bounded: each waiting caller holds a request and polls the database.
    static WAITING: AtomicUsize = AtomicUsize::new(0);
    if WAITING.fetch_add(1, Ordering::SeqCst) >= WAITERS_MAX {
        WAITING.fetch_sub(1, Ordering::SeqCst);
        return Ok((
            StatusCode::ACCEPTED,
            axum::Json(
                json!({"message_id": message_id, "webhooks": delivering, "status": "accepted",
                              "detail": "Too many callers are waiting for answers: accepted without waiting."}),
            ),
        )
            .into_response());
    }
    // Released also when the caller hangs up and this future is dropped.
    struct Waiting;
    impl Drop for Waiting {
        fn drop(&mut self) {
            WAITING.fetch_sub(1, Ordering::SeqCst);
        }
    }
    let _waiting = Waiting;
    wait_for_answer(state, &trigger, message_id).await
}

/// The body of an accepted call: its bytes, what they are, and the text the call carries inline.
struct ReceivedBody<'a> {
    bytes: &'a [u8],
    facts: &'a BodyFacts,
    inline: Option<String>,
}

/// Stores the message and records its event (with a trigger of its own) for every webhook of
/// the product and class, in one transaction. Returns the message id and how many enabled
/// webhooks will be called.
async fn record(
    state: &AppState,
    trigger: &InboundTrigger,
    key_id: Option<i64>,
    method: &Method,
    query: Map<String, Value>,
    content_type: Option<String>,
    body: ReceivedBody<'_>,
) -> Result<(i64, i32), sqlx::Error> {
    let mut tx = state.pool.begin().await?;
    let message = store::NewMessage {
        trigger_id: &trigger.id,
        account_id: &trigger.account_id,
        key_id,
        method: method.as_str(),
        query: Value::Object(query),
        content_type,
        body: body.bytes,
        facts: body.facts,
        inline: body.inline,
    };
    let message_id = store::insert_message(&mut tx, &message).await?;
    let hooks =
        events::webhooks_watching(&mut tx, &trigger.account_id, &trigger.product_id, trigger.object_class).await?;
    let mut delivering = 0;
    for hook in hooks {
        if events::record_message(&mut tx, &hook, message_id, trigger.ordered).await? == events::Outcome::Scheduled {
            delivering += 1;
        }
    }
    store::set_message_webhooks(&mut tx, message_id, delivering).await?;
    tx.commit().await?;
    Ok((message_id, delivering))
}
