"""The people API under /api/v1: token auth, registry, reveal, status, grants, me/…"""

from __future__ import annotations

import datetime as dt

import pytest

from conftest import PASSWORD
from huzhu.accounts.models import (
    AvailabilityException,
    AvailabilitySlot,
    Household,
    Person,
    PersonSkill,
    RoleGrant,
)
from huzhu.accounts.tests.conftest import make_person
from huzhu.audit.models import AuditEntry
from huzhu.core import clock

pytestmark = pytest.mark.django_db

V1 = "/api/v1"


def test_openapi_loads(client):
    resp = client.get(f"{V1}/openapi.json")
    assert resp.status_code == 200
    paths = resp.json()["paths"]
    for path in (
        "/api/v1/people",
        "/api/v1/people/{person_id}",
        "/api/v1/people/{person_id}/reveal",
        "/api/v1/people/{person_id}/status",
        "/api/v1/people/{person_id}/grants",
        "/api/v1/grants/{grant_id}",
        "/api/v1/me/availability",
        "/api/v1/me/availability/{slot_id}",
        "/api/v1/me/skills",
        "/api/v1/me/skills/{held_id}",
        "/api/v1/skills",
    ):
        assert path in paths, path


def test_token_then_bearer(client, cast):
    resp = client.post(
        f"{V1}/auth/token",
        {"phone": "138 0000 0007", "password": PASSWORD},
        content_type="application/json",
    )
    assert resp.status_code == 201
    token = resp.json()["token"]
    me = client.get(f"{V1}/me", headers={"Authorization": f"Bearer {token}"})
    assert me.status_code == 200
    assert me.json()["phone"] == "13800000007"  # my own phone, in full
    people = client.get(f"{V1}/people", headers={"Authorization": f"Bearer {token}"})
    assert people.status_code == 200


def test_token_refused_and_anonymous(client, cast):
    resp = client.post(
        f"{V1}/auth/token",
        {"phone": "13800000007", "password": "nope"},
        content_type="application/json",
    )
    assert resp.status_code == 401
    assert resp.json()["error"]["code"] == "accounts.login.failed"
    assert client.get(f"{V1}/people").status_code == 401
    bad = client.get(f"{V1}/people", headers={"Authorization": "Bearer not-a-token"})
    assert bad.status_code == 401


def test_people_list_is_masked_scoped_and_paginated(api, cast, world):
    resp = api(cast.branch_head, "get", f"{V1}/people", {"page_size": 3})
    assert resp.status_code == 200
    data = resp.json()
    assert data["meta"] == {"page": 1, "page_size": 3, "total": 10}
    assert len(data["items"]) == 3
    assert "13800000001" not in resp.content.decode()
    page4 = api(cast.branch_head, "get", f"{V1}/people", {"page_size": 3, "page": 4}).json()
    assert len(page4["items"]) == 1
    beyond = api(cast.branch_head, "get", f"{V1}/people", {"page_size": 3, "page": 9}).json()
    assert beyond["items"] == [] and beyond["meta"]["total"] == 10
    found = api(cast.branch_head, "get", f"{V1}/people", {"q": "13800000001"}).json()
    assert [p["name"] for p in found["items"]] == ["Resident"]
    assert found["items"][0]["masked_phone"] == "138****0001"
    assert found["items"][0]["household"] == "1号楼-101"
    assert "resident" in found["items"][0]["roles"]
    by_role = api(cast.branch_head, "get", f"{V1}/people", {"role": "broker"}).json()
    assert [p["name"] for p in by_role["items"]] == ["Broker"]
    by_building = api(
        cast.branch_head, "get", f"{V1}/people", {"building": world.building.pk}
    ).json()
    assert [p["name"] for p in by_building["items"]] == ["Resident"]


def test_people_list_permissions(api, cast, world):
    resp = api(cast.volunteer, "get", f"{V1}/people")
    assert resp.status_code == 403
    assert resp.json()["error"]["code"] == "forbidden"
    assert (
        api(cast.outsider, "get", f"{V1}/people", {"community": world.community.pk}).status_code
        == 404
    )
    outsider_view = api(cast.outsider, "get", f"{V1}/people").json()
    assert [p["name"] for p in outsider_view["items"]] == ["Outsider"]
    assert api(cast.branch_head, "get", f"{V1}/people", {"page_size": 500}).status_code == 422
    assert api(cast.branch_head, "get", f"{V1}/people", {"role": "king"}).status_code == 422


def test_people_list_query_count(api, cast, world, django_assert_max_num_queries):
    for i in range(20):
        make_person(world.community, f"1370000{i:04d}", f"居民{i}", household=world.household)
    api(cast.branch_head, "get", f"{V1}/people")  # issue the token outside the count
    # token, last_used update, grants, count, page, prefetched grants and skills
    with django_assert_max_num_queries(8):
        resp = api(cast.branch_head, "get", f"{V1}/people", {"page_size": 50})
    assert len(resp.json()["items"]) == 30


def test_get_person_masked_and_scoped(api, cast):
    resp = api(cast.branch_head, "get", f"{V1}/people/{cast.resident.pk}")
    assert resp.status_code == 200
    body = resp.json()
    assert body["masked_phone"] == "138****0001"
    assert "13800000001" not in resp.content.decode()
    assert api(cast.outsider, "get", f"{V1}/people/{cast.resident.pk}").status_code == 404
    assert api(cast.branch_head, "get", f"{V1}/people/{cast.outsider.pk}").status_code == 404
    assert api(cast.volunteer, "get", f"{V1}/people/{cast.resident.pk}").status_code == 403
    assert api(cast.branch_head, "get", f"{V1}/people/{2**60}").status_code == 422
    assert api(cast.branch_head, "get", f"{V1}/people/999999").status_code == 404


def test_create_person(api, cast, world):
    payload = {
        "community_id": world.community.pk,
        "household_id": world.household.pk,
        "name": "周九",
        "phone": "13700001111",
        "languages": ["zh", "yue"],
        "roles": ["resident", "volunteer"],
    }
    resp = api(cast.branch_head, "post", f"{V1}/people", payload)
    assert resp.status_code == 201, resp.content
    body = resp.json()
    assert body["masked_phone"] == "137****1111"
    assert body["roles"] == ["resident", "volunteer"]
    assert "13700001111" not in resp.content.decode()
    dup = api(cast.branch_head, "post", f"{V1}/people", payload)
    assert dup.status_code == 409
    assert dup.json()["error"]["details"] == {"field": "phone"}
    bad = api(cast.branch_head, "post", f"{V1}/people", {**payload, "phone": "123"})
    assert bad.status_code == 400
    assert bad.json()["error"]["code"] == "accounts.phone.invalid"
    weak = api(
        cast.branch_head,
        "post",
        f"{V1}/people",
        {**payload, "phone": "13700001112", "password": "12345678"},
    )
    assert weak.status_code == 400
    assert weak.json()["error"]["details"] == {"field": "password"}
    assert (
        api(cast.volunteer, "post", f"{V1}/people", {**payload, "phone": "13700001113"}).status_code
        == 403
    )
    assert (
        api(cast.outsider, "post", f"{V1}/people", {**payload, "phone": "13700001114"}).status_code
        == 404
    )
    assert (
        api(cast.branch_head, "post", f"{V1}/people", {**payload, "name": "x" * 51}).status_code
        == 422
    )
    # A building manager registers in their own building only.
    other = Household.objects.get(room="201")
    assert (
        api(
            cast.building_manager,
            "post",
            f"{V1}/people",
            {**payload, "phone": "13700001115", "household_id": other.pk},
        ).status_code
        == 403
    )
    ok = api(cast.building_manager, "post", f"{V1}/people", {**payload, "phone": "13700001116"})
    assert ok.status_code == 201


def test_patch_person(api, cast):
    url = f"{V1}/people/{cast.resident.pk}"
    resp = api(
        cast.branch_head,
        "patch",
        url,
        {"name": "改名", "phone": "13700002222", "emergency_contact": "老伴 13700003333"},
    )
    assert resp.status_code == 200, resp.content
    assert resp.json()["name"] == "改名"
    assert resp.json()["masked_phone"] == "137****2222"
    assert "13700003333" not in resp.content.decode()
    person = Person.objects.get(pk=cast.resident.pk)
    assert person.phone == "13700002222" and person.emergency_contact == "老伴 13700003333"
    assert person.household_id is not None  # not sent, not changed
    assert api(cast.broker, "patch", url, {"name": "x"}).status_code == 403
    assert api(cast.outsider, "patch", url, {"name": "x"}).status_code == 404
    assert api(cast.branch_head, "patch", url, {"phone": None}).status_code == 400
    assert api(cast.branch_head, "patch", url, {"languages": ["xx"]}).status_code == 422


def test_reveal_through_the_api(api, cast, world):
    url = f"{V1}/people/{cast.resident.pk}/reveal"
    resp = api(cast.building_manager, "post", url, {"field": "phone"})
    assert resp.status_code == 200
    assert resp.json() == {"field": "phone", "value": "13800000001"}
    assert resp["Cache-Control"] == "no-store"
    entries = AuditEntry.objects.filter(code="accounts.pii.revealed")
    assert entries.count() == 1 and entries[0].actor_id == cast.building_manager.pk
    api(cast.branch_head, "post", url, {"field": "emergency_contact"})
    assert entries.count() == 2
    neighbour = make_person(
        world.community, "13700004444", "邻居", household=Household.objects.get(room="201")
    )
    assert (
        api(
            cast.building_manager, "post", f"{V1}/people/{neighbour.pk}/reveal", {"field": "phone"}
        ).status_code
        == 403
    )
    assert api(cast.broker, "post", url, {"field": "phone"}).status_code == 403
    assert api(cast.outsider, "post", url, {"field": "phone"}).status_code == 404
    assert api(cast.branch_head, "post", url, {"field": "password"}).status_code == 422
    assert entries.count() == 2


def test_status(api, cast):
    url = f"{V1}/people/{cast.resident.pk}/status"
    until = (clock.now() + dt.timedelta(days=30)).isoformat()
    resp = api(
        cast.branch_head, "post", url, {"status": "frozen", "until": until, "reason": "恶意需求"}
    )
    assert resp.status_code == 200
    assert resp.json()["status"] == "frozen"
    no_reason = api(cast.branch_head, "post", url, {"status": "suspended"})
    assert no_reason.status_code == 400
    assert no_reason.json()["error"]["details"] == {"field": "reason"}
    naive = api(
        cast.branch_head,
        "post",
        url,
        {"status": "suspended", "until": "2099-01-01T10:00:00", "reason": "x"},
    )
    assert naive.status_code == 200
    assert (
        api(
            cast.branch_head,
            "post",
            url,
            {"status": "suspended", "reason": "x", "until": "0001-01-01T00:00:00"},
        ).status_code
        == 422
    )
    assert api(cast.broker, "post", url, {"status": "active"}).status_code == 403


def test_grants(api, cast, world):
    url = f"{V1}/people/{cast.volunteer.pk}/grants"
    listed = api(cast.branch_head, "get", url).json()
    assert {g["role"] for g in listed} == {"resident", "volunteer"}
    resp = api(
        cast.branch_head,
        "post",
        url,
        {"role": "group_member", "scope_kind": "group", "scope_id": world.subgroup.pk},
    )
    assert resp.status_code == 201, resp.content
    grant = resp.json()
    assert grant["scope_kind"] == "group" and grant["scope_id"] == world.subgroup.pk
    again = api(
        cast.branch_head,
        "post",
        url,
        {"role": "group_member", "scope_kind": "group", "scope_id": world.subgroup.pk},
    )
    assert again.status_code == 409
    not_allowed = api(
        cast.branch_head,
        "post",
        url,
        {"role": "district_admin", "scope_kind": "community", "scope_id": world.community.pk},
    )
    assert not_allowed.status_code == 403
    other = api(
        cast.branch_head,
        "post",
        url,
        {"role": "volunteer", "scope_kind": "community", "scope_id": world.other_community.pk},
    )
    assert other.status_code == 404
    assert api(cast.building_manager, "get", url).status_code == 403
    assert api(cast.outsider, "get", url).status_code == 404
    # Revoke.
    assert api(cast.outsider, "delete", f"{V1}/grants/{grant['id']}").status_code == 404
    revoked = api(cast.branch_head, "delete", f"{V1}/grants/{grant['id']}")
    assert revoked.status_code == 200
    assert revoked.json()["revoked_at"] is not None
    assert RoleGrant.objects.get(pk=grant["id"]).revoked_at is not None
    assert api(cast.branch_head, "delete", f"{V1}/grants/{grant['id']}").status_code == 409
    history = api(cast.branch_head, "get", url, {"include_revoked": True}).json()
    assert len(history) == 3


def test_my_availability(api, cast):
    url = f"{V1}/me/availability"
    assert (
        api(
            cast.volunteer, "post", url, {"weekday": 3, "start_time": "09:00", "end_time": "11:00"}
        ).status_code
        == 201
    )
    merged = api(
        cast.volunteer, "post", url, {"weekday": 3, "start_time": "10:00", "end_time": "12:30"}
    )
    assert merged.status_code == 201
    assert merged.json()["start_time"] == "09:00:00"
    assert merged.json()["end_time"] == "12:30:00"
    assert (
        api(
            cast.volunteer, "post", url, {"weekday": 3, "start_time": "12:00", "end_time": "11:00"}
        ).status_code
        == 400
    )
    assert (
        api(
            cast.volunteer, "post", url, {"weekday": 7, "start_time": "09:00", "end_time": "11:00"}
        ).status_code
        == 422
    )
    tomorrow = (clock.today() + dt.timedelta(days=1)).isoformat()
    exc = api(cast.volunteer, "post", f"{url}/exceptions", {"date": tomorrow})
    assert exc.status_code == 201
    extra_without_hours = api(
        cast.volunteer, "post", f"{url}/exceptions", {"date": tomorrow, "available": True}
    )
    assert extra_without_hours.status_code == 400
    listed = api(cast.volunteer, "get", url).json()
    assert len(listed["slots"]) == 1 and len(listed["exceptions"]) == 1
    slot_id = listed["slots"][0]["id"]
    assert api(cast.resident, "delete", f"{url}/{slot_id}").status_code == 404
    assert api(cast.volunteer, "delete", f"{url}/{slot_id}").status_code == 204
    assert not AvailabilitySlot.objects.filter(pk=slot_id).exists()
    exc_id = exc.json()["id"]
    assert api(cast.volunteer, "delete", f"{url}/exceptions/{exc_id}").status_code == 204
    assert not AvailabilityException.objects.filter(pk=exc_id).exists()


def test_my_skills_and_the_taxonomy(api, cast, skills):
    taxonomy = api(cast.volunteer, "get", f"{V1}/skills").json()
    assert {s["code"] for s in taxonomy} == {"doctor", "cooking", "repair"}
    url = f"{V1}/me/skills"
    refused = api(cast.volunteer, "post", url, {"skill_id": skills["doctor"].pk, "level": 4})
    assert refused.status_code == 400
    assert refused.json()["error"]["code"] == "accounts.skill.certificate_required"
    assert refused.json()["error"]["details"] == {"field": "certificate_number"}
    ok = api(
        cast.volunteer,
        "post",
        url,
        {
            "skill_id": skills["doctor"].pk,
            "level": 4,
            "certificate_number": "DOC-1",
            "certificate_issuer": "市卫健委",
        },
    )
    assert ok.status_code == 200
    assert ok.json()["certificate"]["number"] == "DOC-1"
    assert (
        api(cast.volunteer, "post", url, {"skill_id": skills["cooking"].pk, "level": 6}).status_code
        == 422
    )
    held = api(cast.volunteer, "get", url).json()
    assert [h["skill"]["code"] for h in held] == ["doctor"]
    assert api(cast.resident, "delete", f"{url}/{held[0]['id']}").status_code == 404
    assert api(cast.volunteer, "delete", f"{url}/{held[0]['id']}").status_code == 204
    assert not PersonSkill.objects.filter(person=cast.volunteer).exists()


def test_session_auth_writes_need_csrf(client, cast):
    from django.test import Client

    strict = Client(enforce_csrf_checks=True)
    strict.force_login(cast.volunteer)
    resp = strict.post(
        f"{V1}/me/availability",
        {"weekday": 1, "start_time": "09:00", "end_time": "10:00"},
        content_type="application/json",
    )
    assert resp.status_code in (401, 403)
    assert not AvailabilitySlot.objects.filter(person=cast.volunteer).exists()
