"""A person's skills, with the certificate that doctors, counsellors and social workers
need (add_skill, remove_skill)."""

from __future__ import annotations

import datetime as dt

from django.db import transaction
from django.utils.translation import gettext as _

from huzhu.accounts import policy
from huzhu.accounts.models import Certificate, Person, PersonSkill, Skill
from huzhu.audit.service import record
from huzhu.core import clock
from huzhu.core.errors import DomainError


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
