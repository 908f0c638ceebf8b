"""What the phone page shows for a code: a pure function of the lane, the code's hash and the
phone's receipt (the cookie the submitting phone was given).

The phone sees a customer (welcome by first name, customer code, member card) only when the
lane's phone session says it may speak for them
(:data:`~cashier_bridge.lanes.lane.PHONE_SPEAKS_FOR`):
its details matched the customer on file, or the customer was just made from them.  A phone
whose details did not match is shown what a would-be member waiting for the cashier is shown,
and after the cashier's decision nothing about whom they connected."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from cashier_bridge.lanes.lane import (
    PHONE_SPEAKS_FOR,
    Lane,
    MobileProblem,
    PhoneOutcome,
    PhoneSession,
)
from cashier_bridge.protocol import Phase


class Stage(StrEnum):
    form = "form"
    checking = "checking"
    answer_on_screen = "answer_on_screen"
    with_cashier = "with_cashier"
    welcome = "welcome"
    at_till = "at_till"  # the cashier connected a customer: the phone is not told whom
    cancelled = "cancelled"
    member_declined = "member_declined"
    member_aborted = "member_aborted"
    ended = "ended"


FINAL = frozenset({Stage.welcome, Stage.at_till, Stage.cancelled, Stage.member_declined,
                   Stage.member_aborted, Stage.ended})
PROBLEM_STATUS = {MobileProblem.malformed: 404, MobileProblem.unknown: 404,
                  MobileProblem.expired: 410, MobileProblem.used: 410,
                  MobileProblem.replaced: 410}


@dataclass(frozen=True, slots=True)
class PhoneView:
    stage: Stage | None = None
    problem: MobileProblem | None = None
    first_name: str | None = None
    customer_code: str | None = None
    is_new: bool = False
    expires_in_s: int | None = None

    @property
    def final(self) -> bool:
        return self.stage in FINAL

    @property
    def key(self) -> str:
        """Changes whenever what the page shows changes (the live updates compare it)."""
        return (self.problem or self.stage or "").__str__()


def resolve(lane: Lane | None, token_hash: str, receipt_hash: str | None, now: float
            ) -> PhoneView:
    if lane is None:
        return PhoneView(problem=MobileProblem.unknown)
    session = lane.phone
    if session is not None and session.token_hash == token_hash:
        if receipt_hash != session.receipt_hash:
            return PhoneView(problem=MobileProblem.used)  # a second phone, or no receipt
        return _follow(lane, session)
    link = lane.mobile
    if link is not None and link.token_hash == token_hash and link.sale_id == lane.sale_id:
        if not link.live(now):
            return PhoneView(problem=MobileProblem.expired)
        return PhoneView(stage=Stage.form, expires_in_s=max(0, round(link.expires_at - now)))
    if receipt_hash is not None:
        return PhoneView(stage=Stage.ended)  # this phone's visit is over (the sale ended)
    return PhoneView(problem=MobileProblem.replaced)


def _follow(lane: Lane, session: PhoneSession) -> PhoneView:
    match session.outcome:
        case PhoneOutcome.connected:
            if session.link not in PHONE_SPEAKS_FOR:
                return PhoneView(stage=Stage.at_till)
            c = lane.customer
            if lane.phase is Phase.connected and c is not None and c.id == session.customer_id:
                return PhoneView(stage=Stage.welcome, first_name=c.first_name,
                                 customer_code=c.customer_code, is_new=c.is_new)
            if lane.phase is Phase.connected:  # the cashier connected someone else since
                return PhoneView(stage=Stage.at_till)
            return PhoneView(stage=Stage.ended)
        case PhoneOutcome.cancelled:
            return PhoneView(stage=Stage.cancelled)
        case PhoneOutcome.member_declined:
            return PhoneView(stage=Stage.member_declined)
        case PhoneOutcome.member_aborted:
            return PhoneView(stage=Stage.member_aborted)
    if lane.phase is Phase.ask_member:
        return PhoneView(stage=Stage.answer_on_screen)
    if lane.phase is Phase.await_cashier:
        return PhoneView(stage=Stage.with_cashier)
    return PhoneView(stage=Stage.checking)
