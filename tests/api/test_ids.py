"""Every id an API route reads — in its path, its query or its body — refuses what ``int()``
and ``str.isdigit()`` let through: a number past the databases' integers, digits other than
0-9, a cursor nested thousands deep (issue 16: each was a 500 with a traceback).  The routes
and their parameters come from the OpenAPI document, so a new route is checked too."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.api.conftest import Api

BAD_IDS = [str(2**63), "²", "١٢", "9" * 30, "0"]
DEEP = "[" * 3000 + "]" * 3000


def _integer(schema: dict[str, Any]) -> bool:
    return schema.get("type") == "integer" or any(
        s.get("type") == "integer" for s in schema.get("anyOf", []))


def _body_fields(document: dict[str, Any], operation: dict[str, Any]) -> Iterator[str]:
    content = operation.get("requestBody", {}).get("content", {}).get("application/json")
    if content is None:
        return
    ref = content["schema"]["$ref"].rsplit("/", 1)[-1]
    for name, schema in document["components"]["schemas"][ref]["properties"].items():
        item = schema.get("items", schema)
        if name.endswith(("_id", "_ids")) and (_integer(item) or _integer(schema)):
            yield name


def id_parameters(document: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    """(method, path, parameter, where) of every id and cursor the API reads."""
    found = []
    for path, operations in document["paths"].items():
        if not path.startswith("/api/"):
            continue  # the back office's pages: tests/admin/test_ids_http.py
        for method, operation in operations.items():
            for p in operation.get("parameters", []):
                if p["in"] in ("path", "query") and (_integer(p["schema"])
                                                     or p["name"] == "cursor"):
                    found.append((method, path, p["name"], p["in"]))
            found += [(method, path, name, "body") for name in _body_fields(document, operation)]
    return found


def test_every_id_of_every_route_refuses_what_is_not_an_id(api: Api) -> None:
    api.post("/customers", json={"first_name": "Anna", "last_name": "Svensson"})
    api.post("/groups", json={"name": "Staff"})
    document = api.client.get("/openapi.json").json()
    checked = id_parameters(document)
    # What the walk must find (a walk that finds nothing proves nothing).
    assert {(name, where) for _m, _p, name, where in checked} >= {
        ("customer_id", "path"), ("group_id", "path"), ("group_id", "query"),
        ("cursor", "query"), ("group_id", "body"), ("customer_ids", "body")}
    for method, path, name, where in checked:
        for bad in [*BAD_IDS, DEEP] if name == "cursor" else BAD_IDS:
            url = path.replace("{customer_id}", "1").replace("{group_id}", "2")
            if where == "path":
                url = path.replace("{" + name + "}", bad).replace("{customer_id}", "1") \
                    .replace("{group_id}", "2")
            params = {name: bad} if where == "query" else None
            body: Any = None
            if where == "body":
                value: Any = int(bad) if bad.isascii() and bad.isdigit() else bad
                body = {name: [value] if name.endswith("_ids") else value,
                        **({"name": "x"} if "groups" in path else
                           {"first_name": "Eva", "last_name": "Ek"} if method == "post"
                           else {})}
            answer = api.client.request(method, url, params=params, json=body,
                                        headers=api.headers("admin"))
            said = f"{method} {url} {name}={bad[:20]!r}: {answer.status_code} {answer.text}"
            assert answer.status_code == 422, said
            fields = [f["field"] for f in answer.json()["fields"]]
            assert any(f == name or f.startswith(name + ".") for f in fields), said
    # Nothing was created, changed or erased by any of it.
    assert [c["first_name"] for c in api.get("/customers").json()["items"]] == ["Anna"]


@pytest.mark.parametrize("bad", [str(2**63), "²"])
def test_a_customer_id_past_the_range_or_not_in_ascii_digits_is_named(api: Api,
                                                                      bad: str) -> None:
    """The reproduction from the issue: GET /customers/9223372036854775808 was a 500."""
    answer = api.get(f"/customers/{bad}")
    assert answer.status_code == 422
    assert answer.json() == {
        "error": "invalid",
        "message": "customer_id: is a whole number from 1 to 9223372036854775807, written "
                   "with the digits 0-9",
        "fields": [{"field": "customer_id", "reason": "is a whole number from 1 to "
                    "9223372036854775807, written with the digits 0-9"}]}
