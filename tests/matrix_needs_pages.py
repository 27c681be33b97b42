"""Permission-matrix rules for the needs pages (see tests/matrix_common.py); the objects are
the needs and assignments of tests/matrix_needs.py, brought through the loop by the actions."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tests.matrix_common import BH, BM, BR, DA, EVERYONE, Rule
from tests.matrix_needs import (
    ITS_VOLUNTEER,
    MANAGERS,
    OFFERERS,
    REQUESTER_OR_MANAGER,
    REVIEWERS,
    VIEWERS,
    _volunteer,
)


def _form(**fields: Any) -> Callable[[Any, Any, bool], dict[str, Any]]:
    return lambda w, c, own: dict(fields)


def _offer(world: Any, cast: Any, own: bool) -> dict[str, Any]:
    return {"volunteers": [_volunteer(world, cast, own).pk]}


PAGE_RULES: dict[str, Rule] = {
    # the person served
    "needs:need_create": Rule(None, EVERYONE),
    "needs:my_needs": Rule(None, EVERYONE),
    "needs:need_detail": Rule("need_submitted", VIEWERS),
    "needs:need_cancel": Rule(
        "need_submitted", REQUESTER_OR_MANAGER, method="POST", data=_form(reason="不需要了")
    ),
    "needs:need_confirm": Rule(
        "need_accepted", REQUESTER_OR_MANAGER, method="POST", data=_form(slip_number="S-1")
    ),
    "needs:need_rate": Rule(
        "need_completed", REQUESTER_OR_MANAGER, method="POST", data=_form(stars="5")
    ),
    # the volunteer
    "needs:inbox": Rule(None, EVERYONE),
    "needs:schedule": Rule(None, EVERYONE),
    "needs:assignment_accept": Rule("need_assignment_offered", ITS_VOLUNTEER, method="POST"),
    "needs:assignment_decline": Rule(
        "need_assignment_offered", ITS_VOLUNTEER, method="POST", data=_form(reason="没空")
    ),
    "needs:assignment_check_in": Rule("need_assignment_accepted", ITS_VOLUNTEER, method="POST"),
    "needs:assignment_check_out": Rule("need_assignment_in_service", ITS_VOLUNTEER, method="POST"),
    # managers
    "needs:review_queue": Rule(None, frozenset({BH, BM, "outsider"})),
    "needs:escalated": Rule(None, frozenset({BH, BM, BR, DA, "outsider"})),
    "needs:need_review": Rule(
        "need_submitted", REVIEWERS, method="POST", data=_form(decision="approve")
    ),
    "needs:need_offer": Rule("need_approved", OFFERERS, method="POST", data=_offer),
    "needs:need_auto_offer": Rule("need_approved", OFFERERS, method="POST"),
    "needs:need_no_show": Rule("need_started", MANAGERS, method="POST", data=_form(note="未到")),
}
