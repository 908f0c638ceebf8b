"""``selfreg-bridge staff …`` as an installer runs it."""

from __future__ import annotations

import os
import pty
import subprocess
import sys
from pathlib import Path

from cashier_bridge.registry import Registry
from cashier_bridge.registry.staff import LoginRefused, SignedIn

PW = "correct horse battery"


def staff(*args: str, tmp: Path, password: str | None = None
          ) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cashier_bridge.cli", "staff", *args,
         "--db", f"sqlite:///{tmp / 'b.db'}"],
        input=password + "\n" if password is not None else "", capture_output=True, text=True,
        timeout=120, check=False,
        env={"PATH": "/usr/bin:/bin", "SELFREG_CONFIG": str(tmp / "none.toml"),
             "SELFREG_DATA_DIR": str(tmp)})


def open_registry(tmp: Path) -> Registry:
    return Registry.open(f"sqlite:///{tmp / 'b.db'}")


def test_add_the_first_admin_and_list(tmp_path: Path) -> None:
    added = staff("add", "root", "--role", "admin", "--display-name", "Rut Olsson",
                  "--password-stdin", tmp=tmp_path, password=PW)
    assert added.returncode == 0, added.stderr
    assert added.stdout.strip() == "added admin root; sign in at /admin/login"
    staff("add", "kim", "--role", "cashier", "--password-stdin", tmp=tmp_path, password=PW)
    listed = staff("list", tmp=tmp_path)
    assert listed.stdout.splitlines() == ["kim\tcashier\tactive\tkim",
                                          "root\tadmin\tactive\tRut Olsson"]
    registry = open_registry(tmp_path)
    try:
        assert isinstance(registry.staff.login("root", PW), SignedIn)
        assert registry.staff.history("root")[0].actor == "cli"
    finally:
        registry.close()
    assert PW not in added.stdout + added.stderr


def test_an_empty_list_says_how_to_begin(tmp_path: Path) -> None:
    listed = staff("list", tmp=tmp_path)
    assert listed.returncode == 0 and listed.stdout == ""
    assert "selfreg-bridge staff add NAME --role admin" in listed.stderr


def test_bad_input_is_refused_with_the_reason_and_adds_nobody(tmp_path: Path) -> None:
    short = staff("add", "root", "--role", "admin", "--password-stdin", tmp=tmp_path,
                  password="short")
    assert short.returncode == 1
    assert short.stderr.splitlines()[-1] == \
        "selfreg-bridge staff add: a password needs at least 10 characters"
    no_terminal = staff("add", "root", "--role", "admin", tmp=tmp_path)
    assert no_terminal.returncode == 1
    assert "no terminal to type a password on: use --password-stdin" in no_terminal.stderr
    bad_role = staff("add", "root", "--role", "boss", "--password-stdin", tmp=tmp_path,
                     password=PW)
    assert bad_role.returncode == 2 and "invalid choice: 'boss'" in bad_role.stderr
    assert staff("list", tmp=tmp_path).stdout == ""
    staff("add", "root", "--role", "admin", "--password-stdin", tmp=tmp_path, password=PW)
    again = staff("add", "ROOT", "--role", "cashier", "--password-stdin", tmp=tmp_path,
                  password=PW)
    assert again.returncode == 1 and "already a staff account 'ROOT'" in again.stderr


def test_passwd_disable_and_unlock(tmp_path: Path) -> None:
    staff("add", "root", "--role", "admin", "--password-stdin", tmp=tmp_path, password=PW)
    staff("add", "kim", "--role", "cashier", "--password-stdin", tmp=tmp_path, password=PW)
    changed = staff("passwd", "KIM", "--password-stdin", tmp=tmp_path,
                    password="a brand new secret")
    assert changed.returncode == 0, changed.stderr
    assert changed.stdout.strip() == "password of kim changed; their sign-ins have ended"
    ghost = staff("passwd", "ghost", "--password-stdin", tmp=tmp_path, password=PW)
    assert ghost.returncode == 1 and "there is no staff account 'ghost'" in ghost.stderr

    registry = open_registry(tmp_path)
    try:
        assert isinstance(registry.staff.login("kim", PW), LoginRefused)
        for _ in range(4):
            registry.staff.login("kim", "wrong guess!")
        assert registry.staff.get("kim").locked_until is not None
        listed = staff("list", tmp=tmp_path).stdout
        assert "kim\tcashier\tlocked until" in listed
        unlocked = staff("unlock", "kim", tmp=tmp_path)
        assert unlocked.stdout.strip() == "kim unlocked"
        assert isinstance(registry.staff.login("kim", "a brand new secret"), SignedIn)

        disabled = staff("disable", "kim", tmp=tmp_path)
        assert disabled.stdout.strip() == "kim disabled and signed out"
        assert "kim\tcashier\tdisabled" in staff("list", tmp=tmp_path).stdout
        last = staff("disable", "root", tmp=tmp_path)
        assert last.returncode == 1 and "nobody else is an admin" in last.stderr
        assert [e.action for e in registry.staff.history("kim")][:3] == \
            ["staff_disable", "staff_unlock", "staff_locked"]
    finally:
        registry.close()


def test_unlock_lifts_an_accounts_lock_and_an_addresss(tmp_path: Path) -> None:
    staff("add", "kim", "--role", "cashier", "--password-stdin", tmp=tmp_path, password=PW)
    registry = open_registry(tmp_path)
    try:
        for i in range(10):  # kim locked, and the address stopped for every name
            registry.staff.login("kim" if i < 5 else f"guess{i}", "wrong guess!",
                                 address="203.0.113.7")
        assert isinstance(registry.staff.login("kim", PW, address="10.0.0.2"), LoginRefused)
        unlocked = staff("unlock", "kim", tmp=tmp_path)
        assert unlocked.returncode == 0 and unlocked.stdout.strip() == "kim unlocked"
        assert registry.staff.get("kim").failed_logins == 0
        assert isinstance(registry.staff.login("kim", PW, address="10.0.0.2"), SignedIn)
        assert isinstance(registry.staff.login("kim", PW, address="203.0.113.7"), LoginRefused)
        address = staff("unlock", "--address", "203.0.113.7", tmp=tmp_path)
        assert address.stdout.strip() == "203.0.113.7 may sign in again"
        assert isinstance(registry.staff.login("kim", PW, address="203.0.113.7"), SignedIn)
        again = staff("unlock", "--address", "203.0.113.7", tmp=tmp_path)
        assert again.stdout.strip() == "203.0.113.7 was not stopped; nothing to do"
        neither = staff("unlock", tmp=tmp_path)
        assert neither.returncode == 1 and "name an account" in neither.stderr
    finally:
        registry.close()


def test_the_password_is_typed_twice_on_a_terminal(tmp_path: Path) -> None:
    """Without --password-stdin the password is asked for twice, unechoed, on the terminal."""
    def typed(first: str, second: str) -> tuple[int, str]:
        pid, fd = pty.fork()
        if pid == 0:  # the child: selfreg-bridge on a terminal
            os.environ.update({"SELFREG_CONFIG": str(tmp_path / "none.toml"),
                               "SELFREG_DATA_DIR": str(tmp_path)})
            os.execv(sys.executable, [sys.executable, "-m", "cashier_bridge.cli", "staff",
                                      "add", "root", "--role", "admin",
                                      "--db", f"sqlite:///{tmp_path / 'b.db'}"])
        seen = b""
        for answer in (first, second):
            while b"Password: " not in seen and b"again: " not in seen:
                seen += os.read(fd, 1024)
            seen = b""
            os.write(fd, answer.encode() + b"\r")
        out = b""
        while True:
            try:
                chunk = os.read(fd, 1024)
            except OSError:  # the child closed the terminal
                break
            if not chunk:
                break
            out += chunk
        _pid, status = os.waitpid(pid, 0)
        return os.waitstatus_to_exitcode(status), out.decode(errors="replace")

    code, out = typed(PW, PW + "x")
    assert code == 1 and "the two passwords differ; nothing was changed" in out
    code, out = typed(PW, PW)
    assert code == 0 and "added admin root" in out
    assert PW not in out  # never echoed
