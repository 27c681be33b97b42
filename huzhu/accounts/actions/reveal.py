"""Showing personal data in clear: one field of a person (reveal_pii) or a household's
address (reveal_household_address). Every reveal writes one audit entry."""

from __future__ import annotations

from django.db import transaction
from django.utils.translation import gettext as _

from huzhu.accounts import policy
from huzhu.accounts.models import Household, Person
from huzhu.audit.service import record
from huzhu.core.errors import DomainError

PII_FIELDS = ("phone", "id_number", "emergency_contact", "address_detail")


@transaction.atomic
def reveal_pii(*, actor: Person, person: Person, field: str) -> str:
    """Show one personal-data field in clear; every reveal writes one audit entry.

    PII is visible only to the person, the branch head and the person's own building manager
    (DOMAIN.md "Members, merchants, money").
    """
    if field not in ("phone", "id_number", "emergency_contact"):
        raise DomainError(
            "accounts.pii.unknown_field", _("不能查看该字段。"), details={"field": field}
        )
    if actor.pk != person.pk:
        policy.require(actor, "accounts.reveal_pii", person)
    value = str(getattr(person, field) or "")
    record("accounts.pii.revealed", actor=actor, target=person, new={"field": field})
    return value


@transaction.atomic
def reveal_household_address(*, actor: Person, household: Household) -> str:
    """Show a household's address detail in clear; audited like every reveal."""
    policy.require(actor, "accounts.reveal_pii", household)
    record("accounts.pii.revealed", actor=actor, target=household, new={"field": "address_detail"})
    return household.address_detail
