"""The personnummer look-up budget lives in the database: every bridge process of a chain (here
two Registry objects on one database) counts into the same budget per actor, on SQLite and on
PostgreSQL, and two processes racing cannot both spend the last look-up."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable, Iterator

import pytest

from cashier_bridge.customers.lookup_limit import TooManyLookups
from cashier_bridge.registry import DuplicateCustomer, NewCustomer, Registry
from cashier_bridge.registry.lookups import RECORDED_REFUSALS
from tests.masked import numbers

ANNA_PNR = "198503121249"
OTHERS = numbers(30, but=ANNA_PNR)
START = dt.datetime(2026, 11, 24, 9, 0, tzinfo=dt.UTC)


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> dt.datetime:
        return self.now


@pytest.fixture
def chain(db_url: str) -> Iterator[tuple[Registry, Registry, Clock]]:
    """Two bridge processes' registries on one database, on one clock."""
    clock = Clock()
    first, second = Registry.open(db_url), Registry.open(db_url)
    for reg in (first, second):
        reg.lookups.clock = clock
    yield first, second, clock
    first.close()
    second.close()


def check(reg: Registry, number: str, actor: str = "token:1:pos") -> None:
    reg.customers.validate({"first_name": "Eva", "last_name": "Ek", "personal_id": number},
                           region="SE", actor=actor)


def test_two_processes_count_into_one_budget(chain: tuple[Registry, Registry, Clock]) -> None:
    first, second, clock = chain
    first.customers.create_new("seed", NewCustomer(
        "Anna", "Svensson", personal_id_fingerprint=first.fingerprint(ANNA_PNR)))
    for i, number in enumerate(OTHERS[:5]):
        check(first if i % 2 else second, number)
        clock.now += dt.timedelta(seconds=1)
    for reg in (first, second):
        with pytest.raises(TooManyLookups) as refused:
            check(reg, ANNA_PNR)
        assert refused.value.retry_after_s == 55
    check(second, OTHERS[0])  # one of this minute's numbers again: free, on either
    check(first, OTHERS[4])
    with pytest.raises(DuplicateCustomer):  # another actor has a budget of their own
        check(second, ANNA_PNR, actor="staff:kim")
    clock.now += dt.timedelta(seconds=55)
    check(first, OTHERS[5])
    hits = second.lookups.limit_hits(START)
    assert [(h.actor, h.refused, h.looked_up) for h in hits] == [("token:1:pos", 1, 6)]


def test_racing_processes_spend_the_budget_exactly_once(
        chain: tuple[Registry, Registry, Clock]) -> None:
    first, second, _clock = chain
    outcomes: list[str] = []
    start = threading.Barrier(10)

    def attempt(reg: Registry, number: str) -> None:
        start.wait()
        try:
            check(reg, number)
            outcomes.append("checked")
        except TooManyLookups:
            outcomes.append("refused")

    threads = [threading.Thread(target=attempt, args=((first, second)[i % 2], OTHERS[i]))
               for i in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["checked"] * 5 + ["refused"] * 5


def test_refusals_are_recorded_once_per_number_and_at_most_a_hundred_a_minute(
        chain: tuple[Registry, Registry, Clock]) -> None:
    first, _second, _clock = chain
    first.lookups.per_minute = 1
    check(first, OTHERS[0])
    for number in [OTHERS[1], OTHERS[1], OTHERS[2]]:
        with pytest.raises(TooManyLookups):
            check(first, number)
    assert [h.refused for h in first.lookups.limit_hits(START)] == [2]
    # A flood of numbers: refused all the same, but the log keeps a hundred of them.
    for number in numbers(130, birth="19900101"):
        with pytest.raises(TooManyLookups):
            check(first, number)
    assert [h.refused for h in first.lookups.limit_hits(START)] == [RECORDED_REFUSALS]


def _paths(reg: Registry, target: int) -> dict[str, Callable[[str], object]]:
    """Every CustomerAdmin method that takes a caller's personnummer."""
    new = {"first_name": "Eva", "last_name": "Ek"}
    return {
        "validate": lambda n: reg.customers.validate({**new, "personal_id": n}, region="SE",
                                                     actor=ACTOR),
        "create": lambda n: reg.customers.create({**new, "personal_id": n}, region="SE",
                                                 idempotency_key=None, actor=ACTOR),
        "update": lambda n: reg.customers.update(target, {"personal_id": n, "city": "Lund"},
                                                 region="SE", actor=ACTOR),
        "update_credit_terms": lambda n: reg.customers.update_credit_terms(
            target, {"loyalty_rate_bp": 500}, details={"personal_id": n}, actor=ACTOR),
    }


ACTOR = "staff:maja"


@pytest.mark.parametrize("path", ["validate", "create", "update", "update_credit_terms"])
def test_every_path_with_a_personnummer_is_limited_and_changes_nothing(
        chain: tuple[Registry, Registry, Clock], path: str) -> None:
    first, second, _clock = chain
    target = first.customers.create_new("seed-bo", NewCustomer("Bo", "Berg"))[0].id
    for number in OTHERS[:5]:
        first.customers.validate({"first_name": "Eva", "last_name": "Ek",
                                  "personal_id": number}, region="SE", actor=ACTOR)
    before = (second.customers.count(), second.customers.get(target))
    with pytest.raises(TooManyLookups):
        _paths(second, target)[path](ANNA_PNR)
    assert (second.customers.count(), second.customers.get(target)) == before
