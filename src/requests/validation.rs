//! Validation webhooks are request–response (DESIGN §5.4): a draft purchase, change or tier
//! configuration request (or the inquiring form of one) is sent synchronously to the product's
//! matching validation webhook, which answers 200 with the request object, its parameters
//! carrying new values and `value_error`s. The call is recorded as an attempt of the webhook
//! (and counted in its statistics) whatever happens; the outcome is kept on the request.

use chrono::Utc;
use serde_json::{json, Value};
use sqlx::types::Json;

use super::{Param, Request, RequestKind, RequestStatus};
use crate::delivery::http::CallResult;
use crate::delivery::payload::timestamp;
use crate::delivery::request::{CallSettings, Request as CallRequest};
use crate::delivery::store::{record_validation_call, SentRequest};
use crate::domain::{HttpMethod, ObjectClass};
use crate::events::{self, Source};
use crate::state::AppState;
use crate::webhooks::model::WebhookType;
use crate::webhooks::store::{self as webhook_store, Webhook};

/// Longest parameter value and error message taken from an answer.
const VALUE_MAX: usize = 1000;
const ERROR_MAX: usize = 500;
/// The admin waits for the answer: at most this long (and never beyond the request timeout).
const VALIDATION_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    Draft,
    Inquiring,
}

impl Stage {
    pub fn as_str(self) -> &'static str {
        match self {
            Stage::Draft => "draft",
            Stage::Inquiring => "inquiring",
        }
    }

    /// The status a request has at this stage.
    pub fn status(self) -> RequestStatus {
        match self {
            Stage::Draft => RequestStatus::Draft,
            Stage::Inquiring => RequestStatus::Inquiring,
        }
    }
}

/// The webhook type that validates `kind` at `stage`.
pub fn validator_type(kind: RequestKind, stage: Stage) -> Option<WebhookType> {
    use ObjectClass::{FulfillmentRequest, TierConfigRequest};
    use WebhookType::*;
    Some(match (kind.object_class, kind.kind, kind.tier_level, stage) {
        (FulfillmentRequest, "purchase", None, Stage::Draft) => PurchaseRequestDraftValidation,
        (FulfillmentRequest, "purchase", None, Stage::Inquiring) => PurchaseRequestInquiringValidation,
        (FulfillmentRequest, "change", None, Stage::Draft) => ChangeRequestDraftValidation,
        (FulfillmentRequest, "change", None, Stage::Inquiring) => ChangeRequestInquiringValidation,
        (TierConfigRequest, "setup", Some(1), Stage::Draft) => Tier1SetupDraftValidation,
        (TierConfigRequest, "setup", Some(1), Stage::Inquiring) => Tier1SetupInquiringValidation,
        (TierConfigRequest, "update", Some(1), Stage::Draft) => Tier1UpdateDraftValidation,
        (TierConfigRequest, "update", Some(1), Stage::Inquiring) => Tier1UpdateInquiringValidation,
        (TierConfigRequest, "setup", Some(2), Stage::Draft) => Tier2SetupDraftValidation,
        (TierConfigRequest, "setup", Some(2), Stage::Inquiring) => Tier2SetupInquiringValidation,
        (TierConfigRequest, "update", Some(2), Stage::Draft) => Tier2UpdateDraftValidation,
        (TierConfigRequest, "update", Some(2), Stage::Inquiring) => Tier2UpdateInquiringValidation,
        _ => return None,
    })
}

/// The test request that makes a webhook of `webhook_type` fire: a pending request of its
/// queue for a notification, a draft or inquiring request of the kind it validates otherwise.
pub fn test_request_for(webhook_type: WebhookType) -> Option<(RequestKind, RequestStatus)> {
    if webhook_type.is_notification() {
        let object_class = webhook_type.info().object_class;
        let kind = super::KINDS.iter().find(|k| k.object_class == object_class)?;
        return Some((*kind, RequestStatus::Pending));
    }
    let (kind, stage) = validated_by(webhook_type)?;
    Some((kind, stage.status()))
}

/// The request kind and stage a validation webhook type checks (for "Create test request"
/// on its details page).
pub fn validated_by(webhook_type: WebhookType) -> Option<(RequestKind, Stage)> {
    super::KINDS.iter().find_map(|kind| {
        [Stage::Draft, Stage::Inquiring]
            .into_iter()
            .find(|stage| validator_type(*kind, *stage) == Some(webhook_type))
            .map(|stage| (*kind, stage))
    })
}

pub enum Outcome {
    /// No enabled webhook of this type on the product: nothing was called.
    NoWebhook(WebhookType),
    /// The webhook was called; the request (with its `validation` and, on success, the new
    /// parameter values) as it is now.
    Called(Box<Request>),
    /// The webhook was called (and the call recorded), but the request's status changed
    /// meanwhile, so the answer was not applied.
    Superseded,
}

/// Asks the product's validation webhook about `request` and records what it said.
pub async fn validate(state: &AppState, request: &Request, stage: Stage) -> Result<Option<Outcome>, sqlx::Error> {
    let Some(webhook_type) = request.request_kind().and_then(|k| validator_type(k, stage)) else {
        return Ok(None);
    };
    let webhook =
        webhook_store::first_enabled_of_type(&state.pool, &request.account_id, &request.product_id, webhook_type)
            .await?;
    let Some(webhook) = webhook else {
        return Ok(Some(Outcome::NoWebhook(webhook_type)));
    };

    let started_at = Utc::now();
    let body = request.api_json().to_string();
    let result = call(state, &webhook, started_at, body.clone()).await;
    let verdict = judge(&result, request);
    state.telemetry.call_finished(verdict.is_ok(), result.duration);
    let sent = SentRequest {
        method: HttpMethod::Post,
        url: &webhook.external_url,
        body: Some(&body),
        started_at,
    };

    let mut tx = state.pool.begin().await?;
    events::record_called(&mut tx, &webhook.id, Source::Validation, Some(&request.id)).await?;
    let attempt_id = record_validation_call(
        &mut tx,
        &webhook.id,
        &sent,
        &result,
        verdict.as_ref().err().map(String::as_str),
    )
    .await?;
    let (params, record) = match &verdict {
        Ok(answer) => (
            Some(Json(json!(answer.params))),
            json!({"ok": true, "message": answer.summary()}),
        ),
        Err(message) => (None, json!({"ok": false, "message": message})),
    };
    let mut record = record;
    record["stage"] = json!(stage.as_str());
    record["webhook_id"] = json!(webhook.id);
    record["webhook_name"] = json!(webhook.label);
    record["attempt_id"] = json!(attempt_id);
    record["at"] = json!(timestamp(Utc::now()));
    record["duration_ms"] = json!(result.duration.as_millis() as u64);
    let updated = super::store::record_validation(&mut tx, request, params, &record).await?;
    tx.commit().await?;
    let Some(updated) = updated else {
        return Ok(Some(Outcome::Superseded));
    };
    tracing::info!(request = %request.id, webhook = %webhook.id, attempt = attempt_id, ok = verdict.is_ok(), "validation webhook called");
    Ok(Some(Outcome::Called(Box::new(updated))))
}

/// Signs and sends the request object to the webhook (always POST: it carries a body).
async fn call(state: &AppState, webhook: &Webhook, started_at: chrono::DateTime<Utc>, body: String) -> CallResult {
    let payload = webhook.payload(
        state.config.api_url(),
        state.config.delivery.processing_timeout,
        started_at,
    );
    // Always POST: it carries a body.
    let settings = CallSettings {
        method: HttpMethod::Post,
        ..webhook.call_settings()
    };
    let body = crate::delivery::body::Body {
        content_type: "application/json",
        text: body,
    };
    match CallRequest::with_body(&settings, &payload, started_at, webhook.signing_key(), Some(body)) {
        Ok(request) => state.caller.call(request, Some(VALIDATION_TIMEOUT)).await,
        Err(e) => CallResult::unsigned(e),
    }
}

/// What the handler's answer says, once read.
#[derive(Debug)]
struct Answer {
    params: Vec<Param>,
    changed: usize,
    errors: usize,
}

impl Answer {
    fn summary(&self) -> String {
        let plural = |n: usize, one: &str, many: &str| format!("{n} {}", if n == 1 { one } else { many });
        format!(
            "Validated: {} changed, {}.",
            plural(self.changed, "value", "values"),
            plural(self.errors, "error", "errors")
        )
    }
}

/// Reads the handler's answer: 200 with the request object, whose parameters (`asset.params`,
/// or `params` for tier configuration requests) give new values and errors. Anything else is
/// an error the admin can act on.
fn judge(result: &CallResult, request: &Request) -> Result<Answer, String> {
    let status = match result.status_code {
        None => {
            return Err(format!(
                "The handler could not be called: {}.",
                result.error.as_deref().unwrap_or("unknown error")
            ))
        }
        Some(s) => s,
    };
    if status != 200 {
        return Err(format!(
            "The handler answered HTTP {status}; a validation webhook must answer 200 with the request object."
        ));
    }
    if let Some(error) = &result.error {
        return Err(format!("The handler's answer could not be read: {error}."));
    }
    if result.response_truncated {
        return Err("The handler's answer is larger than the response size limit.".to_string());
    }
    let body = result.response_body.as_deref().unwrap_or("");
    let object: Value = serde_json::from_str(body)
        .map_err(|e| format!("The handler's answer is not JSON ({e}); expected the request object."))?;
    if !object.is_object() {
        return Err("The handler's answer is not a JSON object; expected the request object.".to_string());
    }
    let returned = object
        .pointer("/asset/params")
        .or_else(|| object.get("params"))
        .and_then(Value::as_array)
        .ok_or("The handler's answer has no parameter list (asset.params).")?;
    let mut params = request.param_list();
    let (mut changed, mut errors) = (0, 0);
    for item in returned {
        let Some(id) = item.get("id").and_then(Value::as_str) else {
            return Err("A parameter in the handler's answer has no \"id\".".to_string());
        };
        let Some(param) = params.iter_mut().find(|p| p.id == id) else {
            continue;
        };
        if let Some(value) = item.get("value") {
            let value = match value {
                Value::String(s) => s.clone(),
                Value::Null => String::new(),
                other => other.to_string(),
            };
            let value: String = value.chars().take(VALUE_MAX).collect();
            if value != param.value {
                param.value = value;
                changed += 1;
            }
        }
        param.value_error = item
            .get("value_error")
            .and_then(Value::as_str)
            .map(str::trim)
            .filter(|e| !e.is_empty())
            .map(|e| e.chars().take(ERROR_MAX).collect());
        if param.value_error.is_some() {
            errors += 1;
        }
    }
    Ok(Answer {
        params,
        changed,
        errors,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_validation_type_validates_one_kind_and_stage() {
        let validators: Vec<WebhookType> = WebhookType::ALL.into_iter().filter(|t| !t.is_notification()).collect();
        assert_eq!(validators.len(), 12);
        for t in validators {
            let (kind, stage) = validated_by(t).expect("each validation type has a request kind");
            assert_eq!(validator_type(kind, stage), Some(t));
            assert_eq!(kind.object_class, t.info().object_class);
        }
    }

    #[test]
    fn every_webhook_type_has_a_test_request() {
        // The details page offers "Create test request" for every type without asking.
        for t in WebhookType::ALL {
            let (kind, status) = test_request_for(t).expect("a test request for each type");
            assert_eq!(kind.object_class, t.info().object_class, "{}", t.label());
            assert_eq!(status == RequestStatus::Pending, t.is_notification(), "{}", t.label());
        }
    }
}
