"""The staff store: accounts, sign-in with lock-out, sessions, rehashing and the audit log."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from argon2 import PasswordHasher
from argon2.exceptions import VerifyMismatchError
from sqlalchemy import Column, Integer, MetaData, String, Table, select

from admin.conftest import Clock, CountingHasher
from cashier_bridge.permissions import StaffRole
from cashier_bridge.registry import Registry, migrate
from cashier_bridge.registry.engine import make_engine
from cashier_bridge.registry.schema import audit_log, staff, staff_sessions
from cashier_bridge.registry.staff import (
    WRONG_LOGIN,
    LoginRefused,
    SignedIn,
    StaffError,
    UnknownStaff,
    UsernameTaken,
)
from cashier_bridge.registry.timestamps import UtcDateTime

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


# --- lock-out by username and by address, known devices (issue 16, finding 7) -----------------


def test_an_unknown_name_costs_the_same_work_as_a_known_one(registry: Registry) -> None:
    registry.staff.add("anna", PW, StaffRole.cashier)
    spy = registry.staff.hasher = CountingHasher()
    work = {}
    for name, password in (("anna", "wrong guess!"), ("anna", "x" * 300),
                           ("nobody", "wrong guess!"), ("nobody", "x" * 300)):
        spy.verifies = spy.hashes = 0
        assert refused(registry.staff.login(name, password, address=f"a-{name}-{len(password)}")
                       ) == LoginRefused(WRONG_LOGIN)
        work[name, len(password)] = (spy.verifies, spy.hashes)
    # One argon2 verify each, nothing hashed: the time taken tells no name from another.
    assert set(work.values()) == {(1, 0)}, work


def test_an_unknown_name_locks_exactly_like_a_known_one(registry: Registry) -> None:
    registry.staff.add("anna", PW, StaffRole.cashier)
    answers = {name: [refused(registry.staff.login(name, "wrong guess!", address=name))
                      for _ in range(6)] for name in ("anna", "nobody")}
    assert answers["anna"] == answers["nobody"]
    assert [a.locked_minutes for a in answers["anna"]] == [None, None, None, None, 15, 15]
    assert "locked for 15 minutes" in answers["nobody"][-1].message
    # The right password of the known one does not tell it apart while locked either.
    assert refused(registry.staff.login("anna", PW, address="elsewhere")) == answers["anna"][-1]


def test_ten_failures_from_one_address_stop_it_for_every_name(registry: Registry,
                                                               clock: Clock) -> None:
    registry.staff.add("anna", PW, StaffRole.cashier)
    spy = registry.staff.hasher = CountingHasher()
    answers = [refused(registry.staff.login(f"name{i}", "wrong guess!", address="203.0.113.7"))
               for i in range(20)]
    assert [a.message for a in answers[:9]] == [WRONG_LOGIN] * 9
    for answer in answers[9:]:
        assert answer.message.startswith("Too many failed sign-ins from your address: try "
                                         "again in 15 minutes.")
        assert answer.retry_after_s == 900
    # Past the limit nothing is hashed or checked: the flood costs a lookup, not argon2.
    assert spy.verifies == 10
    assert registry.staff.sign_in_gate("anna", "203.0.113.7") == answers[-1]
    assert refused(registry.staff.login("anna", PW, address="203.0.113.7")) == answers[-1]
    assert signed_in(registry.staff.login("anna", PW, address="198.51.100.2"))
    alert = registry.staff.sign_in_alerts()[0]
    assert (alert.actor, alert.action) == ("system", "sign_in_throttled")
    assert alert.detail == {"address": "203.0.113.7", "where": "back office", "failures": 10,
                            "minutes": 15}
    assert "wrong guess!" not in json.dumps([a.detail for a in registry.staff.sign_in_alerts()])
    clock.advance(minutes=15)
    assert signed_in(registry.staff.login("anna", PW, address="203.0.113.7"))


def test_the_right_password_from_a_known_device_gets_a_locked_admin_in(
        registry: Registry) -> None:
    registry.staff.add("root", PW, StaffRole.admin)
    registry.staff.add("kim", PW, StaffRole.cashier)
    device = signed_in(registry.staff.login("root", PW, address="10.0.0.2")).device
    kims_device = signed_in(registry.staff.login("kim", PW, address="10.0.0.3")).device
    for _ in range(5):  # an attacker locks the admin out
        refused(registry.staff.login("root", "wrong guess!", address="203.0.113.7"))
    assert registry.staff.get("root").locked(registry.staff.clock())
    for stranger in (None, "made-up-token", kims_device):
        still = refused(registry.staff.login("root", PW, address="10.0.0.2", device=stranger))
        assert still.locked_minutes == 15
    # A known device with a wrong password counts like any failure, and learns nothing.
    assert refused(registry.staff.login("root", "wrong guess!", address="10.0.0.2",
                                         device=device)).locked_minutes == 15
    back = signed_in(registry.staff.login("root", PW, address="10.0.0.2", device=device))
    assert back.device == device  # the same browser stays known
    assert not registry.staff.get("root").locked(registry.staff.clock())
    entry = registry.staff.history("root")[0]
    assert (entry.actor, entry.action) == ("staff:root", "staff_unlock")
    assert entry.detail is not None and entry.detail["reason"] == "signed in from a known device"
    assert signed_in(registry.staff.login("root", PW, address="10.0.0.9"))


def test_a_known_device_gets_in_from_a_throttled_address(registry: Registry) -> None:
    registry.staff.add("root", PW, StaffRole.admin)
    device = signed_in(registry.staff.login("root", PW, address="10.0.0.2")).device
    for i in range(10):  # someone on the same network tries names
        refused(registry.staff.login(f"guess{i}", "wrong guess!", address="10.0.0.2"))
    assert registry.staff.sign_in_gate("root", "10.0.0.2") is not None
    assert registry.staff.sign_in_gate("root", "10.0.0.2", device) is None
    assert signed_in(registry.staff.login("root", PW, address="10.0.0.2", device=device))
    assert refused(registry.staff.login("root", PW, address="10.0.0.2")).retry_after_s


def test_one_browser_is_known_for_everyone_who_signs_in_with_it(registry: Registry) -> None:
    registry.staff.add("anna", PW, StaffRole.cashier)
    registry.staff.add("bo", PW, StaffRole.cashier)
    device = signed_in(registry.staff.login("anna", PW)).device
    assert signed_in(registry.staff.login("bo", PW, device=device)).device == device
    # A token the bridge never issued is not taken over: the browser gets one of ours.
    assert signed_in(registry.staff.login("bo", PW, device="chosen-by-someone")).device \
        != "chosen-by-someone"


def test_unlock_lifts_the_lock_and_forgets_the_failures(registry: Registry) -> None:
    registry.staff.add("anna", PW, StaffRole.cashier)
    for _ in range(4):
        refused(registry.staff.login("anna", "wrong guess!", address="10.0.0.2"))
    assert registry.staff.get("anna").failed_logins == 4
    registry.staff.unlock("anna", actor="cli")
    assert registry.staff.get("anna").failed_logins == 0
    for _ in range(4):
        assert refused(registry.staff.login("anna", "wrong guess!", address="10.0.0.3")
                       ).locked_minutes is None


def test_an_address_is_let_in_again_by_unlock_address(registry: Registry) -> None:
    registry.staff.add("anna", PW, StaffRole.cashier)
    for i in range(10):
        refused(registry.staff.login(f"guess{i}", "wrong guess!", address="10.0.0.2"))
    assert registry.staff.unlock_address("10.0.0.2", actor="staff:root") is True
    assert registry.staff.unlock_address("10.0.0.2", actor="staff:root") is False
    assert signed_in(registry.staff.login("anna", PW, address="10.0.0.2"))
    entry = registry.staff.sign_in_alerts()[0]
    assert entry.action == "sign_in_throttled"  # the warning stays in the history


def test_wrong_current_passwords_lock_like_failed_sign_ins(registry: Registry) -> None:
    registry.staff.add("anna", PW, StaffRole.cashier)
    spy = registry.staff.hasher = CountingHasher()
    answers = [registry.staff.check_current_password("anna", "wrong guess!", address="10.0.0.2")
               for _ in range(5)]
    assert answers[:4] == [LoginRefused(WRONG_LOGIN)] * 4
    assert answers[4] is not None and answers[4].locked_minutes == 15
    assert spy.verifies == 5
    # Locked: the right current password is refused too, and signing in is locked as well.
    assert registry.staff.check_current_password("anna", PW) == answers[4]
    assert spy.verifies == 5
    assert refused(registry.staff.login("anna", PW, address="10.0.0.3")).locked_minutes == 15
    assert registry.staff.history("anna")[0].action == "staff_locked"


def test_the_right_current_password_is_accepted(registry: Registry) -> None:
    registry.staff.add("anna", PW, StaffRole.cashier)
    assert registry.staff.check_current_password("anna", PW) is None
    assert registry.staff.check_current_password("anna", "x" * 300) == LoginRefused(WRONG_LOGIN)


def test_a_locked_admin_is_not_the_other_admin(registry: Registry) -> None:
    registry.staff.add("root", PW, StaffRole.admin)
    registry.staff.add("anna", PW, StaffRole.admin)
    for _ in range(5):
        refused(registry.staff.login("anna", "wrong guess!", address="203.0.113.7"))
    with pytest.raises(StaffError, match="nobody else is an admin who can sign in now"):
        registry.staff.set_role("root", StaffRole.manager, actor="staff:root")
    with pytest.raises(StaffError, match="a locked or disabled admin does not count"):
        registry.staff.disable("root", actor="cli")
    assert registry.staff.get("root").role is StaffRole.admin
    registry.staff.unlock("anna", actor="staff:root")
    registry.staff.set_role("root", StaffRole.manager, actor="staff:root")
    assert registry.staff.get("root").role is StaffRole.manager


def test_failures_are_counted_by_every_process_of_a_chain(registry: Registry,
                                                          clock: Clock) -> None:
    registry.staff.add("anna", PW, StaffRole.cashier)
    other = Registry.open(registry.engine.url.render_as_string(hide_password=False))
    other.staff.hasher = registry.staff.hasher
    other.staff.clock = clock
    try:
        for store in (registry.staff, other.staff, registry.staff, other.staff):
            refused(store.login("anna", "wrong guess!", address="10.0.0.2"))
        assert refused(other.staff.login("anna", "wrong guess!", address="10.0.0.2")
                       ).locked_minutes == 15
        assert refused(registry.staff.login("anna", PW, address="10.0.0.3")).locked_minutes
    finally:
        other.close()


def test_a_new_account_does_not_inherit_failures_of_its_name(registry: Registry) -> None:
    for _ in range(5):
        refused(registry.staff.login("anna", "wrong guess!", address="10.0.0.2"))
    registry.staff.add("anna", PW, StaffRole.cashier)
    assert signed_in(registry.staff.login("anna", PW, address="10.0.0.3"))


def test_the_dummy_hash_is_a_real_argon2_hash_of_nothing(registry: Registry) -> None:
    from argon2 import extract_parameters

    hasher = registry.staff.hasher
    dummy = registry.staff._dummy()
    params = extract_parameters(dummy)
    assert (params.time_cost, params.memory_cost, params.parallelism, params.hash_len,
            params.salt_len) == (hasher.time_cost, hasher.memory_cost, hasher.parallelism,
                                 hasher.hash_len, hasher.salt_len)
    assert not hasher.check_needs_rehash(dummy)
    with pytest.raises(VerifyMismatchError):
        hasher.verify(dummy, "")


def test_a_lock_in_force_survives_the_upgrade_and_back(db_url: str, clock: Clock) -> None:
    """Migration 0014 moves the accounts' own lock-out columns into sign_in_failures."""
    engine = make_engine(db_url)
    migrate.upgrade(engine, "0011")
    old_staff = Table("staff", MetaData(), Column("id", Integer, primary_key=True),
                      Column("username", String), Column("username_key", String),
                      Column("display_name", String), Column("role", String),
                      Column("password_hash", String), Column("created_at", UtcDateTime()),
                      Column("failed_logins", Integer), Column("locked_until", UtcDateTime()))
    hasher = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    locked_until = clock() + dt.timedelta(minutes=10)
    with engine.begin() as conn:
        for name, failed, until in (("anna", 0, locked_until), ("bo", 3, None)):
            conn.execute(old_staff.insert().values(
                username=name, username_key=name, display_name=name, role="cashier",
                password_hash=hasher.hash(PW), created_at=clock(), failed_logins=failed,
                locked_until=until))
    engine.dispose()

    reg = Registry.open(db_url)
    reg.staff.hasher, reg.staff.clock = hasher, clock
    try:
        assert reg.staff.get("anna").locked_until == locked_until
        assert refused(reg.staff.login("anna", PW, address="10.0.0.2")).locked_minutes == 10
        assert signed_in(reg.staff.login("bo", PW, address="10.0.0.2"))
        migrate.downgrade(reg.engine, "0011")
        with reg.engine.connect() as conn:
            rows = conn.execute(select(old_staff.c.username, old_staff.c.locked_until)
                                .order_by(old_staff.c.username)).all()
        assert [tuple(r) for r in rows] == [("anna", locked_until), ("bo", None)]
    finally:
        reg.close()
