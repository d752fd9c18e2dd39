-- Successful calls' statistics, added up a batch at a time.
--
-- A recorded batch of successful calls used to update each call's webhook row (its counters)
-- and its hour's row: two row writes per call, on top of the attempt and the trigger. Now the
-- batch's statement writes one row here instead: what each of its calls adds (webhook, the
-- hour and latency slot, when it finished, its attempt). The delivery task adds the waiting
-- tallies to the webhooks and their hours a few times a second, each webhook and hour once
-- however many calls it had, deleting the tallies in the same transaction, so every call is
-- counted exactly once, whichever process adds it and whenever one stops. A read of the
-- statistics adds the waiting tallies first, so what it shows includes every recorded call.
-- A success still writes its webhook row at once when the row's state must change with it
-- (failures to reset, out of order to end, an alert to clear, a rate limit to pace by).
create table webhook_call_tallies (
    id            bigserial primary key,
    webhook_ids   text[] not null,
    hours         timestamptz[] not null,
    slots         integer[] not null,
    finished_at   timestamptz[] not null,
    attempt_ids   bigint[] not null
)
-- A queue table: rows live for a fraction of a second.
with (autovacuum_vacuum_scale_factor = 0, autovacuum_vacuum_threshold = 200,
      autovacuum_vacuum_cost_delay = 0);
