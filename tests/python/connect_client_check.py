"""Drives the portal's public API with the unmodified connect-openapi-client from PyPI.

Run by tests/api_python.rs with PORTAL_API_ENDPOINT, PORTAL_API_KEY and PORTAL_PRODUCT_ID set.
"""
import os
import sys

from connect.client import ClientError, ConnectClient, R

endpoint = os.environ["PORTAL_API_ENDPOINT"]
key = os.environ["PORTAL_API_KEY"]
product = os.environ["PORTAL_PRODUCT_ID"]

client = ConnectClient(key, endpoint=endpoint, use_specs=False, max_retries=0)
hooks = client.ns("notifications").collection("webhooks")


def check(condition, message):
    if not condition:
        print("FAILED:", message)
        sys.exit(1)


created = hooks.create(payload={
    "label": "From the Python client",
    "product_id": product,
    "external_url": "https://handler.example.com/hook",
    "object_class": "fulfillment_request",
    "jwt_secret": "JWT-0123456789abcdef",
    "active": True,
    "description": "Created with connect-openapi-client",
    "http_method": "POST",
    "data": {"purpose": "demo"},
    "headers": {"X-Custom-Header": "Connect"},
})
wid = created["id"]
check(wid.startswith("WH-"), f"created id {wid}")
check(created["type"] == "event" and created["stats"]["events"] == 0, f"object shape {created}")

for i in range(3):
    hooks.create(payload={
        "label": f"Paged {i}", "product_id": product, "external_url": "https://handler.example.com/",
        "object_class": "usage_file", "jwt_secret": "JWT-0123456789abcdef", "active": False,
        "description": "", "http_method": "GET",
    })

everything = list(hooks.all())
check(len(everything) == 4, f"list all: {len(everything)}")
check(hooks.all().count() == 4, "count()")
check(len(list(hooks.all().limit(1))) == 4, "paging one at a time follows Content-Range")

got = hooks[wid].get()
check(got["label"] == "From the Python client" and got["headers"] == {"X-Custom-Header": "Connect"}, f"get {got}")

renamed = hooks[wid].update(payload={"label": "Renamed"})
check(renamed["label"] == "Renamed" and renamed["external_url"] == "https://handler.example.com/hook", "partial PUT")
disabled = hooks[wid].update(payload={"active": False})
check(disabled["active"] is False, "disable with {active: false}")

check(len(list(hooks.filter(label="Renamed"))) == 1, "eq filter")
check(len(list(hooks.filter(R().active.eq(False), product__id=product).order_by("-created_at").select("-jwt_secret").limit(10))) == 4, "and/ordering/select")
check(len(list(hooks.filter(type__in=["event", "validator"]))) == 4, "in filter")
check(len(list(hooks.filter(R().label.like("*aged*") | R().label.ilike("*RENAMED*")))) == 4, "or/like/ilike")
check(len(list(hooks.all().search("Ren"))) == 1, "search")

hooks[wid].update(payload={"active": True})
hooks[wid]("trigger").post()
check(hooks[wid].get()["stats"]["events"] == 1, "trigger recorded an event")

try:
    hooks.create(payload={"label": "", "product_id": product, "external_url": "ftp://nope", "object_class": "fulfillment_request",
                          "jwt_secret": "short", "active": True, "description": "", "http_method": "POST"})
    check(False, "a bad webhook was accepted")
except ClientError as e:
    check(e.status_code == 400 and e.error_code == "VAL_001", f"validation error {e}")
    check(any(m.startswith("external_url:") for m in e.errors), f"messages {e.errors}")

try:
    hooks["WH-000-000-000"].get()
    check(False, "unknown id found")
except ClientError as e:
    check(e.status_code == 404 and e.error_code == "NFND_000", f"not found {e}")
check(hooks["WH-000-000-000"].exists() is False, "exists() on 404")

check(hooks[wid].delete() is None, "delete returns None on 204")
check(hooks[wid].exists() is False, "deleted")

bad = ConnectClient("ApiKey SU-000-000-000:nope", endpoint=endpoint, use_specs=False, max_retries=0)
try:
    list(bad.ns("notifications").collection("webhooks").all())
    check(False, "a bad key was accepted")
except ClientError as e:
    check(e.status_code == 401 and e.error_code == "AUTH_001", f"unauthorized {e}")

print("connect-openapi-client: all checks passed")
