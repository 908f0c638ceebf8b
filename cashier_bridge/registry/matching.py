"""The customer a set of match keys names: the registry's ``customers.find``, the read behind
every identification.

The statement per kind of key is compiled once and run on the driver's connection (see
:mod:`.driver`), its columns converted by the column types' own result processors, so the
record is the one SQLAlchemy would build.  Through SQLAlchemy the look-up cost about five times
what SQLite takes to answer it (profiled under bench/lanes.py).  The columns, the record's
select and how a key's value is normalised are the registry's (:mod:`.customer_rows`).
"""

from __future__ import annotations

from collections import namedtuple
from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import Engine, bindparam

from cashier_bridge.protocol import MatchKey
from cashier_bridge.registry.customer_rows import MATCH_COLUMNS, RECORD_SELECT, match_value
from cashier_bridge.registry.driver import driver_cursor
from cashier_bridge.registry.live import live
from cashier_bridge.registry.records import CustomerRecord, record_from_row

_BY_KIND = {kind: RECORD_SELECT.where(column == bindparam("value"), live()).limit(1)
            for kind, column in MATCH_COLUMNS.items()}


class Matcher:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        dialect = engine.dialect
        self._statements: dict[str, tuple[str, Callable[[str], Any]]] = {}
        for kind, statement in _BY_KIND.items():
            compiled = statement.compile(dialect=dialect)
            order = compiled.positiontup
            fixed = compiled.construct_params({"value": ""})

            def params(value: str, fixed: dict[str, Any] = fixed,
                       order: Sequence[str] | None = order) -> Any:
                values = {**fixed, "value": value}
                return tuple(values[n] for n in order) if order else values

            self._statements[kind] = (compiled.string, params)
        columns = list(RECORD_SELECT.selected_columns)
        self._convert = [(i, process) for i, column in enumerate(columns)
                         if (process := column.type.dialect_impl(dialect).result_processor(
                             dialect, None)) is not None]
        self._row = namedtuple("_Row", [column.key for column in columns])  # type: ignore[misc]

    def find(self, keys: Sequence[MatchKey]) -> tuple[CustomerRecord, MatchKey] | None:
        """The live customer the first key that names one names, and that key."""
        with driver_cursor(self._engine, write=False) as cur:
            for key in keys:
                known = self._statements.get(key.kind)
                if known is None:
                    raise ValueError(f"unknown match key kind {key.kind!r}; expected one of "
                                     f"{', '.join(MATCH_COLUMNS)}")
                value = match_value(key.kind, key.value)
                if not value:
                    continue
                sql, params = known
                cur.execute(sql, params(value))
                found = cur.fetchone()
                if found is not None:
                    values = list(found)
                    for i, process in self._convert:
                        values[i] = process(values[i])
                    return record_from_row(self._row(*values)), key
        return None

