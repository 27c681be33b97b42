"""Permission-matrix rules for the needs API (see tests/matrix_common.py).

The objects are needs (and their assignments) in a given state: the in-scope one published by
the cast's resident in building 1 and served by the cast's volunteer; the other community's one
published by a resident of the other community, reviewed by its branch head (the outsider) and
served by a volunteer of that community."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from tests.matrix_common import BH, BM, BR, DA, EVERYONE, Rule
from tests.matrix_timebank.ledger import _other_person

RESIDENT = "resident"
VOLUNTEER = "volunteer"
VIEWERS = frozenset({RESIDENT, BH, BM, BR, DA})
REVIEWERS = frozenset({BH, BM})
OFFERERS = frozenset({BH, BM, BR})
REQUESTER_OR_MANAGER = frozenset({RESIDENT, BH, BM})
MANAGERS = frozenset({BH, BM})
ITS_VOLUNTEER = frozenset({VOLUNTEER})
# The tracking thread (跟踪群): the requester, the serving volunteer, managers with "needs.view".
THREAD_MEMBERS = VIEWERS | ITS_VOLUNTEER
EVIDENCE_UPLOADERS = ITS_VOLUNTEER | MANAGERS

# The steps of the loop, in order: a need is brought up to the one named.
STEPS = ("submitted", "approved", "offered", "accepted", "in_service", "completed")


def _type() -> Any:
    from huzhu.needs.models import NeedType

    return NeedType.objects.get_or_create(
        code="haircut", defaults={"name": "理发", "name_en": "Haircut"}
    )[0]


def _other_volunteer(world: Any) -> Any:
    from huzhu.accounts.models import Person, RoleGrant

    p = Person.objects.filter(name="外区志愿者").first()
    if p is None:
        p = Person(name="外区志愿者", community=world.other_community)
        p.set_phone("13700000066")
        p.set_unusable_password()
        p.save()
        RoleGrant.objects.create(
            person=p, role="volunteer", scope_kind="community", community=world.other_community
        )
    return p


def _volunteer(world: Any, cast: Any, own: bool) -> Any:
    return cast.volunteer if own else _other_volunteer(world)


def _need(world: Any, cast: Any, own: bool, step: str, started: bool = False) -> Any:
    """A need brought through the actions up to ``step``; ``started``: its start has passed
    (it was published and accepted a day ago, for the no-show)."""
    import time_machine

    from huzhu.core import clock
    from huzhu.needs import actions
    from huzhu.needs.models import Assignment

    requester = cast.resident if own else _other_person(world)
    manager = cast.branch_head if own else cast.outsider
    volunteer = _volunteer(world, cast, own)
    moment = clock.now() - dt.timedelta(days=1) if started else clock.now()
    with time_machine.travel(moment, tick=False):
        start = clock.now() + dt.timedelta(hours=3)
        need = actions.publish_need(
            actor=requester,
            need_type=_type(),
            starts_at=start,
            ends_at=start + dt.timedelta(hours=1),
            description="上门理发",
        )
        upto = STEPS.index(step)
        if upto >= STEPS.index("approved"):
            actions.review_need(actor=manager, need=need, approve=True)
        if upto >= STEPS.index("offered"):
            actions.offer_need(actor=manager, need=need, volunteers=[volunteer])
        if upto >= STEPS.index("accepted"):
            assignment = Assignment.objects.get(need=need)
            actions.accept_assignment(actor=volunteer, assignment=assignment)
        if upto >= STEPS.index("in_service"):
            actions.check_in(actor=volunteer, assignment=assignment)
        if upto >= STEPS.index("completed"):
            actions.confirm_need(actor=requester, need=need)
    need.refresh_from_db()
    return need


def _assignment(world: Any, cast: Any, own: bool, step: str) -> Any:
    from huzhu.needs.models import Assignment

    return Assignment.objects.get(need=_need(world, cast, own, step))


def _publish_body(world: Any, cast: Any, own: bool) -> dict[str, Any]:
    from huzhu.core import clock

    _type()
    start = clock.now() + dt.timedelta(days=1)
    return {
        "need_type": "haircut",
        "starts_at": start.isoformat(),
        "ends_at": (start + dt.timedelta(hours=1)).isoformat(),
        "description": "上门理发",
        "idempotency_key": "matrix-publish",
    }


def _offer_body(world: Any, cast: Any, own: bool) -> dict[str, Any]:
    return {
        "volunteer_ids": [_volunteer(world, cast, own).pk],
        "idempotency_key": "matrix-offer",
    }


def _key(**fields: Any) -> Callable[[Any, Any, bool], dict[str, Any]]:
    return lambda w, c, own: {**fields, "idempotency_key": "matrix-needs"}


# A 1×1 PNG: the smallest real photo an upload accepts.
PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c489"
    "0000000b49444154789c6360000200000500017a5eab3f0000000049454e44ae426082"
)


def _evidence_body(world: Any, cast: Any, own: bool) -> dict[str, Any]:
    from django.core.files.uploadedfile import SimpleUploadedFile

    return {
        "file": SimpleUploadedFile("photo.png", PNG, content_type="image/png"),
        "idempotency_key": "matrix-evidence",
    }


def _evidence(world: Any, cast: Any, own: bool) -> Any:
    """A photo uploaded by the volunteer serving an accepted need."""
    from django.core.files.uploadedfile import SimpleUploadedFile

    from huzhu.needs import actions

    need = _need(world, cast, own, "accepted")
    return actions.upload_evidence(
        actor=_volunteer(world, cast, own),
        need=need,
        file=SimpleUploadedFile("photo.png", PNG, content_type="image/png"),
    )


OBJECTS: dict[str, Callable[[Any, Any, bool], Any]] = {
    "need_submitted": lambda w, c, own: _need(w, c, own, "submitted"),
    "need_approved": lambda w, c, own: _need(w, c, own, "approved"),
    "need_accepted": lambda w, c, own: _need(w, c, own, "accepted"),
    "need_started": lambda w, c, own: _need(w, c, own, "accepted", started=True),
    "need_completed": lambda w, c, own: _need(w, c, own, "completed"),
    "need_assignment_offered": lambda w, c, own: _assignment(w, c, own, "offered"),
    "need_assignment_accepted": lambda w, c, own: _assignment(w, c, own, "accepted"),
    "need_assignment_in_service": lambda w, c, own: _assignment(w, c, own, "in_service"),
    "need_evidence": _evidence,
}

PAGE_RULES: dict[str, Rule] = {}

API_RULES: dict[str, Rule] = {
    "GET /api/v1/needs/types": Rule(None, EVERYONE),
    "GET /api/v1/needs": Rule(None, EVERYONE),
    "POST /api/v1/needs": Rule(None, EVERYONE, method="POST", data=_publish_body),
    "GET /api/v1/needs/{need_id}": Rule("need_submitted", VIEWERS),
    "POST /api/v1/needs/{need_id}/review": Rule(
        "need_submitted", REVIEWERS, method="POST", data=_key(approve=True)
    ),
    "POST /api/v1/needs/{need_id}/offer": Rule(
        "need_approved", OFFERERS, method="POST", data=_offer_body
    ),
    "POST /api/v1/needs/{need_id}/confirm": Rule(
        "need_accepted", REQUESTER_OR_MANAGER, method="POST", data=_key(slip_number="S-1")
    ),
    "POST /api/v1/needs/{need_id}/rate": Rule(
        "need_completed", REQUESTER_OR_MANAGER, method="POST", data=_key(stars=5)
    ),
    "POST /api/v1/needs/{need_id}/cancel": Rule(
        "need_submitted", REQUESTER_OR_MANAGER, method="POST", data=_key(reason="不需要了")
    ),
    "POST /api/v1/needs/{need_id}/no-show": Rule(
        "need_started", MANAGERS, method="POST", data=_key(note="未到")
    ),
    "GET /api/v1/needs/inbox": Rule(None, EVERYONE),
    "POST /api/v1/needs/assignments/{assignment_id}/accept": Rule(
        "need_assignment_offered", ITS_VOLUNTEER, method="POST", data=_key()
    ),
    "POST /api/v1/needs/assignments/{assignment_id}/decline": Rule(
        "need_assignment_offered", ITS_VOLUNTEER, method="POST", data=_key(reason="没空")
    ),
    "POST /api/v1/needs/assignments/{assignment_id}/check-in": Rule(
        "need_assignment_accepted", ITS_VOLUNTEER, method="POST", data=_key()
    ),
    "POST /api/v1/needs/assignments/{assignment_id}/check-out": Rule(
        "need_assignment_in_service", ITS_VOLUNTEER, method="POST", data=_key()
    ),
    # Tracking a service (huzhu/needs/api/tracking.py).
    "GET /api/v1/needs/{need_id}/thread": Rule("need_accepted", THREAD_MEMBERS),
    "POST /api/v1/needs/{need_id}/thread": Rule(
        "need_accepted", THREAD_MEMBERS, method="POST", data=_key(body="明天上午九点到")
    ),
    "POST /api/v1/needs/{need_id}/evidence": Rule(
        "need_accepted", EVIDENCE_UPLOADERS, method="POST", multipart=True, data=_evidence_body
    ),
    "GET /api/v1/needs/{need_id}/evidence": Rule("need_accepted", THREAD_MEMBERS),
    "GET /api/v1/needs/evidence/{evidence_id}/file": Rule("need_evidence", THREAD_MEMBERS),
    "POST /api/v1/needs/{need_id}/spot-checks": Rule(
        "need_accepted", MANAGERS, method="POST", data=_key(method="phone", result="ok")
    ),
    "GET /api/v1/needs/{need_id}/spot-checks": Rule("need_accepted", VIEWERS - {RESIDENT}),
}

# Batch mode (huzhu/needs/api/batch.py): the plan, and its approval (an empty plan here).
PLANNERS = frozenset({BH, BM, "outsider"})


def _batch_approve_body(world: Any, cast: Any, own: bool) -> dict[str, Any]:
    from huzhu.needs.plans import plan_digest

    return {"digest": plan_digest([]), "leave_out": [], "idempotency_key": "matrix-batch"}


API_RULES.update(
    {
        "GET /api/v1/needs/batch/plan": Rule(None, PLANNERS),
        "POST /api/v1/needs/batch/approve": Rule(
            None, PLANNERS, method="POST", data=_batch_approve_body
        ),
    }
)

# Complaints against a service (huzhu/needs/api/complaints.py): a side of the service or a
# manager files ("needs.file_complaint"); the sides and the handlers read one; the handlers
# ("needs.handle_complaint") record the contact and decide.
COMPLAINANTS = frozenset({RESIDENT, VOLUNTEER, BH, BM, BR})
COMPLAINT_HANDLERS = frozenset({BH, BM})
COMPLAINT_READERS = frozenset({RESIDENT, VOLUNTEER}) | COMPLAINT_HANDLERS


def _complaint(world: Any, cast: Any, own: bool, contacted: bool = False) -> Any:
    """The requester's complaint about the volunteer of a completed need (contacted by the
    community's branch head when asked)."""
    from huzhu.needs.actions import complaints

    need = _need(world, cast, own, "completed")
    complaint = complaints.file_complaint(
        actor=cast.resident if own else _other_person(world),
        need=need,
        category="quality",
        description="理发理得很乱",
    )
    if contacted:
        complaint = complaints.record_contact(
            actor=cast.branch_head if own else cast.outsider,
            complaint=complaint,
            note="已联系双方",
        )
    return complaint


OBJECTS.update(
    {
        "complaint_open": lambda w, c, own: _complaint(w, c, own),
        "complaint_contacted": lambda w, c, own: _complaint(w, c, own, contacted=True),
    }
)

API_RULES.update(
    {
        "POST /api/v1/needs/{need_id}/complaints": Rule(
            "need_completed",
            COMPLAINANTS,
            method="POST",
            data=_key(category="quality", description="理发理得很乱"),
        ),
        "GET /api/v1/needs/complaints": Rule(None, EVERYONE),
        "GET /api/v1/needs/complaints/{complaint_id}": Rule("complaint_open", COMPLAINT_READERS),
        "POST /api/v1/needs/complaints/{complaint_id}/contact": Rule(
            "complaint_open", COMPLAINT_HANDLERS, method="POST", data=_key(note="已联系双方")
        ),
        "POST /api/v1/needs/complaints/{complaint_id}/resolve": Rule(
            "complaint_contacted",
            COMPLAINT_HANDLERS,
            method="POST",
            data=_key(decision="not_upheld", reason="经核实不属实"),
        ),
    }
)

# The need taxonomy (huzhu/needs/api/types.py): platform-wide, "needs.manage_types" (district
# admins) anywhere; a need type hangs in no community, so the rules are ``unscoped`` (403 for
# everybody else, never 404).
TYPE_MANAGERS = frozenset({DA})


def _need_type(world: Any, cast: Any, own: bool) -> Any:
    from huzhu.needs.models import NeedType

    return NeedType.objects.get_or_create(
        code="matrix-type", defaults={"name": "矩阵测试类型", "name_en": "Matrix"}
    )[0]


OBJECTS.update({"need_type": _need_type})

API_RULES.update(
    {
        "GET /api/v1/needs/types/manage": Rule(None, TYPE_MANAGERS),
        "POST /api/v1/needs/types": Rule(
            None,
            TYPE_MANAGERS,
            method="POST",
            data=_key(code="escort-matrix", name="陪诊（矩阵）", default_duration_minutes=90),
        ),
        "PATCH /api/v1/needs/types/{type_id}": Rule(
            "need_type", TYPE_MANAGERS, method="PATCH", data=_key(name_en="Matrix 2"), unscoped=True
        ),
        "POST /api/v1/needs/types/{type_id}/deactivate": Rule(
            "need_type", TYPE_MANAGERS, method="POST", data=_key(), unscoped=True
        ),
        "POST /api/v1/needs/types/{type_id}/reactivate": Rule(
            "need_type", TYPE_MANAGERS, method="POST", data=_key(), unscoped=True
        ),
    }
)
