-- API tokens (Integrations → Tokens): named, account-scoped, shown once, stored hashed.

create table api_tokens (
    id            text primary key,              -- SU-123-456-789, the visible part of the key
    account_id    text not null references accounts (id) on delete cascade,
    name          text not null,
    secret_hash   text not null,                 -- SHA-256 (hex) of the random secret part
    created_at    timestamptz not null default now(),
    created_by    text references users (id) on delete set null,
    last_used_at  timestamptz,
    revoked_at    timestamptz
);
create index api_tokens_account_idx on api_tokens (account_id, created_at desc);
