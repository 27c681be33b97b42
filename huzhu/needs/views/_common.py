"""What the needs pages share: the actor, paging, running an action onto a form, checking a
transition's parties before any form is read (404 outside scope, 403 inside), and the need
detail page, which every role sees with the parts and buttons meant for them.

The pages call the same actions the same way as the JSON API (huzhu.needs.api), and fetch
through its helpers, so both answer alike."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from django import forms
from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.core.paginator import Page, Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext_lazy as _

from huzhu.accounts import policy
from huzhu.accounts.models import Person
from huzhu.core.errors import DomainError
from huzhu.needs import states
from huzhu.needs.actions.common import authorize, is_requester_party
from huzhu.needs.api.common import building_label, load_assignment
from huzhu.needs.forms.needs import (
    CancelForm,
    ConfirmForm,
    DeclineForm,
    NoShowForm,
    OfferForm,
    RateForm,
    ReviewForm,
    add_domain_error,
)
from huzhu.needs.forms.tracking import EvidenceForm, MessageForm, SpotCheckForm
from huzhu.needs.models import (
    Assignment,
    AssignmentState,
    Evidence,
    Need,
    NeedState,
    SpotCheck,
    ThreadMessage,
)
from huzhu.timebank.models import Hold, Transaction
from huzhu.timebank.money import format_points
from huzhu.timebank.queries import held_of, own_account

T = TypeVar("T")
S = NeedState
A = AssignmentState

# The words of a need's history (NeedEvent.transition).
TRANSITION_LABELS = {
    "publish": _("发布"),
    "approve": _("审核通过"),
    "reject": _("驳回"),
    "offer": _("派单"),
    "rematch": _("重新匹配"),
    "accept": _("志愿者接单"),
    "check_in": _("签到"),
    "check_out": _("签退"),
    "confirm": _("验收"),
    "rate": _("评价"),
    "cancel": _("取消"),
    "expire": _("过期"),
    "no_show": _("爽约"),
    "escalate": _("超时上报"),
}
_OK = {S.APPROVED, S.ACCEPTED, S.IN_SERVICE, S.COMPLETED, S.RATED}
_BAD = {S.REJECTED, S.CANCELLED, S.EXPIRED, S.NO_SHOW}


def badge(state: str) -> str:
    """The CSS class of a state badge."""
    if state in _OK:
        return "ok"
    if state in _BAD:
        return "err"
    return "warn"


def actor_of(request: HttpRequest) -> Person:
    user = request.user
    assert isinstance(user, Person)
    return user


def page_of(request: HttpRequest, items: Any) -> Page[Any]:
    return Paginator(items, settings.HUZHU_PAGE_SIZE).get_page(request.GET.get("page"))


def run(form: forms.Form, call: Callable[[], T]) -> T | None:
    """Call an action; a DomainError becomes a form error and None is returned."""
    try:
        return call()
    except DomainError as exc:
        add_domain_error(form, exc)
        return None


def succeeded(form: forms.Form, call: Callable[[], object]) -> bool:
    """Call an action; True when it went through, else its DomainError is on the form."""
    try:
        call()
    except DomainError as exc:
        add_domain_error(form, exc)
        return False
    return True


def require_party(actor: Person, name: str, need: Need) -> str:
    """The actor is one of transition ``name``'s parties on ``need`` (else 404 / 403)."""
    return authorize(actor, states.transition(name).parties, need)


def my_assignment(actor: Person, assignment_id: int) -> Assignment:
    """The assignment, if it is the actor's: 404 outside their scope, 403 inside it."""
    a = load_assignment(assignment_id)
    try:
        authorize(actor, (states.VOLUNTEER,), a.need, a)
    except DomainError as exc:
        raise PermissionDenied(exc.code) from None
    return a


def points_label(hundredths: int) -> str:
    return format_points(hundredths)


def need_row(need: Need) -> dict[str, Any]:
    """What a list shows of a need (no personal data: the building, never an address)."""
    return {
        "need": need,
        "state_label": NeedState(need.state).label,
        "badge": badge(need.state),
        "where": building_label(need),
        "points": points_label(need.points) if need.pay_with_points else "",
    }


def _events(need: Need) -> list[dict[str, Any]]:
    from huzhu.needs import queries

    return [
        {
            "label": TRANSITION_LABELS.get(e.transition, e.transition),
            "at": e.at,
            "actor": e.actor.name if e.actor is not None else _("系统"),
            "note": e.note,
            "state": NeedState(e.to_state).label if e.to_state in S.values else "",
        }
        for e in queries.history(need)
    ]


# Who wrote a message of the tracking thread, as the thread shows it.
THREAD_ROLE_LABELS = {
    states.REQUESTER: _("居民"),
    states.VOLUNTEER: _("志愿者"),
    "manager": _("管理员"),
}


def _thread(need: Need, actor: Person, holder: Assignment | None) -> list[dict[str, Any]]:
    """The tracking thread's messages, oldest first, each with its author's role."""
    roles: dict[int, str] = {}
    if holder is not None:
        roles[holder.volunteer_id] = states.VOLUNTEER
    for pk in (need.published_by_id, need.requester_id):
        if pk is not None:
            roles[pk] = states.REQUESTER
    rows = (
        ThreadMessage.objects.filter(need=need)
        .select_related("author")
        .order_by("created_at", "id")
    )
    return [
        {
            "message": m,
            "author": m.author.name,
            "role": roles.get(m.author_id, "manager"),
            "role_label": THREAD_ROLE_LABELS[roles.get(m.author_id, "manager")],
            "mine": m.author_id == actor.pk,
        }
        for m in rows
    ]


def hold_status(need: Need) -> dict[str, Any] | None:
    """The points a need paid with points holds from its requester (frozen at accept): held,
    settled to the volunteer at confirmation, or released at a cancellation."""
    if need.hold_id is None:
        return None
    hold = Hold.objects.filter(pk=need.hold_id).first()
    if hold is None:
        return None
    if hold.released_at is None:
        state, label = "held", _("已冻结，验收后支付给志愿者")
    elif Transaction.objects.filter(idempotency_key=f"need:{need.pk}:pay").exists():
        state, label = "settled", _("已支付给志愿者")
    else:
        state, label = "released", _("已退回服务对象账户")
    return {
        "hold": hold,
        "state": state,
        "label": label,
        "amount": points_label(int(hold.amount)),
        "at": hold.released_at or hold.created_at,
    }


def _tracking(
    actor: Person, need: Need, holder: Assignment | None, may_manage: bool, viewer: bool
) -> dict[str, Any]:
    """What the page shows of tracking the service: the thread and its form to its members,
    the evidence (thumbnails, downloads) to the members and the upload form to the serving
    volunteer or a manager, the spot checks and their form to managers."""
    from huzhu.needs.actions.tracking import EVIDENCE_STATES, SPOT_CHECK_STATES, thread_role

    role = thread_role(actor, need)
    member = role is not None
    uploader = (holder is not None and holder.volunteer_id == actor.pk) or may_manage
    return {
        "thread_role": role,
        "thread": _thread(need, actor, holder) if member else [],
        "evidence": (
            list(
                Evidence.objects.filter(need=need)
                .select_related("uploaded_by")
                .order_by("created_at", "id")
            )
            if member
            else []
        ),
        "spot_checks": (
            list(
                SpotCheck.objects.filter(need=need)
                .select_related("manager")
                .order_by("created_at", "id")
            )
            if viewer
            else []
        ),
        "may_post": member,
        "may_upload": member and uploader and need.state in EVIDENCE_STATES,
        "may_spot_check": may_manage and need.state in SPOT_CHECK_STATES,
        "message_form": MessageForm(),
        "evidence_form": EvidenceForm(),
        "spot_check_form": SpotCheckForm(),
    }


def render_detail(
    request: HttpRequest, need: Need, status: int = 200, **bound: forms.Form
) -> HttpResponse:
    """The need detail page for the actor; ``bound`` replaces a blank form by one carrying
    the errors of a failed post (``cancel_form=…``)."""
    from huzhu.needs.suggest import suggest

    actor = actor_of(request)
    node = need.scope_node()
    requester = is_requester_party(actor, need)
    viewer = policy.can(actor, "needs.view", node)
    may_manage = policy.can(actor, "needs.manage", node)
    may_review = policy.can(actor, "needs.review", node)
    may_offer = policy.can(actor, "needs.offer", node)
    nxt = states.next_names(need.state)
    assignments = list(
        Assignment.objects.filter(need=need).select_related("volunteer").order_by("id")
    )
    mine = next((a for a in assignments if a.volunteer_id == actor.pk), None)
    holder = next((a for a in assignments if a.state in states.HOLDING_ASSIGNMENT_STATES), None)
    serving = mine is not None and mine.state == A.ACCEPTED
    context: dict[str, Any] = {
        "need": need,
        "row": need_row(need),
        "is_requester": requester,
        "viewer": viewer,
        "mine": mine,
        "serving": serving,
        # The place beyond the building only to those who need it: the requester, a manager,
        # and the volunteer who accepted the service.
        "show_address": requester or viewer or serving,
        "show_requester": viewer or serving,
        "holder": holder if (requester or viewer) else None,
        "assignments": assignments if viewer else [],
        "events": _events(need) if (requester or viewer) else [],
        "rating": getattr(need, "rating", None),
        "may_cancel": "cancel" in nxt and (requester or may_manage),
        "may_confirm": "confirm" in nxt and (requester or may_manage),
        "slip_required": not requester,
        "may_rate": "rate" in nxt and (requester or may_manage),
        "may_review": "approve" in nxt and may_review,
        "may_offer": "offer" in nxt and may_offer,
        "may_no_show": "no_show" in nxt and may_manage,
        "may_answer": mine is not None and mine.state == A.OFFERED and need.state == S.OFFERED,
        "may_check_in": serving and need.state == S.ACCEPTED,
        "may_check_out": serving
        and need.state == S.IN_SERVICE
        and mine is not None
        and mine.check_out_at is None,
        "checked_out": serving and mine is not None and mine.check_out_at is not None,
        "cancel_form": CancelForm(),
        "confirm_form": ConfirmForm(),
        "rate_form": RateForm(),
        "review_form": ReviewForm(),
        "decline_form": DeclineForm(),
        "no_show_form": NoShowForm(),
    }
    context.update(_tracking(actor, need, holder, may_manage, viewer))
    context["hold"] = hold_status(need) if (requester or viewer) else None
    context["hold_pending"] = need.state in (S.SUBMITTED, S.APPROVED, S.OFFERED)
    if requester and need.pay_with_points and need.state not in states.FINAL_STATES:
        _balance, _held, available = held_of(own_account(need.requester))
        context["requester_available"] = points_label(int(available))
    if context["may_offer"]:
        suggestions = suggest(actor, need)
        context["suggestions"] = suggestions
        context["offer_form"] = OfferForm(
            choices=[(s.volunteer_id, s.name) for s in suggestions if not s.already_asked]
        )
    context.update(bound)
    return render(request, "needs/need_detail.html", context, status=status)
