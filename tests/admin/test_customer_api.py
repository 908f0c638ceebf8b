"""The REST API called with a back-office sign-in (the staff cookie), as the customer list's
search as you type does: the role's actions apply, and a change needs the sign-in's CSRF token
in the X-CSRF-Token header — without it, 403 and nothing changed."""

from __future__ import annotations

from fastapi.testclient import TestClient

from admin import test_customer_pages as pages
from admin.test_admin_http import audit_count, login
from admin.test_customer_pages import anna
from cashier_bridge.registry import Registry

registry = pages.registry  # the same registry; client is the folder's (conftest)

API = "/api/v1"


def test_a_signed_in_cashier_searches_through_the_api(client: TestClient) -> None:
    assert client.get(f"{API}/customers", params={"q": "ann"}).status_code == 401
    login(client, "kim")
    found = client.get(f"{API}/customers", params={"q": "ann"})
    assert found.status_code == 200
    assert [c["last_name"] for c in found.json()["items"]] == ["Andersson"]


def test_a_change_needs_the_csrf_header(client: TestClient, registry: Registry) -> None:
    csrf = login(client, "kim")
    customer_id = anna(registry)
    before = (registry.customers.get(customer_id), audit_count(registry))
    for headers in ({}, {"X-CSRF-Token": "from-another-sign-in"}):
        refused = client.patch(f"{API}/customers/{customer_id}", json={"city": "Lund"},
                               headers=headers)
        assert refused.status_code == 403
        assert refused.json()["message"].startswith(
            "a call with the back-office sign-in that changes something needs the sign-in's "
            "CSRF token in the X-CSRF-Token header")
    assert (registry.customers.get(customer_id), audit_count(registry)) == before
    done = client.patch(f"{API}/customers/{customer_id}", json={"city": "Lund"},
                        headers={"X-CSRF-Token": csrf})
    assert done.status_code == 200 and done.json()["city"] == "Lund"
    assert registry.customers.history(customer_id)[0].actor == "staff:kim"


def test_the_role_decides_not_a_scope(client: TestClient, registry: Registry) -> None:
    csrf = login(client, "kim")
    headers = {"X-CSRF-Token": csrf}
    customer_id = anna(registry)
    before = (registry.customers.get(customer_id), audit_count(registry))
    for method, path, body in (
            ("PATCH", f"/customers/{customer_id}", {"loyalty_rate_bp": 500}),
            ("POST", "/groups", {"name": "Nya"}),
            ("DELETE", f"/customers/{customer_id}", None),
            ("GET", f"/customers/{customer_id}/export", None)):
        refused = client.request(method, API + path, json=body, headers=headers)
        assert refused.status_code == 403, (method, path)
        assert refused.json()["message"].startswith("Only managers and admins may ")
        assert refused.json()["message"].endswith("; you are signed in as a cashier.")
    assert (registry.customers.get(customer_id), audit_count(registry)) == before
    created = client.post(f"{API}/customers", json={"first_name": "Eva", "last_name": "Ek"},
                          headers=headers)
    assert created.status_code == 201 and created.json()["created_via"] == "api"

    client.cookies.clear()
    csrf = login(client, "maja")
    terms = client.patch(f"{API}/customers/{customer_id}", json={"loyalty_rate_bp": 500},
                         headers={"X-CSRF-Token": csrf})
    assert terms.status_code == 200 and terms.json()["loyalty_rate_bp"] == 500
    assert registry.customers.history(customer_id)[0].actor == "staff:maja"


def test_a_signed_out_staff_cookie_is_told_to_sign_in(client: TestClient) -> None:
    client.cookies.set("selfreg_staff", "stale-token")
    answer = client.get(f"{API}/customers")
    assert answer.status_code == 401
    assert answer.json()["message"] == ("your back-office sign-in has ended; sign in again "
                                        "at /admin")


def test_who_may_set_a_field_is_one_rule_for_the_page_and_the_api(client: TestClient,
                                                                  registry: Registry) -> None:
    """A cashier may not move a customer between groups on the profile page; nor through the
    API with the same sign-in (the field table's ``write``: manage_groups)."""
    csrf = login(client, "kim")
    customer_id = anna(registry)
    group = registry.groups.create("Stamkunder", actor="test")
    before = (registry.customers.get(customer_id), audit_count(registry))
    refused = client.patch(f"{API}/customers/{customer_id}", json={"group_id": group.id},
                           headers={"X-CSRF-Token": csrf})
    assert refused.status_code == 403
    assert refused.json()["message"] == ("Only managers and admins may manage customer "
                                         "groups; you are signed in as a cashier.")
    assert refused.json()["needed_action"] == "manage_groups"
    assert (registry.customers.get(customer_id), audit_count(registry)) == before
