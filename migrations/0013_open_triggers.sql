-- Open inbound triggers: calls without a key are accepted (the admin chose it explicitly).
alter table inbound_triggers add column open boolean not null default false;
