"""Publishing and reviewing needs, and the next occurrence of a recurring need (DOMAIN.md
"The core loop" 1. Publish, 2. Review)."""

from __future__ import annotations

import calendar
import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from huzhu.accounts import policy
from huzhu.accounts.models import Household, Person, Skill, Status
from huzhu.audit.service import record
from huzhu.core import clock
from huzhu.core.errors import DomainError
from huzhu.needs import states
from huzhu.needs.actions.common import authorize, clean_text, lock_need, move, tell
from huzhu.needs.models import (
    Assignment,
    AssignmentState,
    GenderRequirement,
    LineKind,
    Need,
    NeedEvent,
    NeedLine,
    NeedState,
    NeedType,
    Recurrence,
    Urgency,
    to_micro,
)
from huzhu.orgs.queries import get_setting
from huzhu.timebank.actions.ledger import person_account

A = AssignmentState


# --- publish --------------------------------------------------------------------------------


@dataclass(frozen=True)
class LineSpec:
    """One item line ("20 boxes of masks") or skill line ("3 people who can drive")."""

    kind: str
    description: str
    quantity: int
    skill: Skill | None = None
    unit: str = ""


def publish_need(
    *,
    actor: Person,
    need_type: NeedType,
    starts_at: dt.datetime,
    ends_at: dt.datetime,
    description: str,
    requester: Person | None = None,
    household: Household | None = None,
    address_detail: str = "",
    latitude: Decimal | None = None,
    longitude: Decimal | None = None,
    duration_minutes: int | None = None,
    radius_m: int | None = None,
    gender: str = GenderRequirement.ANY,
    needs_strength: bool = False,
    certification_required: bool = False,
    language: str = "",
    urgency: int = Urgency.NORMAL,
    pay_with_points: bool = False,
    points: int = 0,
    recurrence: str = Recurrence.NONE,
    preferred_volunteer: Person | None = None,
    series: Need | None = None,
    lines: Sequence[LineSpec] = (),
    key: str = "",
) -> Need:
    """A resident publishes a need for themselves; a building manager, broker or branch head
    ("needs.publish_for" on the person) publishes it on the person's behalf, recorded as such
    (DOMAIN.md "The core loop" 1. Publish). It waits for review for ``needs.review_minutes``
    (30) minutes (2. Review). A person whose right to request is frozen (a malicious
    cancellation, DOMAIN.md 8.) cannot publish. Paid with points: the requester must have the
    points available now; they are held when a volunteer accepts. ``key``: the publisher's
    idempotency key — sent again, even concurrently, it answers the need it made and writes
    nothing (``published_with`` tells a caller whether it is a replay).
    """
    requester = requester or actor
    if requester.pk != actor.pk:
        policy.require(actor, "needs.publish_for", requester)
    key = key.strip()[:128]
    if key:
        earlier = published_with(actor, key)
        if earlier is not None:
            return earlier
    now = clock.now()
    community = requester.community
    if community is None:
        raise DomainError("needs.requester.no_community", _("服务对象尚未加入社区，不能发布需求。"))
    if requester.effective_status(now) == Status.FROZEN:
        raise DomainError(
            "needs.requester.frozen",
            _("该居民的求助权限已被冻结，冻结期内不能发布需求。"),
            status=403,
        )
    if not need_type.active:
        raise DomainError(
            "needs.type.inactive", _("该需求类型已停用。"), details={"field": "need_type"}
        )
    description = clean_text(description, "description", 2000, required=True)
    address_detail = clean_text(address_detail, "address_detail", 300, required=False)
    language = clean_text(language, "language", 20, required=False)
    if timezone.is_naive(starts_at) or timezone.is_naive(ends_at):
        raise ValueError("starts_at and ends_at must be aware datetimes")
    if ends_at <= starts_at:
        raise DomainError(
            "needs.window.invalid", _("结束时间必须晚于开始时间。"), details={"field": "ends_at"}
        )
    if starts_at <= now:
        raise DomainError(
            "needs.window.past", _("开始时间必须晚于现在。"), details={"field": "starts_at"}
        )
    if gender not in GenderRequirement.values:
        raise DomainError("needs.gender.invalid", _("性别要求无效。"), details={"field": "gender"})
    if urgency not in Urgency.values:
        raise DomainError(
            "needs.urgency.invalid", _("紧急程度无效。"), details={"field": "urgency"}
        )
    if recurrence not in Recurrence.values:
        raise DomainError(
            "needs.recurrence.invalid", _("重复方式无效。"), details={"field": "recurrence"}
        )
    if isinstance(points, bool) or not isinstance(points, int) or points < 0:
        raise DomainError(
            "needs.points.invalid", _("积分必须是非负整数。"), details={"field": "points"}
        )
    if pay_with_points:
        if points <= 0:
            raise DomainError(
                "needs.points.required", _("请填写支付的积分。"), details={"field": "points"}
            )
        if person_account(requester).available < points:
            raise DomainError(
                "needs.points.insufficient",
                _("积分余额不足，不能用积分支付该服务。"),
                details={"field": "points"},
                status=409,
            )
    else:
        points = 0

    if household is None and not address_detail and latitude is None:
        household = requester.household
    building = None
    if household is not None:
        if household.community_id != community.pk:
            raise DomainError(
                "needs.household.other_community",
                _("服务地址不在服务对象所在社区。"),
                details={"field": "household"},
            )
        if household.pk != requester.household_id:
            # Only someone who may publish for people there sends a volunteer to a home other
            # than the person's own (a resident cannot name a neighbour's household).
            policy.require(actor, "needs.publish_for", household)
        building = household.building
    if latitude is not None and longitude is not None:
        lat, lon = to_micro(latitude), to_micro(longitude)
    else:
        located = (
            (building.latitude, building.longitude)
            if building is not None and building.latitude is not None
            else requester.location()
        )
        lat, lon = (to_micro(located[0]), to_micro(located[1])) if located else (None, None)

    node = building if building is not None else community
    with transaction.atomic():
        try:
            with transaction.atomic():  # a savepoint: a concurrent same-key publish may win
                need = Need.objects.create(
                    community=community,
                    building=building,
                    household=household,
                    address_detail=address_detail,
                    latitude_e6=lat,
                    longitude_e6=lon,
                    need_type=need_type,
                    description=description,
                    starts_at=starts_at,
                    ends_at=ends_at,
                    duration_minutes=duration_minutes or need_type.default_duration_minutes,
                    radius_m=radius_m or need_type.default_radius_m,
                    gender=gender,
                    needs_strength=needs_strength,
                    certification_required=certification_required,
                    language=language,
                    urgency=urgency,
                    pay_with_points=pay_with_points,
                    points=points,
                    recurrence=recurrence,
                    preferred_volunteer=preferred_volunteer,
                    series=series,
                    requester=requester,
                    published_by=actor,
                    state=NeedState.SUBMITTED,
                    state_changed_at=now,
                    review_due_at=now
                    + dt.timedelta(minutes=int(get_setting("needs.review_minutes", node))),
                    publish_key=key,
                )
        except IntegrityError:
            winner = published_with(actor, key) if key else None
            if winner is None:
                raise
            return winner  # the same key, published concurrently: that need is the answer
        for spec in lines:
            _add_line(need, spec)
        NeedEvent.objects.create(
            need=need,
            community=community,
            actor=actor,
            transition="publish",
            from_state="",
            to_state=NeedState.SUBMITTED,
            at=now,
        )
        record(
            "needs.need.published",
            actor=actor,
            target=need,
            community=community,
            on_behalf_of=requester if requester.pk != actor.pk else None,
            new={
                "state": NeedState.SUBMITTED,
                "type": need_type.code,
                "starts_at": starts_at.isoformat(),
                "requester": requester.pk,
                "on_behalf": requester.pk != actor.pk,
                "pay_with_points": pay_with_points,
                "points": points,
                "address_detail": address_detail,
                "review_due_at": need.review_due_at.isoformat() if need.review_due_at else None,
            },
        )
    return need


def published_with(actor: Person, key: str) -> Need | None:
    """The need ``actor`` published with idempotency key ``key``, if any."""
    if not key:
        return None
    return Need.objects.filter(published_by=actor, publish_key=key.strip()[:128]).first()


def _add_line(need: Need, spec: LineSpec) -> NeedLine:
    if spec.kind not in LineKind.values:
        raise DomainError("needs.line.kind", _("明细类别无效。"), details={"field": "kind"})
    if isinstance(spec.quantity, bool) or not isinstance(spec.quantity, int) or spec.quantity <= 0:
        raise DomainError(
            "needs.line.quantity", _("数量必须是正整数。"), details={"field": "quantity"}
        )
    if spec.kind == LineKind.SKILL and spec.skill is None:
        raise DomainError(
            "needs.line.skill_required", _("人手需求须选择技能。"), details={"field": "skill"}
        )
    return NeedLine.objects.create(
        need=need,
        community_id=need.community_id,
        kind=spec.kind,
        description=clean_text(spec.description, "description", 200, required=True),
        skill=spec.skill,
        unit=clean_text(spec.unit, "unit", 20, required=False),
        quantity=spec.quantity,
    )


# --- review ---------------------------------------------------------------------------------


def review_need(*, actor: Person, need: Need, approve: bool, reason: str = "") -> Need:
    """The building manager (or branch head) approves a submitted need or rejects it with a
    reason ("needs.review"); due within ``needs.review_minutes`` (30) minutes of publishing
    (DOMAIN.md "The core loop" 2. Review: rejects abusive requests with a reason)."""
    name = "approve" if approve else "reject"
    reason = clean_text(reason, "reason", 500, required=not approve)
    with transaction.atomic():
        need = lock_need(need)
        t = states.transition(name)
        authorize(actor, t.parties, need)
        states.check(need.state, name)
        need.reviewed_by = actor
        need.reviewed_at = clock.now()
        need.reject_reason = "" if approve else reason
        move(
            need,
            name,
            actor=actor,
            note=reason,
            audit={"reason": reason} if reason else None,
            update_fields=("reviewed_by", "reviewed_at", "reject_reason"),
        )
        if not approve:
            tell(
                need.requester,
                "needs.need.rejected",
                f"needs.need.rejected:{need.pk}",
                need,
                reason=reason,
            )
    return need


# --- recurring needs, malicious cancellations -----------------------------------------------


def _shift(start: dt.datetime, recurrence: str) -> dt.datetime:
    """The same local time one period later (a month later clamps to the month's last day)."""
    if recurrence == Recurrence.WEEKLY:
        return start + dt.timedelta(days=7)
    if recurrence == Recurrence.BIWEEKLY:
        return start + dt.timedelta(days=14)
    local = timezone.localtime(start)
    year, month = (local.year + 1, 1) if local.month == 12 else (local.year, local.month + 1)
    last = calendar.monthrange(year, month)[1]
    naive = local.replace(tzinfo=None, year=year, month=month, day=min(local.day, last))
    return timezone.make_aware(naive, local.tzinfo)


def repeat_need(*, actor: Person | None, need: Need) -> Need | None:
    """Publish the next occurrence of a recurring need (weekly, every two weeks, monthly —
    DOMAIN.md "The core loop" 1. "Recurring needs exist"), once per occurrence, with the
    volunteer who served it preferred (continuity). It goes through review like any need.
    Called when an occurrence is confirmed, ends as a no-show or expires; a cancelled
    occurrence ends the series. Returns None for a one-off need or when the next occurrence
    exists already."""
    if need.recurrence == Recurrence.NONE:
        return None
    series = need.series or need
    starts_at = _shift(need.starts_at, need.recurrence)
    if Need.objects.filter(series=series, starts_at=starts_at).exists():
        return None
    served = (
        Assignment.objects.filter(need=need, state=A.COMPLETED)
        .values_list("volunteer_id", flat=True)
        .first()
    )
    now = clock.now()
    with transaction.atomic():
        nxt = Need.objects.create(
            community_id=need.community_id,
            building_id=need.building_id,
            household_id=need.household_id,
            address_detail=need.address_detail,
            latitude_e6=need.latitude_e6,
            longitude_e6=need.longitude_e6,
            need_type_id=need.need_type_id,
            description=need.description,
            starts_at=starts_at,
            ends_at=starts_at + (need.ends_at - need.starts_at),
            duration_minutes=need.duration_minutes,
            radius_m=need.radius_m,
            gender=need.gender,
            needs_strength=need.needs_strength,
            certification_required=need.certification_required,
            language=need.language,
            urgency=need.urgency,
            pay_with_points=need.pay_with_points,
            points=need.points,
            recurrence=need.recurrence,
            preferred_volunteer_id=served or need.preferred_volunteer_id,
            series=series,
            requester_id=need.requester_id,
            published_by_id=need.published_by_id,
            state=NeedState.SUBMITTED,
            state_changed_at=now,
            review_due_at=now
            + dt.timedelta(minutes=int(get_setting("needs.review_minutes", need.scope_node()))),
        )
        NeedEvent.objects.create(
            need=nxt,
            community_id=need.community_id,
            actor=actor,
            transition="publish",
            from_state="",
            to_state=NeedState.SUBMITTED,
            at=now,
            note=_("周期需求 #%(id)s 的下一次") % {"id": series.pk},
        )
        record(
            "needs.need.repeated",
            actor=actor,
            target=nxt,
            community=need.community,
            new={
                "state": NeedState.SUBMITTED,
                "series": series.pk,
                "previous": need.pk,
                "starts_at": starts_at.isoformat(),
                "preferred_volunteer": nxt.preferred_volunteer_id,
            },
        )
    return nxt
