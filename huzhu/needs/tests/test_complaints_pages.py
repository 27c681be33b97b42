"""Complaint pages with the Django test client: the link on a need's page, filing (errors on
the form, a double submit answers the first), the handlers' list with filters, search, paging
and empty states, a complaint's page with the contact and the decision."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from huzhu.needs.actions import complaints as complaint_actions
from huzhu.needs.models import Complaint, ComplaintState
from huzhu.needs.sweeper import sweep
from huzhu.needs.tests.support import T0, at, publish
from huzhu.needs.tests.test_complaints import T1, contacted, filed, served

pytestmark = pytest.mark.django_db

H = dt.timedelta(hours=1)
M = dt.timedelta(minutes=1)
LIST = "/needs/complaints/"


def as_(client: Client, person: Any) -> Client:
    client.force_login(person)
    return client


def test_url_names() -> None:
    assert reverse("needs:complaint_list") == LIST
    assert reverse("needs:complaint_create", args=[7]) == "/needs/7/complain/"
    assert reverse("needs:complaint_detail", args=[7]) == "/needs/complaints/7/"


def test_the_need_page_links_to_a_complaint_once_served(client: Client, cast: Any) -> None:
    with at(T0):
        waiting = publish(cast)
        body = as_(client, cast.resident).get(reverse("needs:need_detail", args=[waiting.pk]))
    assert 'id="complain-link"' not in body.content.decode()
    need = served(cast)
    with at(T1):
        page = client.get(reverse("needs:need_detail", args=[need.pk])).content.decode()
        assert 'id="complain-link"' in page
        assert reverse("needs:complaint_create", args=[need.pk]) in page
        # A neighbour without a part in it sees no link.
        other = as_(client, cast.group_member).get(reverse("needs:need_detail", args=[need.pk]))
        assert 'id="complain-link"' not in other.content.decode()


def test_filing_through_the_form(client: Client, cast: Any) -> None:
    need = served(cast)
    url = reverse("needs:complaint_create", args=[need.pk])
    with at(T1):
        c = as_(client, cast.resident)
        r = c.get(url)
        assert r.status_code == 200
        page = r.content.decode()
        assert 'id="complaint-form"' in page and 'name="side"' not in page
        r = c.post(url, {"description": "态度很差"})
        assert r.status_code == 200
        assert "请选择投诉类别。" in r.content.decode()
        assert not Complaint.objects.exists()
        r = c.post(url, {"category": "attitude", "description": "态度很差"})
        complaint = Complaint.objects.get()
        assert r.status_code == 302
        assert r["Location"] == reverse("needs:complaint_detail", args=[complaint.pk])
        # A double submit (or coming back to the form) goes to the open complaint.
        r = c.post(url, {"category": "attitude", "description": "态度很差"})
        assert r.status_code == 302 and Complaint.objects.count() == 1
        detail = c.get(r["Location"]).content.decode()
        assert "态度很差" in detail and 'id="contact-form"' not in detail


def test_a_manager_files_for_the_volunteer_side(client: Client, cast: Any) -> None:
    need = served(cast)
    url = reverse("needs:complaint_create", args=[need.pk])
    with at(T1):
        c = as_(client, cast.building_manager)
        assert 'name="side"' in c.get(url).content.decode()
        r = c.post(url, {"side": "volunteer", "category": "conduct", "description": "居民辱骂"})
    assert r.status_code == 302
    complaint = Complaint.objects.get()
    assert (complaint.complainant, complaint.respondent) == (cast.volunteer, cast.resident)
    assert complaint.filed_by == cast.building_manager


def test_before_the_service_the_form_sends_back(client: Client, cast: Any) -> None:
    with at(T0):
        need = publish(cast)
        r = as_(client, cast.resident).get(reverse("needs:complaint_create", args=[need.pk]))
    assert r.status_code == 302
    assert r["Location"] == reverse("needs:need_detail", args=[need.pk])


def test_the_handlers_list_filters_search_paging_and_empty_states(
    client: Client, cast: Any, settings: Any
) -> None:
    need = served(cast)
    first = filed(cast, need)
    second = filed(cast, need, actor=cast.volunteer, category="conduct", description="辱骂")
    c = as_(client, cast.building_manager)
    with at(T1 + 30 * M):
        page = c.get(LIST).content.decode()
        assert "投诉处理" in page and 'id="complaints"' in page
        assert page.count('class="inbox-item need-item complaint-item"') == 2
        r = c.get(LIST, {"category": "conduct"})
        assert [row["complaint"] for row in r.context["rows"]] == [second]
        r = c.get(LIST, {"state": "overdue"})
        assert r.context["rows"] == []
        assert "没有符合条件的投诉。" in r.content.decode()
        r = c.get(LIST, {"q": "Resident"})
        assert {row["complaint"] for row in r.context["rows"]} == {first, second}
        r = c.get(LIST, {"q": "nobody"})
        assert r.context["rows"] == []
    with at(T1 + H):
        sweep()
        r = c.get(LIST, {"state": "escalated"})
        assert {row["complaint"] for row in r.context["rows"]} == {first, second}
        assert "已上报" in r.content.decode()
    settings.HUZHU_PAGE_SIZE = 1
    with at(T1 + H):
        r = c.get(LIST)
        assert len(r.context["rows"]) == 1 and r.context["page"].paginator.num_pages == 2
        assert 'rel="next"' in r.content.decode()
        r = c.get(LIST, {"page": 2})
        assert len(r.context["rows"]) == 1
    # Someone without complaints sees the empty state.
    r = as_(client, cast.group_member).get(LIST)
    assert r.status_code == 200 and "您没有提出过投诉" in r.content.decode()


def test_the_list_has_a_fixed_number_of_queries(client: Client, cast: Any) -> None:
    need = served(cast)
    filed(cast, need)
    c = as_(client, cast.branch_head)
    with at(T1), CaptureQueriesContext(connection) as one:
        assert c.get(LIST).status_code == 200
    filed(cast, need, actor=cast.volunteer, category="conduct", description="辱骂")
    with at(T1), CaptureQueriesContext(connection) as two:
        assert len(c.get(LIST).context["rows"]) == 2
    assert len(two.captured_queries) == len(one.captured_queries)


def test_contact_and_decision_on_the_complaint_page(client: Client, cast: Any) -> None:
    complaint = filed(cast)
    url = reverse("needs:complaint_detail", args=[complaint.pk])
    c = as_(client, cast.building_manager)
    with at(T1 + 10 * M):
        page = c.get(url).content.decode()
        assert 'id="contact-form"' in page and 'id="resolve-form"' not in page
        r = c.post(reverse("needs:complaint_contact", args=[complaint.pk]), {"note": ""})
        assert r.status_code == 200 and "请填写联系双方的情况。" in r.content.decode()
        r = c.post(reverse("needs:complaint_contact", args=[complaint.pk]), {"note": "已联系双方"})
        assert r.status_code == 302
        page = c.get(url).content.decode()
        assert 'id="resolve-form"' in page and "已联系双方" in page
    resolve_url = reverse("needs:complaint_resolve", args=[complaint.pk])
    with at(T1 + 2 * H):
        # The building manager may not suspend a volunteer living elsewhere: the form says so.
        r = c.post(resolve_url, {"decision": "upheld", "suspend": "on", "reason": "属实"})
        assert r.status_code == 200 and "请交由分会负责人处理" in r.content.decode()
        r = c.post(resolve_url, {"decision": "upheld", "deduct_points": "1.5x", "reason": "属实"})
        assert r.status_code == 200 and 'id="resolve-form"' in r.content.decode()
        r = c.post(resolve_url, {"decision": "upheld", "deduct_points": "0.5", "reason": "属实"})
        assert r.status_code == 302
    complaint.refresh_from_db()
    assert complaint.state == ComplaintState.RESOLVED and complaint.points_decided == 50
    page = c.get(url).content.decode()
    assert "投诉成立" in page and 'id="resolve-form"' not in page
    assert 'id="complaint-timeline"' in page
    # The complainant sees the result but not the handlers' notes and history.
    mine = as_(client, cast.resident).get(url).content.decode()
    assert "投诉成立" in mine and "已联系双方" not in mine
    assert 'id="complaint-timeline"' not in mine


def test_posts_are_for_handlers(client: Client, cast: Any) -> None:
    complaint = contacted(cast, filed(cast))
    url = reverse("needs:complaint_resolve", args=[complaint.pk])
    with at(T1 + H):
        r = as_(client, cast.resident).post(url, {"decision": "malicious", "reason": "x"})
        assert r.status_code == 403
        r = as_(client, cast.outsider).post(url, {"decision": "malicious", "reason": "x"})
        assert r.status_code == 404
    complaint.refresh_from_db()
    assert complaint.state == ComplaintState.CONTACTED
    # A replay of the handler's own decision is a redirect, no second decision.
    with at(T1 + H):
        complaint_actions.resolve_complaint(
            actor=cast.branch_head, complaint=complaint, decision="not_upheld", reason="不属实"
        )
        r = as_(client, cast.branch_head).post(url, {"decision": "not_upheld", "reason": "x"})
    assert r.status_code == 302


def test_the_branch_heads_escalated_page_lists_overdue_complaints(
    client: Client, cast: Any
) -> None:
    complaint = filed(cast)
    c = as_(client, cast.branch_head)
    with at(T1 + 30 * M):
        page = c.get(reverse("needs:escalated")).content.decode()
        assert 'id="escalated-complaints"' not in page  # not overdue yet
    with at(T1 + H):
        sweep()
        r = c.get(reverse("needs:escalated"))
    assert r.context["complaints"] == [complaint]
    page = r.content.decode()
    assert 'id="escalated-complaints"' in page
    assert reverse("needs:complaint_detail", args=[complaint.pk]) in page
    assert "联系超时已上报" in page
    # The page is for managers: a resident is refused.
    r = as_(Client(), cast.resident).get(reverse("needs:escalated"))
    assert r.status_code == 403


def test_handlers_find_complaints_in_the_navigation_residents_from_their_needs(
    client: Client, cast: Any
) -> None:
    home = reverse("needs:my_needs")
    page = as_(client, cast.building_manager).get(home).content.decode()
    assert f'href="{LIST}"' in page and "投诉处理" in page
    page = as_(Client(), cast.resident).get(home).content.decode()
    assert "投诉处理" not in page
    assert 'id="my-complaints-link"' in page and f'href="{LIST}"' in page
