"""Every state change of people, grants, skills and availability. Pages, API, import and
commands all call these; each checks permission, runs in one transaction and writes audit.

One module per subject, all re-exported here (``actions.create_person``,
``from huzhu.accounts.actions import add_skill``):

- ``people``: create_person, update_person, set_status and the validation of each field
- ``password``: change_password
- ``reveal``: reveal_pii, reveal_household_address
- ``grants``: grant_role, revoke_role
- ``skills``: add_skill, remove_skill
- ``availability``: weekly slots, exceptions, is_available
"""

from huzhu.accounts.actions.availability import (
    add_availability,
    add_availability_exception,
    is_available,
    remove_availability,
    remove_availability_exception,
)
from huzhu.accounts.actions.grants import grant_role, revoke_role
from huzhu.accounts.actions.password import change_password
from huzhu.accounts.actions.people import (
    EDITABLE_FIELDS,
    LANGUAGE_CODES,
    create_person,
    set_status,
    update_person,
)
from huzhu.accounts.actions.reveal import PII_FIELDS, reveal_household_address, reveal_pii
from huzhu.accounts.actions.skills import add_skill, remove_skill

__all__ = [
    "EDITABLE_FIELDS",
    "LANGUAGE_CODES",
    "PII_FIELDS",
    "add_availability",
    "add_availability_exception",
    "add_skill",
    "change_password",
    "create_person",
    "grant_role",
    "is_available",
    "remove_availability",
    "remove_availability_exception",
    "remove_skill",
    "reveal_household_address",
    "reveal_pii",
    "revoke_role",
    "set_status",
    "update_person",
]
