"""Who a broadcast reaches: an audience spec (JSON on the broadcast) and its recipients.

A spec names a community (or, for a district admin, the whole alliance) and narrows it by
buildings, groups (with their sub-groups), roles, skills and weekly availability. Every node
named in a spec must lie where the sender may broadcast.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass, field
from typing import Any

from django.db.models import Max, Min, Q, QuerySet
from django.utils.translation import gettext as _

from huzhu.accounts import policy
from huzhu.accounts.models import Person, Role, Skill, Status
from huzhu.core import clock
from huzhu.core.errors import DomainError
from huzhu.orgs.models import Alliance, Building, Community, Group


@dataclass
class AudienceSpec:
    alliance: int | None = None
    community: int | None = None
    buildings: list[int] = field(default_factory=list)
    groups: list[int] = field(default_factory=list)
    roles: list[str] = field(default_factory=list)
    skills: list[int] = field(default_factory=list)
    weekday: int | None = None  # 0 = Monday; available that day
    time_from: str | None = None  # "HH:MM", with weekday: available over this window
    time_to: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if v not in (None, [], "")}


def _ids(raw: Any, name: str) -> list[int]:
    if raw in (None, ""):
        return []
    if not isinstance(raw, (list, tuple)):
        raw = [raw]
    try:
        values = sorted({int(v) for v in raw})
    except (TypeError, ValueError):
        raise DomainError(
            "notify.audience.invalid",
            _("接收对象条件无效：%(name)s") % {"name": name},
            details={"field": name},
        ) from None
    if len(values) > 500:
        raise DomainError(
            "notify.audience.too_many",
            _("条件中的项目过多（最多 500 个）。"),
            details={"field": name},
        )
    return values


def _time(raw: Any, name: str) -> str | None:
    if raw in (None, ""):
        return None
    try:
        return dt.time.fromisoformat(str(raw)).strftime("%H:%M")
    except ValueError:
        raise DomainError(
            "notify.audience.time", _("时间格式应为 HH:MM。"), details={"field": name}
        ) from None


def parse_spec(raw: dict[str, Any]) -> AudienceSpec:
    """Validate the shape of a spec (not yet the sender's scope)."""
    if not isinstance(raw, dict):
        raise DomainError("notify.audience.invalid", _("接收对象条件无效。"))
    roles = [str(r) for r in (raw.get("roles") or [])]
    unknown = [r for r in roles if r not in Role.values]
    if unknown:
        raise DomainError(
            "notify.audience.role",
            _("未知的角色：%(role)s") % {"role": ", ".join(unknown)},
            details={"field": "roles"},
        )
    weekday = raw.get("weekday")
    if weekday not in (None, ""):
        try:
            weekday = int(weekday)
        except (TypeError, ValueError):
            weekday = -1
        if not 0 <= weekday <= 6:
            raise DomainError(
                "notify.audience.weekday", _("星期无效。"), details={"field": "weekday"}
            )
    else:
        weekday = None
    alliance_ids = _ids(raw.get("alliance"), "alliance")
    community_ids = _ids(raw.get("community"), "community")
    spec = AudienceSpec(
        alliance=alliance_ids[0] if alliance_ids else None,
        community=community_ids[0] if community_ids else None,
        buildings=_ids(raw.get("buildings"), "buildings"),
        groups=_ids(raw.get("groups"), "groups"),
        roles=sorted(set(roles)),
        skills=_ids(raw.get("skills"), "skills"),
        weekday=weekday,
        time_from=_time(raw.get("time_from"), "time_from"),
        time_to=_time(raw.get("time_to"), "time_to"),
    )
    if (spec.time_from or spec.time_to) and (
        spec.weekday is None or not spec.time_from or not spec.time_to
    ):
        raise DomainError(
            "notify.audience.window",
            _("按时段筛选须同时选择星期、开始和结束时间。"),
            details={"field": "time_from"},
        )
    if spec.time_from and spec.time_to and spec.time_to <= spec.time_from:
        raise DomainError(
            "notify.audience.window", _("结束时间必须晚于开始时间。"), details={"field": "time_to"}
        )
    if spec.community is None and spec.alliance is None:
        raise DomainError(
            "notify.audience.scope", _("请选择社区。"), details={"field": "community"}
        )
    return spec


def root_node(spec: AudienceSpec) -> Community | Alliance:
    """The community, or the alliance for an alliance-wide spec (404 if it does not exist)."""
    from django.shortcuts import get_object_or_404

    if spec.community is not None:
        return get_object_or_404(Community.objects.select_related("alliance"), pk=spec.community)
    return get_object_or_404(Alliance, pk=spec.alliance)


def check_scope(actor: Person, spec: AudienceSpec) -> Community | Alliance:
    """The sender must hold notify.broadcast on the root, or on every building / group the
    spec narrows to (a building manager broadcasts to their building)."""
    root = root_node(spec)
    community = root if isinstance(root, Community) else None
    buildings = list(Building.objects.select_related("community").filter(pk__in=spec.buildings))
    groups = list(Group.objects.select_related("community").filter(pk__in=spec.groups))
    if len(buildings) != len(spec.buildings) or len(groups) != len(spec.groups):
        raise DomainError("notify.audience.unknown", _("接收对象中有不存在的楼栋或职能组。"))
    skills = Skill.objects.filter(pk__in=spec.skills).count()
    if skills != len(spec.skills):
        raise DomainError(
            "notify.audience.unknown_skill",
            _("接收对象中有不存在的技能。"),
            details={"field": "skills"},
        )
    community_ids = {b.community_id for b in buildings} | {g.community_id for g in groups}
    if community_ids and (community is None or community_ids != {community.pk}):
        raise DomainError("notify.audience.outside", _("楼栋和职能组必须属于所选社区。"))
    if policy.can(actor, "notify.broadcast", root):
        return root
    narrowed = [*buildings, *groups]
    if narrowed and all(policy.can(actor, "notify.broadcast", n) for n in narrowed):
        return root
    policy.require(actor, "notify.broadcast", root)  # 404 outside scope, else 403
    return root


def require_manage(actor: Person, broadcast: Any) -> None:
    """Who may see a broadcast's tally and replies, re-send or cancel it: the same rule as
    sending it (``check_scope``) — notify.broadcast on its community (or alliance), or on
    every building / group its audience narrows to. 404 outside scope, else 403."""
    if policy.can(actor, "notify.broadcast", broadcast):
        return
    raw = broadcast.audience or {}
    narrowed = [
        *Building.objects.select_related("community__alliance").filter(
            pk__in=_ids(raw.get("buildings"), "buildings")
        ),
        *Group.objects.select_related("community__alliance").filter(
            pk__in=_ids(raw.get("groups"), "groups")
        ),
    ]
    if narrowed and all(policy.can(actor, "notify.broadcast", n) for n in narrowed):
        return
    policy.require(actor, "notify.broadcast", broadcast)


def recipients(spec: AudienceSpec) -> QuerySet[Person]:
    """Active people matching the spec, each once."""
    now = clock.now()
    qs = Person.objects.filter(is_active=True).filter(
        Q(status=Status.ACTIVE) | Q(status_until__lte=now)
    )
    if spec.community is not None:
        qs = qs.filter(community_id=spec.community)
    elif spec.alliance is not None:
        qs = qs.filter(community__alliance_id=spec.alliance)
    else:
        return qs.none()
    if spec.buildings:
        qs = qs.filter(household__building_id__in=spec.buildings)
    if spec.groups:
        group_ids = policy._descendant_group_ids(spec.groups)
        qs = qs.filter(
            pk__in=_grant_people(roles=[Role.GROUP_MEMBER, Role.GROUP_LEADER], group__in=group_ids)
        )
    if spec.roles:
        qs = qs.filter(pk__in=_grant_people(roles=spec.roles))
    if spec.skills:
        from huzhu.accounts.models import PersonSkill

        qs = qs.filter(
            pk__in=PersonSkill.objects.filter(skill_id__in=spec.skills).values("person_id")
        )
    if spec.weekday is not None:
        from huzhu.accounts.models import AvailabilitySlot

        slots = AvailabilitySlot.objects.filter(weekday=spec.weekday)
        if spec.time_from and spec.time_to:
            slots = slots.filter(start_time__lte=spec.time_from, end_time__gte=spec.time_to)
        qs = qs.filter(pk__in=slots.values("person_id"))
    return qs


def id_range(spec: AudienceSpec) -> tuple[int, int] | None:
    """Lowest and highest person id that ``recipients(spec)`` can return, cheaply: the ids of the
    spec's community (or of everybody for an alliance), not of the filtered audience, whose
    bounds cost a scan of the whole audience (measured: 224 ms against 3 ms for 360,000
    volunteers). A fan-out walks this range in batches; a batch without recipients writes
    nothing."""
    if spec.community is not None:
        base = Person.objects.filter(community_id=spec.community)
    elif spec.alliance is not None:
        base = Person.objects.all()
    else:
        return None
    bounds = base.aggregate(low=Min("pk"), high=Max("pk"))
    if bounds["low"] is None:
        return None
    return int(bounds["low"]), int(bounds["high"])


def _grant_people(*, roles: list[str], **filters: Any) -> QuerySet[Any]:
    from huzhu.accounts.models import RoleGrant

    return RoleGrant.objects.active().filter(role__in=roles, **filters).values("person_id")


def describe(spec: AudienceSpec) -> str:
    """A short human label of the audience, in the current language."""
    parts: list[str] = []
    root: Community | Alliance | None = None
    if spec.community is not None:
        root = Community.objects.filter(pk=spec.community).first()
    elif spec.alliance is not None:
        root = Alliance.objects.filter(pk=spec.alliance).first()
    parts.append(str(root) if root else "?")
    if spec.buildings:
        names = Building.objects.filter(pk__in=spec.buildings).values_list("name", flat=True)
        parts.append("、".join(sorted(names)))
    if spec.groups:
        parts.append("、".join(str(g) for g in Group.objects.filter(pk__in=spec.groups)))
    if spec.roles:
        labels = dict(Role.choices)
        parts.append("、".join(str(labels[r]) for r in spec.roles))
    if spec.skills:
        parts.append("、".join(str(s) for s in Skill.objects.filter(pk__in=spec.skills)))
    if spec.weekday is not None:
        from huzhu.accounts.models import Weekday

        day = str(Weekday(spec.weekday).label)
        window = f" {spec.time_from}–{spec.time_to}" if spec.time_from else ""
        parts.append(_("%(day)s%(window)s 有空") % {"day": day, "window": window})
    return " · ".join(parts)[:300]
