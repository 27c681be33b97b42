"""A person changing their own password."""

from __future__ import annotations

from django.db import transaction
from django.utils.translation import gettext as _

from huzhu.accounts.models import Person
from huzhu.audit.service import record
from huzhu.core.errors import DomainError


@transaction.atomic
def change_password(*, actor: Person, person: Person, password: str) -> Person:
    """A person changes their own password (validated by the form); the audit keeps no secret."""
    if actor.pk != person.pk:
        raise DomainError("accounts.password.not_own", _("只能修改自己的密码。"), status=403)
    person = Person.objects.select_for_update().get(pk=person.pk)
    person.set_password(password)
    person.save(update_fields=["password"])
    record("accounts.password.changed", actor=actor, target=person, new={"password": "changed"})
    return person
