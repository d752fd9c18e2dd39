-- Fair, crash-quick delivery.

-- Each delivery process says it is alive every few seconds. The triggers a process holds in
-- flight are given back as soon as its liveness runs out (it crashed or lost the database),
-- whatever the request timeout.
create table delivery_workers (
    id           bigint primary key,
    started_at   timestamptz not null default clock_timestamp(),
    alive_until  timestamptz not null
);

-- The endpoint's host and port ("authority"), lower-cased: calls in flight are capped per
-- host as well as per account, so one slow host cannot hold every delivery slot.
alter table webhooks
    add column endpoint_host text generated always as (
        lower(substring(external_url from '^[A-Za-z][A-Za-z0-9+.-]*://(?:[^@/?#]*@)?([^/?#]*)'))
    ) stored,
    -- Optional: at most this many calls per second to this webhook's endpoint.
    add column rate_limit integer check (rate_limit between 1 and 1000);
