"""What the audit log records: one enum of actions, and what each means to a person.

The values are what the ``audit_log.action`` column holds (and what past migrations wrote), so
they never change; a new action is a new member here, with its text in every language the
product speaks.  The registry writes members; the back office (customer and staff pages) and
the GDPR export read :func:`action_text`.
"""

from __future__ import annotations

from enum import StrEnum


class AuditAction(StrEnum):
    # A customer's record
    create = "create"
    update = "update"
    erase = "erase"
    consent = "consent"
    group_assign = "group_assign"
    export_personal_data = "export_personal_data"
    merge = "merge"
    merged_into = "merged_into"
    unmerge = "unmerge"
    # Imports and bulk loads
    import_start = "import_start"
    import_ = "import"
    import_update = "import_update"
    import_undo = "import_undo"
    bulk_load = "bulk_load"
    # Groups
    group_create = "group_create"
    group_rename = "group_rename"
    group_delete = "group_delete"
    # Staff accounts and sign-in
    staff_add = "staff_add"
    staff_role = "staff_role"
    staff_password = "staff_password"
    staff_disable = "staff_disable"
    staff_enable = "staff_enable"
    staff_unlock = "staff_unlock"
    staff_locked = "staff_locked"
    sign_in_throttled = "sign_in_throttled"
    address_unlocked = "address_unlocked"
    # Personnummer look-ups and the fingerprint key
    personal_id_lookup = "personal_id_lookup"
    personal_id_lookup_limited = "personal_id_lookup_limited"
    personal_id_key_lost = "personal_id_key_lost"
    # The shop's settings (back office)
    settings_change = "settings_change"


LANGUAGES = ("sv", "en", "nl")
DEFAULT_LANGUAGE = "en"  # the back office's

A = AuditAction
ACTION_TEXT: dict[str, dict[AuditAction, str]] = {
    "en": {
        A.create: "created", A.update: "changed", A.erase: "erased",
        A.consent: "consent recorded", A.group_assign: "group changed",
        A.export_personal_data: "personal data exported", A.merge: "merged",
        A.merged_into: "merged into another customer", A.unmerge: "merge undone",
        A.import_start: "import started", A.import_: "imported",
        A.import_update: "changed by an import", A.import_undo: "import undone",
        A.bulk_load: "bulk loaded", A.group_create: "group created",
        A.group_rename: "group renamed", A.group_delete: "group deleted",
        A.staff_add: "account added", A.staff_role: "role changed",
        A.staff_password: "password changed", A.staff_disable: "disabled",
        A.staff_enable: "enabled again", A.staff_unlock: "unlocked",
        A.staff_locked: "locked after failed logins",
        A.sign_in_throttled: "address throttled after failed sign-ins",
        A.address_unlocked: "address let in again",
        A.personal_id_lookup: "personnummer looked up",
        A.personal_id_lookup_limited: "personnummer look-up refused (too many)",
        A.personal_id_key_lost: "personnummer key declared lost",
        A.settings_change: "settings changed",
    },
    "sv": {
        A.create: "skapad", A.update: "ändrad", A.erase: "raderad",
        A.consent: "samtycke registrerat", A.group_assign: "grupp ändrad",
        A.export_personal_data: "personuppgifter exporterade", A.merge: "sammanslagen",
        A.merged_into: "sammanslagen med en annan kund", A.unmerge: "sammanslagning ångrad",
        A.import_start: "import startad", A.import_: "importerad",
        A.import_update: "ändrad av en import", A.import_undo: "import ångrad",
        A.bulk_load: "massinläst", A.group_create: "grupp skapad",
        A.group_rename: "grupp omdöpt", A.group_delete: "grupp borttagen",
        A.staff_add: "konto tillagt", A.staff_role: "roll ändrad",
        A.staff_password: "lösenord ändrat", A.staff_disable: "inaktiverat",
        A.staff_enable: "aktiverat igen", A.staff_unlock: "upplåst",
        A.staff_locked: "låst efter misslyckade inloggningar",
        A.sign_in_throttled: "adress spärrad efter misslyckade inloggningar",
        A.address_unlocked: "adress släppt in igen",
        A.personal_id_lookup: "personnummer sökt",
        A.personal_id_lookup_limited: "personnummersökning nekad (för många)",
        A.personal_id_key_lost: "personnummernyckel förklarad förlorad",
        A.settings_change: "inställningar ändrade",
    },
    "nl": {
        A.create: "aangemaakt", A.update: "gewijzigd", A.erase: "gewist",
        A.consent: "toestemming vastgelegd", A.group_assign: "groep gewijzigd",
        A.export_personal_data: "persoonsgegevens geëxporteerd", A.merge: "samengevoegd",
        A.merged_into: "samengevoegd met een andere klant",
        A.unmerge: "samenvoeging ongedaan gemaakt",
        A.import_start: "import gestart", A.import_: "geïmporteerd",
        A.import_update: "gewijzigd door een import", A.import_undo: "import ongedaan gemaakt",
        A.bulk_load: "in bulk geladen", A.group_create: "groep aangemaakt",
        A.group_rename: "groep hernoemd", A.group_delete: "groep verwijderd",
        A.staff_add: "account toegevoegd", A.staff_role: "rol gewijzigd",
        A.staff_password: "wachtwoord gewijzigd", A.staff_disable: "uitgeschakeld",
        A.staff_enable: "weer ingeschakeld", A.staff_unlock: "ontgrendeld",
        A.staff_locked: "vergrendeld na mislukte aanmeldingen",
        A.sign_in_throttled: "adres geblokkeerd na mislukte aanmeldingen",
        A.address_unlocked: "adres weer toegelaten",
        A.personal_id_lookup: "persoonsnummer opgezocht",
        A.personal_id_lookup_limited: "opzoeken persoonsnummer geweigerd (te vaak)",
        A.personal_id_key_lost: "sleutel persoonsnummers verloren verklaard",
        A.settings_change: "instellingen gewijzigd",
    },
}
del A


def action_text(action: str, language: str = DEFAULT_LANGUAGE) -> str:
    """What an audit entry's action means, for a person reading the log.

    >>> action_text("group_assign"), action_text(AuditAction.erase, "sv")
    ('group changed', 'raderad')
    >>> action_text("something_older")  # a value this version does not know: shown as is
    'something older'
    """
    texts = ACTION_TEXT.get(language, ACTION_TEXT[DEFAULT_LANGUAGE])
    try:
        return texts[AuditAction(action)]
    except ValueError:
        return action.replace("_", " ")
