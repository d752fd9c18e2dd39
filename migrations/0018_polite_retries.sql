-- Why the portal turned a webhook off by itself (the handler answered 410 Gone), shown on its
-- page until someone enables it again; null when it is on or a person turned it off.
alter table webhooks add column disabled_reason text;
