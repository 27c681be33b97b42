"""Time bank pages: ledger — my points (我的积分) with statement and export, a person's
statement for managers, reversal, first-service days, and the paper ledger (纸质积分登记本).
Each module carries its own urlpatterns (see ../urls.py).

Views fetch in scope (404 outside the actor's scope, 403 without the permission), parse the
form, call the action and redirect; the rules live in huzhu.timebank.actions.
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Page, Paginator
from django.db import transaction
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import URLPattern, path, reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from huzhu.accounts import policy
from huzhu.accounts.models import Person, RoleGrant
from huzhu.audit.service import record
from huzhu.core import clock
from huzhu.core.errors import DomainError
from huzhu.orgs.models import Building, Community
from huzhu.timebank import queries
from huzhu.timebank.actions import ledger as ledger_actions
from huzhu.timebank.actions import paper as paper_actions
from huzhu.timebank.forms.ledger import (
    PaperCheckForm,
    PaperEntryForm,
    PaperFilterForm,
    ReverseForm,
    ServiceDayForm,
    add_domain_error,
    new_key,
)
from huzhu.timebank.models import (
    Account,
    PaperEntry,
    PaperKind,
    PaperStatus,
    ServiceDay,
    Transaction,
)
from huzhu.timebank.money import format_points

XLSX_CONTENT_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
PAPER = "timebank.enter_paper"


def _actor(request: HttpRequest) -> Person:
    user = request.user
    assert isinstance(user, Person)
    return user


def _page(request: HttpRequest, items: Any) -> Page[Any]:
    return Paginator(items, settings.HUZHU_PAGE_SIZE).get_page(request.GET.get("page"))


def _when(value: Any) -> str:
    return timezone.localtime(value).strftime("%Y-%m-%d %H:%M") if value else ""


def _stamp() -> str:
    return timezone.localtime(clock.now()).strftime("%Y%m%d-%H%M")


def _xlsx(title: str, header: list[str], rows: Iterator[list[Any]], filename: str) -> HttpResponse:
    from huzhu.accounts.roster.export import workbook_bytes

    response = HttpResponse(workbook_bytes(title, header, rows), content_type=XLSX_CONTENT_TYPE)
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


# --- statements ------------------------------------------------------------------------------


def _rows(lines: list[queries.StatementLine]) -> list[dict[str, Any]]:
    return [
        {
            "at": line.created_at,
            "kind": line.kind,
            "kind_label": line.kind_label,
            "memo": line.memo,
            "reference": line.reference,
            "counterparty": line.counterparty,
            "amount": format_points(line.amount),
            "positive": line.amount > 0,
            "balance": format_points(line.running_balance),
            "tx_id": line.transaction_id,
        }
        for line in lines
    ]


def _statement_context(request: HttpRequest, account: Account | None) -> dict[str, Any]:
    balance, held, available = queries.held_of(account)
    page: Page[Any] | None = None
    rows: list[dict[str, Any]] = []
    if account is not None:
        page = _page(request, queries.statement_postings(account))
        rows = _rows(queries.statement_lines(account, list(page.object_list)))
    return {
        "balance": format_points(balance),
        "held": format_points(held),
        "available": format_points(available),
        "page": page,
        "rows": rows,
    }


def _statement_xlsx(account: Account | None, filename: str) -> HttpResponse:
    header = [_("时间"), _("类型"), _("摘要"), _("关联"), _("对方"), _("积分"), _("余额")]

    def rows() -> Iterator[list[Any]]:
        if account is None:
            return
        postings = queries.statement_postings(account)
        start = 0
        while True:
            chunk = list(postings[start : start + 500])
            if not chunk:
                return
            for line in queries.statement_lines(account, chunk):
                yield [
                    _when(line.created_at),
                    line.kind_label,
                    line.memo,
                    line.reference,
                    line.counterparty,
                    Decimal(format_points(line.amount)),
                    Decimal(format_points(line.running_balance)),
                ]
            start += 500

    return _xlsx(str(_("积分明细")), [str(h) for h in header], rows(), filename)


@login_required
def my_points(request: HttpRequest) -> HttpResponse:
    """我的积分: balance, held, available and the statement, newest first."""
    actor = _actor(request)
    context = _statement_context(request, queries.own_account(actor))
    return render(request, "timebank/ledger_my_points.html", context)


@login_required
def my_points_export(request: HttpRequest) -> HttpResponse:
    actor = _actor(request)
    return _statement_xlsx(queries.own_account(actor), f"my-points-{_stamp()}.xlsx")


@login_required
def person_statement(request: HttpRequest, pk: int) -> HttpResponse:
    """A person's points for managers ("timebank.view_ledger" on the person)."""
    actor = _actor(request)
    person = get_object_or_404(
        Person.objects.select_related("community__alliance", "household__building"), pk=pk
    )
    policy.require(actor, "timebank.view_ledger", person)
    context = _statement_context(request, queries.own_account(person))
    context.update(
        person=person,
        may_reverse=person.community is not None
        and policy.can(actor, "timebank.reverse", person.community),
    )
    return render(request, "timebank/ledger_person_statement.html", context)


# --- reversal --------------------------------------------------------------------------------


@login_required
def transaction_reverse(request: HttpRequest, pk: int) -> HttpResponse:
    """Correct a transaction by a reversing entry, with reason and evidence."""
    actor = _actor(request)
    tx = get_object_or_404(
        Transaction.objects.select_related("community__alliance", "actor"), pk=pk
    )
    if tx.community is None:
        if not actor.is_superuser:
            raise PermissionDenied("timebank.reverse")
    else:
        policy.require(actor, "timebank.reverse", tx.community)
    form = ReverseForm(request.POST or None, initial={"key": new_key()})
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            rev = ledger_actions.reverse_transaction(
                actor=actor,
                transaction=tx,
                reason=data["reason"],
                evidence=data["evidence"],
                key=data["key"],
            )
        except DomainError as exc:
            add_domain_error(form, exc)
        else:
            messages.success(request, _("已冲正，冲正记录 #%(id)s。") % {"id": rev.pk})
            return redirect(reverse("timebank:transaction_reverse", args=[tx.pk]))
    postings = [
        {
            "account": queries.account_label(p.account),
            "amount": format_points(p.amount),
        }
        for p in tx.postings.select_related(
            "account__person", "account__community", "account__merchant"
        ).exclude(account__code__startswith=queries.CLEARING_PREFIX)
    ]
    reversed_by = Transaction.objects.filter(reverses=tx).first()
    deadline = ledger_actions.reversal_deadline(tx)
    return render(
        request,
        "timebank/ledger_reverse.html",
        {
            "tx": tx,
            "form": form,
            "postings": postings,
            "reversed_by": reversed_by,
            "deadline": deadline,
            "too_late": clock.today() > deadline,
        },
    )


# --- first-service days ----------------------------------------------------------------------


@login_required
def service_days(request: HttpRequest, pk: int) -> HttpResponse:
    """The community's first-service days (首存日): list and add (the branch head)."""
    actor = _actor(request)
    community = get_object_or_404(Community.objects.select_related("alliance"), pk=pk)
    policy.require(actor, "timebank.manage_service_days", community)
    form = ServiceDayForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            day = ledger_actions.add_service_day(
                actor=actor,
                community=community,
                date=form.cleaned_data["date"],
                name=form.cleaned_data["name"],
            )
        except DomainError as exc:
            add_domain_error(form, exc)
        else:
            messages.success(request, _("已设置首存日 %(date)s。") % {"date": day.date.isoformat()})
            return redirect(reverse("timebank:service_days", args=[community.pk]))
    days = ServiceDay.objects.filter(community=community).select_related("created_by")
    from huzhu.orgs.queries import get_setting

    return render(
        request,
        "timebank/ledger_service_days.html",
        {
            "community": community,
            "form": form,
            "page": _page(request, days.order_by("-date")),
            "multiplier": get_setting("timebank.first_service_day_multiplier", community),
            "today": clock.today(),
        },
    )


@require_POST
@login_required
def service_day_delete(request: HttpRequest, pk: int) -> HttpResponse:
    actor = _actor(request)
    day = get_object_or_404(ServiceDay.objects.select_related("community__alliance"), pk=pk)
    policy.require(actor, "timebank.manage_service_days", day.community)
    url = reverse("timebank:service_days", args=[day.community_id])
    try:
        ledger_actions.remove_service_day(actor=actor, day=day)
    except DomainError as exc:
        messages.error(request, str(exc.message))
        return redirect(url)
    messages.success(request, _("已删除首存日 %(date)s。") % {"date": day.date.isoformat()})
    return redirect(url)


# --- the paper ledger ------------------------------------------------------------------------


def _require_paper_anywhere(actor: Person) -> None:
    if not policy.can_anywhere(actor, PAPER):
        raise PermissionDenied(PAPER)


def _paper_buildings(actor: Person) -> QuerySet[Building]:
    return policy.visible_to(actor, PAPER, Building.objects.all()).order_by("community_id", "name")


def _paper_filters(
    request: HttpRequest, actor: Person
) -> tuple[PaperFilterForm, QuerySet[PaperEntry], bool]:
    form = PaperFilterForm(request.GET, buildings=_paper_buildings(actor))
    status, building, search = "", None, ""
    if form.is_valid():
        status = form.cleaned_data["status"] or ""
        building = form.cleaned_data["building"]
        search = form.cleaned_data["q"] or ""
    qs = queries.paper_entries(actor, status=status, building=building, search=search)
    return form, qs, bool(status or building or search)


def _paper_row(e: PaperEntry) -> dict[str, Any]:
    return {
        "entry": e,
        "amount": (
            _("%(hours)s 小时") % {"hours": e.hours}
            if e.kind == PaperKind.EARN
            else _("%(points)s 分") % {"points": format_points(e.points or 0)}
        ),
    }


@login_required
def paper_list(request: HttpRequest) -> HttpResponse:
    """The paper ledger: pending first, filters by status and building, search by slip number
    or name."""
    actor = _actor(request)
    _require_paper_anywhere(actor)
    form, qs, filtered = _paper_filters(request, actor)
    page = _page(request, qs)
    return render(
        request,
        "timebank/paper_list.html",
        {
            "form": form,
            "page": page,
            "rows": [_paper_row(e) for e in page.object_list],
            "filtered": filtered,
            "pending": queries.paper_entries(actor, status=PaperStatus.PENDING).count(),
        },
    )


def _paper_people(actor: Person) -> QuerySet[Person]:
    return policy.visible_to(
        actor, PAPER, Person.objects.filter(is_active=True, community__isnull=False)
    ).select_related("household__building")


def _volunteers(actor: Person) -> QuerySet[Person]:
    """Volunteers of the communities in which the actor enters paper slips."""
    roles = policy.PERMISSIONS[PAPER]
    ids = set(
        RoleGrant.objects.active()
        .filter(person=actor, role__in=roles, community__isnull=False)
        .values_list("community_id", flat=True)
    )
    if actor.community_id:
        ids.add(actor.community_id)
    volunteer_ids = RoleGrant.objects.active().filter(role="volunteer").values("person_id")
    qs = Person.objects.filter(is_active=True, pk__in=volunteer_ids)
    if not actor.is_superuser:
        qs = qs.filter(community_id__in=ids)
    return qs.select_related("household__building").order_by("name", "pk")


@login_required
def paper_create(request: HttpRequest) -> HttpResponse:
    """Copy one slip of the paper book (phone-friendly): search the resident, fill the slip."""
    actor = _actor(request)
    _require_paper_anywhere(actor)
    people = _paper_people(actor)
    search = (request.GET.get("q") or "").strip()[:50]
    initial = {"key": new_key(), "service_date": clock.today()}
    if request.GET.get("person", "").isdigit():
        initial["person"] = int(request.GET["person"])
    form = PaperEntryForm(
        request.POST or None, initial=initial, people=people, volunteers=_volunteers(actor)
    )
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            entry = paper_actions.enter_paper_entry(
                actor=actor,
                person=data["person"],
                kind=data["kind"],
                service_date=data["service_date"],
                slip_number=data["slip_number"],
                key=data["key"],
                hours=data["hours"] if data["kind"] == PaperKind.EARN else None,
                points=data["points"] if data["kind"] == PaperKind.SPEND else None,
                counterparty=data["counterparty"] if data["kind"] == PaperKind.SPEND else None,
                note=data["note"],
            )
        except DomainError as exc:
            add_domain_error(form, exc)
        else:
            messages.success(
                request,
                _("已录入登记本编号 %(slip)s，等待另一位管理员复核。")
                % {"slip": entry.slip_number},
            )
            return redirect(reverse("timebank:paper_detail", args=[entry.pk]))
    shown = people.order_by("household__building__name", "household__room", "name", "pk")
    if search:
        shown = shown.filter(name__icontains=search)
    candidates = list(shown[:20])
    selected = form["person"].value()
    if selected and str(selected).isdigit() and all(p.pk != int(selected) for p in candidates):
        extra = people.filter(pk=int(selected)).first()
        if extra is not None:
            candidates.insert(0, extra)
    return render(
        request,
        "timebank/paper_form.html",
        {
            "form": form,
            "search": search,
            "candidates": candidates,
            "selected": str(selected or ""),
            "more": shown.count() > 20 if search or len(candidates) >= 20 else False,
        },
    )


@login_required
def paper_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """One slip with who entered it; a different manager checks it here."""
    actor = _actor(request)
    entry = get_object_or_404(
        PaperEntry.objects.select_related(
            "person__household__building",
            "person__community__alliance",
            "counterparty",
            "entered_by",
            "checked_by",
            "building",
            "transaction",
            "community",
        ),
        pk=pk,
    )
    policy.require(actor, PAPER, entry.person)
    form = PaperCheckForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            paper_actions.check_paper_entry(
                actor=actor,
                entry=entry,
                approve=form.cleaned_data["decision"] == "approve",
                reason=form.cleaned_data["reason"],
            )
        except DomainError as exc:
            add_domain_error(form, exc)
        else:
            if form.cleaned_data["decision"] == "approve":
                messages.success(request, _("复核通过，积分已入账。"))
            else:
                messages.success(request, _("已退回该登记。"))
            return redirect(reverse("timebank:paper_detail", args=[entry.pk]))
    return render(
        request,
        "timebank/paper_detail.html",
        {
            "entry": entry,
            "row": _paper_row(entry),
            "form": form,
            "pending": entry.status == PaperStatus.PENDING,
            "own_entry": entry.entered_by_id == actor.pk,
        },
    )


@login_required
def paper_export(request: HttpRequest) -> HttpResponse:
    """The entries the list shows (same filters) as .xlsx; the export is audited."""
    actor = _actor(request)
    _require_paper_anywhere(actor)
    _form, qs, _filtered = _paper_filters(request, actor)
    header = [
        _("登记本编号"),
        _("状态"),
        _("类型"),
        _("居民"),
        _("楼栋"),
        _("服务日期"),
        _("服务时长"),
        _("积分"),
        _("收款志愿者"),
        _("说明"),
        _("录入人"),
        _("录入时间"),
        _("复核人"),
        _("复核时间"),
        _("退回原因"),
    ]
    count = 0

    def rows() -> Iterator[list[Any]]:
        nonlocal count
        for e in qs.iterator(chunk_size=1000):
            count += 1
            yield [
                e.slip_number,
                e.get_status_display(),
                e.get_kind_display(),
                e.person.name,
                e.building.name if e.building else "",
                e.service_date.isoformat(),
                e.hours if e.hours is not None else "",
                Decimal(format_points(e.points)) if e.points is not None else "",
                e.counterparty.name if e.counterparty else "",
                e.note,
                e.entered_by.name,
                _when(e.entered_at),
                e.checked_by.name if e.checked_by else "",
                _when(e.checked_at),
                e.reject_reason,
            ]

    response = _xlsx(
        str(_("纸质登记")), [str(h) for h in header], rows(), f"paper-ledger-{_stamp()}.xlsx"
    )
    with transaction.atomic():
        record(
            "timebank.paper.exported",
            actor=actor,
            community=actor.community,
            new={"rows": count},
        )
    return response


urlpatterns: list[URLPattern] = [
    path("points/", my_points, name="my_points"),
    path("points/export/", my_points_export, name="my_points_export"),
    path("people/<int:pk>/points/", person_statement, name="person_statement"),
    path("transactions/<int:pk>/reverse/", transaction_reverse, name="transaction_reverse"),
    path("communities/<int:pk>/service-days/", service_days, name="service_days"),
    path("service-days/<int:pk>/delete/", service_day_delete, name="service_day_delete"),
    path("paper/", paper_list, name="paper_list"),
    path("paper/new/", paper_create, name="paper_create"),
    path("paper/export/", paper_export, name="paper_export"),
    path("paper/<int:pk>/", paper_detail, name="paper_detail"),
]
