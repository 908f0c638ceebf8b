"""The staff store: accounts, sign-in with lock-out, sessions, rehashing and the audit log."""

from __future__ import annotations

import json

import pytest
from argon2 import PasswordHasher
from sqlalchemy import select

from cashier_bridge.permissions import StaffRole
from cashier_bridge.registry import Registry
from cashier_bridge.registry.schema import audit_log, staff, staff_sessions
from cashier_bridge.registry.staff import (
    WRONG_LOGIN,
    LoginRefused,
    SignedIn,
    StaffError,
    UnknownStaff,
    UsernameTaken,
)

from .conftest import Clock

PW = "correct horse battery"


def signed_in(result: SignedIn | LoginRefused) -> SignedIn:
    assert isinstance(result, SignedIn), result
    return result


def refused(result: SignedIn | LoginRefused) -> LoginRefused:
    assert isinstance(result, LoginRefused), result
    return result


def test_add_and_log_in_ignoring_the_case_of_the_username(registry: Registry) -> None:
    added = registry.staff.add("Anna.K", PW, StaffRole.manager, display_name="Anna Karlsson")
    assert (added.username, added.display_name, added.role) == ("Anna.K", "Anna Karlsson",
                                                                StaffRole.manager)
    result = signed_in(registry.staff.login("anna.k", PW))
    assert result.session.staff.username == "Anna.K"
    session = registry.staff.session(result.token)
    assert session is not None and session.staff.id == added.id
    assert session.csrf == result.session.csrf and len(session.csrf) >= 32
    with pytest.raises(UsernameTaken, match=r"already a staff account 'ANNA\.K'"):
        registry.staff.add("ANNA.K", PW, StaffRole.cashier)
    assert registry.staff.count() == 1


def test_only_hashes_are_stored(registry: Registry) -> None:
    registry.staff.add("bo", PW, StaffRole.cashier)
    token = signed_in(registry.staff.login("bo", PW)).token
    with registry.engine.connect() as conn:
        stored = conn.execute(select(staff.c.password_hash)).scalar_one()
        session_keys = conn.execute(select(staff_sessions.c.token_hash)).scalars().all()
        details = " ".join(d or "" for d in conn.execute(select(audit_log.c.detail)).scalars())
    assert stored.startswith("$argon2id$") and PW not in stored
    assert token not in session_keys and len(session_keys) == 1
    assert PW not in details and "argon2" not in details


@pytest.mark.parametrize(("username", "password", "reason"), [
    ("", PW, "a username is needed"),
    ("a" * 49, PW, "at most 48 characters"),
    ("anna karlsson", PW, "not ' '"),
    ("anna", "short", "at least 10 characters"),
    ("anna", "x" * 257, "at most 256 characters"),
    ("annalovisa", "AnnaLovisa", "must not be the username"),
])
def test_bad_accounts_are_refused_with_the_reason(registry: Registry, username: str,
                                                  password: str, reason: str) -> None:
    with pytest.raises(StaffError, match=reason):
        registry.staff.add(username, password, StaffRole.cashier)
    assert registry.staff.count() == 0


def test_an_unknown_role_is_refused(registry: Registry) -> None:
    with pytest.raises(StaffError, match="one of cashier, manager, admin, not 'boss'"):
        registry.staff.add("anna", PW, "boss")


def test_wrong_password_and_unknown_user_get_the_same_answer(registry: Registry) -> None:
    registry.staff.add("anna", PW, StaffRole.cashier)
    wrong = refused(registry.staff.login("anna", "not the password"))
    nobody = refused(registry.staff.login("nobody", PW))
    assert wrong == nobody == LoginRefused(WRONG_LOGIN)
    assert WRONG_LOGIN == "Wrong username or password."


def test_five_failures_lock_for_fifteen_minutes(registry: Registry, clock: Clock) -> None:
    registry.staff.add("anna", PW, StaffRole.cashier)
    for _ in range(4):
        assert refused(registry.staff.login("anna", "wrong guess!")).locked_minutes is None
    fifth = refused(registry.staff.login("anna", "wrong guess!"))
    assert fifth.locked_minutes == 15 and "locked for 15 minutes" in fifth.message
    # The right password does not help while locked.
    clock.advance(minutes=14, seconds=1)
    still = refused(registry.staff.login("anna", PW))
    assert still.locked_minutes == 1 and "locked for 1 minute." in still.message
    clock.advance(minutes=1)
    assert signed_in(registry.staff.login("anna", PW))
    assert registry.staff.get("anna").failed_logins == 0
    entries = registry.staff.history("anna")
    assert [e.action for e in entries] == ["staff_locked", "staff_add"]
    assert entries[0].actor == "system" and entries[0].detail is not None
    assert entries[0].detail["before"]["locked_until"] is None
    assert entries[0].detail["after"]["locked_until"].startswith("2026-11-24T09:15")


def test_a_success_resets_the_count(registry: Registry) -> None:
    registry.staff.add("anna", PW, StaffRole.cashier)
    for _ in range(4):
        refused(registry.staff.login("anna", "wrong guess!"))
    signed_in(registry.staff.login("anna", PW))
    for _ in range(4):
        assert refused(registry.staff.login("anna", "wrong guess!")).locked_minutes is None


def test_unlock_ends_the_lock_at_once(registry: Registry) -> None:
    registry.staff.add("root", PW, StaffRole.admin)
    registry.staff.add("anna", PW, StaffRole.cashier)
    for _ in range(5):
        refused(registry.staff.login("anna", "wrong guess!"))
    registry.staff.unlock("anna", actor="staff:root")
    assert signed_in(registry.staff.login("anna", PW))
    entry = registry.staff.history("anna")[0]
    assert (entry.actor, entry.action) == ("staff:root", "staff_unlock")
    assert entry.detail is not None and entry.detail["after"]["locked_until"] is None


def test_sessions_end_after_30_idle_minutes(registry: Registry, clock: Clock) -> None:
    registry.staff.add("anna", PW, StaffRole.cashier)
    token = signed_in(registry.staff.login("anna", PW)).token
    clock.advance(minutes=29)
    assert registry.staff.session(token) is not None  # and this request counts as activity
    clock.advance(minutes=29)
    assert registry.staff.session(token) is not None
    clock.advance(minutes=30)
    assert registry.staff.session(token) is None
    assert registry.staff.session(token) is None  # gone, not just refused


def test_sessions_end_after_12_hours_however_busy(registry: Registry, clock: Clock) -> None:
    registry.staff.add("anna", PW, StaffRole.cashier)
    token = signed_in(registry.staff.login("anna", PW)).token
    for _ in range(24):  # a request every 29 minutes: 11 h 36 min, never idle
        clock.advance(minutes=29)
        assert registry.staff.session(token) is not None
    clock.advance(minutes=25)  # 12 h 1 min after signing in
    assert registry.staff.session(token) is None


def test_logout_ends_the_session(registry: Registry) -> None:
    registry.staff.add("anna", PW, StaffRole.cashier)
    token = signed_in(registry.staff.login("anna", PW)).token
    registry.staff.logout(token)
    assert registry.staff.session(token) is None


def test_disabling_signs_out_and_refuses_login(registry: Registry) -> None:
    registry.staff.add("root", PW, StaffRole.admin)
    registry.staff.add("anna", PW, StaffRole.cashier)
    token = signed_in(registry.staff.login("anna", PW)).token
    registry.staff.disable("anna", actor="staff:root")
    assert registry.staff.session(token) is None
    assert refused(registry.staff.login("anna", PW)).message == \
        "This account is disabled; ask an admin."
    # Someone guessing learns nothing new from a disabled account.
    assert refused(registry.staff.login("anna", "wrong guess!")).message == WRONG_LOGIN
    registry.staff.enable("anna", actor="staff:root")
    assert signed_in(registry.staff.login("anna", PW))


def test_the_last_admin_cannot_be_demoted_or_disabled(registry: Registry) -> None:
    registry.staff.add("root", PW, StaffRole.admin)
    registry.staff.add("anna", PW, StaffRole.cashier)
    with pytest.raises(StaffError, match="nobody else is an admin"):
        registry.staff.set_role("root", StaffRole.manager, actor="staff:root")
    with pytest.raises(StaffError, match="nobody else is an admin"):
        registry.staff.disable("root", actor="cli")
    with pytest.raises(StaffError, match="cannot disable your own account"):
        registry.staff.disable("root", actor="staff:root")
    assert registry.staff.get("root").role is StaffRole.admin
    assert registry.staff.get("root").disabled_at is None
    registry.staff.set_role("anna", StaffRole.admin, actor="staff:root")
    registry.staff.set_role("root", StaffRole.manager, actor="staff:anna")
    assert registry.staff.get("root").role is StaffRole.manager


def test_role_change_is_audited_with_before_and_after(registry: Registry) -> None:
    registry.staff.add("root", PW, StaffRole.admin)
    registry.staff.add("anna", PW, StaffRole.cashier, actor="staff:root")
    registry.staff.set_role("anna", "manager", actor="staff:root")
    with registry.engine.connect() as conn:
        rows = conn.execute(select(audit_log).order_by(audit_log.c.id)).all()
    assert [(r.actor, r.action) for r in rows] == [
        ("cli", "staff_add"), ("staff:root", "staff_add"), ("staff:root", "staff_role")]
    detail = json.loads(rows[-1].detail)
    assert detail["before"]["role"] == "cashier" and detail["after"]["role"] == "manager"
    assert detail["staff"] == "anna"


def test_a_new_password_ends_other_sessions(registry: Registry) -> None:
    registry.staff.add("anna", PW, StaffRole.cashier)
    here = signed_in(registry.staff.login("anna", PW)).token
    there = signed_in(registry.staff.login("anna", PW)).token
    registry.staff.set_password("anna", "a brand new secret", actor="staff:anna",
                                keep_session=here)
    assert registry.staff.session(here) is not None
    assert registry.staff.session(there) is None
    assert refused(registry.staff.login("anna", PW)).message == WRONG_LOGIN
    assert signed_in(registry.staff.login("anna", "a brand new secret"))
    entry = registry.staff.history("anna")[0]
    assert entry.action == "staff_password" and "secret" not in json.dumps(entry.detail)


def test_a_hash_with_old_parameters_is_replaced_at_login(registry: Registry) -> None:
    registry.staff.hasher = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    registry.staff.add("anna", PW, StaffRole.cashier)
    registry.staff.hasher = PasswordHasher(time_cost=2, memory_cost=2048, parallelism=1)

    def stored() -> str:
        with registry.engine.connect() as conn:
            return str(conn.execute(select(staff.c.password_hash)).scalar_one())

    assert "m=1024,t=1" in stored()
    refused(registry.staff.login("anna", "wrong guess!"))
    assert "m=1024,t=1" in stored()  # only a right password can be hashed again
    signed_in(registry.staff.login("anna", PW))
    assert "m=2048,t=2" in stored()
    assert signed_in(registry.staff.login("anna", PW))


def test_unknown_accounts_are_named_in_the_error(registry: Registry) -> None:
    for change in (lambda: registry.staff.set_role("ghost", "admin"),
                   lambda: registry.staff.disable("ghost"),
                   lambda: registry.staff.unlock("ghost"),
                   lambda: registry.staff.set_password("ghost", PW)):
        with pytest.raises(UnknownStaff, match="no staff account 'ghost'"):
            change()
