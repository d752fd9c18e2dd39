//! One call: a claimed trigger signed, sent and recorded, with the slot and liveness rules
//! of the dispatcher ([`super::run`]).

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use serde_json::{json, Value};
use sqlx::PgPool;
use tokio::sync::Notify;

use super::fairness::{InFlight, Load, SLOW_AFTER};
use super::http::{self, HttpCaller};
use super::liveness::Liveness;
use super::payload::{inbound_body_url, timestamp, Payload, SigningKey};
use super::request::{CallSettings, Request};
use super::slots::{Slot, Slots};
use super::store::{self, ClaimedTrigger, SentRequest, Success};
use crate::config::Config;
use crate::ids::WebhookId;

/// How long a call's recording is retried (the database may be down for a while).
const RECORD_FOR: Duration = Duration::from_secs(120);

pub(super) struct Worker {
    pub(super) id: i64,
    /// The delivery task's own connections, with `synchronous_commit = off` (see store::record).
    pub(super) pool: PgPool,
    /// Successful calls go to the batch recorder (one statement for many calls), which hands
    /// back the ones it could not record.
    pub(super) recorder: tokio::sync::mpsc::Sender<(Success, Recorded)>,
    /// Wakes this process's dispatcher when a call finishes (a trigger that waited for it may
    /// now be claimed).
    pub(super) wake: Arc<Notify>,
    pub(super) config: Arc<Config>,
    pub(super) caller: Arc<HttpCaller>,
    /// Counts each call for `/metrics`.
    pub(super) telemetry: Arc<crate::telemetry::Telemetry>,
    /// The payload's `api_url`, the same for every call.
    pub(super) api_url: String,
    /// This process's calls in flight per account and host.
    pub(super) load: Load,
    /// Whether this process still counts as alive; calls stop when it may not.
    pub(super) liveness: Liveness,
    /// Claims whose calls were stopped (liveness lost): given back once the database answers.
    pub(super) stopped_claims: std::sync::Mutex<Vec<(i64, chrono::DateTime<Utc>)>>,
    /// Calls recorded one by one (failures, and successes a batch handed back) at once: fewer
    /// than the delivery pool's connections, so that they leave the claim and the batch
    /// recorder theirs (see `ONE_BY_ONE_RECORDINGS`).
    pub(super) single_records: tokio::sync::Semaphore,
    /// The slots calls start in, and the claimed calls waiting for one.
    pub(super) slots: Arc<Slots>,
}

/// The batch recorder's answer for one successful call: recorded, or handed back.
pub(super) type Recorded = tokio::sync::oneshot::Sender<Result<(), Success>>;

impl Worker {
    /// Remembers a claim whose call was stopped, to give it back once the database answers.
    pub(super) fn stop_claim(&self, job: &ClaimedTrigger) {
        if let Ok(mut claims) = self.stopped_claims.lock() {
            claims.push((job.trigger_id, job.claimed_until));
        }
    }

    /// Makes the call of `job` once it has a slot, and records it. The slot is held while the
    /// call is made (given back early if the call turns slow) and `counted` counts it against
    /// its account's and host's caps until it ends; `recording` is its place in the backlog of
    /// calls awaiting their recording, held until the call is recorded (or given back with the
    /// slot if the call turns slow). The trigger stays `in_flight` until it is recorded, so its
    /// webhook's next call waits for the record; other webhooks' calls need not.
    pub(super) async fn deliver(
        &self,
        job: ClaimedTrigger,
        recording: tokio::sync::OwnedSemaphorePermit,
        counted: InFlight,
    ) {
        let Some(slot) = self.slots.take().await else {
            self.stop_claim(&job);
            return;
        };
        self.call_and_record(job, Some(slot), Some(recording), counted).await;
    }

    async fn call_and_record(
        &self,
        job: ClaimedTrigger,
        mut slot: Option<Slot>,
        mut recording: Option<tokio::sync::OwnedSemaphorePermit>,
        mut counted: InFlight,
    ) {
        let started_at = Utc::now();
        let delivery = &self.config.delivery;
        let payload = Payload {
            webhook_id: job.webhook_id.clone(),
            webhook_name: job.label.clone(),
            object_class: job.object_class,
            account_id: job.account_id.clone(),
            product_id: job.product_id.clone(),
            api_url: self.api_url.clone(),
            triggered_at: timestamp(started_at),
            last_success_at: job.last_success_at.map(timestamp),
            last_failure_at: job.last_failure_at.map(timestamp),
            processing_timeout: delivery.processing_timeout,
            data: job.data.0.clone(),
            inbound: job.inbound.as_ref().map(|m| inbound_claim(&m.0, &self.api_url)),
        };
        let settings = CallSettings {
            method: job.http_method,
            url: &job.external_url,
            custom_headers: &job.headers.0,
            payload_format: job.payload_format,
            md5_wrap: job.md5_wrap,
        };
        let request = Request::for_payload(
            &settings,
            &payload,
            started_at,
            SigningKey {
                secret: &job.jwt_secret,
                kid: &job.jwt_kid,
            },
        );
        let body = request.as_ref().ok().and_then(|r| r.body.clone());
        let result = match request {
            Ok(request) => {
                if !self.liveness.is_current() {
                    // Between claim and call the liveness ran out: leave the trigger to others.
                    self.stop_claim(&job);
                    return;
                }
                let call = self.caller.call(request, None);
                tokio::pin!(call);
                let turns_slow = tokio::time::sleep(SLOW_AFTER);
                tokio::pin!(turns_slow);
                let mut liveness = self.liveness.clone();
                loop {
                    tokio::select! {
                        biased;
                        _ = liveness.lost() => {
                            // Another process may take this trigger over: never call twice at once.
                            tracing::warn!(webhook = %job.webhook_id, "call stopped: this process's liveness ran out");
                            self.stop_claim(&job);
                            return;
                        }
                        result = &mut call => break result,
                        _ = &mut turns_slow, if slot.is_some() => {
                            // Still running: make room for other calls, if the process has it.
                            if counted.go_slow() {
                                slot = None;
                                drop(recording.take());
                            } else {
                                turns_slow.as_mut().reset(tokio::time::Instant::now() + SLOW_AFTER);
                            }
                        }
                    }
                }
            }
            Err(e) => http::CallResult::unsigned(e),
        };
        // The call is over. It stops counting against its account and host before its slot is
        // free: the claim that the free slot wakes must see the caps as they are now, not pass
        // over the account as still full, nor claim ahead without counting it. Recording it holds
        // only its place in the backlog.
        drop(counted);
        self.slots.call_finished();
        drop(slot);
        self.telemetry.call_finished(result.success, result.duration);
        if !result.success {
            let sent = SentRequest {
                method: job.http_method,
                url: &job.external_url,
                body: body.as_ref().map(|b| b.text.as_str()),
                started_at,
            };
            self.keep_trying("a failed call", &job.webhook_id, || {
                store::record_failure(&self.pool, self.id, &job, &sent, &result, delivery)
            })
            .await;
            return;
        }
        let success = Success {
            duration_ms: result.duration.as_millis().min(i32::MAX as u128) as i32,
            status_code: result.status_code.map(i32::from),
            request_headers: serde_json::to_value(&result.request_headers).unwrap_or_default(),
            response_headers: serde_json::to_value(&result.response_headers).unwrap_or_default(),
            response_body: result.response_body,
            response_truncated: result.response_truncated,
            request_body: body.map(|b| b.text),
            webhook_id: job.webhook_id,
            trigger_id: job.trigger_id,
            claimed_until: job.claimed_until,
            manual: job.manual,
            started_at,
            method: job.http_method,
            url: job.external_url,
            message_id: job.message_id,
            replay_of: job.replay_of,
        };
        let (done, recorded) = tokio::sync::oneshot::channel();
        let row = match self.recorder.send((success, done)).await {
            Ok(()) => match recorded.await {
                Ok(Ok(())) => {
                    self.wake.notify_one();
                    return;
                }
                Ok(Err(row)) => row,
                Err(_) => {
                    tracing::error!("the batch recorder stopped before answering; a successful call may be unrecorded");
                    return;
                }
            },
            Err(tokio::sync::mpsc::error::SendError((row, _))) => row,
        };
        let rows = std::slice::from_ref(&row);
        let recorded = self
            .keep_trying("a successful call", &row.webhook_id, || {
                store::record_successes(&self.pool, self.id, rows)
            })
            .await;
        if recorded {
            // Its tally is added here, as the batch recorder adds those of its batches (if this
            // fails, the recorder's next adding or the next read of the statistics adds it). A
            // batch that failed hands back many calls at once: their adding takes turns too.
            let _turn = self.single_records.acquire().await;
            if let Err(e) = store::add_tallies(&self.pool).await {
                tracing::warn!(error = %e, "adding a recorded call to the statistics failed; it is added later");
            }
        }
    }

    /// The call happened: recording it must not be given up lightly. Retried with growing
    /// pauses (up to 5 s) for [`RECORD_FOR`], so a database outage of that length loses no
    /// record and repeats no call. Returns whether it was recorded.
    async fn keep_trying<T, F, Fut>(&self, what: &str, webhook_id: &WebhookId, mut write: F) -> bool
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Result<T, sqlx::Error>>,
    {
        // Waiting for a turn is fine: the call's trigger stays in flight until it is recorded.
        // Each try takes a turn of its own, so records that keep failing leave the others
        // theirs while they pause.
        let deadline = tokio::time::Instant::now() + RECORD_FOR;
        let mut pause = Duration::from_millis(200);
        for try_number in 1u32.. {
            let written = {
                let _turn = self.single_records.acquire().await;
                write().await
            };
            match written {
                Ok(_) => {
                    self.wake.notify_one();
                    return true;
                }
                Err(e) if tokio::time::Instant::now() + pause < deadline => {
                    tracing::warn!(webhook = %webhook_id, error = %e, try_number, "recording {what} failed; trying again");
                    tokio::time::sleep(pause).await;
                    pause = (pause * 2).min(Duration::from_secs(5));
                }
                Err(e) => {
                    tracing::error!(webhook = %webhook_id, error = %e, try_number, "recording {what} failed; giving up (the trigger comes back when its lease ends)");
                    return false;
                }
            }
        }
        false
    }
}

/// The `inbound` claim: the message as stored, with a JSON body passed on as JSON, and the
/// body's size, SHA-256 and `body_url` (under `api_url`), where the handler fetches it.
fn inbound_claim(message: &Value, api_url: &str) -> Value {
    let mut body = message["body"].clone();
    let is_json = message["content_type"].as_str().is_some_and(|t| {
        t.split(';')
            .next()
            .is_some_and(|m| m.trim().eq_ignore_ascii_case("application/json"))
    });
    if is_json {
        if let Some(parsed) = body.as_str().and_then(|b| serde_json::from_str::<Value>(b).ok()) {
            body = parsed;
        }
    }
    let body_size = message["body_size"].as_i64().unwrap_or(0);
    let body_url = message["message_id"]
        .as_i64()
        .filter(|_| body_size > 0)
        .map(|id| inbound_body_url(api_url, id));
    json!({
        "trigger_id": message["trigger_id"],
        "message_id": message["message_id"],
        "method": message["method"],
        "query": message["query"],
        "content_type": message["content_type"],
        "body": body,
        "body_size": body_size,
        "body_sha256": message["body_sha256"],
        "body_url": body_url,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_inbound_claim_inlines_small_text_and_links_every_body() {
        let api = "https://portal.example.com/public/v1/";
        let stored = json!({"trigger_id": "IT-123-456-789", "message_id": 42, "method": "POST",
                            "query": {"region": "eu"}, "content_type": "application/json; charset=utf-8",
                            "body": "{\"lines\": 3}", "body_size": 12, "body_sha256": "ab12"});
        let claim = inbound_claim(&stored, api);
        assert_eq!(claim["body"], json!({"lines": 3}), "JSON is passed on as JSON");
        assert_eq!(claim["body_size"], 12);
        assert_eq!(claim["body_sha256"], "ab12");
        assert_eq!(
            claim["body_url"],
            "https://portal.example.com/public/v1/notifications/inbound-messages/42/body"
        );
        let keys: Vec<&String> = claim.as_object().map(|m| m.keys().collect()).unwrap_or_default();
        assert_eq!(
            keys,
            [
                "trigger_id",
                "message_id",
                "method",
                "query",
                "content_type",
                "body",
                "body_size",
                "body_sha256",
                "body_url"
            ]
        );

        let binary = json!({"trigger_id": "IT-123-456-789", "message_id": 43, "method": "POST", "query": {},
                            "content_type": "application/octet-stream", "body": null,
                            "body_size": 1048576, "body_sha256": "cd34"});
        let claim = inbound_claim(&binary, api);
        assert_eq!(claim["body"], Value::Null, "not inlined");
        assert!(claim["body_url"]
            .as_str()
            .is_some_and(|u| u.ends_with("/inbound-messages/43/body")));

        let empty = json!({"trigger_id": null, "message_id": 44, "method": "GET", "query": {},
                           "content_type": null, "body": null, "body_size": 0, "body_sha256": null});
        let claim = inbound_claim(&empty, api);
        assert_eq!(
            (claim["body_size"].as_i64(), &claim["body_url"]),
            (Some(0), &Value::Null)
        );
    }
}
