-- Redeliver: the same call again, now, with a fresh token; the new call names the one it
-- repeats (no foreign key: retention may remove the original first).
alter table webhook_attempts add column redelivery_of bigint;
