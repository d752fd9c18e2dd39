-- Webhooks may be called with PUT (a body, like POST).
alter table webhooks drop constraint webhooks_http_method_check;
alter table webhooks add constraint webhooks_http_method_check check (http_method in ('GET', 'POST', 'PUT'));
