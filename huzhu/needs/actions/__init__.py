"""Every state change of the needs app (DOMAIN.md "The core loop"), one module per area:

- one action per transition of ``huzhu.needs.states``: ``publish`` (publish, review, the next
  occurrence of a recurring need), ``assign`` (offer, accept, decline), ``serve`` (check in/out,
  confirm, rate), ``close`` (cancel, no-show, expire, the freeze after a malicious cancellation);
- ``escalation``: overdue reviews and accepts, handed up once (called by the sweeper);
- ``supply``: the supply library's offers and the progress of item and skill lines;
- ``tracking``: the tracking thread (跟踪群), evidence uploads, the manager's spot checks;
- ``types``: the need taxonomy (create, edit, deactivate / reactivate need types).
"""

from huzhu.needs.actions.assign import accept_assignment, decline_assignment, offer_need
from huzhu.needs.actions.close import cancel_need, expire_need, freeze_requester, mark_no_show
from huzhu.needs.actions.escalation import escalate_review, lapse_offers
from huzhu.needs.actions.publish import (
    LineSpec,
    publish_need,
    published_with,
    repeat_need,
    review_need,
)
from huzhu.needs.actions.serve import check_in, check_out, confirm_need, rate_need, service_hours
from huzhu.needs.actions.supply import (
    add_need_line,
    close_offer,
    create_offer,
    update_line_progress,
)
from huzhu.needs.actions.tracking import (
    post_message,
    record_spot_check,
    require_member,
    thread_role,
    upload_evidence,
)
from huzhu.needs.actions.types import (
    create_need_type,
    deactivate_need_type,
    reactivate_need_type,
    update_need_type,
)

__all__ = [
    "LineSpec",
    "accept_assignment",
    "add_need_line",
    "cancel_need",
    "check_in",
    "check_out",
    "close_offer",
    "confirm_need",
    "create_need_type",
    "create_offer",
    "deactivate_need_type",
    "decline_assignment",
    "escalate_review",
    "expire_need",
    "freeze_requester",
    "lapse_offers",
    "mark_no_show",
    "offer_need",
    "post_message",
    "publish_need",
    "published_with",
    "rate_need",
    "reactivate_need_type",
    "record_spot_check",
    "repeat_need",
    "require_member",
    "review_need",
    "service_hours",
    "thread_role",
    "update_line_progress",
    "update_need_type",
    "upload_evidence",
]
