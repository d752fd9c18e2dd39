-- Product queues: requests of each object class. Every creation or status change is a
-- queue change that records an event for the webhooks watching that product and class.

create table requests (
    id            text primary key,              -- PR-123-456-789
    account_id    text not null references accounts (id) on delete cascade,   -- the product's vendor
    product_id    text not null references products (id) on delete cascade,
    object_class  text not null,
    kind          text not null,                 -- purchase, change, suspend, resume, cancel, setup, update, …
    status        text not null,
    params        jsonb not null default '[]',
    test          boolean not null default true,
    created_at    timestamptz not null default now(),
    updated_at    timestamptz not null default now(),
    check (jsonb_typeof(params) = 'array')
);
create index requests_queue_idx on requests (product_id, object_class, status, created_at desc);
create index requests_account_idx on requests (account_id, created_at desc);
