"""Helpdesk pages (居民问答; Chinese first, phone-sized, large-text friendly): 我要提问 with the
matching FAQ shown first, 我的问题, the group's 问题队列 with filters, a question's page with
take / answer / reassign / close / publish-as-FAQ, 常见问题, and the 分派规则 editor.

Pages call the same actions as the API: 404 outside the scope, 403 inside it without the
right; a broken rule becomes a message on the page the form came from."""

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
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path, reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from huzhu.accounts import policy
from huzhu.accounts.models import Person
from huzhu.core.errors import DomainError
from huzhu.helpdesk import actions, queries, states
from huzhu.helpdesk.actions import ANSWER, ASK, MANAGE_RULES, PUBLISH
from huzhu.helpdesk.forms import (
    AnswerForm,
    AskForm,
    CloseForm,
    PublishForm,
    QueueFilterForm,
    ReassignForm,
    RuleForm,
    SearchForm,
)
from huzhu.helpdesk.models import FAQ, Question, QuestionState, RoutingRule
from huzhu.orgs.forms import add_domain_error
from huzhu.orgs.models import Building, Community, Group

app_name = "helpdesk"

_BADGE = {
    QuestionState.NEW: "warn",
    QuestionState.ASSIGNED: "warn",
    QuestionState.ANSWERED: "ok",
    QuestionState.CLOSED: "",
}


EVENT_LABELS = {
    "asked": gettext_lazy("提问"),
    "taken": gettext_lazy("认领"),
    "reassigned": gettext_lazy("转派"),
    "answered": gettext_lazy("答复"),
    "escalated": gettext_lazy("超时上报"),
    "published": gettext_lazy("发布为常见问题"),
    "closed": gettext_lazy("关闭"),
}


def _actor(request: HttpRequest) -> Person:
    user = request.user
    assert isinstance(user, Person)
    return user


def _building_id(actor: Person) -> int | None:
    household = actor.household
    return household.building_id if household is not None else None


def _row(question: Question) -> dict[str, Any]:
    return {
        "q": question,
        "state_label": QuestionState(question.state).label,
        "badge": _BADGE.get(QuestionState(question.state), ""),
        "overdue": queries.overdue(question),
    }


def _act(request: HttpRequest, call: Callable[[], Any], done: str) -> bool:
    """Run an action; a broken rule becomes an error message (a 403 rule a 403 page)."""
    try:
        call()
    except DomainError as exc:
        if exc.status == 403:
            raise PermissionDenied(exc.code) from None
        messages.error(request, str(exc.message))
        return False
    messages.success(request, done)
    return True


def _form_error(request: HttpRequest, form: forms.Form) -> None:
    for errors in form.errors.values():
        messages.error(request, str(errors[0]))
        return


def _detail(pk: int) -> HttpResponseRedirect:
    return redirect(reverse("helpdesk:question", kwargs={"pk": pk}))


# --- asking ----------------------------------------------------------------------------------


@login_required
def ask(request: HttpRequest) -> HttpResponse:
    """我要提问: the matching FAQ first; "仍要提交" sends the question to the responsible group."""
    actor = _actor(request)
    community = actor.community
    if community is None:
        raise PermissionDenied(ASK)
    policy.require(actor, ASK, community)
    building_id = _building_id(actor)
    suggestions: list[FAQ] = []
    if request.method == "POST":
        form = AskForm(request.POST)
        if form.is_valid():
            text = form.cleaned_data["text"]
            if request.POST.get("step") != "submit":
                suggestions = queries.suggest_faq(community, text, building_id)
            if not suggestions:
                try:
                    question = actions.ask_question(
                        actor=actor, text=text, key=form.cleaned_data["key"]
                    )
                except DomainError as exc:
                    if exc.status == 403:
                        raise PermissionDenied(exc.code) from None
                    add_domain_error(form, exc)
                else:
                    messages.success(
                        request,
                        _("问题已提交给%(group)s，我们会尽快答复您。")
                        % {"group": question.routed_to},
                    )
                    return _detail(question.pk)
    else:
        form = AskForm(initial={"key": uuid.uuid4().hex, "text": request.GET.get("q", "")[:1000]})
    popular = [] if suggestions else queries.faq_for(community, building_id, limit=5)
    return render(
        request,
        "helpdesk/ask.html",
        {"form": form, "suggestions": suggestions, "popular": popular},
    )


@login_required
def my_questions(request: HttpRequest) -> HttpResponse:
    """我的问题: the questions I asked, newest first."""
    actor = _actor(request)
    page = Paginator(queries.my_questions(actor), settings.HUZHU_PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    rows = [_row(q) for q in page.object_list]
    return render(request, "helpdesk/my_questions.html", {"page": page, "rows": rows})


# --- the group's queue -----------------------------------------------------------------------


@login_required
def queue(request: HttpRequest) -> HttpResponse:
    """问题队列: the questions routed to my groups, by deadline; filters and search."""
    actor = _actor(request)
    if not policy.can_anywhere(actor, ANSWER):
        raise PermissionDenied(ANSWER)
    form = QueueFilterForm(request.GET or None)
    data = form.cleaned_data if form.is_bound and form.is_valid() else {}
    qs = queries.queue(
        actor,
        state=data.get("state", ""),
        overdue=bool(data.get("overdue")),
        q=data.get("q", ""),
    )
    page = Paginator(qs, settings.HUZHU_PAGE_SIZE).get_page(request.GET.get("page"))
    rows = [_row(q) for q in page.object_list]
    filtered = any(data.get(k) for k in ("state", "overdue", "q"))
    return render(
        request,
        "helpdesk/queue.html",
        {"form": form, "page": page, "rows": rows, "filtered": filtered},
    )


@login_required
def question_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """One question: its routing, history and answer; for the group the take / answer /
    reassign / close forms, and publishing the answer as an FAQ."""
    actor = _actor(request)
    question = queries.visible_question(actor, pk)
    may_answer = queries.may_answer(actor, question)
    may_publish = policy.can(actor, PUBLISH, question)
    faq = FAQ.objects.filter(source_question=question).first()
    context: dict[str, Any] = {
        "row": _row(question),
        "q": question,
        "events": [
            {
                "at": e.at,
                "label": EVENT_LABELS.get(e.kind, e.kind),
                "actor": e.actor,
                "group": e.group,
                "note": e.note if e.kind != "answered" else "",
            }
            for e in question.events.select_related("actor", "group").order_by("at", "pk")
        ],
        "may_answer": may_answer and question.is_open,
        "may_take": may_answer
        and states.allowed(question.state, "take")
        and question.owner_id != actor.pk,
        "may_close": (may_answer or question.asker_id == actor.pk)
        and states.allowed(question.state, "close"),
        "is_asker": question.asker_id == actor.pk,
        "faq": faq,
        "keywords": [k for k in question.matched_keywords.splitlines() if k],
    }
    if context["may_answer"]:
        context["answer_form"] = AnswerForm(initial={"key": uuid.uuid4().hex})
        context["reassign_form"] = ReassignForm(
            groups=Group.objects.filter(community_id=question.community_id).exclude(
                pk=question.routed_to_id
            )
        )
    if context["may_close"]:
        context["close_form"] = CloseForm()
    if may_publish and faq is None and states.allowed(question.state, "publish"):
        context["publish_form"] = PublishForm(
            initial={
                "question": question.text,
                "answer": question.answer,
                "key": uuid.uuid4().hex,
            },
            buildings=Building.objects.filter(community_id=question.community_id),
        )
    return render(request, "helpdesk/question_detail.html", context)


@login_required
@require_POST
def question_take(request: HttpRequest, pk: int) -> HttpResponse:
    actor = _actor(request)
    question = queries.visible_question(actor, pk)
    _act(
        request,
        lambda: actions.take_question(actor=actor, question=question),
        _("您已认领这个问题。"),
    )
    return _detail(pk)


@login_required
@require_POST
def question_answer(request: HttpRequest, pk: int) -> HttpResponse:
    actor = _actor(request)
    question = queries.visible_question(actor, pk)
    policy.require(actor, ANSWER, question)
    form = AnswerForm(request.POST)
    if not form.is_valid():
        _form_error(request, form)
        return _detail(pk)
    _act(
        request,
        lambda: actions.answer_question(
            actor=actor,
            question=question,
            answer=form.cleaned_data["answer"],
            key=form.cleaned_data["key"],
        ),
        _("已答复，提问人会收到通知。"),
    )
    return _detail(pk)


@login_required
@require_POST
def question_reassign(request: HttpRequest, pk: int) -> HttpResponse:
    actor = _actor(request)
    question = queries.visible_question(actor, pk)
    policy.require(actor, ANSWER, question)
    form = ReassignForm(
        request.POST, groups=Group.objects.filter(community_id=question.community_id)
    )
    if not form.is_valid():
        _form_error(request, form)
        return _detail(pk)
    group = form.cleaned_data["group"]
    _act(
        request,
        lambda: actions.reassign_question(
            actor=actor, question=question, group=group, reason=form.cleaned_data["reason"]
        ),
        _("已转派给%(group)s。") % {"group": group},
    )
    return _detail(pk)


@login_required
@require_POST
def question_close(request: HttpRequest, pk: int) -> HttpResponse:
    actor = _actor(request)
    question = queries.visible_question(actor, pk)
    form = CloseForm(request.POST)
    reason = form.cleaned_data["reason"] if form.is_valid() else ""
    _act(
        request,
        lambda: actions.close_question(actor=actor, question=question, reason=reason),
        _("问题已关闭。"),
    )
    return _detail(pk)


@login_required
@require_POST
def question_publish(request: HttpRequest, pk: int) -> HttpResponse:
    actor = _actor(request)
    question = queries.visible_question(actor, pk)
    policy.require(actor, PUBLISH, question)
    form = PublishForm(
        request.POST, buildings=Building.objects.filter(community_id=question.community_id)
    )
    if not form.is_valid():
        _form_error(request, form)
        return _detail(pk)
    data = form.cleaned_data
    _act(
        request,
        lambda: actions.publish_faq(
            actor=actor,
            question=question,
            text=data["question"],
            answer=data["answer"],
            visibility=data["visibility"],
            buildings=list(data["buildings"]),
            key=data["key"],
        ),
        _("已发布为常见问题。"),
    )
    return _detail(pk)


# --- FAQ -------------------------------------------------------------------------------------


@login_required
def faq_list(request: HttpRequest) -> HttpResponse:
    """常见问题: what is published for my community and building; search."""
    actor = _actor(request)
    community = actor.community
    form = SearchForm(request.GET or None)
    q = form.cleaned_data.get("q", "") if form.is_bound and form.is_valid() else ""
    qs = queries.faq_list(actor, community, q) if community is not None else FAQ.objects.none()
    page = Paginator(qs, settings.HUZHU_PAGE_SIZE).get_page(request.GET.get("page"))
    rows = [{"faq": f, "may_publish": policy.can(actor, PUBLISH, f)} for f in page.object_list]
    return render(
        request,
        "helpdesk/faq_list.html",
        {
            "form": form,
            "page": page,
            "rows": rows,
            "q": q,
            "may_ask": community is not None and policy.can(actor, ASK, community),
        },
    )


def _faq(actor: Person, pk: int) -> FAQ:
    faq = get_object_or_404(FAQ.objects.select_related("community", "group"), pk=pk)
    if not policy.in_scope(actor, faq):
        raise Http404
    return faq


@login_required
@require_POST
def faq_helped(request: HttpRequest, pk: int) -> HttpResponse:
    """“这解决了我的问题”: the asker stops at the FAQ."""
    actor = _actor(request)
    faq = _faq(actor, pk)
    _act(
        request,
        lambda: actions.faq_helped(actor=actor, faq=faq),
        _("很高兴帮到您。如还有疑问，可以继续提问。"),
    )
    return redirect(reverse("helpdesk:faq"))


@login_required
@require_POST
def faq_active(request: HttpRequest, pk: int) -> HttpResponse:
    """Take an FAQ down (active=0) or put it back up (active=1)."""
    actor = _actor(request)
    faq = _faq(actor, pk)
    policy.require(actor, PUBLISH, faq)
    active = request.POST.get("active") == "1"
    _act(
        request,
        lambda: actions.set_faq_active(actor=actor, faq=faq, active=active),
        _("常见问题已上线。") if active else _("常见问题已下线。"),
    )
    return redirect(reverse("helpdesk:faq"))


# --- routing rules ---------------------------------------------------------------------------


def _rule_form_values(form: RuleForm) -> dict[str, Any]:
    data = form.cleaned_data
    return {
        "category": data["category"],
        "keywords": data["keywords"],
        "group": data["group"],
        "priority": data["priority"],
        "is_default": data["is_default"],
        "active": data["active"],
    }


@login_required
def rules(request: HttpRequest) -> HttpResponse:
    """分派规则: the community's categories and keywords → groups; a new rule."""
    actor = _actor(request)
    if not policy.can_anywhere(actor, MANAGE_RULES):
        raise PermissionDenied(MANAGE_RULES)
    mine = policy.communities_for(actor, MANAGE_RULES).order_by("pk")
    wanted = request.GET.get("community", "")
    community: Community | None
    if wanted.isdigit():
        community = get_object_or_404(Community, pk=int(wanted))
        policy.require(actor, MANAGE_RULES, community)
    else:
        community = mine.first()
    if community is None:
        raise PermissionDenied(MANAGE_RULES)
    groups = Group.objects.filter(community=community)
    if request.method == "POST":
        form = RuleForm(request.POST, groups=groups)
        if form.is_valid():
            try:
                actions.save_rule(actor=actor, community=community, **_rule_form_values(form))
            except DomainError as exc:
                if exc.status == 403:
                    raise PermissionDenied(exc.code) from None
                add_domain_error(form, exc)
            else:
                messages.success(request, _("分派规则已保存。"))
                return redirect(f"{reverse('helpdesk:rules')}?community={community.pk}")
    else:
        form = RuleForm(groups=groups)
    rows = RoutingRule.objects.filter(community=community).select_related("group")
    default_name = getattr(settings, "HUZHU_HELPDESK_DEFAULT_GROUP", actions.DEFAULT_GROUP_NAME)
    return render(
        request,
        "helpdesk/rules.html",
        {
            "form": form,
            "rules": rows,
            "community": community,
            "communities": mine,
            "default_name": default_name,
        },
    )


@login_required
def rule_edit(request: HttpRequest, pk: int) -> HttpResponse:
    actor = _actor(request)
    rule = get_object_or_404(RoutingRule.objects.select_related("community", "group"), pk=pk)
    policy.require(actor, MANAGE_RULES, rule)
    groups = Group.objects.filter(community_id=rule.community_id)
    if request.method == "POST":
        form = RuleForm(request.POST, groups=groups)
        if form.is_valid():
            try:
                actions.save_rule(
                    actor=actor, community=rule.community, rule=rule, **_rule_form_values(form)
                )
            except DomainError as exc:
                if exc.status == 403:
                    raise PermissionDenied(exc.code) from None
                add_domain_error(form, exc)
            else:
                messages.success(request, _("分派规则已保存。"))
                return redirect(f"{reverse('helpdesk:rules')}?community={rule.community_id}")
    else:
        form = RuleForm(
            groups=groups,
            initial={
                "category": rule.category,
                "keywords": rule.keywords,
                "group": rule.group_id,
                "priority": rule.priority,
                "is_default": rule.is_default,
                "active": rule.active,
            },
        )
    return render(request, "helpdesk/rule_form.html", {"form": form, "rule": rule})


urlpatterns = [
    path("", ask, name="ask"),
    path("mine/", my_questions, name="mine"),
    path("queue/", queue, name="queue"),
    path("questions/<int:pk>/", question_detail, name="question"),
    path("questions/<int:pk>/take/", question_take, name="question_take"),
    path("questions/<int:pk>/answer/", question_answer, name="question_answer"),
    path("questions/<int:pk>/reassign/", question_reassign, name="question_reassign"),
    path("questions/<int:pk>/close/", question_close, name="question_close"),
    path("questions/<int:pk>/publish/", question_publish, name="question_publish"),
    path("faq/", faq_list, name="faq"),
    path("faq/<int:pk>/helped/", faq_helped, name="faq_helped"),
    path("faq/<int:pk>/active/", faq_active, name="faq_active"),
    path("rules/", rules, name="rules"),
    path("rules/<int:pk>/", rule_edit, name="rule_edit"),
]
