"""Input and output schemas of the accounts API, the field types they use, and the
converters from models to output schemas (phone, ID number and emergency contact
masked)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from django.utils import timezone
from ninja import P, PathEx, Schema
from pydantic import AfterValidator, Field

from huzhu.accounts import queries
from huzhu.accounts.models import (
    AvailabilityException,
    AvailabilitySlot,
    Gender,
    Person,
    PersonSkill,
    Role,
    RoleGrant,
    ScopeKind,
    Skill,
    Status,
)
from huzhu.core import clock
from huzhu.core.api import PageMeta

# Ids stay within what every database and JavaScript client can hold.
MAX_ID = 2**53 - 1
NO_NUL = r"^[^\x00]*$"
# A write's idempotency key in a body (``idempotency_key``), for clients that cannot send the
# ``Idempotency-Key`` header; every app's API uses these two.
Key = Annotated[str, Field(min_length=1, max_length=128, pattern=NO_NUL)]
KEY_FIELD = Field(None, description="仅当无法发送请求头 Idempotency-Key 时使用")

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
