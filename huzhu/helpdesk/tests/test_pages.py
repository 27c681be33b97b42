"""The helpdesk pages: asking with the FAQ shown first, the group's queue with filters, the
question's page with take / answer / publish / close, the rules editor, 404 for another
community and the errors shown on the form."""

from __future__ import annotations

from typing import Any

import pytest
from django.urls import reverse

from huzhu.audit.models import AuditEntry
from huzhu.helpdesk import actions
from huzhu.helpdesk.models import FAQ, Question, QuestionState, RoutingRule
from huzhu.helpdesk.tests.support import audits, nat_group, person_in, question

pytestmark = pytest.mark.django_db


def _page(client: Any, person: Any, url: str, data: dict[str, Any] | None = None) -> Any:
    client.force_login(person)
    if data is None:
        return client.get(url)
    return client.post(url, data, follow=True)


def test_ask_answer_publish_and_faq_first(client: Any, world: Any, cast: Any) -> None:
    _group, _rule, member, leader = nat_group(world, cast)
    ask = reverse("helpdesk:ask")
    resp = _page(client, cast.resident, ask)
    assert resp.status_code == 200
    assert 'id="faq-popular"' not in resp.content.decode()  # no FAQ yet

    # No FAQ matches: the question goes straight to the 核酸组.
    resp = _page(client, cast.resident, ask, {"text": "明天核酸检测几点开始？", "key": "k1"})
    q = Question.objects.get()
    assert resp.redirect_chain[-1][0] == reverse("helpdesk:question", kwargs={"pk": q.pk})
    assert "核酸组" in resp.content.decode()

    # The member sees it in the queue, takes and answers it.
    resp = _page(client, member, reverse("helpdesk:queue"))
    assert f'href="/helpdesk/questions/{q.pk}/"' in resp.content.decode()
    _page(client, member, reverse("helpdesk:question_take", kwargs={"pk": q.pk}), {})
    resp = _page(
        client,
        member,
        reverse("helpdesk:question_answer", kwargs={"pk": q.pk}),
        {"answer": "早上7点，南门。", "key": "a1"},
    )
    assert "已答复" in resp.content.decode()
    q.refresh_from_db()
    assert (q.state, q.owner) == (QuestionState.ANSWERED, member)

    # The leader publishes it as an FAQ.
    resp = _page(client, leader, reverse("helpdesk:question", kwargs={"pk": q.pk}))
    assert 'id="publish-form"' in resp.content.decode()
    _page(
        client,
        leader,
        reverse("helpdesk:question_publish", kwargs={"pk": q.pk}),
        {
            "question": "核酸检测几点开始？",
            "answer": "早上7点，南门。",
            "visibility": "community",
            "key": "p1",
        },
    )
    faq = FAQ.objects.get()

    # A later similar question: the FAQ is shown first, nothing is sent yet.
    resp = _page(client, cast.resident, ask, {"text": "核酸检测几点开始呀", "key": "k2"})
    body = resp.content.decode()
    assert 'id="faq-suggestions"' in body and f'data-faq="{faq.pk}"' in body
    assert Question.objects.count() == 1
    # "This answered my question": the resident stops there.
    _page(client, cast.resident, reverse("helpdesk:faq_helped", kwargs={"pk": faq.pk}), {})
    faq.refresh_from_db()
    assert faq.helpful_count == 1
    assert Question.objects.count() == 1
    # Or sends it anyway.
    _page(client, cast.resident, ask, {"text": "核酸检测几点开始呀", "key": "k2", "step": "submit"})
    assert Question.objects.count() == 2

    # The FAQ list and its search.
    resp = _page(client, cast.volunteer, reverse("helpdesk:faq") + "?q=南门")
    assert "早上7点" in resp.content.decode()
    resp = _page(client, cast.volunteer, reverse("helpdesk:faq") + "?q=大米")
    assert 'id="faq-empty"' in resp.content.decode()

    # The asker closes the answered one.
    _page(client, cast.resident, reverse("helpdesk:question_close", kwargs={"pk": q.pk}), {})
    q.refresh_from_db()
    assert q.state == QuestionState.CLOSED
    for code in (
        "helpdesk.question.asked",
        "helpdesk.question.taken",
        "helpdesk.question.answered",
        "helpdesk.faq.published",
        "helpdesk.faq.helped",
        "helpdesk.question.closed",
    ):
        assert AuditEntry.objects.filter(code=code, target_id=str(q.pk)).count() <= 1
    assert audits("helpdesk.question.asked") == 2
    assert audits("helpdesk.question.taken") == 1


def test_queue_filters_search_and_empty_state(client: Any, world: Any, cast: Any) -> None:
    url = reverse("helpdesk:queue")
    resp = _page(client, cast.group_member, url)
    assert 'id="questions-empty"' in resp.content.decode()
    question(cast, "楼道灯坏了", key="1")
    answered = question(cast, "垃圾几点收", key="2")
    actions.answer_question(actor=cast.group_member, question=answered, answer="晚上", key="a")
    body = _page(client, cast.group_member, url).content.decode()
    assert "楼道灯坏了" in body and "垃圾几点收" in body
    body = _page(client, cast.group_member, url + "?state=answered").content.decode()
    assert "楼道灯坏了" not in body and "垃圾几点收" in body
    body = _page(client, cast.group_member, url + "?q=楼道").content.decode()
    assert "楼道灯坏了" in body and "垃圾几点收" not in body
    body = _page(client, cast.group_member, url + "?overdue=on").content.decode()
    assert 'id="questions-empty"' in body  # nothing is overdue yet
    # Not a group member: no queue.
    assert _page(client, cast.volunteer, url).status_code == 403


def test_other_community_is_404_and_no_permission_is_403(
    client: Any, world: Any, cast: Any
) -> None:
    q = question(cast)
    detail = reverse("helpdesk:question", kwargs={"pk": q.pk})
    assert _page(client, cast.outsider, detail).status_code == 404
    assert _page(client, cast.volunteer, detail).status_code == 403
    assert _page(client, cast.resident, detail).status_code == 200
    take = reverse("helpdesk:question_take", kwargs={"pk": q.pk})
    client.force_login(cast.outsider)
    assert client.post(take).status_code == 404
    client.force_login(cast.resident)
    assert client.post(take).status_code == 403  # the asker does not answer
    # A resident of the other community asks there; our group never sees it.
    other = person_in(world, "外区居民", "13600000199")
    other.community = world.other_community
    other.save()
    from huzhu.accounts.models import RoleGrant

    RoleGrant.objects.create(
        person=other, role="resident", scope_kind="community", community=world.other_community
    )
    theirs = actions.ask_question(actor=other, text="你好", key="x")
    theirs_url = reverse("helpdesk:question", kwargs={"pk": theirs.pk})
    assert _page(client, cast.group_member, theirs_url).status_code == 404
    assert _page(client, cast.outsider, theirs_url).status_code == 200  # their branch head


def test_errors_show_on_the_form(client: Any, world: Any, cast: Any) -> None:
    resp = _page(client, cast.resident, reverse("helpdesk:ask"), {"text": "", "key": "k"})
    assert "请填写您的问题" in resp.content.decode()
    q = question(cast)
    resp = _page(
        client,
        cast.group_member,
        reverse("helpdesk:question_reassign", kwargs={"pk": q.pk}),
        {"group": world.subgroup.pk, "reason": ""},
    )
    assert resp.status_code == 200
    q.refresh_from_db()
    assert q.routed_to == world.group
    # Closing an unanswered question as staff needs a reason.
    resp = _page(
        client, cast.group_member, reverse("helpdesk:question_close", kwargs={"pk": q.pk}), {}
    )
    assert "请填写此项" in resp.content.decode()
    assert Question.objects.get(pk=q.pk).state == QuestionState.NEW


def test_rules_editor(client: Any, world: Any, cast: Any) -> None:
    url = reverse("helpdesk:rules")
    resp = _page(client, cast.branch_head, url)
    assert 'id="rules-empty"' in resp.content.decode()
    resp = _page(
        client,
        cast.branch_head,
        url,
        {
            "category": "团购配送",
            "keywords": "团购\n蔬菜\n到货",
            "group": world.subgroup.pk,
            "priority": "100",
            "active": "on",
        },
    )
    rule = RoutingRule.objects.get()
    assert rule.keyword_list == ["团购", "蔬菜", "到货"]
    assert "团购、蔬菜、到货" in resp.content.decode()
    assert question(cast, "团购的蔬菜到了吗").routed_to == world.subgroup
    # Edit: the keywords change, the next question follows them.
    _page(
        client,
        cast.branch_head,
        reverse("helpdesk:rule_edit", kwargs={"pk": rule.pk}),
        {
            "category": "团购配送",
            "keywords": "大米",
            "group": world.subgroup.pk,
            "priority": "100",
            "active": "on",
        },
    )
    assert question(cast, "团购的蔬菜到了吗", key="q2").routed_to == world.group
    assert question(cast, "大米呢", key="q3").routed_to == world.subgroup
    # Errors on the form: no keyword.
    resp = _page(
        client,
        cast.branch_head,
        url,
        {"category": "空的", "keywords": "", "group": world.group.pk, "priority": "1"},
    )
    assert "请至少填写一个关键词" in resp.content.decode()
    assert audits("helpdesk.rule.created") == 1
    assert audits("helpdesk.rule.changed") == 1
    assert _page(client, cast.group_leader, url).status_code == 403


def test_my_questions(client: Any, world: Any, cast: Any) -> None:
    url = reverse("helpdesk:mine")
    assert 'id="my-questions-empty"' in _page(client, cast.resident, url).content.decode()
    question(cast, "楼道灯坏了")
    body = _page(client, cast.resident, url).content.decode()
    assert "楼道灯坏了" in body
    assert "楼道灯坏了" not in _page(client, cast.volunteer, url).content.decode()


def test_the_queue_and_its_api_take_a_fixed_number_of_queries(
    client: Any, world: Any, cast: Any
) -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    def count(url: str) -> int:
        client.force_login(cast.group_member)
        with CaptureQueriesContext(connection) as ctx:
            assert client.get(url).status_code == 200
        return len(ctx.captured_queries)

    for i in range(2):
        question(cast, f"问题{i}", key=f"a{i}")
    few = (count(reverse("helpdesk:queue")), count("/api/v1/helpdesk/questions"))
    for i in range(2, 8):
        q = question(cast, f"问题{i}", key=f"a{i}")
        actions.take_question(actor=cast.group_member, question=q)
    many = (count(reverse("helpdesk:queue")), count("/api/v1/helpdesk/questions"))
    assert few == many
