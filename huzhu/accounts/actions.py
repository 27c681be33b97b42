"""Every state change of people, grants, skills and availability. Pages, API, import and
commands all call these; each checks permission, runs in one transaction and writes audit."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from huzhu.accounts import pii, policy
from huzhu.accounts.models import (
    AvailabilityException,
    AvailabilitySlot,
    Certificate,
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
from huzhu.audit.service import record
from huzhu.core import clock
from huzhu.core.errors import ConflictError, DomainError
from huzhu.orgs.models import Alliance, Building, Community, Group

PII_FIELDS = ("phone", "id_number", "emergency_contact", "address_detail")
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
def change_password(*, actor: Person, person: Person, password: str) -> Person:
    """A person changes their own password (validated by the form); the audit keeps no secret."""
    if actor.pk != person.pk:
        raise DomainError("accounts.password.not_own", _("只能修改自己的密码。"), status=403)
    person = Person.objects.select_for_update().get(pk=person.pk)
    person.set_password(password)
    person.save(update_fields=["password"])
    record("accounts.password.changed", actor=actor, target=person, new={"password": "changed"})
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
    record(
        "accounts.person.status_changed",
        actor=actor,
        target=person,
        old=old,
        new={"status": status, "status_until": person.status_until, "reason": reason},
    )
    return person


@transaction.atomic
def reveal_pii(*, actor: Person, person: Person, field: str) -> str:
    """Show one personal-data field in clear; every reveal writes one audit entry.

    PII is visible only to the person, the branch head and the person's own building manager
    (DOMAIN.md "Members, merchants, money").
    """
    if field not in ("phone", "id_number", "emergency_contact"):
        raise DomainError(
            "accounts.pii.unknown_field", _("不能查看该字段。"), details={"field": field}
        )
    if actor.pk != person.pk:
        policy.require(actor, "accounts.reveal_pii", person)
    value = str(getattr(person, field) or "")
    record("accounts.pii.revealed", actor=actor, target=person, new={"field": field})
    return value


@transaction.atomic
def reveal_household_address(*, actor: Person, household: Household) -> str:
    """Show a household's address detail in clear; audited like every reveal."""
    policy.require(actor, "accounts.reveal_pii", household)
    record("accounts.pii.revealed", actor=actor, target=household, new={"field": "address_detail"})
    return household.address_detail


def _node_for(kind: str, node: Any) -> dict[str, Any]:
    if kind == ScopeKind.ALLIANCE and isinstance(node, Alliance):
        return {"alliance": node}
    if kind == ScopeKind.COMMUNITY and isinstance(node, Community):
        return {"community": node}
    if kind == ScopeKind.BUILDING and isinstance(node, Building):
        return {"community": node.community, "building": node}
    if kind == ScopeKind.GROUP and isinstance(node, Group):
        return {"community": node.community, "group": node}
    raise DomainError("accounts.grant.bad_scope", _("授权范围无效。"), details={"field": "scope"})


@transaction.atomic
def grant_role(*, actor: Person, person: Person, role: str, node: Any) -> RoleGrant:
    """Grant ``role`` on ``node`` (alliance, community, building or group)."""
    if role not in Role.values:
        raise DomainError("accounts.role.invalid", _("角色无效。"), details={"field": "role"})
    kind = {
        Alliance: ScopeKind.ALLIANCE,
        Community: ScopeKind.COMMUNITY,
        Building: ScopeKind.BUILDING,
        Group: ScopeKind.GROUP,
    }.get(type(node))
    if kind is None:
        raise DomainError(
            "accounts.grant.bad_scope", _("授权范围无效。"), details={"field": "scope"}
        )
    policy.require(actor, "accounts.grant_role", node)
    if not actor.is_superuser:
        allowed: set[str] = set()
        scope = policy.scope_of(node)
        for g in policy._grants(actor):
            if policy._covers(g, scope):
                allowed |= policy.GRANTABLE_BY.get(g.role, frozenset())
        if role not in allowed:
            raise DomainError(
                "accounts.grant.not_allowed",
                _("您不能授予该角色。"),
                details={"field": "role"},
                status=403,
            )
    if kind != ScopeKind.ALLIANCE and not policy.in_scope(person, node) and not person.is_superuser:
        raise DomainError(
            "accounts.grant.other_community", _("该人员不属于此社区。"), details={"field": "person"}
        )
    fields = _node_for(kind, node)
    key = f"{kind}:{node.pk}"
    if RoleGrant.objects.active().filter(person=person, role=role, scope_key=key).exists():
        raise ConflictError("accounts.grant.exists", _("该人员已拥有此角色。"))
    grant = RoleGrant.objects.create(
        person=person, role=role, scope_kind=kind, granted_by=actor, **fields
    )
    policy.forget_grants(person)
    record(
        "accounts.role.granted",
        actor=actor,
        target=person,
        community=fields.get("community"),
        alliance=fields.get("alliance"),
        new={"role": role, "scope": key},
        scope=grant.scope_label(),
    )
    return grant


@transaction.atomic
def revoke_role(*, actor: Person, grant: RoleGrant) -> RoleGrant:
    grant = RoleGrant.objects.select_for_update().get(pk=grant.pk)
    node = grant.group or grant.building or grant.community or grant.alliance
    policy.require(actor, "accounts.grant_role", node)
    if grant.revoked_at is not None:
        raise ConflictError("accounts.grant.revoked", _("该授权已撤销。"))
    if grant.person_id == actor.pk and grant.role in (Role.BRANCH_HEAD, Role.DISTRICT_ADMIN):
        raise DomainError("accounts.grant.self_revoke", _("不能撤销自己的管理角色。"))
    grant.revoked_at = clock.now()
    grant.revoked_by = actor
    grant.save(update_fields=["revoked_at", "revoked_by"])
    policy.forget_grants(grant.person)
    record(
        "accounts.role.revoked",
        actor=actor,
        target=grant.person,
        community=grant.community,
        alliance=grant.alliance,
        old={"role": grant.role, "scope": grant.scope_key},
    )
    return grant


@transaction.atomic
def add_skill(
    *,
    actor: Person,
    person: Person,
    skill: Skill,
    level: int,
    certificate_number: str = "",
    certificate_issuer: str = "",
    certificate_valid_until: dt.date | None = None,
) -> PersonSkill:
    """Add or change a skill. Doctors, counsellors and social workers need a certificate."""
    if actor.pk != person.pk:
        policy.require(actor, "accounts.manage_person", person)
    if not 1 <= int(level) <= 5:
        raise DomainError(
            "accounts.skill.level", _("技能水平须在 1 到 5 之间。"), details={"field": "level"}
        )
    number = (certificate_number or "").strip()
    issuer = (certificate_issuer or "").strip()
    if len(number) > 64:
        raise DomainError(
            "accounts.certificate.number",
            _("证书编号不超过 64 个字符。"),
            details={"field": "certificate_number"},
        )
    if len(issuer) > 100:
        raise DomainError(
            "accounts.certificate.issuer",
            _("发证机构不超过 100 个字。"),
            details={"field": "certificate_issuer"},
        )
    certificate = None
    if number:
        if not issuer:
            raise DomainError(
                "accounts.certificate.issuer",
                _("请填写发证机构。"),
                details={"field": "certificate_issuer"},
            )
        if certificate_valid_until is not None and certificate_valid_until < clock.today():
            raise DomainError(
                "accounts.certificate.expired",
                _("证书已过期。"),
                details={"field": "certificate_valid_until"},
            )
        certificate, created_cert = Certificate.objects.get_or_create(
            person=person,
            skill=skill,
            number=number,
            defaults={
                "issuer": issuer,
                "community": person.community,
                "valid_until": certificate_valid_until,
            },
        )
        if not created_cert and (
            certificate.issuer != issuer or certificate.valid_until != certificate_valid_until
        ):
            # Changed details must be verified again.
            certificate.issuer = issuer
            certificate.valid_until = certificate_valid_until
            certificate.verified_by = None
            certificate.verified_at = None
            certificate.save(
                update_fields=["issuer", "valid_until", "verified_by", "verified_at", "updated_at"]
            )
    elif skill.requires_certificate:
        # Changing only the level keeps a certificate already on file, if still valid.
        held_before = (
            PersonSkill.objects.select_related("certificate")
            .filter(person=person, skill=skill, certificate__isnull=False)
            .first()
        )
        if (
            held_before is None
            or held_before.certificate is None
            or not held_before.certificate.is_valid_on(clock.today())
        ):
            raise DomainError(
                "accounts.skill.certificate_required",
                _("“%(skill)s”需要登记资格证书（证书编号、发证机构），请填写后再添加。")
                % {"skill": str(skill)},
                details={"field": "certificate_number"},
            )
    held, created = PersonSkill.objects.update_or_create(
        person=person,
        skill=skill,
        defaults={
            "level": int(level),
            "community": person.community,
            **({"certificate": certificate} if certificate else {}),
        },
    )
    record(
        "accounts.skill.added" if created else "accounts.skill.changed",
        actor=actor,
        target=person,
        new={
            "skill": skill.code,
            "level": int(level),
            "certificate": certificate.number if certificate else "",
        },
    )
    return held


@transaction.atomic
def remove_skill(*, actor: Person, held: PersonSkill) -> None:
    person = held.person
    if actor.pk != person.pk:
        policy.require(actor, "accounts.manage_person", person)
    record(
        "accounts.skill.removed",
        actor=actor,
        target=person,
        old={"skill": held.skill.code, "level": held.level},
    )
    held.delete()


@transaction.atomic
def add_availability(
    *, actor: Person, person: Person, weekday: int, start: dt.time, end: dt.time
) -> AvailabilitySlot:
    """Add a weekly slot; overlapping slots on one day are merged."""
    if actor.pk != person.pk:
        policy.require(actor, "accounts.manage_person", person)
    weekday = int(weekday)
    if not 0 <= weekday <= 6:
        raise DomainError(
            "accounts.availability.weekday", _("星期无效。"), details={"field": "weekday"}
        )
    if end <= start:
        raise DomainError(
            "accounts.availability.order",
            _("结束时间必须晚于开始时间。"),
            details={"field": "end_time"},
        )
    overlapping = list(
        AvailabilitySlot.objects.select_for_update().filter(
            person=person, weekday=weekday, start_time__lte=end, end_time__gte=start
        )
    )
    for slot in overlapping:
        start = min(start, slot.start_time)
        end = max(end, slot.end_time)
        slot.delete()
    slot = AvailabilitySlot.objects.create(
        person=person, community=person.community, weekday=weekday, start_time=start, end_time=end
    )
    record(
        "accounts.availability.added",
        actor=actor,
        target=person,
        new={"weekday": weekday, "start": start.isoformat(), "end": end.isoformat()},
    )
    return slot


@transaction.atomic
def remove_availability(*, actor: Person, slot: AvailabilitySlot) -> None:
    if actor.pk != slot.person_id:
        policy.require(actor, "accounts.manage_person", slot.person)
    record(
        "accounts.availability.removed",
        actor=actor,
        target=slot.person,
        old={
            "weekday": slot.weekday,
            "start": slot.start_time.isoformat(),
            "end": slot.end_time.isoformat(),
        },
    )
    slot.delete()


@transaction.atomic
def add_availability_exception(
    *,
    actor: Person,
    person: Person,
    date: dt.date,
    available: bool,
    start: dt.time | None = None,
    end: dt.time | None = None,
    note: str = "",
) -> AvailabilityException:
    if actor.pk != person.pk:
        policy.require(actor, "accounts.manage_person", person)
    if date < clock.today():
        raise DomainError(
            "accounts.availability.past", _("日期不能早于今天。"), details={"field": "date"}
        )
    if (start is None) != (end is None) or (start and end and end <= start):
        raise DomainError(
            "accounts.availability.order",
            _("结束时间必须晚于开始时间。"),
            details={"field": "end_time"},
        )
    if available and start is None:
        raise DomainError(
            "accounts.availability.hours_required",
            _("额外可服务的日期须填写时间段。"),
            details={"field": "start_time"},
        )
    exc = AvailabilityException.objects.create(
        person=person,
        community=person.community,
        date=date,
        available=available,
        start_time=start,
        end_time=end,
        note=note.strip()[:200],
    )
    record(
        "accounts.availability.exception_added",
        actor=actor,
        target=person,
        new={"date": date.isoformat(), "available": available},
    )
    return exc


@transaction.atomic
def remove_availability_exception(*, actor: Person, exception: AvailabilityException) -> None:
    if actor.pk != exception.person_id:
        policy.require(actor, "accounts.manage_person", exception.person)
    record(
        "accounts.availability.exception_removed",
        actor=actor,
        target=exception.person,
        old={"date": exception.date.isoformat(), "available": exception.available},
    )
    exception.delete()


def is_available(person: Person, start: dt.datetime, end: dt.datetime) -> bool:
    """Does the person's weekly pattern (with exceptions) cover [start, end) on one day?"""
    local_start = timezone.localtime(start)
    local_end = timezone.localtime(end)
    day = local_start.date()
    exceptions = [e for e in person.availability_exceptions.all() if e.date == day]
    for exc in exceptions:
        if not exc.available and exc.start_time is None:
            return False
        if (
            not exc.available
            and exc.start_time
            and exc.end_time
            and exc.start_time < local_end.time()
            and local_start.time() < exc.end_time
        ):
            return False
        if (
            exc.available
            and exc.start_time
            and exc.end_time
            and exc.start_time <= local_start.time()
            and local_end.time() <= exc.end_time
        ):
            return True
    return any(
        slot.weekday == day.weekday()
        and slot.start_time <= local_start.time()
        and local_end.time() <= slot.end_time
        for slot in person.availability.all()
    )
