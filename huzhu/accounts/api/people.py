"""The registry of people: list, register, read and change a person, reveal one field of
personal data (audited), suspend, freeze or reactivate."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import password_validation
from django.core.exceptions import PermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404
from django.utils.translation import gettext as _
from ninja import Query
from ninja.responses import Status as Reply

from huzhu.accounts import actions, policy, queries
from huzhu.accounts.api.common import _actor, _person_in_scope, router
from huzhu.accounts.api.schemas import (
    PathId,
    PeopleFilter,
    PeoplePage,
    PersonCreateIn,
    PersonDetailOut,
    PersonPatchIn,
    RevealIn,
    RevealOut,
    StatusIn,
    _detail_out,
    _person_out,
)
from huzhu.accounts.models import Household, Person, Skill
from huzhu.core.api import ERRORS, PageMeta, page_bounds
from huzhu.core.errors import DomainError
from huzhu.orgs.models import Building, Community


def _node_in_scope(actor: Person, model: type[Any], pk: int | None) -> Any:
    if pk is None:
        return None
    qs = model.objects.select_related("community") if model is Building else model.objects
    node = get_object_or_404(qs, pk=pk)
    if not policy.in_scope(actor, node):
        raise Http404
    return node


@router.get(
    "people", response={200: PeoplePage, **ERRORS}, operation_id="huzhu_accounts_api_list_people"
)
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


@router.post(
    "people",
    response={201: PersonDetailOut, **ERRORS},
    operation_id="huzhu_accounts_api_create_person",
)
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


@router.get(
    "people/{int:person_id}",
    response={200: PersonDetailOut, **ERRORS},
    operation_id="huzhu_accounts_api_get_person",
)
def get_person(request: HttpRequest, person_id: PathId) -> PersonDetailOut:
    """One person, with phone, ID number and emergency contact masked."""
    actor = _actor(request)
    return _detail_out(_person_in_scope(actor, person_id, "accounts.view_person"))


@router.patch(
    "people/{int:person_id}",
    response={200: PersonDetailOut, **ERRORS},
    operation_id="huzhu_accounts_api_update_person",
)
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


@router.post(
    "people/{int:person_id}/reveal",
    response={200: RevealOut, **ERRORS},
    operation_id="huzhu_accounts_api_reveal",
)
def reveal(
    request: HttpRequest, person_id: PathId, payload: RevealIn, response: HttpResponse
) -> RevealOut:
    """Show one personal-data field in clear (accounts.reveal_pii); each call is audited."""
    actor = _actor(request)
    person = _person_in_scope(actor, person_id, "accounts.view_person")
    value = actions.reveal_pii(actor=actor, person=person, field=payload.field)
    response["Cache-Control"] = "no-store"
    return RevealOut(field=payload.field, value=value)


@router.post(
    "people/{int:person_id}/status",
    response={200: PersonDetailOut, **ERRORS},
    operation_id="huzhu_accounts_api_set_status",
)
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
