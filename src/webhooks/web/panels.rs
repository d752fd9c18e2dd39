//! What the details page's tabs show beside the webhook's own data: a secret just prepared
//! (shown once, on the answer to Prepare) and the Replay form with its last answer. Kept apart
//! from the handlers that fill them, so the page and those handlers import it, not each other.

use chrono::{DateTime, Utc};

use crate::webhooks::replay::{dry_run_summary, form_value, left_out_note, Replayed, SINCE_MAX_CHARS};
use crate::webhooks::store::secrets::Prepared;

/// The Replay form and what it last answered.
pub struct ReplayPanel {
    pub csrf_token: String,
    /// The `since` field as typed: a `datetime-local` value, in UTC.
    pub since: String,
    /// The latest moment the field offers (now).
    pub max: String,
    pub only_failed: bool,
    /// Why `since` was refused, next to the field.
    pub since_error: Option<String>,
    /// Why the webhook cannot be replayed now (disabled, out of order, a replay still running).
    pub refusal: Option<String>,
    /// A dry run's answer, with the form that confirms it.
    pub result: Option<DryRun>,
}

/// What Check found.
pub struct DryRun {
    pub summary: String,
    pub left_out: Option<String>,
    pub events: i64,
    /// The moment checked, exactly (to the second), for Confirm replay.
    pub since: String,
    /// A confirmation found another count than the one confirmed: nothing was queued.
    pub changed: bool,
}

impl ReplayPanel {
    /// The form as first shown: since 24 hours ago.
    pub fn fresh(csrf_token: &str) -> ReplayPanel {
        let now = Utc::now();
        ReplayPanel::typed(csrf_token, &form_value(&(now - chrono::Duration::hours(24))), false)
    }

    pub(super) fn typed(csrf_token: &str, since: &str, only_failed: bool) -> ReplayPanel {
        ReplayPanel {
            csrf_token: csrf_token.to_string(),
            since: since.chars().take(SINCE_MAX_CHARS).collect(),
            max: form_value(&Utc::now()),
            only_failed,
            since_error: None,
            refusal: None,
            result: None,
        }
    }

    pub(super) fn answered(mut self, replayed: &Replayed, since: &DateTime<Utc>, changed: bool) -> ReplayPanel {
        self.result = Some(DryRun {
            summary: dry_run_summary(replayed, since),
            left_out: left_out_note(replayed),
            events: replayed.events,
            since: since.format("%Y-%m-%dT%H:%M:%S").to_string(),
            changed,
        });
        self
    }
}

/// What the rotation panel shows of a prepared secret on the answer to Prepare.
pub struct NewSecret {
    pub kid: String,
    pub secret: String,
}

impl From<Prepared> for NewSecret {
    fn from(p: Prepared) -> NewSecret {
        NewSecret {
            kid: p.kid,
            secret: p.secret,
        }
    }
}
