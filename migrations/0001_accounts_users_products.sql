-- Accounts, their users and the products webhooks watch.

create table accounts (
    id          text primary key,              -- VA-240-990 (vendor) or PA-123-456 (distributor)
    name        text not null,
    kind        text not null check (kind in ('vendor', 'distributor')),
    created_at  timestamptz not null default now()
);

create table users (
    id             text primary key,           -- UR-841-574-187
    account_id     text not null references accounts (id) on delete cascade,
    email          text not null,
    name           text not null,
    role           text not null check (role in ('admin', 'viewer')),
    password_hash  text not null,
    created_at     timestamptz not null default now(),
    updated_at     timestamptz not null default now()
);
create unique index users_email_key on users (lower(email));
create index users_account_idx on users (account_id);

create table products (
    id                  text primary key,      -- PRD-578-226-824
    vendor_account_id   text not null references accounts (id) on delete cascade,
    name                text not null,
    short_description   text not null default '',
    -- "dynamic validation of change requests" and future capabilities, by their code names
    capabilities        text[] not null default '{}',
    created_at          timestamptz not null default now()
);
create index products_vendor_idx on products (vendor_account_id);

-- Products a distributor account may use (vendors use the products they own).
create table account_products (
    account_id  text not null references accounts (id) on delete cascade,
    product_id  text not null references products (id) on delete cascade,
    primary key (account_id, product_id)
);

-- Sign-in attempts, for throttling; old rows are pruned at sign-in time.
create table login_attempts (
    id          bigserial primary key,
    email       text not null,
    ip          text not null,
    succeeded   boolean not null,
    at          timestamptz not null default now()
);
create index login_attempts_email_idx on login_attempts (lower(email), at);
create index login_attempts_ip_idx on login_attempts (ip, at);
