-- Lists stay fast at 100,000 webhooks and millions of attempts.

-- Substring search of webhook names ("ilike '%…%'") from an index instead of a scan.
create extension if not exists pg_trgm;
create index webhooks_label_trgm on webhooks using gin (label gin_trgm_ops);

-- The "Out of order" filter: rare rows, found without walking the account's list.
create index webhooks_account_out_of_order on webhooks (account_id, created_at desc, id desc)
    where out_of_order;

-- Each listed webhook's next call (pending triggers, inbound messages included).
create index webhook_triggers_webhook_due on webhook_triggers (webhook_id, due_at) where state = 'pending';

-- The Deliveries tab's "Failure" filter: a webhook's failed calls, newest first, even when it
-- has a million successful ones.
create index webhook_attempts_webhook_failed on webhook_attempts (webhook_id, id desc) where not success;

-- Retention removes old attempts and events by time; both tables are appended in time order,
-- which a BRIN index (a few pages) serves.
create index webhook_attempts_started_brin on webhook_attempts using brin (started_at);
create index webhook_events_created_brin on webhook_events using brin (created_at);

-- A product's webhooks (the product pages, the list's product filter) without walking the
-- account's others.
create index webhooks_account_product on webhooks (account_id, product_id, created_at desc, id desc);

-- The list's type and status filters (and the API's eq(type,…), eq(active,…)), newest first,
-- and their counts, without walking the account's other webhooks.
create index webhooks_account_type on webhooks (account_id, object_class, type, created_at desc, id desc);
create index webhooks_account_active on webhooks (account_id, active, created_at desc, id desc);
