//! This process's instruments for `/metrics`: calls by outcome and their latency (counted by
//! the delivery task and validation calls), inbound messages (counted by the inbound endpoint),
//! and the queue's gauges, read from Postgres when scraped. Each portal instance owns its own
//! registry (several run in one test process); label values come from fixed lists, never from
//! a webhook, an account or a trigger.

use std::sync::atomic::AtomicU64;
use std::time::Duration;

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::{Registry, Unit};

/// The `Content-Type` of what [`Telemetry::render`] writes: Prometheus' text format 0.0.4.
pub use prometheus_client::encoding::prometheus_text::CONTENT_TYPE;

type Labels = [(&'static str, &'static str); 1];

/// The figures about the delivery queue, shared by every process on the database.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct QueueFigures {
    /// Pending triggers that are due and may be called (enabled, not out of order or manual).
    pub due_triggers: i64,
    /// How long past its due time the oldest of them is, in seconds (0 without any).
    pub oldest_due_age_seconds: f64,
    /// Enabled webhooks that are out of order.
    pub webhooks_out_of_order: i64,
}

pub struct Telemetry {
    registry: Registry,
    calls: Family<Labels, Counter>,
    call_duration: Histogram,
    inbound_accepted: Counter,
    inbound_refused: Family<Labels, Counter>,
    due_triggers: Gauge,
    oldest_due_age: Gauge<f64, AtomicU64>,
    out_of_order: Gauge,
}

impl Default for Telemetry {
    fn default() -> Self {
        Self::new()
    }
}

impl Telemetry {
    pub fn new() -> Telemetry {
        let mut registry = Registry::with_prefix("webhook_portal");
        let calls = Family::<Labels, Counter>::default();
        registry.register(
            "calls",
            "Calls of webhook handlers made by this process, as the statistics count them (no test pings or redeliveries), by outcome",
            calls.clone(),
        );
        let bounds = crate::latency::BOUNDS_MS.map(|ms| f64::from(ms) / 1000.0);
        let call_duration = Histogram::new(bounds);
        registry.register_with_unit(
            "call_duration",
            "How long those calls took, until the answer or the error",
            Unit::Seconds,
            call_duration.clone(),
        );
        let inbound_accepted = Counter::default();
        registry.register(
            "inbound_messages",
            "Calls of inbound triggers accepted as messages by this process",
            inbound_accepted.clone(),
        );
        let inbound_refused = Family::<Labels, Counter>::default();
        registry.register(
            "inbound_refused",
            "Calls of inbound triggers refused by this process, by reason",
            inbound_refused.clone(),
        );
        let due_triggers = Gauge::default();
        registry.register(
            "due_triggers",
            "Calls that are due and waiting to be made (all processes on the database)",
            due_triggers.clone(),
        );
        let oldest_due_age = Gauge::<f64, AtomicU64>::default();
        registry.register_with_unit(
            "oldest_due_trigger_age",
            "How long past its due time the oldest waiting call is",
            Unit::Seconds,
            oldest_due_age.clone(),
        );
        let out_of_order = Gauge::default();
        registry.register(
            "webhooks_out_of_order",
            "Enabled webhooks that stopped calling after too many failures in a row",
            out_of_order.clone(),
        );
        // Every outcome and reason is shown from the start, at 0.
        let telemetry = Telemetry {
            registry,
            calls,
            call_duration,
            inbound_accepted,
            inbound_refused,
            due_triggers,
            oldest_due_age,
            out_of_order,
        };
        for outcome in ["success", "failure"] {
            let _ = telemetry.calls.get_or_create(&[("outcome", outcome)]);
        }
        for reason in InboundRefusal::ALL {
            let _ = telemetry.inbound_refused.get_or_create(&[("reason", reason.as_str())]);
        }
        telemetry
    }

    /// A call the statistics count has ended (answered, failed or timed out).
    pub fn call_finished(&self, success: bool, duration: Duration) {
        let outcome = if success { "success" } else { "failure" };
        self.calls.get_or_create(&[("outcome", outcome)]).inc();
        self.call_duration.observe(duration.as_secs_f64());
    }

    /// An inbound trigger's call was accepted as a message.
    pub fn inbound_accepted(&self) {
        self.inbound_accepted.inc();
    }

    pub fn inbound_refused(&self, reason: InboundRefusal) {
        self.inbound_refused.get_or_create(&[("reason", reason.as_str())]).inc();
    }

    /// The text Prometheus scrapes, with the queue's figures as read just now.
    pub fn render(&self, queue: QueueFigures) -> Result<String, std::fmt::Error> {
        self.due_triggers.set(queue.due_triggers);
        self.oldest_due_age.set(queue.oldest_due_age_seconds);
        self.out_of_order.set(queue.webhooks_out_of_order);
        let mut text = String::new();
        prometheus_client::encoding::prometheus_text::encode(&mut text, &self.registry)?;
        Ok(text)
    }
}

/// Why an inbound trigger's call was refused: the `reason` label.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InboundRefusal {
    /// No such trigger, or it is disabled (404).
    NotFound,
    /// No key or a wrong key (401).
    Unauthorized,
    /// A bad query string or an unreadable body (400), a method other than GET or POST (405).
    Invalid,
    /// The body or the query parameters are too large (413).
    TooLarge,
    /// Too many messages of the trigger wait for delivery (503).
    Backlog,
    /// The message could not be recorded (500, or 503 while the database is away).
    Error,
}

impl InboundRefusal {
    pub const ALL: [InboundRefusal; 6] = [
        InboundRefusal::NotFound,
        InboundRefusal::Unauthorized,
        InboundRefusal::Invalid,
        InboundRefusal::TooLarge,
        InboundRefusal::Backlog,
        InboundRefusal::Error,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            InboundRefusal::NotFound => "not_found",
            InboundRefusal::Unauthorized => "unauthorized",
            InboundRefusal::Invalid => "invalid",
            InboundRefusal::TooLarge => "too_large",
            InboundRefusal::Backlog => "backlog",
            InboundRefusal::Error => "error",
        }
    }

    /// The refusal an inbound call's answer stands for, from its status.
    pub fn of_status(status: u16) -> Option<InboundRefusal> {
        match status {
            404 => Some(InboundRefusal::NotFound),
            401 => Some(InboundRefusal::Unauthorized),
            400 | 405 => Some(InboundRefusal::Invalid),
            413 => Some(InboundRefusal::TooLarge),
            503 => Some(InboundRefusal::Backlog),
            500 => Some(InboundRefusal::Error),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_text_names_every_instrument_with_bounded_labels() {
        let t = Telemetry::new();
        t.call_finished(true, Duration::from_millis(15));
        t.call_finished(false, Duration::from_millis(1500));
        t.inbound_accepted();
        t.inbound_refused(InboundRefusal::Unauthorized);
        let text = t
            .render(QueueFigures {
                due_triggers: 3,
                oldest_due_age_seconds: 2.5,
                webhooks_out_of_order: 1,
            })
            .unwrap();
        for line in [
            "webhook_portal_calls_total{outcome=\"success\"} 1",
            "webhook_portal_calls_total{outcome=\"failure\"} 1",
            "webhook_portal_call_duration_seconds_bucket{le=\"0.02\"} 1",
            "webhook_portal_call_duration_seconds_bucket{le=\"2\"} 2",
            "webhook_portal_call_duration_seconds_count 2",
            "webhook_portal_inbound_messages_total 1",
            "webhook_portal_inbound_refused_total{reason=\"unauthorized\"} 1",
            "webhook_portal_inbound_refused_total{reason=\"backlog\"} 0",
            "webhook_portal_due_triggers 3",
            "webhook_portal_oldest_due_trigger_age_seconds 2.5",
            "webhook_portal_webhooks_out_of_order 1",
        ] {
            assert!(text.lines().any(|l| l == line), "{line} in\n{text}");
        }
    }
}
