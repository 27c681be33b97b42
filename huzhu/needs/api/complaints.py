"""Needs API, complaints against a service (DOMAIN.md "Activities, complaints, safety"):
file one about a started or finished service, list and read them, record that both sides
were contacted, decide the outcome.

- A side of the service (the person served or whoever published for them, the serving
  volunteer) files about the other; a manager with "needs.file_complaint" files for a side
  (``complainant_id``).
- Handlers ("needs.handle_complaint" on the need's building) see the complaints of their
  scope, record the contact and resolve; the sides see their own complaints.

Every write takes an idempotency key (header ``Idempotency-Key``, or the body field
``idempotency_key``). A replay answers 200 with the complaint as it stands and does nothing
else: filing again with the same key by the same person; contact already recorded by the
same handler; the complaint already resolved by the same handler.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from django.http import HttpRequest
from django.shortcuts import get_object_or_404
from django.utils.translation import gettext as _
from ninja import Field, Query, Schema
from ninja.responses import Status as Reply

from huzhu.accounts.api.schemas import NO_NUL, PathId
from huzhu.accounts.models import Person
from huzhu.core import clock
from huzhu.core.api import ERRORS, PageIn, PageMeta, paginate
from huzhu.core.errors import DomainError
from huzhu.needs import complaint_queries as cq
from huzhu.needs.actions import complaints as actions
from huzhu.needs.api.common import actor_of, building_label, key_of, router, visible_need
from huzhu.needs.api.schemas import KEY_FIELD
from huzhu.needs.models import (
    Complaint,
    ComplaintCategory,
    ComplaintDecision,
    ComplaintState,
)

C = ComplaintState
Text = Annotated[str, Field(max_length=4000, pattern=NO_NUL)]

# --- schemas ---------------------------------------------------------------------------------


class ComplaintIn(Schema):
    category: str = Field(
        ...,
        max_length=12,
        description="attitude 服务态度 / quality 服务质量 / punctuality 迟到或爽约 / "
        "conduct 不当行为 / safety 安全问题 / other 其他",
    )
    description: Text = Field(..., description="投诉内容（不超过 2000 字）")
    complainant_id: int | None = Field(
        None, description="代为投诉时：投诉人（服务对象或志愿者）的 id；默认服务对象"
    )
    idempotency_key: str | None = KEY_FIELD


class ContactIn(Schema):
    note: Text = Field(..., description="联系双方的情况（不超过 1000 字）")
    idempotency_key: str | None = KEY_FIELD


class ResolveIn(Schema):
    decision: str = Field(
        ...,
        max_length=12,
        description="upheld 投诉成立 / not_upheld 投诉不成立 / malicious 恶意投诉",
    )
    reason: Text = Field(..., description="处理说明（不超过 1000 字）")
    deduct_points: int = Field(
        0, ge=0, le=100_000_000, description="投诉成立时扣除被投诉人的积分（百分之一分）"
    )
    suspend: bool = Field(
        False, description="投诉成立时暂停志愿者服务（天数见社区设置）并需重新培训"
    )
    retrain: bool = Field(False, description="投诉成立时要求志愿者重新培训")
    idempotency_key: str | None = KEY_FIELD


class ComplaintQuery(PageIn):
    state: str = Field(
        "",
        max_length=12,
        description="open / contacted / resolved / dismissed，或 pending 待处理、"
        "overdue 已超时、escalated 已上报",
    )
    category: str = Field("", max_length=12, description="投诉类别")
    q: str = Field("", max_length=50, description="按需求编号或投诉人、被投诉人姓名搜索")


class ComplaintOut(Schema):
    id: int
    need_id: int
    need_type: str
    building: str
    community_id: int
    complainant_id: int
    complainant_name: str
    respondent_id: int
    respondent_name: str
    filed_by_id: int
    category: str
    category_label: str
    description: str
    state: str
    state_label: str
    filed_at: dt.datetime
    contact_due_at: dt.datetime
    result_due_at: dt.datetime
    overdue: bool = Field(..., description="是否已超过联系或处理时限")
    escalation_level: int = Field(..., description="0 未上报 / 1 联系超时已上报 / 2 处理超时已上报")
    escalated_at: dt.datetime | None
    contacted_at: dt.datetime | None
    contact_note: str = Field(..., description="联系记录（仅处理人可见）")
    resolved_at: dt.datetime | None
    decision: str
    decision_label: str
    reason: str
    points_decided: int = Field(..., description="决定扣除的积分（百分之一分）")
    points_deducted: int = Field(..., description="实际扣除的积分（百分之一分，余额不足时较少）")
    suspended_until: dt.datetime | None
    retraining_required: bool
    complainant_frozen_until: dt.datetime | None


class ComplaintEventOut(Schema):
    action: str
    from_state: str
    to_state: str
    at: dt.datetime
    actor_id: int | None
    note: str


class ComplaintDetailOut(ComplaintOut):
    events: list[ComplaintEventOut] = Field(..., description="处理记录（仅处理人可见）")


class ComplaintPage(Schema):
    items: list[ComplaintOut]
    meta: PageMeta


# --- output ----------------------------------------------------------------------------------


def _overdue(c: Complaint, now: dt.datetime) -> bool:
    if c.state == C.OPEN and c.contact_due_at <= now:
        return True
    return c.is_open and c.result_due_at <= now


def complaint_out(actor: Person, c: Complaint, now: dt.datetime | None = None) -> ComplaintOut:
    return ComplaintOut(**_fields(actor, c, now or clock.now()))


def _fields(actor: Person, c: Complaint, now: dt.datetime) -> dict[str, Any]:
    handler = actions.may_handle(actor, c)
    return {
        "id": c.pk,
        "need_id": c.need_id,
        "need_type": str(c.need.need_type),
        "building": building_label(c.need),
        "community_id": c.community_id,
        "complainant_id": c.complainant_id,
        "complainant_name": c.complainant.name,
        "respondent_id": c.respondent_id,
        "respondent_name": c.respondent.name,
        "filed_by_id": c.filed_by_id,
        "category": c.category,
        "category_label": str(ComplaintCategory(c.category).label),
        "description": c.description,
        "state": c.state,
        "state_label": str(ComplaintState(c.state).label),
        "filed_at": c.filed_at,
        "contact_due_at": c.contact_due_at,
        "result_due_at": c.result_due_at,
        "overdue": _overdue(c, now),
        "escalation_level": c.escalation_level,
        "escalated_at": c.escalated_at,
        "contacted_at": c.contacted_at,
        "contact_note": c.contact_note if handler else "",
        "resolved_at": c.resolved_at,
        "decision": c.decision,
        "decision_label": str(ComplaintDecision(c.decision).label) if c.decision else "",
        "reason": c.reason,
        "points_decided": c.points_decided,
        "points_deducted": c.points_deducted,
        "suspended_until": c.suspended_until,
        "retraining_required": c.retraining_required,
        "complainant_frozen_until": c.complainant_frozen_until,
    }


def _detail_out(actor: Person, c: Complaint) -> ComplaintDetailOut:
    events = (
        [
            ComplaintEventOut(
                action=e.action,
                from_state=e.from_state,
                to_state=e.to_state,
                at=e.at,
                actor_id=e.actor_id,
                note=e.note,
            )
            for e in cq.history(c)
        ]
        if actions.may_handle(actor, c)
        else []
    )
    return ComplaintDetailOut(**_fields(actor, c, clock.now()), events=events)


def _check_filter(q: ComplaintQuery) -> None:
    if q.state and q.state not in C.values and q.state not in cq.VIEWS:
        raise DomainError(
            "needs.complaint.filter_state", _("状态筛选条件无效。"), details={"field": "state"}
        )
    if q.category and q.category not in ComplaintCategory.values:
        raise DomainError(
            "needs.complaint.filter_category",
            _("投诉类别筛选条件无效。"),
            details={"field": "category"},
        )


# --- operations ------------------------------------------------------------------------------


@router.post(
    "needs/{int:need_id}/complaints",
    response={200: ComplaintOut, 201: ComplaintOut, **ERRORS},
    operation_id="huzhu_needs_api_file_complaint",
)
def file_complaint(
    request: HttpRequest, need_id: PathId, payload: ComplaintIn
) -> Reply[ComplaintOut]:
    """Complain about a started or finished service: the person served (or whoever
    published for them) about the volunteer, the volunteer about the person served, or a
    manager for either side. The contact is due within 1 hour and the result within 24 hours
    (community settings). 201 with the complaint; a replay of the key answers 200."""
    actor = actor_of(request)
    key = key_of(request, payload.idempotency_key)
    need = visible_need(actor, need_id)
    complainant = (
        get_object_or_404(Person, pk=payload.complainant_id)
        if payload.complainant_id is not None
        else None
    )
    replay = Complaint.objects.filter(filed_by=actor, idempotency_key=key[:128]).exists()
    complaint = actions.file_complaint(
        actor=actor,
        need=need,
        category=payload.category,
        description=payload.description,
        complainant=complainant,
        key=key,
    )
    return Reply(200 if replay else 201, complaint_out(actor, cq.load_complaint(complaint.pk)))


@router.get(
    "needs/complaints",
    response={200: ComplaintPage, **ERRORS},
    operation_id="huzhu_needs_api_list_complaints",
)
def list_complaints(request: HttpRequest, q: Query[ComplaintQuery]) -> ComplaintPage:
    """Complaints I handle ("needs.handle_complaint" where I hold it) and those I am a side
    of, the newest first; filter by state or view (pending, overdue, escalated), category,
    and search by need number or a side's name."""
    actor = actor_of(request)
    _check_filter(q)
    now = clock.now()
    qs = cq.filter_complaints(
        cq.visible_complaints(actor), state=q.state, category=q.category, search=q.q, now=now
    ).order_by("-filed_at", "-id")
    rows, meta = paginate(qs, q)
    return ComplaintPage(items=[complaint_out(actor, c, now) for c in rows], meta=meta)


@router.get(
    "needs/complaints/{int:complaint_id}",
    response={200: ComplaintDetailOut, **ERRORS},
    operation_id="huzhu_needs_api_get_complaint",
)
def get_complaint(request: HttpRequest, complaint_id: PathId) -> ComplaintDetailOut:
    """One complaint, for its handlers and its sides (its history for handlers only)."""
    actor = actor_of(request)
    return _detail_out(actor, cq.visible_complaint(actor, complaint_id))


@router.post(
    "needs/complaints/{int:complaint_id}/contact",
    response={200: ComplaintOut, **ERRORS},
    operation_id="huzhu_needs_api_contact_complaint",
)
def contact_complaint(
    request: HttpRequest, complaint_id: PathId, payload: ContactIn
) -> ComplaintOut:
    """Record that both sides were contacted, with what they said (a handler)."""
    actor = actor_of(request)
    key_of(request, payload.idempotency_key)
    complaint = cq.load_complaint(complaint_id)
    actions.require_handler(actor, complaint)
    replay = complaint.state != C.OPEN and complaint.contacted_by_id == actor.pk
    if not replay:
        actions.record_contact(actor=actor, complaint=complaint, note=payload.note)
    return complaint_out(actor, cq.load_complaint(complaint_id))


@router.post(
    "needs/complaints/{int:complaint_id}/resolve",
    response={200: ComplaintOut, **ERRORS},
    operation_id="huzhu_needs_api_resolve_complaint",
)
def resolve_complaint(
    request: HttpRequest, complaint_id: PathId, payload: ResolveIn
) -> ComplaintOut:
    """Decide a contacted complaint (a handler): upheld — deduct points from the respondent
    (at most the community's maximum), suspend the volunteer (7 days, community setting) and
    require retraining —, not upheld, or malicious (the complainant is frozen 30 days).
    Both sides are told."""
    actor = actor_of(request)
    key_of(request, payload.idempotency_key)
    complaint = cq.load_complaint(complaint_id)
    actions.require_handler(actor, complaint)
    replay = complaint.state in (C.RESOLVED, C.DISMISSED) and complaint.handler_id == actor.pk
    if not replay:
        actions.resolve_complaint(
            actor=actor,
            complaint=complaint,
            decision=payload.decision,
            reason=payload.reason,
            deduct_points=payload.deduct_points,
            suspend=payload.suspend,
            retrain=payload.retrain,
        )
    return complaint_out(actor, cq.load_complaint(complaint_id))
