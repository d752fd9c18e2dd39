-- Health at a glance: each webhook's calls per hour (the list's Health column, the Statistics
-- tab's charts), a periodically refreshed 24 h success rate to sort the list by, and an index
-- for the list's "failing" filter.

-- One row per webhook and hour (UTC) with calls: the calls the statistics count (no test pings,
-- no redeliveries), how many failed, and a latency histogram: `latency[i]` calls took at most
-- the i-th bound of src/latency.rs (1, 2, 5, 10 … 500,000 ms) and more than the one before,
-- `latency[19]` longer; slots after the last one with calls are not stored (most hours of
-- most webhooks have a call or two). Written in the transaction that records the calls;
-- removed by retention. Most rows are never updated after their hour; a busy webhook's row
-- is, many times within its hour (in-page updates: a little room left on each page).
create table webhook_hourly_stats (
    webhook_id  text not null references webhooks (id) on delete cascade,
    hour        timestamptz not null,
    calls       integer not null,
    failures    integer not null,
    latency     integer[] not null,
    primary key (webhook_id, hour)
) with (fillfactor = 90);
-- The refresh of every webhook's 24 h rate and retention read by hour.
create index webhook_hourly_stats_hour on webhook_hourly_stats (hour);

-- Latency histograms are added element by element (an upsert adds a call's to its hour's).
create function latency_add(a integer[], b integer[]) returns integer[]
    language sql immutable parallel safe
    return (select coalesce(array_agg(coalesce(x, 0) + coalesce(y, 0) order by i), '{}')
            from unnest(a, b) with ordinality as u(x, y, i));
create aggregate latency_sum(integer[]) (sfunc = latency_add, stype = integer[], initcond = '{}');
-- One call's histogram: a 1 in its slot (0-based), nothing after it.
create function latency_one(slot integer) returns integer[]
    language sql immutable parallel safe
    return (select array_agg((i = slot)::int order by i) from generate_series(0, slot) i);

-- The success rate of the last 24 h in basis points (9870 = 98.7 %), null without calls;
-- refreshed every minute for sorting (the Health column itself reads the hourly rows).
alter table webhooks add column health_bp integer;
-- Sorted by health, worst first and best first, webhooks without calls last either way.
create index webhooks_account_health_worst on webhooks (account_id, (coalesce(health_bp, 10001)), id);
create index webhooks_account_health_best on webhooks (account_id, (coalesce(health_bp, -1)) desc, id desc);
-- The refresh finds the rated webhooks whose calls have all left the 24 h.
create index webhooks_rated on webhooks (id) where health_bp is not null;
-- "Failing": a failure in the last hour.
create index webhooks_account_last_failure on webhooks (account_id, last_failure_at)
    where last_failure_at is not null;

-- The calls already kept, in their hours. A call's slot is how many bounds it exceeds: the
-- bounds of src/latency.rs plus one ms are the thresholds `width_bucket` counts.
insert into webhook_hourly_stats (webhook_id, hour, calls, failures, latency)
select webhook_id, hour, count(*), count(*) filter (where not success),
       (array[count(*) filter (where slot = 0), count(*) filter (where slot = 1), count(*) filter (where slot = 2),
              count(*) filter (where slot = 3), count(*) filter (where slot = 4), count(*) filter (where slot = 5),
              count(*) filter (where slot = 6), count(*) filter (where slot = 7), count(*) filter (where slot = 8),
              count(*) filter (where slot = 9), count(*) filter (where slot = 10), count(*) filter (where slot = 11),
              count(*) filter (where slot = 12), count(*) filter (where slot = 13), count(*) filter (where slot = 14),
              count(*) filter (where slot = 15), count(*) filter (where slot = 16), count(*) filter (where slot = 17),
              count(*) filter (where slot = 18)]::integer[])[1 : max(slot) + 1]
from (select webhook_id, date_trunc('hour', started_at at time zone 'UTC') at time zone 'UTC' as hour, success,
             width_bucket(duration_ms, array[2, 3, 6, 11, 21, 51, 101, 201, 501, 1001, 2001, 5001, 10001, 20001,
                                             50001, 100001, 200001, 500001]) as slot
      from webhook_attempts
      where not test and redelivery_of is null) a
group by 1, 2;

update webhooks w set health_bp = (10000 * (h.calls - h.failures) / h.calls)::int
from (select webhook_id, sum(calls) as calls, sum(failures) as failures from webhook_hourly_stats
      where hour >= date_trunc('hour', now() at time zone 'UTC') at time zone 'UTC' - interval '23 hours'
      group by webhook_id) h
where h.webhook_id = w.id and h.calls > 0;
