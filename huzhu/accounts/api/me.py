"""The caller's own profile: ``GET me`` (their own phone number in full), their weekly
availability and exceptions, their skills; and the skill taxonomy those skills are
chosen from."""

from __future__ import annotations

from django.http import HttpRequest
from django.shortcuts import get_object_or_404
from ninja.responses import Status as Reply

from huzhu.accounts import actions, policy, queries
from huzhu.accounts.api.common import _actor, router
from huzhu.accounts.api.schemas import (
    AvailabilityOut,
    ExceptionIn,
    ExceptionOut,
    MeOut,
    PathId,
    PersonSkillIn,
    PersonSkillOut,
    SkillOut,
    SlotIn,
    SlotOut,
    _availability_out,
    _exception_out,
    _held_out,
    _skill_out,
    _slot_out,
)
from huzhu.accounts.models import AvailabilityException, AvailabilitySlot, PersonSkill, Skill
from huzhu.core.api import ERRORS


@router.get("me", response={200: MeOut, **ERRORS}, operation_id="huzhu_accounts_api_me")
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


# --- my availability and skills ---------------------------------------------------------------


@router.get(
    "me/availability",
    response={200: AvailabilityOut, **ERRORS},
    operation_id="huzhu_accounts_api_my_availability",
)
def my_availability(request: HttpRequest) -> AvailabilityOut:
    """My weekly slots and my exceptions from today on."""
    return _availability_out(_actor(request))


@router.post(
    "me/availability",
    response={201: SlotOut, **ERRORS},
    operation_id="huzhu_accounts_api_add_my_slot",
)
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


@router.delete(
    "me/availability/{int:slot_id}",
    response={204: None, **ERRORS},
    operation_id="huzhu_accounts_api_remove_my_slot",
)
def remove_my_slot(request: HttpRequest, slot_id: PathId) -> Reply[None]:
    actor = _actor(request)
    slot = get_object_or_404(AvailabilitySlot, pk=slot_id, person=actor)
    actions.remove_availability(actor=actor, slot=slot)
    return Reply(204, None)


@router.post(
    "me/availability/exceptions",
    response={201: ExceptionOut, **ERRORS},
    operation_id="huzhu_accounts_api_add_my_exception",
)
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


@router.delete(
    "me/availability/exceptions/{int:exception_id}",
    response={204: None, **ERRORS},
    operation_id="huzhu_accounts_api_remove_my_exception",
)
def remove_my_exception(request: HttpRequest, exception_id: PathId) -> Reply[None]:
    actor = _actor(request)
    exc = get_object_or_404(AvailabilityException, pk=exception_id, person=actor)
    actions.remove_availability_exception(actor=actor, exception=exc)
    return Reply(204, None)


@router.get(
    "me/skills",
    response={200: list[PersonSkillOut], **ERRORS},
    operation_id="huzhu_accounts_api_my_skills",
)
def my_skills(request: HttpRequest) -> list[PersonSkillOut]:
    actor = _actor(request)
    return [_held_out(h) for h in queries.person_skills().filter(person=actor)]


@router.post(
    "me/skills",
    response={200: PersonSkillOut, **ERRORS},
    operation_id="huzhu_accounts_api_add_my_skill",
)
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


@router.delete(
    "me/skills/{int:held_id}",
    response={204: None, **ERRORS},
    operation_id="huzhu_accounts_api_remove_my_skill",
)
def remove_my_skill(request: HttpRequest, held_id: PathId) -> Reply[None]:
    actor = _actor(request)
    held = get_object_or_404(
        PersonSkill.objects.select_related("skill", "person"), pk=held_id, person=actor
    )
    actions.remove_skill(actor=actor, held=held)
    return Reply(204, None)


# --- the skill taxonomy -----------------------------------------------------------------------


@router.get(
    "skills",
    response={200: list[SkillOut], **ERRORS},
    operation_id="huzhu_accounts_api_list_skills",
)
def list_skills(request: HttpRequest) -> list[SkillOut]:
    """The skill taxonomy."""
    _actor(request)
    return [_skill_out(s) for s in Skill.objects.order_by("category", "code")]
