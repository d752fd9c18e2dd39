-- Test requests: tier level for tier configuration requests, and the last validation a
-- validation webhook gave a draft or inquiring request.
alter table requests
    add column tier_level smallint check (tier_level in (1, 2)),
    add column validation jsonb;

-- Inbound triggers: endpoints outside systems call (POST|GET /hooks/in/{id}) to feed events
-- into the webhooks of one product and object class.
create table inbound_triggers (
    id                text primary key,              -- IT-123-456-789
    account_id        text not null references accounts (id) on delete cascade,
    product_id        text not null references products (id),
    object_class      text not null,
    name              text not null,
    active            boolean not null default true,
    -- Messages are delivered strictly in arrival order: one that fails holds back later ones.
    ordered           boolean not null default false,
    -- The caller waits (up to max_wait_seconds) for the handler's answer and gets it back.
    request_response  boolean not null default false,
    max_wait_seconds  integer not null default 10 check (max_wait_seconds between 1 and 30),
    -- [{"name": "region", "default": "eu"}, {"name": "order", "default": null}, …]
    query_params      jsonb not null default '[]' check (jsonb_typeof(query_params) = 'array'),
    messages          bigint not null default 0,
    last_message_at   timestamptz,
    created_at        timestamptz not null default now(),
    created_by        text references users (id) on delete set null,
    modified_at       timestamptz not null default now()
);
create index inbound_triggers_account_idx on inbound_triggers (account_id, created_at desc);

-- The API keys a caller presents; only their SHA-256 is stored. The same key may guard
-- several triggers (a consumer pastes it into each).
create table inbound_trigger_keys (
    id            bigserial primary key,
    trigger_id    text not null references inbound_triggers (id) on delete cascade,
    label         text not null,
    key_sha256    bytea not null,
    key_hint      text not null,                 -- the last 4 characters, to tell keys apart
    created_at    timestamptz not null default now(),
    last_used_at  timestamptz,
    unique (trigger_id, key_sha256)
);

-- Every accepted call of an inbound trigger, with what it passes on. Accepted messages
-- outlive their trigger: deleting it stops new calls, not the delivery of accepted ones.
create table inbound_messages (
    id            bigserial primary key,
    trigger_id    text references inbound_triggers (id) on delete set null,
    key_id        bigint references inbound_trigger_keys (id) on delete set null,
    method        text not null,
    query         jsonb not null default '{}',
    content_type  text,
    body          text,
    webhooks      integer not null default 0,    -- how many webhooks it was delivered to
    received_at   timestamptz not null default clock_timestamp()
);
create index inbound_messages_trigger_idx on inbound_messages (trigger_id, id desc);

-- A message is delivered by its own trigger (never coalesced); its attempts remember it so
-- a waiting caller can be answered.
alter table webhook_triggers
    add column message_id bigint references inbound_messages (id) on delete cascade,
    add column ordered boolean not null default false;
drop index webhook_triggers_one_pending;
create unique index webhook_triggers_one_pending on webhook_triggers (webhook_id)
    where state = 'pending' and message_id is null;
-- Ordered messages wait for the earlier ones of their webhook: found through this index.
create index webhook_triggers_ordered_idx on webhook_triggers (webhook_id, id) where state = 'pending' and ordered;
alter table webhook_attempts add column message_id bigint;
create index webhook_attempts_message_idx on webhook_attempts (message_id) where message_id is not null;
-- Claims take due triggers in (due_at, id) order, straight from the index.
drop index webhook_triggers_due_idx;
create index webhook_triggers_due_idx on webhook_triggers (due_at, id) where state = 'pending';
