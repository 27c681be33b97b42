"""Every state change of the helpdesk (居民问答). Each action: one transaction, policy.require,
an audit record, DomainError with a localized message, idempotent by key or by state.

DOMAIN.md "Lockdown operations": a resident's question goes to the responsible group instead of
the building leader, is answered once, by an owner, within ``helpdesk.answer_hours``; DOMAIN.md
"Request–reply": every request gets an answer and an owner.

The default group. A question no keyword routes goes to the group named by the community's
active routing rule with ``is_default``; without one, to the community's top-level group named
``settings.HUZHU_HELPDESK_DEFAULT_GROUP`` (default 客服关爱), created on first use.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F
from django.http import Http404
from django.urls import reverse
from django.utils.translation import gettext as _

from huzhu.accounts import policy
from huzhu.accounts.models import Person, Role
from huzhu.audit.service import record
from huzhu.core import clock
from huzhu.core.errors import ConflictError, DomainError
from huzhu.helpdesk import states
from huzhu.helpdesk.models import (
    FAQ,
    KEYWORD_MAX,
    KEYWORDS_MAX,
    FAQVisibility,
    Question,
    QuestionEvent,
    QuestionState,
    RoutedBy,
    RoutingRule,
)
from huzhu.helpdesk.routing import RuleSpec, route, split_keywords
from huzhu.helpdesk.settings_defs import ANSWER_HOURS
from huzhu.orgs.models import Building, Community, Group

ASK = "helpdesk.ask"
ANSWER = "helpdesk.answer"
MANAGE_RULES = "helpdesk.manage_rules"
PUBLISH = "helpdesk.publish_faq"

QS = QuestionState
TEXT_MAX = 1000
ANSWER_MAX = 4000
REASON_MAX = 200
KEY_MAX = 128
DEFAULT_GROUP_NAME = "客服关爱"


# --- helpers ---------------------------------------------------------------------------------


def clean_text(value: str | None, field: str, max_len: int, *, required: bool) -> str:
    text = (value or "").strip()
    if required and not text:
        raise DomainError(f"helpdesk.{field}.required", _("请填写此项。"), details={"field": field})
    if len(text) > max_len or "\x00" in text:
        raise DomainError(
            f"helpdesk.{field}.too_long",
            _("不能超过 %(n)s 个字。") % {"n": max_len},
            details={"field": field},
        )
    return text


def clean_key(key: str | None) -> str:
    key = (key or "").strip()
    if not key or len(key) > KEY_MAX:
        raise DomainError(
            "helpdesk.key.invalid",
            _("缺少幂等键，或幂等键超过 128 个字符。"),
            details={"field": "idempotency_key"},
        )
    return key


def _lock(question: Question) -> Question:
    return (
        Question.objects.select_for_update(of=("self",))
        .select_related("community", "routed_to", "asker")
        .get(pk=question.pk)
    )


def _event(
    question: Question, kind: str, actor: Person | None, *, note: str = "", group: Any = None
) -> None:
    QuestionEvent.objects.create(
        question=question,
        community_id=question.community_id,
        kind=kind,
        actor=actor,
        group=group,
        note=note,
        at=clock.now(),
    )


def _link(question: Question) -> str:
    return reverse("helpdesk:question", kwargs={"pk": question.pk})


def _tell(person: Person, code: str, key: str, question: Question, **ctx: Any) -> None:
    from huzhu.notify import actions as notify_actions
    from huzhu.notify.render import render_event

    title, body = render_event(code, person, text=question.text[:60], **ctx)
    notify_actions.notify(
        person=person,
        code=code,
        title=title,
        body=body,
        link=_link(question),
        key=key,
        community=question.community,
    )


def group_people(group: Group, roles: Iterable[str]) -> list[Person]:
    """The active people holding one of ``roles`` on ``group`` itself."""
    return list(
        Person.objects.filter(
            grants__role__in=list(roles),
            grants__group_id=group.pk,
            grants__scope_kind="group",
            grants__revoked_at__isnull=True,
            is_active=True,
        )
        .distinct()
        .order_by("pk")
    )


def branch_heads(community_id: int) -> list[Person]:
    return list(
        Person.objects.filter(
            grants__role=Role.BRANCH_HEAD,
            grants__community_id=community_id,
            grants__scope_kind="community",
            grants__revoked_at__isnull=True,
            is_active=True,
        )
        .distinct()
        .order_by("pk")
    )


def _tell_group(question: Question, group: Group) -> None:
    """The members and leaders of the group hear of a new question (else the branch heads)."""
    people = group_people(group, (Role.GROUP_MEMBER, Role.GROUP_LEADER)) or branch_heads(
        question.community_id
    )
    where = question.building or question.community
    building = where.name
    for person in people:
        _tell(
            person,
            "helpdesk.question.new",
            f"helpdesk.question.new:{question.pk}:{group.pk}:{person.pk}",
            question,
            group=group,
            building=building,
            due=question.answer_due_at,
        )


def rule_specs(community: Community) -> list[RuleSpec]:
    """The community's active keyword rules, as the pure router takes them."""
    return [
        RuleSpec(r.pk, r.group_id, r.category, tuple(r.keyword_list), r.priority)
        for r in RoutingRule.objects.filter(community=community, active=True, is_default=False)
    ]


def default_group(community: Community) -> tuple[Group, RoutingRule | None]:
    """The group that receives unrouted questions (see the module docstring)."""
    rule = (
        RoutingRule.objects.filter(community=community, active=True, is_default=True)
        .select_related("group")
        .first()
    )
    if rule is not None:
        return rule.group, rule
    name = getattr(settings, "HUZHU_HELPDESK_DEFAULT_GROUP", DEFAULT_GROUP_NAME)
    group, _created = Group.objects.get_or_create(
        community=community, parent=None, name=name, defaults={"building": None}
    )
    return group, None


def _due(question_building: Building | None, community: Community, start: dt.datetime) -> Any:
    from huzhu.orgs.queries import get_setting

    hours = get_setting(ANSWER_HOURS, question_building or community)
    return start + dt.timedelta(hours=int(hours))


# --- asking ----------------------------------------------------------------------------------


@transaction.atomic
def ask_question(*, actor: Person, text: str, key: str) -> Question:
    """A resident asks a question in their community ("helpdesk.ask"). It is routed by the
    community's keyword rules (else to the default group), gets a deadline, and the group hears
    of it. A replay of ``key`` returns the first question."""
    key = clean_key(key)
    existing = Question.objects.filter(asker=actor, ask_key=key).first()
    if existing is not None:
        return existing
    community = actor.community
    if community is None:
        raise DomainError(
            "helpdesk.ask.no_community",
            _("您还没有加入社区，无法提问。"),
            details={"field": "text"},
        )
    policy.require(actor, ASK, community)
    text = clean_text(text, "text", TEXT_MAX, required=True)
    household = actor.household
    building = household.building if household is not None else None
    found = route(text, rule_specs(community))
    if found.is_default:
        group, rule = default_group(community)
        category = rule.category if rule is not None else group.name
        routed_by = RoutedBy.DEFAULT
    else:
        rule = RoutingRule.objects.select_related("group").get(pk=int(found.rule_id or 0))
        group, category, routed_by = rule.group, found.category, RoutedBy.KEYWORD
    now = clock.now()
    try:
        with transaction.atomic():
            question = Question.objects.create(
                community=community,
                building=building,
                household=household,
                asker=actor,
                text=text,
                category=category[:50],
                routed_to=group,
                routed_by=routed_by,
                matched_keywords="\n".join(found.matched)[:300],
                rule=rule,
                asked_at=now,
                answer_due_at=_due(building, community, now),
                ask_key=key,
            )
    except IntegrityError:  # a concurrent replay of the same key won
        return Question.objects.get(asker=actor, ask_key=key)
    _event(question, "asked", actor, group=group, note=", ".join(found.matched))
    record(
        "helpdesk.question.asked",
        actor=actor,
        target=question,
        community=community,
        new={
            "routed_to": group.pk,
            "routed_by": routed_by,
            "matched": list(found.matched),
            "category": question.category,
            "answer_due_at": question.answer_due_at,
        },
    )
    _tell_group(question, group)
    return question


# --- handling --------------------------------------------------------------------------------


@transaction.atomic
def take_question(*, actor: Person, question: Question) -> Question:
    """A member of the routed group takes the question: they own the answer. Taking it again
    is a no-op; taking over someone else's is recorded."""
    question = _lock(question)
    policy.require(actor, ANSWER, question)
    states.check(question.state, "take")
    if question.owner_id == actor.pk:
        return question
    old = {"owner": question.owner_id, "state": question.state}
    question.owner = actor
    question.state = QS.ASSIGNED
    question.save(update_fields=["owner", "state", "updated_at"])
    _event(question, "taken", actor)
    record(
        "helpdesk.question.taken",
        actor=actor,
        target=question,
        community=question.community,
        old=old,
        new={"owner": actor.pk, "state": question.state},
    )
    return question


@transaction.atomic
def reassign_question(*, actor: Person, question: Question, group: Group, reason: str) -> Question:
    """Hand the question to another group of the community, with a reason. It starts over
    there: no owner, a new deadline, the new group told. The same group again is a no-op."""
    question = _lock(question)
    policy.require(actor, ANSWER, question)
    states.check(question.state, "reassign")
    if group.community_id != question.community_id:
        raise DomainError(
            "helpdesk.reassign.other_community",
            _("只能转派给本社区的小组。"),
            details={"field": "group"},
        )
    if group.pk == question.routed_to_id:
        return question
    reason = clean_text(reason, "reason", REASON_MAX, required=True)
    old = {"routed_to": question.routed_to_id, "owner": question.owner_id, "state": question.state}
    now = clock.now()
    question.routed_to = group
    question.routed_by = RoutedBy.MANUAL
    question.owner = None
    question.state = QS.NEW
    question.answer_due_at = _due(question.building, question.community, now)
    question.escalation_level = 0
    question.save(
        update_fields=[
            "routed_to",
            "routed_by",
            "owner",
            "state",
            "answer_due_at",
            "escalation_level",
            "updated_at",
        ]
    )
    _event(question, "reassigned", actor, group=group, note=reason)
    record(
        "helpdesk.question.reassigned",
        actor=actor,
        target=question,
        community=question.community,
        old=old,
        new={"routed_to": group.pk, "reason": reason, "answer_due_at": question.answer_due_at},
    )
    _tell_group(question, group)
    return question


@transaction.atomic
def answer_question(*, actor: Person, question: Question, answer: str, key: str) -> Question:
    """Answer the question (a member of the routed group; whoever answers owns it). The asker
    hears the answer. A replay of ``key`` returns the question as it stands."""
    key = clean_key(key)
    question = _lock(question)
    policy.require(actor, ANSWER, question)
    if question.answer_key == key:
        return question
    states.check(question.state, "answer")
    answer = clean_text(answer, "answer", ANSWER_MAX, required=True)
    now = clock.now()
    old = {"state": question.state, "owner": question.owner_id}
    question.answer = answer
    question.answered_at = now
    question.answered_by = actor
    question.answer_key = key
    if question.owner_id is None:
        question.owner = actor
    question.state = QS.ANSWERED
    question.save(
        update_fields=[
            "answer",
            "answered_at",
            "answered_by",
            "answer_key",
            "owner",
            "state",
            "updated_at",
        ]
    )
    _event(question, "answered", actor, note=answer)
    record(
        "helpdesk.question.answered",
        actor=actor,
        target=question,
        community=question.community,
        old=old,
        new={"state": question.state, "on_time": now <= question.answer_due_at},
    )
    _tell(
        question.asker,
        "helpdesk.question.answered",
        f"helpdesk.question.answered:{question.pk}",
        question,
        group=question.routed_to,
        answer=answer[:200],
    )
    return question


@transaction.atomic
def close_question(*, actor: Person, question: Question, reason: str = "") -> Question:
    """Close the question: the asker (satisfied, or withdrawing it) or a member of the routed
    group (with a reason when it was never answered). Closing a closed question is a no-op."""
    question = _lock(question)
    if question.asker_id != actor.pk:
        policy.require(actor, ANSWER, question)
    if question.state == QS.CLOSED:
        return question
    states.check(question.state, "close")
    staff_unanswered = question.asker_id != actor.pk and question.state != QS.ANSWERED
    reason = clean_text(reason, "reason", REASON_MAX, required=staff_unanswered)
    old = {"state": question.state}
    question.state = QS.CLOSED
    question.closed_at = clock.now()
    question.save(update_fields=["state", "closed_at", "updated_at"])
    _event(question, "closed", actor, note=reason)
    record(
        "helpdesk.question.closed",
        actor=actor,
        target=question,
        community=question.community,
        old=old,
        new={"state": question.state, "reason": reason},
    )
    return question


# --- deadlines (the sweeper) -----------------------------------------------------------------

LEVEL_ESCALATED = 1


def escalate_question(*, question: Question, now: dt.datetime) -> bool:
    """An open question past ``answer_due_at`` goes up to the group's leaders (of the routed
    group and the groups above it) and the branch heads, once. Returns whether it did now."""
    with transaction.atomic():
        question = _lock(question)
        if (
            not states.allowed(question.state, "escalate")
            or question.answer_due_at > now
            or question.escalation_level >= LEVEL_ESCALATED
        ):
            return False
        group = question.routed_to
        old_level = question.escalation_level
        question.escalation_level = LEVEL_ESCALATED
        question.escalated_at = clock.now()
        question.save(update_fields=["escalation_level", "escalated_at", "updated_at"])
        _event(question, "escalated", None, group=group)
        people: dict[int, Person] = {}
        for g in (group, *group.ancestors()):
            for p in group_people(g, (Role.GROUP_LEADER,)):
                people.setdefault(p.pk, p)
        for p in branch_heads(question.community_id):
            people.setdefault(p.pk, p)
        for person in people.values():
            _tell(
                person,
                "helpdesk.question.escalated",
                f"helpdesk.question.escalated:{question.pk}:{LEVEL_ESCALATED}:{person.pk}",
                question,
                group=group,
                due=question.answer_due_at,
            )
        record(
            "helpdesk.question.escalated",
            actor=None,
            target=question,
            community=question.community,
            old={"escalation_level": old_level},
            new={
                "escalation_level": LEVEL_ESCALATED,
                "due_at": question.answer_due_at,
                "notified": sorted(people),
            },
        )
    return True


# --- FAQ -------------------------------------------------------------------------------------


@transaction.atomic
def publish_faq(
    *,
    actor: Person,
    question: Question,
    key: str,
    text: str | None = None,
    answer: str | None = None,
    visibility: str = FAQVisibility.COMMUNITY,
    buildings: Iterable[Building] = (),
) -> FAQ:
    """Publish an answered question as an FAQ ("helpdesk.publish_faq"), the wording editable
    (names and rooms taken out). One FAQ per question: publishing again returns it."""
    key = clean_key(key)
    question = _lock(question)
    policy.require(actor, PUBLISH, question)
    existing = FAQ.objects.filter(source_question=question).first()
    if existing is not None:
        return existing
    states.check(question.state, "publish")
    text = clean_text(text if text is not None else question.text, "text", TEXT_MAX, required=True)
    answer = clean_text(
        answer if answer is not None else question.answer, "answer", ANSWER_MAX, required=True
    )
    if visibility not in FAQVisibility.values:
        raise DomainError(
            "helpdesk.faq.visibility",
            _("可见范围无效。"),
            details={"field": "visibility"},
        )
    chosen = list(buildings)
    if any(b.community_id != question.community_id for b in chosen):
        raise DomainError(
            "helpdesk.faq.buildings",
            _("只能选择本社区的楼栋。"),
            details={"field": "buildings"},
        )
    faq = FAQ.objects.create(
        community=question.community,
        group=question.routed_to,
        question=text,
        answer=answer,
        category=question.category,
        source_question=question,
        published_by=actor,
        published_at=clock.now(),
        visibility=visibility,
        publish_key=key,
    )
    if chosen:
        faq.buildings.set(chosen)
    _event(question, "published", actor)
    record(
        "helpdesk.faq.published",
        actor=actor,
        target=faq,
        community=question.community,
        new={
            "question": question.pk,
            "visibility": visibility,
            "buildings": [b.pk for b in chosen],
        },
    )
    return faq


@transaction.atomic
def set_faq_active(*, actor: Person, faq: FAQ, active: bool) -> FAQ:
    """Take an FAQ down or put it back up; the same state again is a no-op."""
    faq = (
        FAQ.objects.select_for_update(of=("self",))
        .select_related("community", "group")
        .get(pk=faq.pk)
    )
    policy.require(actor, PUBLISH, faq)
    if faq.active == active:
        return faq
    faq.active = active
    faq.save(update_fields=["active", "updated_at"])
    record(
        "helpdesk.faq.activated" if active else "helpdesk.faq.deactivated",
        actor=actor,
        target=faq,
        community=faq.community,
        old={"active": not active},
        new={"active": active},
    )
    return faq


@transaction.atomic
def faq_helped(*, actor: Person, faq: FAQ) -> FAQ:
    """ "This answered my question": the asker stops there, the FAQ counts one more helped."""
    faq = FAQ.objects.select_related("community", "group").get(pk=faq.pk)
    if not policy.in_scope(actor, faq):  # whoever may read the community's FAQ
        raise Http404
    if not faq.active:
        raise ConflictError("helpdesk.faq.inactive", _("该常见问题已下线。"))
    FAQ.objects.filter(pk=faq.pk).update(helpful_count=F("helpful_count") + 1)
    faq.refresh_from_db(fields=["helpful_count"])
    record(
        "helpdesk.faq.helped",
        actor=actor,
        target=faq,
        community=faq.community,
        new={"helpful_count": faq.helpful_count},
    )
    return faq


# --- routing rules ---------------------------------------------------------------------------


@transaction.atomic
def save_rule(
    *,
    actor: Person,
    community: Community,
    category: str,
    keywords: str,
    group: Group,
    priority: int = 100,
    is_default: bool = False,
    active: bool = True,
    rule: RoutingRule | None = None,
) -> RoutingRule:
    """Create (``rule`` None) or change a routing rule ("helpdesk.manage_rules"). Keywords are
    one per line; a default rule needs none, every other rule at least one."""
    if rule is not None:
        rule = RoutingRule.objects.select_for_update(of=("self",)).get(pk=rule.pk)
        community = rule.community
    policy.require(actor, MANAGE_RULES, rule or community)
    category = clean_text(category, "category", 50, required=True)
    words = split_keywords(keywords)
    if len(words) > KEYWORDS_MAX or any(len(w) > KEYWORD_MAX for w in words):
        raise DomainError(
            "helpdesk.rule.keywords",
            _("关键词最多 %(n)s 个，每个不超过 %(m)s 个字。")
            % {"n": KEYWORDS_MAX, "m": KEYWORD_MAX},
            details={"field": "keywords"},
        )
    if not words and not is_default:
        raise DomainError(
            "helpdesk.rule.no_keywords",
            _("请至少填写一个关键词（默认小组的规则除外）。"),
            details={"field": "keywords"},
        )
    if group.community_id != community.pk:
        raise DomainError(
            "helpdesk.rule.group",
            _("只能选择本社区的小组。"),
            details={"field": "group"},
        )
    if isinstance(priority, bool) or not 0 <= priority <= 1000:
        raise DomainError(
            "helpdesk.rule.priority",
            _("优先级须在 0 到 1000 之间。"),
            details={"field": "priority"},
        )
    clash = RoutingRule.objects.filter(community=community, category=category)
    if rule is not None:
        clash = clash.exclude(pk=rule.pk)
    if clash.exists():
        raise ConflictError(
            "helpdesk.rule.duplicate",
            _("该问题类别已存在。"),
            details={"field": "category"},
        )
    if is_default and active:
        others = RoutingRule.objects.filter(community=community, is_default=True, active=True)
        if rule is not None:
            others = others.exclude(pk=rule.pk)
        if others.exists():
            raise ConflictError(
                "helpdesk.rule.default_exists",
                _("本社区已有默认小组的规则，请先停用它。"),
                details={"field": "is_default"},
            )
    values = {
        "category": category,
        "keywords": "\n".join(words),
        "group_id": group.pk,
        "priority": priority,
        "is_default": is_default,
        "active": active,
    }
    if rule is None:
        rule = RoutingRule.objects.create(community=community, **values)
        record("helpdesk.rule.created", actor=actor, target=rule, community=community, new=values)
        return rule
    old = {name: getattr(rule, name) for name in values}
    if old == values:
        return rule
    for name, value in values.items():
        setattr(rule, name, value)
    rule.save()
    record(
        "helpdesk.rule.changed", actor=actor, target=rule, community=community, old=old, new=values
    )
    return rule
