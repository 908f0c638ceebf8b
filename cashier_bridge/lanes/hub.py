"""The thin asyncio layer around the pure lane state machine.

It keeps the devices attached to each lane and turns intents into transitions.  A transition is
one database transaction on the *stored* lane (:class:`LaneStore`), so several bridge processes
of a chain can drive one lane: the kiosk may be on one process and its register on another.
Persisted before anyone sees it, a step is then told to the devices — directly on a one-process
SQLite registry, through PostgreSQL NOTIFY (:mod:`lane_bus`) to every process on a shared one —
and its effects (lookups, creations) are carried out and fed back as transitions.  A lane whose
effect nobody is carrying out (the database was away, or the process driving it died) is picked
up by :meth:`LaneHub.sweep`.  Registry calls run in the lanes' own worker threads (pools.py); a
per-lane lock keeps each process's view of a lane in order.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

import structlog
from pydantic import BaseModel

from cashier_bridge.identity.customer_code import ANY, CardFormat
from cashier_bridge.lanes import lane as machine
from cashier_bridge.lanes import mobile_tokens as tokens
from cashier_bridge.lanes import presenting
from cashier_bridge.lanes.bus import new_process_key
from cashier_bridge.lanes.lane import (
    MOBILE_URL_PLACEHOLDER,
    AuditLookup,
    CloseSale,
    CreateCustomer,
    Effect,
    Found,
    Lane,
    LinkSale,
    Lookup,
    MobileLink,
    RecordConsents,
    ToRegister,
)
from cashier_bridge.lanes.mobile_tokens import MobileOptions
from cashier_bridge.pools import Pool
from cashier_bridge.protocol import (
    PHONE_INTENTS,
    AbortMember,
    Cancel,
    Choose,
    ConfirmMember,
    ConnectCustomer,
    ConnectExisting,
    CustomerCard,
    EndSale,
    ErrorCode,
    Hello,
    MemberAnswer,
    Method,
    Notice,
    Phase,
    PhoneSubmit,
    ProtocolError,
    RenewMobile,
    Role,
    Scan,
    ScreenTimeout,
    StartSale,
    SubmitId,
    Welcome,
    dump,
)
from cashier_bridge.registry import DuplicateCustomer, Registry
from cashier_bridge.registry.faults import MESSAGES as FAULT_MESSAGES
from cashier_bridge.registry.faults import registry_fault
from cashier_bridge.registry.lane_store import LaneStore, LaneWrite, SaleLink
from cashier_bridge.registry.lookups import KioskLookup
from cashier_bridge.registry.mobile import SOURCE as VIA_MOBIL
from cashier_bridge.registry.problems import NotFound

log = structlog.get_logger("selfreg.lane")

SERVER_VERSION = "0.1.0"


class Peer(Protocol):
    """One connected device, or the phone on the Via mobil page (``Role.phone``); ``send``
    must not raise when it has gone away."""

    role: Role
    lane: str

    async def send(self, text: str) -> None: ...


Transition = Callable[[Lane], machine.Step]
SWEEP_S = 1.0
PRUNE_EVERY = 60  # sweeps
CarriedOut = Lookup | CreateCustomer | RecordConsents
_PLACEHOLDER = re.compile('"' + re.escape(MOBILE_URL_PLACEHOLDER)
                          + r'([0-9a-f]{12}):([A-Za-z0-9_-]{1,64})"')


class Delivery(BaseModel):
    """What every device of a lane is told after one transition, rendered once."""

    seq: int
    events: list[str]  # for registers, before the state
    kiosk_state: str
    register_state: str


@dataclass(slots=True)
class _Stepped:
    """One transition as it happened inside the lane's transaction."""

    stored: str | None
    before: Lane
    after: Lane
    effects: list[Effect]
    delivery: Delivery | None = None


@dataclass
class _LaneSlot:
    lane: Lane
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    # The stored JSON ``lane`` was read from or written as, when known: a transition that
    # finds the same text stored need not parse it again.
    saved: str | None = None
    # Each device with the seq of the newest state it was sent: nothing older follows it.
    peers: dict[Peer, int] = field(default_factory=dict)
    fetched: int = 0  # newest outbox entry read (other processes' transitions)
    catching_up: asyncio.Task[None] | None = None
    wanted: int = 0
    inbox: dict[int, str] = field(default_factory=dict)  # seq -> delivery from a NOTIFY


class Bus(Protocol):
    key: int
    listening: asyncio.Event

    async def start(self) -> None: ...
    async def stop(self) -> None: ...


class LaneHub:
    def __init__(self, registry: Registry, *, region: str = "SE",
                 card_format: CardFormat = ANY, max_lanes: int = 2000,
                 mobile: MobileOptions | None = None, pool: Pool | None = None,
                 ange_id_limit: int = machine.ANGE_ID_LIMIT) -> None:
        self.registry = registry
        # Threads of the lanes' own: what the back office or an upload is doing meanwhile
        # never queues ahead of a shopper's step (see pools.py).
        self._pool = pool or Pool("lanes", threads=8)
        self.ange_id_limit = ange_id_limit  # Ange ID look-ups per lane per minute
        self.mobile = mobile or MobileOptions()
        self._key_id = tokens.key_id(self.mobile.key)
        self._foreign_key_logged = False
        self.lanes: LaneStore = registry.lanes
        self.max_lanes = max_lanes
        self.region = region
        self.card_format = card_format
        self.me = new_process_key()  # replaced by the bus's key on a shared registry
        self._bus: Bus | None = None
        self._slots: dict[str, _LaneSlot] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._inflight: set[str] = set()  # lanes whose effect this process is carrying out
        self._sweeper: asyncio.Task[None] | None = None
        self._sweep_failing = False
        self._audits: list[KioskLookup] = []  # Ange ID look-ups waiting to be audited
        self._auditing: asyncio.Task[None] | None = None

    # --- life cycle ---------------------------------------------------------------------------

    async def start(self, bus: Bus | None = None) -> None:
        """Begin: listen to the other processes (shared registry), resume pending lanes."""
        if bus is not None:
            await bus.start()
            self._bus = bus
        await self.sweep()
        self._sweeper = asyncio.create_task(self._sweep_forever())

    async def close(self) -> None:
        if self._sweeper is not None:
            self._sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sweeper
        await self.drain()
        if self._bus is not None:
            await self._bus.stop()

    @property
    def listening(self) -> bool:
        """Hears the other processes' steps (always true with no other processes)."""
        return self._bus is None or self._bus.listening.is_set()

    @property
    def process_key(self) -> int:
        return self._bus.key if self._bus is not None else self.me

    # --- devices ------------------------------------------------------------------------------

    async def attach(self, peer: Peer, hello: Hello) -> None:
        peer.role, peer.lane = hello.role, hello.lane
        slot = await self._slot(hello.lane, device=True)
        async with slot.lock:  # no transition may slip between joining and the first view
            await self._join(slot, peer, hello.lane)
            log.info("device_attached", lane=hello.lane, role=hello.role.value,
                     phase=slot.lane.phase.value, seq=slot.lane.seq)
            await peer.send(dump(Welcome(role=hello.role, lane=hello.lane,
                                         server_version=SERVER_VERSION)))
            await peer.send(self._view_for(peer.role, slot.lane))

    def detach(self, peer: Peer) -> None:
        slot = self._slots.get(getattr(peer, "lane", ""))
        if slot is not None and peer in slot.peers:
            del slot.peers[peer]
            log.debug("device_detached", lane=peer.lane, role=peer.role.value)
            # Every transition is saved, so an idle lane nobody looks at can be reloaded when
            # needed: names that come and go must not pile up in memory.
            if not slot.peers and slot.lane.phase is Phase.idle and not slot.lock.locked():
                del self._slots[peer.lane]

    @property
    def lane_count(self) -> int:
        return len(self._slots)

    async def handle(self, peer: Peer, intent: object) -> None:
        """Apply one intent from an attached device, or from a phone on the Via mobil page
        (which raises MobileRefused when its code cannot be used); raises ProtocolError for
        the reply."""
        name = peer.lane
        kind = getattr(intent, "type", None)
        # The phone sends its own intent and nothing else, and only the phone sends it (the
        # websocket endpoints check the devices' intents against their roles before this).
        if (peer.role is Role.phone) != (kind in PHONE_INTENTS):
            raise ProtocolError(ErrorCode.wrong_role,
                                f"{kind} is not a {peer.role.value} intent", kind)
        match intent:
            case StartSale(sale_id=sale_id):
                await self.apply(name, lambda ln: machine.start_sale(ln, sale_id), cause=intent)
            case EndSale(sale_id=sale_id, total_minor=total, currency=currency):
                await self.apply(name, lambda ln: machine.end_sale(ln, sale_id, total, currency),
                                 cause=intent)
            case ConnectCustomer(customer_id=cid):
                record = await self._pool.run(self.registry.customers.find_by_id, cid)
                if record is None:
                    raise ProtocolError(ErrorCode.unknown_customer,
                                        f"there is no customer with id {cid}", intent.type)
                card = record.to_card()
                await self.apply(name, lambda ln: machine.connect_by_hand(ln, card),
                                 cause=intent)
            case ConfirmMember(prompt_id=pid, details=details):
                await self.apply(name, lambda ln: machine.confirm_member(ln, pid, details),
                                 cause=intent)
            case ConnectExisting(prompt_id=pid, customer_id=cid):
                await self.apply(name, lambda ln: machine.connect_existing(ln, pid, cid),
                                 cause=intent)
            case AbortMember(prompt_id=pid):
                await self.apply(name, lambda ln: machine.abort_member(ln, pid), cause=intent)
            case Choose(method=Method.mobile):
                link = await self._mint(name)
                await self.apply(name, lambda ln: machine.choose(
                    ln, Method.mobile, link, time.time()), cause=intent)
            case Choose(method=method):
                await self.apply(name, lambda ln: machine.choose(ln, method), cause=intent)
            case RenewMobile():
                await self.renew_mobile(name, cause=intent)
            case SubmitId(digits=digits):
                await self.apply(name, self._presenting(digits, Method.numpad), cause=intent)
            case Scan(text=text):
                await self.apply(name, self._presenting(text, Method.scan), cause=intent)
            case MemberAnswer(accept=accept):
                prompt_id = uuid.uuid4().hex
                await self.apply(name, lambda ln: machine.member_answer(ln, accept, prompt_id),
                                 cause=intent)
            case Cancel():
                await self.apply(name, machine.cancel, cause=intent)
            case ScreenTimeout(seq=seq):
                await self.apply(name, lambda ln: machine.screen_timeout(ln, seq), cause=intent)
            case PhoneSubmit():
                await self.apply(name, self._phone_submit(intent), cause=intent)
            case _:
                raise ProtocolError(ErrorCode.unknown_type,
                                    f"cannot handle {type(intent).__name__}")

    # --- Via mobil ----------------------------------------------------------------------------

    async def _mint(self, name: str) -> MobileLink:
        """A fresh phone code for ``name``: its hash is filed under the lane (so the phone page
        finds the lane) before any lane state names it."""
        nonce = tokens.new_nonce()
        token_hash = tokens.token_hash(tokens.derive(self.mobile.key, name, nonce))
        await self._pool.run(self.registry.mobile_tokens.add, token_hash, name)
        return MobileLink(nonce=nonce, key_id=self._key_id, token_hash=token_hash, sale_id=None,
                          expires_at=time.time() + self.mobile.token_s)

    async def renew_mobile(self, name: str, *, cause: object = None) -> Lane:
        slot = await self._slot(name)
        current = slot.lane.mobile
        if current is not None and current.live(time.time() + machine.RENEW_MARGIN_S) and \
                not self.lanes.shared:
            try:  # still live: nothing to file, but say so if it may not be asked now
                machine.renew_mobile(slot.lane, current, time.time(),
                                     on_choices=self.mobile.on_choices)
            except machine.NotAllowed as exc:
                raise ProtocolError(ErrorCode.not_allowed, str(exc), _type_of(cause)) from None
            return slot.lane
        link = await self._mint(name)
        return await self.apply(name, lambda ln: machine.renew_mobile(
            ln, link, time.time(), on_choices=self.mobile.on_choices), cause=cause)

    async def _offer_on_choices(self, name: str, lane: Lane) -> None:
        """The lane setting mobile_on_choices: the choices screen shows a phone code too."""
        if not self.mobile.on_choices or lane.phase is not Phase.choosing or (
                lane.mobile is not None and lane.mobile.live(time.time())):
            return
        with contextlib.suppress(machine.NotAllowed, ProtocolError):
            await self.renew_mobile(name, cause=lane.phase)

    def url_for(self, name: str, nonce: str) -> str:
        return f"{self.mobile.public_url}/m/{tokens.derive(self.mobile.key, name, nonce)}"

    def _kiosk_text(self, name: str, text: str) -> str:
        """Put the phone code's address into a kiosk state (the stored one names its nonce)."""
        if MOBILE_URL_PLACEHOLDER not in text:
            return text

        def url(m: re.Match[str]) -> str:
            if m.group(1) != self._key_id:
                if not self._foreign_key_logged:  # once: every state would say it again
                    log.error("mobile_token_key_differs", lane=name,
                              hint="give every bridge the same mobile_token_key")
                    self._foreign_key_logged = True
                return "null"
            return f'"{self.url_for(name, m.group(2))}"'

        return _PLACEHOLDER.sub(url, text)

    async def lane_for_code(self, code: str) -> Lane | None:
        """The lane that issued the phone code ``code`` as it is now, or None if none did (the
        lane's state alone says whether the code is still good)."""
        name = await self._pool.run(self.registry.mobile_tokens.lane_of, tokens.token_hash(code))
        return None if name is None else await self.current(name)

    async def current(self, name: str) -> Lane:
        """The lane as stored now (the phone page reads it)."""
        slot = self._slots.get(name)
        if slot is not None and not self.lanes.shared:
            return slot.lane
        return await self._pool.run(self._load, name)

    async def watch(self, peer: Peer, name: str) -> Lane:
        """Tell ``peer`` (a phone page following the flow) of every step of ``name``: it is
        sent the kiosk's states.  Returns the lane as it is now."""
        peer.lane = name
        slot = await self._slot(name)
        async with slot.lock:
            return await self._join(slot, peer, name)

    async def _join(self, slot: _LaneSlot, peer: Peer, name: str) -> Lane:
        """Under the slot's lock: ``peer`` follows the lane from its current state on."""
        if self.lanes.shared:  # another process may have moved the lane since
            slot.lane, slot.saved = await self._pool.run(self._load, name), None
            if not slot.peers:
                slot.fetched = max(slot.fetched, slot.lane.seq)
        slot.peers[peer] = slot.lane.seq
        return slot.lane

    def _phone_submit(self, submission: PhoneSubmit) -> Transition:
        lookup_id = uuid.uuid4().hex
        return lambda ln: presenting.phone_submit(
            ln, submission, lookup_id=lookup_id, fingerprint=self.registry.fingerprint,
            region=self.region, now=time.time())

    def _presenting(self, raw: str, source: Method) -> Transition:
        lookup_id = uuid.uuid4().hex
        return lambda ln: presenting.present(
            ln, raw, source, lookup_id=lookup_id, fingerprint=self.registry.fingerprint,
            region=self.region, card_format=self.card_format, now=time.time(),
            ange_id_limit=self.ange_id_limit)

    # --- transitions --------------------------------------------------------------------------

    async def apply(self, name: str, transition: Transition, *, cause: object = None,
                    first: Callable[[], None] | None = None) -> Lane:
        """One transition as one database transaction on the stored lane; then the devices
        hear of it and its effects are carried out.  ``first`` (blocking) runs in the same
        worker thread just before, under the lane's lock: a trip to a worker thread costs
        more CPU than a read by a unique index."""
        slot = await self._slot(name)
        async with slot.lock:
            result: list[_Stepped] = []

            def transact() -> LaneWrite | None:
                if first is not None:
                    first()
                return self.lanes.transact(
                    name, self.process_key,
                    lambda stored: self._step(name, stored, transition, result))

            try:
                write = await self._pool.run(transact)
            except machine.MobileRefused:
                raise  # the phone page explains it (410 or 404, with what to do)
            except machine.StalePrompt as exc:
                raise ProtocolError(ErrorCode.stale_prompt, str(exc), _type_of(cause)) from None
            except machine.NotAllowed as exc:
                raise ProtocolError(ErrorCode.not_allowed, str(exc), _type_of(cause)) from None
            stepped = result[-1]
            before, after, effects = stepped.before, stepped.after, stepped.effects
            slot.lane = after
            if write is None:
                slot.saved = stepped.stored
                return after
            slot.saved = write.state_json
            log.info("lane_transition", lane=name, cause=_type_of(cause),
                     phase_from=before.phase.value, phase=after.phase.value, seq=after.seq)
            if not self.lanes.shared:
                # One process: tell the devices now, still under the lock, so they see the
                # lane's states in order.  (Shared: the bus tells every process, this one too.)
                assert stepped.delivery is not None
                await self._deliver(slot, stepped.delivery)
            for effect in effects:
                if isinstance(effect, CarriedOut):
                    self._spawn_effect(name, effect)
                elif isinstance(effect, AuditLookup):
                    self._spawn_audit(name, effect)
        await self._offer_on_choices(name, after)
        return after

    def _step(self, name: str, stored: str | None, transition: Transition,
              result: list[_Stepped]) -> LaneWrite | None:
        slot = self._slots.get(name)  # its lock is held: no other step of the lane meanwhile
        if slot is not None and stored is not None and stored == slot.saved:
            before = slot.lane  # what this process wrote or read last: no need to parse it
        else:
            before = Lane.model_validate_json(stored) if stored else Lane(name=name)
        after, effects = transition(before)
        stepped = _Stepped(stored, before, after, effects)
        result.append(stepped)
        if after is before:
            return None
        link = next((SaleLink(e.sale_id, e.customer_id) if isinstance(e, LinkSale) else
                     SaleLink(e.sale_id, e.customer_id, ended=True, total_minor=e.total_minor,
                              currency=e.currency)
                     for e in effects if isinstance(e, LinkSale | CloseSale)), None)
        stepped.delivery = delivery = Delivery(
            seq=after.seq,
            events=[dump(e.message) for e in effects if isinstance(e, ToRegister)],
            kiosk_state=dump(machine.kiosk_state(after, time.time())),
            register_state=dump(machine.register_state(after)))
        # The outbox is read by the other processes of a chain; one process tells its devices
        # from ``delivery`` itself.
        return LaneWrite(state_json=after.model_dump_json(), seq=after.seq,
                         pending=machine.is_pending(after),
                         outbox=delivery.model_dump_json() if self.lanes.shared else "",
                         sale_link=link)

    async def _deliver(self, slot: _LaneSlot, delivery: Delivery) -> None:
        for peer, seen in list(slot.peers.items()):
            if delivery.seq <= seen:
                continue  # it joined after this step and was sent a newer state already
            slot.peers[peer] = delivery.seq
            if peer.role is Role.register:
                for event in delivery.events:
                    await peer.send(event)
                await peer.send(delivery.register_state)
            elif peer.role is Role.kiosk:
                await peer.send(self._kiosk_text(slot.lane.name, delivery.kiosk_state))
            else:  # a phone page: a signal to look again (it is shown no code's address)
                await peer.send(delivery.kiosk_state)

    # --- other processes' transitions (shared registry) ---------------------------------------

    def notified(self, name: str, seq: int, body: str | None = None) -> None:
        """The bus heard that ``name`` reached ``seq`` (in commit order), with what to tell
        the devices when it fitted in the notification."""
        slot = self._slots.get(name)
        if slot is None or not slot.peers or seq <= slot.fetched:
            return
        if body is not None:
            slot.inbox[seq] = body
        slot.wanted = max(slot.wanted, seq)
        if slot.catching_up is None or slot.catching_up.done():
            slot.catching_up = asyncio.ensure_future(self._catch_up(name, slot))

    async def caught_up_all(self) -> None:
        """After the bus was away: read what every watched lane missed."""
        for name, slot in list(self._slots.items()):
            if slot.peers:
                slot.wanted = max(slot.wanted, slot.fetched + 1)
                if slot.catching_up is None or slot.catching_up.done():
                    slot.catching_up = asyncio.ensure_future(self._catch_up(name, slot))

    async def _catch_up(self, name: str, slot: _LaneSlot) -> None:
        try:
            while slot.fetched < slot.wanted:
                async with slot.lock:
                    following = slot.fetched + 1
                    if following in slot.inbox:  # it came with the notification: no read
                        entries = [(following, slot.inbox.pop(following))]
                    else:  # too large for a notification, or missed: the outbox has it
                        entries = await self._pool.run(self.lanes.outbox_since, name,
                                                          slot.fetched)
                    if not entries:
                        break
                    for seq, body in entries:
                        slot.fetched = seq
                        delivery = Delivery.model_validate_json(body)
                        await self._deliver(slot, delivery)
                    for old in [k for k in slot.inbox if k <= slot.fetched]:
                        del slot.inbox[old]
        except Exception:
            log.exception("catch_up_failed", lane=name)

    # --- effects ------------------------------------------------------------------------------

    def _spawn_effect(self, name: str, effect: CarriedOut) -> None:
        self._inflight.add(name)
        task = asyncio.ensure_future(self._carry_out(name, effect))
        self._tasks.add(task)

        def done(t: asyncio.Task[None]) -> None:
            self._tasks.discard(t)
            self._inflight.discard(name)
        task.add_done_callback(done)

    def _spawn_audit(self, name: str, effect: AuditLookup) -> None:
        """Audit an Ange ID look-up after its step, in a transaction of its own: a step must
        not wait for the audit log (its inserts check the customers table, which an import or
        a migration may hold), and a lost entry loses no customer's data.  Look-ups that come
        while one write runs go together in the next (one worker trip and commit for all)."""
        self._audits.append(KioskLookup(name, effect.refused, effect.fingerprint))
        if self._auditing is None or self._auditing.done():
            task = self._auditing = asyncio.ensure_future(self._write_audits())
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _write_audits(self) -> None:
        while self._audits:
            batch, self._audits = self._audits, []
            try:
                await self._pool.run(self.registry.lookups.record_kiosk_many, batch)
            except Exception as exc:
                log.warning("ange_id_audit_failed", lane=batch[0].lane, entries=len(batch),
                            error=type(exc).__name__)

    async def _carry_out(self, name: str, effect: CarriedOut) -> None:
        if isinstance(effect, RecordConsents):
            try:
                await self._record_consents(name, effect)
            except Exception as exc:
                # The lane stays pending with it: the sweep records them once the database
                # works (recording twice is impossible: one row per request and purpose).
                log.warning("consents_not_recorded", lane=name, error=type(exc).__name__)
            return
        try:
            if isinstance(effect, Lookup):
                await self._lookup(name, effect)
            else:
                await self._create(name, effect)
        except Exception as exc:
            # Never leave the shopper looking at a spinner: the lane says it failed.  If even
            # that cannot be saved (the database is away, its disk full), the devices are told
            # directly, the lane stays pending, and the sweep carries the effect out again
            # once the database works.
            fault = registry_fault(exc)
            if fault is None:
                log.exception("effect_failed", lane=name, effect=type(effect).__name__)
            else:
                log.warning(f"registry_{fault.value}", lane=name,
                            effect=type(effect).__name__)
            try:
                await self.apply(name, _failure(effect, Notice.of(
                    (fault or ErrorCode.unavailable).value)), cause=effect)
            except Exception:
                log.warning("lane_failure_not_saved", lane=name)
                await self._tell_devices(name, fault or ErrorCode.internal, effect)

    async def _tell_devices(self, name: str, code: ErrorCode,
                            effect: Lookup | CreateCustomer) -> None:
        slot = self._slots.get(name)
        message = FAULT_MESSAGES.get(code, "the bridge could not carry this out; try again")
        error = dump(ProtocolError(code, message, _type_of(effect)).reply())
        for peer in list(slot.peers) if slot else []:
            await peer.send(error)

    async def _lookup(self, name: str, effect: Lookup) -> None:
        matched: list[tuple[Found | None, tuple[CustomerCard, ...]]] = []
        # Used if a phone already asked to become a member, or its details do not match.
        prompt_id = uuid.uuid4().hex

        def done(ln: Lane) -> machine.Step:
            found, duplicates = matched[-1]
            return machine.lookup_done(ln, effect.lookup_id, found, duplicates, prompt_id)

        await self.apply(name, done, cause=effect,
                         first=lambda: matched.append(self._match(effect)))

    async def _record_consents(self, name: str, effect: RecordConsents) -> None:
        written = await self._pool.run(self._write_consents, effect)
        log.info("consents_recorded", lane=name, customer_id=effect.customer_id,
                 new=written)
        await self.apply(name, lambda ln: machine.consents_recorded(ln, effect.request_key),
                         cause=effect)

    def _write_consents(self, effect: RecordConsents) -> int | None:
        """The one place the phone's consents are written: the registry's consent log, once
        per answer and request (code hash, purpose), so a retry writes nothing twice.  How many
        rows were new; None when the customer was erased meanwhile (nothing to keep)."""
        written = 0
        for c in effect.consents:
            try:
                written += self.registry.consents.record(
                    effect.customer_id, c.purpose, c.granted, VIA_MOBIL, c.version,
                    request_key=effect.request_key)
            except NotFound:
                return None
        return written

    def _match(self, effect: Lookup) -> tuple[Found | None, tuple[CustomerCard, ...]]:
        """The customer the keys name (and whether the rest of what was presented agrees with
        them), else the near misses a new member might duplicate."""
        keys = list(effect.keys)
        while keys and (found := self.registry.customers.find(keys)) is not None:
            record, key = found
            if not presenting.contradicts(effect.candidate, record.personal_id_fingerprint):
                card = record.to_card(matched_on=key.reading)
                return Found(customer=card, agrees=presenting.agrees(effect.candidate, card)), ()
            keys = keys[keys.index(key) + 1:]  # someone else's phone or e-mail: try the rest
        c = effect.candidate
        if c is None or not c.can_become_member:
            return None, ()
        near = self.registry.customers.likely_duplicates(presenting.duplicate_probe(c))
        return None, tuple(record.to_card(matched_on=reason) for record, reason in near)

    async def _create(self, name: str, effect: CreateCustomer) -> None:
        try:
            new = presenting.new_customer(effect.candidate, effect.details, self.region)
            record, created = await self._pool.run(
                self.registry.customers.create_new, effect.prompt_id, new)
        except DuplicateCustomer as dup:
            if dup.field == "personal_id_fingerprint":
                # The same person registered meanwhile (another lane): connect them, not a twin.
                card = dup.existing.to_card(matched_on="personnummer")
                await self.apply(name, lambda ln: machine.customer_created(
                    ln, effect.prompt_id, card, made_here=False), cause=effect)
                return
            notice = Notice.of(f"duplicate_{dup.field}")
            await self.apply(name, lambda ln: machine.create_failed(
                ln, effect.prompt_id, notice), cause=effect)
            return
        except ValueError as exc:
            log.warning("create_rejected", lane=name, reason=type(exc).__name__)
            await self.apply(name, lambda ln: machine.create_failed(
                ln, effect.prompt_id, Notice.invalid_details), cause=effect)
            return
        card = record.to_card(is_new=created)
        log.info("customer_created", lane=name, customer_id=record.id, created=created)
        await self.apply(name, lambda ln: machine.customer_created(ln, effect.prompt_id, card),
                         cause=effect)

    # --- lanes whose effects nobody is carrying out -------------------------------------------

    async def sweep(self) -> int:
        """Carry out the effects of pending lanes that no living process is carrying out: ours
        that failed (the database was away), and those of a process that died.  How many."""
        resumed = 0
        me = self.process_key
        for name, driver in await self._pool.run(self.lanes.pending, me):
            if name in self._inflight:
                continue
            slot = await self._slot(name)
            # Under the lane's lock: a transition of ours that is between saving a pending lane
            # and starting its effect holds this lock, so it is never mistaken for a lost one.
            async with slot.lock:
                if name in self._inflight:
                    continue
                state = await self._pool.run(self.lanes.take_over, name, me)
                if state is None:
                    continue  # its driver lives, or it finished meanwhile
                lane = Lane.model_validate_json(state)
                log.info("lane_resumed", lane=name, phase=lane.phase.value, seq=lane.seq,
                         from_process=driver, process=me)
                for effect in machine.pending_effects(lane):
                    if isinstance(effect, CarriedOut):
                        self._spawn_effect(name, effect)
                        resumed += 1
        return resumed

    async def _sweep_forever(self) -> None:
        rounds = 0
        while True:
            await asyncio.sleep(SWEEP_S)
            rounds += 1
            try:
                await self.sweep()
                if self.lanes.shared and rounds % PRUNE_EVERY == 0:
                    await self._pool.run(self.lanes.prune_outbox)
                if self._sweep_failing:
                    log.info("sweep_recovered")
                self._sweep_failing = False
            except Exception as exc:
                if not self._sweep_failing:  # once per outage, not once a second
                    log.warning("sweep_failed", error=type(exc).__name__)
                self._sweep_failing = True

    # --- state --------------------------------------------------------------------------------

    def _load(self, name: str) -> Lane:
        saved = self.lanes.load(name)
        return Lane.model_validate_json(saved) if saved else Lane(name=name)

    async def _slot(self, name: str, *, device: bool = False) -> _LaneSlot:
        slot = self._slots.get(name)
        if slot is None:
            if device and len(self._slots) >= self.max_lanes:
                raise ProtocolError(ErrorCode.lane_limit,
                                    f"this bridge already holds its maximum of {self.max_lanes} "
                                    "lanes (setting max_lanes)", "hello")
            lane = await self._pool.run(self._load, name)
            slot = self._slots.setdefault(name, _LaneSlot(lane, fetched=lane.seq))
        return slot

    def _view_for(self, role: Role, lane: Lane) -> str:
        if role is Role.kiosk:
            return self._kiosk_text(lane.name, dump(machine.kiosk_state(lane, time.time())))
        return dump(machine.register_state(lane))

    async def drain(self) -> None:
        """Wait for effects in flight (used at shutdown and by tests)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)


def _failure(effect: Lookup | CreateCustomer, notice: Notice) -> Transition:
    if isinstance(effect, Lookup):
        return lambda ln: machine.lookup_failed(ln, effect.lookup_id)
    return lambda ln: machine.create_failed(ln, effect.prompt_id, notice)


def _type_of(cause: object) -> str | None:
    return getattr(cause, "type", None) or (type(cause).__name__ if cause is not None else None)
