-- Delivery: events, pending triggers (one per webhook at a time) and attempts.

alter table webhooks
    -- Out of order: too many consecutive failures; no automatic calls until Trigger now
    -- succeeds or the webhook is re-enabled.
    add column out_of_order boolean not null default false,
    -- Consecutive failures since the last success, re-enable or Trigger now success: drives
    -- the retry interval and the out-of-order limit.
    add column failures_since_reset integer not null default 0,
    add column last_success_attempt_id bigint,
    add column last_failure_attempt_id bigint;
-- Every call updates its webhook's counters: leave room for in-page (HOT) updates.
alter table webhooks set (fillfactor = 80);

-- Event statistics, apart from the webhook row that the delivery task updates.
create table webhook_event_stats (
    webhook_id     text primary key references webhooks (id) on delete cascade,
    events         bigint not null default 0,
    last_event_at  timestamptz
) with (fillfactor = 70);

-- Each event: a queue change, an API call or a press of Trigger now.
create table webhook_events (
    id           bigserial primary key,
    webhook_id   text not null references webhooks (id) on delete cascade,
    source       text not null,             -- trigger_now | queue_change | api | inbound
    object_id    text,                      -- the request that changed, when known
    created_at   timestamptz not null default clock_timestamp()
);

-- A trigger: one call of the handler to make. At most one is pending per webhook (new
-- events are coalesced into it) and at most one is in flight. A trigger is deleted once its
-- call is recorded (the attempt is the history), so the table stays small: it is a queue.
create table webhook_triggers (
    id              bigserial primary key,
    webhook_id      text not null references webhooks (id) on delete cascade,
    state           text not null check (state in ('pending', 'in_flight')),
    due_at          timestamptz not null,
    manual          boolean not null default false,
    -- When the first event of this trigger was recorded (event-to-call latency).
    first_event_at  timestamptz not null default clock_timestamp(),
    claimed_by      bigint,
    claimed_until   timestamptz,
    created_at      timestamptz not null default clock_timestamp()
)
-- A queue table: room for in-page (HOT) updates and eager vacuuming.
with (fillfactor = 70, autovacuum_vacuum_scale_factor = 0, autovacuum_vacuum_threshold = 500,
      autovacuum_vacuum_cost_delay = 0);
create unique index webhook_triggers_one_pending on webhook_triggers (webhook_id) where state = 'pending';
create unique index webhook_triggers_one_in_flight on webhook_triggers (webhook_id) where state = 'in_flight';
create index webhook_triggers_due_idx on webhook_triggers (due_at) where state = 'pending';

-- Every call made: the request as sent (token redacted) and the response or error.
create table webhook_attempts (
    id                  bigserial primary key,
    webhook_id          text not null references webhooks (id) on delete cascade,
    trigger_id          bigint,
    worker              bigint,             -- the delivery task (process) that made the call
    manual              boolean not null default false,
    started_at          timestamptz not null,
    duration_ms         integer not null,
    success             boolean not null,
    status_code         integer,
    error_kind          text,               -- dns | refused | connect | tls | timeout | blocked | http | body
    error               text,
    request_method      text not null,
    request_url         text not null,
    request_headers     jsonb not null default '[]',
    request_body        text,
    response_headers    jsonb not null default '[]',
    response_body       text,
    response_truncated  boolean not null default false
);
create index webhook_attempts_webhook_idx on webhook_attempts (webhook_id, id desc);
