-- Webhooks: an account's outgoing HTTP callbacks, one product and one type each.

create table webhooks (
    id            text primary key,                 -- WH-623-978-334
    account_id    text not null references accounts (id) on delete cascade,
    product_id    text not null references products (id),
    -- The API's names: object_class (fulfillment_request, …) and type (event, validator, …).
    object_class  text not null,
    type          text not null,
    label         text not null,                    -- the UI "Name"
    description   text not null default '',
    active        boolean not null default false,   -- the UI "Enabled"
    external_url  text not null,                    -- the UI "Endpoint URL"
    jwt_secret    text not null,
    http_method   text not null check (http_method in ('GET', 'POST')),
    -- Ordered custom headers as [[name, value], …]; order is kept for the UI.
    headers       jsonb not null default '[]',
    data          jsonb not null default '{}',
    created_at    timestamptz not null default now(),
    created_by    text references users (id) on delete set null,
    modified_at   timestamptz not null default now(),
    modified_by   text references users (id) on delete set null,
    -- Call statistics (the Statistics tab), counters updated with each attempt. Event
    -- counters live in webhook_event_stats, so recording events never waits for a call's record.
    triggers                    bigint not null default 0,
    success_triggers            bigint not null default 0,
    failure_triggers            bigint not null default 0,
    failure_since_last_success  bigint not null default 0,
    last_success_at             timestamptz,
    last_failure_at             timestamptz,
    check (jsonb_typeof(data) = 'object'),
    check (jsonb_typeof(headers) = 'array')
);
-- The list pages newest first with keyset paging on (created_at, id).
create index webhooks_account_created_idx on webhooks (account_id, created_at desc, id desc);
