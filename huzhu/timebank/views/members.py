"""Time bank pages: members (list, export, join, renew, detail), "my membership" and the
monthly anonymous leaderboard.

Every view: fetch in scope → policy.require (404 outside scope, 403 without the permission) →
parse the form → call the action → redirect with a message. Rules live in
huzhu.timebank.actions.members.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db import transaction
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import URLPattern, path
from django.utils import timezone
from django.utils.translation import gettext as _

from huzhu.accounts import pii, policy
from huzhu.accounts.models import Person
from huzhu.audit.service import record
from huzhu.core import clock
from huzhu.core.errors import DomainError
from huzhu.orgs.models import Community
from huzhu.orgs.queries import get_setting
from huzhu.timebank.actions import members as actions
from huzhu.timebank.forms.members import (
    JoinForm,
    LeaderboardMonthForm,
    MemberFilterForm,
    RenewForm,
    add_domain_error,
    yuan_to_fen,
)
from huzhu.timebank.models import Leaderboard, Membership, Referral, Tier
from huzhu.timebank.money import format_points

VIEW = actions.VIEW
MANAGE = actions.MANAGE


def _actor(request: HttpRequest) -> Person:
    user = request.user
    assert isinstance(user, Person)
    return user


# --- reads shared with the API -------------------------------------------------------------


def visible_members(actor: Person) -> QuerySet[Membership]:
    """Memberships of the people on whom the actor holds timebank.view_members (a building
    manager sees their buildings' members)."""
    people = policy.visible_to(actor, VIEW, Person.objects.all())
    return Membership.objects.filter(person__in=people.values("pk"))


def filtered_members(
    actor: Person,
    *,
    community: int | None = None,
    q: str = "",
    tier: str = "",
    expiring: bool = False,
) -> QuerySet[Membership]:
    """The members list with its filters; a community outside the actor's scope is 404."""
    if community is not None:
        node = get_object_or_404(Community.objects.select_related("alliance"), pk=community)
        if not policy.in_scope(actor, node):
            raise Http404
    if not policy.can_anywhere(actor, VIEW):
        raise PermissionDenied(VIEW)
    qs = visible_members(actor)
    if community is not None:
        qs = qs.filter(community_id=community)
    if q.strip():
        qs = qs.filter(person__name__icontains=q.strip())
    if tier:
        qs = qs.filter(tier=tier)
    if expiring:
        today = clock.today()
        # The community's reminder window when one community is shown, else the default.
        days = get_setting(
            "members.expiry_reminder_days",
            Community.objects.filter(pk=community).first() if community is not None else None,
        )
        horizon = today + dt.timedelta(days=int(days))
        qs = qs.filter(ends_on__gte=today, ends_on__lte=horizon)
    return qs.select_related("person__household__building", "community").order_by("ends_on", "pk")


def fees_of(community: Community | None) -> dict[str, Decimal]:
    if community is None:
        return {}
    return {t: Decimal(actions.fee_fen(t, community)) / 100 for t in Tier.values}


def tiers_offer(community: Community | None) -> list[dict[str, Any]]:
    """What each tier offers in the community (shown to non-members)."""
    if community is None:
        return []
    from huzhu.orgs.queries import get_setting

    fees = fees_of(community)
    first_n = int(get_setting("members.cocreate_first_n", community))
    return [
        {
            "tier": Tier.TRIAL,
            "label": Tier.TRIAL.label,
            "fee": fees[Tier.TRIAL],
            "offers": [str(actions.VOUCHER_BENEFIT.label)],
        },
        {
            "tier": Tier.COCREATE,
            "label": Tier.COCREATE.label,
            "fee": fees[Tier.COCREATE],
            "offers": [
                _("前 %(n)s 名共创会员：%(benefit)s")
                % {"n": first_n, "benefit": actions.HEALTH_CHECK_BENEFIT.label}
            ],
        },
    ]


# --- pages ---------------------------------------------------------------------------------


@login_required
def member_list(request: HttpRequest) -> HttpResponse:
    actor = _actor(request)
    form = MemberFilterForm(request.GET)
    data: dict[str, Any] = form.cleaned_data if form.is_valid() else {}
    qs = filtered_members(
        actor,
        community=data.get("community"),
        q=data.get("q") or "",
        tier=data.get("tier") or "",
        expiring=bool(data.get("expiring")),
    )
    page = Paginator(qs, settings.HUZHU_PAGE_SIZE).get_page(request.GET.get("page"))
    filtered = bool(data.get("q") or data.get("tier") or data.get("expiring"))
    return render(
        request,
        "timebank/member_list.html",
        {
            "page": page,
            "form": form,
            "filtered": filtered,
            "can_manage": policy.can_anywhere(actor, MANAGE),
            "today": clock.today(),
            "query": request.GET.urlencode(),
        },
    )


@login_required
def member_export(request: HttpRequest) -> HttpResponse:
    """The filtered members as .xlsx (no phone numbers); the export is audited."""
    from huzhu.accounts.roster.export import XLSX_CONTENT_TYPE, workbook_bytes

    actor = _actor(request)
    form = MemberFilterForm(request.GET)
    data: dict[str, Any] = form.cleaned_data if form.is_valid() else {}
    qs = filtered_members(
        actor,
        community=data.get("community"),
        q=data.get("q") or "",
        tier=data.get("tier") or "",
        expiring=bool(data.get("expiring")),
    )
    header = [
        _("姓名"),
        _("社区"),
        _("楼栋"),
        _("会员类型"),
        _("共创会员序号"),
        _("首批权益"),
        _("等级"),
        _("入会日期"),
        _("到期日期"),
    ]
    count = 0

    def rows() -> Iterator[list[Any]]:
        nonlocal count
        for m in qs.iterator(chunk_size=2000):
            count += 1
            household = m.person.household
            yield [
                m.person.name,
                m.community.name,
                household.building.name if household else "",
                m.get_tier_display(),
                m.cocreate_number or "",
                _("是") if m.founding_benefit else "",
                m.level,
                m.joined_on,
                m.ends_on,
            ]

    content = workbook_bytes(str(_("会员")), [str(h) for h in header], rows())
    with transaction.atomic():
        record(
            "timebank.membership.exported",
            actor=actor,
            community=actor.community,
            new={"rows": count, "filters": {k: str(v) for k, v in data.items() if v}},
        )
    stamp = timezone.localtime(clock.now()).strftime("%Y%m%d-%H%M")
    response = HttpResponse(content, content_type=XLSX_CONTENT_TYPE)
    response["Content-Disposition"] = f'attachment; filename="members-{stamp}.xlsx"'
    return response


def _find_person(actor: Person, phone: str) -> Person | None:
    from huzhu.accounts.pii import phone_index

    person = (
        Person.objects.select_related("community__alliance", "household")
        .filter(phone_hash=phone_index(phone.strip()))
        .first()
    )
    if person is None:
        return None
    return person if policy.can(actor, MANAGE, person) else None


@login_required
def member_join(request: HttpRequest) -> HttpResponse:
    """The finance officer records a new member's first fee."""
    actor = _actor(request)
    if not policy.can_anywhere(actor, MANAGE):
        raise PermissionDenied(MANAGE)
    form = JoinForm(request.POST or None, fees=fees_of(actor.community))
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        found = _find_person(actor, data["phone"])
        if found is None:
            form.add_error("phone", _("在你管理的社区中找不到该手机号的人员。"))
        else:
            person = found
            try:
                membership = actions.join_membership(
                    actor=actor,
                    person=person,
                    tier=data["tier"],
                    amount_fen=yuan_to_fen(data["amount"]),
                    method=data["method"],
                    receipt_number=data["receipt_number"],
                    paid_on=data["paid_on"],
                    referral_code=data["referral_code"] or None,
                    key=data["idempotency_key"],
                )
            except DomainError as exc:
                add_domain_error(form, exc)
            else:
                messages.success(
                    request,
                    _("已登记 %(name)s 为%(tier)s。")
                    % {"name": person.name, "tier": membership.get_tier_display()},
                )
                return redirect("timebank:member_detail", pk=membership.pk)
    return render(request, "timebank/member_form.html", {"form": form, "mode": "join"})


def _membership(actor: Person, pk: int, perm: str) -> Membership:
    membership = get_object_or_404(
        Membership.objects.select_related(
            "person__community__alliance", "person__household__building", "community"
        ),
        pk=pk,
    )
    policy.require(actor, perm, membership.person)
    return membership


@login_required
def member_renew(request: HttpRequest, pk: int) -> HttpResponse:
    actor = _actor(request)
    membership = _membership(actor, pk, MANAGE)
    form = RenewForm(
        request.POST or None,
        initial={"tier": membership.tier},
        fees=fees_of(membership.community),
    )
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            actions.renew_membership(
                actor=actor,
                membership=membership,
                tier=data["tier"],
                amount_fen=yuan_to_fen(data["amount"]),
                method=data["method"],
                receipt_number=data["receipt_number"],
                paid_on=data["paid_on"],
                key=data["idempotency_key"],
            )
        except DomainError as exc:
            add_domain_error(form, exc)
        else:
            messages.success(request, _("续费已登记。"))
            return redirect("timebank:member_detail", pk=membership.pk)
    return render(
        request,
        "timebank/member_form.html",
        {"form": form, "mode": "renew", "membership": membership},
    )


@login_required
def member_detail(request: HttpRequest, pk: int) -> HttpResponse:
    actor = _actor(request)
    membership = _membership(actor, pk, VIEW)
    facts = actions.level_facts(membership)
    payments = list(
        membership.payments.select_related("recorded_by").order_by("-recorded_at", "-pk")
    )
    for p in payments:
        p.amount_text = actions.format_yuan(p.amount_fen)
    return render(
        request,
        "timebank/member_detail.html",
        {
            "membership": membership,
            "masked_phone": pii.mask_phone(membership.person.phone),
            "payments": payments,
            "level_changes": membership.level_changes.order_by("-created_at", "-pk"),
            "benefits": actions.benefits_for(membership),
            "facts": facts,
            "active": actions.is_active(membership),
            "can_manage": policy.can(actor, MANAGE, membership.person),
        },
    )


@login_required
def my_membership(request: HttpRequest) -> HttpResponse:
    """我的会员: tier, expiry, level and the progress to the next, benefits, referral code."""
    actor = _actor(request)
    membership = (
        Membership.objects.select_related("community", "person").filter(person=actor).first()
    )
    context: dict[str, Any] = {
        "membership": membership,
        "tiers": tiers_offer(actor.community),
        "referral_code": actions.referral_code_for(actor),
        "referred": Referral.objects.filter(referrer=actor).count(),
    }
    if membership is not None:
        context.update(
            {
                "facts": actions.level_facts(membership),
                "benefits": actions.benefits_for(membership),
                "next_benefits": [
                    b for b in actions.LEVEL_BENEFITS if b.min_level > membership.level
                ],
                "active": actions.is_active(membership),
            }
        )
    return render(request, "timebank/member_mine.html", context)


@login_required
def leaderboard(request: HttpRequest) -> HttpResponse:
    """The community's monthly anonymous leaderboard (building + points, never names)."""
    actor = _actor(request)
    boards = Leaderboard.objects.filter(community=actor.community).order_by("-month")
    months = list(boards.values_list("month", flat=True)[:36])
    form = LeaderboardMonthForm(request.GET)
    chosen: dt.date | None = None
    if form.is_valid() and form.cleaned_data.get("month"):
        chosen = form.cleaned_data["month"]
    board = boards.filter(month=chosen).first() if chosen is not None else boards.first()
    rows = [
        {**row, "points_text": format_points(int(row.get("points", 0)))}
        for row in (board.rows if board is not None else [])
    ]
    return render(
        request,
        "timebank/leaderboard.html",
        {"board": board, "rows": rows, "months": months, "chosen": chosen, "form": form},
    )


urlpatterns: list[URLPattern] = [
    path("members/", member_list, name="member_list"),
    path("members/export/", member_export, name="member_export"),
    path("members/join/", member_join, name="member_join"),
    path("members/<int:pk>/", member_detail, name="member_detail"),
    path("members/<int:pk>/renew/", member_renew, name="member_renew"),
    path("me/membership/", my_membership, name="my_membership"),
    path("leaderboard/", leaderboard, name="leaderboard"),
]
