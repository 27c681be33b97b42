"""Suggestions for a need, and offering it to the best candidates (DOMAIN.md "The core loop"
3. Match: "Push to the top candidates; a broker may pick instead"; issue 5 "Matching").

:func:`suggest` is the ranked list a building manager or broker sees, every entry with its
reasons in words; :func:`auto_offer` offers the need to the top ``n`` through the ``offer_need``
action (which re-checks the rules it owns under the need's row lock).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django.db.models import prefetch_related_objects
from django.utils.translation import gettext as _

from huzhu.accounts.models import Person
from huzhu.core import clock
from huzhu.core.errors import DomainError
from huzhu.needs.actions.assign import offer_need
from huzhu.needs.actions.common import authorize
from huzhu.needs.candidates import (
    POOL_SIZE,
    Located,
    build_candidates,
    nearest_candidates,
    need_spec,
)
from huzhu.needs.matching import Reason, rank
from huzhu.needs.matching import Suggestion as Scored
from huzhu.needs.models import Assignment, AssignmentState, Need
from huzhu.orgs.queries import get_setting

#: Who may see the ranked list of a need (on the need's building, else its community).
VIEW_PARTIES = ("needs.offer", "needs.view")
#: Assignments that mean "already asked" (an expired offer may be asked again).
ASKED = (
    AssignmentState.OFFERED,
    AssignmentState.ACCEPTED,
    AssignmentState.DECLINED,
    AssignmentState.COMPLETED,
    AssignmentState.NO_SHOW,
)
UNKNOWN_PLACE = "distance_unknown"


@dataclass(frozen=True, slots=True)
class Note:
    """A reason of the bridge rather than of the core (same ``code``/``facts``/``text`` shape as
    :class:`~huzhu.needs.matching.Reason`)."""

    code: str
    facts: Mapping[str, object]

    @property
    def text(self) -> str:
        if self.code == UNKNOWN_PLACE:
            return _("服务地点未知，未按距离排序")
        raise KeyError(self.code)


@dataclass(frozen=True, slots=True)
class Suggestion:
    """One ranked volunteer for a need, with the reasons in words.

    ``already_asked`` is true when the volunteer has an open or answered offer for this need
    (a manager sees them in the list; :func:`auto_offer` skips them).
    """

    need_id: int
    volunteer_id: int
    name: str
    score: float
    components: Mapping[str, float]
    reasons: tuple[Reason | Note, ...]
    already_asked: bool = False

    @property
    def summary(self) -> str:
        return " · ".join(reason.text for reason in self.reasons)

    def texts(self) -> list[str]:
        return [reason.text for reason in self.reasons]

    def reason(self, code: str) -> Reason | Note | None:
        for item in self.reasons:
            if item.code == code:
                return item
        return None


_NAMED = {"certification": "certifications", "skill": "skills"}


def _named(reason: Reason, names: Mapping[str, str]) -> Reason:
    """The core matches skills by code; its skill and certification reasons show names."""
    key = _NAMED.get(reason.code)
    if key is None:
        return reason
    codes = reason.facts[key]
    assert isinstance(codes, list)
    return Reason(reason.code, {**reason.facts, key: [names.get(c, c) for c in codes]})


def _wrap(scored: Scored, located: Located, asked: set[int]) -> Suggestion:
    reasons: tuple[Reason | Note, ...] = tuple(
        _named(r, located.skill_names) for r in scored.reasons
    )
    if not located.has_location:
        # Everybody was put at the need's (unknown) place: the distance reason would say 0 m.
        reasons = (
            Note(UNKNOWN_PLACE, {}),
            *(r for r in reasons if r.code != "distance"),
        )
    return Suggestion(
        need_id=scored.need_id,
        volunteer_id=scored.candidate_id,
        name=scored.candidate_name,
        score=scored.score,
        components=scored.components,
        reasons=reasons,
        already_asked=scored.candidate_id in asked,
    )


def ranked(need: Need, limit: int = 50, *, load_limit: int | None = None) -> list[Suggestion]:
    """The ``limit`` best volunteers for ``need``, best first, without a permission check (for
    jobs and for :func:`suggest`/:func:`auto_offer`, which check). ``load_limit``: the
    community's ``needs.volunteer_load_limit`` unless given.

    Only the nearest few hundred volunteers the SQL filter keeps are scored
    (:func:`~huzhu.needs.candidates.nearest_candidates`, at least ``2 × limit``): among a
    million, their facts load in milliseconds, and the best ``limit`` are among them unless
    distance counts for little against the other scores."""
    if load_limit is None:
        load_limit = int(get_setting("needs.volunteer_load_limit", need.scope_node()))
    now = clock.now()
    # The type's skills once, for the spec, the SQL filter and the facts.
    prefetch_related_objects([need], "need_type__skills")
    located = need_spec(need)
    people = nearest_candidates(need, pool=max(POOL_SIZE, 2 * limit), at=now, load_limit=load_limit)
    candidates = build_candidates(
        need, people, at=now, load_limit=load_limit, has_location=located.has_location
    )
    asked = set(
        Assignment.objects.filter(need=need, state__in=ASKED).values_list("volunteer_id", flat=True)
    )
    return [_wrap(s, located, asked) for s in rank(located.spec, candidates, limit=limit)]


def suggest(actor: Person, need: Need, limit: int = 50) -> list[Suggestion]:
    """The ranked list a manager or broker sees ("needs.offer" or "needs.view" on the need's
    building, else its community; 404 outside their scope, 403 inside it)."""
    authorize(actor, VIEW_PARTIES, need)
    return ranked(need, limit)


def auto_offer(*, actor: Person | None, need: Need, n: int | None = None) -> list[Assignment]:
    """Offer ``need`` to the ``n`` best volunteers not asked yet (default: the community's
    ``needs.auto_offer_count``), through ``offer_need`` (which checks "needs.offer" — or a job,
    ``actor=None`` —, the state, and records the round). The reasons are stored on each
    assignment in words."""
    if n is None:
        n = int(get_setting("needs.auto_offer_count", need.scope_node()))
    if n < 1:
        raise DomainError("needs.offer.count", _("请至少选择一位志愿者。"), details={"field": "n"})
    if actor is not None:
        authorize(actor, ("needs.offer",), need)
    best: list[Suggestion] = []
    asked_count = Assignment.objects.filter(need=need, state__in=ASKED).count()
    for item in ranked(need, n + asked_count):
        if not item.already_asked:
            best.append(item)
        if len(best) == n:
            break
    if not best:
        raise DomainError("needs.match.nobody", _("没有符合条件的志愿者"), status=409)
    people: dict[int, Any] = Person.objects.select_related("community").in_bulk(
        [s.volunteer_id for s in best]
    )
    volunteers = [people[s.volunteer_id] for s in best]
    return offer_need(
        actor=actor,
        need=need,
        volunteers=volunteers,
        reasons={s.volunteer_id: s.texts() for s in best},
    )
