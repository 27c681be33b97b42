"""Time bank API: members (list, join, renew, detail), my membership and the monthly
anonymous leaderboard. Same scope rules and actions as the pages: 404 outside the caller's
scope, 403 inside it without the permission. Writes take an idempotency key (the
``Idempotency-Key`` header or the ``idempotency_key`` field)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from django.http import HttpRequest
from django.shortcuts import get_object_or_404
from django.utils.translation import gettext as _
from ninja import Query
from ninja.responses import Status as Reply

from huzhu.accounts import policy
from huzhu.accounts.api.schemas import PathId
from huzhu.accounts.models import Person
from huzhu.core.api import ERRORS, paginate
from huzhu.core.errors import DomainError
from huzhu.timebank.actions import members as actions
from huzhu.timebank.api.common import actor_of, router
from huzhu.timebank.api.schemas_members import (
    BenefitOut,
    JoinIn,
    LeaderboardOut,
    LeaderboardQuery,
    LeaderboardRowOut,
    LevelChangeOut,
    MemberDetailOut,
    MemberOut,
    MemberPage,
    MemberQuery,
    MyMembershipOut,
    PaymentOut,
    ProgressOut,
    RenewIn,
    TierOfferOut,
)
from huzhu.timebank.models import Leaderboard, Membership, Referral, Tier
from huzhu.timebank.views.members import filtered_members, tiers_offer


def _key(request: HttpRequest, body_key: str) -> str:
    return (request.headers.get("Idempotency-Key") or body_key or "").strip()


def _member_fields(m: Membership) -> dict[str, Any]:
    household = m.person.household
    return {
        "id": m.pk,
        "person_id": m.person_id,
        "name": m.person.name,
        "community_id": m.community_id,
        "building": household.building.name if household and household.building_id else "",
        "tier": m.tier,
        "tier_label": str(m.get_tier_display()),
        "cocreate_number": m.cocreate_number,
        "founding_benefit": m.founding_benefit,
        "level": m.level,
        "joined_on": m.joined_on,
        "ends_on": m.ends_on,
        "active": actions.is_active(m),
    }


def _load(pk: int) -> Membership:
    return get_object_or_404(
        Membership.objects.select_related(
            "person__community__alliance", "person__household__building", "community"
        ),
        pk=pk,
    )


def _detail(m: Membership) -> MemberDetailOut:
    facts = actions.level_facts(m)
    return MemberDetailOut(
        **_member_fields(m),
        payments=[
            PaymentOut(
                id=p.pk,
                tier=p.tier,
                amount_fen=p.amount_fen,
                method=p.method,
                receipt_number=p.receipt_number,
                period_start=p.period_start,
                period_end=p.period_end,
                recorded_at=p.recorded_at,
            )
            for p in m.payments.order_by("-recorded_at", "-pk")
        ],
        level_changes=[
            LevelChangeOut(
                old_level=c.old_level,
                new_level=c.new_level,
                years=c.years,
                hours=str(c.hours),
                referrals=c.referrals,
                created_at=c.created_at,
            )
            for c in m.level_changes.order_by("-created_at", "-pk")
        ],
        benefits=[BenefitOut(code=b.code, label=str(b.label)) for b in actions.benefits_for(m)],
        progress=ProgressOut(
            years=facts.years,
            hours=str(facts.hours),
            referrals=facts.referrals,
            level_hours=facts.level_hours,
            level_referrals=facts.level_referrals,
            hours_to_next=str(facts.hours_to_next),
            referrals_to_next=facts.referrals_to_next,
            next_anniversary=facts.next_anniversary,
        ),
    )


@router.get(
    "timebank/members",
    response={200: MemberPage, **ERRORS},
    operation_id="huzhu_timebank_api_list_members",
)
def list_members(request: HttpRequest, q: Query[MemberQuery]) -> MemberPage:
    """Members the caller may see (timebank.view_members), soonest expiry first."""
    actor = actor_of(request)
    if q.tier and q.tier not in Tier.values:
        raise DomainError(
            "timebank.membership.tier", _("会员类型无效。"), details={"field": "tier"}
        )
    qs = filtered_members(actor, community=q.community, q=q.q, tier=q.tier, expiring=q.expiring)
    rows, meta = paginate(qs, q)
    return MemberPage(items=[MemberOut(**_member_fields(m)) for m in rows], meta=meta)


@router.post(
    "timebank/people/{person_id}/membership",
    response={201: MemberDetailOut, **ERRORS},
    operation_id="huzhu_timebank_api_join_membership",
)
def join_membership(
    request: HttpRequest, person_id: PathId, payload: JoinIn
) -> Reply[MemberDetailOut]:
    """Record a first membership fee (timebank.manage_members on the person)."""
    actor = actor_of(request)
    person = get_object_or_404(
        Person.objects.select_related("community__alliance", "household"), pk=person_id
    )
    policy.require(actor, actions.MANAGE, person)
    membership = actions.join_membership(
        actor=actor,
        person=person,
        tier=payload.tier,
        amount_fen=payload.amount_fen,
        method=payload.method,
        receipt_number=payload.receipt_number,
        paid_on=payload.paid_on,
        referral_code=payload.referral_code or None,
        key=_key(request, payload.idempotency_key),
    )
    return Reply(201, _detail(_load(membership.pk)))


@router.get(
    "timebank/members/{membership_id}",
    response={200: MemberDetailOut, **ERRORS},
    operation_id="huzhu_timebank_api_get_member",
)
def get_member(request: HttpRequest, membership_id: PathId) -> MemberDetailOut:
    """One member with payments, level history, benefits and progress."""
    actor = actor_of(request)
    m = _load(membership_id)
    policy.require(actor, actions.VIEW, m.person)
    return _detail(m)


@router.post(
    "timebank/members/{membership_id}/renew",
    response={200: MemberDetailOut, **ERRORS},
    operation_id="huzhu_timebank_api_renew_membership",
)
def renew_membership(
    request: HttpRequest, membership_id: PathId, payload: RenewIn
) -> MemberDetailOut:
    """Extend a membership by a year (timebank.manage_members on the member)."""
    actor = actor_of(request)
    m = _load(membership_id)
    policy.require(actor, actions.MANAGE, m.person)
    actions.renew_membership(
        actor=actor,
        membership=m,
        tier=payload.tier,
        amount_fen=payload.amount_fen,
        method=payload.method,
        receipt_number=payload.receipt_number,
        paid_on=payload.paid_on,
        key=_key(request, payload.idempotency_key),
    )
    return _detail(_load(m.pk))


@router.get(
    "timebank/me/membership",
    response={200: MyMembershipOut, **ERRORS},
    operation_id="huzhu_timebank_api_my_membership",
)
def my_membership(request: HttpRequest) -> MyMembershipOut:
    """My membership (or what the tiers offer), my referral code and how many used it."""
    actor = actor_of(request)
    m = Membership.objects.filter(person=actor).values_list("pk", flat=True).first()
    return MyMembershipOut(
        membership=_detail(_load(m)) if m is not None else None,
        tiers=[
            TierOfferOut(
                tier=t["tier"],
                label=str(t["label"]),
                fee_fen=int(Decimal(t["fee"]) * 100),
                offers=[str(o) for o in t["offers"]],
            )
            for t in tiers_offer(actor.community)
        ],
        referral_code=actions.referral_code_for(actor),
        referred=Referral.objects.filter(referrer=actor).count(),
    )


@router.get(
    "timebank/leaderboard",
    response={200: LeaderboardOut, **ERRORS},
    operation_id="huzhu_timebank_api_leaderboard",
)
def leaderboard(request: HttpRequest, q: Query[LeaderboardQuery]) -> LeaderboardOut:
    """My community's anonymous leaderboard of a month (default: the latest published)."""
    actor = actor_of(request)
    boards = Leaderboard.objects.filter(community=actor.community).order_by("-month")
    board: Leaderboard | None
    if q.month:
        try:
            month = dt.datetime.strptime(q.month, "%Y-%m").date()
        except ValueError:
            raise DomainError(
                "timebank.leaderboard.month",
                _("月份格式应为 YYYY-MM。"),
                details={"field": "month"},
            ) from None
        board = boards.filter(month=month).first()
    else:
        board = boards.first()
    return LeaderboardOut(
        community_id=actor.community_id,
        month=board.month if board else None,
        published_at=board.published_at if board else None,
        rows=[LeaderboardRowOut(**row) for row in (board.rows if board else [])],
        months=list(boards.values_list("month", flat=True)[:36]),
    )
