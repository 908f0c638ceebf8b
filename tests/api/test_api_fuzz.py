"""No request body or query string an integrator can send makes the API fail with a 500: every
answer is one of the API's own, with its error body."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.api.conftest import Api

FIELDS = ("first_name", "last_name", "email", "phone", "personal_id", "birth_date", "street",
          "postal_code", "city", "country", "group_id", "note", "customer_code",
          "marketing_consent", "sale_id", "register", "total_minor", "currency", "at",
          "purpose", "granted", "source", "name", "customer_ids", "company_name",
          "delivery_postal_code", "account_limit_minor", "account_status", "loyalty_rate_bp")
values = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=40)
    | st.sampled_from(["070-123 45 67", "198503121249", "a@b.se", "1985-03-12", "SEK",
                       "+4670", "\x00", "ERASED-1", "2026-11-20T10:00:00+01:00"]),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner,
                                                                max_size=3),
    max_leaves=5)
bodies = st.dictionaries(st.sampled_from(FIELDS), values, max_size=6) | values
PATHS = ("/customers", "/customers/validate", "/customers/1", "/customers/1/sales",
         "/customers/1/consents", "/groups", "/groups/1", "/groups/2/members")
queries = st.dictionaries(st.sampled_from(["q", "limit", "cursor", "group_id", "x"]),
                          st.text(max_size=12) | st.integers(-5, 500).map(str), max_size=3)
OWN_ERRORS = {"invalid", "not_found", "conflict", "duplicate", "forbidden", "not_allowed",
              "unsupported_media_type", "rate_limited"}


@settings(max_examples=120, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(method=st.sampled_from(["post", "patch", "put"]), path=st.sampled_from(PATHS),
       body=bodies, query=queries)
def test_no_body_makes_a_500(api: Api, method: str, path: str, body: Any,
                             query: dict[str, str]) -> None:
    if not api.get("/customers/1").is_success:
        api.post("/customers", json={"first_name": "Anna", "last_name": "Svensson"})
        api.post("/groups", json={"name": "Staff"})
    answer = api.client.request(method, "/api/v1" + path, json=body, params=query,
                                headers=api.headers("admin"))
    assert answer.status_code < 500, answer.text
    if answer.status_code >= 400:
        assert answer.json()["error"] in OWN_ERRORS, answer.text


@settings(max_examples=80, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(query=queries, path=st.sampled_from(["/customers", "/groups", "/customers/1/sales"]))
def test_no_query_makes_a_500(api: Api, query: dict[str, str], path: str) -> None:
    answer = api.get(path, params=query)
    assert answer.status_code < 500, answer.text
    if answer.status_code >= 400:
        assert answer.json()["error"] in OWN_ERRORS, answer.text
