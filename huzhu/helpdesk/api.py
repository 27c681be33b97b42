"""Helpdesk API (居民问答; DOMAIN.md "Lockdown operations"). Operation ids are explicit
(``huzhu_helpdesk_api_<function>``).

Who: a resident ("helpdesk.ask") asks in their own community and sees and closes their own
questions; the members and leaders of the group a question is routed to and the branch head
("helpdesk.answer") take, answer, reassign and close it; "helpdesk.publish_faq" publishes an
answer as an FAQ and takes one down; "helpdesk.manage_rules" edits the routing rules.

Every write takes an idempotency key (header ``Idempotency-Key``, or the body field
``idempotency_key``): asking is idempotent by it (a replay answers 200 with the first
question), answering and publishing too; take, reassign, close and the FAQ switch are
idempotent by state.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.core.exceptions import PermissionDenied
from django.db.models import Q
from django.http import Http404, HttpRequest
from django.shortcuts import get_object_or_404
from django.utils.translation import gettext as _
from ninja import Field, Query, Router, Schema
from ninja.responses import Status as Reply

from huzhu.accounts import policy
from huzhu.accounts.api.schemas import KEY_FIELD, NO_NUL, Key, PathId
from huzhu.core.api import ERRORS, PageIn, PageMeta, actor_of, idempotency_key, paginate
from huzhu.core.errors import DomainError
from huzhu.helpdesk import actions, queries
from huzhu.helpdesk.actions import ANSWER_MAX, MANAGE_RULES, REASON_MAX, TEXT_MAX
from huzhu.helpdesk.models import FAQ, FAQVisibility, Question, QuestionState, RoutingRule
from huzhu.helpdesk.routing import split_keywords
from huzhu.orgs.models import Building, Community, Group

router = Router(tags=["helpdesk"])


# --- schemas ---------------------------------------------------------------------------------


class AskIn(Schema):
    text: str = Field(..., min_length=1, max_length=TEXT_MAX, pattern=NO_NUL)
    idempotency_key: Key | None = KEY_FIELD


class QuestionOut(Schema):
    id: int
    community_id: int
    building_id: int | None
    asker_id: int
    text: str
    category: str
    routed_to_id: int
    routed_to: str
    routed_by: str = Field(..., description="keyword / default / manual")
    matched_keywords: list[str]
    owner_id: int | None
    state: str
    state_label: str
    asked_at: dt.datetime
    answer_due_at: dt.datetime
    overdue: bool
    escalation_level: int
    answer: str
    answered_at: dt.datetime | None
    answered_by_id: int | None
    faq_id: int | None


class QuestionPage(Schema):
    items: list[QuestionOut]
    meta: PageMeta


class QueueQuery(PageIn):
    state: str = Field("", max_length=10, description="new / assigned / answered / closed")
    overdue: bool = Field(False, description="只看超时未答复的问题")
    q: str = Field("", max_length=100, pattern=NO_NUL, description="搜索问题和答复")


class TakeIn(Schema):
    idempotency_key: Key | None = KEY_FIELD


class AnswerIn(Schema):
    answer: str = Field(..., min_length=1, max_length=ANSWER_MAX, pattern=NO_NUL)
    idempotency_key: Key | None = KEY_FIELD


class ReassignIn(Schema):
    group_id: int = Field(..., ge=1)
    reason: str = Field(..., min_length=1, max_length=REASON_MAX, pattern=NO_NUL)
    idempotency_key: Key | None = KEY_FIELD


class CloseIn(Schema):
    reason: str = Field("", max_length=REASON_MAX, pattern=NO_NUL)
    idempotency_key: Key | None = KEY_FIELD


class PublishIn(Schema):
    question: str | None = Field(None, min_length=1, max_length=TEXT_MAX, pattern=NO_NUL)
    answer: str | None = Field(None, min_length=1, max_length=ANSWER_MAX, pattern=NO_NUL)
    visibility: str = Field(FAQVisibility.COMMUNITY.value, description="community / staff")
    building_ids: list[int] = Field(default_factory=list, max_length=2000)
    idempotency_key: Key | None = KEY_FIELD


class FaqOut(Schema):
    id: int
    community_id: int
    group_id: int | None
    question: str
    answer: str
    category: str
    visibility: str
    active: bool
    helpful_count: int
    published_at: dt.datetime
    source_question_id: int | None


class FaqPage(Schema):
    items: list[FaqOut]
    meta: PageMeta


class FaqQuery(PageIn):
    q: str = Field("", max_length=100, pattern=NO_NUL, description="搜索")


class SuggestQuery(Schema):
    text: str = Field(..., min_length=1, max_length=TEXT_MAX, pattern=NO_NUL)
    limit: int = Field(5, ge=1, le=20)


class FaqActiveIn(Schema):
    active: bool
    idempotency_key: Key | None = KEY_FIELD


class RuleIn(Schema):
    category: str = Field(..., min_length=1, max_length=50, pattern=NO_NUL)
    keywords: list[str] = Field(default_factory=list, max_length=200, description="关键词")
    group_id: int = Field(..., ge=1)
    priority: int = Field(100, ge=0, le=1000)
    is_default: bool = False
    active: bool = True
    idempotency_key: Key | None = KEY_FIELD


class RuleCreateIn(RuleIn):
    community_id: int = Field(..., ge=1)


class RuleOut(Schema):
    id: int
    community_id: int
    category: str
    keywords: list[str]
    group_id: int
    group: str
    priority: int
    is_default: bool
    active: bool


class RulePage(Schema):
    items: list[RuleOut]
    meta: PageMeta


class RulesQuery(PageIn):
    community_id: int | None = Field(None, ge=1)


# --- output ----------------------------------------------------------------------------------


def _question_out(q: Question) -> QuestionOut:
    try:
        faq: int | None = q.faq.pk
    except FAQ.DoesNotExist:
        faq = None
    return QuestionOut(
        id=q.pk,
        community_id=q.community_id,
        building_id=q.building_id,
        asker_id=q.asker_id,
        text=q.text,
        category=q.category,
        routed_to_id=q.routed_to_id,
        routed_to=str(q.routed_to),
        routed_by=q.routed_by,
        matched_keywords=[k for k in q.matched_keywords.splitlines() if k],
        owner_id=q.owner_id,
        state=q.state,
        state_label=str(QuestionState(q.state).label),
        asked_at=q.asked_at,
        answer_due_at=q.answer_due_at,
        overdue=queries.overdue(q),
        escalation_level=q.escalation_level,
        answer=q.answer,
        answered_at=q.answered_at,
        answered_by_id=q.answered_by_id,
        faq_id=faq,
    )


def _faq_out(f: FAQ) -> FaqOut:
    return FaqOut(
        id=f.pk,
        community_id=f.community_id,
        group_id=f.group_id,
        question=f.question,
        answer=f.answer,
        category=f.category,
        visibility=f.visibility,
        active=f.active,
        helpful_count=f.helpful_count,
        published_at=f.published_at,
        source_question_id=f.source_question_id,
    )


def _rule_out(r: RoutingRule) -> RuleOut:
    return RuleOut(
        id=r.pk,
        community_id=r.community_id,
        category=r.category,
        keywords=r.keyword_list,
        group_id=r.group_id,
        group=str(r.group),
        priority=r.priority,
        is_default=r.is_default,
        active=r.active,
    )


def _faq(actor: Any, faq_id: int) -> FAQ:
    faq = get_object_or_404(FAQ.objects.select_related("community", "group"), pk=faq_id)
    if not policy.in_scope(actor, faq):
        raise Http404
    return faq


def _group(question: Question, group_id: int) -> Group:
    group = Group.objects.filter(pk=group_id).first()
    if group is None or group.community_id != question.community_id:
        raise DomainError(
            "helpdesk.reassign.other_community",
            _("只能转派给本社区的小组。"),
            details={"field": "group_id"},
        )
    return group


# --- questions -------------------------------------------------------------------------------


@router.post(
    "helpdesk/questions",
    response={200: QuestionOut, 201: QuestionOut, **ERRORS},
    operation_id="huzhu_helpdesk_api_ask",
)
def ask(request: HttpRequest, payload: AskIn) -> Reply[QuestionOut]:
    """Ask a question in my community ("helpdesk.ask"): routed by keyword to the responsible
    group (else the default group). 201; a replay of the key answers 200."""
    actor = actor_of(request)
    key = idempotency_key(request, payload.idempotency_key)
    replay = Question.objects.filter(asker=actor, ask_key=key.strip()).exists()
    question = actions.ask_question(actor=actor, text=payload.text, key=key)
    return Reply(200 if replay else 201, _question_out(question))


@router.get(
    "helpdesk/questions/mine",
    response={200: QuestionPage, **ERRORS},
    operation_id="huzhu_helpdesk_api_my_questions",
)
def my_questions(request: HttpRequest, q: Query[PageIn]) -> QuestionPage:
    """The questions I asked, newest first."""
    actor = actor_of(request)
    rows, meta = paginate(queries.my_questions(actor), q)
    return QuestionPage(items=[_question_out(x) for x in rows], meta=meta)


@router.get(
    "helpdesk/questions",
    response={200: QuestionPage, **ERRORS},
    operation_id="huzhu_helpdesk_api_queue",
)
def queue(request: HttpRequest, q: Query[QueueQuery]) -> QuestionPage:
    """The questions I may answer ("helpdesk.answer": my groups', or my community's), by
    deadline; empty for everybody else."""
    actor = actor_of(request)
    if q.state and q.state not in QuestionState.values:
        raise DomainError("helpdesk.state.invalid", _("状态无效。"), details={"field": "state"})
    qs = queries.queue(actor, state=q.state, overdue=q.overdue, q=q.q)
    rows, meta = paginate(qs, q)
    return QuestionPage(items=[_question_out(x) for x in rows], meta=meta)


@router.get(
    "helpdesk/questions/{int:question_id}",
    response={200: QuestionOut, **ERRORS},
    operation_id="huzhu_helpdesk_api_get_question",
)
def get_question(request: HttpRequest, question_id: PathId) -> QuestionOut:
    """One question: its asker and whoever may answer it."""
    return _question_out(queries.visible_question(actor_of(request), question_id))


@router.post(
    "helpdesk/questions/{int:question_id}/take",
    response={200: QuestionOut, **ERRORS},
    operation_id="huzhu_helpdesk_api_take",
)
def take(request: HttpRequest, question_id: PathId, payload: TakeIn) -> QuestionOut:
    """Take the question: I own its answer."""
    actor = actor_of(request)
    idempotency_key(request, payload.idempotency_key)
    question = queries.visible_question(actor, question_id)
    return _question_out(actions.take_question(actor=actor, question=question))


@router.post(
    "helpdesk/questions/{int:question_id}/answer",
    response={200: QuestionOut, **ERRORS},
    operation_id="huzhu_helpdesk_api_answer",
)
def answer(request: HttpRequest, question_id: PathId, payload: AnswerIn) -> QuestionOut:
    """Answer the question; the asker is told. 409 when it is no longer open."""
    actor = actor_of(request)
    key = idempotency_key(request, payload.idempotency_key)
    question = queries.visible_question(actor, question_id)
    return _question_out(
        actions.answer_question(actor=actor, question=question, answer=payload.answer, key=key)
    )


@router.post(
    "helpdesk/questions/{int:question_id}/reassign",
    response={200: QuestionOut, **ERRORS},
    operation_id="huzhu_helpdesk_api_reassign",
)
def reassign(request: HttpRequest, question_id: PathId, payload: ReassignIn) -> QuestionOut:
    """Hand the question to another group of the community, with a reason."""
    actor = actor_of(request)
    idempotency_key(request, payload.idempotency_key)
    question = queries.visible_question(actor, question_id)
    policy.require(actor, actions.ANSWER, question)
    group = _group(question, payload.group_id)
    return _question_out(
        actions.reassign_question(
            actor=actor, question=question, group=group, reason=payload.reason
        )
    )


@router.post(
    "helpdesk/questions/{int:question_id}/close",
    response={200: QuestionOut, **ERRORS},
    operation_id="huzhu_helpdesk_api_close",
)
def close(request: HttpRequest, question_id: PathId, payload: CloseIn) -> QuestionOut:
    """Close the question (the asker, or the group with a reason when it was never answered)."""
    actor = actor_of(request)
    idempotency_key(request, payload.idempotency_key)
    question = queries.visible_question(actor, question_id)
    return _question_out(
        actions.close_question(actor=actor, question=question, reason=payload.reason)
    )


@router.post(
    "helpdesk/questions/{int:question_id}/publish",
    response={200: FaqOut, 201: FaqOut, **ERRORS},
    operation_id="huzhu_helpdesk_api_publish",
)
def publish(request: HttpRequest, question_id: PathId, payload: PublishIn) -> Reply[FaqOut]:
    """Publish the answered question as an FAQ ("helpdesk.publish_faq"). 201; publishing the
    same question again answers 200 with its FAQ."""
    actor = actor_of(request)
    key = idempotency_key(request, payload.idempotency_key)
    question = queries.visible_question(actor, question_id)
    replay = FAQ.objects.filter(source_question=question).exists()
    buildings = list(Building.objects.filter(pk__in=payload.building_ids))
    if len(buildings) != len(set(payload.building_ids)):
        raise DomainError(
            "helpdesk.faq.buildings",
            _("只能选择本社区的楼栋。"),
            details={"field": "building_ids"},
        )
    faq = actions.publish_faq(
        actor=actor,
        question=question,
        key=key,
        text=payload.question,
        answer=payload.answer,
        visibility=payload.visibility,
        buildings=buildings,
    )
    return Reply(200 if replay else 201, _faq_out(faq))


# --- FAQ -------------------------------------------------------------------------------------


@router.get(
    "helpdesk/faq", response={200: FaqPage, **ERRORS}, operation_id="huzhu_helpdesk_api_faq"
)
def faq_list(request: HttpRequest, q: Query[FaqQuery]) -> FaqPage:
    """My community's FAQ (residents: what is published for their building; publishers: all)."""
    actor = actor_of(request)
    community = actor.community
    qs = queries.faq_list(actor, community, q.q) if community is not None else FAQ.objects.none()
    rows, meta = paginate(qs, q)
    return FaqPage(items=[_faq_out(f) for f in rows], meta=meta)


@router.get(
    "helpdesk/faq/suggest",
    response={200: list[FaqOut], **ERRORS},
    operation_id="huzhu_helpdesk_api_suggest_faq",
)
def suggest_faq(request: HttpRequest, q: Query[SuggestQuery]) -> list[FaqOut]:
    """The FAQ entries closest to a question being written (shown before it is sent)."""
    actor = actor_of(request)
    if actor.community is None:
        return []
    building_id = actor.household.building_id if actor.household is not None else None
    found = queries.suggest_faq(actor.community, q.text, building_id, limit=q.limit)
    return [_faq_out(f) for f in found]


@router.post(
    "helpdesk/faq/{int:faq_id}/helped",
    response={200: FaqOut, **ERRORS},
    operation_id="huzhu_helpdesk_api_faq_helped",
)
def faq_helped(request: HttpRequest, faq_id: PathId, payload: TakeIn) -> FaqOut:
    """“This answered my question”: counted on the FAQ."""
    actor = actor_of(request)
    idempotency_key(request, payload.idempotency_key)
    return _faq_out(actions.faq_helped(actor=actor, faq=_faq(actor, faq_id)))


@router.post(
    "helpdesk/faq/{int:faq_id}/active",
    response={200: FaqOut, **ERRORS},
    operation_id="huzhu_helpdesk_api_faq_active",
)
def faq_active(request: HttpRequest, faq_id: PathId, payload: FaqActiveIn) -> FaqOut:
    """Take an FAQ down or put it back up ("helpdesk.publish_faq")."""
    actor = actor_of(request)
    idempotency_key(request, payload.idempotency_key)
    faq = _faq(actor, faq_id)
    return _faq_out(actions.set_faq_active(actor=actor, faq=faq, active=payload.active))


# --- routing rules ---------------------------------------------------------------------------


@router.get(
    "helpdesk/rules", response={200: RulePage, **ERRORS}, operation_id="huzhu_helpdesk_api_rules"
)
def rules(request: HttpRequest, q: Query[RulesQuery]) -> RulePage:
    """The routing rules of the communities where I manage them (or of ``community_id``)."""
    actor = actor_of(request)
    if q.community_id is not None:
        community = get_object_or_404(Community, pk=q.community_id)
        policy.require(actor, MANAGE_RULES, community)
        scope = Q(community=community)
    else:
        if not policy.can_anywhere(actor, MANAGE_RULES):
            raise PermissionDenied(MANAGE_RULES)
        scope = Q(community__in=policy.communities_for(actor, MANAGE_RULES))
    qs = (
        RoutingRule.objects.filter(scope)
        .select_related("group")
        .order_by("community_id", "-priority", "pk")
    )
    rows, meta = paginate(qs, q)
    return RulePage(items=[_rule_out(r) for r in rows], meta=meta)


def _rule_group(community_id: int, group_id: int) -> Group:
    group = Group.objects.filter(pk=group_id, community_id=community_id).first()
    if group is None:
        raise DomainError(
            "helpdesk.rule.group",
            _("只能选择本社区的小组。"),
            details={"field": "group_id"},
        )
    return group


@router.post(
    "helpdesk/rules",
    response={201: RuleOut, 200: RuleOut, **ERRORS},
    operation_id="huzhu_helpdesk_api_create_rule",
)
def create_rule(request: HttpRequest, payload: RuleCreateIn) -> Reply[RuleOut]:
    """A new routing rule ("helpdesk.manage_rules"). A replay (same category, same values)
    answers 200 with the rule; another rule of that category is a 409."""
    actor = actor_of(request)
    idempotency_key(request, payload.idempotency_key)
    community = get_object_or_404(Community, pk=payload.community_id)
    policy.require(actor, MANAGE_RULES, community)
    group = _rule_group(community.pk, payload.group_id)
    values: dict[str, Any] = {
        "category": payload.category,
        "keywords": "\n".join(payload.keywords),
        "group": group,
        "priority": payload.priority,
        "is_default": payload.is_default,
        "active": payload.active,
    }
    existing = (
        RoutingRule.objects.filter(community=community, category=payload.category.strip())
        .select_related("group")
        .first()
    )
    if existing is not None and (
        existing.keyword_list == split_keywords(values["keywords"])
        and existing.group_id == group.pk
        and existing.priority == payload.priority
        and existing.is_default == payload.is_default
        and existing.active == payload.active
    ):
        return Reply(200, _rule_out(existing))  # a replay of the same rule
    rule = actions.save_rule(actor=actor, community=community, **values)
    return Reply(201, _rule_out(rule))


@router.post(
    "helpdesk/rules/{int:rule_id}",
    response={200: RuleOut, **ERRORS},
    operation_id="huzhu_helpdesk_api_update_rule",
)
def update_rule(request: HttpRequest, rule_id: PathId, payload: RuleIn) -> RuleOut:
    """Change a routing rule: keywords, group, priority, default, active."""
    actor = actor_of(request)
    idempotency_key(request, payload.idempotency_key)
    rule = get_object_or_404(RoutingRule.objects.select_related("community"), pk=rule_id)
    policy.require(actor, MANAGE_RULES, rule)
    group = _rule_group(rule.community_id, payload.group_id)
    saved = actions.save_rule(
        actor=actor,
        community=rule.community,
        rule=rule,
        category=payload.category,
        keywords="\n".join(payload.keywords),
        group=group,
        priority=payload.priority,
        is_default=payload.is_default,
        active=payload.active,
    )
    return _rule_out(saved)
