"""Accounts API: tokens, the current person, the registry of people, roles, my availability
and skills, the skill taxonomy.

Same order as the pages: fetch in scope (404 outside, 403 without the permission) → validated
input → the same action → output with phone, ID number and emergency contact masked. The only
plaintext PII is ``GET me`` (the caller's own phone) and ``POST people/{id}/reveal`` (audited).

``router`` lives in ``common``; each operation module registers its operations on it when
imported: ``tokens``, ``people`` (the registry), ``grants`` (roles), ``me`` (my profile,
availability and skills; the skill taxonomy). Schemas and converters are in ``schemas``.
Operation ids are explicit (``huzhu_accounts_api_<function>``), independent of the module.
"""

from huzhu.accounts.api.common import router

# Importing the operation modules registers their operations on ``router``; the import order
# is the order of the operations in the OpenAPI document.
# isort: off
from huzhu.accounts.api import tokens, people, grants, me  # noqa: F401
# isort: on

__all__ = ["router"]
