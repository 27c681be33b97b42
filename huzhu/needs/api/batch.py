"""Batch mode in the API (issue 5 "Batch mode"): the plan of the approved needs not offered yet
in the caller's scope, and its approval — the same service and action as the 批量派单 page
(huzhu.needs.plans, huzhu.needs.actions.batch). The approval sends the plan's ``digest`` (the
signed list of its pairs, from the plan) and the needs to leave out; every kept pair is checked
again and offered, or reported as skipped with the rule it breaks now. A replay with the same
Idempotency-Key answers the first approval (``replay``: true) and does nothing."""

from __future__ import annotations

import datetime as dt

from django.http import Http404, HttpRequest
from django.utils.translation import gettext as _
from ninja import Field, Query, Schema
from ninja.responses import Status as Reply

from huzhu.accounts.api.schemas import Id
from huzhu.core.api import ERRORS
from huzhu.core.errors import DomainError
from huzhu.needs.actions.batch import approve_batch_plan
from huzhu.needs.api.common import actor_of, key_of, need_out, router
from huzhu.needs.api.schemas import KEY_FIELD, Key, NeedOut
from huzhu.needs.models import NeedType
from huzhu.needs.plans import batch_plan, kept_pairs, planning_buildings


class BatchPlanQuery(Schema):
    building_id: int | None = Field(None, ge=1, description="只排某一楼栋的需求")
    need_type: str | None = Field(None, max_length=40, description="只排某一类型（类型代码）")
    day: dt.date | None = Field(None, description="只排某一天开始的需求")


class BatchPairOut(Schema):
    need: NeedOut
    volunteer_id: int = Field(..., description="方案安排的志愿者编号")
    volunteer_name: str
    cost: float = Field(..., description="该项成本（含均衡项），越低越好")
    fairness_cost: float = Field(..., description="均衡项：同一志愿者每多一项加的成本")
    reasons: list[str] = Field(..., description="推荐理由")


class BatchLeftOut(Schema):
    need: NeedOut
    code: str = Field(..., description="no_eligible、taken 或 place_unknown")
    reason: str = Field(..., description="无法安排的原因")


class BatchPlanOut(Schema):
    items: list[BatchPairOut]
    unassigned: list[BatchLeftOut]
    digest: str = Field(..., description="方案摘要（签名的需求—志愿者配对），批准时原样提交")
    waiting: int = Field(..., description="超出本方案上限、留待下次的需求数")
    method: str = Field(..., description="assignment（最小成本分配）或 greedy")
    total_cost: float
    volunteers_used: int
    max_per_volunteer: int


class BatchApproveIn(Schema):
    digest: str = Field(..., min_length=1, max_length=100_000, description="方案摘要")
    leave_out: list[Id] = Field([], max_length=1000, description="不派的需求编号")
    idempotency_key: Key | None = KEY_FIELD


class PairOut(Schema):
    need_id: int
    volunteer_id: int


class SkippedOut(Schema):
    need_id: int
    volunteer_id: int
    codes: list[str] = Field(..., description="现在不满足的条件")
    reason: str


class BatchApproveOut(Schema):
    offered: list[PairOut]
    skipped: list[SkippedOut]
    replay: bool = Field(..., description="同一幂等键的重复提交：返回第一次的结果")


@router.get(
    "needs/batch/plan",
    response={200: BatchPlanOut, **ERRORS},
    operation_id="huzhu_needs_api_batch_plan",
)
def get_batch_plan(request: HttpRequest, filters: Query[BatchPlanQuery]) -> BatchPlanOut:
    """The batch plan of the approved needs not offered yet where I plan ("needs.plan_batch":
    building manager, branch head): each need with the volunteer the minimum-cost assignment
    with a fairness term gives it, the reasons and the cost; the needs it could not place,
    with why; the digest to approve it with."""
    actor = actor_of(request)
    building = None
    if filters.building_id is not None:
        building = planning_buildings(actor).filter(pk=filters.building_id).first()
        if building is None:
            raise Http404
    need_type = None
    if filters.need_type:
        need_type = NeedType.objects.filter(code=filters.need_type).first()
        if need_type is None:
            raise DomainError(
                "needs.type.unknown", _("没有这种需求类型。"), details={"field": "need_type"}
            )
    plan = batch_plan(actor, building=building, need_type=need_type, day=filters.day)
    return BatchPlanOut(
        items=[
            BatchPairOut(
                need=need_out(r.need),
                volunteer_id=r.volunteer_id,
                volunteer_name=r.volunteer_name,
                cost=r.cost,
                fairness_cost=r.fairness_cost,
                reasons=r.texts,
            )
            for r in plan.rows
        ],
        unassigned=[
            BatchLeftOut(need=need_out(u.need), code=u.code, reason=u.text) for u in plan.unassigned
        ],
        digest=plan.digest,
        waiting=plan.waiting,
        method=plan.method,
        total_cost=plan.total_cost,
        volunteers_used=plan.volunteers_used,
        max_per_volunteer=plan.max_per_volunteer,
    )


@router.post(
    "needs/batch/approve",
    response={200: BatchApproveOut, 201: BatchApproveOut, **ERRORS},
    operation_id="huzhu_needs_api_approve_batch_plan",
)
def approve_batch(request: HttpRequest, payload: BatchApproveIn) -> Reply[BatchApproveOut]:
    """Approve a batch plan less the needs left out: 201 with what was offered and what was
    skipped (with the rules each breaks now); a replay answers the first approval with 200."""
    actor = actor_of(request)
    key = key_of(request, payload.idempotency_key)
    pairs = kept_pairs(payload.digest, payload.leave_out)
    result = approve_batch_plan(actor=actor, pairs=pairs, key=key)
    out = BatchApproveOut(
        offered=[PairOut(need_id=n, volunteer_id=v) for n, v in result.offered],
        skipped=[
            SkippedOut(
                need_id=s.need_id,
                volunteer_id=s.volunteer_id,
                codes=list(s.codes),
                reason=s.message,
            )
            for s in result.skipped
        ],
        replay=result.replay,
    )
    return Reply(200 if result.replay else 201, out)
