"""Reads of the helpdesk: the FAQ of a community or building (also for the per-building status
board), FAQ suggestions for a question being asked, my questions, a group's queue."""

from __future__ import annotations

from typing import Any

from django.db.models import Q, QuerySet
from django.shortcuts import get_object_or_404

from huzhu.accounts import policy
from huzhu.accounts.models import Person
from huzhu.core import clock
from huzhu.helpdesk.actions import ANSWER, PUBLISH
from huzhu.helpdesk.models import FAQ, OPEN_STATES, FAQVisibility, Question
from huzhu.helpdesk.routing import FaqEntry, rank_faq
from huzhu.orgs.models import Building, Community

SUGGEST_POOL = 500  # the newest active entries a suggestion is ranked among


def _public_faq(community: Community | int, building: Building | int | None) -> QuerySet[FAQ]:
    community_id = community if isinstance(community, int) else community.pk
    qs = FAQ.objects.filter(
        community_id=community_id, active=True, visibility=FAQVisibility.COMMUNITY
    )
    if building is None:
        return qs.filter(buildings__isnull=True)
    building_id = building if isinstance(building, int) else building.pk
    return qs.filter(Q(buildings__isnull=True) | Q(buildings__pk=building_id)).distinct()


def faq_for(
    community: Community | int, building: Building | int | None = None, limit: int = 10
) -> list[FAQ]:
    """The community's published FAQ that residents see — all of the community's, plus those
    for ``building`` when given — newest first, at most ``limit`` (for the per-building status
    board). One query."""
    return list(_public_faq(community, building).order_by("-published_at", "-pk")[:limit])


def suggest_faq(
    community: Community, text: str, building: Building | int | None = None, limit: int = 5
) -> list[FAQ]:
    """The FAQ entries closest to ``text`` (shown to the asker before the question is sent)."""
    pool = list(
        _public_faq(community, building)
        .order_by("-published_at", "-pk")
        .only("pk", "question", "category", "answer", "helpful_count")[:SUGGEST_POOL]
    )
    ranked = rank_faq(text, [FaqEntry(f.pk, f.question, f.category) for f in pool], limit=limit)
    by_id = {f.pk: f for f in pool}
    return [by_id[faq_id] for faq_id, _score in ranked]


def faq_list(actor: Person, community: Community, q: str = "") -> QuerySet[FAQ]:
    """The FAQ page: residents see what is published for them (their building); publishers see
    every entry of the community, inactive and staff-only ones too."""
    if (
        policy.can(actor, PUBLISH, community)
        or policy.visible_to(actor, PUBLISH, FAQ.objects.filter(community=community)).exists()
    ):
        qs = FAQ.objects.filter(community=community)
    else:
        building_id = actor.household.building_id if actor.household is not None else None
        qs = _public_faq(community, building_id)
    if q:
        qs = qs.filter(Q(question__icontains=q) | Q(answer__icontains=q) | Q(category__icontains=q))
    return qs.select_related("group").order_by("-published_at", "-pk")


def my_questions(actor: Person) -> QuerySet[Question]:
    return (
        Question.objects.filter(asker=actor)
        .select_related("routed_to", "owner", "faq")
        .order_by("-asked_at", "-pk")
    )


def queue(
    actor: Person, *, state: str = "", overdue: bool = False, q: str = ""
) -> QuerySet[Question]:
    """The questions the actor may answer (their groups', or all of their community's for a
    branch head), open first by deadline."""
    qs = policy.visible_to(actor, ANSWER, Question.objects.all())
    if state:
        qs = qs.filter(state=state)
    if overdue:
        qs = qs.filter(state__in=OPEN_STATES, answer_due_at__lte=clock.now())
    if q:
        qs = qs.filter(Q(text__icontains=q) | Q(category__icontains=q) | Q(answer__icontains=q))
    return qs.select_related("routed_to", "owner", "building", "asker", "faq").order_by(
        "answer_due_at", "pk"
    )


def may_answer(actor: Person, question: Question) -> bool:
    return policy.can(actor, ANSWER, question)


def visible_question(actor: Person, pk: int) -> Question:
    """The question for its asker and for whoever may answer it (404 outside the scope, 403
    inside it otherwise)."""
    question = get_object_or_404(
        Question.objects.select_related(
            "community", "routed_to", "owner", "asker", "building", "answered_by", "faq"
        ),
        pk=pk,
    )
    if question.asker_id != actor.pk:
        policy.require(actor, ANSWER, question)
    return question


def overdue(question: Question) -> bool:
    return question.is_open and question.answer_due_at <= clock.now()


def question_row(question: Question) -> dict[str, Any]:
    return {"q": question, "overdue": overdue(question)}
