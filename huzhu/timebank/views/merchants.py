"""Time bank pages: merchants — the branch head's merchant list, form and detail (agreements,
staff, recent redemptions); the member's payment code (我的付款码); the phone-first till where
merchant staff scan a code and redeem (enter amount → confirm → result both sides see); the
monthly statements with .xlsx export. Each module carries its own urlpatterns (see ../urls.py).

Views fetch in scope (404 outside the actor's scope, 403 without the permission), parse the
form, call the action and respond; the rules live in huzhu.timebank.actions.merchants.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Page, Paginator
from django.db import transaction
from django.db.models import Q, QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import URLPattern, path, reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from huzhu.accounts import policy
from huzhu.accounts.models import Person
from huzhu.audit.service import record
from huzhu.core import clock
from huzhu.core.errors import DomainError
from huzhu.orgs.models import Community
from huzhu.timebank import qr
from huzhu.timebank.actions import merchants as actions
from huzhu.timebank.actions.ledger import person_account
from huzhu.timebank.actions.merchants import MANAGE, RECONCILE, REDEEM, format_fen, mask_name
from huzhu.timebank.forms.merchants import (
    AgreementForm,
    MerchantFilterForm,
    MerchantForm,
    ReconcileForm,
    RedeemForm,
    StaffForm,
    StatementFilterForm,
    add_domain_error,
    new_key,
)
from huzhu.timebank.models import (
    Merchant,
    MerchantStatement,
    Redemption,
)
from huzhu.timebank.money import format_points

XLSX_CONTENT_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _actor(request: HttpRequest) -> Person:
    user = request.user
    assert isinstance(user, Person)
    return user


def _page(request: HttpRequest, items: Any) -> Page[Any]:
    return Paginator(items, settings.HUZHU_PAGE_SIZE).get_page(request.GET.get("page"))


def _merchant(actor: Person, pk: int, perm: str) -> Merchant:
    """A merchant on which the actor holds ``perm`` (404 outside scope, 403 without it)."""
    merchant: Merchant = get_object_or_404(
        Merchant.objects.select_related("community__alliance", "account"), pk=pk
    )
    policy.require(actor, perm, merchant)
    return merchant


def _till(actor: Person, pk: int) -> Merchant:
    """A merchant whose till the actor may use: role merchant there and listed as staff."""
    merchant = _merchant(actor, pk, REDEEM)
    if not merchant.staff.filter(pk=actor.pk).exists():
        raise PermissionDenied(REDEEM)
    return merchant


def _community_param(request: HttpRequest, actor: Person, perm: str) -> Community | None:
    """The ``community`` filter: 404 outside the actor's scope, 403 without ``perm`` there."""
    raw = request.GET.get("community", "")
    if not raw:
        return None
    if not raw.isdigit():
        raise PermissionDenied
    community: Community = get_object_or_404(
        Community.objects.select_related("alliance"), pk=int(raw)
    )
    policy.require(actor, perm, community)
    return community


def _communities(actor: Person) -> list[tuple[int, str]]:
    return [(c.pk, c.name) for c in policy.communities_for(actor, MANAGE).order_by("name")]


def _when(value: Any) -> str:
    return timezone.localtime(value).strftime("%Y-%m-%d %H:%M") if value else ""


# --- the branch head's merchants -------------------------------------------------------------


@login_required
def merchant_list(request: HttpRequest) -> HttpResponse:
    """Merchants I manage, with search and status filter, optionally one community's."""
    actor = _actor(request)
    community = _community_param(request, actor, MANAGE)
    if community is None and not policy.can_anywhere(actor, MANAGE):
        raise PermissionDenied(MANAGE)
    qs = policy.visible_to(actor, MANAGE, Merchant.objects.all())
    if community is not None:
        qs = qs.filter(community=community)
    form = MerchantFilterForm(request.GET)
    if form.is_valid():
        if form.cleaned_data["q"]:
            qs = qs.filter(name__icontains=form.cleaned_data["q"].strip())
        if form.cleaned_data["status"]:
            qs = qs.filter(status=form.cleaned_data["status"])
    qs = qs.select_related("community").order_by("community__name", "name", "pk")
    page = _page(request, actions.with_agreement_in_force(qs, clock.today()))
    for merchant in page.object_list:
        merchant.current_agreement = merchant.in_force[0] if merchant.in_force else None
    return render(
        request,
        "timebank/merchant_list.html",
        {"page": page, "form": form, "community": community},
    )


@login_required
def merchant_create(request: HttpRequest) -> HttpResponse:
    actor = _actor(request)
    if not policy.can_anywhere(actor, MANAGE):
        raise PermissionDenied(MANAGE)
    communities = _communities(actor)
    if request.method == "POST":
        form = MerchantForm(request.POST, communities=communities)
        if form.is_valid():
            data = form.cleaned_data
            community = get_object_or_404(Community, pk=data["community"])
            try:
                merchant = actions.create_merchant(
                    actor=actor,
                    community=community,
                    name=data["name"],
                    category=data["category"],
                    address=data["address"],
                    phone=data["phone"],
                    key=data["key"],
                )
            except DomainError as exc:
                add_domain_error(form, exc)
            else:
                messages.success(request, _("商户已创建，请录入合作协议。"))
                return redirect("timebank:merchant_detail", pk=merchant.pk)
    else:
        form = MerchantForm(
            initial={"key": new_key(), "community": communities[0][0] if communities else None},
            communities=communities,
        )
    return render(request, "timebank/merchant_form.html", {"form": form, "merchant": None})


@login_required
def merchant_edit(request: HttpRequest, pk: int) -> HttpResponse:
    actor = _actor(request)
    merchant = _merchant(actor, pk, MANAGE)
    if request.method == "POST":
        form = MerchantForm(request.POST)
        if form.is_valid():
            data = form.cleaned_data
            try:
                actions.update_merchant(
                    actor=actor,
                    merchant=merchant,
                    name=data["name"],
                    category=data["category"],
                    address=data["address"],
                    phone=data["phone"],
                    key=data["key"],
                )
            except DomainError as exc:
                add_domain_error(form, exc)
            else:
                messages.success(request, _("商户信息已保存。"))
                return redirect("timebank:merchant_detail", pk=merchant.pk)
    else:
        form = MerchantForm(
            initial={
                "name": merchant.name,
                "category": merchant.category,
                "address": merchant.address,
                "phone": merchant.phone,
                "key": new_key(),
            }
        )
    return render(request, "timebank/merchant_form.html", {"form": form, "merchant": merchant})


def _redemption_rows(qs: QuerySet[Redemption]) -> QuerySet[Redemption]:
    return qs.select_related("member", "created_by", "transaction__reversed_by").order_by(
        "-created_at", "-pk"
    )


@login_required
def merchant_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """One merchant: its details, agreements, staff and recent redemptions."""
    actor = _actor(request)
    merchant = _merchant(actor, pk, MANAGE)
    page = _page(request, _redemption_rows(merchant.redemptions.all()))
    for r in page.object_list:
        r.member_name = mask_name(r.member.name)
        r.purchase_yuan = format_fen(r.purchase_fen)
        r.discount_yuan = format_fen(r.discount_fen)
        r.points_text = format_points(r.points)
    return render(
        request,
        "timebank/merchant_detail.html",
        {
            "merchant": merchant,
            "agreement": actions.agreement_in_force(merchant, clock.today()),
            "agreements": merchant.agreements.select_related("created_by"),
            "staff": merchant.staff.order_by("name", "pk"),
            "page": page,
            "agreement_form": AgreementForm(initial={"key": new_key()}),
            "staff_form": StaffForm(initial={"key": new_key()}),
            "fee_min_max": actions.fee_bounds(merchant.community),
            "balance": format_points(merchant.account.balance) if merchant.account else "0.00",
        },
    )


@require_POST
@login_required
def merchant_status(request: HttpRequest, pk: int) -> HttpResponse:
    """Suspend or reactivate (the button on the detail page)."""
    actor = _actor(request)
    merchant = _merchant(actor, pk, MANAGE)
    action = request.POST.get("action", "")
    key = request.POST.get("key", "")[:100]
    try:
        if action == "suspend":
            actions.suspend_merchant(actor=actor, merchant=merchant, key=key)
            messages.success(request, _("商户已暂停积分抵扣。"))
        elif action == "reactivate":
            actions.reactivate_merchant(actor=actor, merchant=merchant, key=key)
            messages.success(request, _("商户已恢复积分抵扣。"))
        else:
            messages.error(request, _("未知的操作。"))
    except DomainError as exc:
        messages.error(request, str(exc.message))
    return redirect("timebank:merchant_detail", pk=merchant.pk)


@login_required
def merchant_agreement(request: HttpRequest, pk: int) -> HttpResponse:
    """Record a signed agreement (fee within the community's range)."""
    actor = _actor(request)
    merchant = _merchant(actor, pk, MANAGE)
    if request.method == "POST":
        form = AgreementForm(request.POST)
        if form.is_valid():
            data = form.cleaned_data
            try:
                actions.sign_agreement(
                    actor=actor,
                    merchant=merchant,
                    fee_percent=data["fee_percent"],
                    starts_on=data["starts_on"],
                    ends_on=data["ends_on"],
                    reference=data["reference"],
                    key=data["key"],
                )
            except DomainError as exc:
                add_domain_error(form, exc)
            else:
                messages.success(request, _("合作协议已录入。"))
                return redirect("timebank:merchant_detail", pk=merchant.pk)
    else:
        form = AgreementForm(initial={"key": new_key()})
    return render(
        request,
        "timebank/merchant_agreement_form.html",
        {
            "merchant": merchant,
            "form": form,
            "fee_min_max": actions.fee_bounds(merchant.community),
        },
    )


@require_POST
@login_required
def merchant_staff_add(request: HttpRequest, pk: int) -> HttpResponse:
    actor = _actor(request)
    merchant = _merchant(actor, pk, MANAGE)
    form = StaffForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("请输入店员的手机号。"))
    else:
        try:
            person = actions.add_staff(
                actor=actor,
                merchant=merchant,
                phone=form.cleaned_data["phone"],
                key=form.cleaned_data["key"],
            )
        except DomainError as exc:
            messages.error(request, str(exc.message))
        else:
            messages.success(request, _("已添加店员 %(name)s。") % {"name": person.name})
    return redirect(reverse("timebank:merchant_detail", args=[merchant.pk]) + "#staff")


@require_POST
@login_required
def merchant_staff_remove(request: HttpRequest, pk: int) -> HttpResponse:
    actor = _actor(request)
    merchant = _merchant(actor, pk, MANAGE)
    raw = request.POST.get("person", "")
    person = merchant.staff.filter(pk=int(raw)).first() if raw.isdigit() else None
    if person is None:
        messages.error(request, _("该用户不是本商户店员。"))
    else:
        try:
            actions.remove_staff(
                actor=actor, merchant=merchant, person=person, key=request.POST.get("key", "")
            )
        except DomainError as exc:
            messages.error(request, str(exc.message))
        else:
            messages.success(request, _("已移除店员 %(name)s。") % {"name": person.name})
    return redirect(reverse("timebank:merchant_detail", args=[merchant.pk]) + "#staff")


# --- the member's payment code ---------------------------------------------------------------


@login_required
def my_qr(request: HttpRequest) -> HttpResponse:
    """我的付款码: a fresh single-use code as a QR and as text, refreshed before it expires,
    with my balance and available points and my latest redemptions."""
    actor = _actor(request)
    token = qr.make_token(actor)
    account = person_account(actor)
    recent = (
        Redemption.objects.filter(member=actor)
        .select_related("merchant")
        .order_by("-created_at", "-pk")[:5]
    )
    response = render(
        request,
        "timebank/my_qr.html",
        {
            "token": token,
            "svg": qr.qr_svg(token),
            "ttl": qr.TOKEN_TTL_SECONDS,
            "refresh_after": max(qr.TOKEN_TTL_SECONDS - 20, 10),
            "balance": format_points(account.balance),
            "available": format_points(account.available),
            "recent": recent,
        },
    )
    response["Cache-Control"] = "no-store"
    return response


# --- the till --------------------------------------------------------------------------------


@login_required
def merchant_mine(request: HttpRequest) -> HttpResponse:
    """The merchants I work at (staff): the way to their tills and statements."""
    actor = _actor(request)
    if not policy.can_anywhere(actor, REDEEM):
        raise PermissionDenied(REDEEM)
    merchants = list(actor.merchants.select_related("community").order_by("name", "pk"))
    if len(merchants) == 1 and request.GET.get("list") != "1":
        return redirect("timebank:redeem", pk=merchants[0].pk)
    return render(request, "timebank/merchant_mine.html", {"merchants": merchants})


@login_required
def redeem(request: HttpRequest, pk: int) -> HttpResponse:
    """Scan → amount → confirm → result. The first POST previews (nothing is written), the
    confirm POST redeems with the form's idempotency key."""
    actor = _actor(request)
    merchant = _till(actor, pk)
    context: dict[str, Any] = {"merchant": merchant}
    if request.method == "POST":
        form = RedeemForm(request.POST)
        if request.POST.get("step") == "edit":  # back from the confirm screen, inputs kept
            return render(request, "timebank/redeem.html", {**context, "form": form})
        if form.is_valid():
            data = form.cleaned_data
            try:
                if request.POST.get("step") == "confirm":
                    redemption = actions.redeem(
                        actor=actor,
                        merchant=merchant,
                        token=data["token"],
                        purchase_fen=data["purchase"],
                        key=data["key"],
                    )
                    return redirect("timebank:redemption_detail", pk=redemption.pk)
                preview = actions.preview_redemption(
                    actor=actor,
                    merchant=merchant,
                    token=data["token"],
                    purchase_fen=data["purchase"],
                )
            except DomainError as exc:
                add_domain_error(form, exc)
            else:
                return render(
                    request,
                    "timebank/redeem_confirm.html",
                    {**context, "form": form, "preview": preview},
                )
    else:
        form = RedeemForm(initial={"key": new_key()})
    return render(request, "timebank/redeem.html", {**context, "form": form})


@login_required
def redemption_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """The result both sides see: the member, the merchant's staff, and those who manage or
    reconcile the merchant."""
    actor = _actor(request)
    redemption: Redemption = get_object_or_404(
        Redemption.objects.select_related(
            "merchant__community__alliance", "member", "created_by", "transaction__reversed_by"
        ),
        pk=pk,
    )
    merchant = redemption.merchant
    is_member = redemption.member_id == actor.pk
    is_staff = merchant.staff.filter(pk=actor.pk).exists()
    if not (
        is_member
        or is_staff
        or policy.can(actor, MANAGE, merchant)
        or policy.can(actor, RECONCILE, merchant)
    ):
        policy.require(actor, MANAGE, merchant)
    return render(
        request,
        "timebank/redeem_result.html",
        {
            "r": redemption,
            "merchant": merchant,
            "is_member": is_member,
            "is_staff": is_staff,
            "member_name": mask_name(redemption.member.name),
            "purchase": format_fen(redemption.purchase_fen),
            "discount": format_fen(redemption.discount_fen),
            "pay": format_fen(redemption.purchase_fen - redemption.discount_fen),
            "points": format_points(redemption.points),
            "reversed": hasattr(redemption.transaction, "reversed_by"),
        },
    )


# --- statements ------------------------------------------------------------------------------


def _statement_merchants(actor: Person) -> QuerySet[Merchant]:
    """Merchants whose statements the actor sees: those they reconcile, and their own."""
    reconciled = policy.visible_to(actor, RECONCILE, Merchant.objects.all())
    return Merchant.objects.filter(Q(pk__in=reconciled.values("pk")) | Q(staff=actor)).distinct()


def _statements(request: HttpRequest, actor: Person) -> tuple[Any, Any, Community | None]:
    community = None
    raw = request.GET.get("community", "")
    if raw:
        if not raw.isdigit():
            raise PermissionDenied
        community = get_object_or_404(Community.objects.select_related("alliance"), pk=int(raw))
        if not policy.in_scope(actor, community):
            raise Http404
    if not (policy.can_anywhere(actor, RECONCILE) or policy.can_anywhere(actor, REDEEM)):
        raise PermissionDenied(RECONCILE)
    merchants = _statement_merchants(actor)
    if community is not None:
        merchants = merchants.filter(community=community)
    qs = MerchantStatement.objects.filter(merchant__in=merchants.values("pk"))
    form = StatementFilterForm(request.GET)
    if form.is_valid():
        if form.cleaned_data["month"]:
            qs = qs.filter(month=form.cleaned_data["month"])
        if form.cleaned_data["q"]:
            qs = qs.filter(merchant__name__icontains=form.cleaned_data["q"].strip())
    qs = qs.select_related("merchant__community").order_by("-month", "merchant__name", "pk")
    return qs, form, community


def _statement_row(s: MerchantStatement) -> dict[str, Any]:
    return {
        "s": s,
        "spending": format_fen(s.spending_fen),
        "discount": format_fen(s.discount_fen),
        "points": format_points(s.points),
        "fee": format_fen(s.fee_fen),
    }


@login_required
def merchant_statements(request: HttpRequest) -> HttpResponse:
    """Monthly statements with a month filter (finance officer, branch head; a merchant's staff
    see their own merchant's)."""
    actor = _actor(request)
    qs, form, community = _statements(request, actor)
    page = _page(request, qs)
    can_reconcile = policy.can_anywhere(actor, RECONCILE)
    return render(
        request,
        "timebank/merchant_statements.html",
        {
            "page": page,
            "rows": [_statement_row(s) for s in page.object_list],
            "form": form,
            "community": community,
            "can_reconcile": can_reconcile,
            "reconcile_form": ReconcileForm(
                initial={"month": f"{actions.previous_month(clock.today()):%Y-%m}"}
            )
            if can_reconcile
            else None,
        },
    )


@login_required
def merchant_statements_export(request: HttpRequest) -> HttpResponse:
    """The filtered statements as .xlsx; the export is audited."""
    from huzhu.accounts.roster.export import workbook_bytes

    actor = _actor(request)
    qs, _form, community = _statements(request, actor)
    header = [
        _("月份"),
        _("社区"),
        _("商户"),
        _("笔数"),
        _("会员消费（元）"),
        _("抵扣金额（元）"),
        _("兑换积分"),
        _("管理费比例（%）"),
        _("应收管理费（元）"),
        _("生成时间"),
    ]
    count = 0

    def rows() -> Iterator[list[Any]]:
        nonlocal count
        for s in qs.iterator(chunk_size=500):
            count += 1
            yield [
                f"{s.month:%Y-%m}",
                s.merchant.community.name,
                s.merchant.name,
                s.redemptions,
                format_fen(s.spending_fen),
                format_fen(s.discount_fen),
                format_points(s.points),
                str(s.fee_percent),
                format_fen(s.fee_fen),
                _when(s.created_at),
            ]

    content = workbook_bytes(str(_("商户月结")), [str(h) for h in header], rows())
    with transaction.atomic():
        record(
            "timebank.merchant.statements_exported",
            actor=actor,
            community=community,
            new={"rows": count, "month": request.GET.get("month", "")[:7]},
        )
    stamp = timezone.localtime(clock.now()).strftime("%Y%m%d-%H%M")
    response = HttpResponse(content, content_type=XLSX_CONTENT_TYPE)
    response["Content-Disposition"] = f'attachment; filename="merchant-statements-{stamp}.xlsx"'
    return response


@require_POST
@login_required
def merchant_statements_make(request: HttpRequest) -> HttpResponse:
    """Make the statements of a finished month for every merchant I reconcile (the daily job
    does the same; statements already made are left as they are)."""
    actor = _actor(request)
    if not policy.can_anywhere(actor, RECONCILE):
        raise PermissionDenied(RECONCILE)
    form = ReconcileForm(request.POST)
    if not form.is_valid():
        for errors in form.errors.values():
            for e in errors:
                messages.error(request, str(e))
        return redirect("timebank:merchant_statements")
    month: dt.date = form.cleaned_data["month"]
    _start, end = actions.month_bounds(month)
    merchants = policy.visible_to(actor, RECONCILE, Merchant.objects.all()).filter(
        created_at__lt=end
    )
    made = 0
    try:
        for merchant in merchants.select_related("community__alliance").order_by("pk"):
            actions.reconcile_merchant_month(actor=actor, merchant=merchant, month=month)
            made += 1
    except DomainError as exc:
        messages.error(request, str(exc.message))
    else:
        messages.success(
            request,
            _("%(month)s 已对账 %(n)s 个商户。") % {"month": f"{month:%Y-%m}", "n": made},
        )
    return redirect(reverse("timebank:merchant_statements") + f"?month={month:%Y-%m}")


urlpatterns: list[URLPattern] = [
    path("merchants/", merchant_list, name="merchant_list"),
    path("merchants/new/", merchant_create, name="merchant_create"),
    path("merchants/mine/", merchant_mine, name="merchant_mine"),
    path("merchants/statements/", merchant_statements, name="merchant_statements"),
    path(
        "merchants/statements/export/",
        merchant_statements_export,
        name="merchant_statements_export",
    ),
    path("merchants/statements/make/", merchant_statements_make, name="merchant_statements_make"),
    path("merchants/<int:pk>/", merchant_detail, name="merchant_detail"),
    path("merchants/<int:pk>/edit/", merchant_edit, name="merchant_edit"),
    path("merchants/<int:pk>/status/", merchant_status, name="merchant_status"),
    path("merchants/<int:pk>/agreements/new/", merchant_agreement, name="merchant_agreement"),
    path("merchants/<int:pk>/staff/add/", merchant_staff_add, name="merchant_staff_add"),
    path("merchants/<int:pk>/staff/remove/", merchant_staff_remove, name="merchant_staff_remove"),
    path("merchants/<int:pk>/redeem/", redeem, name="redeem"),
    path("redemptions/<int:pk>/", redemption_detail, name="redemption_detail"),
    path("pay/", my_qr, name="my_qr"),
]
