"""The rate limiter's rules, on a clock the test moves."""

from __future__ import annotations

import pytest

from cashier_bridge.web.ratelimit import RateLimiter, address_key


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_burst_of_the_whole_allowance_then_one_hit_per_interval() -> None:
    clock = Clock()
    limiter = RateLimiter(240, 60, clock=clock)
    assert [limiter.hit("a") for _ in range(240)] == [None] * 240
    wait = limiter.hit("a")
    assert wait == pytest.approx(0.25)
    clock.now += 0.25
    assert limiter.hit("a") is None
    assert limiter.hit("a") == pytest.approx(0.25)


def test_refused_hits_cost_nothing_and_a_quiet_key_gets_its_allowance_back() -> None:
    clock = Clock()
    limiter = RateLimiter(2, 10, clock=clock)
    limiter.hit("a"), limiter.hit("a")
    for _ in range(100):  # hammering while refused does not push the wait further out
        assert limiter.hit("a") == pytest.approx(5.0)
    clock.now += 10
    assert [limiter.hit("a") for _ in range(3)] == [None, None, pytest.approx(5.0)]


def test_the_keys_remembered_are_bounded_and_the_oldest_forgotten_first() -> None:
    clock = Clock()
    limiter = RateLimiter(1, 60, max_keys=100, clock=clock)
    assert limiter.hit("kept") is None
    for i in range(99):
        limiter.hit(f"k{i}")
    assert limiter.hit("kept") is not None  # touched: still remembered (and refused)
    for i in range(1000):
        limiter.hit(f"flood{i}")
    assert len(limiter) == 100  # a flood of addresses costs a bounded amount of memory
    assert limiter.hit("kept") is None  # forgotten, so it starts afresh: fails open


def test_nonsense_limits_are_refused() -> None:
    for args in ((0, 60), (1, 0), (1, -1)):
        with pytest.raises(ValueError):
            RateLimiter(*args)


def test_an_ipv6_client_is_counted_by_its_64() -> None:
    assert address_key("2001:db8::1") == address_key("2001:db8::ffff:1") == "2001:db8::/64"
    assert address_key("2001:db8:0:1::1") != address_key("2001:db8::1")
