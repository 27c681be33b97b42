"""The registry of people: scope, search (name / blind-indexed phone), filters, pages."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from huzhu.accounts.models import AvailabilitySlot, Household, Person, RoleGrant
from huzhu.accounts.tests.conftest import make_person

pytestmark = pytest.mark.django_db

URL = "/accounts/people/"

# Session, user, the user's grants, the filtered community, count, filter options
# (communities, buildings, skills), the page of people, prefetched grants and skills,
# and the inbox badge of the top bar: 12, independent of the number of people.
MAX_QUERIES = 12


def names(resp):
    return [p.name for p in resp.context["page"].object_list]


def test_url_name():
    assert reverse("accounts:person_list") == URL


def test_branch_head_sees_the_community_with_phones_masked(as_, cast, world):
    resp = as_(cast.branch_head).get(URL)
    assert resp.status_code == 200
    shown = names(resp)
    assert "Resident" in shown and "Volunteer" in shown
    assert "Outsider" not in shown
    body = resp.content.decode()
    assert "138****0001" in body
    for phone in ("13800000001", "13800000002", "13800000007"):
        assert phone not in body


def test_search_by_name(as_, cast):
    resp = as_(cast.branch_head).get(URL, {"q": "volun"})
    assert names(resp) == ["Volunteer"]


def test_search_by_exact_phone_goes_through_the_blind_index(as_, cast):
    c = as_(cast.branch_head)
    assert names(c.get(URL, {"q": "138 0000 0002"})) == ["Volunteer"]
    assert names(c.get(URL, {"q": "+86 13800000002"})) == ["Volunteer"]
    # A part of a number finds nothing: phones are never decrypted to be searched.
    resp = c.get(URL, {"q": "0000002"})
    assert names(resp) == []
    assert "没有符合条件的人员" in resp.content.decode()


def test_phone_search_cannot_reach_outside_the_scope(as_, cast):
    assert names(as_(cast.branch_head).get(URL, {"q": "13900000099"})) == []


def test_filters(as_, cast, world, skills):
    from huzhu.accounts.actions import add_skill, set_status

    c = as_(cast.branch_head)
    assert names(c.get(URL, {"building": world.building.pk})) == ["Resident"]
    assert names(c.get(URL, {"role": "broker"})) == ["Broker"]
    assert names(c.get(URL, {"community": world.community.pk, "role": "volunteer"})) == [
        "Volunteer"
    ]
    add_skill(actor=cast.volunteer, person=cast.volunteer, skill=skills["cooking"], level=3)
    assert names(c.get(URL, {"skill": skills["cooking"].pk})) == ["Volunteer"]
    set_status(
        actor=cast.branch_head,
        person=cast.merchant,
        status="suspended",
        until=None,
        reason="投诉核实",
    )
    assert names(c.get(URL, {"status": "suspended"})) == ["Merchant"]
    # A revoked grant no longer matches the role filter.
    RoleGrant.objects.filter(person=cast.broker, role="broker").update(
        revoked_at="2020-01-01T00:00:00Z"
    )
    assert names(c.get(URL, {"role": "broker"})) == []
    # A malformed filter is ignored rather than failing.
    assert c.get(URL, {"community": "abc"}).status_code == 200


def test_pagination(as_, cast, world, settings):
    settings.HUZHU_PAGE_SIZE = 4
    c = as_(cast.branch_head)
    first = c.get(URL)
    total = Person.objects.filter(community=world.community).count()
    assert first.context["page"].paginator.count == total == 10
    assert len(names(first)) == 4
    assert 'rel="next"' in first.content.decode()
    third = c.get(URL, {"page": 3})
    assert len(names(third)) == 2
    assert set(names(first)).isdisjoint(names(third))
    # The page link keeps the filters.
    filtered = c.get(URL, {"community": world.community.pk})
    assert f"community={world.community.pk}" in filtered.content.decode()
    assert f"community={world.community.pk}&amp;page=2" in filtered.content.decode()


@pytest.mark.parametrize(
    "role", ["resident", "volunteer", "finance_officer", "merchant", "group_member", "group_leader"]
)
def test_roles_without_view_person_get_403(as_, cast, role):
    assert as_(cast[role]).get(URL).status_code == 403


def test_anonymous_is_sent_to_login(client):
    resp = client.get(URL)
    assert resp.status_code == 302


def test_filter_naming_another_community_is_404(as_, cast, world):
    assert as_(cast.outsider).get(URL, {"community": world.community.pk}).status_code == 404
    assert (
        as_(cast.branch_head).get(URL, {"community": world.other_community.pk}).status_code == 404
    )
    assert as_(cast.branch_head).get(URL, {"building": world.other_building.pk}).status_code == 404
    assert as_(cast.branch_head).get(URL, {"community": 999999}).status_code == 404


def test_outsider_sees_only_their_own_community(as_, cast):
    resp = as_(cast.outsider).get(URL)
    assert names(resp) == ["Outsider"]


def test_district_admin_sees_every_community_of_the_alliance(as_, cast):
    shown = names(as_(cast.district_admin).get(URL))
    assert "Outsider" in shown and "Resident" in shown


def test_building_manager_sees_only_their_building(as_, cast, world):
    other = make_person(
        world.community, "13700000001", "二号楼住户", household=Household.objects.get(room="201")
    )
    c = as_(cast.building_manager)
    shown = names(c.get(URL))
    assert shown == ["Resident"]
    assert other.name not in shown
    # Filtering their own community is allowed (in scope) and still limited to the building.
    assert names(c.get(URL, {"community": world.community.pk})) == ["Resident"]
    body = c.get(URL).content.decode()
    assert "导出 Excel" not in body and "导入名册" not in body


def test_empty_state(as_, cast, world):
    c = as_(cast.building_manager)
    Person.objects.filter(pk=cast.resident.pk).update(household=None)
    resp = c.get(URL)
    assert names(resp) == []
    assert "还没有可查看的人员" in resp.content.decode()


def _fill(world, n, start):
    for i in range(n):
        p = make_person(
            world.community,
            f"1370000{start + i:04d}",
            f"居民{start + i}",
            household=world.household,
        )
        RoleGrant.objects.create(
            person=p, role="volunteer", scope_kind="community", community=world.community
        )
        AvailabilitySlot.objects.create(person=p, weekday=1, start_time="09:00", end_time="10:00")


def test_query_count_is_pinned(as_, cast, world, skills, django_assert_max_num_queries):
    c = as_(cast.branch_head)
    c.get(URL)  # warm up (session, content types)
    with CaptureQueriesContext(connection) as few:
        c.get(URL)
    _fill(world, 30, 100)
    with django_assert_max_num_queries(MAX_QUERIES):
        resp = c.get(URL, {"community": world.community.pk})
    assert resp.status_code == 200
    with CaptureQueriesContext(connection) as many:
        c.get(URL)
    assert len(many) == len(few)


def test_roster_links_follow_the_permissions(as_, cast):
    export_url = reverse("accounts:roster_export")
    import_url = reverse("accounts:roster_import")
    head = as_(cast.branch_head).get(URL).content.decode()
    assert f'href="{export_url}' in head and f'href="{import_url}"' in head
    admin = as_(cast.district_admin).get(URL).content.decode()
    assert f'href="{export_url}' in admin and f'href="{import_url}"' not in admin
    broker = as_(cast.broker).get(URL).content.decode()
    assert export_url not in broker and import_url not in broker
