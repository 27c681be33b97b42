"""Mass testing pages (核酸检测 and other mass services), Chinese first, phone-sized except the
big screen: the sessions list and the form to create one; a session's page — for the staff
the console (call the next batch, check in by household code or by search, mark the absent,
open and close), for a resident their household's batch and status; the big calling screen
(large numbers, updated without reload by polling a small JSON page from
static/js/testing_screen.js); the per-building board; the follow-up list and its .xlsx; a
resident's household code (住户码).

A session outside the caller's scope is 404; inside it without the right 403. A broken rule
becomes a message on the page the form came from."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path, reverse
from django.utils.translation import gettext as _t
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_POST

from huzhu.accounts import policy
from huzhu.accounts.forms import DATETIME
from huzhu.accounts.models import Person
from huzhu.core.errors import DomainError
from huzhu.lockdown import household_code
from huzhu.lockdown import testing_queries as tq
from huzhu.lockdown.actions import testing as ta
from huzhu.lockdown.actions.testing import MAX_BATCH, RUN_TESTING, VIEW_TESTING
from huzhu.lockdown.api.common import XLSX
from huzhu.lockdown.models import (
    CheckInMethod,
    QueueEntry,
    TestingKind,
    TestingSession,
    TestingState,
)
from huzhu.orgs.models import Building, Group

T = TestingState
_BADGE = {T.DRAFT: "warn", T.OPEN: "ok", T.CLOSED: ""}


def _actor(request: HttpRequest) -> Person:
    user = request.user
    assert isinstance(user, Person)
    return user


def _session(actor: Person, pk: int) -> TestingSession:
    """A session the actor may see: staff in every state, covered residents once opened."""
    s = get_object_or_404(TestingSession.objects.select_related("community", "group"), pk=pk)
    if not tq.may_view(actor, s):
        policy.require(actor, VIEW_TESTING, s)
    return s


def _staff_session(actor: Person, pk: int) -> TestingSession:
    s = get_object_or_404(TestingSession.objects.select_related("community", "group"), pk=pk)
    if not policy.can(actor, RUN_TESTING, s):
        policy.require(actor, VIEW_TESTING, s)
    return s


def _act(request: HttpRequest, call: Callable[[], Any], done: str) -> bool:
    try:
        call()
    except DomainError as exc:
        if exc.status == 403:
            raise PermissionDenied(exc.code) from None
        messages.error(request, str(exc.message))
        return False
    messages.success(request, done)
    return True


def _back(pk: int, anchor: str = "") -> HttpResponseRedirect:
    return redirect(reverse("lockdown:testing_session", kwargs={"pk": pk}) + anchor)


# --- list and create -------------------------------------------------------------------------


@login_required
def session_list(request: HttpRequest) -> HttpResponse:
    """集中检测: the sessions I run or may see, and the opened ones covering my building."""
    actor = _actor(request)
    qs = tq.visible_sessions(actor).select_related("community")
    text = (request.GET.get("q") or "").strip()[:50]
    if text:
        qs = qs.filter(title__icontains=text)
    state = request.GET.get("state", "")
    if state in T.values:
        qs = qs.filter(state=state)
    page = Paginator(qs.order_by("-starts_at", "-pk"), settings.HUZHU_PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    rows = [
        {
            "s": s,
            "state_label": T(s.state).label,
            "kind_label": TestingKind(s.kind).label,
            "badge": _BADGE.get(T(s.state), ""),
        }
        for s in page.object_list
    ]
    return render(
        request,
        "lockdown/testing_list.html",
        {
            "page": page,
            "rows": rows,
            "q": text,
            "state": state,
            "states": T.choices,
            "may_create": policy.can_anywhere(actor, RUN_TESTING),
        },
    )


class SessionForm(forms.Form):
    group = forms.ModelChoiceField(queryset=Group.objects.none(), label=_("负责小组"))
    kind = forms.ChoiceField(label=_("类型"), choices=TestingKind.choices)
    title = forms.CharField(label=_("名称"), max_length=100)
    place = forms.CharField(label=_("地点"), max_length=100)
    starts_at = forms.DateTimeField(
        label=_("开始时间"),
        widget=DATETIME,
        input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M", "%Y-%m-%d %H:%M:%S"],
    )
    batch_size = forms.IntegerField(
        label=_("每批户数"),
        min_value=1,
        max_value=MAX_BATCH,
        help_text=_("每次叫号通知多少户下楼。"),
    )
    buildings = forms.ModelMultipleChoiceField(
        queryset=Building.objects.none(),
        label=_("覆盖楼栋"),
        widget=forms.CheckboxSelectMultiple,
    )
    draft = forms.BooleanField(
        label=_("先保存为草稿"),
        required=False,
        help_text=_("草稿不生成叫号名单，居民也看不到；开始前再开放。"),
    )
    key = forms.CharField(widget=forms.HiddenInput)

    def __init__(self, *args: Any, groups: QuerySet[Group], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        group_field = self.fields["group"]
        assert isinstance(group_field, forms.ModelChoiceField)
        group_field.queryset = groups.order_by("community_id", "name")
        buildings = self.fields["buildings"]
        assert isinstance(buildings, forms.ModelMultipleChoiceField)
        buildings.queryset = Building.objects.filter(
            community_id__in=groups.values("community_id")
        ).order_by("community_id", "name")


@login_required
def session_create(request: HttpRequest) -> HttpResponse:
    """新建检测场次: for a group the person runs testing for."""
    from huzhu.orgs.forms import add_domain_error
    from huzhu.orgs.queries import get_setting

    actor = _actor(request)
    if not policy.can_anywhere(actor, RUN_TESTING):
        raise PermissionDenied(RUN_TESTING)
    groups = policy.visible_to(actor, RUN_TESTING, Group.objects.all())
    if request.method == "POST":
        form = SessionForm(request.POST, groups=groups)
        if form.is_valid():
            data = form.cleaned_data
            group = data["group"]
            try:
                s = ta.create_session(
                    actor=actor,
                    community=group.community,
                    group=group,
                    kind=data["kind"],
                    title=data["title"],
                    place=data["place"],
                    starts_at=data["starts_at"],
                    batch_size=data["batch_size"],
                    buildings=list(data["buildings"]),
                    key=data["key"],
                    draft=data["draft"],
                )
            except DomainError as exc:
                if exc.status == 403:
                    raise PermissionDenied(exc.code) from None
                add_domain_error(form, exc)
            else:
                messages.success(request, _t("检测场次已创建。"))
                return _back(s.pk)
    else:
        community = actor.community
        form = SessionForm(
            initial={
                "key": uuid.uuid4().hex,
                "kind": TestingKind.NUCLEIC_ACID,
                "batch_size": get_setting("lockdown.testing_batch_size", community),
            },
            groups=groups,
        )
    return render(request, "lockdown/testing_form.html", {"form": form})


# --- a session: the console, a resident's view -----------------------------------------------


def _batch_rows(s: TestingSession) -> list[QueueEntry]:
    if not s.batches_called:
        return []
    return list(
        QueueEntry.objects.filter(session=s, batch=s.batches_called)
        .select_related("household", "building")
        .order_by("sequence")
    )


@login_required
def session_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """One session. Staff: the console. Residents: my household's batch and status."""
    actor = _actor(request)
    s = _session(actor, pk)
    staff = tq.is_staff(actor, s)
    mine = (
        QueueEntry.objects.filter(session=s, household_id=actor.household_id)
        .select_related("household", "building")
        .first()
        if actor.household_id
        else None
    )
    context: dict[str, Any] = {
        "s": s,
        "state_label": T(s.state).label,
        "kind_label": TestingKind(s.kind).label,
        "badge": _BADGE.get(T(s.state), ""),
        "staff": staff,
        "may_run": tq.may_run(actor, s),
        "mine": mine,
        "mine_label": tq.status_label(mine) if mine else "",
        "buildings": ", ".join(b.name for b in s.buildings.order_by("name")),
    }
    if staff:
        counts = tq.building_counts(s)
        q = (request.GET.get("q") or "").strip()[:40]
        found = tq.search_queue(s, q) if q else []
        context.update(
            counts=counts,
            totals=tq.totals(counts),
            batch=_batch_rows(s),
            q=q,
            found=[{"e": e, "label": tq.status_label(e)} for e in found],
            searched=bool(q),
            key=uuid.uuid4().hex,
        )
        context["batch"] = [{"e": e, "label": tq.status_label(e)} for e in context["batch"]]
    return render(request, "lockdown/testing_session.html", context)


@login_required
@require_POST
def session_step(request: HttpRequest, pk: int) -> HttpResponse:
    """Open a draft, or close the session."""
    actor = _actor(request)
    s = _session(actor, pk)
    step = request.POST.get("step", "")
    if step == "open":
        _act(request, lambda: ta.open_session(actor=actor, session=s), _t("检测场次已开始。"))
    elif step == "close":
        _act(request, lambda: ta.close_session(actor=actor, session=s), _t("检测场次已结束。"))
    else:
        policy.require(actor, RUN_TESTING, s)
        messages.error(request, _t("未知操作。"))
    return _back(s.pk)


@login_required
@require_POST
def call_next(request: HttpRequest, pk: int) -> HttpResponse:
    """叫下一批: the next batch's households are notified to come down."""
    actor = _actor(request)
    s = _session(actor, pk)
    key = (request.POST.get("key") or "").strip()[:128] or uuid.uuid4().hex
    result: dict[str, Any] = {}

    def call() -> None:
        result["batch"] = ta.call_next_batch(actor=actor, session=s, key=key)

    try:
        call()
    except DomainError as exc:
        if exc.status == 403:
            raise PermissionDenied(exc.code) from None
        messages.error(request, str(exc.message))
    else:
        b = result["batch"]
        messages.success(
            request,
            _t("已叫第 %(n)s 批，共 %(h)s 户。") % {"n": b.number, "h": b.households},
        )
    return _back(s.pk, "#current-batch")


def _household_id(request: HttpRequest) -> int | None:
    raw = (request.POST.get("household") or "").strip()
    return int(raw) if raw.isdigit() and len(raw) < 12 else None


@login_required
@require_POST
def check_in(request: HttpRequest, pk: int) -> HttpResponse:
    """签到: by the scanned household code (``token``) or a household found by search."""
    actor = _actor(request)
    s = _session(actor, pk)
    token = (request.POST.get("token") or "").strip()
    household = _household_id(request)
    done = _t("已签到。")
    if token:
        _act(request, lambda: ta.check_in_by_code(actor=actor, session=s, token=token), done)
    elif household is not None:
        _act(
            request,
            lambda: ta.check_in(
                actor=actor, session=s, household_id=household, method=CheckInMethod.SEARCH
            ),
            done,
        )
    else:
        policy.require(actor, RUN_TESTING, s)
        messages.error(request, _t("请扫描住户码，或先搜索楼栋和房号。"))
    return _back(s.pk, "#check-in")


@login_required
@require_POST
def mark_absent(request: HttpRequest, pk: int) -> HttpResponse:
    """缺席: a called household did not come down."""
    actor = _actor(request)
    s = _session(actor, pk)
    household = _household_id(request)
    if household is None:
        policy.require(actor, RUN_TESTING, s)
        messages.error(request, _t("请选择住户。"))
    else:
        _act(
            request,
            lambda: ta.mark_absent(actor=actor, session=s, household_id=household),
            _t("已登记缺席。"),
        )
    return _back(s.pk, "#current-batch")


# --- the big screen --------------------------------------------------------------------------


@login_required
def screen(request: HttpRequest, pk: int) -> HttpResponse:
    """The big calling screen (大屏叫号): the batch being called in large type; it polls
    ``screen_data`` and updates in place."""
    actor = _actor(request)
    s = _session(actor, pk)
    return render(
        request,
        "lockdown/testing_screen.html",
        {"s": s, "state": tq.screen_state(s), "interval_ms": 3000},
    )


@login_required
def screen_data(request: HttpRequest, pk: int) -> JsonResponse:
    """The calling screen's state as JSON (polled every few seconds)."""
    actor = _actor(request)
    s = _session(actor, pk)
    resp = JsonResponse(tq.screen_state(s), json_dumps_params={"ensure_ascii": False})
    resp["Cache-Control"] = "no-store"
    return resp


# --- board and follow-up ---------------------------------------------------------------------


@login_required
def board(request: HttpRequest, pk: int) -> HttpResponse:
    """Per building: households tested, not yet, absent."""
    actor = _actor(request)
    s = _staff_session(actor, pk)
    counts = tq.building_counts(s)
    return render(
        request,
        "lockdown/testing_board.html",
        {"s": s, "counts": counts, "totals": tq.totals(counts)},
    )


@login_required
def follow_up(request: HttpRequest, pk: int) -> HttpResponse:
    """待跟进: every household not tested (absent first in mind, all in calling order), by
    building or room; ``?format=xlsx`` downloads the whole list."""
    actor = _actor(request)
    s = _staff_session(actor, pk)
    if request.GET.get("format") == "xlsx":
        resp = HttpResponse(tq.follow_up_xlsx(s), content_type=XLSX)
        resp["Content-Disposition"] = f'attachment; filename="testing-{s.pk}-follow-up.xlsx"'
        return resp
    raw = request.GET.get("building", "")
    building_id = int(raw) if raw.isdigit() and len(raw) < 12 else None
    text = (request.GET.get("q") or "").strip()[:40]
    qs = tq.follow_up(s, building_id=building_id, q=text)
    page = Paginator(qs, settings.HUZHU_PAGE_SIZE).get_page(request.GET.get("page"))
    return render(
        request,
        "lockdown/testing_follow_up.html",
        {
            "s": s,
            "page": page,
            "rows": [{"e": e, "label": tq.status_label(e)} for e in page.object_list],
            "buildings": s.buildings.order_by("name"),
            "building_id": building_id,
            "q": text,
        },
    )


# --- the household code ----------------------------------------------------------------------


@login_required
def my_household_code(request: HttpRequest) -> HttpResponse:
    """住户码: my household's code, to show at a testing site's check-in."""
    actor = _actor(request)
    household = actor.household
    context: dict[str, Any] = {"household": household}
    if household is not None:
        token = household_code.make_code(household)
        context.update(token=token, svg=household_code.qr_svg(token))
    return render(request, "lockdown/testing_household_code.html", context)


urlpatterns = [
    path("testing/", session_list, name="testing_sessions"),
    path("testing/new/", session_create, name="testing_create"),
    path("testing/household-code/", my_household_code, name="household_code"),
    path("testing/<int:pk>/", session_detail, name="testing_session"),
    path("testing/<int:pk>/step/", session_step, name="testing_step"),
    path("testing/<int:pk>/call/", call_next, name="testing_call"),
    path("testing/<int:pk>/check-in/", check_in, name="testing_check_in"),
    path("testing/<int:pk>/absent/", mark_absent, name="testing_absent"),
    path("testing/<int:pk>/screen/", screen, name="testing_screen"),
    path("testing/<int:pk>/screen.json", screen_data, name="testing_screen_data"),
    path("testing/<int:pk>/board/", board, name="testing_board"),
    path("testing/<int:pk>/follow-up/", follow_up, name="testing_follow_up"),
]
