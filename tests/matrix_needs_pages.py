"""Permission-matrix rules for the needs pages (see tests/matrix_common.py); the objects are
the needs and assignments of tests/matrix_needs.py, brought through the loop by the actions."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tests.matrix_common import BH, BM, BR, DA, EVERYONE, Rule
from tests.matrix_needs import (
    EVIDENCE_UPLOADERS,
    ITS_VOLUNTEER,
    MANAGERS,
    OFFERERS,
    REQUESTER_OR_MANAGER,
    REVIEWERS,
    THREAD_MEMBERS,
    VIEWERS,
    _evidence_body,
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
    # tracking a service (huzhu/needs/views/tracking.py)
    "needs:need_message": Rule(
        "need_accepted", THREAD_MEMBERS, method="POST", data=_form(body="明天上午九点到")
    ),
    "needs:need_evidence": Rule(
        "need_accepted", EVIDENCE_UPLOADERS, method="POST", data=_evidence_body
    ),
    "needs:need_spot_check": Rule(
        "need_accepted", MANAGERS, method="POST", data=_form(method="phone", result="ok")
    ),
    "needs:evidence_file": Rule("need_evidence", THREAD_MEMBERS),
}

# Batch mode (huzhu/needs/views/batch.py): the plan, and its approval (an empty plan here).
PLANNERS = frozenset({BH, BM, "outsider"})


def _batch_approve(world: Any, cast: Any, own: bool) -> dict[str, Any]:
    from huzhu.needs.plans import plan_digest

    return {"digest": plan_digest([]), "key": "matrix-batch"}


PAGE_RULES.update(
    {
        "needs:batch_plan": Rule(None, PLANNERS),
        "needs:batch_approve": Rule(None, PLANNERS, method="POST", data=_batch_approve),
    }
)

# The broker's workspace (huzhu/needs/views/broker.py): "needs.care", brokers only.
BROKERS = frozenset({BR})


def _pick(world: Any, cast: Any, own: bool) -> dict[str, Any]:
    return {"volunteer": _volunteer(world, cast, own).pk}


PAGE_RULES.update(
    {
        "needs:broker_home": Rule(None, BROKERS),
        "needs:broker_person": Rule("person", BROKERS),
        "needs:broker_need_create": Rule("person", BROKERS),
        "needs:broker_candidates": Rule("need_approved", BROKERS),
        "needs:broker_offer": Rule("need_approved", BROKERS, method="POST", data=_pick),
        "needs:broker_recurring": Rule(
            "need_submitted", BROKERS, method="POST", data=_form(recurrence="weekly")
        ),
    }
)

# Complaints against a service (huzhu/needs/views/complaints.py).
from tests.matrix_needs import (  # noqa: E402
    COMPLAINANTS,
    COMPLAINT_HANDLERS,
    COMPLAINT_READERS,
)

PAGE_RULES.update(
    {
        "needs:complaint_create": Rule("need_completed", COMPLAINANTS),
        "needs:complaint_list": Rule(None, EVERYONE),
        "needs:complaint_detail": Rule("complaint_open", COMPLAINT_READERS),
        "needs:complaint_contact": Rule(
            "complaint_open", COMPLAINT_HANDLERS, method="POST", data=_form(note="已联系双方")
        ),
        "needs:complaint_resolve": Rule(
            "complaint_contacted",
            COMPLAINT_HANDLERS,
            method="POST",
            data=_form(decision="not_upheld", reason="经核实不属实"),
        ),
    }
)

# The need taxonomy pages (huzhu/needs/views/types.py): "needs.manage_types", platform-wide.
from tests.matrix_needs import TYPE_MANAGERS  # noqa: E402

PAGE_RULES.update(
    {
        "needs:type_list": Rule(None, TYPE_MANAGERS),
        "needs:type_create": Rule(None, TYPE_MANAGERS),
        "needs:type_edit": Rule("need_type", TYPE_MANAGERS, unscoped=True),
        "needs:type_deactivate": Rule("need_type", TYPE_MANAGERS, method="POST", unscoped=True),
        "needs:type_reactivate": Rule("need_type", TYPE_MANAGERS, method="POST", unscoped=True),
    }
)
