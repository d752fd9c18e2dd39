-- Health at a glance: each webhook's calls per hour (the list's Health column, the Statistics
-- tab's charts), a periodically refreshed 24 h success rate to sort the list by, and an index
-- for the list's "failing" filter.

-- One row per webhook and hour (UTC) with calls: the calls the statistics count (no test pings,
-- no redeliveries), how many failed, and a latency histogram: `latency[i]` calls took at most
-- the i-th bound of src/latency.rs (1, 2, 5, 10 … 500,000 ms; the last slot is beyond it).
-- Written in the transaction that records the calls; removed by retention.
create table webhook_hourly_stats (
    webhook_id  text not null references webhooks (id) on delete cascade,
    hour        timestamptz not null,
    calls       integer not null,
    failures    integer not null,
    latency     integer[] not null,
    primary key (webhook_id, hour)
) with (fillfactor = 80);
-- The refresh of every webhook's 24 h rate and retention read by hour.
create index webhook_hourly_stats_hour on webhook_hourly_stats (hour);

-- Latency histograms are added element by element (an upsert adds a call's to its hour's).
create function latency_add(a integer[], b integer[]) returns integer[]
    language sql immutable parallel safe
    return (select coalesce(array_agg(coalesce(x, 0) + coalesce(y, 0) order by i), '{}')
            from unnest(a, b) with ordinality as u(x, y, i));
create aggregate latency_sum(integer[]) (sfunc = latency_add, stype = integer[], initcond = '{}');
-- One call's histogram: a 1 in its slot.
create function latency_one(slot integer, slots integer) returns integer[]
    language sql immutable parallel safe
    return (select array_agg((i = slot)::int order by i) from generate_series(0, slots - 1) i);

-- The success rate of the last 24 h in basis points (9870 = 98.7 %), null without calls;
-- refreshed every minute for sorting (the Health column itself reads the hourly rows).
alter table webhooks add column health_bp integer;
-- Sorted by health, worst first and best first, webhooks without calls last either way.
create index webhooks_account_health_worst on webhooks (account_id, (coalesce(health_bp, 10001)), id);
create index webhooks_account_health_best on webhooks (account_id, (coalesce(health_bp, -1)) desc, id desc);
-- "Failing": a failure in the last hour.
create index webhooks_account_last_failure on webhooks (account_id, last_failure_at)
    where last_failure_at is not null;

-- The calls already kept, in their hours (the bounds as in src/latency.rs).
insert into webhook_hourly_stats (webhook_id, hour, calls, failures, latency)
select webhook_id, date_trunc('hour', started_at at time zone 'UTC') at time zone 'UTC', count(*),
       count(*) filter (where not success),
       latency_sum(latency_one((select count(*)::int from unnest(array[1, 2, 5, 10, 20, 50, 100, 200, 500,
                                   1000, 2000, 5000, 10000, 20000, 50000, 100000, 200000, 500000]) b
                                where b < duration_ms), 19))
from webhook_attempts
where not test and redelivery_of is null
group by 1, 2;

update webhooks w set health_bp = (10000 * (h.calls - h.failures) / h.calls)::int
from (select webhook_id, sum(calls) as calls, sum(failures) as failures from webhook_hourly_stats
      where hour >= date_trunc('hour', now() at time zone 'UTC') at time zone 'UTC' - interval '23 hours'
      group by webhook_id) h
where h.webhook_id = w.id and h.calls > 0;
