"""The thin asyncio layer around the pure lane state machine.

It keeps each lane's current state, the devices attached to it, and turns intents into
transitions: persist the new state (before anyone sees it, so a restart loses nothing), send every
device its view, then carry out the effects and feed their results back as transitions.
Registry calls run in a worker thread; one lock per lane serialises its transitions.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Protocol

import structlog

from . import lane as machine
from .identity import Classification, classify
from .identity import phone as phone_id
from .identity.customer_code import ANY, CardFormat
from .lane import Candidate, CreateCustomer, Effect, Lane, Lookup, MatchKey, ToRegister
from .protocol import (
    AbortMember,
    Cancel,
    Choose,
    ConfirmMember,
    ConnectExisting,
    CustomerCard,
    CustomerConnected,
    EndSale,
    ErrorCode,
    Hello,
    MemberAnswer,
    MemberDetails,
    Method,
    Phase,
    ProtocolError,
    Role,
    Scan,
    ScreenTimeout,
    StartSale,
    SubmitId,
    Welcome,
    dump,
)
from .registry import DuplicateCustomer, DuplicateProbe, NewCustomer, Registry

log = structlog.get_logger("selfreg.lane")

SERVER_VERSION = "0.1.0"


class Peer(Protocol):
    """One connected device; ``send`` must not raise when the device has gone away."""

    role: Role
    lane: str

    async def send(self, text: str) -> None: ...


Transition = Callable[[Lane], machine.Step]


@dataclass
class _LaneSlot:
    lane: Lane
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    peers: set[Peer] = field(default_factory=set)


class LaneHub:
    def __init__(self, registry: Registry, *, region: str = "SE",
                 card_format: CardFormat = ANY, max_lanes: int = 2000) -> None:
        self.registry = registry
        self.max_lanes = max_lanes
        self.region = region
        self.card_format = card_format
        self._slots: dict[str, _LaneSlot] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    # --- devices ------------------------------------------------------------------------------

    async def attach(self, peer: Peer, hello: Hello) -> None:
        peer.role, peer.lane = hello.role, hello.lane
        slot = await self._slot(hello.lane)
        async with slot.lock:  # no transition may slip between joining and the first view
            slot.peers.add(peer)
            log.info("device_attached", lane=hello.lane, role=hello.role.value,
                     phase=slot.lane.phase.value, seq=slot.lane.seq)
            await peer.send(dump(Welcome(role=hello.role, lane=hello.lane,
                                         server_version=SERVER_VERSION)))
            await peer.send(self._view_for(peer.role, slot.lane))

    def detach(self, peer: Peer) -> None:
        slot = self._slots.get(getattr(peer, "lane", ""))
        if slot is not None and peer in slot.peers:
            slot.peers.discard(peer)
            log.debug("device_detached", lane=peer.lane, role=peer.role.value)
            # Every transition is saved, so an idle lane nobody looks at can be reloaded when
            # needed: names that come and go must not pile up in memory.
            if not slot.peers and slot.lane.phase is Phase.idle and not slot.lock.locked():
                del self._slots[peer.lane]

    @property
    def lane_count(self) -> int:
        return len(self._slots)

    async def handle(self, peer: Peer, intent: object) -> None:
        """Apply one intent from an attached device; raises ProtocolError for the reply."""
        name = peer.lane
        match intent:
            case StartSale(sale_id=sale_id):
                await self.apply(name, lambda ln: machine.start_sale(ln, sale_id), cause=intent)
            case EndSale(sale_id=sale_id):
                await self.apply(name, lambda ln: machine.end_sale(ln, sale_id), cause=intent)
            case ConfirmMember(prompt_id=pid, details=details):
                await self.apply(name, lambda ln: machine.confirm_member(ln, pid, details),
                                 cause=intent)
            case ConnectExisting(prompt_id=pid, customer_id=cid):
                await self.apply(name, lambda ln: machine.connect_existing(ln, pid, cid),
                                 cause=intent)
            case AbortMember(prompt_id=pid):
                await self.apply(name, lambda ln: machine.abort_member(ln, pid), cause=intent)
            case Choose(method=method):
                await self.apply(name, lambda ln: machine.choose(ln, method), cause=intent)
            case SubmitId(digits=digits):
                await self.apply(name, lambda ln: self._present(ln, digits, Method.numpad),
                                 cause=intent)
            case Scan(text=text):
                await self.apply(name, lambda ln: self._present(ln, text, Method.scan),
                                 cause=intent)
            case MemberAnswer(accept=accept):
                prompt_id = uuid.uuid4().hex
                await self.apply(name, lambda ln: machine.member_answer(ln, accept, prompt_id),
                                 cause=intent)
            case Cancel():
                await self.apply(name, machine.cancel, cause=intent)
            case ScreenTimeout(seq=seq):
                await self.apply(name, lambda ln: machine.screen_timeout(ln, seq), cause=intent)
            case _:
                raise ProtocolError(ErrorCode.unknown_type,
                                    f"cannot handle {type(intent).__name__}")

    # --- transitions --------------------------------------------------------------------------

    async def apply(self, name: str, transition: Transition, *, cause: object = None) -> Lane:
        slot = await self._slot(name)
        async with slot.lock:
            before = slot.lane
            try:
                after, effects = transition(before)
            except machine.StalePrompt as exc:
                raise ProtocolError(ErrorCode.stale_prompt, str(exc), _type_of(cause)) from None
            except machine.NotAllowed as exc:
                raise ProtocolError(ErrorCode.not_allowed, str(exc), _type_of(cause)) from None
            if after is not before:
                await asyncio.to_thread(self.registry.save_lane, name, after.model_dump_json())
                slot.lane = after
                log.info("lane_transition", lane=name, cause=_type_of(cause),
                         phase_from=before.phase.value, phase=after.phase.value, seq=after.seq)
            # Still under the lock: devices see the lane's states in order, never an older one
            # after a newer one.
            await self._publish(slot, after, effects)
        return after

    async def _publish(self, slot: _LaneSlot, lane: Lane, effects: list[Effect]) -> None:
        for effect in effects:
            if isinstance(effect, ToRegister):
                message = effect.message
                if isinstance(message, CustomerConnected) and message.sale_id:
                    await asyncio.to_thread(self.registry.link_sale, lane.name, message.sale_id,
                                            message.customer.id)
                await self._broadcast(slot, Role.register, dump(message))
        kiosk_view, register_view = dump(machine.kiosk_state(lane)), dump(
            machine.register_state(lane))
        for peer in list(slot.peers):
            await peer.send(kiosk_view if peer.role is Role.kiosk else register_view)
        for effect in effects:
            if isinstance(effect, Lookup | CreateCustomer):
                self._spawn(self._carry_out(lane.name, effect))

    async def _broadcast(self, slot: _LaneSlot, role: Role, text: str) -> None:
        for peer in list(slot.peers):
            if peer.role is role:
                await peer.send(text)

    def _spawn(self, coro: Awaitable[None]) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _carry_out(self, name: str, effect: Lookup | CreateCustomer) -> None:
        try:
            if isinstance(effect, Lookup):
                await self._lookup(name, effect)
            else:
                await self._create(name, effect)
        except Exception:
            # Never leave the shopper looking at a spinner: the lane says it failed.
            log.exception("effect_failed", lane=name, effect=type(effect).__name__)
            try:
                await self.apply(name, _failure(effect), cause=effect)
            except Exception:
                log.exception("lane_failure_not_saved", lane=name)

    async def _lookup(self, name: str, effect: Lookup) -> None:
        card, duplicates = await asyncio.to_thread(self._match, effect)
        await self.apply(name, lambda ln: machine.lookup_done(ln, effect.lookup_id, card,
                                                              duplicates), cause=effect)

    def _match(self, effect: Lookup) -> tuple[CustomerCard | None, tuple[CustomerCard, ...]]:
        """The customer the keys name, else the near misses a new member might duplicate."""
        found = self.registry.find(effect.keys)
        if found is not None:
            record, key = found
            return record.to_card(matched_on=key.reading), ()
        c = effect.candidate
        if c is None or not c.can_become_member:
            return None, ()
        probe = DuplicateProbe(birth_date=_date(c.birth_date), first_name=c.first_name,
                               last_name=c.last_name, phone=c.phone, email=c.email,
                               personal_id_fingerprint=c.personal_id_fingerprint)
        near = self.registry.likely_duplicates(probe)
        return None, tuple(record.to_card(matched_on=reason) for record, reason in near)

    async def _create(self, name: str, effect: CreateCustomer) -> None:
        new = _new_customer(effect.candidate, effect.details, self.region)
        try:
            record, created = await asyncio.to_thread(
                self.registry.create_customer, effect.prompt_id, new)
        except DuplicateCustomer as dup:
            if dup.field == "personal_id_fingerprint":
                # The same person registered meanwhile (another lane): connect them, not a twin.
                card = dup.existing.to_card(matched_on="personnummer")
                await self.apply(name, lambda ln: machine.customer_created(
                    ln, effect.prompt_id, card), cause=effect)
                return
            notice = f"duplicate_{dup.field}"
            await self.apply(name, lambda ln: machine.create_failed(
                ln, effect.prompt_id, notice), cause=effect)
            return
        except ValueError as exc:
            log.warning("create_rejected", lane=name, reason=str(exc))
            await self.apply(name, lambda ln: machine.create_failed(
                ln, effect.prompt_id, "invalid_details"), cause=effect)
            return
        card = record.to_card(is_new=created)
        log.info("customer_created", lane=name, customer_id=record.id, created=created)
        await self.apply(name, lambda ln: machine.customer_created(ln, effect.prompt_id, card),
                         cause=effect)

    # --- identification -----------------------------------------------------------------------

    def _present(self, lane: Lane, raw: str, source: Method) -> machine.Step:
        result = classify(raw, source.value, region=self.region, card_format=self.card_format)
        candidate, keys = self._candidate(result, source)
        # A licence that carries no phone or e-mail is still a member proposal: look up nothing.
        if not keys and not (result.document and result.can_become_member):
            rejection = result.best_rejection()
            notice = rejection.code if rejection else "unreadable"
            return machine.present_rejected(lane, source, notice)
        return machine.present(lane, candidate, keys, uuid.uuid4().hex)

    def _candidate(self, result: Classification, source: Method
                   ) -> tuple[Candidate, tuple[MatchKey, ...]]:
        keys: list[MatchKey] = []
        fields: dict[str, object] = {}
        for reading in result.readings:
            if reading.kind in ("personnummer", "samordningsnummer"):
                fp = self.registry.fingerprint(reading.value)
                keys.append(MatchKey(kind="personal_id_fingerprint", value=fp,
                                     reading=reading.kind))
                fields.setdefault("personal_id_fingerprint", fp)
                fields.setdefault("personal_id_masked", reading.masked)
                if reading.birth_date:
                    fields.setdefault("birth_date", reading.birth_date.isoformat())
            elif reading.kind == "phone":
                keys.append(MatchKey(kind="phone", value=reading.value, reading="phone"))
                fields.setdefault("phone", reading.value)
                fields.setdefault("phone_masked", reading.masked)
            elif reading.kind == "email":
                keys.append(MatchKey(kind="email", value=reading.value, reading="email"))
                fields.setdefault("email", reading.value)
            elif reading.kind == "customer_code":
                keys.append(MatchKey(kind="customer_code", value=reading.value,
                                     reading="customer_code"))
                fields.setdefault("customer_code", reading.value)
        document = result.document
        if document is not None:
            fields.update(first_name=document.first_name, last_name=document.last_name,
                          address=document.address, document=document.kind,
                          document_number=document.document_number,
                          document_expired=document.expired)
            if document.birth_date and "birth_date" not in fields:
                fields["birth_date"] = document.birth_date.isoformat()
        first = result.readings[0].kind if result.readings else "unknown"
        rejection = result.best_rejection()
        candidate = Candidate(source=source, kind=first, can_become_member=result.can_become_member,
                              rejection=rejection.code if rejection else None,
                              **fields)  # type: ignore[arg-type]
        return candidate, tuple(keys)

    # --- state --------------------------------------------------------------------------------

    async def _slot(self, name: str) -> _LaneSlot:
        slot = self._slots.get(name)
        if slot is None:
            saved = await asyncio.to_thread(self.registry.load_lane, name)
            if name not in self._slots and len(self._slots) >= self.max_lanes:
                raise ProtocolError(ErrorCode.lane_limit,
                                    f"this bridge already holds its maximum of {self.max_lanes} "
                                    "lanes (setting max_lanes)", "hello")
            lane = Lane.model_validate_json(saved) if saved else Lane(name=name)
            slot = self._slots.setdefault(name, _LaneSlot(lane))
            if slot.lane is lane and saved:
                log.info("lane_resumed", lane=name, phase=lane.phase.value, seq=lane.seq)
                for effect in machine.pending_effects(lane):
                    self._spawn(self._carry_out(name, effect))  # type: ignore[arg-type]
        return slot

    def _view_for(self, role: Role, lane: Lane) -> str:
        return dump(machine.kiosk_state(lane) if role is Role.kiosk
                    else machine.register_state(lane))

    async def drain(self) -> None:
        """Wait for effects in flight (used at shutdown and by tests)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)


def _failure(effect: Lookup | CreateCustomer) -> Transition:
    if isinstance(effect, Lookup):
        return lambda ln: machine.lookup_failed(ln, effect.lookup_id)
    return lambda ln: machine.create_failed(ln, effect.prompt_id, "unavailable")


def _type_of(cause: object) -> str | None:
    return getattr(cause, "type", None) or (type(cause).__name__ if cause is not None else None)


def _new_customer(candidate: Candidate, details: MemberDetails, region: str) -> NewCustomer:
    phone = candidate.phone
    if details.phone:
        phone = phone_id.compact(details.phone, region)  # IdentityError is a ValueError
    email = (details.email or candidate.email or None)
    return NewCustomer(
        first_name=details.first_name.strip(),
        last_name=details.last_name.strip(),
        phone=phone,
        email=email.strip().lower() if email else None,
        personal_id_fingerprint=candidate.personal_id_fingerprint,
        personal_id_masked=candidate.personal_id_masked,
        birth_date=_date(candidate.birth_date),
        created_via=candidate.source.value,
        marketing_consent=details.marketing_consent,
        consent_source="register",
    )


def _date(text: str | None) -> dt.date | None:
    return dt.date.fromisoformat(text) if text else None
