"""Accounts API: tokens, the current person, the registry of people, roles, my availability
and skills, the skill taxonomy.

Same order as the pages: fetch in scope (404 outside, 403 without the permission) → validated
input → the same action → output with phone, ID number and emergency contact masked. The only
plaintext PII is ``GET me`` (the caller's own phone) and ``POST people/{id}/reveal`` (audited).
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from django.contrib.auth import authenticate, password_validation
from django.core.exceptions import PermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404
from django.utils import timezone
from django.utils.translation import gettext as _
from ninja import P, PathEx, Query, Router, Schema
from ninja.responses import Status as Reply
from pydantic import AfterValidator, Field

from huzhu.accounts import actions, policy, queries
from huzhu.accounts import auth as token_auth
from huzhu.accounts.models import (
    AvailabilityException,
    AvailabilitySlot,
    Gender,
    Household,
    Person,
    PersonSkill,
    Role,
    RoleGrant,
    ScopeKind,
    Skill,
    Status,
)
from huzhu.core import clock
from huzhu.core.api import ERRORS, PageMeta, page_bounds
from huzhu.core.errors import DomainError
from huzhu.orgs.models import Alliance, Building, Community, Group

router = Router(tags=["accounts"])

# Ids stay within what every database and JavaScript client can hold.
MAX_ID = 2**53 - 1
NO_NUL = r"^[^\x00]*$"

Id = Annotated[int, Field(ge=1, le=MAX_ID)]
PathId = PathEx[int, P(ge=1, le=MAX_ID)]
LanguageCode = Literal[
    "zh", "en", "yue", "wuu", "nan", "bo", "ug", "mn", "ko", "ja", "fr", "de", "ru"
]
PiiField = Literal["phone", "id_number", "emergency_contact"]
RegistrationRole = Literal["resident", "volunteer"]


def _naive_time(value: dt.time) -> dt.time:
    if value.tzinfo is not None:
        raise ValueError("time must not carry a time zone")
    return value


def _sane_datetime(value: dt.datetime | None) -> dt.datetime | None:
    if value is None:
        return None
    if not 2000 <= value.year <= 2100:
        raise ValueError("year must be between 2000 and 2100")
    if timezone.is_naive(value):
        value = timezone.make_aware(value)
    return value


LocalTime = Annotated[dt.time, AfterValidator(_naive_time)]
Moment = Annotated[dt.datetime | None, AfterValidator(_sane_datetime)]


def _actor(request: HttpRequest) -> Person:
    user = request.user
    if not isinstance(user, Person) or not user.is_authenticated:
        raise PermissionDenied
    return user


# --- schemas ----------------------------------------------------------------------------------


class TokenIn(Schema):
    phone: str = Field(max_length=20)
    password: str = Field(max_length=128)


class TokenOut(Schema):
    token: str
    person_id: int


class MeOut(Schema):
    id: int
    name: str
    phone: str
    community_id: int | None
    roles: list[str]


class SkillOut(Schema):
    id: int
    code: str
    name: str
    name_en: str
    category: str
    requires_certificate: bool


class CertificateOut(Schema):
    number: str
    issuer: str
    valid_until: dt.date | None
    verified: bool


class PersonSkillOut(Schema):
    id: int
    skill: SkillOut
    level: int
    certificate: CertificateOut | None


class PersonSkillIn(Schema):
    skill_id: Id
    level: int = Field(ge=1, le=5)
    certificate_number: str = Field("", max_length=64, pattern=NO_NUL)
    certificate_issuer: str = Field("", max_length=100, pattern=NO_NUL)
    certificate_valid_until: dt.date | None = None


class SlotOut(Schema):
    id: int
    weekday: int
    start_time: dt.time
    end_time: dt.time


class SlotIn(Schema):
    weekday: int = Field(ge=0, le=6, description="0 = Monday … 6 = Sunday")
    start_time: LocalTime
    end_time: LocalTime


class ExceptionOut(Schema):
    id: int
    date: dt.date
    available: bool
    start_time: dt.time | None
    end_time: dt.time | None
    note: str


class ExceptionIn(Schema):
    date: dt.date
    available: bool = Field(False, description="true: extra hours; false: away")
    start_time: LocalTime | None = None
    end_time: LocalTime | None = None
    note: str = Field("", max_length=200, pattern=NO_NUL)


class AvailabilityOut(Schema):
    slots: list[SlotOut]
    exceptions: list[ExceptionOut]


class GrantOut(Schema):
    id: int
    person_id: int
    role: str
    role_label: str
    scope_kind: str
    scope_id: int
    scope_label: str
    granted_at: dt.datetime
    revoked_at: dt.datetime | None


class GrantIn(Schema):
    role: Role
    scope_kind: ScopeKind
    scope_id: Id


class PersonOut(Schema):
    """A row of the registry: the phone number is masked."""

    id: int
    name: str
    gender: str
    community_id: int | None
    household_id: int | None
    household: str
    masked_phone: str
    status: str
    status_until: dt.datetime | None
    roles: list[str]


class PersonDetailOut(PersonOut):
    birth_date: dt.date | None
    masked_id_number: str
    masked_emergency_contact: str
    languages: list[str]
    real_name_verified: bool
    effective_status: str
    skills: list[PersonSkillOut]
    availability: AvailabilityOut


class PeoplePage(Schema):
    items: list[PersonOut]
    meta: PageMeta


class PeopleFilter(Schema):
    q: str = Field(
        "",
        max_length=50,
        pattern=NO_NUL,
        description="a name (contains) or a full phone number (exact)",
    )
    community: Id | None = None
    building: Id | None = None
    role: Role | None = None
    skill: Id | None = None
    status: Status | None = None
    page: int = Field(1, ge=1, le=1_000_000)
    page_size: int = Field(25, ge=1, le=200)


def _default_roles() -> list[RegistrationRole]:
    return ["resident"]


class PersonCreateIn(Schema):
    community_id: Id
    household_id: Id | None = None
    name: str = Field(min_length=1, max_length=50, pattern=NO_NUL)
    phone: str = Field(min_length=1, max_length=20, pattern=NO_NUL)
    password: str | None = Field(
        None,
        min_length=8,
        max_length=128,
        pattern=NO_NUL,
        description="leave out for an account that cannot log in yet",
    )
    gender: Gender = Gender.UNSPECIFIED
    birth_date: dt.date | None = None
    id_number: str = Field("", max_length=18, pattern=NO_NUL)
    emergency_contact: str = Field("", max_length=200, pattern=NO_NUL)
    languages: list[LanguageCode] = Field(default_factory=list, max_length=13)
    roles: list[RegistrationRole] = Field(
        default_factory=_default_roles, min_length=1, max_length=2
    )


class PersonPatchIn(Schema):
    """Only the fields sent are changed."""

    name: str | None = Field(None, min_length=1, max_length=50, pattern=NO_NUL)
    gender: Gender | None = None
    birth_date: dt.date | None = None
    household_id: Id | None = None
    phone: str | None = Field(None, min_length=1, max_length=20, pattern=NO_NUL)
    id_number: str | None = Field(None, max_length=18, pattern=NO_NUL)
    emergency_contact: str | None = Field(None, max_length=200, pattern=NO_NUL)
    languages: list[LanguageCode] | None = Field(None, max_length=13)


class RevealIn(Schema):
    field: PiiField


class RevealOut(Schema):
    field: str
    value: str


class StatusIn(Schema):
    status: Status
    until: Moment = None
    reason: str = Field("", max_length=500, pattern=NO_NUL)


# --- converters -------------------------------------------------------------------------------


def _skill_out(skill: Skill) -> SkillOut:
    return SkillOut(
        id=skill.pk,
        code=skill.code,
        name=skill.name,
        name_en=skill.name_en,
        category=skill.category,
        requires_certificate=skill.requires_certificate,
    )


def _held_out(held: PersonSkill) -> PersonSkillOut:
    cert = held.certificate
    return PersonSkillOut(
        id=held.pk,
        skill=_skill_out(held.skill),
        level=held.level,
        certificate=CertificateOut(
            number=cert.number,
            issuer=cert.issuer,
            valid_until=cert.valid_until,
            verified=cert.verified_at is not None,
        )
        if cert is not None
        else None,
    )


def _slot_out(slot: AvailabilitySlot) -> SlotOut:
    return SlotOut(
        id=slot.pk, weekday=slot.weekday, start_time=slot.start_time, end_time=slot.end_time
    )


def _exception_out(exc: AvailabilityException) -> ExceptionOut:
    return ExceptionOut(
        id=exc.pk,
        date=exc.date,
        available=exc.available,
        start_time=exc.start_time,
        end_time=exc.end_time,
        note=exc.note,
    )


def _availability_out(person: Person) -> AvailabilityOut:
    return AvailabilityOut(
        slots=[_slot_out(s) for s in person.availability.order_by("weekday", "start_time")],
        exceptions=[
            _exception_out(e)
            for e in person.availability_exceptions.filter(date__gte=clock.today()).order_by(
                "date", "start_time"
            )
        ],
    )


def _grant_out(grant: RoleGrant) -> GrantOut:
    node = grant.group or grant.building or grant.community or grant.alliance
    assert node is not None
    return GrantOut(
        id=grant.pk,
        person_id=grant.person_id,
        role=grant.role,
        role_label=str(grant.get_role_display()),
        scope_kind=grant.scope_kind,
        scope_id=node.pk,
        scope_label=grant.scope_label(),
        granted_at=grant.created_at,
        revoked_at=grant.revoked_at,
    )


def _household_label(person: Person) -> str:
    household = person.household
    if household is None:
        return ""
    return f"{household.building.name}-{household.room}"


def _person_fields(person: Person, roles: list[str]) -> dict[str, Any]:
    return {
        "id": person.pk,
        "name": person.name,
        "gender": person.gender,
        "community_id": person.community_id,
        "household_id": person.household_id,
        "household": _household_label(person),
        "masked_phone": person.masked_phone,
        "status": person.status,
        "status_until": person.status_until,
        "roles": roles,
    }


def _person_out(person: Person) -> PersonOut:
    grants: list[RoleGrant] = getattr(person, "active_grants", [])
    return PersonOut(**_person_fields(person, sorted({g.role for g in grants})))


def _detail_out(person: Person) -> PersonDetailOut:
    roles = sorted(
        set(RoleGrant.objects.active().filter(person=person).values_list("role", flat=True))
    )
    return PersonDetailOut(
        **_person_fields(person, roles),
        birth_date=person.birth_date,
        masked_id_number=person.masked_id_number,
        masked_emergency_contact=person.masked_emergency_contact,
        languages=list(person.languages or []),
        real_name_verified=person.real_name_verified_at is not None,
        effective_status=person.effective_status(),
        skills=[_held_out(h) for h in queries.person_skills().filter(person=person)],
        availability=_availability_out(person),
    )


def _people_qs() -> Any:
    return Person.objects.select_related("community__alliance", "household__building__community")


def _person_in_scope(actor: Person, pk: int, perm: str) -> Person:
    person: Person = get_object_or_404(_people_qs(), pk=pk)
    policy.require(actor, perm, person)
    return person


def _node_in_scope(actor: Person, model: type[Any], pk: int | None) -> Any:
    if pk is None:
        return None
    qs = model.objects.select_related("community") if model is Building else model.objects
    node = get_object_or_404(qs, pk=pk)
    if not policy.in_scope(actor, node):
        raise Http404
    return node


def _scope_node(kind: str, pk: int) -> Alliance | Community | Building | Group:
    if kind == ScopeKind.ALLIANCE:
        alliance: Alliance = get_object_or_404(Alliance, pk=pk)
        return alliance
    if kind == ScopeKind.COMMUNITY:
        community: Community = get_object_or_404(
            Community.objects.select_related("alliance"), pk=pk
        )
        return community
    if kind == ScopeKind.BUILDING:
        building: Building = get_object_or_404(
            Building.objects.select_related("community__alliance"), pk=pk
        )
        return building
    group: Group = get_object_or_404(Group.objects.select_related("community__alliance"), pk=pk)
    return group


# --- tokens and me ----------------------------------------------------------------------------


@router.post("auth/token", auth=None, response={201: TokenOut, **ERRORS})
def create_token(request: HttpRequest, payload: TokenIn) -> Reply[TokenOut]:
    """Exchange phone number and password for a bearer token."""
    person = authenticate(request, phone=payload.phone, password=payload.password)
    if person is None:
        raise DomainError("accounts.login.failed", _("手机号或密码不正确。"), status=401)
    assert isinstance(person, Person)
    return Reply(201, TokenOut(token=token_auth.issue_token(person), person_id=person.pk))


@router.get("me", response={200: MeOut, **ERRORS})
def me(request: HttpRequest) -> MeOut:
    """The signed-in person; their own phone number is shown in full."""
    person = _actor(request)
    return MeOut(
        id=person.pk,
        name=person.name,
        phone=person.phone,
        community_id=person.community_id,
        roles=sorted(policy.roles_of(person)),
    )


# --- the registry -----------------------------------------------------------------------------


@router.get("people", response={200: PeoplePage, **ERRORS})
def list_people(request: HttpRequest, filters: Query[PeopleFilter]) -> PeoplePage:
    """The people the caller may see (accounts.view_person); phones masked."""
    actor = _actor(request)
    # A filter naming a node outside the caller's scope is 404 before anything else.
    community = _node_in_scope(actor, Community, filters.community)
    building = _node_in_scope(actor, Building, filters.building)
    if not policy.can_anywhere(actor, "accounts.view_person"):
        raise PermissionDenied("accounts.view_person")
    start, end = page_bounds(filters.page, filters.page_size)
    skill = get_object_or_404(Skill, pk=filters.skill) if filters.skill else None
    people = queries.people_registry(
        actor,
        q=filters.q,
        community=community,
        building=building,
        role=filters.role or "",
        skill=skill,
        status=filters.status or "",
    )
    total = people.count()
    items = [_person_out(p) for p in people[start:end]] if start < total else []
    return PeoplePage(
        items=items, meta=PageMeta(page=filters.page, page_size=filters.page_size, total=total)
    )


@router.post("people", response={201: PersonDetailOut, **ERRORS})
def create_person(request: HttpRequest, payload: PersonCreateIn) -> Reply[PersonDetailOut]:
    """Register a person in a community (accounts.manage_person on the community or household)."""
    actor = _actor(request)
    community: Community = get_object_or_404(
        Community.objects.select_related("alliance"), pk=payload.community_id
    )
    household: Household | None = None
    if payload.household_id is not None:
        household = get_object_or_404(
            Household.objects.select_related("building", "community__alliance"),
            pk=payload.household_id,
        )
    policy.require(actor, "accounts.manage_person", household or community)
    if payload.password:
        try:
            password_validation.validate_password(payload.password)
        except DjangoValidationError as exc:
            raise DomainError(
                "accounts.password.weak", " ".join(exc.messages), details={"field": "password"}
            ) from None
    person = actions.create_person(
        actor=actor,
        community=community,
        household=household,
        name=payload.name,
        phone=payload.phone,
        password=payload.password or None,
        gender=payload.gender,
        birth_date=payload.birth_date,
        id_number=payload.id_number,
        emergency_contact=payload.emergency_contact,
        languages=list(payload.languages),
        roles=tuple(payload.roles),
    )
    return Reply(201, _detail_out(_person_in_scope(actor, person.pk, "accounts.view_person")))


@router.get("people/{int:person_id}", response={200: PersonDetailOut, **ERRORS})
def get_person(request: HttpRequest, person_id: PathId) -> PersonDetailOut:
    """One person, with phone, ID number and emergency contact masked."""
    actor = _actor(request)
    return _detail_out(_person_in_scope(actor, person_id, "accounts.view_person"))


@router.patch("people/{int:person_id}", response={200: PersonDetailOut, **ERRORS})
def update_person(
    request: HttpRequest, person_id: PathId, payload: PersonPatchIn
) -> PersonDetailOut:
    """Change a person's record (accounts.manage_person)."""
    actor = _actor(request)
    person = _person_in_scope(actor, person_id, "accounts.manage_person")
    changes: dict[str, Any] = payload.model_dump(exclude_unset=True)
    if "household_id" in changes:
        household_id = changes.pop("household_id")
        changes["household"] = (
            None
            if household_id is None
            else get_object_or_404(
                Household.objects.select_related("building", "community__alliance"), pk=household_id
            )
        )
    if "phone" in changes and changes["phone"] is None:
        raise DomainError(
            "accounts.phone.invalid", _("手机号不能为空。"), details={"field": "phone"}
        )
    if "languages" in changes:
        changes["languages"] = list(changes["languages"] or [])
    for field in ("id_number", "emergency_contact"):
        if field in changes and changes[field] is None:
            changes[field] = ""
    actions.update_person(actor=actor, person=person, **changes)
    return _detail_out(_person_in_scope(actor, person_id, "accounts.view_person"))


@router.post("people/{int:person_id}/reveal", response={200: RevealOut, **ERRORS})
def reveal(
    request: HttpRequest, person_id: PathId, payload: RevealIn, response: HttpResponse
) -> RevealOut:
    """Show one personal-data field in clear (accounts.reveal_pii); each call is audited."""
    actor = _actor(request)
    person = _person_in_scope(actor, person_id, "accounts.view_person")
    value = actions.reveal_pii(actor=actor, person=person, field=payload.field)
    response["Cache-Control"] = "no-store"
    return RevealOut(field=payload.field, value=value)


@router.post("people/{int:person_id}/status", response={200: PersonDetailOut, **ERRORS})
def set_status(request: HttpRequest, person_id: PathId, payload: StatusIn) -> PersonDetailOut:
    """Suspend, freeze or reactivate (accounts.manage_person)."""
    actor = _actor(request)
    person = _person_in_scope(actor, person_id, "accounts.manage_person")
    actions.set_status(
        actor=actor,
        person=person,
        status=payload.status,
        until=payload.until,
        reason=payload.reason,
    )
    return _detail_out(_person_in_scope(actor, person_id, "accounts.view_person"))


@router.get("people/{int:person_id}/grants", response={200: list[GrantOut], **ERRORS})
def list_grants(
    request: HttpRequest, person_id: PathId, include_revoked: bool = False
) -> list[GrantOut]:
    """A person's roles (accounts.view_person)."""
    actor = _actor(request)
    person = _person_in_scope(actor, person_id, "accounts.view_person")
    grants = (
        RoleGrant.objects.filter(person=person)
        .select_related("alliance", "community", "building__community", "group")
        .order_by("id")
    )
    if not include_revoked:
        grants = grants.filter(revoked_at__isnull=True)
    return [_grant_out(g) for g in grants]


@router.post("people/{int:person_id}/grants", response={201: GrantOut, **ERRORS})
def create_grant(request: HttpRequest, person_id: PathId, payload: GrantIn) -> Reply[GrantOut]:
    """Grant a role on a node (accounts.grant_role on the node)."""
    actor = _actor(request)
    person = _person_in_scope(actor, person_id, "accounts.grant_role")
    node = _scope_node(payload.scope_kind, payload.scope_id)
    grant = actions.grant_role(actor=actor, person=person, role=payload.role, node=node)
    return Reply(201, _grant_out(grant))


@router.delete("grants/{int:grant_id}", response={200: GrantOut, **ERRORS})
def revoke_grant(request: HttpRequest, grant_id: PathId) -> GrantOut:
    """Revoke a role (accounts.grant_role on its node); returns the revoked grant."""
    actor = _actor(request)
    grant: RoleGrant = get_object_or_404(
        RoleGrant.objects.select_related(
            "person", "alliance", "community__alliance", "building__community", "group__community"
        ),
        pk=grant_id,
    )
    node = grant.group or grant.building or grant.community or grant.alliance
    policy.require(actor, "accounts.grant_role", node)
    revoked = actions.revoke_role(actor=actor, grant=grant)
    return _grant_out(revoked)


# --- my availability and skills ---------------------------------------------------------------


@router.get("me/availability", response={200: AvailabilityOut, **ERRORS})
def my_availability(request: HttpRequest) -> AvailabilityOut:
    """My weekly slots and my exceptions from today on."""
    return _availability_out(_actor(request))


@router.post("me/availability", response={201: SlotOut, **ERRORS})
def add_my_slot(request: HttpRequest, payload: SlotIn) -> Reply[SlotOut]:
    """Add a weekly slot; overlapping or touching slots of the day are merged into it."""
    actor = _actor(request)
    slot = actions.add_availability(
        actor=actor,
        person=actor,
        weekday=payload.weekday,
        start=payload.start_time,
        end=payload.end_time,
    )
    return Reply(201, _slot_out(slot))


@router.delete("me/availability/{int:slot_id}", response={204: None, **ERRORS})
def remove_my_slot(request: HttpRequest, slot_id: PathId) -> Reply[None]:
    actor = _actor(request)
    slot = get_object_or_404(AvailabilitySlot, pk=slot_id, person=actor)
    actions.remove_availability(actor=actor, slot=slot)
    return Reply(204, None)


@router.post("me/availability/exceptions", response={201: ExceptionOut, **ERRORS})
def add_my_exception(request: HttpRequest, payload: ExceptionIn) -> Reply[ExceptionOut]:
    """Away all day (no times), away some hours, or extra hours (available=true, times)."""
    actor = _actor(request)
    exc = actions.add_availability_exception(
        actor=actor,
        person=actor,
        date=payload.date,
        available=payload.available,
        start=payload.start_time,
        end=payload.end_time,
        note=payload.note,
    )
    return Reply(201, _exception_out(exc))


@router.delete("me/availability/exceptions/{int:exception_id}", response={204: None, **ERRORS})
def remove_my_exception(request: HttpRequest, exception_id: PathId) -> Reply[None]:
    actor = _actor(request)
    exc = get_object_or_404(AvailabilityException, pk=exception_id, person=actor)
    actions.remove_availability_exception(actor=actor, exception=exc)
    return Reply(204, None)


@router.get("me/skills", response={200: list[PersonSkillOut], **ERRORS})
def my_skills(request: HttpRequest) -> list[PersonSkillOut]:
    actor = _actor(request)
    return [_held_out(h) for h in queries.person_skills().filter(person=actor)]


@router.post("me/skills", response={200: PersonSkillOut, **ERRORS})
def add_my_skill(request: HttpRequest, payload: PersonSkillIn) -> PersonSkillOut:
    """Add or change a skill; skills that require a certificate are refused without one."""
    actor = _actor(request)
    skill = get_object_or_404(Skill, pk=payload.skill_id)
    held = actions.add_skill(
        actor=actor,
        person=actor,
        skill=skill,
        level=payload.level,
        certificate_number=payload.certificate_number,
        certificate_issuer=payload.certificate_issuer,
        certificate_valid_until=payload.certificate_valid_until,
    )
    return _held_out(queries.person_skills().get(pk=held.pk))


@router.delete("me/skills/{int:held_id}", response={204: None, **ERRORS})
def remove_my_skill(request: HttpRequest, held_id: PathId) -> Reply[None]:
    actor = _actor(request)
    held = get_object_or_404(
        PersonSkill.objects.select_related("skill", "person"), pk=held_id, person=actor
    )
    actions.remove_skill(actor=actor, held=held)
    return Reply(204, None)


@router.get("skills", response={200: list[SkillOut], **ERRORS})
def list_skills(request: HttpRequest) -> list[SkillOut]:
    """The skill taxonomy."""
    _actor(request)
    return [_skill_out(s) for s in Skill.objects.order_by("category", "code")]
