-- Inbound messages (bodies up to the configured limit, 1 MiB by default) leave with the rest
-- of the history after the retention period, unless a call for them is still pending: the
-- housekeeping finds old ones by time and checks their pending calls through this index.
create index inbound_messages_received_idx on inbound_messages (received_at, id);
create index webhook_triggers_message_idx on webhook_triggers (message_id) where message_id is not null;
