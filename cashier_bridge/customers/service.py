"""The customer service: the one way a customer is created, checked, changed, exported and
erased, whoever asks (the REST API and the cashier console through it, the back office).  Web
handlers parse what was sent, call one method here and render what it returns; the rules are
here and in the field table, the storage in :mod:`cashier_bridge.registry`.

**Who may set which field** is one rule: each field's ``write`` action in the field table
(:mod:`.fields`; the credit terms need :attr:`~cashier_bridge.permissions.Action.edit_credit_terms`,
a group :attr:`~cashier_bridge.permissions.Action.manage_groups`), asked of the caller through
``permit``: a function that returns when the caller may take the action and raises the
caller's own refusal when not (an API token is judged by its scope, a staff member by
:mod:`cashier_bridge.permissions`).  Every method that writes fields asks it for each action
the fields need, before anything is written.

**The export** (GDPR article 15) is assembled once, by :meth:`CustomerService.export`, and
audited in the same transaction for every caller; the API and the back office only render it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from cashier_bridge.customers.fields import BY_NAME, CREDIT_TERMS
from cashier_bridge.permissions import Action

if TYPE_CHECKING:
    from cashier_bridge.registry import Registry
    from cashier_bridge.registry.consents import AnswerSource, ConsentEntry, ConsentText
    from cashier_bridge.registry.customer_admin import CustomerExport
    from cashier_bridge.registry.records import CustomerRecord

# Members erased by one confirmation of the retention review (each its own transaction).
RETENTION_BATCH = 500


class ListChanged(Exception):
    """The retention list is not the one that was reviewed: ``now`` members are due."""

    def __init__(self, now: int) -> None:
        super().__init__(f"the list changed since it was reviewed: {now} members are due now")
        self.now = now


# Returns if the caller may take the action; raises the caller's refusal if not.
Permit = Callable[[Action], None]
MARKETING = "marketing"
# Not a field of the customer: an answer for the consent log, written with the customer.
_CONSENT = "marketing_consent"


def needed(names: Iterable[str], base: Action) -> list[Action]:
    """The actions setting the fields ``names`` needs beyond ``base`` (the route's own: create
    or edit a customer), in the field table's order.  Unknown names need nothing here: the
    field table refuses them when they are read.

    >>> [a.value for a in needed(["city", "loyalty_rate_bp", "group_id"], Action.edit_customer)]
    ['edit_credit_terms', 'manage_groups']
    >>> needed(["first_name", "marketing_consent"], Action.create_customer)
    []
    """
    wanted = {BY_NAME[n].write for n in names if n in BY_NAME}
    ordered = [f.write for f in BY_NAME.values() if f.write in wanted]
    return [a for a in dict.fromkeys(ordered)
            if a is not None and a not in (base, Action.edit_customer)]


def authorise(names: Iterable[str], permit: Permit, base: Action) -> None:
    """Ask ``permit`` for every action the fields ``names`` need (raises its refusal)."""
    for action in needed(names, base):
        permit(action)


def _split_terms(given: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    rest = {k: v for k, v in given.items() if k not in CREDIT_TERMS}
    return rest, {k: given[k] for k in CREDIT_TERMS if k in given}


class CustomerService:
    def __init__(self, registry: Registry) -> None:
        self._registry = registry
        self._customers = registry.customers

    def create(self, given: Mapping[str, Any], *, permit: Permit, region: str,
               idempotency_key: str | None, actor: str, source: str
               ) -> tuple[CustomerRecord, bool]:
        """Create a customer with every field given, its consent and its key, in one
        transaction; (customer, False) when this request was carried out before."""
        authorise(given, permit, Action.create_customer)
        rest, terms = _split_terms(given)
        return self._customers.create(rest, region=region, idempotency_key=idempotency_key,
                                      actor=actor, source=source, terms=terms)

    def validate(self, given: Mapping[str, Any], *, permit: Permit, region: str, actor: str
                 ) -> list[tuple[CustomerRecord, str]]:
        """Check a would-be customer as :meth:`create` would, changing nothing."""
        authorise(given, permit, Action.create_customer)
        rest, _terms = _split_terms(given)
        return self._customers.validate(rest, region=region, actor=actor)

    def update(self, customer_id: int, given: Mapping[str, Any], *, permit: Permit,
               region: str, actor: str, source: str) -> CustomerRecord:
        """Change the fields given (None clears an optional one) in one transaction and one
        audit entry; a marketing consent given is recorded in the log with ``source``."""
        authorise(given, permit, Action.edit_customer)
        changes = {k: v for k, v in given.items() if k != _CONSENT}
        rest, terms = _split_terms(changes)
        if terms:
            record = self._customers.update_credit_terms(customer_id, terms, details=rest,
                                                         region=region, actor=actor)
        else:
            record = self._customers.update(customer_id, rest, region=region, actor=actor)
        consent = given.get(_CONSENT)
        if consent is not None:
            self.record_consent(customer_id, MARKETING, bool(consent), source, None,
                                actor=actor)
        return record

    def record_consent(self, customer_id: int, purpose: str, granted: bool, source: str,
                       text_version: str | None, *, actor: str,
                       shown: Sequence[ConsentText] = ()) -> None:
        """One answer more in the customer's consent log, audited with who recorded it; the
        texts ``shown`` to the customer are filed first (by version, for the export)."""
        if shown:
            self._registry.consents.remember_texts(shown)
        self._registry.consents.record(customer_id, purpose, granted, source, text_version,
                                       actor=actor)

    def answer_consent(self, customer_id: int, purpose: str, granted: bool,
                       source: AnswerSource, text_version: str | None, *, actor: str,
                       purposes: Collection[str], shown: Sequence[ConsentText] = ()
                       ) -> ConsentEntry:
        """An answer an outside caller reports (the API), checked against the purposes the
        shop asks about and the texts filed; the entry written."""
        if shown:
            self._registry.consents.remember_texts(shown)
        consents = self._registry.consents
        consents.answer(customer_id, purpose, granted, source, text_version, actor=actor,
                        purposes=purposes)
        return consents.log(customer_id)[-1]

    def export(self, customer_id: int, *, actor: str, form: str) -> CustomerExport:
        """Everything held about the customer, audited as exported by ``actor`` in ``form``
        (in the same transaction: no export without its entry).  NotFound."""
        return self._customers.export(customer_id, actor=actor, form=form)

    def erase(self, customer_id: int, *, actor: str) -> None:
        """GDPR erasure: what the field table marks ``erased`` goes, the row stays for the
        books.  NotFound."""
        self._customers.erase(customer_id, actor=actor)

    def erase_dormant(self, cutoff: dt.datetime, *, reviewed: int, actor: str) -> int:
        """Erase the members with no sale and no sign-in since ``cutoff`` (retention), at most
        :data:`RETENTION_BATCH` at a time, each as :meth:`erase` does.  ``reviewed``: how many
        the person confirming was shown; when the list has changed since (a member came back,
        another went quiet) nothing is erased: :class:`ListChanged`, with the count now."""
        due = self._registry.retention.dormant(cutoff, limit=RETENTION_BATCH)
        if len(due) != reviewed:
            raise ListChanged(len(due))
        for member in due:
            self._customers.erase(member.id, actor=actor)
        return len(due)

    def merge(self, kept_id: int, other_id: int, *, actor: str) -> int:
        """Merge ``other_id`` into ``kept_id`` as the field table's ``merge`` says; the merge's
        audit entry.  NotFound or MergeRefused."""
        return self._registry.merges.merge(kept_id, other_id, actor=actor)
