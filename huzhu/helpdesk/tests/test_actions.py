"""The question's life cycle through the actions: routing by the community's keywords (else the
default 客服关爱 group), take, reassign, answer, close, publish as FAQ; validation errors;
idempotent replays; one audit entry per action; notifications to the group and the asker."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.core.exceptions import PermissionDenied
from django.http import Http404

from huzhu.core.errors import ConflictError, DomainError
from huzhu.helpdesk import actions, queries
from huzhu.helpdesk.models import FAQ, Question, QuestionEvent, QuestionState, RoutedBy
from huzhu.helpdesk.tests.support import T0, at, audits, nat_group, question
from huzhu.notify.models import Notification
from huzhu.orgs.actions import set_setting
from huzhu.orgs.models import Group

pytestmark = pytest.mark.django_db


def test_a_keyword_routes_to_its_group_and_the_group_hears(world: Any, cast: Any) -> None:
    group, rule, member, leader = nat_group(world, cast)
    with at(T0):
        q = question(cast, "请问明天几点做ＮＵＣ核酸？")
    assert q.routed_to == group
    assert q.routed_by == RoutedBy.KEYWORD
    assert q.rule == rule
    assert q.category == "核酸检测"
    assert q.matched_keywords == "核酸"
    assert q.building == world.building
    assert q.state == QuestionState.NEW
    assert q.answer_due_at == T0 + dt.timedelta(hours=4)
    told = set(
        Notification.objects.filter(code="helpdesk.question.new").values_list("person", flat=True)
    )
    assert told == {member.pk, leader.pk}
    assert audits("helpdesk.question.asked") == 1
    assert QuestionEvent.objects.filter(question=q, kind="asked").count() == 1


def test_no_keyword_goes_to_the_default_group(world: Any, cast: Any) -> None:
    nat_group(world, cast)
    q = question(cast, "楼下的垃圾什么时候清运？")
    assert q.routed_to == world.group  # 客服关爱, top-level in the community
    assert q.routed_by == RoutedBy.DEFAULT
    assert q.matched_keywords == ""
    told = Notification.objects.filter(code="helpdesk.question.new")
    assert {n.person_id for n in told} == {cast.group_member.pk, cast.group_leader.pk}


def test_a_default_rule_names_the_default_group(world: Any, cast: Any) -> None:
    other = Group.objects.create(community=world.community, name="综合组")
    actions.save_rule(
        actor=cast.branch_head,
        community=world.community,
        category="其他",
        keywords="",
        group=other,
        is_default=True,
    )
    q = question(cast, "楼下的垃圾什么时候清运？")
    assert q.routed_to == other
    assert q.category == "其他"


def test_default_group_is_created_when_missing(world: Any, cast: Any) -> None:
    world.subgroup.delete()
    Group.objects.filter(pk=world.group.pk).update(name="关爱组")
    q = question(cast, "你好")
    assert q.routed_to.name == "客服关爱"
    assert q.routed_to.parent_id is None
    # No member yet: the branch head hears of it instead.
    assert Notification.objects.get(code="helpdesk.question.new").person == cast.branch_head


def test_the_answer_hours_are_a_community_setting(world: Any, cast: Any) -> None:
    set_setting(
        actor=cast.branch_head, key="helpdesk.answer_hours", node=world.community, value="2"
    )
    with at(T0):
        q = question(cast)
    assert q.answer_due_at == T0 + dt.timedelta(hours=2)


def test_life_cycle_with_one_audit_entry_per_action(world: Any, cast: Any) -> None:
    group, _rule, member, leader = nat_group(world, cast)
    q = question(cast)
    q = actions.take_question(actor=member, question=q)
    assert (q.state, q.owner) == (QuestionState.ASSIGNED, member)
    actions.take_question(actor=member, question=q)  # again: nothing new
    assert audits("helpdesk.question.taken") == 1

    q = actions.answer_question(actor=member, question=q, answer="明早8点，2号门。", key="a1")
    assert q.state == QuestionState.ANSWERED
    assert q.answered_by == member
    again = actions.answer_question(actor=member, question=q, answer="改了", key="a1")
    assert again.answer == "明早8点，2号门。"  # a replay of the key
    assert audits("helpdesk.question.answered") == 1
    note = Notification.objects.get(code="helpdesk.question.answered")
    assert note.person == cast.resident
    assert "明早8点" in note.body

    faq = actions.publish_faq(actor=leader, question=q, text="几点做核酸？", key="p1")
    assert faq.group == group and faq.answer == "明早8点，2号门。"
    assert actions.publish_faq(actor=leader, question=q, key="p2") == faq
    assert audits("helpdesk.faq.published") == 1

    q = actions.close_question(actor=cast.resident, question=q)
    assert q.state == QuestionState.CLOSED
    actions.close_question(actor=cast.resident, question=q)
    assert audits("helpdesk.question.closed") == 1
    kinds = list(QuestionEvent.objects.filter(question=q).values_list("kind", flat=True))
    assert kinds == ["asked", "taken", "answered", "published", "closed"]


def test_reassign_starts_over_in_the_other_group(world: Any, cast: Any) -> None:
    group, _rule, member, _leader = nat_group(world, cast)
    with at(T0):
        q = question(cast, "团购的大米什么时候到？")  # default: 客服关爱
        q = actions.take_question(actor=cast.group_member, question=q)
    with at(T0 + dt.timedelta(hours=1)):
        q = actions.reassign_question(
            actor=cast.group_member, question=q, group=group, reason="其实是核酸的事"
        )
    assert (q.routed_to, q.routed_by, q.owner, q.state) == (
        group,
        RoutedBy.MANUAL,
        None,
        QuestionState.NEW,
    )
    assert q.answer_due_at == T0 + dt.timedelta(hours=5)
    assert Notification.objects.filter(code="helpdesk.question.new", person=member).exists()
    # The old group no longer answers it; the new one does.
    with pytest.raises(PermissionDenied):
        actions.answer_question(actor=cast.group_member, question=q, answer="x", key="k")
    actions.answer_question(actor=member, question=q, answer="明天", key="k")
    assert audits("helpdesk.question.reassigned") == 1


def test_validation_errors(world: Any, cast: Any) -> None:
    with pytest.raises(DomainError) as err:
        actions.ask_question(actor=cast.resident, text="   ", key="k")
    assert err.value.code == "helpdesk.text.required"
    with pytest.raises(DomainError) as err:
        actions.ask_question(actor=cast.resident, text="问" * 1001, key="k")
    assert err.value.code == "helpdesk.text.too_long"
    with pytest.raises(DomainError) as err:
        actions.ask_question(actor=cast.resident, text="你好", key="")
    assert err.value.code == "helpdesk.key.invalid"
    q = question(cast)
    with pytest.raises(DomainError) as err:
        actions.reassign_question(
            actor=cast.group_member, question=q, group=world.subgroup, reason=""
        )
    assert err.value.details == {"field": "reason"}
    with pytest.raises(DomainError) as err:
        actions.reassign_question(
            actor=cast.branch_head, question=q, group=world.other_group, reason="x"
        )
    assert err.value.code == "helpdesk.reassign.other_community"
    with pytest.raises(DomainError) as err:
        actions.close_question(actor=cast.group_member, question=q)  # staff: a reason
    assert err.value.details == {"field": "reason"}
    with pytest.raises(ConflictError):
        actions.publish_faq(actor=cast.group_leader, question=q, key="p")  # not answered
    with pytest.raises(DomainError) as err:
        actions.save_rule(
            actor=cast.branch_head,
            community=world.community,
            category="空",
            keywords="\n \n",
            group=world.group,
        )
    assert err.value.code == "helpdesk.rule.no_keywords"
    assert audits("helpdesk.question.reassigned") == 0


def test_permissions_of_the_actions(world: Any, cast: Any) -> None:
    q = question(cast)  # 客服关爱
    with pytest.raises(PermissionDenied):
        actions.take_question(actor=cast.volunteer, question=q)
    with pytest.raises(PermissionDenied):
        actions.ask_question(actor=cast.outsider, text="你好", key="o")  # no resident grant
    with pytest.raises(Http404):
        actions.take_question(actor=cast.outsider, question=q)  # another community
    with pytest.raises(PermissionDenied):  # a member answers, only a leader publishes
        actions.answer_question(actor=cast.group_member, question=q, answer="好", key="a")
        actions.publish_faq(actor=cast.group_member, question=q, key="p")
    with pytest.raises(PermissionDenied):
        actions.save_rule(
            actor=cast.group_leader,
            community=world.community,
            category="x",
            keywords="y",
            group=world.group,
        )


def test_ask_is_idempotent_by_key(world: Any, cast: Any) -> None:
    first = question(cast, key="same")
    again = question(cast, "另一个问题", key="same")
    assert first.pk == again.pk
    assert Question.objects.count() == 1
    assert audits("helpdesk.question.asked") == 1


def test_published_faq_is_shown_first_for_a_later_similar_question(world: Any, cast: Any) -> None:
    _group, _rule, member, leader = nat_group(world, cast)
    q = question(cast, "明天核酸检测几点开始？在哪里排队？")
    actions.answer_question(actor=member, question=q, answer="早上7点，南门。", key="a")
    faq = actions.publish_faq(actor=leader, question=q, key="p")
    assert queries.suggest_faq(world.community, "核酸检测几点开始", world.building.pk) == [faq]
    assert queries.suggest_faq(world.community, "团购大米到了吗") == []
    assert queries.faq_for(world.community, world.building) == [faq]
    # Staff-only or taken-down entries are not suggested to residents.
    actions.set_faq_active(actor=leader, faq=faq, active=False)
    assert queries.suggest_faq(world.community, "核酸检测几点开始") == []
    assert FAQ.objects.get(pk=faq.pk).active is False


def test_faq_for_a_building(world: Any, cast: Any) -> None:
    _group, _rule, member, leader = nat_group(world, cast)
    q1 = question(cast, "1号楼几点做核酸", key="1")
    q2 = question(cast, "全小区几点做核酸", key="2")
    for q in (q1, q2):
        actions.answer_question(actor=member, question=q, answer="8点", key=f"a{q.pk}")
    only_b1 = actions.publish_faq(actor=leader, question=q1, key="p1", buildings=[world.building])
    everyone = actions.publish_faq(actor=leader, question=q2, key="p2")
    other_building = world.community.buildings.exclude(pk=world.building.pk).get()
    assert set(queries.faq_for(world.community, world.building)) == {only_b1, everyone}
    assert queries.faq_for(world.community, other_building) == [everyone]
    assert queries.faq_for(world.community) == [everyone]
    assert queries.faq_for(world.community, world.building, limit=1) == [everyone]
