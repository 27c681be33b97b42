"""Orgs API: communities, buildings, households, groups and settings-as-data.

Same scope rules and the same actions as the pages: fetch → policy.require (404 outside the
actor's scope, 403 inside it without the permission) → action. Household outputs never carry
the address detail; it is shown only through the audited reveal.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any

from django.db.models import Count
from django.http import Http404, HttpRequest
from django.shortcuts import get_object_or_404
from django.utils.translation import gettext as _
from ninja import Field, P, PathEx, Query, Router, Schema, Status

from huzhu.accounts import policy
from huzhu.accounts.models import Household, Person, Role, RoleGrant
from huzhu.core.api import ERRORS, PageIn, PageMeta, paginate
from huzhu.core.errors import DomainError
from huzhu.core.registry import definition
from huzhu.orgs import actions
from huzhu.orgs.models import Building, Community, Group
from huzhu.orgs.queries import effective_settings

router = Router(tags=["orgs"])

GROUP_ROLES = (Role.GROUP_MEMBER, Role.GROUP_LEADER)

# Ids stay within what every database and JavaScript client can hold; no NUL in text.
MAX_ID = 2**53 - 1
NO_NUL = r"^[^\x00]*$"
Id = Annotated[int, Field(ge=1, le=MAX_ID)]
PathId = PathEx[int, P(ge=1, le=MAX_ID)]
SettingKey = PathEx[str, P(min_length=1, max_length=64, pattern=r"^[a-z0-9_.]+$")]


def _text(default: Any, max_length: int, min_length: int | None = None) -> Any:
    return Field(default, min_length=min_length, max_length=max_length, pattern=NO_NUL)


def _latitude() -> Any:
    return Field(None, ge=-90, le=90)


def _longitude() -> Any:
    return Field(None, ge=-180, le=180)


# --- schemas -------------------------------------------------------------------------------


class CommunityOut(Schema):
    id: int
    alliance_id: int
    name: str
    name_en: str
    district: str
    address: str
    latitude: float | None
    longitude: float | None
    building_count: int


class CommunityPage(Schema):
    items: list[CommunityOut]
    meta: PageMeta


class CommunityPatch(Schema):
    name: str | None = _text(None, 100, min_length=1)
    name_en: str | None = _text(None, 100)
    district: str | None = _text(None, 100)
    address: str | None = _text(None, 200)
    latitude: float | None = _latitude()
    longitude: float | None = _longitude()


class BuildingOut(Schema):
    id: int
    community_id: int
    name: str
    floors: int
    latitude: float | None
    longitude: float | None
    household_count: int


class BuildingPage(Schema):
    items: list[BuildingOut]
    meta: PageMeta


class BuildingIn(Schema):
    name: str = _text(..., 50, min_length=1)
    floors: int = Field(6, ge=1, le=200)
    latitude: float | None = _latitude()
    longitude: float | None = _longitude()


class BuildingPatch(Schema):
    name: str | None = _text(None, 50, min_length=1)
    floors: int | None = Field(None, ge=1, le=200)
    latitude: float | None = _latitude()
    longitude: float | None = _longitude()


class HouseholdOut(Schema):
    id: int
    community_id: int
    building_id: int
    room: str
    floor: int | None
    resident_count: int


class HouseholdPage(Schema):
    items: list[HouseholdOut]
    meta: PageMeta


class HouseholdIn(Schema):
    room: str = _text(..., 20, min_length=1)
    floor: int | None = Field(None, ge=-5, le=200)
    address_detail: str = _text("", 200)


class GroupOut(Schema):
    id: int
    community_id: int
    building_id: int | None
    parent_id: int | None
    name: str
    name_en: str
    description: str


class GroupIn(Schema):
    name: str = _text(..., 100, min_length=1)
    name_en: str = _text("", 100)
    description: str = _text("", 5000)
    parent_id: Id | None = None
    building_id: Id | None = None


class MemberOut(Schema):
    person_id: int
    name: str
    role: str


class JobBrief(Schema):
    id: int
    title: str
    role: str


class GroupDetailOut(GroupOut):
    members: list[MemberOut]
    children: list[GroupOut]
    jobs: list[JobBrief]


class SettingOut(Schema):
    key: str
    group: str
    label: str
    unit: str
    help_text: str
    minimum: str
    maximum: str
    value: str
    inherited: str
    overridden: bool


class SettingIn(Schema):
    value: str | None = _text(None, 64)


# --- helpers -------------------------------------------------------------------------------


def _actor(request: HttpRequest) -> Person:
    user = request.user
    assert isinstance(user, Person)
    return user


def _in_scope(actor: Person, community: Community) -> None:
    if not policy.in_scope(actor, community):
        raise Http404


def _community(pk: int) -> Community:
    return get_object_or_404(Community.objects.select_related("alliance"), pk=pk)


def _building(pk: int) -> Building:
    return get_object_or_404(Building.objects.select_related("community__alliance"), pk=pk)


def _float(value: Decimal | None) -> float | None:
    return float(value) if value is not None else None


def _community_out(c: Community) -> CommunityOut:
    count = getattr(c, "building_count", None)
    if count is None:
        count = c.buildings.count()
    return CommunityOut(
        id=c.pk,
        alliance_id=c.alliance_id,
        name=c.name,
        name_en=c.name_en,
        district=c.district,
        address=c.address,
        latitude=_float(c.latitude),
        longitude=_float(c.longitude),
        building_count=count,
    )


def _building_out(b: Building) -> BuildingOut:
    count = getattr(b, "household_count", None)
    if count is None:
        count = b.households.count()
    return BuildingOut(
        id=b.pk,
        community_id=b.community_id,
        name=b.name,
        floors=b.floors,
        latitude=_float(b.latitude),
        longitude=_float(b.longitude),
        household_count=count,
    )


def _household_out(h: Household) -> HouseholdOut:
    count = getattr(h, "resident_count", None)
    if count is None:
        count = Person.objects.filter(household=h).count()
    return HouseholdOut(
        id=h.pk,
        community_id=h.community_id,
        building_id=h.building_id,
        room=h.room,
        floor=h.floor,
        resident_count=count,
    )


def _group_out(g: Group) -> GroupOut:
    return GroupOut(
        id=g.pk,
        community_id=g.community_id,
        building_id=g.building_id,
        parent_id=g.parent_id,
        name=g.name,
        name_en=g.name_en,
        description=g.description,
    )


def _setting_out(row: dict[str, Any]) -> SettingOut:
    spec = row["spec"]
    return SettingOut(
        key=row["key"],
        group=str(spec.group),
        label=str(spec.label),
        unit=str(spec.unit),
        help_text=str(spec.help_text),
        minimum=str(spec.minimum),
        maximum=str(spec.maximum),
        value=str(row["value"]),
        inherited=str(row["inherited"]),
        overridden=row["overridden"],
    )


# --- communities ---------------------------------------------------------------------------


@router.get("communities", response={200: CommunityPage, **ERRORS})
def list_communities(request: HttpRequest, paging: Query[PageIn]) -> CommunityPage:
    """Communities on which the caller holds orgs.view_community."""
    qs = policy.visible_to(_actor(request), "orgs.view_community", Community.objects.all())
    rows, meta = paginate(qs.annotate(building_count=Count("buildings")).order_by("id"), paging)
    return CommunityPage(items=[_community_out(c) for c in rows], meta=meta)


@router.get("communities/{int:community_id}", response={200: CommunityOut, **ERRORS})
def get_community(request: HttpRequest, community_id: PathId) -> CommunityOut:
    community = _community(community_id)
    policy.require(_actor(request), "orgs.view_community", community)
    return _community_out(community)


@router.patch("communities/{int:community_id}", response={200: CommunityOut, **ERRORS})
def patch_community(
    request: HttpRequest, community_id: PathId, payload: CommunityPatch
) -> CommunityOut:
    """Change some fields of a community (orgs.manage_community)."""
    actor = _actor(request)
    community = _community(community_id)
    policy.require(actor, "orgs.manage_community", community)
    changes = payload.dict(exclude_unset=True)
    for key in ("name", "name_en", "district", "address"):
        if key in changes and changes[key] is None:
            changes[key] = ""
    saved = actions.update_community(actor=actor, community=community, **changes)
    return _community_out(saved)


# --- buildings -----------------------------------------------------------------------------


@router.get("communities/{int:community_id}/buildings", response={200: BuildingPage, **ERRORS})
def list_buildings(
    request: HttpRequest,
    community_id: PathId,
    paging: Query[PageIn],
) -> BuildingPage:
    community = _community(community_id)
    policy.require(_actor(request), "orgs.view_community", community)
    qs = community.buildings.annotate(household_count=Count("households")).order_by("id")
    rows, meta = paginate(qs, paging)
    return BuildingPage(items=[_building_out(b) for b in rows], meta=meta)


@router.post("communities/{int:community_id}/buildings", response={201: BuildingOut, **ERRORS})
def create_building(
    request: HttpRequest, community_id: PathId, payload: BuildingIn
) -> Status[BuildingOut]:
    actor = _actor(request)
    community = _community(community_id)
    policy.require(actor, "orgs.manage_building", community)
    building = actions.create_building(
        actor=actor,
        community=community,
        name=payload.name,
        floors=payload.floors,
        latitude=payload.latitude,
        longitude=payload.longitude,
    )
    return Status(201, _building_out(building))


@router.get("buildings/{int:building_id}", response={200: BuildingOut, **ERRORS})
def get_building(request: HttpRequest, building_id: PathId) -> BuildingOut:
    building = _building(building_id)
    policy.require(_actor(request), "orgs.view_building", building)
    return _building_out(building)


@router.patch("buildings/{int:building_id}", response={200: BuildingOut, **ERRORS})
def patch_building(
    request: HttpRequest, building_id: PathId, payload: BuildingPatch
) -> BuildingOut:
    actor = _actor(request)
    building = _building(building_id)
    policy.require(actor, "orgs.manage_building", building)
    changes = payload.dict(exclude_unset=True)
    saved = actions.update_building(
        actor=actor,
        building=building,
        name=changes["name"] if changes.get("name") is not None else building.name,
        floors=changes["floors"] if changes.get("floors") is not None else building.floors,
        latitude=changes.get("latitude", building.latitude),
        longitude=changes.get("longitude", building.longitude),
    )
    return _building_out(saved)


# --- households ----------------------------------------------------------------------------


@router.get("buildings/{int:building_id}/households", response={200: HouseholdPage, **ERRORS})
def list_households(
    request: HttpRequest, building_id: PathId, paging: Query[PageIn]
) -> HouseholdPage:
    building = _building(building_id)
    policy.require(_actor(request), "orgs.view_building", building)
    qs = (
        building.households.defer("address_detail")
        .annotate(resident_count=Count("members"))
        .order_by("room", "id")
    )
    rows, meta = paginate(qs, paging)
    return HouseholdPage(items=[_household_out(h) for h in rows], meta=meta)


@router.post("buildings/{int:building_id}/households", response={201: HouseholdOut, **ERRORS})
def create_household(
    request: HttpRequest, building_id: PathId, payload: HouseholdIn
) -> Status[HouseholdOut]:
    """Add a household; the address detail is stored encrypted and never returned."""
    actor = _actor(request)
    building = _building(building_id)
    policy.require(actor, "orgs.manage_household", building)
    household = actions.create_household(
        actor=actor,
        building=building,
        room=payload.room,
        floor=payload.floor,
        address_detail=payload.address_detail,
    )
    return Status(201, _household_out(household))


# --- groups --------------------------------------------------------------------------------


@router.get("communities/{int:community_id}/groups", response={200: list[GroupOut], **ERRORS})
def list_groups(request: HttpRequest, community_id: PathId) -> list[GroupOut]:
    """Every group of the community, flat; ``parent_id`` gives the tree."""
    community = _community(community_id)
    policy.require(_actor(request), "orgs.view_group", community)
    return [_group_out(g) for g in community.groups.order_by("id")]


@router.post("communities/{int:community_id}/groups", response={201: GroupOut, **ERRORS})
def create_group(request: HttpRequest, community_id: PathId, payload: GroupIn) -> Status[GroupOut]:
    """Add a group under the community, or a sub-group (a group leader under their group)."""
    actor = _actor(request)
    community = _community(community_id)
    parent = building = None
    if payload.parent_id is not None:
        parent = (
            Group.objects.select_related("community__alliance")
            .filter(pk=payload.parent_id, community=community)
            .first()
        )
        if parent is None:
            _in_scope(actor, community)
            raise DomainError(
                "orgs.group.parent", _("上级组不属于该社区。"), details={"field": "parent_id"}
            )
    if payload.building_id is not None:
        building = (
            Building.objects.select_related("community__alliance")
            .filter(pk=payload.building_id, community=community)
            .first()
        )
        if building is None:
            _in_scope(actor, community)
            raise DomainError(
                "orgs.group.building", _("楼栋不属于该社区。"), details={"field": "building_id"}
            )
    policy.require(actor, "orgs.manage_group", parent or building or community)
    group = actions.create_group(
        actor=actor,
        community=community,
        name=payload.name,
        name_en=payload.name_en,
        parent=parent,
        building=building,
        description=payload.description,
    )
    return Status(201, _group_out(group))


@router.get("groups/{int:group_id}", response={200: GroupDetailOut, **ERRORS})
def get_group(request: HttpRequest, group_id: PathId) -> GroupDetailOut:
    """A group with its members, sub-groups and job descriptions."""
    group = get_object_or_404(
        Group.objects.select_related("community__alliance", "parent"), pk=group_id
    )
    policy.require(_actor(request), "orgs.view_group", group)
    members = [
        MemberOut(person_id=g.person_id, name=g.person.name, role=g.role)
        for g in RoleGrant.objects.active()
        .filter(group=group, role__in=GROUP_ROLES)
        .select_related("person")
        .order_by("-role", "person__name", "id")
    ]
    base = _group_out(group)
    return GroupDetailOut(
        **base.dict(),
        members=members,
        children=[_group_out(c) for c in group.children.order_by("id")],
        jobs=[
            JobBrief(id=j.pk, title=j.title, role=j.role)
            for j in group.job_descriptions.order_by("id")
        ],
    )


# --- settings-as-data ----------------------------------------------------------------------


@router.get("communities/{int:community_id}/settings", response={200: list[SettingOut], **ERRORS})
def list_settings(request: HttpRequest, community_id: PathId) -> list[SettingOut]:
    """Every registered domain number at this community: value, inherited value, overridden."""
    community = _community(community_id)
    policy.require(_actor(request), "core.edit_settings", community)
    return [_setting_out(row) for row in effective_settings(community)]


@router.put("communities/{int:community_id}/settings/{key}", response={200: SettingOut, **ERRORS})
def put_setting(
    request: HttpRequest, community_id: PathId, key: str, payload: SettingIn
) -> SettingOut:
    """Override one domain number here; a null or empty value clears it (inherit)."""
    actor = _actor(request)
    community = _community(community_id)
    policy.require(actor, "core.edit_settings", community)
    definition(key)
    actions.set_setting(actor=actor, node=community, key=key, value=payload.value)
    row = next(r for r in effective_settings(community) if r["key"] == key)
    return _setting_out(row)
