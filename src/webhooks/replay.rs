//! Replay since a time (the Deliveries tab's Replay form and the API's `…/replay`): what
//! `since` may be, the replay itself in one transaction, and the words both answer with.
//! Which deliveries are sent again, and how, is [`super::store::replay`].

use std::time::Duration;

use chrono::{DateTime, NaiveDateTime, Utc};
use sqlx::PgPool;

pub use super::store::replay::{Refusal, ReplayError, ReplayRequest, Replayed, MAX_DELIVERIES};
use crate::config::DeliveryConfig;
use crate::ids::{AccountId, WebhookId};

/// The longest `since` text read (a datetime or an RFC 3339 moment is far shorter).
pub const SINCE_MAX_CHARS: usize = 64;

/// How long after its start a call may still be recorded: the request timeout, and the
/// minutes the delivery task keeps trying to record a call while the database is away.
pub fn settle(delivery: &DeliveryConfig) -> chrono::Duration {
    chrono::Duration::from_std(delivery.request_timeout + Duration::from_secs(300)).unwrap_or(chrono::Duration::MAX)
}

/// A `datetime-local` value in UTC: `2026-12-01T10:00` (or with seconds, or a space for the T).
pub fn parse_form_since(raw: &str) -> Option<DateTime<Utc>> {
    let raw = raw.trim();
    if raw.chars().count() > SINCE_MAX_CHARS {
        return None;
    }
    [
        "%Y-%m-%dT%H:%M",
        "%Y-%m-%dT%H:%M:%S",
        "%Y-%m-%d %H:%M",
        "%Y-%m-%d %H:%M:%S",
    ]
    .iter()
    .find_map(|format| NaiveDateTime::parse_from_str(raw, format).ok())
    .map(|naive| naive.and_utc())
}

/// An RFC 3339 moment with its offset: `2026-12-01T10:00:00Z`.
pub fn parse_api_since(raw: &str) -> Option<DateTime<Utc>> {
    if raw.chars().count() > SINCE_MAX_CHARS {
        return None;
    }
    DateTime::parse_from_rfc3339(raw.trim())
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

/// Why `since` cannot be replayed from, if it cannot: a moment still to come.
pub fn check_since(since: DateTime<Utc>, now: DateTime<Utc>) -> Result<(), String> {
    if since > now {
        return Err(format!(
            "{} is still to come: choose a moment in the past (now is {}).",
            moment(&since),
            moment(&now)
        ));
    }
    Ok(())
}

/// `12/01/2026 10:00 AM UTC`, as the portal writes a moment (with seconds when it has them).
pub fn moment(t: &DateTime<Utc>) -> String {
    if t.timestamp() % 60 == 0 && t.timestamp_subsec_nanos() == 0 {
        crate::dates::datetime(t).to_string()
    } else {
        crate::dates::datetime_secs(t).to_string()
    }
}

/// `2026-12-01T10:00`: the form's value for a moment (to the minute).
pub fn form_value(t: &DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M").to_string()
}

fn events(n: i64) -> String {
    if n == 1 {
        "1 event".to_string()
    } else {
        format!("{} events", group_thousands(n))
    }
}

/// "37 events since 12/01/2026 10:00 AM UTC would be sent again."
pub fn dry_run_summary(replayed: &Replayed, since: &DateTime<Utc>) -> String {
    if replayed.events == 0 {
        return format!("No events since {} to send again.", moment(since));
    }
    format!(
        "{} since {} would be sent again.",
        events(replayed.events),
        moment(since)
    )
}

/// "37 events queued for replay."
pub fn queued_summary(replayed: &Replayed, since: &DateTime<Utc>) -> String {
    if replayed.queued == 0 {
        return format!("No events since {} to send again: nothing was queued.", moment(since));
    }
    format!("{} queued for replay.", events(replayed.queued))
}

/// Why some deliveries are not in the count, if any were left out.
pub fn left_out_note(replayed: &Replayed) -> Option<String> {
    match replayed.left_out {
        0 => None,
        1 => Some("1 delivery of an inbound message was left out: retention has removed the message.".to_string()),
        n => Some(format!(
            "{} deliveries of inbound messages were left out: retention has removed the messages.",
            group_thousands(n)
        )),
    }
}

/// What a refusal says; the caller answers 409, or 422 / 400 for [`Refusal::TooMany`] (a
/// problem with `since`, said next to it).
pub fn refusal_message(refusal: Refusal, since: &DateTime<Utc>) -> String {
    match refusal {
        Refusal::NotFound => "No such webhook.".to_string(),
        Refusal::Disabled => "This webhook is disabled: enable it first, then replay.".to_string(),
        Refusal::OutOfOrder => {
            "This webhook is out of order: enable it first (⋮ → Re-enable), then replay.".to_string()
        }
        Refusal::StillReplaying(1) => {
            "An earlier replay of this webhook still has 1 call waiting: replay again once it is sent.".to_string()
        }
        Refusal::StillReplaying(n) => format!(
            "An earlier replay of this webhook still has {} calls waiting: replay again once they are sent.",
            group_thousands(n)
        ),
        Refusal::TooMany => format!(
            "More than {} events since {}: choose a later time.",
            group_thousands(MAX_DELIVERIES as i64),
            moment(since)
        ),
    }
}

/// `8,878`, as the portal writes counts.
fn group_thousands(n: i64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Finds and (unless a dry run) queues the webhook's deliveries since `request.since`, in one
/// transaction with its audit record (`actor` asked; a dry run changes nothing and is not
/// recorded).
pub async fn run(
    pool: &PgPool,
    account_id: &AccountId,
    webhook: (&WebhookId, &str),
    request: &ReplayRequest,
    actor: &crate::audit::Actor,
) -> Result<Replayed, ReplayError> {
    let (webhook_id, label) = webhook;
    let mut tx = pool.begin().await?;
    let replayed = super::store::replay::replay(&mut tx, account_id, webhook_id, request).await?;
    if !request.dry_run && replayed.queued > 0 {
        let detail = format!(
            "{} queued for replay{}.",
            events(replayed.queued),
            if request.only_failed { " (only failed)" } else { "" }
        );
        let detail = format!("{detail} Since {}.", moment(&request.since)).replace('\u{a0}', " ");
        super::store::audited::record_action(
            &mut *tx,
            account_id,
            actor,
            webhook_id,
            label,
            crate::audit::Action::WebhookReplayed,
            &detail,
        )
        .await?;
    }
    tx.commit().await?;
    Ok(replayed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn since_reads_the_form_and_the_api() {
        let ten = Utc.with_ymd_and_hms(2026, 12, 1, 10, 0, 0).unwrap();
        assert_eq!(parse_form_since("2026-12-01T10:00"), Some(ten));
        assert_eq!(parse_form_since(" 2026-12-01 10:00:00 "), Some(ten));
        assert_eq!(
            parse_form_since("2026-12-01T10:00:30"),
            Some(ten + chrono::Duration::seconds(30))
        );
        for bad in [
            "",
            "yesterday",
            "2026-13-01T10:00",
            "2026-12-01",
            "2026-12-01T25:00",
            &"9".repeat(100),
        ] {
            assert_eq!(parse_form_since(bad), None, "{bad}");
        }
        assert_eq!(parse_api_since("2026-12-01T10:00:00Z"), Some(ten));
        assert_eq!(parse_api_since("2026-12-01T11:00:00+01:00"), Some(ten));
        assert_eq!(parse_api_since("2026-12-01T10:00"), None, "an offset is required");
    }

    #[test]
    fn the_words_of_a_replay() {
        let since = Utc.with_ymd_and_hms(2026, 12, 1, 10, 0, 0).unwrap();
        // As read on the page (no-break spaces keep the time together).
        let dry_run_summary = |r: &Replayed, t: &DateTime<Utc>| dry_run_summary(r, t).replace('\u{a0}', " ");
        let refusal_message = |r: Refusal, t: &DateTime<Utc>| refusal_message(r, t).replace('\u{a0}', " ");
        let moment = |t: &DateTime<Utc>| moment(t).replace('\u{a0}', " ");
        let r = |events, left_out, queued| Replayed {
            events,
            left_out,
            queued,
        };
        assert_eq!(
            dry_run_summary(&r(37, 0, 0), &since),
            "37 events since 12/01/2026 10:00 AM UTC would be sent again."
        );
        assert_eq!(
            dry_run_summary(&r(1, 0, 0), &since),
            "1 event since 12/01/2026 10:00 AM UTC would be sent again."
        );
        assert_eq!(queued_summary(&r(37, 0, 37), &since), "37 events queued for replay.");
        assert_eq!(left_out_note(&r(3, 0, 0)), None);
        assert!(left_out_note(&r(3, 2, 0)).is_some_and(|n| n.starts_with("2 deliveries")));
        assert_eq!(
            refusal_message(Refusal::TooMany, &since),
            "More than 10,000 events since 12/01/2026 10:00 AM UTC: choose a later time."
        );
        assert!(refusal_message(Refusal::StillReplaying(4), &since).contains("4 calls waiting"));
        assert!(refusal_message(Refusal::StillReplaying(8878), &since).contains("8,878 calls waiting"));
        assert_eq!(
            queued_summary(&r(1234, 0, 1234), &since),
            "1,234 events queued for replay."
        );
        let later = since + chrono::Duration::seconds(90);
        assert_eq!(moment(&later), "12/01/2026 10:01:30 AM UTC");
        assert!(check_since(later, since).is_err());
        assert!(check_since(since, since).is_ok());
    }
}
