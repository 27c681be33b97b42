"""A person's record: masking, reveal with audit, create, edit, status, roles."""

from __future__ import annotations

import datetime as dt

import pytest
from django.urls import reverse

from huzhu.accounts import pii
from huzhu.accounts.models import Household, Person, RoleGrant
from huzhu.accounts.tests.conftest import make_person
from huzhu.audit.models import AuditEntry
from huzhu.core import clock

pytestmark = pytest.mark.django_db

_W = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)


def valid_id(first17: str) -> str:
    return first17 + "10X98765432"[sum(int(d) * w for d, w in zip(first17, _W, strict=True)) % 11]


ID_NUMBER = valid_id("11010519491231002")


def detail(pk):
    return reverse("accounts:person_detail", args=[pk])


def reveal(pk):
    return reverse("accounts:person_reveal", args=[pk])


def reveals():
    return AuditEntry.objects.filter(code="accounts.pii.revealed")


@pytest.fixture
def resident(cast):
    p = cast.resident
    p.set_id_number(ID_NUMBER)
    p.emergency_contact = "张三（儿子）13911112222"
    p.save()
    return p


def test_valid_id_helper():
    assert pii.is_valid_id_number(ID_NUMBER)


def test_detail_masks_every_pii_field(as_, cast, resident):
    resp = as_(cast.branch_head).get(detail(resident.pk))
    assert resp.status_code == 200
    body = resp.content.decode()
    assert "138****0001" in body
    assert resident.masked_id_number in body
    assert resident.masked_emergency_contact in body
    for secret in (
        "13800000001",
        ID_NUMBER,
        "张三（儿子）13911112222",
        "13911112222",
        "阳光路1号1号楼101室",
    ):
        assert secret not in body
    assert 'id="reveal-phone"' in body


def test_detail_is_404_outside_the_community_both_ways(as_, cast, resident):
    assert as_(cast.outsider).get(detail(resident.pk)).status_code == 404
    assert as_(cast.branch_head).get(detail(cast.outsider.pk)).status_code == 404


@pytest.mark.parametrize("role", ["volunteer", "resident", "finance_officer", "merchant"])
def test_detail_is_403_in_scope_without_permission(as_, cast, role):
    assert as_(cast[role]).get(detail(cast.broker.pk)).status_code == 403


def test_detail_of_missing_person_is_404(as_, cast):
    assert as_(cast.branch_head).get(detail(987654)).status_code == 404


def test_reveal_is_post_only(as_, cast, resident):
    assert as_(cast.branch_head).get(reveal(resident.pk)).status_code == 405
    assert reveals().count() == 0


@pytest.mark.parametrize(
    "field,secret",
    [
        ("phone", "13800000001"),
        ("id_number", ID_NUMBER),
        ("emergency_contact", "张三（儿子）13911112222"),
    ],
)
def test_each_reveal_shows_one_value_and_writes_one_audit_entry(as_, cast, resident, field, secret):
    c = as_(cast.branch_head)
    resp = c.post(reveal(resident.pk), {"field": field})
    assert resp.status_code == 200
    body = resp.content.decode()
    assert secret in body
    assert "no-store" in resp["Cache-Control"]
    # The other fields stay masked.
    for other in {"13800000001", ID_NUMBER, "张三（儿子）13911112222"} - {secret}:
        assert other not in body
    entries = list(reveals())
    assert len(entries) == 1
    assert entries[0].actor_id == cast.branch_head.pk
    assert entries[0].target_id == str(resident.pk)
    assert entries[0].new_values == {"field": field}
    # The value is not kept anywhere: the next page is masked again.
    assert secret not in c.get(detail(resident.pk)).content.decode()
    c.post(reveal(resident.pk), {"field": field})
    assert reveals().count() == 2


def test_reveal_of_an_unknown_field_is_a_bad_request(as_, cast, resident):
    resp = as_(cast.branch_head).post(reveal(resident.pk), {"field": "password"})
    assert resp.status_code == 400
    assert reveals().count() == 0


def test_building_manager_reveals_only_in_their_building(as_, cast, resident, world):
    c = as_(cast.building_manager)
    resp = c.post(reveal(resident.pk), {"field": "phone"})
    assert resp.status_code == 200
    assert "13800000001" in resp.content.decode()
    neighbour = make_person(
        world.community, "13700000002", "二号楼住户", household=Household.objects.get(room="201")
    )
    assert c.get(detail(neighbour.pk)).status_code == 403
    assert c.post(reveal(neighbour.pk), {"field": "phone"}).status_code == 403
    assert c.post(reveal(cast.outsider.pk), {"field": "phone"}).status_code == 404
    assert reveals().count() == 1


def test_broker_sees_masked_but_cannot_reveal(as_, cast, resident):
    c = as_(cast.broker)
    resp = c.get(detail(resident.pk))
    assert resp.status_code == 200
    assert 'id="reveal-phone"' not in resp.content.decode()
    assert c.post(reveal(resident.pk), {"field": "phone"}).status_code == 403
    assert reveals().count() == 0


def test_branch_head_registers_a_person(as_, cast, world):
    c = as_(cast.branch_head)
    assert c.get(reverse("accounts:person_create")).status_code == 200
    resp = c.post(
        reverse("accounts:person_create"),
        {
            "community": world.community.pk,
            "household": world.household.pk,
            "name": "赵六",
            "phone": "137 0000 0003",
            "gender": "M",
            "birth_date": "1940-05-06",
            "id_number": valid_id("31010119400506001"),
            "emergency_contact": "赵小六 13700000004",
            "languages": ["zh", "wuu"],
            "roles": ["resident", "volunteer"],
        },
    )
    assert resp.status_code == 302
    person = Person.objects.get_by_phone("13700000003")
    assert resp["Location"] == detail(person.pk)
    assert person.household_id == world.household.pk
    assert not person.has_usable_password()
    assert set(RoleGrant.objects.filter(person=person).values_list("role", flat=True)) == {
        "resident",
        "volunteer",
    }
    page = c.get(detail(person.pk)).content.decode()
    assert "13700000003" not in page and "13700000004" not in page
    assert (
        AuditEntry.objects.filter(code="accounts.person.created", target_id=str(person.pk)).count()
        == 1
    )


def test_registration_with_a_password_and_duplicate_phone(as_, cast, world):
    c = as_(cast.branch_head)
    base = {"community": world.community.pk, "name": "钱七", "gender": "U", "roles": ["resident"]}
    resp = c.post(
        reverse("accounts:person_create"),
        {**base, "phone": "13700000005", "password": "a-good-pass-123"},
    )
    assert resp.status_code == 302
    assert Person.objects.get_by_phone("13700000005").check_password("a-good-pass-123")
    resp = c.post(reverse("accounts:person_create"), {**base, "phone": "13700000005"})
    assert resp.status_code == 200
    assert "该手机号已注册" in str(resp.context["form"].errors["phone"])
    resp = c.post(reverse("accounts:person_create"), {**base, "phone": "12345"})
    assert "手机号格式不正确" in str(resp.context["form"].errors["phone"])
    resp = c.post(
        reverse("accounts:person_create"), {**base, "phone": "13700000006", "password": "123"}
    )
    assert resp.context["form"].errors["password"]


def test_building_manager_registers_only_in_their_building(as_, cast, world):
    c = as_(cast.building_manager)
    base = {"community": world.community.pk, "name": "孙八", "gender": "U", "phone": "13700000007"}
    resp = c.post(reverse("accounts:person_create"), base)
    assert resp.status_code == 200
    assert resp.context["form"].errors["household"]
    other_building = Household.objects.get(room="201")
    resp = c.post(reverse("accounts:person_create"), {**base, "household": other_building.pk})
    assert resp.context["form"].errors["household"]  # not a choice
    resp = c.post(reverse("accounts:person_create"), {**base, "household": world.household.pk})
    assert resp.status_code == 302


@pytest.mark.parametrize("role", ["volunteer", "broker", "finance_officer"])
def test_registration_needs_manage_person(as_, cast, role):
    assert as_(cast[role]).get(reverse("accounts:person_create")).status_code == 403


def test_manager_edits_a_person_without_seeing_pii(as_, cast, resident, world):
    c = as_(cast.branch_head)
    url = reverse("accounts:person_edit", args=[resident.pk])
    page = c.get(url).content.decode()
    for secret in ("13800000001", ID_NUMBER, "13911112222"):
        assert secret not in page
    resp = c.post(
        url,
        {
            "name": "居民甲",
            "gender": "F",
            "household": world.household.pk,
            "phone": "13700000008",
            "languages": ["zh"],
        },
    )
    assert resp.status_code == 302
    person = Person.objects.get(pk=resident.pk)
    assert person.name == "居民甲"
    assert person.phone == "13700000008"
    assert person.id_number == ID_NUMBER  # blank kept the stored value
    assert person.emergency_contact == "张三（儿子）13911112222"
    resp = c.post(url, {"name": "居民甲", "gender": "F", "id_number": "110105194912310021"})
    assert resp.status_code == 200
    assert "身份证号格式或校验位不正确" in str(resp.context["form"].errors["id_number"])


def test_edit_scope(as_, cast, resident):
    url = reverse("accounts:person_edit", args=[resident.pk])
    assert as_(cast.outsider).get(url).status_code == 404
    assert as_(cast.broker).get(url).status_code == 403
    assert as_(cast.building_manager).get(url).status_code == 200


def test_status_suspend_and_reactivate(as_, cast, resident):
    c = as_(cast.branch_head)
    url = reverse("accounts:person_status", args=[resident.pk])
    assert c.get(url).status_code == 405
    until = (clock.now() + dt.timedelta(days=7)).strftime("%Y-%m-%dT%H:%M")
    resp = c.post(url, {"status": "suspended", "until": until, "reason": "投诉核实"})
    assert resp.status_code == 302
    person = Person.objects.get(pk=resident.pk)
    assert person.status == "suspended" and person.status_until is not None
    assert "暂停服务" in c.get(detail(resident.pk)).content.decode()
    resp = c.post(url, {"status": "frozen", "until": until})
    assert resp.status_code == 400
    assert "请填写原因" in str(resp.context["status_form"].errors["reason"])
    resp = c.post(url, {"status": "active"})
    assert resp.status_code == 302
    assert Person.objects.get(pk=resident.pk).status == "active"
    assert AuditEntry.objects.filter(code="accounts.person.status_changed").count() == 2


def test_status_scope(as_, cast, resident):
    url = reverse("accounts:person_status", args=[resident.pk])
    data = {"status": "frozen", "reason": "x"}
    assert as_(cast.outsider).post(url, data).status_code == 404
    assert as_(cast.broker).post(url, data).status_code == 403
    assert Person.objects.get(pk=resident.pk).status == "active"


def test_grant_and_revoke(as_, cast, world):
    c = as_(cast.branch_head)
    url = reverse("accounts:person_grant", args=[cast.volunteer.pk])
    page = c.get(url)
    assert page.status_code == 200
    assert "district_admin" not in page.content.decode()  # a branch head cannot make one
    resp = c.post(url, {"role": "building_manager", "scope": f"building:{world.building.pk}"})
    assert resp.status_code == 302
    grant = RoleGrant.objects.get(person=cast.volunteer, role="building_manager")
    assert grant.building_id == world.building.pk
    detail_page = c.get(detail(cast.volunteer.pk)).content.decode()
    assert f'id="revoke-{grant.pk}"' in detail_page
    # Granting the same again is refused on the form.
    resp = c.post(url, {"role": "building_manager", "scope": f"building:{world.building.pk}"})
    assert resp.status_code == 200
    assert "该人员已拥有此角色" in str(resp.context["form"].non_field_errors())
    # Revoke.
    revoke = reverse("accounts:grant_revoke", args=[grant.pk])
    assert c.get(revoke).status_code == 405
    resp = c.post(revoke)
    assert resp.status_code == 302 and resp["Location"] == detail(cast.volunteer.pk)
    grant.refresh_from_db()
    assert grant.revoked_at is not None and grant.revoked_by_id == cast.branch_head.pk
    codes = set(AuditEntry.objects.values_list("code", flat=True))
    assert {"accounts.role.granted", "accounts.role.revoked"} <= codes
    # Revoking twice shows the refusal as a message.
    resp = c.post(revoke, follow=True)
    assert "该授权已撤销" in resp.content.decode()


def test_grant_scope_and_permissions(as_, cast, world):
    url = reverse("accounts:person_grant", args=[cast.volunteer.pk])
    assert as_(cast.outsider).get(url).status_code == 404
    assert as_(cast.building_manager).get(url).status_code == 403
    # A scope outside the choices is refused by the form.
    resp = as_(cast.branch_head).post(
        url, {"role": "volunteer", "scope": f"community:{world.other_community.pk}"}
    )
    assert resp.status_code == 200 and resp.context["form"].errors["scope"]
    grant = RoleGrant.objects.get(person=cast.volunteer, role="volunteer")
    revoke = reverse("accounts:grant_revoke", args=[grant.pk])
    assert as_(cast.outsider).post(revoke).status_code == 404
    assert as_(cast.building_manager).post(revoke).status_code == 403
    grant.refresh_from_db()
    assert grant.revoked_at is None


def test_district_admin_can_grant_on_the_alliance(as_, cast, world):
    c = as_(cast.district_admin)
    url = reverse("accounts:person_grant", args=[cast.branch_head.pk])
    resp = c.post(url, {"role": "district_admin", "scope": f"alliance:{world.alliance.pk}"})
    assert resp.status_code == 302
    assert RoleGrant.objects.filter(
        person=cast.branch_head, role="district_admin", alliance=world.alliance
    ).exists()
