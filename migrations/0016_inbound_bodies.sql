-- Inbound bodies of any type. A body used to be UTF-8 text of at most 4 KiB, because it
-- travelled inside the signed token (a header). Now a caller may send any bytes (binary, NUL,
-- not UTF-8) up to PORTAL_INBOUND_BODY_MAX_BYTES: the bytes are kept here, and the call tells
-- the handler where to fetch them (body_url) and their SHA-256, inlining only small text.
--
--   body_bytes    every body, exactly as received (null: no body)
--   body_size     its length in bytes (0: no body)
--   body_sha256   lowercase hex SHA-256 of body_bytes (null: no body)
--   body_is_text  the whole body is UTF-8 without NUL, so pages may show it as text
--   body          (kept, meaning narrowed) the text the call carries inline: a small text body,
--                 as before; null when there is no body or it is not inlined. Delivery reads
--                 only this column, never the bytes, so claims stay cheap whatever the size.
--   account_id    the account whose trigger took the call: the public API's tenancy for the
--                 body, which must hold after the trigger is deleted (trigger_id goes null).
alter table inbound_messages
    add column body_bytes   bytea,
    add column body_size    integer not null default 0 check (body_size >= 0),
    add column body_sha256  text check (body_sha256 ~ '^[0-9a-f]{64}$'),
    add column body_is_text boolean not null default false,
    add column account_id   text references accounts (id) on delete cascade;

-- Existing rows: their bodies were UTF-8 text without NUL, all inlined; they stay readable as
-- they were (body unchanged) and gain their bytes, size and digest.
update inbound_messages
   set body_bytes = convert_to(body, 'UTF8'),
       body_size = octet_length(convert_to(body, 'UTF8')),
       body_sha256 = encode(sha256(convert_to(body, 'UTF8')), 'hex'),
       body_is_text = true
 where body is not null and body <> '';

update inbound_messages m
   set account_id = t.account_id
  from inbound_triggers t
 where t.id = m.trigger_id;
-- A message whose trigger is gone: the account of a webhook it was delivered to.
update inbound_messages m
   set account_id = (select w.account_id
                       from webhooks w
                      where w.id in (select a.webhook_id from webhook_attempts a where a.message_id = m.id
                                     union all
                                     select t.webhook_id from webhook_triggers t where t.message_id = m.id)
                      limit 1)
 where m.account_id is null;

-- Together, or not at all.
alter table inbound_messages
    add constraint inbound_messages_body_whole
    check ((body_bytes is null and body_size = 0 and body_sha256 is null)
           or (body_bytes is not null and body_size = octet_length(body_bytes) and body_sha256 is not null));

-- Random binary does not compress: keep bytes out of line without trying (and let a slice of
-- them, the pages' preview, be read without reading the rest).
alter table inbound_messages alter column body_bytes set storage external;
