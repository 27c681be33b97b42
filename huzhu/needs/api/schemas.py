"""Input and output schemas of the needs API. Points are integer hundredths of a point; times
are aware ISO 8601. No personal data leaves through them: a need's free address is never
returned (only the building's label), people appear by id."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Annotated

from ninja import Field, Schema

from huzhu.accounts.api.schemas import KEY_FIELD as KEY_FIELD
from huzhu.accounts.api.schemas import NO_NUL, Id
from huzhu.accounts.api.schemas import Key as Key
from huzhu.core.api import PageIn, PageMeta

MAX_POINTS = 10**12
# Reasons and comments are checked by the actions (empty → "请填写此项。" with the field name),
# so the schema only bounds their size.
Reason = Annotated[str, Field(max_length=2000, pattern=NO_NUL)]


# --- the taxonomy ----------------------------------------------------------------------------


class NeedTypeOut(Schema):
    code: str = Field(..., description="类型代码")
    name: str = Field(..., description="名称（按界面语言）")
    default_duration_minutes: int = Field(..., description="默认时长（分钟）")
    default_radius_m: int = Field(..., description="默认搜索半径（米）")
    skills: list[str] = Field(..., description="所需技能代码")


# --- needs -----------------------------------------------------------------------------------


class NeedQuery(PageIn):
    state: str | None = Field(None, max_length=12, description="按状态筛选")
    type: str | None = Field(None, max_length=40, description="按需求类型代码筛选")
    mine: bool = Field(False, description="只看我发布的或为我发布的需求")


class NeedIn(Schema):
    need_type: str = Field(..., min_length=1, max_length=40, description="需求类型代码")
    starts_at: dt.datetime = Field(..., description="开始时间（带时区）")
    ends_at: dt.datetime = Field(..., description="结束时间（带时区）")
    description: Reason = Field(..., description="需求描述")
    on_behalf_of: Id | None = Field(None, description="代为发布：服务对象的编号")
    address_detail: Annotated[str, Field(max_length=300, pattern=NO_NUL)] = Field(
        "", description="其他服务地址（加密保存，不会返回）"
    )
    latitude: Decimal | None = Field(None, ge=-90, le=90, description="纬度")
    longitude: Decimal | None = Field(None, ge=-180, le=180, description="经度")
    duration_minutes: int | None = Field(None, ge=1, le=24 * 60, description="预计时长（分钟）")
    radius_m: int | None = Field(None, ge=1, le=100_000, description="搜索半径（米）")
    gender: str = Field("", max_length=1, description="性别要求：''、F、M")
    needs_strength: bool = Field(False, description="需要体力")
    certification_required: bool = Field(False, description="需要资格证书")
    language: Annotated[str, Field(max_length=20, pattern=NO_NUL)] = Field(
        "", description="语言要求"
    )
    urgency: int = Field(1, description="紧急程度 0–3")
    pay_with_points: bool = Field(False, description="用积分支付")
    points: int = Field(0, ge=0, le=MAX_POINTS, description="支付积分（百分之一分）")
    recurrence: str = Field(
        "none", max_length=10, description="重复：none、weekly、biweekly、monthly"
    )
    idempotency_key: Key | None = KEY_FIELD


class RatingOut(Schema):
    stars: int
    comment: str
    created_at: dt.datetime


class NeedOut(Schema):
    id: int
    type: str = Field(..., description="需求类型代码")
    type_name: str = Field(..., description="需求类型名称")
    description: str
    state: str
    state_label: str
    starts_at: dt.datetime
    ends_at: dt.datetime
    duration_minutes: int
    radius_m: int
    urgency: int
    gender: str
    needs_strength: bool
    certification_required: bool
    language: str
    pay_with_points: bool
    points: int
    recurrence: str
    community_id: int
    building_id: int | None
    building: str = Field(..., description="楼栋（不返回具体地址）")
    requester_id: int
    published_by_id: int
    on_behalf: bool = Field(..., description="由楼长或经纪人代为发布")
    review_due_at: dt.datetime | None
    accept_due_at: dt.datetime | None
    reject_reason: str
    cancel_reason: str
    confirmed_at: dt.datetime | None
    slip_number: str
    rating: RatingOut | None
    next: list[str] = Field(..., description="当前状态可执行的操作")


class NeedPage(Schema):
    items: list[NeedOut]
    meta: PageMeta


class EventOut(Schema):
    transition: str
    from_state: str
    to_state: str
    at: dt.datetime
    actor_id: int | None
    note: str


class AssignmentOut(Schema):
    id: int
    need_id: int
    volunteer_id: int
    state: str
    state_label: str
    offered_at: dt.datetime
    expires_at: dt.datetime | None
    responded_at: dt.datetime | None
    decline_reason: str
    check_in_at: dt.datetime | None
    check_out_at: dt.datetime | None
    reasons: list[str] = Field(..., description="推荐理由")


class NeedDetailOut(NeedOut):
    assignments: list[AssignmentOut] = Field(..., description="我可见的派单")
    events: list[EventOut] = Field(..., description="需求记录")


# --- writes ----------------------------------------------------------------------------------


class ReviewIn(Schema):
    approve: bool = Field(..., description="通过（true）或驳回（false）")
    reason: Reason = Field("", description="驳回原因（驳回时必填）")
    idempotency_key: Key | None = KEY_FIELD


class OfferIn(Schema):
    volunteer_ids: list[Id] = Field(..., max_length=50, description="受邀志愿者编号")
    idempotency_key: Key | None = KEY_FIELD


class OfferOut(Schema):
    need: NeedOut
    assignments: list[AssignmentOut] = Field(..., description="本次邀请的派单")


class KeyIn(Schema):
    idempotency_key: Key | None = KEY_FIELD


class ReasonIn(Schema):
    reason: Reason = Field("", description="原因（必填）")
    idempotency_key: Key | None = KEY_FIELD


class NoteIn(Schema):
    note: Reason = Field("", description="备注")
    idempotency_key: Key | None = KEY_FIELD


class ConfirmIn(Schema):
    slip_number: Annotated[str, Field(max_length=40, pattern=NO_NUL)] = Field(
        "", description="纸质服务单编号（楼长代为验收时必填）"
    )
    idempotency_key: Key | None = KEY_FIELD


class RateIn(Schema):
    # Not bounded here: the action answers an out-of-range rating in words.
    stars: int = Field(..., description="星级 1–5")
    comment: Reason = Field("", description="评价")
    idempotency_key: Key | None = KEY_FIELD


# --- the volunteer's inbox -------------------------------------------------------------------


class InboxQuery(PageIn):
    state: str | None = Field(None, max_length=10, description="按派单状态筛选")


class InboxItemOut(AssignmentOut):
    need: NeedOut


class InboxPage(Schema):
    items: list[InboxItemOut]
    meta: PageMeta


class AssignmentStateOut(Schema):
    assignment: AssignmentOut
    need: NeedOut
