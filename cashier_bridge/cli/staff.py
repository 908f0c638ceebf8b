"""``selfreg-bridge staff …``: back-office staff accounts from the command line — how the first
admin is made, and the way back in when nobody can sign in.  Changes are audited as ``cli``."""

from __future__ import annotations

import argparse
import getpass
import sys
from collections.abc import Callable
from typing import Any

from cashier_bridge.permissions import StaffRole
from cashier_bridge.registry.staff import StaffError, StaffStore


def add_parser(sub: Any, db_flag: Callable[[argparse.ArgumentParser], None]) -> None:
    staff = sub.add_parser("staff", help="back-office staff accounts (/admin)")
    commands = staff.add_subparsers(dest="staff_command", required=True)
    add = commands.add_parser("add", help="add a staff account (the first admin, say)")
    add.add_argument("name", help="the username")
    add.add_argument("--role", required=True, choices=[r.value for r in StaffRole])
    add.add_argument("--display-name", help="the name the back office shows")
    passwd = commands.add_parser("passwd", help="set a staff account's password")
    passwd.add_argument("name")
    for p in (add, passwd):
        p.add_argument("--password-stdin", action="store_true",
                       help="read the password from the first line of standard input")
    commands.add_parser("list", help="every staff account with its role and status")
    commands.add_parser("disable", help="stop an account signing in, and sign it out"
                        ).add_argument("name")
    unlock = commands.add_parser(
        "unlock", help="lift a lock-out after failed logins: an account's (and forget its "
                       "failures), or a client address's (--address)")
    unlock.add_argument("name", nargs="?", help="the username")
    unlock.add_argument("--address", help="a client address stopped after failed sign-ins "
                                          "(the Staff page names it)")
    for p in commands.choices.values():
        db_flag(p)


class _NoPassword(Exception):
    pass


def _password(args: argparse.Namespace) -> str:
    if args.password_stdin:
        line = sys.stdin.readline()
        password = line[:-1] if line.endswith("\n") else line
        if not password:
            raise _NoPassword("no password on standard input (one line expected)")
        return password
    if not sys.stdin.isatty():
        raise _NoPassword("no terminal to type a password on: use --password-stdin")
    first = getpass.getpass("Password: ")
    if getpass.getpass("The same password again: ") != first:
        raise _NoPassword("the two passwords differ; nothing was changed")
    return first


def run(db_url: str, args: argparse.Namespace) -> int:
    from cashier_bridge.registry import Registry

    registry = Registry.open(db_url)
    try:
        return _run(registry.staff, args)
    except (StaffError, _NoPassword) as exc:
        print(f"selfreg-bridge staff {args.staff_command}: {exc}", file=sys.stderr)
        return 1
    finally:
        registry.close()


def _run(store: StaffStore, args: argparse.Namespace) -> int:
    command = args.staff_command
    if command == "list":
        accounts = store.list()
        if not accounts:
            print("no staff accounts yet: selfreg-bridge staff add NAME --role admin",
                  file=sys.stderr)
        now = store.clock()
        for a in accounts:
            status = ("disabled" if a.disabled_at else
                      f"locked until {a.locked_until:%Y-%m-%d %H:%M} UTC" if a.locked(now)
                      and a.locked_until else "active")
            print(f"{a.username}\t{a.role.value}\t{status}\t{a.display_name}")
        return 0
    if command == "add":
        account = store.add(args.name, _password(args), args.role,
                            display_name=args.display_name)
        print(f"added {account.role.value} {account.username}; sign in at /admin/login")
        return 0
    if command == "passwd":
        store.get(args.name)  # an unknown name is said before a password is asked for
        account = store.set_password(args.name, _password(args))
        print(f"password of {account.username} changed; their sign-ins have ended")
        return 0
    if command == "disable":
        account = store.disable(args.name)
        print(f"{account.username} disabled and signed out")
        return 0
    if command == "unlock":
        if not args.name and not args.address:
            raise StaffError("name an account (staff unlock NAME) or an address "
                             "(staff unlock --address ADDRESS)")
        if args.name:
            account = store.unlock(args.name)
            print(f"{account.username} unlocked")
        if args.address:
            was = store.unlock_address(args.address)
            print(f"{args.address} may sign in again" if was else
                  f"{args.address} was not stopped; nothing to do")
        return 0
    raise AssertionError(f"unknown staff command {command}")
