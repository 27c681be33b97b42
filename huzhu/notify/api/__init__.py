"""Notify API: my inbox, my notifications and receipts (read, reply), broadcasts (compose with
an audience preview, tally, re-send to the silent, cancel, replies), my preferences, and the
public notices of a community.

Same order and the same actions as the pages: fetch in scope (404 outside the caller's scope,
403 inside it without notify.broadcast; someone else's notification or receipt is 404) →
validated input → action → output. Outputs never carry a phone number.

``router`` lives in ``common``; each operation module registers its operations on it when
imported: ``inbox`` (my inbox, notifications, receipts, preferences), ``broadcasts``,
``public``. Schemas and converters are in ``schemas``. Operation ids are explicit
(``huzhu_notify_api_<function>``), independent of the module.
"""

from huzhu.notify.api.common import router

# Importing the operation modules registers their operations on ``router``; the import order
# is the order of the operations in the OpenAPI document.
# isort: off
from huzhu.notify.api import inbox, broadcasts, public  # noqa: F401
# isort: on

__all__ = ["router"]
