"""Pages of notify: my inbox and preferences, composing broadcasts and their tally, and the
public notices of a community.

Every view: fetch in scope → policy.require (404 outside scope, 403 without the permission) →
parse the form → call the action → redirect with a message. Rules live in huzhu.notify.actions.
"""

from huzhu.notify.views.broadcasts import (
    broadcast_cancel,
    broadcast_detail,
    broadcast_export,
    broadcast_list,
    broadcast_resend,
)
from huzhu.notify.views.compose import broadcast_create
from huzhu.notify.views.inbox import (
    inbox,
    inbox_read_all,
    notification_detail,
    receipt_detail,
    receipt_reply,
)
from huzhu.notify.views.preferences import preferences
from huzhu.notify.views.public import public_notice, public_notices

__all__ = [
    "broadcast_cancel",
    "broadcast_create",
    "broadcast_detail",
    "broadcast_export",
    "broadcast_list",
    "broadcast_resend",
    "inbox",
    "inbox_read_all",
    "notification_detail",
    "preferences",
    "public_notice",
    "public_notices",
    "receipt_detail",
    "receipt_reply",
]
