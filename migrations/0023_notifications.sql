-- Early warnings: a notice when a webhook has failed a number of times in a row, when it goes
-- out of order, and when it recovers; shown in the portal (a bell, a Notifications page) and
-- e-mailed to the account's admins. A watcher compares each webhook's counters with what it
-- last told (`alert_state`), so the delivery task writes nothing more per call.
alter table webhooks
    add column alert_state text not null default 'ok' check (alert_state in ('ok', 'failing', 'out_of_order')),
    add column alerted_at timestamptz;
-- The watcher's two questions, each from a small partial index: which webhooks are failing
-- (rare rows), and which it has warned about (rarer).
create index webhooks_failing on webhooks (id) where failures_since_reset > 0;
create index webhooks_alerted on webhooks (id) where alert_state <> 'ok';

create table notifications (
    id           bigserial primary key,
    account_id   text not null references accounts (id) on delete cascade,
    webhook_id   text references webhooks (id) on delete cascade,
    kind         text not null check (kind in ('failing', 'out_of_order', 'recovered')),
    title        text not null,
    body         text not null,
    created_at   timestamptz not null default now(),
    -- The e-mail to the account's admins: waiting, sent, not sent (no SMTP server set, or
    -- nobody to send to), or given up after several tries.
    email_state  text not null default 'pending' check (email_state in ('pending', 'sent', 'skipped', 'failed')),
    email_tries  integer not null default 0,
    email_error  text
);
create index notifications_account on notifications (account_id, id desc);
create index notifications_email_pending on notifications (id) where email_state = 'pending';

-- What each user has read.
create table notification_reads (
    user_id          text not null references users (id) on delete cascade,
    notification_id  bigint not null references notifications (id) on delete cascade,
    read_at          timestamptz not null default now(),
    primary key (user_id, notification_id)
);
