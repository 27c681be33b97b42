"""The supply library and the progress of item and skill lines (DOMAIN.md "Lessons": Sahana
Eden's pledges against requests, with committed / in transit / fulfilled progress, and pledges
without a request)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.db import transaction
from django.utils.translation import gettext as _

from huzhu.accounts import policy
from huzhu.accounts.models import Person, Skill
from huzhu.audit.service import record
from huzhu.core.errors import DomainError
from huzhu.needs.actions.common import clean_text, lock_need
from huzhu.needs.actions.publish import LineSpec, _add_line
from huzhu.needs.models import Need, NeedLine, NeedType, Offer, to_micro
from huzhu.needs.states import FINAL_STATES
from huzhu.orgs.models import Community


def create_offer(
    *,
    actor: Person,
    community: Community,
    description: str,
    person: Person | None = None,
    organisation: str = "",
    need_type: NeedType | None = None,
    skill: Skill | None = None,
    capacity: int = 1,
    unit: str = "",
    latitude: Decimal | None = None,
    longitude: Decimal | None = None,
    radius_m: int = 3000,
    available_from: dt.datetime | None = None,
    available_until: dt.datetime | None = None,
) -> Offer:
    """Declare what can be given, where, when and how much, without a need. A volunteer offers
    for themselves in their own community; an organisation's offer (or someone else's) needs
    "needs.manage_offers" on the community."""
    description = clean_text(description, "description", 500, required=True)
    organisation = clean_text(organisation, "organisation", 100, required=False)
    if person is None and not organisation:
        person = actor
    own = person is not None and person.pk == actor.pk and not organisation
    if own:
        if actor.community_id != community.pk:
            policy.require(actor, "needs.manage_offers", community)
    else:
        policy.require(actor, "needs.manage_offers", community)
    if isinstance(capacity, bool) or not isinstance(capacity, int) or capacity <= 0:
        raise DomainError(
            "needs.offer.capacity", _("数量必须是正整数。"), details={"field": "capacity"}
        )
    if available_from and available_until and available_until <= available_from:
        raise DomainError(
            "needs.offer.window",
            _("结束时间必须晚于开始时间。"),
            details={"field": "available_until"},
        )
    with transaction.atomic():
        offer = Offer.objects.create(
            community=community,
            person=person,
            organisation=organisation,
            created_by=actor,
            need_type=need_type,
            skill=skill,
            description=description,
            capacity=capacity,
            unit=clean_text(unit, "unit", 20, required=False),
            latitude_e6=to_micro(latitude),
            longitude_e6=to_micro(longitude),
            radius_m=radius_m,
            available_from=available_from,
            available_until=available_until,
        )
        record(
            "needs.offer.created",
            actor=actor,
            target=offer,
            community=community,
            new={
                "person": person.pk if person else None,
                "organisation": organisation,
                "capacity": capacity,
            },
        )
    return offer


def close_offer(*, actor: Person, offer: Offer) -> Offer:
    """Withdraw an offer from the supply library (its giver, or "needs.manage_offers")."""
    if offer.person_id != actor.pk or offer.organisation:
        policy.require(actor, "needs.manage_offers", offer.community)
    with transaction.atomic():
        locked = Offer.objects.select_for_update().get(pk=offer.pk)
        if not locked.active:
            return locked
        locked.active = False
        locked.save(update_fields=["active", "updated_at"])
        record(
            "needs.offer.closed",
            actor=actor,
            target=locked,
            community=locked.community,
            old={"active": True},
            new={"active": False},
        )
    return locked


def add_need_line(*, actor: Person, need: Need, spec: LineSpec) -> NeedLine:
    """Add an item or skill line to an open need (the requester, or "needs.offer")."""
    with transaction.atomic():
        need = lock_need(need)
        if actor.pk not in (need.requester_id, need.published_by_id):
            policy.require(actor, "needs.offer", need.scope_node())
        if need.state in FINAL_STATES:
            raise DomainError("needs.need.closed", _("该需求已结束，不能再添加明细。"), status=409)
        line = _add_line(need, spec)
        record(
            "needs.line.added",
            actor=actor,
            target=line,
            community=need.community,
            new={"need": need.pk, "kind": line.kind, "quantity": line.quantity},
        )
    return line


def update_line_progress(
    *, actor: Person, line: NeedLine, committed: int, in_transit: int, fulfilled: int
) -> NeedLine:
    """Record how much of a line is committed, in transit and fulfilled ("needs.offer"):
    in transit + fulfilled never exceed what was committed."""
    policy.require(actor, "needs.offer", line.need.scope_node())
    values = {"committed": committed, "in_transit": in_transit, "fulfilled": fulfilled}
    for field, value in values.items():
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise DomainError(
                "needs.line.progress", _("数量必须是非负整数。"), details={"field": field}
            )
    if in_transit + fulfilled > committed:
        raise DomainError(
            "needs.line.progress_exceeds",
            _("在途与已到位之和不能超过已认领数量。"),
            details={"field": "in_transit"},
        )
    with transaction.atomic():
        locked = NeedLine.objects.select_for_update().get(pk=line.pk)
        old = {f: getattr(locked, f) for f in values}
        for field, value in values.items():
            setattr(locked, field, value)
        locked.save(update_fields=[*values, "updated_at"])
        record(
            "needs.line.progress",
            actor=actor,
            target=locked,
            community=locked.community,
            old=old,
            new=values,
        )
    return locked
