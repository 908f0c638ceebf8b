"""/admin through the bridge's real app (``create_app``) as a browser would use it: sign-in and
lock-out, sessions, CSRF on every form, refusals that say why, and staff changes audited."""

from __future__ import annotations

import html
import json
import re
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from admin.conftest import FAST_HASHER, Clock, CountingHasher, make_client
from cashier_bridge.permissions import StaffRole
from cashier_bridge.pools import Pool
from cashier_bridge.registry import NewCustomer, Registry
from cashier_bridge.registry.schema import audit_log
from cashier_bridge.registry.staff import LoginRefused

PW = "correct horse battery"
USERS = {"root": StaffRole.admin, "maja": StaffRole.manager, "kim": StaffRole.cashier}


def staffed_sqlite(path: Path, clock: Clock) -> Registry:
    """A SQLite registry with one staff member of each role in USERS (password PW).  SQLite
    only: the stores under the pages run on both databases in the registry tests."""
    reg = Registry.open(f"sqlite:///{path}")
    reg.staff.hasher = FAST_HASHER
    reg.staff.clock = clock
    for name, role in USERS.items():
        reg.staff.add(name, PW, role, display_name=name.title())
    return reg


@pytest.fixture
def registry(tmp_path: Path, clock: Clock) -> Iterator[Registry]:
    reg = staffed_sqlite(tmp_path / "admin.db", clock)
    reg.customers.create_new("seed-1", NewCustomer("Anna", "Andersson", phone="+46701234567",
                                                   customer_code="1001"))
    reg.customers.create_new("seed-2", NewCustomer("Bo", "Berg", customer_code="1002"))
    yield reg
    reg.close()


def csrf_of(page: httpx.Response) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert found, page.text
    return found.group(1)


def text_of(page: httpx.Response, element_id: str) -> str:
    found = re.search(rf'id="{element_id}"[^>]*>(.*?)</', page.text, re.S)
    assert found, f"no #{element_id} in {page.text}"
    return html.unescape(found.group(1)).strip()


def try_login(client: TestClient, username: str, password: str = PW,
              next_: str = "") -> httpx.Response:
    form = client.get("/admin/login")
    return client.post("/admin/login", data={"csrf": csrf_of(form), "username": username,
                                             "password": password, "next": next_})


def login(client: TestClient, username: str) -> str:
    """Sign in; the CSRF token of the new session (from the page it lands on)."""
    done = try_login(client, username)
    assert done.status_code == 303, done.text
    return csrf_of(client.get("/admin/account"))


def audit_count(registry: Registry) -> int:
    with registry.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(audit_log)).scalar_one())


# --- signing in --------------------------------------------------------------------------------

def test_login_sets_a_strict_httponly_session_cookie(client: TestClient) -> None:
    response = try_login(client, "Root")  # usernames ignore case
    assert response.status_code == 303 and response.headers["location"] == "/admin/customers"
    cookie = response.headers["set-cookie"]
    assert cookie.startswith("selfreg_staff=") and "HttpOnly" in cookie
    assert "SameSite=strict" in cookie and "Path=/" in cookie
    assert "Secure" not in cookie  # plain HTTP: a Secure cookie would never come back
    shell = client.get("/admin/customers")
    assert shell.status_code == 200
    assert text_of(shell, "me") == "Root (admin)"
    assert [label for label in ("Customers", "Groups", "Import/Export", "Staff", "Settings")
            if f">{label}</a>" in shell.text] == ["Customers", "Groups", "Import/Export",
                                                  "Staff", "Settings"]


def test_over_https_the_cookie_is_secure(registry: Registry, tmp_path: Path,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    with make_client(registry, tmp_path, monkeypatch, "https://testserver") as c:
        response = try_login(c, "kim")
        assert response.status_code == 303
        assert "Secure" in response.headers["set-cookie"]


def test_a_cashiers_shell_shows_only_what_they_may_open(client: TestClient) -> None:
    login(client, "kim")
    shell = client.get("/admin/customers")
    assert text_of(shell, "me") == "Kim (cashier)"
    assert ">Customers</a>" in shell.text and ">Groups</a>" in shell.text
    for hidden in ("Import/Export", "Staff", "Settings"):
        assert f">{hidden}</a>" not in shell.text


def test_wrong_password_and_unknown_username_say_the_same(client: TestClient) -> None:
    wrong = try_login(client, "kim", "not the password")
    unknown = try_login(client, "nobody", PW)
    for response in (wrong, unknown):
        assert response.status_code == 401
        assert text_of(response, "error") == "Wrong username or password."
        assert "selfreg_staff=" not in response.headers.get("set-cookie", "")
    assert 'value="kim"' in wrong.text  # the username stays typed in
    assert client.get("/admin/customers").status_code == 303


def test_locked_after_five_failures_and_open_again_after_15_minutes(
        client: TestClient, clock: Clock) -> None:
    for _ in range(4):
        assert try_login(client, "kim", "wrong guess!").status_code == 401
    fifth = try_login(client, "kim", "wrong guess!")
    assert fifth.status_code == 429
    assert "locked for 15 minutes" in text_of(fifth, "error")
    right = try_login(client, "kim", PW)  # the right password, but locked
    assert right.status_code == 429 and "locked for 15 minutes" in text_of(right, "error")
    clock.advance(minutes=14)
    assert "locked for 1 minute." in text_of(try_login(client, "kim", PW), "error")
    clock.advance(minutes=1)
    assert try_login(client, "kim", PW).status_code == 303


def test_an_admin_unlocks_a_locked_account(client: TestClient) -> None:
    for _ in range(5):
        try_login(client, "kim", "wrong guess!")
    csrf = login(client, "root")
    page = client.get("/admin/staff/kim")
    assert text_of(page, "status").startswith("locked until 2026-11-24 09:15")
    assert client.post("/admin/staff/kim/unlock", data={"csrf": csrf}).status_code == 303
    assert text_of(client.get("/admin/staff/kim?done=unlocked"), "status") == "active"
    client.cookies.clear()
    assert try_login(client, "kim").status_code == 303


def test_sign_in_sends_you_back_where_you_were_going(client: TestClient) -> None:
    away = client.get("/admin/staff")
    assert away.status_code == 303
    assert away.headers["location"] == "/admin/login?next=%2Fadmin%2Fstaff"
    assert try_login(client, "root", next_="/admin/staff").headers["location"] == "/admin/staff"


def test_sign_in_never_sends_you_to_another_site(client: TestClient) -> None:
    for target in ("https://evil.example/", "//evil.example/admin", "/m/privacy"):
        client.cookies.clear()
        assert try_login(client, "root", next_=target).headers["location"] == \
            "/admin/customers"


def test_the_sign_in_form_needs_its_own_csrf_token(client: TestClient) -> None:
    response = client.post("/admin/login", data={"username": "root", "password": PW})
    assert response.status_code == 403
    assert "came from another page; nothing was sent" in text_of(response, "error")
    assert "selfreg_staff=" not in response.headers.get("set-cookie", "")


def test_a_session_ends_after_30_idle_minutes(client: TestClient, clock: Clock) -> None:
    login(client, "kim")
    clock.advance(minutes=29)
    assert client.get("/admin/customers").status_code == 200
    clock.advance(minutes=30, seconds=1)
    assert client.get("/admin/customers").headers["location"].startswith("/admin/login")


# --- signing out -------------------------------------------------------------------------------

def test_logout_ends_the_session(client: TestClient) -> None:
    csrf = login(client, "kim")
    old_cookie = client.cookies["selfreg_staff"]
    response = client.post("/admin/logout", data={"csrf": csrf})
    assert response.headers["location"] == "/admin/login?signed_out=1"
    assert text_of(client.get(response.headers["location"]), "signed-out") == \
        "You are signed out."
    client.cookies.set("selfreg_staff", old_cookie)  # a copied cookie is dead too
    assert client.get("/admin/customers").status_code == 303


@pytest.mark.parametrize("token", [None, "", "not-the-token"])
def test_logout_without_the_csrf_token_is_refused(client: TestClient, token: str | None) -> None:
    login(client, "kim")
    response = client.post("/admin/logout", data={} if token is None else {"csrf": token})
    assert response.status_code == 403
    assert "did not carry the security code" in text_of(response, "reason")
    assert "Nothing was changed" in text_of(response, "reason")
    assert client.get("/admin/customers").status_code == 200  # still signed in


# --- CSRF on changes ---------------------------------------------------------------------------

@pytest.mark.parametrize("token", [None, "", "not-the-token"])
def test_a_form_without_the_sessions_token_changes_nothing(client: TestClient, registry: Registry,
                                                           token: str | None) -> None:
    login(client, "root")
    before = audit_count(registry)
    form = {"username": "eva", "role": "manager", "password": PW, "password_again": PW}
    if token is not None:
        form["csrf"] = token
    response = client.post("/admin/staff/new", data=form)
    assert response.status_code == 403
    assert "did not carry the security code" in text_of(response, "reason")
    role = client.post("/admin/staff/kim/role", data={**form, "role": "admin"})
    assert role.status_code == 403
    assert [a.username for a in registry.staff.list()] == ["kim", "maja", "root"]
    assert registry.staff.get("kim").role is StaffRole.cashier
    assert audit_count(registry) == before


def test_another_sessions_token_is_not_this_ones(client: TestClient, registry: Registry,
                                                 tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    with make_client(registry, tmp_path, monkeypatch) as other:
        their_token = login(other, "root")
    login(client, "root")
    response = client.post("/admin/staff/kim/disable", data={"csrf": their_token})
    assert response.status_code == 403
    assert registry.staff.get("kim").disabled_at is None


# --- refusals ----------------------------------------------------------------------------------

PAGES = {  # page: the least role that may open it
    "/admin/customers": StaffRole.cashier,
    "/admin/groups": StaffRole.cashier,
    "/admin/account": StaffRole.cashier,
    "/admin/import-export": StaffRole.manager,
    "/admin/staff": StaffRole.admin,
    "/admin/staff/new": StaffRole.admin,
    "/admin/staff/kim": StaffRole.admin,
    "/admin/settings": StaffRole.admin,
}
REASONS = {
    "/admin/import-export": "Only managers and admins may export customers as a CSV file",
    "/admin/staff": "Only admins may manage staff accounts",
    "/admin/staff/new": "Only admins may manage staff accounts",
    "/admin/staff/kim": "Only admins may manage staff accounts",
    "/admin/settings": "Only admins may change the settings",
}


@pytest.mark.parametrize("username", list(USERS))
def test_every_page_opens_or_says_why_not(client: TestClient, username: str) -> None:
    login(client, username)
    role = USERS[username]
    for path, least in PAGES.items():
        response = client.get(path)
        if role.covers(least):
            assert response.status_code == 200, (path, response.text)
        else:
            assert response.status_code == 403, path
            assert text_of(response, "reason") == \
                f"{REASONS[path]}; you are signed in as a {role.value}."


STAFF_CHANGES = {  # path, form (besides csrf)
    "/admin/staff/new": {"username": "eva", "role": "cashier", "password": PW,
                         "password_again": PW},
    "/admin/staff/kim/role": {"role": "admin"},
    "/admin/staff/kim/password": {"password": "a brand new secret",
                                  "password_again": "a brand new secret"},
    "/admin/staff/kim/disable": {},
    "/admin/staff/kim/unlock": {},
}


@pytest.mark.parametrize("username", ["maja", "kim"])
@pytest.mark.parametrize("path", list(STAFF_CHANGES))
def test_staff_changes_by_non_admins_are_refused_and_change_nothing(
        client: TestClient, registry: Registry, username: str, path: str) -> None:
    for _ in range(3):  # something for unlock to undo
        try_login(client, "kim", "wrong guess!")
    csrf = login(client, username)
    before = (registry.staff.list(), audit_count(registry))
    response = client.post(path, data={"csrf": csrf, **STAFF_CHANGES[path]})
    assert response.status_code == 403
    assert text_of(response, "reason") == ("Only admins may manage staff accounts; you are "
                                           f"signed in as a {USERS[username].value}.")
    assert (registry.staff.list(), audit_count(registry)) == before
    client.cookies.clear()
    assert try_login(client, "kim", PW).status_code == 303  # kim's password is unchanged


# --- staff management --------------------------------------------------------------------------

def test_an_admin_adds_a_manager_and_the_profile_shows_the_audit(client: TestClient,
                                                                 registry: Registry) -> None:
    csrf = login(client, "root")
    response = client.post("/admin/staff/new", data={
        "csrf": csrf, "username": "Eva", "display_name": "Eva Ek", "role": "manager",
        "password": PW, "password_again": PW})
    assert response.headers["location"] == "/admin/staff/Eva?done=added"
    page = client.get(response.headers["location"])
    assert text_of(page, "done") == "The staff account was added."
    assert (text_of(page, "username"), text_of(page, "role")) == ("Eva", "manager")
    history = page.text[page.text.index('id="history"'):]
    assert "staff:root" in history and "account added" in history
    assert "role: <ins>manager</ins>" in history
    with registry.engine.connect() as conn:
        row = conn.execute(select(audit_log).order_by(audit_log.c.id.desc())).first()
    assert row is not None and (row.actor, row.action) == ("staff:root", "staff_add")
    detail = json.loads(row.detail)
    assert detail["before"] is None
    assert detail["after"] == {"username": "Eva", "display_name": "Eva Ek", "role": "manager",
                               "disabled": False, "locked_until": None}
    assert PW not in row.detail
    client.cookies.clear()
    assert try_login(client, "eva").status_code == 303


def test_a_bad_new_account_keeps_what_was_typed_and_says_why(client: TestClient,
                                                             registry: Registry) -> None:
    csrf = login(client, "root")
    differ = client.post("/admin/staff/new", data={
        "csrf": csrf, "username": "eva", "display_name": "Eva Ek", "role": "manager",
        "password": PW, "password_again": PW + "!"})
    assert differ.status_code == 422
    assert text_of(differ, "error") == "The two passwords differ; type the same one twice."
    assert 'value="Eva Ek"' in differ.text and '"manager" selected' in differ.text
    taken = client.post("/admin/staff/new", data={
        "csrf": csrf, "username": "KIM", "role": "cashier", "password": PW,
        "password_again": PW})
    assert taken.status_code == 409
    assert text_of(taken, "error") == \
        "There is already a staff account 'KIM' (usernames ignore case)."
    short = client.post("/admin/staff/new", data={
        "csrf": csrf, "username": "eva", "role": "cashier", "password": "short",
        "password_again": "short"})
    assert text_of(short, "error") == "A password needs at least 10 characters."
    assert [a.username for a in registry.staff.list()] == ["kim", "maja", "root"]


def test_change_role_reset_password_disable_enable(client: TestClient,
                                                   registry: Registry) -> None:
    csrf = login(client, "root")
    assert client.post("/admin/staff/kim/role",
                       data={"csrf": csrf, "role": "manager"}).status_code == 303
    assert client.post("/admin/staff/kim/password", data={
        "csrf": csrf, "password": "a brand new secret",
        "password_again": "a brand new secret"}).status_code == 303
    assert client.post("/admin/staff/kim/disable", data={"csrf": csrf}).status_code == 303
    page = client.get("/admin/staff/kim")
    assert text_of(page, "role") == "manager"
    assert text_of(page, "status").startswith("disabled since")
    history = page.text[page.text.index('id="history"'):]
    for entry in ("role changed", "password changed", "disabled"):
        assert entry in history
    assert "role: <del>cashier</del> → <ins>manager</ins>" in history
    assert client.post("/admin/staff/kim/enable", data={"csrf": csrf}).status_code == 303
    client.cookies.clear()
    assert try_login(client, "kim", PW).status_code == 401
    assert try_login(client, "kim", "a brand new secret").status_code == 303
    assert text_of(client.get("/admin/customers"), "me") == "Kim (manager)"


def test_the_last_admin_is_kept_with_the_reason(client: TestClient, registry: Registry) -> None:
    csrf = login(client, "root")
    response = client.post("/admin/staff/root/role", data={"csrf": csrf, "role": "cashier"})
    assert response.status_code == 409
    assert "nobody else is an admin" in text_of(response, "error")
    own = client.post("/admin/staff/root/disable", data={"csrf": csrf})
    assert text_of(own, "error") == "You cannot disable your own account; another admin can."
    assert registry.staff.get("root").role is StaffRole.admin


def test_an_unknown_account_is_a_404_page(client: TestClient) -> None:
    csrf = login(client, "root")
    for response in (client.get("/admin/staff/ghost"),
                     client.post("/admin/staff/ghost/disable", data={"csrf": csrf})):
        assert response.status_code == 404
        assert text_of(response, "reason") == "There is no staff account 'ghost'."


def test_disabling_signs_the_account_out_at_once(client: TestClient, registry: Registry,
                                                 tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    with make_client(registry, tmp_path, monkeypatch) as kims:
        login(kims, "kim")
        csrf = login(client, "root")
        client.post("/admin/staff/kim/disable", data={"csrf": csrf})
        assert kims.get("/admin/customers").status_code == 303


# --- my account --------------------------------------------------------------------------------

def test_change_my_password(client: TestClient, registry: Registry, tmp_path: Path,
                            monkeypatch: pytest.MonkeyPatch) -> None:
    with make_client(registry, tmp_path, monkeypatch) as elsewhere:
        login(elsewhere, "kim")
        csrf = login(client, "kim")
        wrong = client.post("/admin/account/password", data={
            "csrf": csrf, "current": "not it at all", "password": "a brand new secret",
            "password_again": "a brand new secret"})
        assert wrong.status_code == 422
        assert text_of(wrong, "error") == \
            "Your current password is not right; nothing was changed."
        done = client.post("/admin/account/password", data={
            "csrf": csrf, "current": PW, "password": "a brand new secret",
            "password_again": "a brand new secret"})
        assert done.headers["location"] == "/admin/account?done=own_password"
        assert client.get("/admin/account").status_code == 200  # this browser stays in
        assert elsewhere.get("/admin/account").status_code == 303  # the other is signed out
    assert registry.staff.history("kim")[0].actor == "staff:kim"


# --- lock-out, throttling and known devices (issue 16, findings 6 and 7) ---------------------

def set_cookie(response: httpx.Response, name: str) -> str:
    found = [c for c in response.headers.get_list("set-cookie") if c.startswith(f"{name}=")]
    assert len(found) == 1, response.headers.get_list("set-cookie")
    return found[0]


def test_unknown_and_known_names_answer_alike_and_lock_alike(
        registry: Registry, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    seen = {}
    for name, address in (("kim", "10.0.0.2"), ("nobody", "10.0.0.3")):
        with make_client(registry, tmp_path, monkeypatch, address=address) as browser:
            answers = [try_login(browser, name, "wrong guess!") for _ in range(6)]
            seen[name] = [(a.status_code, text_of(a, "error"), a.headers.get("retry-after"))
                          for a in answers]
    assert seen["kim"] == seen["nobody"]
    assert [status for status, _text, _wait in seen["kim"]] == [401] * 4 + [429, 429]
    assert seen["kim"][4][1].startswith(
        "Too many failed logins: this account is locked for 15 minutes.")
    assert seen["kim"][4][2] == "900"


def test_twenty_names_from_one_address_are_throttled_and_another_address_gets_in(
        registry: Registry, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    spy = registry.staff.hasher = CountingHasher()
    # The failures counted in the database, chain-wide; the door's own per-process limit on
    # asking for the page (test_sign_in_gate.py) is set aside here.
    monkeypatch.setenv("SELFREG_SIGN_IN_REQUESTS_PER_MINUTE", "1000")
    with make_client(registry, tmp_path, monkeypatch, address="203.0.113.7") as attacker:
        answers = [try_login(attacker, f"user{i}", "wrong guess!") for i in range(20)]
        assert [a.status_code for a in answers] == [401] * 9 + [429] * 11
        last = answers[-1]
        assert text_of(last, "error").startswith(
            "Too many failed sign-ins from your address: try again in 15 minutes.")
        assert last.headers["retry-after"] == "900"
        assert spy.verifies == 10  # refused before any hashing once throttled
        assert try_login(attacker, "root").status_code == 429  # the right password, too
    with make_client(registry, tmp_path, monkeypatch, address="198.51.100.2") as office:
        assert try_login(office, "root").status_code == 303
        staff = office.get("/admin/staff")
        assert text_of(staff, "alerts-note").startswith("Failed sign-ins")
        alert = text_of(staff, "alert-0")
        assert "203.0.113.7" in alert and "back office" in alert and "15 minutes" in alert


def test_a_known_device_gets_a_locked_out_admin_in(registry: Registry, tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    with make_client(registry, tmp_path, monkeypatch, address="10.0.0.2") as admins:
        first = try_login(admins, "root")
        cookie = set_cookie(first, "selfreg_staff_device")
        for attribute in ("HttpOnly", "SameSite=strict", "Path=/admin/login",
                          "Max-Age=31536000"):
            assert attribute in cookie
        csrf = csrf_of(admins.get("/admin/account"))
        assert admins.post("/admin/logout", data={"csrf": csrf}).status_code == 303

        with make_client(registry, tmp_path, monkeypatch, address="203.0.113.7") as attacker:
            for _ in range(5):
                try_login(attacker, "root", "wrong guess!")
            assert try_login(attacker, "root").status_code == 429
        # Another browser in the same office, without the cookie: locked like everyone else.
        with make_client(registry, tmp_path, monkeypatch, address="10.0.0.2") as other:
            assert try_login(other, "root").status_code == 429
        assert try_login(admins, "root", "wrong guess!").status_code == 429
        back = try_login(admins, "root")
        assert back.status_code == 303
        page = admins.get("/admin/staff/root")
        assert text_of(page, "status") == "active"
        assert "<td>unlocked</td>" in page.text  # in the account's history
    with make_client(registry, tmp_path, monkeypatch, address="10.0.0.9") as anywhere:
        assert try_login(anywhere, "root").status_code == 303  # the lock was lifted


def test_wrong_current_passwords_lock_the_account_like_sign_in(
        client: TestClient, registry: Registry, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    csrf = login(client, "kim")

    def change(current: str) -> httpx.Response:
        return client.post("/admin/account/password", data={
            "csrf": csrf, "current": current, "password": "a brand new secret",
            "password_again": "a brand new secret"})

    for _ in range(4):
        assert change("not it at all").status_code == 422
    fifth = change("not it at all")
    assert fifth.status_code == 429 and fifth.headers["retry-after"] == "900"
    assert text_of(fifth, "error") == (
        "Too many wrong passwords: your account is locked for 15 minutes, and nothing was "
        "changed. You stay signed in here; an admin can unlock it sooner.")
    assert change(PW).status_code == 429  # the right one too, while locked
    assert client.get("/admin/account").status_code == 200  # still signed in here
    with make_client(registry, tmp_path, monkeypatch, address="10.0.0.3") as elsewhere:
        assert try_login(elsewhere, "kim").status_code == 429
    assert registry.staff.history("kim")[0].action == "staff_locked"
    assert isinstance(registry.staff.login("kim", "a brand new secret", address="10.0.0.4"),
                      LoginRefused)


def test_every_password_is_hashed_and_checked_on_the_passwords_thread(
        client: TestClient, registry: Registry) -> None:
    spy = registry.staff.hasher = CountingHasher()
    csrf = login(client, "root")  # a sign-in verifies
    assert client.post("/admin/staff/new", data={
        "csrf": csrf, "username": "nils", "display_name": "", "role": "cashier",
        "password": "a long enough secret", "password_again": "a long enough secret",
    }).status_code == 303  # adding hashes
    assert client.post("/admin/staff/nils/password", data={
        "csrf": csrf, "password": "another long secret",
        "password_again": "another long secret"}).status_code == 303  # a reset hashes
    assert client.post("/admin/account/password", data={
        "csrf": csrf, "current": PW, "password": "a brand new secret",
        "password_again": "a brand new secret"}).status_code == 303  # verifies, then hashes
    client.cookies.clear()
    try_login(client, "nobody", "wrong guess!")  # the dummy verify
    assert (spy.verifies, spy.hashes) == (3, 3)
    assert {name.split("_")[0] for name in spy.threads} == {"selfreg-passwords"}, spy.threads


def test_a_full_passwords_pool_is_a_503_with_retry_after(
        client: TestClient, registry: Registry) -> None:
    entered, release = threading.Event(), threading.Event()

    class SlowHasher(CountingHasher):
        def verify(self, hash: str | bytes, password: str | bytes) -> bool:
            entered.set()
            release.wait(30)
            return super().verify(hash, password)

    client.app.state.pools.passwords = Pool("passwords", threads=1, limit=1)
    registry.staff.hasher = SlowHasher()
    first: list[httpx.Response] = []
    form = client.get("/admin/login")
    waiting = threading.Thread(target=lambda: first.append(client.post("/admin/login", data={
        "csrf": csrf_of(form), "username": "kim", "password": PW, "next": ""})))
    waiting.start()
    try:
        assert entered.wait(30)
        busy = try_login(client, "root")
        assert busy.status_code == 503 and busy.headers["retry-after"] == "5"
        assert text_of(busy, "error") == ("The bridge is busy checking other passwords; "
                                          "nothing was changed. Try again in a few seconds.")
        assert 'value="root"' in busy.text  # what was typed stays
    finally:
        release.set()
        waiting.join(30)
    assert first[0].status_code == 303


# --- customers ---------------------------------------------------------------------------------

def test_customers_list_and_search(client: TestClient) -> None:
    login(client, "kim")
    listed = client.get("/admin/customers")
    assert "Anna Andersson" in listed.text and "Bo Berg" in listed.text
    found = client.get("/admin/customers", params={"q": "070 123 45 67"})
    assert "Anna Andersson" in found.text and "Bo Berg" not in found.text
    nothing = client.get("/admin/customers", params={"q": "Zlatan"})
    assert text_of(nothing, "nothing") == "No customer matches “Zlatan”."
