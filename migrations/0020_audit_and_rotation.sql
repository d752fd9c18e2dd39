-- Audit log: who changed what, when and from where. Append-only: the portal only inserts,
-- and the database refuses to change or remove a record (retention does not touch them).
create table audit_records (
    id           bigserial primary key,
    account_id   text not null references accounts (id),
    at           timestamptz not null default clock_timestamp(),
    -- A person signed in to the portal, an API token, or the portal itself (410 Gone, the end
    -- of a secret's grace period).
    actor_kind   text not null check (actor_kind in ('user', 'api_token', 'portal')),
    -- The user's or token's id; names are copied so the record reads the same after renames.
    actor_id     text,
    actor_name   text not null,
    ip           inet,
    action       text not null check (action ~ '^[a-z_]+\.[a-z_]+$'),
    object_kind  text not null check (object_kind in ('webhook', 'api_token', 'user', 'inbound_trigger')),
    object_id    text not null,
    object_name  text not null,
    -- [{"field": …, "before": …, "after": …}]; never a secret's value.
    changes      jsonb not null default '[]',
    detail       text not null default ''
);
create index audit_records_account on audit_records (account_id, id desc);
create index audit_records_object on audit_records (account_id, object_id, id desc);
-- A time range becomes an id range through this one.
create index audit_records_at on audit_records (account_id, at, id);
create index audit_records_actor on audit_records (account_id, actor_id, id desc);
create index audit_records_action on audit_records (account_id, action, id desc);

create function audit_records_refuse_change() returns trigger language plpgsql as $$
begin
    raise exception 'audit records cannot be changed or deleted';
end $$;
create trigger audit_records_append_only before update or delete on audit_records
    for each row execute function audit_records_refuse_change();
create trigger audit_records_no_truncate before truncate on audit_records
    for each statement execute function audit_records_refuse_change();

-- Staged secret rotation. Every token names the secret that signed it in its `kid` header.
-- A prepared secret waits (shown once) until Switch; the previous one is kept until
-- `previous_secret_until` so handlers can accept both during the change, then destroyed.
alter table webhooks
    add column jwt_kid text not null default ('k_' || substr(md5(random()::text || clock_timestamp()::text), 1, 12))
        check (jwt_kid ~ '^[A-Za-z0-9_-]{1,64}$'),
    add column next_jwt_secret text,
    add column next_jwt_kid text check (next_jwt_kid ~ '^[A-Za-z0-9_-]{1,64}$'),
    add column next_secret_prepared_at timestamptz,
    add column previous_jwt_secret text,
    add column previous_jwt_kid text check (previous_jwt_kid ~ '^[A-Za-z0-9_-]{1,64}$'),
    add column previous_secret_until timestamptz,
    add constraint webhooks_next_secret_whole check (
        (next_jwt_secret is null) = (next_jwt_kid is null) and (next_jwt_secret is null) = (next_secret_prepared_at is null)),
    add constraint webhooks_previous_secret_whole check (
        (previous_jwt_secret is null) = (previous_jwt_kid is null) and (previous_jwt_secret is null) = (previous_secret_until is null));
-- The sweep that destroys previous secrets after their grace period finds them here.
create index webhooks_previous_secret_until on webhooks (previous_secret_until) where previous_secret_until is not null;
