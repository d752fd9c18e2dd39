-- How a call's body carries the payload, and whether it is wrapped with its md5. Existing
-- webhooks keep today's JSON body, unwrapped.
alter table webhooks
    add column payload_format text not null default 'json' check (payload_format in ('json', 'form', 'xml')),
    add column md5_wrap boolean not null default false;
