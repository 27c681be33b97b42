"""The need taxonomy (issue 5: "Need types as an editable taxonomy (陪诊, 代购, 维修, 理发, 家政,
心理, 物资 …) with the skills each requires, default duration and search radius").

The taxonomy is platform-wide: it hangs in no community, so the permission
``needs.manage_types`` is held anywhere (``policy.can_anywhere``; district admins and
superusers). A type is never deleted — needs reference it —: it is deactivated, after which
the publish form no longer offers it and ``publish_need`` refuses it, while the needs that
already have it keep it. The code is a slug, unique, and cannot change after creation.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from django.core.exceptions import PermissionDenied
from django.db import IntegrityError, transaction
from django.db.models import Count, Q, QuerySet
from django.utils.translation import gettext as _

from huzhu.accounts import policy
from huzhu.accounts.models import Person, RoleGrant, Skill
from huzhu.audit.service import record
from huzhu.core.errors import DomainError
from huzhu.needs.models import NeedType

MANAGE_TYPES = "needs.manage_types"

CODE_MAX = 40
NAME_MAX = 50
MIN_DURATION, MAX_DURATION = 15, 1440  # minutes: a quarter of an hour to a day
MIN_RADIUS, MAX_RADIUS = 100, 50_000  # metres
_CODE = re.compile(r"^[a-z0-9][a-z0-9_-]*$")

__all__ = [
    "MANAGE_TYPES",
    "create_need_type",
    "deactivate_need_type",
    "may_manage_types",
    "reactivate_need_type",
    "require_manage_types",
    "type_rows",
    "update_need_type",
]


def may_manage_types(actor: Any) -> bool:
    """Does the actor hold ``needs.manage_types`` (on any node: the taxonomy is global)?"""
    return bool(
        actor is not None
        and getattr(actor, "is_active", False)
        and policy.can_anywhere(actor, MANAGE_TYPES)
    )


def require_manage_types(actor: Any) -> None:
    """403 without ``needs.manage_types``. There is no 404: the taxonomy is public."""
    if not may_manage_types(actor):
        raise PermissionDenied(MANAGE_TYPES)


def _alliance_of(actor: Person) -> int | None:
    """The alliance an audit entry of the taxonomy is filed under, so that the district admins
    of the actor's alliance see it in their audit log (a superuser without grants: none)."""
    grants = RoleGrant.objects.active().filter(
        person=actor, role__in=policy.PERMISSIONS[MANAGE_TYPES]
    )
    for alliance_id, community_alliance_id in grants.values_list(
        "alliance_id", "community__alliance_id"
    ):
        if (alliance_id or community_alliance_id) is not None:
            return int(alliance_id or community_alliance_id)
    return None


# --- validation ------------------------------------------------------------------------------


def _clean_code(code: str) -> str:
    value = (code or "").strip().lower()
    if not value:
        raise DomainError(
            "needs.type.code_required", _("请填写类型代码。"), details={"field": "code"}
        )
    if len(value) > CODE_MAX or not _CODE.match(value):
        raise DomainError(
            "needs.type.code_invalid",
            _("类型代码只能用小写字母、数字、- 和 _，以字母或数字开头，最多 40 个字符。"),
            details={"field": "code"},
        )
    return value


def _clean_name(name: str, *, exclude: int | None = None) -> str:
    value = " ".join((name or "").split())
    if not value:
        raise DomainError("needs.type.name_required", _("请填写名称。"), details={"field": "name"})
    if len(value) > NAME_MAX:
        raise DomainError(
            "needs.type.name_too_long", _("名称不能超过 50 个字。"), details={"field": "name"}
        )
    taken = NeedType.objects.filter(name=value)
    if exclude is not None:
        taken = taken.exclude(pk=exclude)
    if taken.exists():
        raise DomainError(
            "needs.type.name_taken",
            _("已有同名的需求类型。"),
            details={"field": "name"},
            status=409,
        )
    return value


def _clean_name_en(name_en: str) -> str:
    value = " ".join((name_en or "").split())
    if len(value) > NAME_MAX:
        raise DomainError(
            "needs.type.name_en_too_long",
            _("英文名称不能超过 50 个字符。"),
            details={"field": "name_en"},
        )
    return value


def _clean_duration(minutes: int) -> int:
    if isinstance(minutes, bool) or not isinstance(minutes, int):
        raise DomainError(
            "needs.type.duration_invalid",
            _("默认时长须为整数分钟。"),
            details={"field": "default_duration_minutes"},
        )
    if not MIN_DURATION <= minutes <= MAX_DURATION:
        raise DomainError(
            "needs.type.duration_range",
            _("默认时长须在 15 到 1440 分钟（一天）之间。"),
            details={"field": "default_duration_minutes"},
        )
    return minutes


def _clean_radius(metres: int) -> int:
    if isinstance(metres, bool) or not isinstance(metres, int):
        raise DomainError(
            "needs.type.radius_invalid",
            _("默认搜索半径须为整数米。"),
            details={"field": "default_radius_m"},
        )
    if not MIN_RADIUS <= metres <= MAX_RADIUS:
        raise DomainError(
            "needs.type.radius_range",
            _("默认搜索半径须在 100 到 50000 米之间。"),
            details={"field": "default_radius_m"},
        )
    return metres


def _clean_skills(skills: Iterable[Skill]) -> list[Skill]:
    out: dict[int, Skill] = {}
    for skill in skills:
        if not isinstance(skill, Skill) or skill.pk is None:
            raise DomainError(
                "needs.type.skill_unknown", _("所选技能不存在。"), details={"field": "skills"}
            )
        out[skill.pk] = skill
    return sorted(out.values(), key=lambda s: s.code)


def _values(t: NeedType, skill_codes: list[str] | None = None) -> dict[str, Any]:
    """What the audit log keeps of a type."""
    codes = skill_codes if skill_codes is not None else sorted(s.code for s in t.skills.all())
    return {
        "code": t.code,
        "name": t.name,
        "name_en": t.name_en,
        "skills": codes,
        "default_duration_minutes": t.default_duration_minutes,
        "default_radius_m": t.default_radius_m,
        "active": t.active,
    }


# --- reads -------------------------------------------------------------------------------------


def type_rows(search: str = "", status: str = "") -> QuerySet[NeedType]:
    """The types with ``need_count`` (how many needs use each), in one query plus one for the
    skills, whatever the page size."""
    qs = NeedType.objects.annotate(need_count=Count("needs")).prefetch_related("skills")
    if search:
        qs = qs.filter(
            Q(code__icontains=search) | Q(name__icontains=search) | Q(name_en__icontains=search)
        )
    if status == "active":
        qs = qs.filter(active=True)
    elif status == "inactive":
        qs = qs.filter(active=False)
    return qs.order_by("-active", "code")


# --- actions ---------------------------------------------------------------------------------


def create_need_type(
    *,
    actor: Person,
    code: str,
    name: str,
    name_en: str = "",
    skills: Iterable[Skill] = (),
    default_duration_minutes: int = 60,
    default_radius_m: int = 3000,
) -> NeedType:
    """Add a need type to the taxonomy, active. Idempotent by code: a second create with the
    same code and the same content answers the existing type and does nothing; with other
    content it is refused (409 ``needs.type.code_taken``). One audit entry
    ``needs.type.created``."""
    require_manage_types(actor)
    code = _clean_code(code)
    name_en = _clean_name_en(name_en)
    duration = _clean_duration(default_duration_minutes)
    radius = _clean_radius(default_radius_m)
    wanted_skills = _clean_skills(skills)
    wanted = {
        "name": " ".join((name or "").split()),
        "name_en": name_en,
        "skills": [s.code for s in wanted_skills],
        "default_duration_minutes": duration,
        "default_radius_m": radius,
    }
    with transaction.atomic():
        existing = NeedType.objects.select_for_update().filter(code=code).first()
        if existing is not None:
            return _same_or_taken(existing, wanted)
        try:
            clean_name = _clean_name(name)
        except DomainError as exc:
            # A concurrent create of this very code committed in between: answer it.
            existing = NeedType.objects.select_for_update().filter(code=code).first()
            if exc.code == "needs.type.name_taken" and existing is not None:
                return _same_or_taken(existing, wanted)
            raise
        try:
            with transaction.atomic():  # a concurrent create of the same code loses here
                t = NeedType.objects.create(
                    code=code,
                    name=clean_name,
                    name_en=name_en,
                    default_duration_minutes=duration,
                    default_radius_m=radius,
                    active=True,
                )
        except IntegrityError:
            existing = NeedType.objects.select_for_update().get(code=code)
            return _same_or_taken(existing, wanted)
        t.skills.set(wanted_skills)
        record(
            "needs.type.created",
            actor=actor,
            target=t,
            alliance=_alliance_of(actor),
            new=_values(t, [s.code for s in wanted_skills]),
        )
        return t


def _same_or_taken(existing: NeedType, wanted: dict[str, Any]) -> NeedType:
    have = _values(existing)
    if all(have[k] == v for k, v in wanted.items()):
        return existing
    raise DomainError(
        "needs.type.code_taken",
        _("代码已存在：已有使用该代码的需求类型，请换一个代码，或编辑已有的类型。"),
        details={"field": "code"},
        status=409,
    )


def update_need_type(
    *,
    actor: Person,
    need_type: NeedType,
    code: str | None = None,
    name: str | None = None,
    name_en: str | None = None,
    skills: Iterable[Skill] | None = None,
    default_duration_minutes: int | None = None,
    default_radius_m: int | None = None,
) -> NeedType:
    """Change a type's names, required skills and defaults (a field left ``None`` stays as
    it is). The code cannot change (``needs.type.code_immutable``). Needs already published
    keep the duration and radius they were published with. Nothing changed: nothing written
    (a retry is harmless). One audit entry ``needs.type.updated`` with the old and new
    values of the changed fields."""
    require_manage_types(actor)
    with transaction.atomic():
        t = NeedType.objects.select_for_update().get(pk=need_type.pk)
        if code is not None and code.strip().lower() != t.code:
            raise DomainError(
                "needs.type.code_immutable",
                _("类型代码创建后不能修改。"),
                details={"field": "code"},
            )
        before = _values(t)
        after = dict(before)
        if name is not None:
            cleaned = " ".join(name.split())
            after["name"] = cleaned if cleaned == t.name else _clean_name(name, exclude=t.pk)
        if name_en is not None:
            after["name_en"] = _clean_name_en(name_en)
        if default_duration_minutes is not None:
            after["default_duration_minutes"] = _clean_duration(default_duration_minutes)
        if default_radius_m is not None:
            after["default_radius_m"] = _clean_radius(default_radius_m)
        new_skills: list[Skill] | None = None
        if skills is not None:
            new_skills = _clean_skills(skills)
            after["skills"] = [s.code for s in new_skills]
        changed = [k for k in after if after[k] != before[k]]
        if not changed:
            return t
        t.name = after["name"]
        t.name_en = after["name_en"]
        t.default_duration_minutes = after["default_duration_minutes"]
        t.default_radius_m = after["default_radius_m"]
        t.save()
        if new_skills is not None and "skills" in changed:
            t.skills.set(new_skills)
        record(
            "needs.type.updated",
            actor=actor,
            target=t,
            alliance=_alliance_of(actor),
            old={k: before[k] for k in changed},
            new={k: after[k] for k in changed},
        )
        return t


def _set_active(actor: Person, need_type: NeedType, active: bool) -> NeedType:
    require_manage_types(actor)
    with transaction.atomic():
        t = NeedType.objects.select_for_update().get(pk=need_type.pk)
        if t.active == active:  # already so: a retry does nothing
            return t
        t.active = active
        t.save(update_fields=["active", "updated_at"])
        record(
            "needs.type.reactivated" if active else "needs.type.deactivated",
            actor=actor,
            target=t,
            alliance=_alliance_of(actor),
            old={"active": not active},
            new={"active": active},
        )
        return t


def deactivate_need_type(*, actor: Person, need_type: NeedType) -> NeedType:
    """Stop offering a type: the publish form no longer lists it and ``publish_need`` refuses
    it; needs that have it keep it (a type is never deleted). Idempotent. One audit entry
    ``needs.type.deactivated``."""
    return _set_active(actor, need_type, False)


def reactivate_need_type(*, actor: Person, need_type: NeedType) -> NeedType:
    """Offer a deactivated type again. Idempotent. One audit entry
    ``needs.type.reactivated``."""
    return _set_active(actor, need_type, True)
