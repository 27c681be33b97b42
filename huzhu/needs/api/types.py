"""Needs API, the need taxonomy (issue 5): managing need types — holders of
``needs.manage_types`` (district admins; the taxonomy is platform-wide, so there is no 404,
only 403). The publish form's read of the active types is ``GET /needs/types``
(huzhu/needs/api/needs.py), open to everyone signed in.

- ``GET needs/types/manage``: every type (active and inactive) with how many needs use it,
  searched and filtered, paged;
- ``POST needs/types``: create; idempotent by code — the same code with the same content
  answers the existing type (200 instead of 201), other content is 409
  ``needs.type.code_taken``;
- ``PATCH needs/types/{type_id}``: names, skills, defaults (the code is immutable);
- ``POST needs/types/{type_id}/deactivate`` / ``reactivate``: idempotent by state.

Every write takes an idempotency key (header ``Idempotency-Key``, or the body field
``idempotency_key``), as the rest of the needs API; the replays are answered by state.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from django.http import HttpRequest
from django.shortcuts import get_object_or_404
from django.utils.translation import gettext as _
from ninja import Field, Query, Schema
from ninja.responses import Status as Reply

from huzhu.accounts.api.schemas import NO_NUL, PathId
from huzhu.accounts.models import Skill
from huzhu.core.api import ERRORS, PageIn, PageMeta, paginate
from huzhu.core.errors import DomainError
from huzhu.needs.actions import types as actions
from huzhu.needs.api.common import actor_of, key_of, router
from huzhu.needs.api.schemas import KEY_FIELD
from huzhu.needs.models import NeedType

Code = Annotated[str, Field(min_length=1, max_length=40, pattern=NO_NUL)]
Name = Annotated[str, Field(max_length=50, pattern=NO_NUL)]
SkillCodes = list[Annotated[str, Field(min_length=1, max_length=40)]]


class TypeQuery(PageIn):
    q: str = Field("", max_length=50, description="按代码或名称搜索")
    status: str = Field("", max_length=8, description="active 启用中 / inactive 已停用；空为全部")


class NeedTypeIn(Schema):
    code: Code = Field(..., description="类型代码（小写字母、数字、- 或 _），创建后不能修改")
    name: Name = Field(..., description="名称")
    name_en: Name = Field("", description="英文名称")
    skills: SkillCodes = Field(default_factory=list, description="所需技能代码", max_length=100)
    default_duration_minutes: int = Field(60, description="默认时长（分钟，15–1440）")
    default_radius_m: int = Field(3000, description="默认搜索半径（米，100–50000）")
    idempotency_key: str | None = KEY_FIELD


class NeedTypePatch(Schema):
    code: Code | None = Field(None, description="类型代码不能修改：只接受原值")
    name: Name | None = Field(None, description="名称")
    name_en: Name | None = Field(None, description="英文名称")
    skills: SkillCodes | None = Field(None, description="所需技能代码（整体替换）", max_length=100)
    default_duration_minutes: int | None = Field(None, description="默认时长（分钟，15–1440）")
    default_radius_m: int | None = Field(None, description="默认搜索半径（米，100–50000）")
    idempotency_key: str | None = KEY_FIELD


class KeyIn(Schema):
    idempotency_key: str | None = KEY_FIELD


class NeedTypeAdminOut(Schema):
    id: int
    code: str
    name: str
    name_en: str
    skills: list[str] = Field(..., description="所需技能代码")
    default_duration_minutes: int
    default_radius_m: int
    active: bool
    need_count: int = Field(..., description="使用此类型的求助数")
    updated_at: dt.datetime


class NeedTypePage(Schema):
    items: list[NeedTypeAdminOut]
    meta: PageMeta


def type_out(t: NeedType, need_count: int | None = None) -> NeedTypeAdminOut:
    count = need_count if need_count is not None else getattr(t, "need_count", None)
    return NeedTypeAdminOut(
        id=t.pk,
        code=t.code,
        name=t.name,
        name_en=t.name_en,
        skills=sorted(s.code for s in t.skills.all()),
        default_duration_minutes=t.default_duration_minutes,
        default_radius_m=t.default_radius_m,
        active=t.active,
        need_count=count if count is not None else t.needs.count(),
        updated_at=t.updated_at,
    )


def _skills(codes: list[str]) -> list[Skill]:
    wanted = sorted({c.strip().lower() for c in codes})
    found = {s.code: s for s in Skill.objects.filter(code__in=wanted)}
    missing = [c for c in wanted if c not in found]
    if missing:
        raise DomainError(
            "needs.type.skill_unknown",
            _("所选技能不存在：%(codes)s。") % {"codes": "、".join(missing)},
            details={"field": "skills", "codes": missing},
        )
    return [found[c] for c in wanted]


def _load(type_id: int) -> NeedType:
    return get_object_or_404(NeedType, pk=type_id)


@router.get(
    "needs/types/manage",
    response={200: NeedTypePage, **ERRORS},
    operation_id="huzhu_needs_api_manage_need_types",
)
def manage_need_types(request: HttpRequest, q: Query[TypeQuery]) -> NeedTypePage:
    """Every need type, active first, with how many needs use it (``needs.manage_types``)."""
    actions.require_manage_types(actor_of(request))
    if q.status not in ("", "active", "inactive"):
        raise DomainError(
            "needs.type.filter_status", _("状态筛选条件无效。"), details={"field": "status"}
        )
    rows, meta = paginate(actions.type_rows(q.q.strip(), q.status), q)
    return NeedTypePage(items=[type_out(t) for t in rows], meta=meta)


@router.post(
    "needs/types",
    response={200: NeedTypeAdminOut, 201: NeedTypeAdminOut, **ERRORS},
    operation_id="huzhu_needs_api_create_need_type",
)
def create_need_type(request: HttpRequest, payload: NeedTypeIn) -> Reply[NeedTypeAdminOut]:
    """Add a need type (active). 201 with the type; the same code with the same content
    answers the existing type with 200; other content under an existing code is 409."""
    actor = actor_of(request)
    actions.require_manage_types(actor)
    key_of(request, payload.idempotency_key)
    existed = NeedType.objects.filter(code=payload.code.strip().lower()).exists()
    t = actions.create_need_type(
        actor=actor,
        code=payload.code,
        name=payload.name,
        name_en=payload.name_en,
        skills=_skills(payload.skills),
        default_duration_minutes=payload.default_duration_minutes,
        default_radius_m=payload.default_radius_m,
    )
    return Reply(200 if existed else 201, type_out(t))


@router.patch(
    "needs/types/{int:type_id}",
    response={200: NeedTypeAdminOut, **ERRORS},
    operation_id="huzhu_needs_api_update_need_type",
)
def update_need_type(
    request: HttpRequest, type_id: PathId, payload: NeedTypePatch
) -> NeedTypeAdminOut:
    """Change a type's names, required skills (replaced as a whole) and defaults; fields left
    out stay as they are. The code cannot change (400 ``needs.type.code_immutable``)."""
    actor = actor_of(request)
    actions.require_manage_types(actor)
    key_of(request, payload.idempotency_key)
    t = actions.update_need_type(
        actor=actor,
        need_type=_load(type_id),
        code=payload.code,
        name=payload.name,
        name_en=payload.name_en,
        skills=_skills(payload.skills) if payload.skills is not None else None,
        default_duration_minutes=payload.default_duration_minutes,
        default_radius_m=payload.default_radius_m,
    )
    return type_out(t)


@router.post(
    "needs/types/{int:type_id}/deactivate",
    response={200: NeedTypeAdminOut, **ERRORS},
    operation_id="huzhu_needs_api_deactivate_need_type",
)
def deactivate_need_type(request: HttpRequest, type_id: PathId, payload: KeyIn) -> NeedTypeAdminOut:
    """Stop offering a type for new needs; needs that have it keep it. Idempotent."""
    actor = actor_of(request)
    actions.require_manage_types(actor)
    key_of(request, payload.idempotency_key)
    return type_out(actions.deactivate_need_type(actor=actor, need_type=_load(type_id)))


@router.post(
    "needs/types/{int:type_id}/reactivate",
    response={200: NeedTypeAdminOut, **ERRORS},
    operation_id="huzhu_needs_api_reactivate_need_type",
)
def reactivate_need_type(request: HttpRequest, type_id: PathId, payload: KeyIn) -> NeedTypeAdminOut:
    """Offer a deactivated type again. Idempotent."""
    actor = actor_of(request)
    actions.require_manage_types(actor)
    key_of(request, payload.idempotency_key)
    return type_out(actions.reactivate_need_type(actor=actor, need_type=_load(type_id)))
