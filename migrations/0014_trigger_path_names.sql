-- A readable URL per inbound trigger: /hooks/in/<account>/<path_name>, unique in the account.
alter table inbound_triggers
    add column path_name text check (path_name ~ '^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$');
create unique index inbound_triggers_account_path_name on inbound_triggers (account_id, path_name)
    where path_name is not null;
