"""Registering people and changing their record: create_person, update_person and
set_status, with the validation of each field (phone, ID number, name, languages,
household, coordinates, emergency contact, birth date) and the uniqueness checks."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from huzhu.accounts import pii, policy
from huzhu.accounts.models import Gender, Household, Person, Role, RoleGrant, ScopeKind, Status
from huzhu.audit.service import record
from huzhu.core import clock
from huzhu.core.errors import ConflictError, DomainError
from huzhu.orgs.models import Community

LANGUAGE_CODES = {"zh", "en", "yue", "wuu", "nan", "bo", "ug", "mn", "ko", "ja", "fr", "de", "ru"}


def _clean_phone(phone: str) -> str:
    normalized = pii.normalize_phone(phone)
    if not pii.is_valid_phone(normalized):
        raise DomainError(
            "accounts.phone.invalid",
            _("手机号格式不正确，应为 11 位大陆手机号。"),
            details={"field": "phone"},
        )
    return normalized


def _clean_id_number(id_number: str) -> str:
    value = pii.normalize_id_number(id_number)
    if value and not pii.is_valid_id_number(value):
        raise DomainError(
            "accounts.id_number.invalid",
            _("身份证号格式或校验位不正确。"),
            details={"field": "id_number"},
        )
    return value


def _clean_name(name: str) -> str:
    name = (name or "").strip()
    if not name or len(name) > 50:
        raise DomainError(
            "accounts.name.invalid",
            _("姓名不能为空，且不超过 50 个字。"),
            details={"field": "name"},
        )
    return name


def _clean_languages(languages: list[str] | None) -> list[str]:
    cleaned: list[str] = []
    for code in languages or []:
        code = code.strip().lower()
        if not code:
            continue
        if code not in LANGUAGE_CODES:
            raise DomainError(
                "accounts.language.invalid",
                _("不支持的语言代码：%(code)s") % {"code": code},
                details={"field": "languages"},
            )
        if code not in cleaned:
            cleaned.append(code)
    return cleaned


def _clean_household(household: Household | None, community: Community | None) -> None:
    if household is not None and community is not None and household.community_id != community.pk:
        raise DomainError(
            "accounts.household.other_community",
            _("住户不属于该社区。"),
            details={"field": "household"},
        )


def _clean_coordinate(value: Any, field: str, limit: int) -> Decimal | None:
    """A latitude (±90) or longitude (±180) with at most 6 decimals, or None."""
    if value is None or value == "":
        return None
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        number = Decimal("NaN")
    if not number.is_finite() or not -limit <= number <= limit:
        raise DomainError(
            "accounts.location.invalid",
            _("坐标超出范围：纬度须在 -90 到 90 之间，经度须在 -180 到 180 之间。"),
            details={"field": field},
        )
    return number.quantize(Decimal("0.000001"))


def _clean_emergency_contact(value: str | None) -> str:
    value = (value or "").strip()
    if len(value) > 200:
        raise DomainError(
            "accounts.emergency_contact.too_long",
            _("紧急联系人不超过 200 个字。"),
            details={"field": "emergency_contact"},
        )
    return value


def _clean_birth_date(value: dt.date | None) -> dt.date | None:
    if value is not None and value > clock.today():
        raise DomainError(
            "accounts.birth_date.future",
            _("出生日期不能晚于今天。"),
            details={"field": "birth_date"},
        )
    return value


def _ensure_unique_phone(phone: str, exclude_pk: int | None = None) -> None:
    qs = Person.objects.filter(phone_hash=pii.phone_index(phone))
    if exclude_pk is not None:
        qs = qs.exclude(pk=exclude_pk)
    if qs.exists():
        raise ConflictError(
            "accounts.phone.taken", _("该手机号已注册。"), details={"field": "phone"}
        )


def _ensure_unique_id(id_number: str, exclude_pk: int | None = None) -> None:
    if not id_number:
        return
    qs = Person.objects.filter(id_number_hash=pii.id_number_index(id_number))
    if exclude_pk is not None:
        qs = qs.exclude(pk=exclude_pk)
    if qs.exists():
        raise ConflictError(
            "accounts.id_number.taken", _("该身份证号已登记。"), details={"field": "id_number"}
        )


@transaction.atomic
def create_person(
    *,
    actor: Person | None,
    community: Community,
    name: str,
    phone: str,
    password: str | None = None,
    gender: str = Gender.UNSPECIFIED,
    birth_date: dt.date | None = None,
    household: Household | None = None,
    id_number: str = "",
    emergency_contact: str = "",
    languages: list[str] | None = None,
    roles: tuple[str, ...] = (Role.RESIDENT,),
    audit: bool = True,
) -> Person:
    """Register a person in a community (by a branch head or building manager, or the system).

    One account per person: the phone number and the ID number are unique (by blind index).
    """
    if actor is not None:
        policy.require(actor, "accounts.manage_person", household or community)
    phone = _clean_phone(phone)
    id_number = _clean_id_number(id_number)
    _ensure_unique_phone(phone)
    _ensure_unique_id(id_number)
    _clean_household(household, community)
    if gender not in Gender.values:
        raise DomainError("accounts.gender.invalid", _("性别无效。"), details={"field": "gender"})
    person = Person(
        name=_clean_name(name),
        gender=gender,
        birth_date=_clean_birth_date(birth_date),
        community=community,
        household=household,
        emergency_contact=_clean_emergency_contact(emergency_contact),
        languages=_clean_languages(languages) or ["zh"],
    )
    person.set_phone(phone)
    person.set_id_number(id_number)
    if password:
        person.set_password(password)
    else:
        person.set_unusable_password()
    try:
        with transaction.atomic():
            person.save()
    except IntegrityError:
        raise ConflictError("accounts.person.duplicate", _("该人员已存在。")) from None
    for role in roles:
        RoleGrant.objects.create(
            person=person,
            role=role,
            scope_kind=ScopeKind.COMMUNITY,
            community=community,
            granted_by=actor,
        )
    if audit:
        record(
            "accounts.person.created",
            actor=actor,
            target=person,
            community=community,
            new={
                "name": person.name,
                "phone": phone,
                "id_number": id_number,
                "household": household,
                "roles": list(roles),
            },
        )
    return person


EDITABLE_FIELDS = (
    "name",
    "gender",
    "birth_date",
    "household",
    "emergency_contact",
    "languages",
    "latitude",
    "longitude",
    "preferred_language",
    "large_text",
)


@transaction.atomic
def update_person(*, actor: Person, person: Person, **changes: Any) -> Person:
    """Change a person's profile; the person themself, or a manager of their scope."""
    person = Person.objects.select_for_update().get(pk=person.pk)
    if actor.pk != person.pk:
        policy.require(actor, "accounts.manage_person", person)
    old: dict[str, Any] = {}
    new: dict[str, Any] = {}
    for field, value in changes.items():
        if field == "phone":
            value = _clean_phone(value)
            _ensure_unique_phone(value, exclude_pk=person.pk)
            if value != person.phone:
                old["phone"], new["phone"] = person.phone, value
                person.set_phone(value)
            continue
        if field == "id_number":
            value = _clean_id_number(value)
            _ensure_unique_id(value, exclude_pk=person.pk)
            if value != person.id_number:
                old["id_number"], new["id_number"] = person.id_number, value
                person.set_id_number(value)
                person.real_name_verified_at = None
            continue
        if field not in EDITABLE_FIELDS:
            raise DomainError(
                "accounts.field.not_editable",
                _("字段不可修改：%(field)s") % {"field": field},
                details={"field": field},
            )
        if field == "name":
            value = _clean_name(value)
        elif field == "languages":
            value = _clean_languages(value)
        elif field == "household":
            _clean_household(value, person.community)
            if (value.pk if value is not None else None) != person.household_id:
                # Moving house is confirmed by a manager, never by the person alone.
                policy.require(actor, "accounts.manage_person", person)
                if value is not None:
                    policy.require(actor, "accounts.manage_person", value)
        elif field == "emergency_contact":
            value = _clean_emergency_contact(value)
        elif field == "birth_date":
            value = _clean_birth_date(value)
        elif field in ("latitude", "longitude"):
            value = _clean_coordinate(value, field, 90 if field == "latitude" else 180)
        elif field == "large_text":
            value = bool(value)
        elif field == "gender" and value not in Gender.values:
            raise DomainError(
                "accounts.gender.invalid", _("性别无效。"), details={"field": "gender"}
            )
        elif field == "preferred_language" and value not in ("zh-hans", "en"):
            raise DomainError(
                "accounts.language.invalid", _("不支持的界面语言。"), details={"field": field}
            )
        current = getattr(person, field)
        if current != value:
            old[field], new[field] = current, value
            setattr(person, field, value)
    if new:
        person.save()
        record("accounts.person.updated", actor=actor, target=person, old=old, new=new)
    return person


@transaction.atomic
def set_status(
    *, actor: Person, person: Person, status: str, until: dt.datetime | None, reason: str
) -> Person:
    """Suspend (e.g. 1 week after a complaint) or freeze (1 month for malicious requests)."""
    policy.require(actor, "accounts.manage_person", person)
    if status not in Status.values:
        raise DomainError("accounts.status.invalid", _("状态无效。"), details={"field": "status"})
    if status != Status.ACTIVE and until is not None and until <= clock.now():
        raise DomainError(
            "accounts.status.until_past", _("截止时间必须晚于现在。"), details={"field": "until"}
        )
    if status != Status.ACTIVE and not reason.strip():
        raise DomainError(
            "accounts.status.reason_required", _("请填写原因。"), details={"field": "reason"}
        )
    person = Person.objects.select_for_update().get(pk=person.pk)
    old = {"status": person.status, "status_until": person.status_until}
    person.status = status
    person.status_until = until if status != Status.ACTIVE else None
    person.save(update_fields=["status", "status_until"])
    entry = record(
        "accounts.person.status_changed",
        actor=actor,
        target=person,
        old=old,
        new={"status": status, "status_until": person.status_until, "reason": reason},
    )
    # The person hears of it in their language; sending happens after the commit.
    from huzhu.notify import actions as notify_actions
    from huzhu.notify.render import render_event

    title, body = render_event(
        "accounts.person.status_changed",
        person,
        status=Status(status).label,
        until=person.status_until,
        reason=reason.strip(),
        actor=actor,
    )
    notify_actions.notify(
        person=person,
        code="accounts.person.status_changed",
        title=title,
        body=body,
        key=f"person:{person.pk}:status:{entry.pk}",
    )
    return person
