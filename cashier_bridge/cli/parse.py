"""``selfreg-bridge parse FILE...``: what the bridge makes of a code, one JSON line per file.

Support staff paste a scanned payload into a file (or pipe it in with ``-``) and see the kind
and fields the bridge reads from it -- or the specific reason it is rejected.
"""

from __future__ import annotations

import datetime as dt
import json
import sys
from pathlib import Path
from typing import Any, BinaryIO, TextIO

from cashier_bridge.identity import clean, vcard
from cashier_bridge.identity.classify import classify, parse_document
from cashier_bridge.identity.errors import IdentityError, Unrecognised

MAX_FILE_BYTES = 2_000_000


def run(
    paths: list[str],
    *,
    region: str = "SE",
    stdin: TextIO | BinaryIO | None = None,
    out: TextIO | None = None,
    today: dt.date | None = None,
) -> int:
    out = out or sys.stdout
    failed = False
    for path in paths:
        try:
            data = _read(path, stdin)
        except OSError as exc:
            result: dict[str, Any] = {"file": path, "error": f"cannot read: {exc.strerror or exc}"}
        else:
            result = {"file": path, **describe(data, region=region, today=today)}
        failed = failed or "error" in result
        out.write(json.dumps(result, ensure_ascii=False) + "\n")
    return 1 if failed else 0


def _read(path: str, stdin: TextIO | BinaryIO | None) -> bytes:
    if path == "-":
        stream = stdin if stdin is not None else sys.stdin.buffer
        data = stream.read(MAX_FILE_BYTES + 1)
        return data.encode("utf-8") if isinstance(data, str) else data
    with Path(path).open("rb") as fh:
        return fh.read(MAX_FILE_BYTES + 1)


def describe(data: bytes, *, region: str = "SE", today: dt.date | None = None) -> dict[str, Any]:
    """``{"kind", "fields"}`` or ``{"error", "code"}`` for one payload."""
    if len(data) > MAX_FILE_BYTES:
        return {"error": "the file is too large to be a scanned code", "code": "invalid_length"}
    text = vcard.decode(data)
    try:
        return _describe_text(text, region=region, today=today)
    except IdentityError as err:
        return {"error": str(err), "code": err.code}


def _describe_text(text: str, *, region: str, today: dt.date | None) -> dict[str, Any]:
    # Junk at the edges (a reader's BOM, NUL padding, CRLF) is dropped as every parser drops
    # it; line breaks and separators inside stay for the formats that need them.
    payload = clean.payload(text, keep="\n\r\t\x1c\x1d\x1e\x1f")
    if vcard.looks_like(payload):
        cards = [c for c in vcard.parse_all(payload, region=region) if c.has_name or c.identifies]
        if not cards:
            vcard.parse(payload, region=region)  # raises the specific "nothing in it" error
        fields = cards[0].fields()
        if len(cards) > 1:
            fields["cards"] = [c.fields() for c in cards]
        return {"kind": "vcard", "fields": fields}
    document = parse_document(payload, region=region, today=today)
    if document is not None:
        kind = "mecard" if document.kind == "bizcard" else document.kind
        fields = document.fields()
        if document.kind == "bizcard":
            fields["format"] = "bizcard"
        return {"kind": kind, "fields": fields}
    if "\n" in payload:
        raise Unrecognised("several lines, but not a vCard, MECARD, AAMVA licence or MRZ")
    result = classify(payload, "numpad", region=region, today=today)
    if not result.readings:
        err = result.best_rejection() or Unrecognised("not an identifier the bridge knows")
        raise err
    reading = result.readings[0]
    if reading.kind == "customer_code" and result.rejected:
        # A mistyped personnummer is also a valid free-form card code; say what was wrong with
        # it rather than pass it off as a card.
        err = result.rejected[0]
        return {"error": str(err), "code": err.code,
                "could_be": {"kind": "customer_code", "value": reading.value}}
    fields: dict[str, Any] = {}
    if reading.kind in ("personnummer", "samordningsnummer"):
        fields["personal_id"] = reading.value
        if reading.birth_date:
            fields["birth_date"] = reading.birth_date.isoformat()
    elif reading.kind == "phone":
        fields["phone"] = reading.value
    else:
        fields["customer_code"] = reading.value
    if len(result.readings) > 1:
        fields["also"] = [{"kind": r.kind, "value": r.value} for r in result.readings[1:]]
    return {"kind": reading.kind, "fields": fields}
