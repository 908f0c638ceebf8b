"""/admin/groups through the bridge's real app: list with member counts, create, rename, delete
with confirmation (members fall back to "All customers"), the default group that stays, and
cashiers refused with the reason while nothing changes."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from admin import test_customer_pages as pages
from admin.test_admin_http import audit_count, csrf_of, login, text_of
from cashier_bridge.registry import NewCustomer, Registry

registry = pages.registry  # the same registry; client is the folder's (conftest)

MANAGERS_ONLY = ("Only managers and admins may manage customer groups; you are signed in as "
                 "a cashier.")


def counts(page_text: str) -> dict[str, int]:
    return {name: int(n) for name, n in re.findall(
        r'<a href="/admin/groups/\d+">([^<]+)</a>.*?<td class="num">(\d+)</td>', page_text,
        re.S)}


def test_groups_list_member_counts_and_a_manager_creates_one(client: TestClient,
                                                             registry: Registry) -> None:
    csrf = login(client, "maja")
    page = client.get("/admin/groups")
    assert counts(page.text) == {"All customers": 2}
    done = client.post("/admin/groups", data={"csrf": csrf, "name": "  Företag  AB "})
    assert done.status_code == 303
    page = client.get(done.headers["location"])
    assert text_of(page, "done") == "The group was created."
    assert text_of(page, "group-name") == "Företag AB"
    assert text_of(page, "nothing").startswith("Nobody is in this group.")
    assert counts(client.get("/admin/groups").text) == {"All customers": 2, "Företag AB": 0}


def test_a_taken_or_empty_name_says_why_and_keeps_what_was_typed(client: TestClient,
                                                                 registry: Registry) -> None:
    registry.groups.create("Företag", actor="test")
    csrf = login(client, "maja")
    taken = client.post("/admin/groups", data={"csrf": csrf, "name": "Företag"})
    assert taken.status_code == 409
    assert text_of(taken, "error").startswith("A group called 'Företag' exists already")
    assert 'value="Företag"' in taken.text
    empty = client.post("/admin/groups", data={"csrf": csrf, "name": "  "})
    assert empty.status_code == 422 and text_of(empty, "error") == "The group's name: is empty."
    assert len(registry.groups.list()) == 2


def test_rename_and_delete_with_confirmation_members_fall_back(client: TestClient,
                                                               registry: Registry) -> None:
    group = registry.groups.create("Företag", actor="test")
    anna = registry.customers.find_by_code("1001")
    registry.groups.assign(group.id, [anna.id], actor="test")
    csrf = login(client, "maja")
    members = client.get(f"/admin/groups/{group.id}")
    assert text_of(members, "member-count") == "1 member."
    assert "Anna Andersson" in members.text and "Bo Berg" not in members.text
    renamed = client.post(f"/admin/groups/{group.id}/rename",
                          data={"csrf": csrf, "name": "Företagskunder"})
    page = client.get(renamed.headers["location"])
    assert (text_of(page, "done"), text_of(page, "group-name")) == \
        ("The group was renamed.", "Företagskunder")
    assert registry.customers.get(anna.id).customer_group == "Företagskunder"
    confirm = client.get(f"/admin/groups/{group.id}/delete")
    assert text_of(confirm, "consequence").startswith("Its 1 member will be in “All customers”")
    done = client.post(f"/admin/groups/{group.id}/delete", data={"csrf": csrf})
    assert done.headers["location"] == "/admin/groups?done=group_deleted"
    page = client.get(done.headers["location"])
    assert text_of(page, "done") == "The group was deleted; its members are back in “All " \
                                    "customers”."
    assert counts(page.text) == {"All customers": 2}
    assert registry.customers.get(anna.id).customer_group == "All customers"
    profile = client.get(f"/admin/customers/{anna.id}")
    assert "Group: <del>Företagskunder</del> → <ins>All customers</ins>" in profile.text


def test_the_default_group_says_why_it_stays(client: TestClient, registry: Registry) -> None:
    default = registry.groups.list()[0]
    csrf = login(client, "maja")
    page = client.get(f"/admin/groups/{default.id}")
    assert text_of(page, "default-why") == ("“All customers” cannot be renamed or deleted: it "
                                            "is everyone who is in no other group.")
    assert 'id="rename-group"' not in page.text and 'id="delete-group"' not in page.text
    before = audit_count(registry)
    for response in (client.get(f"/admin/groups/{default.id}/delete"),
                     client.post(f"/admin/groups/{default.id}/delete", data={"csrf": csrf})):
        assert response.status_code == 409
        assert text_of(response, "reason").startswith("“All customers” is everyone who is in "
                                                      "no other group")
    renamed = client.post(f"/admin/groups/{default.id}/rename",
                          data={"csrf": csrf, "name": "Alla"})
    assert renamed.status_code == 409 and "cannot be renamed or deleted" in \
        text_of(renamed, "error")
    assert registry.groups.list()[0].name == "All customers" and audit_count(registry) == before


@pytest.mark.parametrize(("path", "form"), [
    ("/admin/groups", {"name": "Nya"}),
    ("/admin/groups/{id}/rename", {"name": "Nytt namn"}),
    ("/admin/groups/{id}/delete", {}),
    ("/admin/customers/assign", {"group_id": "{id}", "customer": "1"}),
])
def test_a_cashier_may_look_but_not_change_groups(client: TestClient, registry: Registry,
                                                  path: str, form: dict[str, str]) -> None:
    group = registry.groups.create("Företag", actor="test")
    csrf = login(client, "kim")
    page = client.get("/admin/groups")
    assert 'id="create-group"' not in page.text and text_of(page, "groups-why").startswith(
        "Only managers and admins create, rename and delete groups")
    assert 'id="rename-group"' not in client.get(f"/admin/groups/{group.id}").text
    before = (registry.groups.list(), audit_count(registry))
    response = client.post(path.format(id=group.id), data={
        "csrf": csrf, **{k: v.format(id=group.id) for k, v in form.items()}})
    assert response.status_code == 403
    assert text_of(response, "reason") == MANAGERS_ONLY
    assert (registry.groups.list(), audit_count(registry)) == before


def test_group_members_page_on(client: TestClient, registry: Registry) -> None:
    group = registry.groups.create("Många", actor="test")
    ids = [registry.customers.create_new(f"m-{i}", NewCustomer(f"Eva{i:02d}", "Ek"))[0].id
           for i in range(53)]
    registry.groups.assign(group.id, ids, actor="test")
    login(client, "kim")
    first = client.get(f"/admin/groups/{group.id}")
    assert text_of(first, "member-count") == "53 members."
    link = re.search(r'href="([^"]+)" id="next"', first.text).group(1).replace("&amp;", "&")
    second = client.get(link)
    assert re.findall(r">(Eva\d\d) Ek</a>", second.text) == ["Eva50", "Eva51", "Eva52"]


def test_a_missing_group_is_a_404(client: TestClient) -> None:
    login(client, "kim")
    page = client.get("/admin/groups/999")
    assert page.status_code == 404 and text_of(page, "reason") == "There is no group with id 999."


def test_a_form_without_the_csrf_token_changes_no_group(client: TestClient,
                                                       registry: Registry) -> None:
    login(client, "maja")
    response = client.post("/admin/groups", data={"name": "Nya"})
    assert response.status_code == 403
    assert [g.name for g in registry.groups.list()] == ["All customers"]
    assert csrf_of(client.get("/admin/groups"))  # still signed in
