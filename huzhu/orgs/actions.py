"""State changes of the org tree and of settings-as-data."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from huzhu.accounts import policy
from huzhu.accounts.models import Household, Person
from huzhu.audit.service import record
from huzhu.core.errors import ConflictError, DomainError
from huzhu.core.registry import definition
from huzhu.orgs.models import (
    Alliance,
    Building,
    Community,
    Group,
    JobDescription,
    SettingOverride,
)
from huzhu.orgs.queries import chain


def _required(value: str, field: str, label: str, max_len: int) -> str:
    value = (value or "").strip()
    if not value:
        raise DomainError(
            "orgs.field.required",
            _("请填写%(label)s。") % {"label": label},
            details={"field": field},
        )
    if len(value) > max_len:
        raise DomainError(
            "orgs.field.too_long",
            _("%(label)s不能超过 %(n)s 个字。") % {"label": label, "n": max_len},
            details={"field": field},
        )
    return value


def _coords(lat: Any, lng: Any) -> tuple[Decimal | None, Decimal | None]:
    if lat in (None, "") and lng in (None, ""):
        return None, None
    try:
        la, lo = Decimal(str(lat)), Decimal(str(lng))
    except Exception:
        raise DomainError(
            "orgs.coords.invalid", _("经纬度格式不正确。"), details={"field": "latitude"}
        ) from None
    if not (-90 <= la <= 90 and -180 <= lo <= 180):
        raise DomainError(
            "orgs.coords.invalid", _("经纬度超出范围。"), details={"field": "latitude"}
        )
    return la.quantize(Decimal("0.000001")), lo.quantize(Decimal("0.000001"))


def _save_unique(obj: Any, code: str, message: str) -> None:
    try:
        with transaction.atomic():
            obj.save()
    except IntegrityError:
        raise ConflictError(code, message, details={"field": "name"}) from None


@transaction.atomic
def create_community(
    *,
    actor: Person,
    alliance: Alliance,
    name: str,
    name_en: str = "",
    district: str = "",
    address: str = "",
    latitude: Any = None,
    longitude: Any = None,
) -> Community:
    policy.require(actor, "orgs.manage_community", alliance)
    lat, lng = _coords(latitude, longitude)
    community = Community(
        alliance=alliance,
        name=_required(name, "name", _("名称"), 100),
        name_en=name_en.strip()[:100],
        district=district.strip()[:100],
        address=address.strip()[:200],
        latitude=lat,
        longitude=lng,
    )
    _save_unique(community, "orgs.community.exists", _("同名社区已存在。"))
    record(
        "orgs.community.created",
        actor=actor,
        target=community,
        community=community,
        new={"name": community.name},
    )
    return community


@transaction.atomic
def update_community(*, actor: Person, community: Community, **changes: Any) -> Community:
    policy.require(actor, "orgs.manage_community", community)
    community = Community.objects.select_for_update().get(pk=community.pk)
    old = {k: getattr(community, k) for k in changes}
    if "name" in changes:
        changes["name"] = _required(changes["name"], "name", _("名称"), 100)
    if "latitude" in changes or "longitude" in changes:
        changes["latitude"], changes["longitude"] = _coords(
            changes.get("latitude", community.latitude),
            changes.get("longitude", community.longitude),
        )
    for key, value in changes.items():
        if key not in ("name", "name_en", "district", "address", "latitude", "longitude"):
            raise DomainError(
                "orgs.field.not_editable",
                _("字段不可修改：%(field)s") % {"field": key},
                details={"field": key},
            )
        setattr(community, key, value)
    _save_unique(community, "orgs.community.exists", _("同名社区已存在。"))
    record("orgs.community.updated", actor=actor, target=community, old=old, new=changes)
    return community


@transaction.atomic
def create_building(
    *,
    actor: Person,
    community: Community,
    name: str,
    floors: int = 6,
    latitude: Any = None,
    longitude: Any = None,
) -> Building:
    policy.require(actor, "orgs.manage_building", community)
    if not 1 <= int(floors) <= 200:
        raise DomainError(
            "orgs.building.floors", _("楼层数须在 1 到 200 之间。"), details={"field": "floors"}
        )
    lat, lng = _coords(latitude, longitude)
    building = Building(
        community=community,
        name=_required(name, "name", _("楼号"), 50),
        floors=int(floors),
        latitude=lat,
        longitude=lng,
    )
    _save_unique(building, "orgs.building.exists", _("该社区已有同名楼栋。"))
    record("orgs.building.created", actor=actor, target=building, new={"name": building.name})
    return building


@transaction.atomic
def update_building(
    *,
    actor: Person,
    building: Building,
    name: str,
    floors: int,
    latitude: Any = None,
    longitude: Any = None,
) -> Building:
    policy.require(actor, "orgs.manage_building", building)
    building = Building.objects.select_for_update().get(pk=building.pk)
    if not 1 <= int(floors) <= 200:
        raise DomainError(
            "orgs.building.floors", _("楼层数须在 1 到 200 之间。"), details={"field": "floors"}
        )
    old = {"name": building.name, "floors": building.floors}
    building.name = _required(name, "name", _("楼号"), 50)
    building.floors = int(floors)
    building.latitude, building.longitude = _coords(latitude, longitude)
    _save_unique(building, "orgs.building.exists", _("该社区已有同名楼栋。"))
    record(
        "orgs.building.updated",
        actor=actor,
        target=building,
        old=old,
        new={"name": building.name, "floors": building.floors},
    )
    return building


@transaction.atomic
def create_household(
    *,
    actor: Person,
    building: Building,
    room: str,
    floor: int | None = None,
    address_detail: str = "",
) -> Household:
    policy.require(actor, "orgs.manage_household", building)
    if floor is not None and not -5 <= int(floor) <= building.floors:
        raise DomainError(
            "orgs.household.floor", _("楼层超出该楼栋的范围。"), details={"field": "floor"}
        )
    household = Household(
        community=building.community,
        building=building,
        room=_required(room, "room", _("房号"), 20),
        floor=floor,
        address_detail=address_detail.strip(),
    )
    try:
        with transaction.atomic():
            household.save()
    except IntegrityError:
        raise ConflictError(
            "orgs.household.exists", _("该楼栋已有此房号。"), details={"field": "room"}
        ) from None
    record(
        "orgs.household.created",
        actor=actor,
        target=household,
        new={"room": household.room, "address_detail": address_detail},
    )
    return household


@transaction.atomic
def update_household(
    *,
    actor: Person,
    household: Household,
    room: str,
    floor: int | None,
    address_detail: str | None = None,
) -> Household:
    policy.require(actor, "orgs.manage_household", household)
    household = Household.objects.select_for_update().get(pk=household.pk)
    if floor is not None and not -5 <= int(floor) <= household.building.floors:
        raise DomainError(
            "orgs.household.floor", _("楼层超出该楼栋的范围。"), details={"field": "floor"}
        )
    old: dict[str, Any] = {"room": household.room, "floor": household.floor}
    household.room = _required(room, "room", _("房号"), 20)
    household.floor = floor
    new: dict[str, Any] = {"room": household.room, "floor": floor}
    if address_detail is not None:
        old["address_detail"], new["address_detail"] = household.address_detail, address_detail
        household.address_detail = address_detail.strip()
    try:
        with transaction.atomic():
            household.save()
    except IntegrityError:
        raise ConflictError(
            "orgs.household.exists", _("该楼栋已有此房号。"), details={"field": "room"}
        ) from None
    record("orgs.household.updated", actor=actor, target=household, old=old, new=new)
    return household


@transaction.atomic
def create_group(
    *,
    actor: Person,
    community: Community,
    name: str,
    name_en: str = "",
    parent: Group | None = None,
    building: Building | None = None,
    description: str = "",
) -> Group:
    """Groups grow bottom-up: a leader of a group may add sub-groups under it."""
    policy.require(actor, "orgs.manage_group", parent or building or community)
    if parent is not None and parent.community_id != community.pk:
        raise DomainError(
            "orgs.group.parent", _("上级组不属于该社区。"), details={"field": "parent"}
        )
    if building is not None and building.community_id != community.pk:
        raise DomainError(
            "orgs.group.building", _("楼栋不属于该社区。"), details={"field": "building"}
        )
    group = Group(
        community=community,
        parent=parent,
        building=building,
        name=_required(name, "name", _("名称"), 100),
        name_en=name_en.strip()[:100],
        description=description.strip(),
    )
    _save_unique(group, "orgs.group.exists", _("同一上级组下已有同名小组。"))
    record(
        "orgs.group.created", actor=actor, target=group, new={"name": group.name, "parent": parent}
    )
    return group


@transaction.atomic
def update_group(
    *, actor: Person, group: Group, name: str, name_en: str = "", description: str = ""
) -> Group:
    policy.require(actor, "orgs.manage_group", group)
    group = Group.objects.select_for_update().get(pk=group.pk)
    old = {"name": group.name, "description": group.description}
    group.name = _required(name, "name", _("名称"), 100)
    group.name_en = name_en.strip()[:100]
    group.description = description.strip()
    _save_unique(group, "orgs.group.exists", _("同一上级组下已有同名小组。"))
    record(
        "orgs.group.updated",
        actor=actor,
        target=group,
        old=old,
        new={"name": group.name, "description": group.description},
    )
    return group


@transaction.atomic
def save_job_description(
    *,
    actor: Person,
    community: Community,
    title: str,
    purpose: str,
    duties: str,
    workflow: str = "",
    howto: str = "",
    group: Group | None = None,
    role: str = "",
    job: JobDescription | None = None,
) -> JobDescription:
    """Create or edit a job description (岗位说明书) for a group or a role."""
    policy.require(actor, "orgs.manage_group", group or community)
    if group is None and not role:
        raise DomainError("orgs.job.target", _("请选择职能组或角色。"), details={"field": "group"})
    if group is not None and group.community_id != community.pk:
        raise DomainError(
            "orgs.group.parent", _("职能组不属于该社区。"), details={"field": "group"}
        )
    old: dict[str, Any] = {}
    if job is None:
        job = JobDescription(community=community)
    else:
        job = JobDescription.objects.select_for_update().get(pk=job.pk)
        old = {"title": job.title, "duties": job.duties}
    job.group, job.role = group, role
    job.title = _required(title, "title", _("岗位名称"), 100)
    job.purpose = _required(purpose, "purpose", _("岗位目的"), 5000)
    job.duties = _required(duties, "duties", _("工作职责"), 10000)
    job.workflow, job.howto = workflow.strip(), howto.strip()
    job.save()
    record(
        "orgs.job.saved",
        actor=actor,
        target=job,
        old=old,
        new={"title": job.title, "duties": job.duties},
    )
    return job


@transaction.atomic
def set_setting(*, actor: Person, node: Any, key: str, value: Any) -> SettingOverride | None:
    """Override a domain number on a node; an empty value removes the override (inherit)."""
    spec = definition(key)
    policy.require(actor, "core.edit_settings", node)
    building, community, alliance = chain(node)
    where: dict[str, Any] = (
        {"building": building, "community": community}
        if building is not None
        else {"community": community, "building__isnull": True}
        if community is not None
        else {"alliance": alliance}
    )
    current = SettingOverride.objects.select_for_update().filter(key=key, **where).first()
    old = {"value": current.value if current else None}
    if value is None or str(value).strip() == "":
        if current is not None:
            current.delete()
            record(
                "core.setting.cleared",
                actor=actor,
                target=None,
                community=community,
                alliance=alliance,
                old=old,
                new={"key": key},
                scope=str(node),
            )
        return None
    parsed = spec.parse(value)
    if current is None:
        current = SettingOverride(
            key=key,
            building=building,
            community=community if building or community else None,
            alliance=alliance if community is None else None,
        )
    current.value = spec.to_storage(parsed)
    current.updated_by = actor
    current.save()
    record(
        "core.setting.changed",
        actor=actor,
        target=current,
        community=community,
        alliance=alliance,
        old=old,
        new={"key": key, "value": current.value},
        scope=str(node),
    )
    return current
