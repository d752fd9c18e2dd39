//! Tools to find out why calls fail: a failed call's diagnosis ([`hints`]), the call as a
//! curl command with a fresh token ([`curl`]) and the token checker ([`token_check`]). The
//! request preview is the next call itself ([`crate::webhooks::store::Webhook::call_at`]).

pub mod curl;
pub mod hints;
pub mod token_check;

use self::hints::{diagnose, FailedCall, Hint};
use crate::webhooks::store::Attempt;

/// The diagnosis of a recorded call; `None` for a success.
pub fn attempt_hint(a: &Attempt) -> Option<Hint> {
    if a.success {
        return None;
    }
    diagnose(&FailedCall {
        error_kind: a.error_kind,
        status_code: a.status_code,
        error: a.error.as_deref().unwrap_or(""),
        method: &a.request_method,
        url: &a.request_url,
        response_headers: &a.response_headers.0,
        duration_ms: i64::from(a.duration_ms),
        test_ping: a.test,
    })
}
