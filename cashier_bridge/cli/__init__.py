"""``selfreg-bridge``: run the cashier bridge and look after its registry."""

from __future__ import annotations

import argparse
import contextlib
import os
import sys

from cashier_bridge.config import load_settings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="selfreg-bridge", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="run the bridge (websockets for kiosks and registers)")
    serve.add_argument("--host", help="address to listen on (default 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port to listen on (default 8765)")
    _db_flag(serve)
    serve.add_argument("--workers", type=int, default=1,
                       help="bridge processes sharing the port (PostgreSQL registry only)")
    serve.add_argument("--log-json", action="store_true", default=None,
                       help="one JSON object per log line")

    imp = sub.add_parser("import-csv", help="load customers from a CSV file (a Lightspeed "
                                           "X-Series customer export, or our own export)")
    imp.add_argument("file", help="CSV file, or 'demo' for the shipped demo customers")
    imp.add_argument("--dry-run", action="store_true",
                     help="check the file and show what it would do; change nothing")
    imp.add_argument("--again", action="store_true",
                     help="import a file that was imported before (and not undone) anyway")
    _db_flag(imp)

    undo = sub.add_parser("import-undo", help="undo an import batch (see 'imports')")
    undo.add_argument("batch", type=int, help="the batch's number")
    _db_flag(undo)

    batches = sub.add_parser("imports", help="list the CSV import batches")
    _db_flag(batches)

    exp = sub.add_parser("export-csv", help="write every customer as CSV (Lightspeed X-Series "
                                            "columns plus ours)")
    exp.add_argument("file", help="output file, or - for standard output")
    _db_flag(exp)

    cp = sub.add_parser("copy-registry",
                        help="copy the whole registry (customers, consents, sales, devices, "
                             "lanes) into an empty database, e.g. SQLite → PostgreSQL; the "
                             "personnummer key stays outside, and it says where it must go")
    cp.add_argument("--to", required=True, help="the target database URL (must be empty)")
    _db_flag(cp)

    pair = sub.add_parser("pair", help="issue a token for a kiosk or register of a lane")
    pair.add_argument("--lane", required=True)
    pair.add_argument("--role", required=True, choices=("kiosk", "register"))
    pair.add_argument("--label", help="a note for people, e.g. 'Kassa 2, entrance'")
    _db_flag(pair)

    unpair = sub.add_parser("unpair", help="revoke the tokens of a lane (or of one role on it)")
    unpair.add_argument("--lane", required=True)
    unpair.add_argument("--role", choices=("kiosk", "register"))
    _db_flag(unpair)

    token = sub.add_parser("token", help="API tokens for the REST API (/api/v1)")
    token_sub = token.add_subparsers(dest="token_command", required=True)
    create = token_sub.add_parser("create", help="issue a token (printed once)")
    create.add_argument("--name", required=True, help="who or what uses it, e.g. 'POS sync'")
    create.add_argument("--scope", required=True, choices=("read", "write", "admin"))
    _db_flag(create)
    listing = token_sub.add_parser("list", help="the tokens (never the tokens themselves)")
    _db_flag(listing)
    revoke = token_sub.add_parser("revoke", help="revoke a token by its id")
    revoke.add_argument("id", type=int)
    _db_flag(revoke)

    key = sub.add_parser("personal-id-key",
                         help="the key personnummer fingerprints are made with (kept outside "
                              "the database)")
    key_sub = key.add_subparsers(dest="key_command", required=True)
    where = key_sub.add_parser("where", help="where this bridge finds the key, and whether it "
                                             "is the registry's")
    _db_flag(where)
    lost = key_sub.add_parser("lost", help="the key is lost for good: forget every stored "
                                           "fingerprint (customers stay findable by phone, "
                                           "code and e-mail) and start with a new key")
    lost.add_argument("--yes", action="store_true", help="yes, the key is lost for good")
    _db_flag(lost)

    mig = sub.add_parser("migrate", help="bring the registry's schema to this version's newest "
                                         "(serve does it too; an installer runs it before "
                                         "switching to a new release)")
    _db_flag(mig)

    parse = sub.add_parser("parse", help="show what the bridge makes of scanned or typed codes")
    parse.add_argument("files", nargs="+", help="files holding one payload each; - for stdin")

    spec = sub.add_parser("asyncapi", help="write the device protocol as an AsyncAPI 3 document")
    spec.add_argument("--out", help="file to write (default: standard output)")

    from cashier_bridge.cli.staff import add_parser as add_staff_parser

    add_staff_parser(sub, _db_flag)
    from cashier_bridge.backup import add_parsers as add_backup_parsers

    add_backup_parsers(sub, _db_flag)

    args = parser.parse_args(argv)
    settings = load_settings(host=getattr(args, "host", None), port=getattr(args, "port", None),
                             db_url=getattr(args, "db", None),
                             log_json=getattr(args, "log_json", None))
    from cashier_bridge.logs import configure

    configure(settings.log_level, json=settings.log_json)
    if args.command in ("parse", "asyncapi"):  # no registry: stay light
        return _run(parser, args, settings)
    from cashier_bridge.registry.engine import PostgresDriverMissing
    from cashier_bridge.registry.personal_id_key import PersonalIdKeyError

    try:
        return _run(parser, args, settings)
    except PersonalIdKeyError as exc:
        print(f"selfreg-bridge: cannot use the registry's personnummer key: {exc}",
              file=sys.stderr)
        return 2
    except PostgresDriverMissing as exc:
        print(f"selfreg-bridge: {exc}", file=sys.stderr)
        return 2


def _run(parser: argparse.ArgumentParser, args: argparse.Namespace,
         settings) -> int:  # type: ignore[no-untyped-def]
    if args.command == "serve":
        return _serve(settings, args.workers)
    if args.command in ("import-csv", "import-undo", "imports"):
        from cashier_bridge.cli.imports import run as run_imports

        return run_imports(settings.db_url, args, settings.phone_region)
    if args.command == "export-csv":
        return _export(settings.db_url, args.file)
    if args.command == "copy-registry":
        return _copy(settings, args.to)
    if args.command in ("pair", "unpair"):
        return _pairing(settings, args)
    if args.command == "token":
        return _tokens(settings.db_url, args)
    if args.command == "staff":
        from cashier_bridge.cli.staff import run as run_staff

        return run_staff(settings.db_url, args)
    if args.command in ("backup", "restore"):
        from cashier_bridge.backup import run as run_backup

        return run_backup(settings, args)
    if args.command == "personal-id-key":
        return _personal_id_key(settings, args)
    if args.command == "migrate":
        return _migrate(settings)
    if args.command == "parse":
        from cashier_bridge.cli.parse import run

        return run(args.files, region=settings.phone_region)
    if args.command == "asyncapi":
        from cashier_bridge.lanes.asyncapi import write

        return write(args.out)
    parser.error(f"unknown command {args.command}")
    return 2


def _db_flag(p: argparse.ArgumentParser) -> None:
    p.add_argument("--db", help="database URL (default: SQLite file in the user's data dir)")


def _serve(settings, workers: int = 1) -> int:  # type: ignore[no-untyped-def]
    import uvicorn
    from sqlalchemy.engine import make_url

    from cashier_bridge.config import auth_refusal
    from cashier_bridge.protocol import MAX_FRAME_BYTES

    refusal = auth_refusal(settings)
    if refusal is not None:
        print(f"not started: {refusal}", file=sys.stderr)
        return 2
    if workers > 1 and make_url(settings.db_url).get_backend_name() != "postgresql":
        print("--workers needs a PostgreSQL registry (--db postgresql+psycopg://…): SQLite "
              "serves one bridge process", file=sys.stderr)
        return 2
    _check_registry(settings)
    options = {"host": settings.host, "port": settings.port, "ws": "websockets-sansio",
               "ws_max_size": MAX_FRAME_BYTES, "log_config": None, "lifespan": "on"}
    if settings.tls_cert and settings.tls_key:  # HTTPS (and wss) for phones on the shop's Wi-Fi
        options.update(ssl_certfile=settings.tls_cert, ssl_keyfile=settings.tls_key)
    if workers <= 1:
        from cashier_bridge.web.app import NotifyingServer, create_app

        # uvicorn.run's one-process path, with systemd told when it is ready and that it lives.
        server = NotifyingServer(uvicorn.Config(create_app(settings), **options))
        # uvicorn re-raises the Ctrl-C it shut down for (uvicorn.run swallows it too): a stop
        # asked for, not a crash with a traceback in the journal.
        with contextlib.suppress(KeyboardInterrupt):
            server.run()
        return 0 if server.started else 3
    if os.environ.get("NOTIFY_SOCKET"):
        print("note: only a one-process bridge tells systemd it is ready and alive; run "
              "--workers under a Type=exec unit without WatchdogSec", file=sys.stderr)
    # Each worker is its own process and reads its settings afresh: hand the flags over.
    os.environ.update({f"SELFREG_{key.upper()}": str(value) for key, value in
                       settings.model_dump(include={"host", "port", "db_url", "log_json"})
                       .items()})
    uvicorn.run("cashier_bridge.web.app:app_from_environment", factory=True, workers=workers,
                **options)
    return 0


def _check_registry(settings) -> None:  # type: ignore[no-untyped-def]
    """Open the registry once before serving: its schema is upgraded and its personnummer key
    checked (an old registry's moved out) before any worker starts, and a bridge without the
    right key stops here with what to do instead of a traceback from each worker."""
    from cashier_bridge.registry import Registry

    Registry.open(settings.db_url, busy_timeout_s=settings.db_busy_timeout_s,
                  personal_id_key=settings.personal_id_key).close()


def _migrate(settings) -> int:  # type: ignore[no-untyped-def]
    """Upgrade the schema (and check the personnummer key) the way serve would, saying from
    which revision to which: an installer runs this with the new release before it switches,
    so a migration that fails leaves the old release in place."""
    from sqlalchemy.engine import make_url

    from cashier_bridge.registry import Registry, migrate
    from cashier_bridge.registry.engine import make_engine

    where = make_url(settings.db_url).render_as_string(hide_password=True)
    engine = make_engine(settings.db_url)
    try:
        before = migrate.current_revision(engine)
    finally:
        engine.dispose()
    head = migrate.head_revision()
    if before is not None and not _known_revision(before):
        print(f"selfreg-bridge migrate: the registry {where} is at schema {before}, which this "
              f"release does not know (it knows up to {head}): it was written by a newer "
              "release. Install that release (or a newer one) again; this one leaves it alone.",
              file=sys.stderr)
        return 1
    try:
        Registry.open(settings.db_url, busy_timeout_s=settings.db_busy_timeout_s,
                      personal_id_key=settings.personal_id_key).close()
    except Exception as exc:
        from cashier_bridge.registry.personal_id_key import PersonalIdKeyError

        if isinstance(exc, PersonalIdKeyError):
            raise
        print(f"selfreg-bridge migrate: the registry {where} could not be brought from "
              f"schema {before or 'empty'} to {head}: {type(exc).__name__}: {exc}",
              file=sys.stderr)
        return 1
    if before == head:
        print(f"registry {where}: schema already at {head}, nothing to do")
    else:
        print(f"registry {where}: schema {before or 'empty'} -> {head}")
    return 0


def _known_revision(revision: str) -> bool:
    from alembic.script import ScriptDirectory
    from alembic.util import CommandError

    from cashier_bridge.registry import migrate

    try:
        return ScriptDirectory.from_config(migrate.alembic_config()).get_revision(
            revision) is not None
    except CommandError:
        return False


def _personal_id_key(settings, args: argparse.Namespace) -> int:  # type: ignore[no-untyped-def]
    from cashier_bridge.registry import Registry, migrate
    from cashier_bridge.registry import personal_id_key as keys
    from cashier_bridge.registry.engine import make_engine, writer

    place = keys.default_place(settings.db_url, settings.personal_id_key)
    source = (f"{keys.ENVIRONMENT} (personal_id_key)" if place.configured
              else f"the file {place.file}")
    if args.key_command == "where":
        Registry.open(settings.db_url, personal_id_key=settings.personal_id_key).close()
        print(f"this bridge's personnummer key is {source}, and it is this registry's key. "
              "Keep a copy of it apart from the database's backups: without it no personnummer "
              "can be matched again.")
        return 0
    if not args.yes:
        print("this clears every customer's personnummer fingerprint for good (their masked "
              "number, birth date, phone, code and e-mail stay); shoppers will be asked for "
              "their personnummer again. If a copy of the key exists (a backup, another bridge "
              f"of the chain), put it at {place.file} instead. Add --yes to go ahead.",
              file=sys.stderr)
        return 2
    engine = make_engine(settings.db_url)
    try:
        migrate.upgrade(engine)
        cleared = keys.forget_lost_key(writer(engine), place)
    finally:
        engine.dispose()
    Registry.open(settings.db_url, personal_id_key=settings.personal_id_key).close()
    print(f"cleared {cleared} personnummer fingerprints; new fingerprints are made with "
          f"{source}. Back it up apart from the database.")
    return 0


def _copy(settings, target: str) -> int:  # type: ignore[no-untyped-def]
    from cashier_bridge.registry import Registry
    from cashier_bridge.registry import personal_id_key as keys
    from cashier_bridge.registry.copying import TargetNotEmpty, copy_registry
    from cashier_bridge.registry.engine import make_engine

    # Opened first: an old registry's key is moved out of it (never copied along), and a
    # source whose key this machine lacks is refused before anything is written.
    Registry.open(settings.db_url, busy_timeout_s=settings.db_busy_timeout_s,
                  personal_id_key=settings.personal_id_key).close()
    source = make_engine(settings.db_url)
    try:
        counts = copy_registry(source, target, progress=lambda table, rows: print(
            f"\r{table}: {rows}", end="", file=sys.stderr, flush=True))
    except TargetNotEmpty as exc:
        print(f"\nnothing copied: {exc}", file=sys.stderr)
        return 1
    finally:
        source.dispose()
    print("\n" + ", ".join(f"{table} {rows}" for table, rows in counts.items()),
          file=sys.stderr)
    print(f"copied {counts.get('customers', 0)} customers")
    print(keys.copy_advice(keys.default_place(settings.db_url, settings.personal_id_key),
                           keys.default_place(target, "")))
    return 0


def _pairing(settings, args: argparse.Namespace) -> int:  # type: ignore[no-untyped-def]
    from cashier_bridge.registry import Registry
    from cashier_bridge.web.mobile.setup import public_url

    registry = Registry.open(settings.db_url)
    try:
        if args.command == "pair":
            device = registry.devices.pair(args.lane, args.role, args.label)
            print(f"paired {device.role} #{device.id} with lane {device.lane}; its token "
                  "(shown once, give it to the device as --token or SELFREG_DEVICE_TOKEN):",
                  file=sys.stderr)
            print(device.token)
            if device.role == "register":
                code = registry.devices.issue_sign_in(device.lane, device.role)
                # The token stays out of URLs and pages: a browser gets its own, in a cookie.
                print(f"cashier console for lane {device.lane} (one-time, valid 1 hour): open "
                      f"{public_url(settings)}/console/sign-in?code={code} in the cashier's "
                      f"browser, or type the code {code} at /console/sign-in",
                      file=sys.stderr)
        else:
            count = registry.devices.revoke(args.lane, args.role)
            print(f"revoked {count} token(s) of lane {args.lane}")
    finally:
        registry.close()
    return 0


def _tokens(db_url: str, args: argparse.Namespace) -> int:
    from cashier_bridge.registry import Registry
    from cashier_bridge.registry.problems import NotFound

    registry = Registry.open(db_url)
    try:
        store = registry.api_tokens
        if args.token_command == "create":
            issued = store.create(args.name, args.scope)
            print(f"API token #{issued.id} {issued.name!r}, scope {issued.scope.value}; it is "
                  "shown once (the bridge keeps only its hash). Send it as "
                  "'Authorization: Bearer <token>':", file=sys.stderr)
            print(issued.token)
        elif args.token_command == "list":
            print("id\tname\tscope\tcreated\tlast used\trevoked")
            for t in store.list():
                print("\t".join((str(t.id), t.name, t.scope.value, _when(t.created_at),
                                 _when(t.last_used_at), _when(t.revoked_at))))
        else:
            try:
                store.revoke(args.id)
            except NotFound as exc:
                print(exc.message, file=sys.stderr)
                return 1
            print(f"revoked API token #{args.id}")
    finally:
        registry.close()
    return 0


def _when(at: object) -> str:
    return at.isoformat(timespec="seconds") if at is not None else "-"  # type: ignore[attr-defined]


def _export(db_url: str, file: str) -> int:
    from cashier_bridge.registry import Registry

    registry = Registry.open(db_url)
    try:
        if file == "-":
            count = registry.imports.export(sys.stdout)
        else:
            with open(file, "w", encoding="utf-8", newline="") as out:
                count = registry.imports.export(out)
    finally:
        registry.close()
    print(f"exported {count} customers", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
