-- Test pings: calls marked as tests (listed with the others, counted in no statistics), and
-- when a webhook's latest ping was asked for (the page shows "sending" until it is answered).
alter table webhook_attempts add column test boolean not null default false;
alter table webhooks add column ping_requested_at timestamptz;
-- A webhook's latest ping, found without walking its other calls.
create index webhook_attempts_webhook_test on webhook_attempts (webhook_id, id desc) where test;
