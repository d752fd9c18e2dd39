-- Sessions move from the schema of the former session-store crate to a table of the portal's
-- own. Their data is JSON in a text column (`jsonb` refuses the \u0000 a form may carry).
-- Signed-in users sign in once more after the upgrade.
create table sessions (
    id          text primary key,
    data        text not null,
    expires_at  timestamptz not null
);
create index sessions_expires_at on sessions (expires_at);

drop schema if exists tower_sessions cascade;
