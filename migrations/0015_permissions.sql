-- Per-user permissions replace the two roles (seed 003: create, edit and delete webhooks;
-- also API tokens and users). Admins get every permission, viewers none: everyone may view.
alter table users
    add column can_create_webhooks boolean not null default false,
    add column can_edit_webhooks   boolean not null default false,
    add column can_delete_webhooks boolean not null default false,
    add column can_manage_tokens   boolean not null default false,
    add column can_manage_users    boolean not null default false,
    -- A deactivated user cannot sign in; their sessions were ended when it was set.
    add column deactivated_at      timestamptz,
    add column last_sign_in_at     timestamptz,
    -- No password yet: the user was added with a set-password link not used so far.
    alter column password_hash drop not null;

update users
   set can_create_webhooks = true, can_edit_webhooks = true, can_delete_webhooks = true,
       can_manage_tokens = true, can_manage_users = true
 where role = 'admin';

alter table users drop column role;

-- A token acts with the webhook permissions it was given (at most its creator's); the
-- tokens made so far were made by admins.
alter table api_tokens
    add column can_create_webhooks boolean not null default true,
    add column can_edit_webhooks   boolean not null default true,
    add column can_delete_webhooks boolean not null default true;

-- One-time links to set a password (a new user's first, or a reset), stored hashed.
create table password_links (
    token_hash  text primary key,                -- SHA-256 (hex) of the random token
    user_id     text not null references users (id) on delete cascade,
    created_by  text references users (id) on delete set null,
    created_at  timestamptz not null default now(),
    expires_at  timestamptz not null,
    used_at     timestamptz
);
create index password_links_user_idx on password_links (user_id);
